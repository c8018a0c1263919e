import { describe, expect, it } from 'vitest';
import { cellHealth, recordAttempts, retryOnce } from '../../../src/heads/flaky.js';
import { openDb } from '../../../src/store/db.js';

describe('flakiness bookkeeping', () => {
  it('retries a failure once, and not a success', async () => {
    let n = 0;
    const a = await retryOnce(async () => {
      n++;
      if (n === 1) throw new Error('guest pair failed (exit 1)\nlong log');
      return 'ok';
    });
    expect(a).toEqual([{ status: 'failure', detail: 'guest pair failed (exit 1)' }, { status: 'success', value: 'ok' }]);
    expect(await retryOnce(async () => 1)).toEqual([{ status: 'success', value: 1 }]);
    const bad = await retryOnce(async () => ({ ok: false }), (v) => (v.ok ? null : 'check failed'));
    expect(bad.map((x) => x.status)).toEqual(['failure', 'failure']);
  });

  it('keeps streaks, marks intermittent cells flaky and a new steady failure failing', () => {
    const db = openDb(':memory:');
    const s = (x: string) => (x === 'P' ? [{ status: 'success' as const }] : x === 'R' ? [{ status: 'failure' as const }, { status: 'success' as const }] : [{ status: 'failure' as const }, { status: 'failure' as const }]);
    const history: Record<string, string> = { hotplug: 'PPPPFF', 'vlan-filter': 'PPRPP', migration: 'PFPPFP', 'mac-filter': 'PPPP', 'qos-cgroup': 'FFPP', 'file-copy-to-guest': 'PPFPP' };
    for (const [cell, seq] of Object.entries(history)) {
      [...seq].forEach((x, i) => recordAttempts(db, { tree: 'net', cell, runId: i + 1, commit: `c${i}`, attempts: s(x) }));
    }
    const h = Object.fromEntries(cellHealth(db, 'net').map((c) => [c.cell, c]));
    expect(h.hotplug).toMatchObject({ state: 'failing', streak: { outcome: 'fail', length: 2 } });
    expect(h['vlan-filter']).toMatchObject({ state: 'flaky', streak: { outcome: 'pass', length: 5 } });
    expect(h.migration.state).toBe('flaky');
    expect(h['mac-filter']).toMatchObject({ state: 'passing', streak: { outcome: 'pass', length: 4 } });
    // one failure between passes is intermittent; a streak of failures that ended was fixed
    expect(h['file-copy-to-guest'].state).toBe('flaky');
    expect(h['qos-cgroup']).toMatchObject({ state: 'passing', streak: { outcome: 'pass', length: 2 } });
    expect(h.hotplug.outcomes.map((o) => o.outcome)).toEqual(['pass', 'pass', 'pass', 'pass', 'fail', 'fail']);
    // outside the window only the last runs count
    expect(cellHealth(db, 'net', 2).find((c) => c.cell === 'file-copy-to-guest')!.state).toBe('passing');
  });
});
