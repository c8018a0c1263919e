// A new revision cancels the old one: a running v1 job gets its AbortSignal fired in another process and
// the rest of v1's flow never runs; a v1 flow still waiting is removed from Redis.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { queueConfig } from '../../src/queue/config.js';
import { jobId } from '../../src/queue/names.js';
import { createPipeline, type Pipeline } from '../../src/queue/pipeline.js';
import { parseSettings } from '../../src/settings/load.js';
import { getRun, listOutcomes } from '../../src/store/runs.js';
import { readCounters } from '../helpers/test-stages.js';
import { createQueueEnv, fakeSeries, storeSeries, waitFor, type QueueEnv } from '../helpers/queue-env.js';

let env: QueueEnv;
let pipeline: Pipeline;

beforeEach(async () => {
  env = await createQueueEnv('cancel');
  pipeline = createPipeline({ config: queueConfig(parseSettings(env.settings)), db: env.db });
});

afterEach(async () => {
  await pipeline.close();
  await env.cleanup();
});

describe('cancellation by a new revision', { timeout: 120_000 }, () => {
  it('v2 arriving while v1 builds cancels v1 in its worker process; v2 runs to the end', async () => {
    const v1 = fakeSeries('foo-v1', 1);
    const v2 = fakeSeries('foo-v2', 2, 'foo-v1');
    storeSeries(env.db, [v1, v2]);
    // v1's build is long, v2's is short
    env.spawnCliWorker('apply,build,gate,report', { PATCHGATE_TEST_SLEEP: 'build:20000,build@v2:20' });
    await waitFor('worker', async () => (env.checkChildren(), await pipeline.queues.build.getWorkersCount()) >= 1, 60_000, 200);

    expect(await pipeline.enqueueSeries(v1)).toBe('added');
    await waitFor('v1 build to start', async () => (await readCounters(env.url, env.counters)).start['build|foo-v1|v1']);
    expect(await pipeline.enqueueSeries(v2)).toBe('added');

    await waitFor('v2 done', () => getRun(env.db, 'foo-v2', 2)?.state === 'done', 60_000);
    // the rest of v1's flow either skips itself (cancel key) or is removed while it waits: both end it
    const v1States = () => Promise.all((['apply', 'build', 'gate', 'report'] as const).map((st) => pipeline.queues[st].getJobState(jobId(st, 'foo-v1', 1))));
    await waitFor('v1 flow drained', async () => (await v1States()).every((st) => st === 'completed' || st === 'unknown'), 30_000)
      .catch(async (err) => {
        throw new Error(`${(err as Error).message}: ${(await v1States()).join(', ')}\n${JSON.stringify(await readCounters(env.url, env.counters))}`);
      });
    const c = await readCounters(env.url, env.counters);
    expect(c.abort['build|foo-v1|v1']).toBe(1);
    expect(c.finish['build|foo-v1|v1']).toBeUndefined();
    expect(c.start['gate|foo-v1|v1']).toBeUndefined();
    expect(c.start['report|foo-v1|v1']).toBeUndefined();
    for (const stage of ['apply', 'build', 'gate', 'report']) expect(c.finish[`${stage}|foo-v2|v2`]).toBe(1);

    expect(getRun(env.db, 'foo-v1', 1)).toMatchObject({ state: 'cancelled', detail: 'superseded by foo-v2 v2' });
    const v1Outcomes = Object.fromEntries(listOutcomes(env.db, 'foo-v1', 1).map((o) => [o.stage, o]));
    expect(v1Outcomes.apply.status).toBe('success');
    expect(v1Outcomes.build).toMatchObject({ status: 'skipped', summary: 'cancelled: superseded by foo-v2 v2' });
    expect(getRun(env.db, 'foo-v2', 2)).toMatchObject({ state: 'done', verdict: 'success' });
  });

  it('a waiting flow of the old revision is removed before it starts', async () => {
    const busy = fakeSeries('busy', 1);
    const v1 = fakeSeries('bar-v1', 1);
    const v2 = fakeSeries('bar-v2', 2, 'bar-v1');
    storeSeries(env.db, [busy, v1, v2]);
    // one apply slot, held by `busy` for a while: bar v1 waits behind it
    env.spawnCliWorker('apply,build,gate,report', { PATCHGATE_TEST_SLEEP: 'apply@v1:1500' });
    await waitFor('worker', async () => (env.checkChildren(), await pipeline.queues.apply.getWorkersCount()) >= 1, 60_000, 200);
    await pipeline.enqueueSeries(busy);
    await waitFor('busy apply to start', async () => (await readCounters(env.url, env.counters)).start['apply|busy|v1']);
    await pipeline.enqueueSeries(v1);
    expect(await pipeline.queues.apply.getJobState(jobId('apply', 'bar-v1', 1))).toBe('waiting');
    await pipeline.enqueueSeries(v2);
    expect(await pipeline.queues.apply.getJob(jobId('apply', 'bar-v1', 1))).toBeUndefined();
    expect(await pipeline.queues.report.getJob(jobId('report', 'bar-v1', 1))).toBeUndefined();

    await waitFor('v2 and busy done', () => getRun(env.db, 'bar-v2', 2)?.state === 'done' && getRun(env.db, 'busy', 1)?.state === 'done', 60_000);
    const c = await readCounters(env.url, env.counters);
    expect(Object.keys(c.start).filter((k) => k.includes('bar-v1'))).toEqual([]);
    expect(getRun(env.db, 'bar-v1', 1)?.state).toBe('cancelled');
    expect(listOutcomes(env.db, 'bar-v1', 1)).toEqual([]);
  });
});
