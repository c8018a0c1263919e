// The main job in one process group: the local SMTP sink, the dashboard, the daemon (sources followed,
// series assembled and queued, workers for every stage, the outbox), progress while the series go
// through, then a summary of the verdicts and the replies the sink received. scripts/main-job.sh
// prepares what lives outside this process (the tree, Redis, the public-inbox and its httpd).
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { buildSettingsFrom } from '../build/settings.js';
import { logger, type Logger } from '../log.js';
import { startDaemon, type Daemon } from '../main.js';
import { queueConfig } from '../queue/config.js';
import { jobId, STAGES, type Stage } from '../queue/names.js';
import { createPipeline, type Pipeline } from '../queue/pipeline.js';
import { closeRegistry, loadStageRegistry, type StageRegistry } from '../queue/registry.js';
import { startWorkers, type WorkerHandle } from '../queue/worker.js';
import { ensureRedisServer } from '../queue/redis-server.js';
import type { Series } from '../series/types.js';
import type { Settings } from '../settings/schema.js';
import { openDb, type Db } from '../store/db.js';
import { getRun, listOutcomes } from '../store/runs.js';
import { loadProjects } from '../web/projects.js';
import { queueSource } from '../web/queues.js';
import { createWebServer, parseListen } from '../web/server.js';
import { startMailSink, type MailSink } from './mail-sink.js';
import { listSinkMail } from './sink-store.js';

/** The `demo:` section of the configuration. */
export const demoSettingsSchema = z.object({
  /** the series the bundled mailbox holds and the verdict each must get */
  expect: z.array(z.object({
    /** Message-ID of the cover letter (or the single patch) */
    msgid: z.string(),
    label: z.string(),
    verdict: z.string(),
    /** the verdict expected when the perf gate is skipped (--quick) */
    quick_verdict: z.string().optional(),
    /** a perf metric verdict expected (e.g. regression); checked only when the perf gate runs */
    perf: z.string().optional(),
  })).default([]),
  /** also keep the received mail in this maildir */
  sink_maildir: z.string().optional(),
}).prefault({});
export type DemoSettings = z.infer<typeof demoSettingsSchema>;

export interface DemoOptions {
  settings: Settings;
  /** skip the perf gate */
  quick: boolean;
  /** start from an empty store, queue and sink (the tree, mirrors, checkouts and build dirs are kept) */
  fresh: boolean;
  /** give up after this long, ms */
  timeoutMs: number;
  /** progress bars on `out` (a terminal) or log lines on the logger */
  bars: boolean;
  /** keep the dashboard and the sink up after the summary, until SIGINT / SIGTERM */
  keep: boolean;
  out: NodeJS.WritableStream;
  log?: Logger;
}

export interface DemoSeriesResult {
  label: string;
  msgid: string;
  series: string | null;
  name: string | null;
  verdict: string | null;
  expected: string;
  perf: string | null;
  reason: string | null;
  reply: string | null;
  delivered: boolean;
  ok: boolean;
}

export interface DemoResult {
  ok: boolean;
  quick: boolean;
  dashboard: string;
  series: DemoSeriesResult[];
  elapsed_s: number;
}

const STEP: Record<Stage, number> = { apply: 1, build: 2, gate: 3, report: 4 };

function findSeries(db: Db, msgid: string): Series | null {
  const docs = db.prepare('SELECT doc FROM series ORDER BY version DESC').pluck().all() as string[];
  for (const d of docs) {
    const s = JSON.parse(d) as Series;
    if (s.cover === msgid || s.patches.some((p) => p.msgid === msgid)) return s;
  }
  return null;
}

async function clearQueues(url: string, prefix: string): Promise<number> {
  const redis = new Redis(url, { maxRetriesPerRequest: 3 });
  try {
    let n = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) n += await redis.del(...keys);
    } while (cursor !== '0');
    return n;
  } finally {
    redis.disconnect();
  }
}

function fmtDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

interface Watch {
  label: string;
  msgid: string;
  bar: SingleBar | null;
  last: string;
  lastText: string;
  loggedAt: number;
}

/**
 * The running make of a series' build, from its log in the artifacts (src/build/kernel.ts writes one log
 * per make run, `NN-label.log`, with a `  CC  path.o` line per compiled file): `make base: 412 files`.
 */
