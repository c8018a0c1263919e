// The store side of HEAD runs: runs, every sample with its commit, detected changes, bisections, and the
// results of functional cells (flakiness). Tables from migration 9.
import type { Db } from '../store/db.js';
import type { Comparison } from '../gates/perf/stats.js';

export type HeadRunStatus = 'running' | 'success' | 'failure' | 'skipped';
export type HeadTrigger = 'schedule' | 'cli' | 'web' | 'mail' | 'test';

export interface HeadRunRow {
  id: number;
  tree: string;
  commit_id: string;
  branch: string | null;
  trigger: HeadTrigger;
  status: HeadRunStatus;
  accel: string | null;
  note: string | null;
  data: string;
  started_at: string;
  finished_at: string | null;
}

export function startHeadRun(db: Db, r: { tree: string; commit: string; branch: string | null; trigger: HeadTrigger; accel: string | null }): number {
  const info = db.prepare(`INSERT INTO head_runs (tree, commit_id, branch, trigger, status, accel) VALUES (?, ?, ?, ?, 'running', ?)`)
    .run(r.tree, r.commit, r.branch, r.trigger, r.accel);
  return Number(info.lastInsertRowid);
}

/** Stores every sample of a run with the commit it came from; a metric's cell is the prefix before `_cost`. */
export function saveSamples(db: Db, runId: number, commit: string, samples: Record<string, number[]>): void {
  const ins = db.prepare('INSERT OR REPLACE INTO head_samples (run_id, commit_id, cell, metric, boot, value) VALUES (?, ?, ?, ?, ?, ?)');
  db.transaction(() => {
    for (const [metric, values] of Object.entries(samples)) {
      const cell = metric.replace(/_(cost_per_trans|cost_per_kb|trans_s|mbit_s)$/, '');
      values.forEach((v, i) => ins.run(runId, commit, cell, metric, i, v));
    }
  })();
}

export function finishHeadRun(db: Db, id: number, status: HeadRunStatus, note: string | null, data: Record<string, unknown>): void {
  db.prepare(`UPDATE head_runs SET status = ?, note = ?, data = ?, finished_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?`)
    .run(status, note, JSON.stringify(data), id);
}

export function getHeadRun(db: Db, id: number): HeadRunRow | null {
  return (db.prepare('SELECT * FROM head_runs WHERE id = ?').get(id) as HeadRunRow | undefined) ?? null;
}

export function headRuns(db: Db, tree: string, limit = 100): HeadRunRow[] {
  return db.prepare('SELECT * FROM head_runs WHERE tree = ? ORDER BY id DESC LIMIT ?').all(tree, limit) as HeadRunRow[];
}

/** The last successful run of TREE before run BEFORE (any, when BEFORE is null). */
export function previousHeadRun(db: Db, tree: string, before: number | null): HeadRunRow | null {
  const row = db.prepare(`SELECT * FROM head_runs WHERE tree = ? AND status = 'success' AND (? IS NULL OR id < ?) ORDER BY id DESC LIMIT 1`)
    .get(tree, before, before) as HeadRunRow | undefined;
  return row ?? null;
}

export function runSamples(db: Db, runId: number): Record<string, number[]> {
  const rows = db.prepare('SELECT metric, value FROM head_samples WHERE run_id = ? ORDER BY metric, boot').all(runId) as { metric: string; value: number }[];
  const out: Record<string, number[]> = {};
  for (const r of rows) (out[r.metric] ??= []).push(r.value);
  return out;
}

export function saveChange(db: Db, c: { tree: string; metric: string; fromRun: number; toRun: number; comparison: Comparison }): number {
  const x = c.comparison;
  db.prepare(`INSERT INTO head_changes (tree, metric, from_run, to_run, verdict, change, low, high, p) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (from_run, to_run, metric) DO UPDATE SET verdict = excluded.verdict, change = excluded.change, low = excluded.low, high = excluded.high, p = excluded.p`)
    .run(c.tree, c.metric, c.fromRun, c.toRun, x.verdict, x.change, finiteOr(x.low, -1e9), finiteOr(x.high, 1e9), x.p);
  return db.prepare('SELECT id FROM head_changes WHERE from_run = ? AND to_run = ? AND metric = ?').pluck().get(c.fromRun, c.toRun, c.metric) as number;
}

