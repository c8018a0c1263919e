// The workers page's view of bullmq: depth of each stage's queue and of the `results` queue (outcomes of
// store-less workers waiting for the store owner's recorder), running jobs, connected workers. Redis is
// optional for the dashboard: without it (or when it does not answer) the page says so and shows the rest.
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { RESULTS_QUEUE, STAGES, queueName } from '../queue/names.js';
import { redactUrl } from '../queue/redis-server.js';
import type { QueuesState, QueueView } from './pages.js';

export interface QueueSource {
  url: string;
  prefix: string;
  /** the stage queues, then the results queue; null while Redis does not answer */
  queues(): Promise<Queue[] | null>;
  close(): Promise<void>;
}

/** A QueueSource whose connection is opened on first use and closed with the server. */
export function queueSource(url: string, prefix: string): QueueSource {
  let redis: Redis | null = null;
  let queues: Queue[] | null = null;
  return {
    url, prefix,
    async queues() {
      if (!redis) {
        redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 1000, enableOfflineQueue: false, retryStrategy: () => 2000 });
        redis.on('error', () => {});
        try {
          await redis.connect();
        } catch {
          redis.disconnect();
          redis = null;
          return null;
        }
        queues = [...STAGES.map(queueName), RESULTS_QUEUE].map((name) => new Queue(name, { connection: redis!, prefix }));
      }
      return redis.status === 'ready' ? queues : null;
    },
    async close() {
      for (const q of queues ?? []) await q.close().catch(() => {});
      redis?.disconnect();
      redis = null;
      queues = null;
    },
  };
}

async function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<T>((_, rej) => { t = setTimeout(() => rej(new Error(`no answer in ${ms} ms`)), ms); })]);
  } finally {
    clearTimeout(t);
  }
}

export async function readQueues(src: QueueSource | null): Promise<QueuesState> {
  if (!src) return { kind: 'none', why: 'Redis is not configured for this dashboard: queue depths and workers are not shown.' };
  try {
    const qs = await within(src.queues(), 2500);
    if (!qs) return { kind: 'down', why: `Redis at ${redactUrl(src.url)} does not answer: queue depths and workers are not shown.` };
    const views: QueueView[] = await within(Promise.all(qs.map(async (q) => {
      const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed');
      const active = (await q.getActive(0, 9)).map((j) => ({ id: j.id ?? '?', name: j.name, progress: j.progress, timestamp: j.processedOn ?? j.timestamp }));
      const workers = await q.getWorkersCount();
      if (q.name !== RESULTS_QUEUE) return { name: q.name, role: 'stage' as const, counts, active, workers };
      // the oldest record still waiting for a recorder (bullmq lists waiting jobs newest first: asc = oldest)
      const oldest = counts.waiting ? (await q.getJobs(['waiting'], 0, 0, true))[0] : undefined;
      return { name: q.name, role: 'results' as const, counts, active, workers, oldestWaiting: oldest?.timestamp ?? null };
    })), 2500);
    return { kind: 'ok', queues: views };
  } catch (err) {
    return { kind: 'down', why: `Redis at ${redactUrl(src.url)}: ${(err as Error).message}` };
  }
}