function makeProgress(settings: Settings, s: Series): string | null {
  try {
    const build = buildSettingsFrom(settings);
    const safe = (x: string) => x.replace(/[^A-Za-z0-9._-]/g, '_');
    const root = path.resolve(build.artifacts_dir, safe(s.id), `v${s.version}`, 'build');
    for (const cfg of build.configs) {
      const dir = path.join(root, safe(cfg.name));
      const logs = readdirSync(dir).filter((f) => /^\d+-.*\.log$/.test(f)).sort();
      const last = logs.at(-1);
      if (!last) continue;
      const text = readFileSync(path.join(dir, last), 'utf8');
      const files = (text.match(/^\s+(CC|AS|LD|AR|HOSTCC)\s/gm) ?? []).length;
      return `${cfg.name} make ${last.replace(/^\d+-|\.log$/g, '')}: ${files} steps`;
    }
  } catch {
    // no log yet
  }
  return null;
}

/** What one series is doing now, in a line (stage, job progress). */
async function describe(db: Db, settings: Settings, pipeline: Pipeline, s: Series | null): Promise<{ step: number; text: string; done: boolean; verdict: string | null }> {
  if (!s) return { step: 0, text: 'waiting for its mail', done: false, verdict: null };
  if (!s.received_all) return { step: 0, text: `waiting for the rest of the series (${s.patches.length}/${s.total})`, done: false, verdict: null };
  const run = getRun(db, s.id, s.version);
  if (!run) return { step: 0, text: 'assembled, not queued yet', done: false, verdict: null };
  if (run.state === 'done' || run.state === 'cancelled') return { step: 4, text: `${run.state}: ${run.verdict ?? '-'}`, done: true, verdict: run.verdict };
  const outcomes = new Map(listOutcomes(db, s.id, s.version).map((o) => [o.stage, o]));
  let step = 0;
  for (const st of STAGES) if (outcomes.has(st)) step = STEP[st];
  const current = STAGES.find((st) => !outcomes.has(st)) ?? 'report';
  let detail = '';
  try {
    const job = await pipeline.queues[current].getJob(jobId(current, s.id, s.version));
    const p = job?.progress as unknown;
    if (p && typeof p === 'object') {
      const o = p as Record<string, unknown>;
      if (typeof o.msg === 'string') detail = o.msg;
      else if (typeof o.built === 'number') detail = `${o.built}/${o.of} patch builds${o.config ? ` (${String(o.config)})` : ''}`;
    }
  } catch {
    // progress is decoration: a Redis hiccup must not stop the job
  }
  if (current === 'build' && !detail) detail = makeProgress(settings, s) ?? '';
  const done = [...outcomes.entries()].filter(([k]) => !k.includes(':')).map(([k, o]) => `${k} ${o.status}`).join(', ');
  return { step, text: `${current}${detail ? `: ${detail}` : ''}${done ? ` (${done})` : ''}`, done: false, verdict: null };
}

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const log = (o.log ?? logger).child({ component: 'demo' });
  const settings = o.settings;
  const demo = demoSettingsSchema.parse((settings as Record<string, unknown>).demo ?? {});
  if (demo.expect.length === 0) throw new Error('the configuration has no demo.expect list: nothing to wait for');
  const started = Date.now();
  const say = (line: string) => o.out.write(`${line}\n`);
  const config = queueConfig(settings);

  if (o.fresh) {
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${settings.store.path}${suffix}`, { force: true });
    if (demo.sink_maildir) rmSync(demo.sink_maildir, { recursive: true, force: true });
  }
  await ensureRedisServer(config.url, log);
  if (o.fresh) {
    const n = await clearQueues(config.url, config.prefix);
    log.info({ keys: n, prefix: config.prefix }, 'cleared the queues of an earlier run');
  }
  if (o.quick) say('patchgate demo: --quick: the perf gate is skipped (series D cannot show its perf regression; expected verdict there: success)');

  const db = openDb(settings.store.path);
  const smtp = new URL(settings.smtp.url);
  let sink: MailSink | null = null;
  let daemon: Daemon | null = null;
  let pipeline: Pipeline | null = null;
  let app: Awaited<ReturnType<typeof createWebServer>> | null = null;
  let bars: MultiBar | null = null;
  let registry: StageRegistry | null = null;
  const workers: WorkerHandle[] = [];
  try {
    sink = await startMailSink({ db, host: smtp.hostname, port: Number(smtp.port || 25), maildir: demo.sink_maildir, log });
    pipeline = createPipeline({ config, db, log });
    const projectsFile = path.resolve('config', 'projects.yaml');
    app = await createWebServer({
      db, queues: queueSource(settings.redis.url, settings.redis.prefix),
      projects: existsSync(projectsFile) ? loadProjects(projectsFile) : [],
      trees: (settings.trees ?? []).map((t) => t.name),
    });
    // Stage workers in this process, under stable ids so that checkouts and build dirs stay warm from one
    // run to the next. Apply (and report) get their own checkouts: a series need not wait for the tree's
    // checkout while another series' kernel build holds it.
    registry = await loadStageRegistry();
    const options = { perf: !o.quick };
    for (const [id, stages] of [['demo-apply', ['apply', 'report']], ['demo', ['build', 'gate']]] as const) {
      const w = await startWorkers({ config, stages: [...stages], registry, settings, db, log, workerId: id, options });
      workers.push(w);
      await w.ready();
    }
    daemon = await startDaemon({ db, settings, pipeline, app, workers: false, scanMs: 1000, log });
    const { host, port } = parseListen(settings.web.listen);
    await app.listen({ host, port });
    const dashboard = `http://${settings.web.listen}/`;
    say(`patchgate demo: dashboard at ${dashboard} (mail received by the local SMTP sink: ${dashboard}mail)`);
    say(`patchgate demo: SMTP sink at ${sink.address}; sources: ${settings.sources.map((s) => `${s.name} (${s.type}${'url' in s && s.url ? ` ${s.url}` : ''})`).join(', ')}`);

    const watches: Watch[] = demo.expect.map((e) => ({ label: e.label, msgid: e.msgid, bar: null, last: '', lastText: '', loggedAt: 0 }));
    if (o.bars) {
      bars = new MultiBar({
        format: ' {label} [{bar}] {value}/{total} {duration_formatted} | {text}',
        stream: o.out as NodeJS.WriteStream, hideCursor: true, clearOnComplete: false, stopOnComplete: false, barsize: 16, fps: 2,
      }, Presets.shades_classic);
      const width = Math.max(...watches.map((w) => w.label.length));
      for (const w of watches) w.bar = bars.create(4, 0, { label: w.label.padEnd(width), text: 'waiting for its mail' });
    }

    const deadline = started + o.timeoutMs;
    let finished = false;
    while (Date.now() < deadline) {
      let all = true;
      for (const w of watches) {
        const s = findSeries(db, w.msgid);
        const d = await describe(db, settings, pipeline, s);
        let text = d.text;
        let step = d.step;
        if (d.done && s) {
          const reply = replyOf(db, s);
          const got = reply && listSinkMail(db).some((m) => m.message_id === reply);
          if (got) text = `${d.verdict}: reply ${reply} delivered`;
          else {
            all = false;
            step = 3;
            text = `${d.verdict}: waiting for the reply to reach the SMTP sink`;
          }
        } else all = false;
        if (w.bar) w.bar.update(step, { text: text.slice(0, 100) });
        else {
          // structured logs: on every change of stage, else at most every 30 s
          const key = `${step} ${text.split(':')[0]}`;
          if (key !== w.last || (text !== w.lastText && Date.now() - w.loggedAt > 30_000)) {
            log.info({ series: w.label, step, of: 4 }, text);
            w.loggedAt = Date.now();
            w.lastText = text;
          }
          w.last = key;
        }
      }
      if (all) {
        finished = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    bars?.stop();
    bars = null;
    if (!finished) say(`patchgate demo: gave up after ${fmtDuration(o.timeoutMs)}`);

    const results = demo.expect.map((e) => resultOf(db, e, o.quick));
    const result: DemoResult = { ok: finished && results.every((r) => r.ok), quick: o.quick, dashboard, series: results, elapsed_s: Math.round((Date.now() - started) / 1000) };
    printSummary(result, say);
    // for tools and tests (test/e2e/main-job-replies.test.ts): the last run's summary beside its store
    writeFileSync(path.join(path.dirname(settings.store.path), 'last-run.json'), JSON.stringify(result, null, 2) + '\n');
    if (o.keep) {
      say(`patchgate demo: the dashboard stays at ${dashboard} until Ctrl-C`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
    }
    return result;
  } finally {
    bars?.stop();
    await daemon?.close().catch((err: Error) => log.error({ err: err.message }, 'daemon close failed'));
    for (const w of workers) await w.close().catch((err: Error) => log.error({ err: err.message }, 'workers close failed'));
    if (registry) await closeRegistry(registry);
    await pipeline?.close().catch(() => undefined);
    await app?.close().catch(() => undefined);
    await sink?.close().catch(() => undefined);
    db.close();
  }
}

/** The Message-ID of the reply the report stage queued for the series' current revision. */
function replyOf(db: Db, s: Series): string | null {
  const o = listOutcomes(db, s.id, s.version).find((x) => x.stage === 'report');
  const reply = (o?.data as { reply?: { msgid?: string } | null } | undefined)?.reply;
  return reply?.msgid ?? null;
}

function perfOf(db: Db, s: Series): { verdicts: string[]; summary: string | null } {
  const gate = listOutcomes(db, s.id, s.version).find((x) => x.stage === 'gate');
  const gates = ((gate?.data as { gates?: { id: string; summary: string; metrics?: Record<string, { verdict?: string }> }[] } | undefined)?.gates) ?? [];
  const perf = gates.find((g) => g.id === 'perf');
  return { verdicts: Object.values(perf?.metrics ?? {}).map((m) => m.verdict ?? '').filter(Boolean), summary: perf?.summary ?? null };
}

function reasonOf(db: Db, s: Series): string | null {
  const r = listOutcomes(db, s.id, s.version).find((x) => x.stage === 'report');
  const reason = (r?.data as { reason?: string } | undefined)?.reason;
  return reason ?? null;
}

function resultOf(db: Db, e: DemoSettings['expect'][number], quick: boolean): DemoSeriesResult {
  const s = findSeries(db, e.msgid);
  const expected = quick ? e.quick_verdict ?? e.verdict : e.verdict;
  const run = s ? getRun(db, s.id, s.version) : null;
  const reply = s ? replyOf(db, s) : null;
  const delivered = !!reply && listSinkMail(db).some((m) => m.message_id === reply);
  const perf = s ? perfOf(db, s) : { verdicts: [], summary: null };
  const perfOk = quick || !e.perf || perf.verdicts.includes(e.perf);
  const verdict = run?.state === 'done' ? run.verdict : null;
  return {
    label: e.label, msgid: e.msgid, series: s?.id ?? null, name: s?.name ?? null, verdict, expected,
    perf: perf.verdicts.length ? perf.verdicts.join(',') : null,
    reason: s ? reasonOf(db, s) : null, reply, delivered,
    ok: verdict === expected && perfOk && delivered,
  };
}

function printSummary(r: DemoResult, say: (l: string) => void): void {
  say('');
  say(`patchgate demo: ${r.series.length} series in ${fmtDuration(r.elapsed_s * 1000)}${r.quick ? ' (--quick: perf gate skipped)' : ''}`);
  for (const s of r.series) {
    say(`  ${s.ok ? 'ok  ' : 'FAIL'} ${s.label}: ${s.name ?? s.msgid}`);
    say(`       verdict ${s.verdict ?? 'none'} (expected ${s.expected})${s.perf ? `, perf ${s.perf}` : ''}${s.reason ? `: ${s.reason}` : ''}`);
    say(`       reply ${s.reply ?? 'none'} ${s.delivered ? 'delivered to the SMTP sink' : 'NOT delivered'}`);
  }
  say(r.ok ? 'patchgate demo: every verdict as expected, every reply delivered' : 'patchgate demo: some series did not end as expected');
  say(`patchgate demo: browse the results with: npx patchgate start --config <config>  (dashboard ${r.dashboard}, mail at ${r.dashboard}mail)`);
}

