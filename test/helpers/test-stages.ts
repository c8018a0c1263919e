// Stage processors for the queue tests: each one counts its executions in Redis, sleeps (stopping at once
// when its AbortSignal fires) and returns success. Loaded in-process with createTestStages(), or by a
// worker process through PATCHGATE_STAGE_MODULES=test/helpers/test-stages.ts, configured by:
//   PATCHGATE_TEST_COUNTERS  Redis key prefix of the counters (required)
//   PATCHGATE_TEST_SLEEP     sleep in ms per stage, or per stage and revision: "apply:3000,apply@v2:10,build:5"
//                            (default 20)
//   REDIS_URL                where the counters live
import { Redis } from 'ioredis';
import { STAGES, type Stage } from '../../src/queue/names.js';
import { onRegistryClose, type StageProcessor, type StageRegistry } from '../../src/queue/registry.js';

export interface TestStagesOptions {
  redisUrl: string;
  counters: string;
  /** keys `apply` or `apply@v2` */
  sleepMs: Record<string, number>;
}

export interface CounterEvent {
  event: 'start' | 'finish' | 'abort';
  stage: Stage;
  series: string;
  version: number;
  worker: string;
  pid: number;
}

export function parseSleep(spec: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of (spec ?? '').split(',').filter(Boolean)) {
    const [key, ms] = part.split(':');
    out[key] = Number(ms);
  }
  return out;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    function onAbort() {
      clearTimeout(t);
      reject(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
    }
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export function createTestStages(registry: StageRegistry, opts: TestStagesOptions): { close(): void } {
  const redis = new Redis(opts.redisUrl, { maxRetriesPerRequest: null });
  redis.on('error', () => {});
  const key = (stage: Stage, series: string, version: number) => `${stage}|${series}|v${version}`;
  async function note(e: CounterEvent): Promise<void> {
    await redis.multi()
      .hincrby(`${opts.counters}:${e.event}`, key(e.stage, e.series, e.version), 1)
      .rpush(`${opts.counters}:events`, JSON.stringify(e))
      .exec();
  }
  for (const stage of STAGES) {
    const processor: StageProcessor = async (ctx) => {
      const base = { stage, series: ctx.seriesId, version: ctx.version, worker: ctx.workerId, pid: process.pid };
      await note({ event: 'start', ...base });
      try {
        await sleep(opts.sleepMs[`${stage}@v${ctx.version}`] ?? opts.sleepMs[stage] ?? 20, ctx.signal);
      } catch (err) {
        await note({ event: 'abort', ...base });
        throw err;
      }
      await note({ event: 'finish', ...base });
      const data: Record<string, unknown> = { worker: ctx.workerId, pid: process.pid };
      if (stage === 'apply') Object.assign(data, { tree: { name: 'test', reason: 'test stage' }, apply: [], branch: null });
      return { status: 'success', summary: `${stage} ran in ${ctx.workerId}`, data };
    };
    registry.set(stage, processor);
  }
  return { close: () => redis.disconnect() };
}

/** Stage-module entry for worker processes (PATCHGATE_STAGE_MODULES). */
export function registerStages(registry: StageRegistry): void {
  const counters = process.env.PATCHGATE_TEST_COUNTERS;
  const redisUrl = process.env.REDIS_URL;
  if (!counters || !redisUrl) throw new Error('test stages need PATCHGATE_TEST_COUNTERS and REDIS_URL');
  const stages = createTestStages(registry, { redisUrl, counters, sleepMs: parseSleep(process.env.PATCHGATE_TEST_SLEEP) });
  onRegistryClose(registry, () => stages.close());
}

/** Counter helpers for the test side. */
export async function readCounters(redisUrl: string, counters: string): Promise<{ start: Record<string, number>; finish: Record<string, number>; abort: Record<string, number>; events: CounterEvent[] }> {
  const r = new Redis(redisUrl, { maxRetriesPerRequest: null });
  try {
    const num = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Number(v)]));
    const [start, finish, abort, events] = await Promise.all([
      r.hgetall(`${counters}:start`), r.hgetall(`${counters}:finish`), r.hgetall(`${counters}:abort`), r.lrange(`${counters}:events`, 0, -1),
    ]);
    return { start: num(start), finish: num(finish), abort: num(abort), events: events.map((e) => JSON.parse(e) as CounterEvent) };
  } finally {
    r.disconnect();
  }
}
