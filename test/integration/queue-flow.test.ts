// The flow on a real Redis with in-process workers: stage order, children's results reaching the parent,
// outcomes vs. infrastructure faults, idempotent enqueue.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UnrecoverableError } from 'bullmq';
import { queueConfig } from '../../src/queue/config.js';
import { jobId, STAGES, type Stage } from '../../src/queue/names.js';
import { createPipeline, type Pipeline } from '../../src/queue/pipeline.js';
import { createRegistry, type StageContext, type StageRegistry } from '../../src/queue/registry.js';
import type { StageOutcome } from '../../src/queue/schemas.js';
import { startWorkers, type WorkerHandle } from '../../src/queue/worker.js';
import { parseSettings } from '../../src/settings/load.js';
import { getRun, listOutcomes } from '../../src/store/runs.js';
import { createQueueEnv, fakeSeries, storeSeries, waitFor, type QueueEnv } from '../helpers/queue-env.js';

let env: QueueEnv;
let pipeline: Pipeline;
let workers: WorkerHandle | null;

beforeEach(async () => {
  env = await createQueueEnv('flow');
  workers = null;
});

afterEach(async () => {
  await workers?.close();
  await pipeline?.close();
  await env.cleanup();
});

async function start(registry: StageRegistry): Promise<void> {
  const settings = parseSettings(env.settings);
  const config = queueConfig(settings);
  pipeline = createPipeline({ config, db: env.db });
  workers = await startWorkers({ config, stages: [...STAGES], registry, settings, db: env.db });
  await workers.ready();
}

function finished(ids: string[]) {
  return () => ids.every((id) => ['done', 'cancelled'].includes(getRun(env.db, id, 1)?.state ?? ''));
}

