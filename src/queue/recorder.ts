// The recorder: runs where the store is (the daemon, `patchgate run`, `patchgate worker` with the report
// queue) and stores what workers without the store report through the `results` queue: a run turning
// running, a stage's outcome (upsert), the flow's verdict. The queue is durable: a record added while no
// store owner runs waits in Redis, and one whose recorder died mid-way is taken again (bullmq stalled-job
// recovery) by the next one. Every write is idempotent, so a record stored twice changes nothing.
import { Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { logger, type Logger } from '../log.js';
import type { Db } from '../store/db.js';
import { finishRun, getRun, markRunning, saveOutcome } from '../store/runs.js';
import { connectionOptions, type QueueConfig } from './config.js';
import { RESULTS_QUEUE, revisionKey } from './names.js';
import { expireRevision, runTokenKey } from './revision-input.js';
import { recordSchema, type RecordData } from './schemas.js';

export interface RecorderOptions {
  config: QueueConfig;
  db: Db;
  log?: Logger;
}

export interface Recorder {
  readonly worker: Worker;
  ready(): Promise<void>;
  close(): Promise<void>;
}

export type RecordResult = 'recorded' | 'stale' | 'no-run';

/**
 * Stores one record. 'stale': it belongs to an earlier run of the revision (another token is current);
 * 'no-run': the store has no run for the revision (forgotten or never queued here).
 */
export function applyRecord(db: Db, rec: RecordData, currentToken: string | null): RecordResult {
  if (currentToken !== null && rec.run !== null && rec.run !== currentToken) return 'stale';
  if (!getRun(db, rec.seriesId, rec.version)) return 'no-run';
  db.transaction(() => {
    markRunning(db, rec.seriesId, rec.version);
    for (const [stage, o] of Object.entries(rec.outcomes)) saveOutcome(db, rec.seriesId, rec.version, stage, o);
    if (rec.finish) finishRun(db, rec.seriesId, rec.version, rec.finish.verdict, rec.finish.detail);
  })();
  return 'recorded';
}

export async function startRecorder(opts: RecorderOptions): Promise<Recorder> {
  const { config, db } = opts;
  const log = (opts.log ?? logger).child({ component: 'recorder' });
  const redis = new Redis(config.url, { maxRetriesPerRequest: null });
  redis.on('error', (err) => log.error({ err }, 'redis error'));
  const worker = new Worker(RESULTS_QUEUE, async (job: Job) => {
    const parsed = recordSchema.safeParse(job.data);
    if (!parsed.success) {
      log.error({ jobId: job.id, issues: parsed.error.issues.map((i) => i.message) }, 'invalid record: dropped');
      return 'invalid';
    }
    const rec = parsed.data;
    const token = await redis.get(runTokenKey(config.prefix, revisionKey(rec.seriesId, rec.version)));
    const r = applyRecord(db, rec, token);
    if (r === 'recorded' && rec.finish) await expireRevision(redis, config.prefix, revisionKey(rec.seriesId, rec.version));
    log.debug({ jobId: job.id, series: rec.seriesId, rev: rec.version, stage: rec.stage, kind: rec.kind, result: r }, 'record');
    if (r !== 'recorded') log.info({ jobId: job.id, series: rec.seriesId, rev: rec.version, stage: rec.stage, result: r }, 'record not stored');
    return r;
  }, {
    connection: connectionOptions(config.url),
    prefix: config.prefix,
    // one at a time: the records of a flow are stored in the order they were added
    concurrency: 1,
    lockDuration: config.lock_duration_ms,
    stalledInterval: config.stalled_interval_ms,
    maxStalledCount: 10,
    autorun: true,
  });
  worker.on('error', (err) => log.error({ err }, 'recorder error'));
  let closing: Promise<void> | null = null;
  return {
    worker,
    ready: () => worker.waitUntilReady().then(() => undefined),
    close() {
      closing ??= (async () => {
        await worker.close();
        await redis.quit().catch(() => redis.disconnect());
      })();
      return closing;
    },
  };
}
