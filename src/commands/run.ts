// `patchgate run --config FILE --json [--no-perf] [--until apply|build|gates] PATH...` (contract.md):
// reads the mail into the store, assembles series, queues the flow of every complete series (the newest
// revision of each; an older one in the same mail is reported as superseded), runs the stage workers in
// this process (the same code as `patchgate worker`), waits for every verdict and prints the JSON.
// Stages that are not installed report what they have: build [], gates [], reply null.
import { contentHash } from '../mail/parse.js';
import type { Command } from 'commander';
import { UsageError, type CliIo } from '../cli.js';
import { assembleStored, ingestInputs } from '../ingest/ingest.js';
import { checkInputs, readMailInputs, type RawInput } from '../ingest/inputs.js';
import { createParsePool } from '../ingest/parse-pool.js';
import { logger } from '../log.js';
import { queueConfig } from '../queue/config.js';
import { stagesUntil, type UntilStage } from '../queue/names.js';
import { createPipeline } from '../queue/pipeline.js';
import { ensureRedisServer } from '../queue/redis-server.js';
import { closeRegistry, loadStageRegistry } from '../queue/registry.js';
import { startWorkers } from '../queue/worker.js';
import type { Series } from '../series/types.js';
import { loadSettings } from '../settings/load.js';
import { openDb, type Db } from '../store/db.js';
import { getRun, listOutcomes, resetRun, type OutcomeRow } from '../store/runs.js';

export type RunState = 'done' | 'cancelled' | 'superseded' | 'incomplete';

export interface RunSeriesResult {
  id: string;
  version: number;
  tree: { name: string; reason: string } | null;
  apply: unknown[];
  branch: string | null;
  build: unknown[];
  gates: unknown[];
  reply: unknown | null;
  // additions to the contract's fields
  state: RunState;
  verdict: string | null;
  /** one line per stage that did not produce its result (not installed, not run, infrastructure fault) */
  notes: string[];
}

export interface RunOptions {
  config: string;
  until?: UntilStage;
  perf: boolean;
  sloppyTrailers?: boolean;
  /** poll interval while waiting for verdicts, ms */
  pollMs?: number;
}

const UNTIL = ['apply', 'build', 'gates'];

async function* hashing(inputs: AsyncIterable<RawInput>, hashes: Set<string>): AsyncGenerator<RawInput> {
  for await (const input of inputs) {
    hashes.add(contentHash(input.raw));
    yield input;
  }
}

/** Msgids of the messages read from this run's inputs (found again by content hash). */
function msgidsOf(db: Db, hashes: Set<string>): Set<string> {
  const get = db.prepare('SELECT msgid FROM messages WHERE hash = ?').pluck();
  const out = new Set<string>();
  for (const h of hashes) for (const id of get.all(h) as string[]) out.add(id);
  return out;
}

function resultOf(db: Db, series: Series, state: RunState): RunSeriesResult {
  const r: RunSeriesResult = {
    id: series.id, version: series.version, tree: null, apply: [], branch: null, build: [], gates: [], reply: null,
    state, verdict: null, notes: [],
  };
  if (state === 'superseded' || state === 'incomplete') return r;
  const run = getRun(db, series.id, series.version);
  r.verdict = run?.verdict ?? null;
  if (run?.state === 'cancelled') r.state = 'cancelled';
  const byStage = new Map<string, OutcomeRow>(listOutcomes(db, series.id, series.version).map((o) => [o.stage, o]));
  for (const [stage, o] of byStage) {
    if (stage.startsWith('gate:')) continue;
    if (o.data.unavailable || o.data.infrastructure || o.data.cancelled || o.data.blocked || o.status === 'skipped') {
      r.notes.push(`${stage}: ${o.summary}`);
    }
  }
  const apply = byStage.get('apply')?.data as { tree?: RunSeriesResult['tree']; apply?: unknown[]; branch?: string | null } | undefined;
  if (apply) {
    r.tree = apply.tree ?? null;
    r.apply = Array.isArray(apply.apply) ? apply.apply : [];
    r.branch = apply.branch ?? null;
  }
  const build = byStage.get('build')?.data as { build?: unknown[] } | undefined;
  if (Array.isArray(build?.build)) r.build = build.build;
  const gate = byStage.get('gate')?.data as { gates?: unknown[] } | undefined;
  if (Array.isArray(gate?.gates)) r.gates = gate.gates;
  const report = byStage.get('report')?.data as { reply?: unknown } | undefined;
  if (report && report.reply !== undefined) r.reply = report.reply ?? null;
  return r;
}

