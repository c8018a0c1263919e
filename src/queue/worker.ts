// The consumer side: one bullmq Worker per stage queue, running the registered stage processor inside a
// wrapper that validates the job, skips cancelled revisions, reuses an outcome a crashed attempt already
// stored, persists the outcome (idempotent upsert) and, at the flow's last stage, the run's verdict.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { logger, type Logger } from '../log.js';
import type { Settings } from '../settings/schema.js';
import type { Db } from '../store/db.js';
import { finishRun, getOutcome, markRunning, saveOutcome } from '../store/runs.js';
import { loadSeries } from '../store/series.js';
import { cancelChannel, cancelKey, connectionOptions, type QueueConfig } from './config.js';
import { jobId, queueName, STAGES, type Stage } from './names.js';
import { revisionKey } from './pipeline.js';
import type { StageContext, StageOptions, StageRegistry } from './registry.js';
import { jobDataSchema, stageOutcomeSchema, stageResultSchema, worstStatus, type StageOutcome, type StageResult } from './schemas.js';

export { UnrecoverableError };

export interface StartWorkersOptions {
  config: QueueConfig;
  stages: Stage[];
  registry: StageRegistry;
  settings: Settings;
  db: Db;
  log?: Logger;
  workerId?: string;
  /** passed to every stage (StageContext.options) */
  options?: StageOptions;
}

export interface WorkerHandle {
  readonly workerId: string;
  readonly workers: Map<Stage, Worker>;
  /** Resolves once every worker is connected. */
  ready(): Promise<void>;
  /** Graceful: stops taking jobs, waits for the running ones, closes connections. */
  close(): Promise<void>;
  /** Aborts the running jobs (their AbortSignal fires; they go back to the queue for another worker) and closes. */
  abort(reason?: string): Promise<void>;
}

class CancelledError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'CancelledError';
  }
}

/** Outcomes from a crashed or failed attempt that must not be reused. */
function reusable(o: { data: Record<string, unknown> } | null): boolean {
  return !!o && !o.data.infrastructure && !o.data.cancelled && !o.data.unavailable;
}

/** Whether STAGE can run given the outcomes before it (a conflict stops build and gates; report always runs). */
export function blockedBy(stage: Stage, previous: Partial<Record<Stage, StageOutcome>>): string | null {
  if (stage === 'apply' || stage === 'report') return null;
  const apply = previous.apply;
  if (!apply) return 'apply did not run';
  if (apply.status !== 'success' && apply.status !== 'warning') return `apply: ${apply.status} (${apply.summary})`;
  if (stage === 'gate') {
    const build = previous.build;
    if (build && (build.status === 'failure' || build.status === 'conflict')) return `build: ${build.status} (${build.summary})`;
  }
  return null;
}

/** The run's verdict: the most severe status among the stages that actually ran. */
export function verdictOf(outcomes: Partial<Record<Stage, StageOutcome>>): string {
  const ran = Object.values(outcomes).filter((o): o is StageOutcome => !!o && !o.data.unavailable);
  return worstStatus(ran.map((o) => o.status));
}

