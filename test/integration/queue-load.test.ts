// 200 series through the whole flow on two worker processes: none lost, no stage run twice, every
// outcome stored once.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { queueConfig } from '../../src/queue/config.js';
import { STAGES } from '../../src/queue/names.js';
import { createPipeline, type Pipeline } from '../../src/queue/pipeline.js';
import { parseSettings } from '../../src/settings/load.js';
import { readCounters } from '../helpers/test-stages.js';
import { createQueueEnv, fakeSeries, storeSeries, waitFor, type QueueEnv } from '../helpers/queue-env.js';

let env: QueueEnv;
let pipeline: Pipeline;

const N = 200;

beforeEach(async () => {
  env = await createQueueEnv('load', { concurrency: { apply: 4, build: 4, gate: 4, report: 8 } });
  pipeline = createPipeline({ config: queueConfig(parseSettings(env.settings)), db: env.db });
});

afterEach(async () => {
  await pipeline.close();
  await env.cleanup();
});

describe('many series', { timeout: 300_000 }, () => {
  it(`${N} series through the flow on two worker processes: none lost, none run twice`, async () => {
    const ids = Array.from({ length: N }, (_, i) => `load-${String(i).padStart(3, '0')}`);
    storeSeries(env.db, ids.map((id) => fakeSeries(id)));
    const sleep = { PATCHGATE_TEST_SLEEP: 'apply:5,build:5,gate:5,report:5' };
    const a = env.spawnCliWorker('apply,build,gate,report', sleep);
    const b = env.spawnCliWorker('apply,build,gate,report', sleep);
    await waitFor('two workers', async () => (env.checkChildren(), await pipeline.queues.report.getWorkersCount()) >= 2, 60_000, 200);

    const added = await Promise.all(ids.map((id) => pipeline.enqueue(id, 1)));
    expect(added.every((r) => r === 'added')).toBe(true);
    // the same events again while the flows run: nothing new
    const again = await Promise.all(ids.slice(0, 50).map((id) => pipeline.enqueue(id, 1)));
    expect(again.every((r) => r === 'exists' || r === 'done')).toBe(true);

    const count = env.db.prepare(`SELECT count(*) FROM runs WHERE state = 'done'`).pluck();
    await waitFor(`${N} runs done`, () => count.get() === N, 240_000, 250);

    const c = await readCounters(env.url, env.counters);
    for (const id of ids) {
      for (const stage of STAGES) {
        expect(c.start[`${stage}|${id}|v1`], `${stage} ${id} started`).toBe(1);
        expect(c.finish[`${stage}|${id}|v1`], `${stage} ${id} finished`).toBe(1);
      }
    }
    expect(c.events.filter((e) => e.event === 'start')).toHaveLength(N * STAGES.length);
    const pids = new Set(c.events.map((e) => e.pid));
    expect(pids).toEqual(new Set([a.pid, b.pid])); // both processes took work
    expect(env.db.prepare(`SELECT count(*) FROM outcomes`).pluck().get()).toBe(N * STAGES.length);
    expect(env.db.prepare(`SELECT count(*) FROM runs WHERE verdict = 'success'`).pluck().get()).toBe(N);
  });
});
