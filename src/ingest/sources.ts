// The registry of ingest sources: one entry per source type, `{ type, settings schema, poll(ctx) }`.
// `runSource` polls one configured source once and records its health (quiet / failing) in the store.
import path from 'node:path';
import type { Logger } from '../log.js';
import type { Settings, SourceSettings } from '../settings/schema.js';
import type { Db } from '../store/db.js';
import type { IngestOptions } from './ingest.js';
import { durationMs, emptyResult, type PollContext, type PollResult, type SourceDefinition, type SourceType } from './source-kit.js';
import { getSourceHealth, recordPoll, type SourceHealth } from './source-health.js';
import { githubSource } from './source-github.js';
import { imapSource } from './source-imap.js';
import { maildirSource, mboxSource } from './source-mbox.js';
import { patchworkSource } from './source-patchwork.js';
import { publicInboxGitSource } from './source-public-inbox-git.js';
import { publicInboxHttpSource } from './source-public-inbox-http.js';

export const sources = new Map<SourceType, SourceDefinition>([
  ['public-inbox-git', publicInboxGitSource as SourceDefinition],
  ['public-inbox-http', publicInboxHttpSource as SourceDefinition],
  ['imap', imapSource as SourceDefinition],
  ['patchwork', patchworkSource as SourceDefinition],
  ['github', githubSource as SourceDefinition],
  ['mbox', mboxSource as SourceDefinition],
  ['maildir', maildirSource as SourceDefinition],
]);

export const DEFAULT_QUIET_AFTER_S = 24 * 3600;

export function sourceDefinition(type: SourceType): SourceDefinition {
  const def = sources.get(type);
  if (!def) throw new Error(`no ingest source of type ${type}`);
  return def;
}

export function intervalMs(source: SourceSettings): number {
  return durationMs(source.interval, sourceDefinition(source.type).defaultInterval);
}

export function quietAfterMs(source: SourceSettings): number {
  return durationMs(source.quiet_after, DEFAULT_QUIET_AFTER_S);
}

/** A file-system-safe directory name for a source's own state. */
export function sourceWorkDir(settings: Settings, source: SourceSettings): string {
  return path.resolve(settings.work_dir, 'sources', source.name.replace(/[^A-Za-z0-9._-]/g, '_'));
}

export interface RunSourceOptions {
  db: Db;
  settings: Settings;
  source: SourceSettings;
  log: Logger;
  ingest?: IngestOptions;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  now?: () => Date;
}

export interface SourceRun {
  result: PollResult;
  error: Error | null;
  health: SourceHealth;
}

/** Polls SOURCE once. A failure is an outcome here (logged and recorded), not an exception. */
export async function runSource(opts: RunSourceOptions): Promise<SourceRun> {
  const { db, settings, source } = opts;
  const log = opts.log.child({ source: source.name, type: source.type });
  const def = sourceDefinition(source.type);
  const ctx: PollContext = {
    db, source, settings, log,
    workDir: sourceWorkDir(settings, source),
    ingest: { maxBytes: settings.mail.max_bytes, ...opts.ingest },
    fetch: opts.fetch ?? fetch,
    signal: opts.signal,
  };
  let result = emptyResult();
  let error: Error | null = null;
  const started = Date.now();
  try {
    result = await def.poll(ctx);
    log.info({ read: result.read, inserted: result.inserted, known: result.known, note: result.note, ms: Date.now() - started }, 'poll done');
  } catch (err) {
    error = err as Error;
    if (opts.signal?.aborted) {
      // shutting down: an interrupted poll is not a source failure (what it stored is kept, with its cursor)
      log.info({ err: error.message }, 'poll interrupted by shutdown');
      const health = getSourceHealth(db, source.name) ?? recordPoll(db, source.name, source.type, { ok: true, inserted: 0 }, quietAfterMs(source)).health;
      return { result, error, health };
    }
    log.error({ err: error.message }, 'poll failed');
  }
  const quiet = quietAfterMs(source);
  const { health, previous } = recordPoll(
    db, source.name, source.type,
    error ? { ok: false, error: error.message } : { ok: true, inserted: result.inserted },
    quiet, opts.now?.() ?? new Date(),
  );
  if (health.state === 'quiet' && previous !== 'quiet') {
    log.warn({ last_new_at: health.last_new_at, quiet_after_s: quiet / 1000 }, `source went quiet: ${health.detail}`);
  } else if (health.state === 'ok' && previous && previous !== 'ok') {
    log.info({ previous }, 'source is back');
  }
  return { result, error, health };
}