export async function startWorkers(opts: StartWorkersOptions): Promise<WorkerHandle> {
  const { config, registry, settings, db } = opts;
  const workerId = opts.workerId ?? `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const baseLog = (opts.log ?? logger).child({ worker: workerId });
  const redis = new Redis(config.url, { maxRetriesPerRequest: null });
  redis.on('error', (err) => baseLog.error({ err }, 'redis error'));
  const subscriber = new Redis(config.url, { maxRetriesPerRequest: null });
  subscriber.on('error', (err) => baseLog.error({ err }, 'redis subscriber error'));
  const workers = new Map<Stage, Worker>();
  const stageOptions: StageOptions = { perf: true, ...opts.options };

  async function previousOutcomes(job: Job, seriesId: string, version: number, stage: Stage): Promise<Partial<Record<Stage, StageOutcome>>> {
    const previous: Partial<Record<Stage, StageOutcome>> = {};
    const values = await job.getChildrenValues();
    for (const v of Object.values(values)) {
      const r = stageResultSchema.safeParse(v);
      if (r.success) Object.assign(previous, r.data.outcomes);
    }
    // a child that failed for good left its outcome (infrastructure failure) in the store
    for (const s of STAGES.slice(0, STAGES.indexOf(stage))) {
      if (previous[s]) continue;
      const o = getOutcome(db, seriesId, version, s);
      if (o) previous[s] = stageOutcomeSchema.parse(o);
    }
    return previous;
  }

  function finish(job: Job, seriesId: string, version: number, outcomes: Partial<Record<Stage, StageOutcome>>): void {
    if (job.parentKey) return;
    finishRun(db, seriesId, version, verdictOf(outcomes));
  }

  async function processJob(stage: Stage, job: Job, token: string | undefined, signal?: AbortSignal): Promise<StageResult> {
    const parsed = jobDataSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`invalid job data: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    const { seriesId, version } = parsed.data;
    const log = baseLog.child({ queue: stage, jobId: job.id, series: seriesId, rev: version });
    const abort = signal ?? new AbortController().signal;
    try {
      const previous = await previousOutcomes(job, seriesId, version, stage);
      const result = (o: StageOutcome): StageResult => ({ stage, outcomes: { ...previous, [stage]: o } });

      const cancelled = await redis.get(cancelKey(config.prefix, revisionKey(seriesId, version)));
      if (cancelled !== null) {
        const o: StageOutcome = { status: 'skipped', summary: `cancelled: ${cancelled}`, data: { cancelled: true } };
        saveOutcome(db, seriesId, version, stage, o);
        log.info({ reason: cancelled }, 'revision cancelled: stage skipped');
        return result(o);
      }
      const stored = getOutcome(db, seriesId, version, stage);
      if (reusable(stored)) {
        // an earlier attempt finished the work and crashed before bullmq heard of it
        log.info('outcome already stored: not running the stage again');
        const o = stageOutcomeSchema.parse(stored);
        finish(job, seriesId, version, { ...previous, [stage]: o });
        return result(o);
      }
      markRunning(db, seriesId, version);
      const series = loadSeries(db, seriesId);
      if (!series) throw new UnrecoverableError(`series ${seriesId} is not in the store`);
      if (series.version !== version) throw new UnrecoverableError(`series ${seriesId} is v${series.version} in the store, not v${version}`);

      let outcome: StageOutcome;
      const processor = registry.get(stage);
      const blocked = blockedBy(stage, previous);
      if (!processor) {
        outcome = { status: 'skipped', summary: `no ${stage} stage is installed`, data: { unavailable: true } };
      } else if (blocked) {
        outcome = { status: 'skipped', summary: `not run: ${blocked}`, data: { blocked } };
      } else {
        const ctx: StageContext = {
          stage, seriesId, version, series, previous, signal: abort, log, settings, db, workerId, options: stageOptions,
          // progress is best effort: a job removed meanwhile (a new revision, an operator) must not crash the worker
          updateProgress: (p) => job.updateProgress(p).catch((err: Error) => log.warn({ err: err.message }, 'progress not saved')),
          saveState: (state) => job.updateData({ seriesId, version, state }),
          resume: parsed.data.state ?? null,
        };
        const aborted = new Promise<never>((_, reject) => {
          const onAbort = () => reject(new CancelledError(String(abort.reason ?? 'cancelled')));
          if (abort.aborted) onAbort();
          else abort.addEventListener('abort', onAbort, { once: true });
        });
        const running = processor(ctx);
        running.catch(() => {}); // an abandoned (aborted) processor must not crash the process
        aborted.catch(() => {});
        const raw = await Promise.race([running, aborted]);
        const checked = stageOutcomeSchema.safeParse(raw);
        if (!checked.success) throw new UnrecoverableError(`${stage} stage returned an invalid outcome: ${checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
        outcome = checked.data;
      }
      saveOutcome(db, seriesId, version, stage, outcome);
      log.info({ status: outcome.status, summary: outcome.summary }, 'stage done');
      finish(job, seriesId, version, { ...previous, [stage]: outcome });
      return result(outcome);
    } catch (err) {
      if (err instanceof CancelledError || abort.aborted) {
        const reason = await redis.get(cancelKey(config.prefix, revisionKey(seriesId, version)));
        if (reason !== null) {
          const o: StageOutcome = { status: 'skipped', summary: `cancelled: ${reason}`, data: { cancelled: true } };
          saveOutcome(db, seriesId, version, stage, o);
          log.info({ reason }, 'stage aborted: revision cancelled');
          return { stage, outcomes: { [stage]: o } };
        }
        // aborted for another reason (shutdown): an infrastructure fault, retried
        throw new Error(`interrupted: ${err instanceof Error ? err.message : String(err)}`);
      }
      const last = err instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      log.error({ err, attempt: job.attemptsMade + 1, final: last }, 'stage failed (infrastructure)');
      if (last) {
        const o: StageOutcome = { status: 'failure', summary: `infrastructure: ${(err as Error).message}`, data: { infrastructure: true } };
        saveOutcome(db, seriesId, version, stage, o);
        if (!job.parentKey) finishRun(db, seriesId, version, 'failure', o.summary);
      }
      throw err;
    }
  }

  for (const stage of opts.stages) {
    const concurrency = config.concurrency[stage];
    // three parameters: bullmq passes the AbortSignal only to processors that declare it
    const worker = new Worker(queueName(stage), (job: Job, token?: string, signal?: AbortSignal) => processJob(stage, job, token, signal), {
      connection: connectionOptions(config.url),
      prefix: config.prefix,
      concurrency,
      lockDuration: config.lock_duration_ms,
      stalledInterval: config.stalled_interval_ms,
      maxStalledCount: config.max_stalled_count,
      autorun: true,
    });
    worker.on('error', (err) => baseLog.error({ err, queue: stage }, 'worker error'));
    worker.on('failed', (job, err) => baseLog.warn({ queue: stage, jobId: job?.id, err: err.message, attempts: job?.attemptsMade }, 'job failed'));
    worker.on('stalled', (id) => baseLog.warn({ queue: stage, jobId: id }, 'job stalled: moved back to wait'));
    workers.set(stage, worker);
  }

  await subscriber.subscribe(cancelChannel(config.prefix));
  subscriber.on('message', (_channel, message) => {
    let m: { seriesId: string; version: number; reason: string };
    try {
      m = JSON.parse(message) as typeof m;
    } catch {
      return;
    }
    for (const [stage, worker] of workers) {
      const id = jobId(stage, m.seriesId, m.version);
      if (worker.cancelJob(id, m.reason)) baseLog.info({ queue: stage, jobId: id, reason: m.reason }, 'running job cancelled');
    }
  });

  let closing: Promise<void> | null = null;
  function close(): Promise<void> {
    closing ??= (async () => {
      await Promise.all([...workers.values()].map((w) => w.close()));
      await subscriber.quit().catch(() => subscriber.disconnect());
      await redis.quit().catch(() => redis.disconnect());
    })();
    return closing;
  }
  return {
    workerId,
    workers,
    async ready() {
      await Promise.all([...workers.values()].map((w) => w.waitUntilReady()));
    },
    close,
    async abort(reason = 'worker shutting down') {
      // the processors stop at once; their jobs fail this attempt and are retried by another worker
      for (const w of workers.values()) w.cancelAllJobs(reason);
      await close();
    },
  };
}
