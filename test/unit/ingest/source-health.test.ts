import { describe, expect, it } from 'vitest';
import { getSourceHealth, recordPoll } from '../../../src/ingest/source-health.js';
import { durationMs } from '../../../src/ingest/source-kit.js';
import { openDb } from '../../../src/store/db.js';

const H = 3600_000;

describe('recordPoll', () => {
  it('goes quiet past quiet_after without new messages, once, and back to ok when mail arrives', () => {
    const db = openDb(':memory:');
    const t0 = Date.parse('2026-11-01T00:00:00Z');
    const at = (ms: number) => new Date(t0 + ms);
    const first = recordPoll(db, 'kvm', 'public-inbox-http', { ok: true, inserted: 5 }, 24 * H, at(0));
    expect(first.previous).toBeNull();
    expect(first.health).toMatchObject({ state: 'ok', messages: 5, polls: 1, last_new_at: '2026-11-01T00:00:00.000Z' });

    expect(recordPoll(db, 'kvm', 'public-inbox-http', { ok: true, inserted: 0 }, 24 * H, at(23 * H)).health.state).toBe('ok');
    const quiet = recordPoll(db, 'kvm', 'public-inbox-http', { ok: true, inserted: 0 }, 24 * H, at(25 * H));
    expect(quiet.previous).toBe('ok');
    expect(quiet.health.state).toBe('quiet');
    expect(quiet.health.detail).toBe('nothing new since 2026-11-01T00:00:00.000Z (quiet_after 86400 s)');
    // still quiet: the transition is reported once (previous is quiet now)
    expect(recordPoll(db, 'kvm', 'public-inbox-http', { ok: true, inserted: 0 }, 24 * H, at(26 * H)).previous).toBe('quiet');

    const back = recordPoll(db, 'kvm', 'public-inbox-http', { ok: true, inserted: 2 }, 24 * H, at(27 * H));
    expect(back).toMatchObject({ previous: 'quiet', health: { state: 'ok', messages: 7, detail: null } });
    expect(getSourceHealth(db, 'kvm')).toMatchObject({ state: 'ok', polls: 5, messages: 7 });
  });

  it('a source polled for the first time starts its silence window then', () => {
    const db = openDb(':memory:');
    const t0 = Date.parse('2026-11-01T00:00:00Z');
    expect(recordPoll(db, 'gh', 'github', { ok: true, inserted: 0 }, H, new Date(t0)).health.state).toBe('ok');
    expect(recordPoll(db, 'gh', 'github', { ok: true, inserted: 0 }, H, new Date(t0 + 2 * H)).health.state).toBe('quiet');
  });

  it('failures count up and are the state until a poll succeeds', () => {
    const db = openDb(':memory:');
    recordPoll(db, 'pw', 'patchwork', { ok: true, inserted: 1 }, H);
    const f1 = recordPoll(db, 'pw', 'patchwork', { ok: false, error: 'HTTP 502 after 5 attempts' }, H);
    const f2 = recordPoll(db, 'pw', 'patchwork', { ok: false, error: 'HTTP 504 after 5 attempts' }, H);
    expect(f1.health).toMatchObject({ state: 'failing', failures: 1 });
    expect(f2.health).toMatchObject({ state: 'failing', failures: 2, detail: 'HTTP 504 after 5 attempts' });
    const ok = recordPoll(db, 'pw', 'patchwork', { ok: true, inserted: 0 }, H);
    expect(ok).toMatchObject({ previous: 'failing', health: { state: 'ok', failures: 0 } });
  });
});

describe('durationMs', () => {
  it('reads seconds and unit suffixes', () => {
    expect(durationMs(90, 1)).toBe(90_000);
    expect(durationMs('500ms', 1)).toBe(500);
    expect(durationMs('1.5s', 1)).toBe(1500);
    expect(durationMs('5m', 1)).toBe(300_000);
    expect(durationMs('24h', 1)).toBe(86_400_000);
    expect(durationMs('2d', 1)).toBe(172_800_000);
    expect(durationMs(undefined, 300)).toBe(300_000);
    expect(() => durationMs('soon', 1)).toThrow(/not a duration/);
  });
});
