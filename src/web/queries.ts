// Read-side queries of the dashboard and /api/: series with their pipeline state, filtered in SQL.
import type { Series } from '../series/types.js';
import type { Db } from '../store/db.js';

export type SeriesState = 'new' | 'incomplete' | 'queued' | 'testing' | 'passed' | 'failed' | 'superseded';

export const SERIES_STATES: SeriesState[] = ['new', 'incomplete', 'queued', 'testing', 'passed', 'failed', 'superseded'];

export interface SeriesRow {
  series: Series;
  state: SeriesState;
  tree: string | null;
  treeReason: string | null;
  verdict: string | null;
  firstDate: string | null;
  acks: number;
  reviews: number;
}

export interface SeriesFilter {
  tree?: string;
  state?: string;
  q?: string;
  limit?: number;
  offset?: number;
}

interface Row {
  doc: string;
  first_date: string | null;
  run_state: string | null;
  verdict: string | null;
  tree: string | null;
  tree_reason: string | null;
  superseded: number;
}

function stateOf(r: Row, s: Series): SeriesState {
  if (r.superseded) return 'superseded';
  if (r.verdict === 'success' || r.verdict === 'warning') return 'passed';
  if (r.verdict === 'failure' || r.verdict === 'conflict') return 'failed';
  if (r.run_state === 'running') return 'testing';
  if (r.run_state === 'queued') return 'queued';
  return s.received_all ? 'new' : 'incomplete';
}

function countTrailers(s: Series, prefix: string): number {
  let n = 0;
  for (const p of s.patches) for (const t of p.trailers) if (t.name.toLowerCase().startsWith(prefix)) n++;
  return n;
}

/** Series newest first, with state; `state` is filtered after deriving it, the rest in SQL. */
export function querySeries(db: Db, f: SeriesFilter = {}): { rows: SeriesRow[]; total: number } {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  if (f.tree) {
    where.push('r.tree = @tree');
    params.tree = f.tree;
  }
  if (f.q) {
    where.push("(s.name LIKE @q ESCAPE '\\' OR s.submitter LIKE @q ESCAPE '\\' OR s.id = @qexact)");
    params.q = `%${f.q.replace(/[%_\\]/g, (c) => '\\' + c)}%`;
    params.qexact = f.q;
  }
  const sql = `
    SELECT s.doc, s.first_date, r.state AS run_state, r.verdict, r.tree, r.tree_reason,
           EXISTS (SELECT 1 FROM series n WHERE json_extract(n.doc, '$.previous') = s.id) AS superseded
    FROM series s
    LEFT JOIN runs r ON r.series_id = s.id AND r.version = s.version
    ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
    ORDER BY s.first_date DESC, s.id`;
  const all = (db.prepare(sql).all(params) as Row[]).map((r) => {
    const series = JSON.parse(r.doc) as Series;
    return {
      series,
      state: stateOf(r, series),
      tree: r.tree,
      treeReason: r.tree_reason,
      verdict: r.verdict,
      firstDate: r.first_date,
      acks: countTrailers(series, 'acked-by'),
      reviews: countTrailers(series, 'reviewed-by'),
    } satisfies SeriesRow;
  });
  const filtered = f.state ? all.filter((r) => r.state === f.state) : all;
  const offset = f.offset ?? 0;
  const limit = f.limit ?? filtered.length;
  return { rows: filtered.slice(offset, offset + limit), total: filtered.length };
}

export interface OutcomeRow {
  stage: string;
  status: string;
  summary: string | null;
  data: unknown;
}

export function outcomesOf(db: Db, seriesId: string, version: number): OutcomeRow[] {
  const rows = db.prepare('SELECT stage, status, summary, data FROM outcomes WHERE series_id = ? AND version = ? ORDER BY stage').all(seriesId, version) as
    { stage: string; status: string; summary: string | null; data: string }[];
  return rows.map((r) => ({ stage: r.stage, status: r.status, summary: r.summary, data: JSON.parse(r.data) as unknown }));
}

export interface OutboxRow {
  message_id: string;
  channel: string;
  state: string;
  recipients: string;
  payload: string;
  created_at: string;
  sent_at: string | null;
}

export function outboxOf(db: Db, seriesId?: string): OutboxRow[] {
  const sql = `SELECT message_id, channel, state, recipients, payload, created_at, sent_at FROM outbox
               ${seriesId ? 'WHERE series_id = ?' : ''} ORDER BY id DESC LIMIT 200`;
  return (seriesId ? db.prepare(sql).all(seriesId) : db.prepare(sql).all()) as OutboxRow[];
}
