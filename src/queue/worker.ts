// The consumer side: one bullmq Worker per stage queue, running the registered stage processor inside a
// wrapper that validates the job, skips cancelled revisions, reuses an outcome a crashed attempt already
// stored, persists the outcome (idempotent upsert) and, at the flow's last stage, the run's verdict.
//
// Apply, build and gate never touch the store, so their workers may run on machines that share only Redis
// (and artifacts) with it: they read the revision's input from Redis (revision-input.ts), keep their outcome
// in a Redis hash (what a retried attempt reuses) and report it to the store owner through the durable
// `results` queue (recorder.ts). The report stage runs where the store is: it stores the outcomes of the
// stages before it, then its own and the verdict, in the store directly.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { logger, type Logger } from '../log.js';
import type { Settings } from '../settings/schema.js';
import type { Db } from '../store/db.js';
import { finishRun, getOutcome, markRunning, saveOutcome } from '../store/runs.js';
import { loadSeries } from '../store/series.js';
import { cancelChannel, cancelKey, connectionOptions, type QueueConfig } from './config.js';
import { jobId, queueName, recordJobId, RESULTS_QUEUE, revisionKey, STAGES, STORE_STAGES, type Stage } from './names.js';
import type { StageContext, StageOptions, StageRegistry } from './registry.js';
import { buildRevisionInput, expireRevision, outcomesKey, readRevisionInput, runTokenKey, type RevisionInput } from './revision-input.js';
import {
  jobDataSchema, stageOutcomeSchema, stageResultSchema, worstStatus, type RecordData, type StageOutcome, type StageResult,
} from './schemas.js';

export { UnrecoverableError };

