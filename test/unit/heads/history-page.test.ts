import { describe, expect, it } from 'vitest';
import { recordAttempts } from '../../../src/heads/flaky.js';
import { finishBisection, finishHeadRun, saveSamples, startBisection, startHeadRun } from '../../../src/heads/store.js';
import { openDb } from '../../../src/store/db.js';
import { headsIndexPage, headsTreePage } from '../../../src/web/history.js';

describe('HEAD history page', () => {
  it('plots a point per run with its week marked, lists bisections and cell health', () => {
    const db = openDb(':memory:');
    const dates = ['2026-11-02T03:00:00.000Z', '2026-11-09T03:00:00.000Z', '2026-11-16T03:00:00.000Z'];
    dates.forEach((d, i) => {
      const id = startHeadRun(db, { tree: 'net-next', commit: `${i}`.repeat(40), branch: 'main', trigger: 'schedule', accel: 'tcg' });
      db.prepare('UPDATE head_runs SET started_at = ? WHERE id = ?').run(d, id);
      saveSamples(db, id, `${i}`.repeat(40), { tcp_rr_cost_per_trans: [100 + i * 10, 101 + i * 10, 102 + i * 10] });
      finishHeadRun(db, id, 'success', null, {});
      recordAttempts(db, { tree: 'net-next', cell: 'tcp_rr', runId: id, commit: `${i}`.repeat(40), attempts: i === 1 ? [{ status: 'failure' }, { status: 'success' }] : [{ status: 'success' }] });
    });
    const b = startBisection(db, { tree: 'net-next', metric: 'tcp_rr_cost_per_trans', changeId: null, good: '1'.repeat(40), bad: '2'.repeat(40) });
    finishBisection(db, b, { state: 'found', culprit: 'abcdef123456'.padEnd(40, '0'), subject: 'virtio_net: slower', size: { n: 5, m: 4, change: 0.0991, low: 0.09, high: 0.11, p: 0.016, verdict: 'regression' }, steps: 3, retries: 0, bound: 4, range: 12, data: {} });
    const amb = startBisection(db, { tree: 'net-next', metric: 'tcp_rr_cost_per_trans', changeId: null, good: '2'.repeat(40), bad: '3'.repeat(40) });
    finishBisection(db, amb, { state: 'ambiguous', steps: 3, retries: 0, bound: 4, range: 12, data: { candidates: [{ commit: 'e'.repeat(40) }, { commit: 'f'.repeat(40) }] } });
    const html = headsTreePage(db, 'net-next');
    expect(html).toContain('<td>ambiguous</td><td>one of 2: <code>eeeeeeeeeeee</code>..<code>ffffffffffff</code> (skipped commits)</td>');
    expect(html.match(/<g class="point">/g)).toHaveLength(3);
    expect(html.match(/<g class="week">/g)).toHaveLength(3);
    expect(html).toContain('week of 2026-11-09: 111111111111');
    expect(html).toContain('median 111.0 (3 boots');
    expect(html).toContain('abcdef123456');
    expect(html).toContain('+9.91%');
    expect(html).toContain('<tr class="cell-flaky"><td>tcp_rr</td><td>flaky</td>');
    expect(headsIndexPage(db)).toContain('<a href="/heads/net-next">net-next</a></td><td>3</td>');
  });
});
