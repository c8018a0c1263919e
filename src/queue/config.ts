// Queue settings: redis.url / redis.prefix from the shared schema, plus an optional `queue:` section
// (passthrough keys of the config file):
//
//   queue: { attempts: 5, backoff_ms: 5000, lock_duration_ms: 30000, stalled_interval_ms: 30000,
//            concurrency: { apply: 1, build: 1, gate: 1, report: 4 } }
import { z } from 'zod';
import type { Settings } from '../settings/schema.js';
import type { Stage } from './names.js';

export const queueSettingsSchema = z.object({
  attempts: z.number().int().positive().default(5),
  backoff_ms: z.number().int().positive().default(5000),
  lock_duration_ms: z.number().int().positive().default(30_000),
  stalled_interval_ms: z.number().int().positive().default(30_000),
  max_stalled_count: z.number().int().nonnegative().default(1),
  concurrency: z.object({
    apply: z.number().int().positive().default(1),
    build: z.number().int().positive().default(1),
    gate: z.number().int().positive().default(1),
    report: z.number().int().positive().default(4),
  }).default({ apply: 1, build: 1, gate: 1, report: 4 }),
}).default({
  attempts: 5, backoff_ms: 5000, lock_duration_ms: 30_000, stalled_interval_ms: 30_000, max_stalled_count: 1,
  concurrency: { apply: 1, build: 1, gate: 1, report: 4 },
});
export type QueueSettings = z.infer<typeof queueSettingsSchema>;

export interface QueueConfig extends QueueSettings {
  url: string;
  prefix: string;
  concurrency: Record<Stage, number>;
}

export function queueConfig(settings: Settings): QueueConfig {
  const parsed = queueSettingsSchema.safeParse((settings as Record<string, unknown>).queue);
  if (!parsed.success) {
    throw new Error(`invalid queue settings: ${parsed.error.issues.map((i) => `queue.${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return { ...parsed.data, url: settings.redis.url, prefix: settings.redis.prefix };
}

/** bullmq connection options: workers block on Redis, so no per-request retry limit. */
export function connectionOptions(url: string): { url: string; maxRetriesPerRequest: null; enableReadyCheck: boolean } {
  return { url, maxRetriesPerRequest: null, enableReadyCheck: true };
}

/** Redis keys of the pipeline's own, beside bullmq's `<prefix>:<queue>:*`. */
export function cancelChannel(prefix: string): string {
  return `${prefix}:pipeline:cancel`;
}

export function cancelKey(prefix: string, encodedRevision: string): string {
  return `${prefix}:pipeline:cancelled:${encodedRevision}`;
}