function finiteOr(x: number, v: number): number {
  return Number.isFinite(x) ? x : v;
}

export interface BisectionRow {
  id: number;
  tree: string;
  metric: string;
  change_id: number | null;
  good: string;
  bad: string;
  state: 'running' | 'found' | 'not-reproduced' | 'ambiguous' | 'failed';
  culprit: string | null;
  subject: string | null;
  change: number | null;
  low: number | null;
  high: number | null;
  steps: number | null;
  retries: number | null;
  bound: number | null;
  range_size: number | null;
  data: string;
  created_at: string;
  finished_at: string | null;
}

export function startBisection(db: Db, b: { tree: string; metric: string; changeId: number | null; good: string; bad: string }): number {
  const info = db.prepare(`INSERT INTO bisections (tree, metric, change_id, good, bad, state) VALUES (?, ?, ?, ?, ?, 'running')`)
    .run(b.tree, b.metric, b.changeId, b.good, b.bad);
  return Number(info.lastInsertRowid);
}

export function finishBisection(
  db: Db,
  id: number,
  r: { state: BisectionRow['state']; culprit?: string | null; subject?: string | null; size?: Comparison | null; steps: number; retries: number; bound: number; range: number; data: Record<string, unknown> },
): void {
  db.prepare(`UPDATE bisections SET state = ?, culprit = ?, subject = ?, change = ?, low = ?, high = ?, steps = ?, retries = ?, bound = ?, range_size = ?, data = ?,
      finished_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?`)
    .run(r.state, r.culprit ?? null, r.subject ?? null, r.size?.change ?? null, r.size ? finiteOr(r.size.low, -1e9) : null, r.size ? finiteOr(r.size.high, 1e9) : null,
      r.steps, r.retries, r.bound, r.range, JSON.stringify(r.data), id);
}

/** Records where a bisection was reported on GitHub (or why not) in its data. */
export function setBisectionGithub(db: Db, id: number, github: Record<string, unknown>): void {
  db.prepare(`UPDATE bisections SET data = json_set(data, '$.github', json(?)) WHERE id = ?`).run(JSON.stringify(github), id);
}

/** The tracking issue an earlier bisection of TREE was reported on in REPO, if any. */
export function knownTrackingIssue(db: Db, tree: string, repo: string): number | null {
  const n = db.prepare(`SELECT json_extract(data, '$.github.issue') FROM bisections WHERE tree = ? AND json_extract(data, '$.github.repo') = ?
      AND json_extract(data, '$.github.issue') IS NOT NULL ORDER BY id DESC LIMIT 1`).pluck().get(tree, repo) as number | undefined;
  return n ?? null;
}

export function getBisection(db: Db, id: number): BisectionRow | null {
  return (db.prepare('SELECT * FROM bisections WHERE id = ?').get(id) as BisectionRow | undefined) ?? null;
}

export function bisections(db: Db, tree: string, limit = 50): BisectionRow[] {
  return db.prepare('SELECT * FROM bisections WHERE tree = ? ORDER BY id DESC LIMIT ?').all(tree, limit) as BisectionRow[];
}

export interface HistoryPoint {
  run: number;
  commit: string;
  at: string;
  n: number;
  median: number;
  min: number;
  max: number;
}

/** Per metric, the series of results over the successful HEAD runs of TREE, oldest first. */
export function metricHistory(db: Db, tree: string, limit = 200): Record<string, HistoryPoint[]> {
  const runs = (db.prepare(`SELECT id, commit_id, started_at FROM head_runs WHERE tree = ? AND status = 'success' ORDER BY id DESC LIMIT ?`)
    .all(tree, limit) as { id: number; commit_id: string; started_at: string }[]).reverse();
  const out: Record<string, HistoryPoint[]> = {};
  for (const r of runs) {
    for (const [metric, values] of Object.entries(runSamples(db, r.id))) {
      const s = [...values].sort((a, b) => a - b);
      const h = s.length >> 1;
      const median = s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
      (out[metric] ??= []).push({ run: r.id, commit: r.commit_id, at: r.started_at, n: s.length, median, min: s[0], max: s[s.length - 1] });
    }
  }
  return out;
}