/** Runs the pipeline for the series in PATHS; resolves to the `run --json` document. */
export async function runPipeline(paths: string[], opts: RunOptions, io: CliIo): Promise<{ series: RunSeriesResult[] }> {
  if (paths.length === 0) throw new UsageError('no mail to read: give one or more PATHs (or - for standard input)');
  if (opts.until && !UNTIL.includes(opts.until)) throw new UsageError(`--until: ${opts.until} is not one of ${UNTIL.join(', ')}`);
  checkInputs(paths);
  const settings = loadSettings(opts.config);
  const config = queueConfig(settings);
  const log = logger.child({ component: 'run' });
  const db = openDb(settings.store.path);
  try {
    const hashes = new Set<string>();
    const pool = await createParsePool();
    try {
      await ingestInputs(db, hashing(readMailInputs(paths, io.stdin), hashes), { parseBatch: pool.parseBatch, prepareBatch: pool.prepareBatch, release: pool.release });
    } finally {
      await pool.close();
    }
    const doc = assembleStored(db, { sloppyTrailers: !!opts.sloppyTrailers });
    const given = msgidsOf(db, hashes);
    const inMail = doc.series.filter((s) => [s.cover, ...s.patches.map((p) => p.msgid)].some((id) => id && given.has(id)));
    const superseded = new Set(inMail.filter((s) => s.received_all && s.previous).map((s) => s.previous as string));
    const toRun = inMail.filter((s) => s.received_all && !superseded.has(s.id));
    log.info({ series: inMail.length, run: toRun.length }, 'series read');

    if (toRun.length > 0) {
      await ensureRedisServer(config.url, log);
      const registry = await loadStageRegistry();
      const workers = await startWorkers({ config, stages: stagesUntil(opts.until), registry, settings, db, options: { perf: opts.perf } });
      const pipeline = createPipeline({ config, db });
      try {
        await workers.ready();
        // the recorder stores what the apply, build and gate workers report (they do not touch the store)
        await pipeline.ready();
        for (const s of toRun) {
          resetRun(db, s.id, s.version);
          await pipeline.enqueueSeries(s, { until: opts.until });
        }
        const pending = new Set(toRun.map((s) => `${s.id}\0${s.version}`));
        while (pending.size > 0) {
          for (const key of [...pending]) {
            const [id, v] = key.split('\0');
            const state = getRun(db, id, Number(v))?.state;
            if (state === 'done' || state === 'cancelled') pending.delete(key);
          }
          if (pending.size > 0) await new Promise((r) => setTimeout(r, opts.pollMs ?? 200));
        }
      } finally {
        await workers.close();
        await pipeline.close();
        await closeRegistry(registry);
      }
    }
    return {
      series: inMail.map((s) => resultOf(db, s, !s.received_all ? 'incomplete' : superseded.has(s.id) ? 'superseded' : 'done')),
    };
  } finally {
    db.close();
  }
}

export function registerRun(program: Command, io: CliIo): void {
  program
    .command('run')
    .description('run the pipeline once, in the foreground, for every series in the given mail')
    .argument('<paths...>', 'mbox, message file, maildir, public-inbox git dir, or - for stdin')
    .requiredOption('--config <file>', 'configuration file')
    .option('--json', 'print the verdicts as JSON')
    .option('--no-perf', 'skip the performance gate')
    .option('--until <stage>', 'stop after this stage: apply, build or gates')
    .option('--sloppy-trailers', 'accept follow-up trailers whose address differs from the sender')
    .action(async (paths: string[], opts: { config: string; json?: boolean; perf: boolean; until?: string; sloppyTrailers?: boolean }) => {
      const doc = await runPipeline(paths, {
        config: opts.config, perf: opts.perf, until: opts.until as UntilStage | undefined, sloppyTrailers: opts.sloppyTrailers,
      }, io);
      if (opts.json) {
        io.stdout.write(JSON.stringify(doc, null, 2) + '\n');
        return;
      }
      for (const s of doc.series) {
        const apply = s.apply.length ? ` apply ${s.apply.map((a) => (a as { outcome: string }).outcome).join(',')}` : '';
        io.stdout.write(`${s.id} v${s.version} ${s.state} ${s.verdict ?? '-'} tree ${s.tree?.name ?? '-'}${apply}${s.branch ? ` ${s.branch}` : ''}\n`);
        for (const n of s.notes) io.stdout.write(`  ${n}\n`);
      }
    });
}
