// Schedules of HEAD runs: one bullmq job scheduler (a repeatable job kept in Redis, not a timer in a
// process) per configured tree, cron syntax, weekly by default; a manual trigger adds a one-off job to the
// same queue. The worker runs the HEAD run and, for every detected change, the bisection.
import { Queue, Worker, type Job } from 'bullmq';
import { connectionOptions } from '../queue/config.js';
import { logger } from '../log.js';
import type { HeadsSettings } from './settings.js';
import type { HeadTrigger } from './store.js';

export const HEADS_QUEUE = 'heads';
const PREFIX = 'heads-';

export interface HeadJobData {
  tree: string;
  trigger: HeadTrigger;
  /** a commit to measure instead of the fetched branch HEAD */
  commit?: string;
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

/** A one-off HEAD run now (CLI, dashboard, mail command). */
export async function triggerHeadRun(queue: Queue<HeadJobData>, tree: string, trigger: HeadTrigger, commit?: string): Promise<string> {
  const job = await queue.add('head-run', { tree, trigger, ...(commit ? { commit } : {}) }, { removeOnComplete: 100, removeOnFail: 100 });
  return job.id!;
}

/** The worker of the heads queue; PROCESS runs one HEAD run job (run.ts in production, a stub in tests). */
export function startHeadsWorker(url: string, prefix: string, process: (job: Job<HeadJobData>) => Promise<unknown>, opts: { lockDurationMs?: number } = {}): Worker<HeadJobData> {
  return new Worker<HeadJobData>(HEADS_QUEUE, process, {
    connection: connectionOptions(url), prefix, concurrency: 1, lockDuration: opts.lockDurationMs ?? 60_000,
  });
}
