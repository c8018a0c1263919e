// Pipeline runs and stage outcomes. Keys are (series, revision[, stage]), and every write is an upsert,
// so a job that runs again after a crash stores nothing twice.
import type { Db } from './db.js';

export type RunState = 'queued' | 'running' | 'done' | 'cancelled';

export interface RunRow {
  series_id: string;
  version: number;
  state: RunState;
  tree: string | null;
  tree_reason: string | null;
  branch: string | null;
  verdict: string | null;
  last_stage: string | null;
  detail: string | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

export interface OutcomeRow {
  series_id: string;
  version: number;
  stage: string;
  status: string;
  summary: string | null;
  data: Record<string, unknown>;
  updated_at: string;
}

export interface StoredOutcome {
  status: string;
  summary: string;
  data: Record<string, unknown>;
}

const NOW = `strftime('%Y-%m-%dT%H:%M:%fZ','now')`;

export function getRun(db: Db, seriesId: string, version: number): RunRow | null {
  return (db.prepare('SELECT * FROM runs WHERE series_id = ? AND version = ?').get(seriesId, version) as RunRow | undefined) ?? null;
}

/** Marks a revision queued for a flow ending with LAST_STAGE (a new request resets a finished run). */
export function queueRun(db: Db, seriesId: string, version: number, lastStage: string): void {
  db.prepare(`INSERT INTO runs (series_id, version, state, last_stage) VALUES (?, ?, 'queued', ?)
              ON CONFLICT (series_id, version) DO UPDATE SET state = 'queued', last_stage = excluded.last_stage,
                verdict = NULL, detail = NULL, finished_at = NULL, updated_at = ${NOW}`).run(seriesId, version, lastStage);
}

/** queued → running (a cancelled or finished run stays as it is). */
export function markRunning(db: Db, seriesId: string, version: number): void {
  db.prepare(`UPDATE runs SET state = 'running', updated_at = ${NOW}
              WHERE series_id = ? AND version = ? AND state = 'queued'`).run(seriesId, version);
}

export function finishRun(db: Db, seriesId: string, version: number, verdict: string, detail: string | null = null): void {
  db.prepare(`UPDATE runs SET state = 'done', verdict = ?, detail = ?, finished_at = ${NOW}, updated_at = ${NOW}
              WHERE series_id = ? AND version = ? AND state != 'cancelled'`).run(verdict, detail, seriesId, version);
}

/** Cancels an unfinished run; returns whether it changed. */
export function cancelRun(db: Db, seriesId: string, version: number, reason: string): boolean {
  const r = db.prepare(`UPDATE runs SET state = 'cancelled', detail = ?, finished_at = ${NOW}, updated_at = ${NOW}
                        WHERE series_id = ? AND version = ? AND state IN ('queued', 'running')`).run(reason, seriesId, version);
  return r.changes > 0;
}

/** Runs of every revision of SERIES_ID other than VERSION that are not finished. */
export function unfinishedRuns(db: Db, seriesIds: string[]): RunRow[] {
  if (seriesIds.length === 0) return [];
  const marks = seriesIds.map(() => '?').join(',');
  return db.prepare(`SELECT * FROM runs WHERE series_id IN (${marks}) AND state IN ('queued', 'running')`).all(...seriesIds) as RunRow[];
}

/**
 * Stores a stage's outcome (upsert on series, revision, stage). The apply stage also fills the run's
 * tree and branch; the gate stage also stores each gate as `gate:<id>`.
 */
export function saveOutcome(db: Db, seriesId: string, version: number, stage: string, outcome: StoredOutcome): void {
  const upsert = db.prepare(`INSERT INTO outcomes (series_id, version, stage, status, summary, data) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (series_id, version, stage) DO UPDATE SET status = excluded.status, summary = excluded.summary,
         data = excluded.data, updated_at = ${NOW}`);
  db.transaction(() => {
    upsert.run(seriesId, version, stage, outcome.status, outcome.summary, JSON.stringify(outcome.data ?? {}));
    if (stage === 'apply') {
      const d = outcome.data as { tree?: { name?: string; reason?: string } | null; branch?: string | null };
      db.prepare(`UPDATE runs SET tree = ?, tree_reason = ?, branch = ?, updated_at = ${NOW} WHERE series_id = ? AND version = ?`)
        .run(d.tree?.name ?? null, d.tree?.reason ?? null, d.branch ?? null, seriesId, version);
    }
    if (stage === 'gate' && Array.isArray((outcome.data as { gates?: unknown }).gates)) {
      for (const g of (outcome.data as { gates: { id: string; status: string; summary?: string }[] }).gates) {
        upsert.run(seriesId, version, `gate:${g.id}`, g.status, g.summary ?? '', JSON.stringify(g));
      }
    }
  })();
}

function toOutcome(r: { status: string; summary: string | null; data: string }): StoredOutcome {
  return { status: r.status, summary: r.summary ?? '', data: JSON.parse(r.data) as Record<string, unknown> };
}

export function getOutcome(db: Db, seriesId: string, version: number, stage: string): StoredOutcome | null {
  const r = db.prepare('SELECT status, summary, data FROM outcomes WHERE series_id = ? AND version = ? AND stage = ?')
    .get(seriesId, version, stage) as { status: string; summary: string | null; data: string } | undefined;
  return r ? toOutcome(r) : null;
}

export function listOutcomes(db: Db, seriesId: string, version: number): OutcomeRow[] {
  const rows = db.prepare('SELECT * FROM outcomes WHERE series_id = ? AND version = ? ORDER BY stage')
    .all(seriesId, version) as (Omit<OutcomeRow, 'data'> & { data: string })[];
  return rows.map((r) => ({ ...r, data: JSON.parse(r.data) as Record<string, unknown> }));
}

/** Forgets a revision's run and outcomes (a foreground `patchgate run` starts from scratch). */
export function resetRun(db: Db, seriesId: string, version: number): void {
  db.transaction(() => {
    db.prepare('DELETE FROM outcomes WHERE series_id = ? AND version = ?').run(seriesId, version);
    db.prepare('DELETE FROM runs WHERE series_id = ? AND version = ?').run(seriesId, version);
  })();
}
