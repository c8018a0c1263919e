import { describe, expect, it } from 'vitest';
import { compare } from '../../../src/gates/perf/stats.js';
import {
  finishBisection, finishHeadRun, getBisection, metricHistory, previousHeadRun, runSamples, saveChange, saveSamples, startBisection, startHeadRun,
} from '../../../src/heads/store.js';
import { openDb } from '../../../src/store/db.js';

describe('heads store', () => {
  it('keeps every sample with its commit, finds the previous successful run, and builds the history', () => {
    const db = openDb(':memory:');
    const r1 = startHeadRun(db, { tree: 'net', commit: 'a'.repeat(40), branch: 'main', trigger: 'schedule', accel: 'tcg' });
    saveSamples(db, r1, 'a'.repeat(40), { tcp_rr_cost_per_trans: [10, 11, 12], tcp_stream_cost_per_kb: [5, 6] });
    finishHeadRun(db, r1, 'success', null, {});
    const failed = startHeadRun(db, { tree: 'net', commit: 'b'.repeat(40), branch: 'main', trigger: 'cli', accel: null });
    finishHeadRun(db, failed, 'failure', 'does not build', {});
    const r3 = startHeadRun(db, { tree: 'net', commit: 'c'.repeat(40), branch: 'main', trigger: 'schedule', accel: 'tcg' });
    saveSamples(db, r3, 'c'.repeat(40), { tcp_rr_cost_per_trans: [20, 22, 21, 23] });
    finishHeadRun(db, r3, 'success', null, {});
    startHeadRun(db, { tree: 'other', commit: 'd'.repeat(40), branch: 'main', trigger: 'schedule', accel: 'tcg' });

    expect(runSamples(db, r1)).toEqual({ tcp_rr_cost_per_trans: [10, 11, 12], tcp_stream_cost_per_kb: [5, 6] });
    expect(previousHeadRun(db, 'net', r3)?.id).toBe(r1);
    expect(previousHeadRun(db, 'net', null)?.id).toBe(r3);
    const cells = db.prepare('SELECT DISTINCT cell FROM head_samples ORDER BY cell').pluck().all();
    expect(cells).toEqual(['tcp_rr', 'tcp_stream']);
    const h = metricHistory(db, 'net');
    expect(h.tcp_rr_cost_per_trans.map((p) => [p.run, p.commit[0], p.median, p.n])).toEqual([[r1, 'a', 11, 3], [r3, 'c', 21.5, 4]]);
    expect(h.tcp_stream_cost_per_kb.map((p) => p.run)).toEqual([r1]);

    const c = compare([10, 11, 12], [20, 22, 21, 23], { direction: 'lower-is-better', threshold: 0.003 });
    const id = saveChange(db, { tree: 'net', metric: 'tcp_rr_cost_per_trans', fromRun: r1, toRun: r3, comparison: c });
    expect(saveChange(db, { tree: 'net', metric: 'tcp_rr_cost_per_trans', fromRun: r1, toRun: r3, comparison: c })).toBe(id);
    const b = startBisection(db, { tree: 'net', metric: 'tcp_rr_cost_per_trans', changeId: id, good: 'a'.repeat(40), bad: 'c'.repeat(40) });
    finishBisection(db, b, { state: 'found', culprit: 'e'.repeat(40), subject: 'slow', size: c, steps: 3, retries: 0, bound: 4, range: 12, data: { x: 1 } });
    expect(getBisection(db, b)).toMatchObject({ state: 'found', culprit: 'e'.repeat(40), steps: 3, bound: 4, range_size: 12, change_id: id });
  });
});
