// `patchgate ingest --config FILE [--source NAME] [--once]` (shared/docs/contract.md): one pass over the
// configured sources, or follow them on their intervals until SIGTERM / SIGINT.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import type { CliIo } from '../cli.js';
import { UsageError } from '../cli.js';
import { assembleStored, type IngestOptions } from '../ingest/ingest.js';
import { createParsePool } from '../ingest/parse-pool.js';
import { intervalMs, runSource, type SourceRun } from '../ingest/sources.js';
import { logger, type Logger } from '../log.js';
import { loadSettings } from '../settings/load.js';
import type { Settings, SourceSettings } from '../settings/schema.js';
import { openDb, type Db } from '../store/db.js';

export interface FollowOptions {
  db: Db;
  settings: Settings;
  sources: SourceSettings[];
  log?: Logger;
  ingest?: IngestOptions;
  fetch?: typeof fetch;
  /** stops the loops: the running polls finish their current work, then followSources resolves */
  signal: AbortSignal;
  /** called after each poll (tests, the dashboard) */
  onPoll?: (source: SourceSettings, run: SourceRun) => void;
  /** the longest wait after repeated failures, ms (default 30 min, at least the interval) */
  maxBackoffMs?: number;
}

/** Picks the sources named by --source (all when absent). */
export function selectSources(settings: Settings, name?: string): SourceSettings[] {
  if (!name) return settings.sources;
  const found = settings.sources.filter((s) => s.name === name);
  if (found.length === 0) {
    const known = settings.sources.map((s) => s.name).join(', ') || 'none';
    throw new UsageError(`no source named ${name} in the configuration (sources: ${known})`);
  }
  return found;
}

/** Re-assembles the series from the store after new mail arrived. */
function assemble(db: Db, log: Logger): void {
  const started = Date.now();
  const doc = assembleStored(db, { sloppyTrailers: false });
  log.info({ series: doc.series.length, ms: Date.now() - started }, 'series assembled');
}

/** One pass over SOURCES, one after the other. */
export async function ingestOnce(opts: Omit<FollowOptions, 'signal'> & { signal?: AbortSignal }): Promise<SourceRun[]> {
  const log = opts.log ?? logger.child({ component: 'ingest' });
  const runs: SourceRun[] = [];
  for (const source of opts.sources) {
    if (opts.signal?.aborted) break;
    const run = await runSource({ db: opts.db, settings: opts.settings, source, log, ingest: opts.ingest, fetch: opts.fetch, signal: opts.signal });
    opts.onPoll?.(source, run);
    runs.push(run);
  }
  if (runs.some((r) => r.result.inserted > 0)) assemble(opts.db, log);
  return runs;
}

/**
 * Follows every source on its own interval until SIGNAL aborts. A failing source is retried with
 * exponential backoff (interval × 2^failures, capped); the others carry on.
 */
export async function followSources(opts: FollowOptions): Promise<void> {
  const log = opts.log ?? logger.child({ component: 'ingest' });
  const { signal } = opts;
  let dirty = false;
  let assembling: Promise<void> | null = null;
  const assembleSoon = () => {
    if (!dirty || assembling) return;
    dirty = false;
    assembling = Promise.resolve().then(() => assemble(opts.db, log)).catch((err: Error) => log.error({ err: err.message }, 'assembly failed'))
      .finally(() => { assembling = null; assembleSoon(); });
  };
  async function loop(source: SourceSettings): Promise<void> {
    const every = intervalMs(source);
    const maxBackoff = Math.max(every, opts.maxBackoffMs ?? 30 * 60_000);
    while (!signal.aborted) {
      const run = await runSource({ db: opts.db, settings: opts.settings, source, log, ingest: opts.ingest, fetch: opts.fetch, signal });
      opts.onPoll?.(source, run);
      if (run.result.inserted > 0) {
        dirty = true;
        assembleSoon();
      }
      const wait = run.error ? Math.min(every * 2 ** Math.min(run.health.failures, 20), maxBackoff) : every;
      if (run.error) log.warn({ source: source.name, failures: run.health.failures, wait }, 'backing off');
      try {
        await sleep(wait, undefined, { signal });
      } catch {
        break; // aborted
      }
    }
  }
  log.info({ sources: opts.sources.map((s) => s.name) }, 'following sources');
  await Promise.all(opts.sources.map(loop));
  while (assembling) await assembling;
  log.info('stopped following sources');
}

export function registerIngest(program: Command, io: CliIo): void {
  program
    .command('ingest')
    .description('read new mail from the configured sources into the store')
    .requiredOption('--config <file>', 'configuration file')
    .option('--source <name>', 'only this source')
    .option('--once', 'one pass over the sources, then exit')
    .option('--workers <n>', 'parser worker threads (default: one per core, 0 = in process)')
    .option('--batch-size <n>', 'messages per store transaction (default 256)')
    .action(async (opts: { config: string; source?: string; once?: boolean; workers?: string; batchSize?: string }) => {
      const settings = loadSettings(opts.config);
      const sources = selectSources(settings, opts.source);
      if (sources.length === 0) throw new UsageError(`${opts.config}: no sources configured`);
      const db = openDb(settings.store.path);
      const pool = await createParsePool({ workers: opts.workers !== undefined ? parseInt(opts.workers, 10) : undefined, maxBytes: settings.mail.max_bytes });
      const log = logger.child({ component: 'ingest' });
      const batchSize = opts.batchSize !== undefined ? parseInt(opts.batchSize, 10) : undefined;
      if (batchSize !== undefined && !(batchSize > 0)) throw new UsageError(`--batch-size: not a positive number: ${opts.batchSize}`);
      const ingest: IngestOptions = { parseBatch: pool.parseBatch, prepareBatch: pool.prepareBatch, release: pool.release, batchSize };
      try {
        if (opts.once) {
          // contract.md: one pass, then exit 0. A source that failed is an outcome (printed, logged, and
          // recorded in source_health as failing), not a usage error or a crash.
          const runs = await ingestOnce({ db, settings, sources, log, ingest });
          for (const r of runs) {
            io.stdout.write(`${r.health.source}: ${r.error ? `failed: ${r.error.message}` : `${r.result.inserted} new, ${r.result.known} known`} (${r.health.state})\n`);
          }
          return;
        }
        const controller = new AbortController();
        const stop = (sig: string) => {
          log.info({ signal: sig }, 'shutting down');
          controller.abort();
        };
        const onTerm = () => stop('SIGTERM');
        const onInt = () => stop('SIGINT');
        process.once('SIGTERM', onTerm);
        process.once('SIGINT', onInt);
        try {
          await followSources({ db, settings, sources, log, ingest, signal: controller.signal });
        } finally {
          process.off('SIGTERM', onTerm);
          process.off('SIGINT', onInt);
        }
      } finally {
        await pool.close();
        db.close();
      }
    });
}
