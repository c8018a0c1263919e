// The producer side: a revision's flow apply → build → gate → report (bullmq FlowProducer; each stage is
// the parent of the one before it, so a parent starts when its child is done and reads its result), and
// cancellation of an old revision when a new one arrives. The pipeline belongs to the process that owns the
// store: it writes each revision's input to Redis for workers without the store (revision-input.ts) and, unless
// told not to, runs the recorder that stores what they report back (recorder.ts).
import { FlowProducer, Queue, type FlowJob, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { logger, type Logger } from '../log.js';
import type { Series } from '../series/types.js';
import type { Db } from '../store/db.js';
import { cancelRun, getRun, queueRun, unfinishedRuns } from '../store/runs.js';
import { cancelChannel, cancelKey, connectionOptions, type QueueConfig } from './config.js';
import { jobId, queueName, revisionKey, STAGES, stagesUntil, type Stage, type UntilStage } from './names.js';
import { startRecorder, type Recorder } from './recorder.js';
import { buildRevisionInput, newRunToken, writeRevisionInput } from './revision-input.js';
import type { JobData } from './schemas.js';

export interface Pipeline {
  readonly queues: Record<Stage, Queue>;
  /**
   * Queues the flow of one revision. 'added': a new flow; 'exists': its flow is already queued or running
   * (a repeated event does nothing); 'done': the store already holds its verdict up to that stage.
   */
  enqueue(seriesId: string, version: number, opts?: { until?: UntilStage }): Promise<'added' | 'exists' | 'done'>;
  /** Queues SERIES, first cancelling the unfinished runs of the revisions it replaces (series.previous). */
  enqueueSeries(series: Series, opts?: { until?: UntilStage; previousVersions?: Map<string, number> }): Promise<'added' | 'exists' | 'done'>;
  /** Cancels a revision: waiting jobs are removed, running ones get their AbortSignal fired. */
  cancel(seriesId: string, version: number, reason: string): Promise<void>;
  /** Resolves once the recorder (if any) is connected. */
  ready(): Promise<void>;
  close(): Promise<void>;
}

export interface PipelineOptions {
  config: QueueConfig;
  db: Db;
  log?: Logger;
  /** run the recorder here, storing what workers without the store report (default true) */
  record?: boolean;
}

const CANCEL_TTL_S = 7 * 24 * 3600;

export { revisionKey };

export function jobOptions(config: QueueConfig, stage: Stage, seriesId: string, version: number): JobsOptions {
  return {
    jobId: jobId(stage, seriesId, version),
    attempts: config.attempts,
    backoff: { type: 'exponential', delay: config.backoff_ms },
    removeOnComplete: { age: 24 * 3600, count: 10_000 },
    removeOnFail: { age: 7 * 24 * 3600 },
    // a child that failed for good (infrastructure) still lets the later stages run and report it
    ignoreDependencyOnFailure: true,
  };
}

/** The flow of one revision as a tree: the last stage is the root, the first (apply) the leaf. */
export function buildFlow(config: QueueConfig, seriesId: string, version: number, stages: Stage[]): FlowJob {
  const data: JobData = { seriesId, version };
  let node: FlowJob | undefined;
  for (const stage of stages) {
    const opts = jobOptions(config, stage, seriesId, version);
    node = { name: stage, queueName: queueName(stage), data, opts, ...(node ? { children: [node] } : {}) };
  }
  if (!node) throw new Error('a flow needs at least one stage');
  return node;
}

const ORDER = new Map(STAGES.map((s, i) => [s, i]));

export function createPipeline(opts: PipelineOptions): Pipeline {
  const { config, db } = opts;
  const log = (opts.log ?? logger).child({ component: 'pipeline' });
  const connection = connectionOptions(config.url);
  const queues = Object.fromEntries(STAGES.map((s) => {
    const q = new Queue(queueName(s), { connection, prefix: config.prefix });
    q.on('error', (err) => log.error({ err, queue: s }, 'queue error'));
    return [s, q];
  })) as Record<Stage, Queue>;
  const flows = new FlowProducer({ connection, prefix: config.prefix });
  flows.on('error', (err) => log.error({ err }, 'flow producer error'));
  const redis = new Redis(config.url, { maxRetriesPerRequest: null });
  redis.on('error', (err) => log.error({ err }, 'redis error'));
  const recorder: Promise<Recorder> | null = opts.record === false ? null : startRecorder({ config, db, log: opts.log });
  recorder?.catch((err: Error) => log.error({ err: err.message }, 'recorder did not start'));

  async function enqueue(seriesId: string, version: number, o: { until?: UntilStage } = {}): Promise<'added' | 'exists' | 'done'> {
    const stages = stagesUntil(o.until);
    const last = stages[stages.length - 1];
    const run = getRun(db, seriesId, version);
    if (run?.state === 'done' && (ORDER.get((run.last_stage ?? 'report') as Stage) ?? 3) >= ORDER.get(last)!) return 'done';
    const rootId = jobId(last, seriesId, version);
    const rootState = await queues[last].getJobState(rootId);
    if (rootState !== 'unknown' && rootState !== 'completed' && rootState !== 'failed') {
      if (!run || run.state === 'cancelled') queueRun(db, seriesId, version, last);
      return 'exists';
    }
    if (rootState === 'completed' || rootState === 'failed') {
      // the last stage writes the verdict to the store before bullmq marks its job finished: read again
      const now = getRun(db, seriesId, version);
      if (now?.state === 'done' && (ORDER.get((now.last_stage ?? 'report') as Stage) ?? 3) >= ORDER.get(last)!) return 'done';
      // the store does not know this flow's verdict: whatever finished flow Redis still holds is stale
      await queues[last].remove(rootId, { removeChildren: true });
    }
    for (const stage of stages) {
      const id = jobId(stage, seriesId, version);
      if ((await queues[stage].getJobState(id)) === 'failed') await queues[stage].remove(id, { removeChildren: true });
    }
    await redis.del(cancelKey(config.prefix, revisionKey(seriesId, version)));
    // the input first: a record of an earlier run that arrives from now on carries another token
    await writeRevisionInput(redis, config.prefix, revisionKey(seriesId, version), buildRevisionInput(db, seriesId, version, newRunToken()));
    queueRun(db, seriesId, version, last);
    await flows.add(buildFlow(config, seriesId, version, stages));
    log.info({ series: seriesId, rev: version, until: last }, 'flow queued');
    return 'added';
  }

  async function cancel(seriesId: string, version: number, reason: string): Promise<void> {
    const rev = revisionKey(seriesId, version);
    await redis.set(cancelKey(config.prefix, rev), reason, 'EX', CANCEL_TTL_S);
    await redis.publish(cancelChannel(config.prefix), JSON.stringify({ seriesId, version, reason }));
    // remove what is still waiting: the flow's root takes its children along unless one is running
    for (const stage of [...STAGES].reverse()) {
      const id = jobId(stage, seriesId, version);
      const job = await queues[stage].getJob(id);
      if (!job || job.parentKey) continue;
      try {
        await queues[stage].remove(id, { removeChildren: true });
        log.info({ series: seriesId, rev: version, jobId: id }, 'removed waiting flow');
      } catch (err) {
        // a running job is locked: its AbortSignal fires and the stages after it skip themselves
        log.info({ series: seriesId, rev: version, jobId: id, reason: (err as Error).message }, 'flow is running: aborting it');
      }
    }
    if (cancelRun(db, seriesId, version, reason)) log.info({ series: seriesId, rev: version, reason }, 'revision cancelled');
  }

  async function enqueueSeries(series: Series, o: { until?: UntilStage } = {}): Promise<'added' | 'exists' | 'done'> {
    const older: string[] = [];
    if (series.previous) older.push(series.previous);
    for (const r of unfinishedRuns(db, [series.id, ...older])) {
      if (r.series_id === series.id && r.version === series.version) continue;
      if (r.series_id === series.id && r.version > series.version) continue;
      await cancel(r.series_id, r.version, `superseded by ${series.id} v${series.version}`);
    }
    return enqueue(series.id, series.version, o);
  }

  async function close(): Promise<void> {
    if (recorder) await (await recorder).close();
    await flows.close();
    await Promise.all(Object.values(queues).map((q) => q.close()));
    redis.disconnect();
  }

  async function ready(): Promise<void> {
    if (recorder) await (await recorder).ready();
  }

  return { queues, enqueue, enqueueSeries, cancel, ready, close };
}
