// Source health: every poll is recorded; a source that yields nothing new for longer than its
// `quiet_after` window is marked quiet (Patchew's importer was down for days before anyone noticed),
// a failing one failing. The row is what the dashboard shows; the transition is logged as a warning.
import type { Db } from '../store/db.js';

export type SourceState = 'ok' | 'quiet' | 'failing';

export interface SourceHealth {
  source: string;
  type: string;
  state: SourceState;
  detail: string | null;
  failures: number;
  polls: number;
  messages: number;
  last_poll_at: string | null;
  last_ok_at: string | null;
  last_new_at: string | null;
  quiet_after_s: number | null;
}

export type PollOutcome = { ok: true; inserted: number } | { ok: false; error: string };

export interface HealthChange {
  health: SourceHealth;
  /** the state before this poll (null for a source polled for the first time) */
  previous: SourceState | null;
}

export function getSourceHealth(db: Db, source: string): SourceHealth | null {
  return (db.prepare('SELECT * FROM source_health WHERE source = ?').get(source) as SourceHealth | undefined) ?? null;
}

export function listSourceHealth(db: Db): SourceHealth[] {
  return db.prepare('SELECT * FROM source_health ORDER BY source').all() as SourceHealth[];
}

function quietDetail(sinceIso: string, quietAfterMs: number): string {
  return `nothing new since ${sinceIso} (quiet_after ${Math.round(quietAfterMs / 1000)} s)`;
}

/** Records one poll and returns the new health with the state it had before. */
export function recordPoll(db: Db, source: string, type: string, outcome: PollOutcome, quietAfterMs: number, now: Date = new Date()): HealthChange {
  const nowIso = now.toISOString();
  return db.transaction((): HealthChange => {
    const before = getSourceHealth(db, source);
    const previous = before?.state ?? null;
    const h: SourceHealth = before ? { ...before } : {
      source, type, state: 'ok', detail: null, failures: 0, polls: 0, messages: 0,
      last_poll_at: null, last_ok_at: null, last_new_at: nowIso, quiet_after_s: null,
    };
    h.type = type;
    h.polls += 1;
    h.last_poll_at = nowIso;
    h.quiet_after_s = quietAfterMs / 1000;
    if (outcome.ok) {
      h.failures = 0;
      h.last_ok_at = nowIso;
      if (outcome.inserted > 0) {
        h.messages += outcome.inserted;
        h.last_new_at = nowIso;
      }
    } else {
      h.failures += 1;
    }
    const silentFor = now.getTime() - Date.parse(h.last_new_at ?? nowIso);
    if (!outcome.ok) {
      h.state = 'failing';
      h.detail = outcome.error;
    } else if (silentFor > quietAfterMs) {
      h.state = 'quiet';
      h.detail = quietDetail(h.last_new_at ?? nowIso, quietAfterMs);
    } else {
      h.state = 'ok';
      h.detail = null;
    }
    db.prepare(`INSERT INTO source_health (source, type, state, detail, failures, polls, messages, last_poll_at, last_ok_at, last_new_at, quiet_after_s)
        VALUES (@source, @type, @state, @detail, @failures, @polls, @messages, @last_poll_at, @last_ok_at, @last_new_at, @quiet_after_s)
        ON CONFLICT (source) DO UPDATE SET type = excluded.type, state = excluded.state, detail = excluded.detail,
          failures = excluded.failures, polls = excluded.polls, messages = excluded.messages,
          last_poll_at = excluded.last_poll_at, last_ok_at = excluded.last_ok_at, last_new_at = excluded.last_new_at,
          quiet_after_s = excluded.quiet_after_s, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')`).run(h);
    return { health: h, previous };
  })();
}
