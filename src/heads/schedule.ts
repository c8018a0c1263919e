// Schedules of HEAD runs: one bullmq job scheduler (a repeatable job kept in Redis, not a timer in a
// process) per configured tree, cron syntax, weekly by default; a manual trigger adds a one-off job to the
// same queue, and so do the dashboard's and the mail commands' triggers (a HEAD run now, or a bisection of
// a detected change or of a range): one queue, one processor (jobs.ts), whatever started the job. The worker
// runs the HEAD run and, for every detected change, the bisection.
import { Queue, Worker, type Job } from 'bullmq';
import { connectionOptions } from '../queue/config.js';
import { logger } from '../log.js';
import type { HeadsSettings } from './settings.js';
import type { HeadTrigger } from './store.js';

export const HEADS_QUEUE = 'heads';
const PREFIX = 'heads-';

/** What a bisection job bisects: a detected change (head_changes id), or a range of the tree with a metric. */
export type BisectRequest = { changeId: number } | { good: string; bad: string; metric?: string | null };

export interface HeadJobData {
  tree: string;
  trigger: HeadTrigger;
  /** a commit to measure instead of the fetched branch HEAD */
  commit?: string;
  /** present: the job is a bisection, not a HEAD run */
  bisect?: BisectRequest;
}

export function schedulerId(tree: string): string {
  return `${PREFIX}${tree}`;
}

export function headsQueue(url: string, prefix: string): Queue<HeadJobData> {
  return new Queue<HeadJobData>(HEADS_QUEUE, { connection: connectionOptions(url), prefix });
}

export interface ScheduleInfo {
  tree: string;
  id: string;
  pattern: string | null;
  tz: string | null;
  next: string | null;
}

/** Makes Redis hold exactly the configured schedules: upserts each enabled tree's, removes the others'. */
export async function syncSchedules(queue: Queue<HeadJobData>, heads: HeadsSettings): Promise<{ upserted: string[]; removed: string[] }> {
  const wanted = heads.trees.filter((t) => t.enabled);
  const upserted: string[] = [];
  for (const t of wanted) {
    await queue.upsertJobScheduler(
      schedulerId(t.tree),
      { pattern: t.schedule.trim(), ...(t.tz ? { tz: t.tz } : {}) },
      { name: 'head-run', data: { tree: t.tree, trigger: 'schedule' }, opts: { removeOnComplete: 100, removeOnFail: 100 } },
    );
    upserted.push(t.tree);
  }
  const keep = new Set(wanted.map((t) => schedulerId(t.tree)));
  const removed: string[] = [];
  for (const s of await queue.getJobSchedulers(0, -1, true)) {
    if (s.key.startsWith(PREFIX) && !keep.has(s.key)) {
      await queue.removeJobScheduler(s.key);
      removed.push(s.key.slice(PREFIX.length));
    }
  }
  logger.child({ module: 'heads/schedule' }).info({ upserted, removed }, 'HEAD run schedules synced');
  return { upserted, removed };
}

export async function listSchedules(queue: Queue<HeadJobData>): Promise<ScheduleInfo[]> {
  const list = await queue.getJobSchedulers(0, -1, true);
  return list.filter((s) => s.key.startsWith(PREFIX)).map((s) => ({
    tree: s.key.slice(PREFIX.length),
    id: s.key,
    pattern: s.pattern ?? null,
    tz: s.tz ?? null,
    next: s.next ? new Date(s.next).toISOString() : null,
  }));
}

/** A one-off HEAD run now (CLI, dashboard, mail command). JOBID makes a repeated trigger (the same mail) add nothing. */
export async function triggerHeadRun(queue: Queue<HeadJobData>, tree: string, trigger: HeadTrigger, commit?: string, jobId?: string): Promise<string> {
  const job = await queue.add('head-run', { tree, trigger, ...(commit ? { commit } : {}) }, { removeOnComplete: 100, removeOnFail: 100, ...(jobId ? { jobId } : {}) });
  return job.id!;
}

/** A bisection job on the heads queue (dashboard, mail command); a detected change's job id is `bisect-change-<id>`. */
export async function triggerBisection(queue: Queue<HeadJobData>, tree: string, trigger: HeadTrigger, request: BisectRequest, jobId?: string): Promise<string> {
  const id = jobId ?? ('changeId' in request ? `bisect-change-${request.changeId}` : undefined);
  const job = await queue.add('bisect', { tree, trigger, bisect: request }, { removeOnComplete: 100, removeOnFail: 100, ...(id ? { jobId: id } : {}) });
  return job.id!;
}

/** What the dashboard and the mail commands use to add jobs to the heads queue. */
export interface HeadsEnqueuer {
  headRun(tree: string, trigger: HeadTrigger, jobId?: string): Promise<string>;
  bisect(tree: string, trigger: HeadTrigger, request: BisectRequest, jobId?: string): Promise<string>;
}

/** An enqueuer on Redis at URL: each call opens the heads queue, adds the job and closes it (triggers are rare). */
export function headsEnqueuer(url: string, prefix: string): HeadsEnqueuer {
  const withQueue = async <T>(f: (q: Queue<HeadJobData>) => Promise<T>): Promise<T> => {
    const q = headsQueue(url, prefix);
    try {
      return await f(q);
    } finally {
      await q.close();
    }
  };
  return {
    headRun: (tree, trigger, jobId) => withQueue((q) => triggerHeadRun(q, tree, trigger, undefined, jobId)),
    bisect: (tree, trigger, request, jobId) => withQueue((q) => triggerBisection(q, tree, trigger, request, jobId)),
  };
}

/** The worker of the heads queue; PROCESS runs one HEAD run job (run.ts in production, a stub in tests). */
export function startHeadsWorker(url: string, prefix: string, process: (job: Job<HeadJobData>) => Promise<unknown>, opts: { lockDurationMs?: number } = {}): Worker<HeadJobData> {
  return new Worker<HeadJobData>(HEADS_QUEUE, process, {
    connection: connectionOptions(url), prefix, concurrency: 1, lockDuration: opts.lockDurationMs ?? 60_000,
  });
}