describe('pipeline flow', () => {
  it('runs apply → build → gate → report in order, each parent reading its children', async () => {
    const seen: { stage: Stage; previous: string[]; series: string }[] = [];
    const registry = createRegistry();
    for (const stage of STAGES) {
      registry.set(stage, async (ctx: StageContext): Promise<StageOutcome> => {
        seen.push({ stage, previous: Object.keys(ctx.previous).sort(), series: ctx.series.id });
        const data: Record<string, unknown> = stage === 'apply'
          ? { tree: { name: 'net-next', reason: 'marked for net-next' }, apply: [], branch: `patchgate/${ctx.seriesId}/v1` }
          : { from: Object.values(ctx.previous).map((o) => o?.summary) };
        return { status: 'success', summary: `${stage} ok`, data };
      });
    }
    storeSeries(env.db, [fakeSeries('a'), fakeSeries('b')]);
    await start(registry);
    expect(await pipeline.enqueue('a', 1)).toBe('added');
    expect(await pipeline.enqueue('b', 1)).toBe('added');
    await waitFor('both runs', finished(['a', 'b']));

    for (const id of ['a', 'b']) {
      const order = seen.filter((s) => s.series === id);
      expect(order.map((s) => s.stage)).toEqual(['apply', 'build', 'gate', 'report']);
      expect(order.map((s) => s.previous)).toEqual([[], ['apply'], ['apply', 'build'], ['apply', 'build', 'gate']]);
      const run = getRun(env.db, id, 1)!;
      expect(run).toMatchObject({ state: 'done', verdict: 'success', tree: 'net-next', tree_reason: 'marked for net-next', branch: `patchgate/${id}/v1` });
      const outcomes = listOutcomes(env.db, id, 1);
      expect(outcomes.map((o) => o.stage)).toEqual(['apply', 'build', 'gate', 'report']);
      expect(outcomes.find((o) => o.stage === 'report')!.data.from).toEqual(['apply ok', 'build ok', 'gate ok']);
    }
    // a repeated event for a finished revision adds nothing
    expect(await pipeline.enqueue('a', 1)).toBe('done');
    expect(seen.length).toBe(8);
  });

  it('a conflict is an outcome: build and gates skip, the report still runs, the verdict is conflict', async () => {
    const ran: Stage[] = [];
    const registry = createRegistry();
    registry.set('apply', async () => { ran.push('apply'); return { status: 'conflict', summary: 'patch 1 conflicts in drivers/net/tun.c', data: { tree: null, apply: [], branch: null } }; });
    registry.set('build', async () => { ran.push('build'); return { status: 'success', summary: '', data: {} }; });
    registry.set('report', async (ctx) => { ran.push('report'); return { status: 'success', summary: `reported ${ctx.previous.apply?.status}`, data: { reply: null } }; });
    storeSeries(env.db, [fakeSeries('c')]);
    await start(registry);
    await pipeline.enqueue('c', 1);
    await waitFor('run', finished(['c']));
    expect(ran).toEqual(['apply', 'report']);
    const byStage = Object.fromEntries(listOutcomes(env.db, 'c', 1).map((o) => [o.stage, o]));
    expect(byStage.build.status).toBe('skipped');
    expect(byStage.build.summary).toMatch(/apply: conflict/);
    expect(byStage.gate.status).toBe('skipped'); // no gate stage registered: skipped and marked unavailable
    expect(byStage.gate.data.unavailable).toBe(true);
    expect(byStage.report.summary).toBe('reported conflict');
    expect(getRun(env.db, 'c', 1)).toMatchObject({ state: 'done', verdict: 'conflict' });
    // bullmq saw no failure: the conflict completed the job on its first attempt
    const job = await pipeline.queues.apply.getJob(jobId('apply', 'c', 1));
    expect(job?.failedReason).toBeFalsy();
    expect(job?.attemptsStarted).toBe(1);
  });

  it('retries infrastructure faults with backoff, fails permanent ones at once', async () => {
    let applyCalls = 0;
    let buildCalls = 0;
    const registry = createRegistry();
    registry.set('apply', async (ctx) => {
      applyCalls++;
      if (applyCalls < 3) throw new Error('git fetch: connection reset');
      return { status: 'success', summary: 'applied', data: { tree: null, apply: [], branch: null, series: ctx.seriesId } };
    });
    registry.set('build', async () => { buildCalls++; throw new UnrecoverableError('no compiler for this tree'); });
    let gateCalls = 0;
    registry.set('gate', async () => { gateCalls++; return { status: 'success', summary: '', data: { gates: [] } }; });
    storeSeries(env.db, [fakeSeries('d')]);
    await start(registry);
    await pipeline.enqueue('d', 1, { until: 'gates' });
    await waitFor('run', finished(['d']));
    expect(applyCalls).toBe(3); // attempts: 3 in the test config
    expect(buildCalls).toBe(1);
    expect(gateCalls).toBe(0);
    const byStage = Object.fromEntries(listOutcomes(env.db, 'd', 1).map((o) => [o.stage, o]));
    expect(byStage.apply.status).toBe('success');
    expect(byStage.build).toMatchObject({ status: 'failure', summary: 'infrastructure: no compiler for this tree' });
    expect(byStage.build.data.infrastructure).toBe(true);
    expect(byStage.gate.summary).toMatch(/not run: build: failure/);
    expect(getRun(env.db, 'd', 1)).toMatchObject({ state: 'done', verdict: 'failure', last_stage: 'gate' });
    expect(byStage.report).toBeUndefined(); // --until gates
  });

  it('a stage that keeps failing ends as an infrastructure failure; the later stages still report it', async () => {
    let calls = 0;
    let reported: string | undefined;
    const registry = createRegistry();
    registry.set('apply', async () => { calls++; throw new Error('mirror fetch: network unreachable'); });
    registry.set('report', async (ctx) => { reported = ctx.previous.apply?.summary; return { status: 'success', summary: 'reported', data: { reply: null } }; });
    storeSeries(env.db, [fakeSeries('f')]);
    await start(registry);
    await pipeline.enqueue('f', 1);
    await waitFor('run', finished(['f']));
    expect(calls).toBe(3);
    expect(reported).toBe('infrastructure: mirror fetch: network unreachable');
    const byStage = Object.fromEntries(listOutcomes(env.db, 'f', 1).map((o) => [o.stage, o]));
    expect(byStage.apply).toMatchObject({ status: 'failure' });
    expect(byStage.build.status).toBe('skipped');
    expect(getRun(env.db, 'f', 1)).toMatchObject({ state: 'done', verdict: 'failure' });
  });

  it('a retried stage resumes from the state its earlier attempt saved', async () => {
    const resumed: (Record<string, unknown> | null)[] = [];
    const registry = createRegistry();
    registry.set('apply', async (ctx) => {
      resumed.push(ctx.resume);
      if (!ctx.resume) {
        await ctx.saveState({ applied: 2 });
        throw new Error('worker lost its checkout');
      }
      return { status: 'success', summary: `resumed after ${ctx.resume.applied}`, data: { tree: null, apply: [], branch: null } };
    });
    storeSeries(env.db, [fakeSeries('r')]);
    await start(registry);
    await pipeline.enqueue('r', 1, { until: 'apply' });
    await waitFor('run', finished(['r']));
    expect(resumed).toEqual([null, { applied: 2 }]);
    expect(listOutcomes(env.db, 'r', 1)[0]).toMatchObject({ stage: 'apply', status: 'success', summary: 'resumed after 2' });
  });

  it('job ids are deterministic and free of colons', () => {
    expect(jobId('apply', 'net-next:20260101-foo', 2)).toBe('apply-net-next%3A20260101-foo-v2');
    expect(jobId('build', 'abc', 1)).toBe('build-abc-v1');
  });
});
