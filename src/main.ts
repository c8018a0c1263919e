// Wires the daemon together: sources followed, series assembled and queued, workers running the stages,
// mail commands acted on, the outbox sent, GitHub webhooks received. `patchgate start` calls this beside
// the dashboard; every part can also run alone (`patchgate ingest`, `patchgate worker`).
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { followSources } from './commands/ingest.js';
import { assembleStored } from './ingest/ingest.js';
import { createGithubProbot, githubWebhookHandler, GITHUB_WEBHOOK_PATH } from './ingest/source-github.js';
import { logger, type Logger } from './log.js';
import type { ParsedMessage } from './mail/types.js';
import { queueConfig } from './queue/config.js';
import type { Pipeline } from './queue/pipeline.js';
import { loadStageRegistry, closeRegistry, type StageOptions } from './queue/registry.js';
import { STAGES } from './queue/names.js';
import { ownsStore, startWorkers, type WorkerHandle } from './queue/worker.js';
import { executeCommandActions, processCommands } from './report/commands.js';
import { headsEnqueuer } from './heads/schedule.js';
import { startOutboxSender } from './report/stage.js';
import type { Series } from './series/types.js';
import type { Settings } from './settings/schema.js';
import type { Db } from './store/db.js';
import { loadParsedMessages } from './store/messages.js';
import { treesFromSettings } from './queue/apply-stage.js';
import type { TreeConfig } from './trees/config.js';
import { detectMergedInMirror } from './trees/merged.js';
import { scheduleMirrorFetch } from './trees/mirror.js';

export interface DaemonOptions {
  db: Db;
  settings: Settings;
  pipeline: Pipeline;
  /** the web server, to mount the GitHub webhook on (before it listens) */
  app?: FastifyInstance;
  /**
   * run stage workers in this process (default true). false: only the report stage, which runs where the
   * store is; `patchgate worker` runs apply, build and gate elsewhere.
   */
  workers?: boolean;
  /** how often new mail is looked for in the store, ms */
  scanMs?: number;
  /** a stable worker id keeps per-worker checkouts and build dirs warm across restarts (default: random) */
  workerId?: string;
  /** options passed to every stage (`{ perf: false }` skips the perf gate) */
  stageOptions?: StageOptions;
  log?: Logger;
}

export interface Daemon {
  close(): Promise<void>;
}

/** Complete series with no run yet, oldest first: what the pipeline has still to take. */
export function unqueuedSeries(db: Db): Series[] {
  const rows = db.prepare(`SELECT s.doc FROM series s LEFT JOIN runs r ON r.series_id = s.id AND r.version = s.version
                           WHERE s.received_all = 1 AND r.series_id IS NULL ORDER BY s.first_date, s.id`).pluck().all() as string[];
  return rows.map((d) => JSON.parse(d) as Series);
}

/** After new mail: assemble, queue what became complete, act on maintainers' commands. */
export async function processNewMail(db: Db, settings: Settings, pipeline: Pipeline, log: Logger): Promise<{ queued: number; commands: number }> {
  const doc = assembleStored(db, { sloppyTrailers: false });
  let queued = 0;
  for (const s of unqueuedSeries(db)) {
    const r = await pipeline.enqueueSeries(s);
    if (r === 'added') queued++;
  }
  const byMsgid = new Map<string, ParsedMessage>(loadParsedMessages(db).map((m) => [m.msgid, m]));
  const { actions } = await processCommands(db, doc, byMsgid, settings);
  if (actions.length) await executeCommandActions(db, actions, pipeline, { heads: headsEnqueuer(settings.redis.url, settings.redis.prefix), log });
  if (queued || actions.length) log.info({ queued, commands: actions.length }, 'new mail processed');
  return { queued, commands: actions.length };
}

export async function startDaemon(o: DaemonOptions): Promise<Daemon> {
  const log = o.log ?? logger.child({ component: 'daemon' });
  const { db, settings, pipeline } = o;
  const stop = new AbortController();

  let workers: WorkerHandle | null = null;
  let registry: Awaited<ReturnType<typeof loadStageRegistry>> | null = null;
  {
    registry = await loadStageRegistry();
    const stages = o.workers === false ? STAGES.filter(ownsStore) : [...STAGES];
    workers = await startWorkers({ config: queueConfig(settings), stages, registry, settings, db, log, workerId: o.workerId, options: o.stageOptions });
    await workers.ready();
  }
  const outbox = startOutboxSender(db, settings, { log });

  const github = settings.sources.find((s) => s.type === 'github');
  if (github && o.app) {
    const probot = await createGithubProbot({
      db, settings, source: github as Parameters<typeof createGithubProbot>[0]['source'], log,
      // the same commands as by mail, in pull request comments
      onCommands: async (result) => {
        if (result.actions.length) await executeCommandActions(db, result.actions, pipeline, { heads: headsEnqueuer(settings.redis.url, settings.redis.prefix), log });
      },
    });
    const handler = githubWebhookHandler(probot, log);
    // before fastify reads the body: the handler verifies the signature over the exact bytes
    o.app.addHook('onRequest', async (req, reply) => {
      if (req.method === 'POST' && req.url.split('?')[0] === GITHUB_WEBHOOK_PATH) {
        reply.hijack();
        await handler(req.raw, reply.raw);
      }
    });
  }

  // one bare mirror per tree URL, fetched on a schedule (jobs fetch too when a mirror is older than max_age_s)
  const mirrorEvery = ((settings as Record<string, unknown>).mirrors as { fetch_interval_s?: number } | undefined)?.fetch_interval_s ?? 600;
  const trees = await treesFromSettings(settings).catch((err: Error) => {
    log.warn({ err: err.message }, 'trees unreadable: no scheduled mirror fetches');
    return { trees: [] as TreeConfig[] };
  });
  const fetching = trees.trees.length && mirrorEvery > 0
    // after each fetch: the trees' series now in their branch become `merged` (src/trees/merged.ts)
    ? scheduleMirrorFetch(path.resolve(settings.work_dir, 'mirrors'), trees.trees, mirrorEvery * 1000, stop.signal, (dir, served) => detectMergedInMirror(db, dir, served))
    : Promise.resolve();

  const following = followSources({ db, settings, sources: settings.sources.filter((s) => s.type !== 'github'), signal: stop.signal, log });

  // new mail in the store (from any source, or another process) → assemble and queue
  let lastSeq = -1;
  let busy = false;
  const scan = async () => {
    if (busy) return;
    busy = true;
    try {
      const seq = (db.prepare('SELECT coalesce(max(seq), 0) FROM messages').pluck().get() as number);
      if (seq !== lastSeq) {
        await processNewMail(db, settings, pipeline, log);
        lastSeq = seq;
      }
    } catch (err) {
      log.error({ err: (err as Error).message }, 'processing new mail failed');
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void scan(), o.scanMs ?? 3000);
  void scan();

  return {
    async close() {
      clearInterval(timer);
      stop.abort();
      await following;
      await fetching;
      while (busy) await new Promise((r) => setTimeout(r, 50));
      await outbox.stop();
      await workers?.close();
      if (registry) await closeRegistry(registry);
    },
  };
}