export interface StartWorkersOptions {
  config: QueueConfig;
  stages: Stage[];
  registry: StageRegistry;
  settings: Settings;
  /** the store: required for the stages that run where it is (report), never used by apply, build, gate */
  db?: Db;
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

/** Whether STAGE runs where the store is. */
export function ownsStore(stage: Stage): boolean {
  return STORE_STAGES.includes(stage);
}

/** How long a closing worker waits for the store owner to store the outcomes it reported. */
const FLUSH_MS = 5000;
const PENDING_MAX = 1000;
/** outcomes kept in Redis for retries (a finished run shortens it: expireRevision) */
const OUTCOMES_TTL_S = 7 * 24 * 3600;

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
  const storeStages = opts.stages.filter(ownsStore);
  if (storeStages.length && !db) {
    throw new Error(`the ${storeStages.join(', ')} stage runs where the store is: start it in the process that owns the store (patchgate start, patchgate run, patchgate worker with the report queue)`);
  }
  const workerId = opts.workerId ?? `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const baseLog = (opts.log ?? logger).child({ worker: workerId });
  const redis = new Redis(config.url, { maxRetriesPerRequest: null });
  redis.on('error', (err) => baseLog.error({ err }, 'redis error'));
  const subscriber = new Redis(config.url, { maxRetriesPerRequest: null });
  subscriber.on('error', (err) => baseLog.error({ err }, 'redis subscriber error'));
  const workers = new Map<Stage, Worker>();
  const stageOptions: StageOptions = { perf: true, ...opts.options };
  // outcomes of the stages without the store travel back through this queue
  const results = opts.stages.some((s) => !ownsStore(s)) ? new Queue(RESULTS_QUEUE, { connection: connectionOptions(config.url), prefix: config.prefix }) : null;
  results?.on('error', (err) => baseLog.error({ err }, 'results queue error'));
  const reported = new Set<string>();

  /** An outcome a store-less worker kept in Redis for this run (what a retried attempt reuses), or null. */
  async function redisOutcome(rev: string, stage: Stage, run: string | null): Promise<StageOutcome | null> {
    const json = await redis.hget(outcomesKey(config.prefix, rev), stage);
    if (!json) return null;
    const v = JSON.parse(json) as { run: string | null; outcome: unknown };
    if (run !== null && v.run !== null && v.run !== run) return null;
    const o = stageOutcomeSchema.safeParse(v.outcome);
    return o.success ? o.data : null;
  }

  async function previousOutcomes(job: Job, rev: string, seriesId: string, version: number, stage: Stage, run: string | null): Promise<Partial<Record<Stage, StageOutcome>>> {
    const previous: Partial<Record<Stage, StageOutcome>> = {};
    const values = await job.getChildrenValues();
    for (const v of Object.values(values)) {
      const r = stageResultSchema.safeParse(v);
      if (r.success) Object.assign(previous, r.data.outcomes);
    }
    // a child that failed for good left its outcome (infrastructure failure) in Redis (or, run here, in the store)
    for (const s of STAGES.slice(0, STAGES.indexOf(stage))) {
      if (previous[s]) continue;
      const o = ownsStore(s) && db ? getOutcome(db, seriesId, version, s) : await redisOutcome(rev, s, run);
      if (o) previous[s] = stageOutcomeSchema.parse(o);
    }
    return previous;
  }

  /** Reports a record to the store owner; a repeated report of the same run and stage adds nothing. */
  async function report(rec: RecordData): Promise<void> {
    if (!results) throw new Error('no results queue: this worker runs no stage without the store');
    const id = recordJobId(rec.kind, rec.kind === 'running' ? null : (rec.stage as Stage), rec.seriesId, rec.version, rec.run ?? 'none');
    await results.add('record', rec, {
      jobId: id, attempts: 20, backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: { age: 24 * 3600, count: 10_000 }, removeOnFail: { age: 7 * 24 * 3600 },
    });
    reported.add(id);
    if (reported.size > PENDING_MAX) reported.delete(reported.values().next().value as string);
  }

  /**
   * Stores STAGE's outcome: in the store (the report stage, here) or in Redis and the results queue (the
   * others). ALL holds the outcomes of the flow so far; FINISH ends the run (the flow's last stage).
   */
  async function commit(stage: Stage, seriesId: string, version: number, run: string | null, own: StageOutcome,
    all: Partial<Record<Stage, StageOutcome>>, finish: { verdict: string; detail: string | null } | null): Promise<void> {
    if (ownsStore(stage)) {
      saveOutcome(db!, seriesId, version, stage, own);
      if (finish) {
        finishRun(db!, seriesId, version, finish.verdict, finish.detail);
        await expireRevision(redis, config.prefix, revisionKey(seriesId, version));
      }
      return;
    }
    // Redis first: an attempt that dies after this line is not run again, its retry reports the same outcome
    const key = outcomesKey(config.prefix, revisionKey(seriesId, version));
    await redis.multi().hset(key, stage, JSON.stringify({ run, outcome: own })).expire(key, OUTCOMES_TTL_S).exec();
    await report({ kind: 'outcome', seriesId, version, run, stage, outcomes: all as Record<string, StageOutcome>, finish });
  }

  /** The input of a store-less stage: from Redis, else (a flow queued before inputs existed) from the store here. */
  async function inputOf(rev: string, seriesId: string, version: number): Promise<RevisionInput | null> {
    const input = await readRevisionInput(redis, config.prefix, rev);
    if (input) return input;
    return db ? buildRevisionInput(db, seriesId, version, '') : null;
  }

  async function processJob(stage: Stage, job: Job, token: string | undefined, signal?: AbortSignal): Promise<StageResult> {
    const parsed = jobDataSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`invalid job data: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    const { seriesId, version } = parsed.data;
    const log = baseLog.child({ queue: stage, jobId: job.id, series: seriesId, rev: version });
    const abort = signal ?? new AbortController().signal;
    const rev = revisionKey(seriesId, version);
    const owner = ownsStore(stage);
    const input = owner ? null : await inputOf(rev, seriesId, version);
    const run = input?.token || (await redis.get(runTokenKey(config.prefix, rev)));
    const root = !job.parentKey;
    try {
      const previous = await previousOutcomes(job, rev, seriesId, version, stage, run);
      if (owner) {
        // what the store-less stages before this one reported, stored before this stage reads the store
        const d = db!;
        d.transaction(() => {
          for (const [s, o] of Object.entries(previous)) saveOutcome(d, seriesId, version, s, o);
        })();
      }
      const result = (o: StageOutcome): StageResult => ({ stage, outcomes: { ...previous, [stage]: o } });
      const verdict = (o: StageOutcome) => (root ? { verdict: verdictOf({ ...previous, [stage]: o }), detail: null } : null);

      const cancelled = await redis.get(cancelKey(config.prefix, rev));
      if (cancelled !== null) {
        const o: StageOutcome = { status: 'skipped', summary: `cancelled: ${cancelled}`, data: { cancelled: true } };
        await commit(stage, seriesId, version, run, o, { ...previous, [stage]: o }, null);
        log.info({ reason: cancelled }, 'revision cancelled: stage skipped');
        return result(o);
      }
      const stored = owner ? getOutcome(db!, seriesId, version, stage) : await redisOutcome(rev, stage, run);
      if (reusable(stored)) {
        // an earlier attempt finished the work and crashed before bullmq heard of it
        log.info('outcome already stored: not running the stage again');
        const o = stageOutcomeSchema.parse(stored);
        await commit(stage, seriesId, version, run, o, { ...previous, [stage]: o }, verdict(o));
        return result(o);
      }
      if (owner) markRunning(db!, seriesId, version);
      else await report({ kind: 'running', seriesId, version, run, stage, outcomes: {}, finish: null });
      if (!owner && !input) throw new UnrecoverableError(`the input of ${seriesId} v${version} is not in Redis (queued before inputs existed, or expired): queue the revision again`);
      const series = owner ? loadSeries(db!, seriesId) : input?.series ?? null;
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
          stage, seriesId, version, series, previous, signal: abort, log, settings, workerId, options: stageOptions,
          ...(owner ? { db } : {}),
          ...(input ? { input } : {}),
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
      await commit(stage, seriesId, version, run, outcome, { ...previous, [stage]: outcome }, verdict(outcome));
      log.info({ status: outcome.status, summary: outcome.summary }, 'stage done');
      return result(outcome);
    } catch (err) {
      if (err instanceof CancelledError || abort.aborted) {
        const reason = await redis.get(cancelKey(config.prefix, rev));
        if (reason !== null) {
          const o: StageOutcome = { status: 'skipped', summary: `cancelled: ${reason}`, data: { cancelled: true } };
          await commit(stage, seriesId, version, run, o, { [stage]: o }, null);
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
        await commit(stage, seriesId, version, run, o, { [stage]: o }, root ? { verdict: 'failure', detail: o.summary } : null);
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

  /** Waits (up to MS) for the store owner to have stored what this worker reported: a worker that exits leaves no doubt. */
  async function flush(ms: number): Promise<void> {
    if (!results || reported.size === 0) return;
    const until = Date.now() + ms;
    for (const id of [...reported]) {
      for (;;) {
        const state = await results.getJobState(id).catch(() => 'unknown');
        if (state === 'completed' || state === 'failed' || state === 'unknown') break;
        if (Date.now() > until) {
          baseLog.warn({ pending: reported.size }, 'the store owner has not stored every reported outcome yet: they wait in the results queue');
          return;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      reported.delete(id);
    }
  }

  let closing: Promise<void> | null = null;
  function close(): Promise<void> {
    closing ??= (async () => {
      await Promise.all([...workers.values()].map((w) => w.close()));
      await flush(FLUSH_MS);
      await results?.close();
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
