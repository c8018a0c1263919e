// Worker processes on a real Redis: separate queues in separate processes, a worker SIGKILLed mid-job
// (the job completes elsewhere exactly once), graceful shutdown on SIGTERM. The workers are child
// processes running the real entries (workers/<stage>.worker.ts, src/cli.ts worker) under tsx, with the
// counting test stages of test/helpers/test-stages.ts.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { queueConfig } from '../../src/queue/config.js';
import { createPipeline, type Pipeline } from '../../src/queue/pipeline.js';
import { parseSettings } from '../../src/settings/load.js';
import { getRun, listOutcomes } from '../../src/store/runs.js';
import { readCounters } from '../helpers/test-stages.js';
import { createQueueEnv, exited, fakeSeries, storeSeries, waitFor, type QueueEnv } from '../helpers/queue-env.js';

let env: QueueEnv;
let pipeline: Pipeline;

beforeEach(async () => {
  env = await createQueueEnv('proc');
  pipeline = createPipeline({ config: queueConfig(parseSettings(env.settings)), db: env.db });
});

afterEach(async () => {
  await pipeline.close();
  await env.cleanup();
});

async function workersOn(queue: 'apply' | 'build' | 'gate' | 'report', n: number): Promise<void> {
  await waitFor(`${n} worker(s) on ${queue}`, async () => (env.checkChildren(), await pipeline.queues[queue].getWorkersCount()) >= n, 60_000, 200);
}

describe('worker processes', { timeout: 120_000 }, () => {
  it('two processes on separate queues share one flow', async () => {
    storeSeries(env.db, [fakeSeries('s1'), fakeSeries('s2'), fakeSeries('s3')]);
    const applyWorker = env.spawnStageWorker('apply');
    const buildWorker = env.spawnStageWorker('build');
    await workersOn('apply', 1);
    await workersOn('build', 1);
    for (const id of ['s1', 's2', 's3']) await pipeline.enqueue(id, 1, { until: 'build' });
    await waitFor('runs done', () => ['s1', 's2', 's3'].every((id) => getRun(env.db, id, 1)?.state === 'done'));

    const { events } = await readCounters(env.url, env.counters);
    const finished = events.filter((e) => e.event === 'finish');
    expect(finished).toHaveLength(6);
    expect(new Set(finished.filter((e) => e.stage === 'apply').map((e) => e.pid))).toEqual(new Set([applyWorker.pid]));
    expect(new Set(finished.filter((e) => e.stage === 'build').map((e) => e.pid))).toEqual(new Set([buildWorker.pid]));
    for (const id of ['s1', 's2', 's3']) {
      expect(listOutcomes(env.db, id, 1).map((o) => o.stage)).toEqual(['apply', 'build']);
      expect(getRun(env.db, id, 1)).toMatchObject({ verdict: 'success', last_stage: 'build' });
    }
  });

  it('a worker SIGKILLed mid-job: the job completes in the other worker, exactly once', async () => {
    storeSeries(env.db, [fakeSeries('k1')]);
    const sleep = { PATCHGATE_TEST_SLEEP: 'apply:3000' };
    const a = env.spawnCliWorker('apply,build,gate,report', sleep);
    const b = env.spawnCliWorker('apply,build,gate,report', sleep);
    await workersOn('apply', 2);
    await pipeline.enqueue('k1', 1);
    const started = await waitFor('apply to start', async () => (await readCounters(env.url, env.counters)).events.find((e) => e.event === 'start'));
    const victim = [a, b].find((c) => c.pid === started.pid)!;
    const survivor = victim === a ? b : a;
    victim.kill('SIGKILL');
    expect((await exited(victim)).signal).toBe('SIGKILL');

    await waitFor('run done', () => getRun(env.db, 'k1', 1)?.state === 'done', 60_000);
    const c = await readCounters(env.url, env.counters);
    expect(c.start['apply|k1|v1']).toBe(2); // once in the killed worker, once after stalled-job recovery
    expect(c.finish['apply|k1|v1']).toBe(1);
    expect(c.events.find((e) => e.event === 'finish' && e.stage === 'apply')!.pid).toBe(survivor.pid);
    for (const stage of ['build', 'gate', 'report']) {
      expect(c.start[`${stage}|k1|v1`]).toBe(1);
      expect(c.finish[`${stage}|k1|v1`]).toBe(1);
    }
    const outcomes = listOutcomes(env.db, 'k1', 1);
    expect(outcomes.map((o) => o.stage)).toEqual(['apply', 'build', 'gate', 'report']);
    expect(outcomes.find((o) => o.stage === 'apply')!.data.pid).toBe(survivor.pid);
    expect(getRun(env.db, 'k1', 1)).toMatchObject({ state: 'done', verdict: 'success' });
  });

  it('SIGTERM closes a worker gracefully: the running job finishes first', async () => {
    storeSeries(env.db, [fakeSeries('g1')]);
    const w = env.spawnCliWorker('apply', { PATCHGATE_TEST_SLEEP: 'apply:1500' });
    await workersOn('apply', 1);
    await pipeline.enqueue('g1', 1, { until: 'apply' });
    await waitFor('apply to start', async () => (await readCounters(env.url, env.counters)).start['apply|g1|v1']);
    w.kill('SIGTERM');
    const { code, signal } = await exited(w);
    expect(signal).toBeNull();
    expect(code).toBe(0);
    const c = await readCounters(env.url, env.counters);
    expect(c.finish['apply|g1|v1']).toBe(1);
    expect(getRun(env.db, 'g1', 1)).toMatchObject({ state: 'done', verdict: 'success' });
  });

  it('a second SIGTERM aborts the running job, which another worker then completes once', async () => {
    storeSeries(env.db, [fakeSeries('h1')]);
    const first = env.spawnCliWorker('apply', { PATCHGATE_TEST_SLEEP: 'apply:20000' });
    await workersOn('apply', 1);
    await pipeline.enqueue('h1', 1, { until: 'apply' });
    await waitFor('apply to start', async () => (await readCounters(env.url, env.counters)).start['apply|h1|v1']);
    first.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    first.kill('SIGTERM');
    expect(await exited(first)).toEqual({ code: 0, signal: null });
    let c = await readCounters(env.url, env.counters);
    expect(c.abort['apply|h1|v1']).toBe(1);
    expect(getRun(env.db, 'h1', 1)?.state).not.toBe('done');

    env.spawnCliWorker('apply', { PATCHGATE_TEST_SLEEP: 'apply:10' });
    await waitFor('run done', () => getRun(env.db, 'h1', 1)?.state === 'done', 60_000);
    c = await readCounters(env.url, env.counters);
    expect(c.start['apply|h1|v1']).toBe(2);
    expect(c.finish['apply|h1|v1']).toBe(1);
    expect(getRun(env.db, 'h1', 1)).toMatchObject({ verdict: 'success' });
  });
});
