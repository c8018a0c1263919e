// Read-side queries of the dashboard and /api/: series with their queue state, filtered, sorted and paged in
// SQL. The state is the `series_queue` row that migration 6's triggers keep current on every write.
import type { Series } from '../series/types.js';
import type { Db } from '../store/db.js';
import { ensureProjectTable } from './projects.js';

export type SeriesState =
  | 'new' | 'incomplete' | 'queued' | 'applied' | 'building' | 'testing' | 'passed' | 'needs-ack' | 'failed' | 'superseded' | 'merged';

/** In pipeline order (the order `sort=state` uses). `merged`: every patch is in the tree's branch (src/trees/merged.ts, migration 11). */
export const SERIES_STATES: SeriesState[] = ['new', 'incomplete', 'queued', 'applied', 'building', 'testing', 'needs-ack', 'passed', 'failed', 'superseded', 'merged'];

export const SORT_KEYS = ['date', 'name', 'state', 'submitter'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export interface SeriesFilter {
  tree?: string;
  list?: string;
  state?: string;
  project?: string;
  submitter?: string;
  /** `7d` / `<7d`: first seen within; `>30d`: older than (h, d, w) */
  age?: string;
  q?: string;
  sort?: SortKey;
  order?: 'asc' | 'desc';
  limit?: number;
  offset?: number;
}

export interface GateMark {
  id: string;
  status: string;
}

export interface SeriesRow {
  id: string;
  /** the series object exactly as stored (the JSON of `patchgate export`) */
  doc: string;
  series: Series;
  state: SeriesState;
  tree: string | null;
  treeReason: string | null;
  verdict: string | null;
  list: string | null;
  firstDate: string | null;
  patches: number;
  acks: number;
  reviews: number;
  apply: string | null;
  build: string | null;
  gate: string | null;
  gates: GateMark[];
}

interface Row {
  series_id: string;
  doc: string;
  first_date: string | null;
  state: SeriesState;
  list: string | null;
  patches: number;
  acks: number;
  reviews: number;
  verdict: string | null;
  tree: string | null;
  tree_reason: string | null;
  apply: string | null;
  build: string | null;
  gate: string | null;
  gates: string | null;
}

const AGE_UNIT: Record<string, number> = { h: 3600e3, d: 86400e3, w: 7 * 86400e3 };

/** `7d`, `<7d` (newer than), `>30d` (older than) → an ISO bound, or null when malformed. */
export function parseAge(age: string, now = Date.now()): { op: '>=' | '<'; iso: string } | null {
  const m = /^([<>])?(\d{1,5})([hdw])$/.exec(age.trim());
  if (!m) return null;
  const iso = new Date(now - Number(m[2]) * AGE_UNIT[m[3]]).toISOString();
  return { op: m[1] === '>' ? '<' : '>=', iso };
}

const STATE_ORDER = `CASE q.state ${SERIES_STATES.map((s, i) => `WHEN '${s}' THEN ${i}`).join(' ')} ELSE 99 END`;

function orderBy(f: SeriesFilter): string {
  const dir = (def: 'asc' | 'desc') => ((f.order ?? def) === 'asc' ? 'ASC' : 'DESC');
  switch (f.sort) {
    case 'name': return `q.name COLLATE NOCASE ${dir('asc')}, q.first_date DESC, q.series_id DESC`;
    case 'state': return `${STATE_ORDER} ${dir('asc')}, q.first_date DESC, q.series_id DESC`;
    case 'submitter': return `s.submitter ${dir('asc')}, q.first_date DESC, q.series_id DESC`;
    default: return `q.first_date ${dir('desc')}, q.series_id ${dir('desc')}`;
  }
}

function whereOf(db: Db, f: SeriesFilter): { where: string; params: Record<string, unknown>; needs: { s: boolean; r: boolean } } {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  const needs = { s: f.sort === 'submitter', r: false };
  if (f.tree) {
    where.push('r.tree = @tree');
    params.tree = f.tree;
    needs.r = true;
  }
  if (f.list) {
    where.push('q.list = @list');
    params.list = f.list;
  }
  if (f.state) {
    where.push('q.state = @state');
    params.state = f.state;
  }
  if (f.submitter) {
    where.push('s.submitter = @submitter COLLATE NOCASE');
    params.submitter = f.submitter;
    needs.s = true;
  }
  if (f.project) {
    ensureProjectTable(db);
    where.push('q.series_id IN (SELECT series_id FROM temp.series_project WHERE project = @project)');
    params.project = f.project;
  }
  if (f.age) {
    const a = parseAge(f.age);
    if (a) {
      where.push(`q.first_date ${a.op} @age`);
      params.age = a.iso;
    }
  }
  if (f.q) {
    where.push("(s.name LIKE @q ESCAPE '\\' OR s.submitter LIKE @q ESCAPE '\\' OR s.id = @qexact)");
    params.q = `%${f.q.replace(/[%_\\]/g, (c) => '\\' + c)}%`;
    params.qexact = f.q;
    needs.s = true;
  }
  return { where: where.length ? 'WHERE ' + where.join(' AND ') : '', params, needs };
}

const FROM = `FROM series_queue q
    JOIN series s ON s.id = q.series_id
    LEFT JOIN runs r ON r.series_id = s.id AND r.version = s.version`;

/** Only the joins the filter and the sort need: counting and paging touch narrow rows, never the documents. */
function narrowFrom(needs: { s: boolean; r: boolean }): string {
  if (needs.r) return FROM;
  return needs.s ? 'FROM series_queue q JOIN series s ON s.id = q.series_id' : 'FROM series_queue q';
}

const stageStatus = (stage: string) =>
  `(SELECT o.status FROM outcomes o WHERE o.series_id = s.id AND o.version = s.version AND o.stage = '${stage}') AS ${stage}`;

const DETAIL = `SELECT s.doc, q.series_id, q.first_date, q.state, q.list, q.patches, q.acks, q.reviews, r.verdict, r.tree, r.tree_reason,
      ${stageStatus('apply')}, ${stageStatus('build')}, ${stageStatus('gate')},
      (SELECT group_concat(substr(o.stage, 6) || '=' || o.status, char(10)) FROM outcomes o
        WHERE o.series_id = s.id AND o.version = s.version AND o.stage LIKE 'gate:%') AS gates
    ${FROM}`;

function toRow(r: Row): SeriesRow {
  let parsed: Series | null = null;
  const gates = (r.gates ?? '').split('\n').filter(Boolean).map((g) => {
    const i = g.lastIndexOf('=');
    return { id: g.slice(0, i), status: g.slice(i + 1) };
  });
  return {
    id: r.series_id,
    doc: r.doc,
    // parsed on first use: the API sends the stored JSON as it is
    get series() {
      return (parsed ??= JSON.parse(r.doc) as Series);
    },
    state: r.state, tree: r.tree, treeReason: r.tree_reason, verdict: r.verdict, list: r.list,
    firstDate: r.first_date, patches: r.patches, acks: r.acks, reviews: r.reviews,
    apply: r.apply, build: r.build, gate: r.gate, gates,
  };
}

/**
 * Series newest first (or as `sort` says), one page of them, with the total that match. Two steps: the page's
 * ids are chosen on the narrow queue rows (indexes, no documents in the sorter), then only those rows are read.
 */
export function querySeries(db: Db, f: SeriesFilter = {}): { rows: SeriesRow[]; total: number } {
  const { where, params, needs } = whereOf(db, f);
  const from = narrowFrom(needs);
  const total = db.prepare(`SELECT count(*) ${from} ${where}`).pluck().get(params) as number;
  const ids = db.prepare(`SELECT q.series_id ${from} ${where} ORDER BY ${orderBy(f)} LIMIT @limit OFFSET @offset`).pluck()
    .all({ ...params, limit: f.limit ?? -1, offset: f.offset ?? 0 }) as string[];
  if (ids.length === 0) return { rows: [], total };
  const rows = db.prepare(`${DETAIL} WHERE q.series_id IN (SELECT value FROM json_each(?))`).all(JSON.stringify(ids)) as Row[];
  const byId = new Map(rows.map((r) => [r.series_id, r]));
  return { rows: ids.map((id) => toRow(byId.get(id)!)), total };
}

/** One series' queue row (null when the id is unknown). */
export function seriesRow(db: Db, id: string): SeriesRow | null {
  const r = db.prepare(`${DETAIL} WHERE q.series_id = ?`).get(id) as Row | undefined;
  return r ? toRow(r) : null;
}

export function distinctValues(db: Db): { trees: string[]; lists: string[] } {
  return {
    trees: db.prepare('SELECT DISTINCT tree FROM runs WHERE tree IS NOT NULL ORDER BY tree').pluck().all() as string[],
    lists: db.prepare('SELECT DISTINCT list FROM series_queue WHERE list IS NOT NULL ORDER BY list').pluck().all() as string[],
  };
}

export interface OutcomeRow {
  stage: string;
  status: string;
  summary: string | null;
  data: unknown;
  updated_at: string;
}

export function outcomesOf(db: Db, seriesId: string, version: number): OutcomeRow[] {
  const rows = db.prepare('SELECT stage, status, summary, data, updated_at FROM outcomes WHERE series_id = ? AND version = ? ORDER BY stage')
    .all(seriesId, version) as { stage: string; status: string; summary: string | null; data: string; updated_at: string }[];
  return rows.map((r) => ({ ...r, data: JSON.parse(r.data) as unknown }));
}

export interface OutboxRow {
  id: number;
  message_id: string;
  series_id: string;
  version: number;
  channel: string;
  state: string;
  recipients: string;
  payload: string;
  verdict: string | null;
  created_at: string;
  sent_at: string | null;
}

export function outboxOf(db: Db, seriesId?: string): OutboxRow[] {
  const sql = `SELECT id, message_id, series_id, version, channel, state, recipients, payload, verdict, created_at, sent_at FROM outbox
               ${seriesId ? 'WHERE series_id = ?' : ''} ORDER BY id DESC LIMIT 200`;
  return (seriesId ? db.prepare(sql).all(seriesId) : db.prepare(sql).all()) as OutboxRow[];
}

/** A cheap fingerprint of everything the pages show: it changes when any of it is written. */
export function storeVersion(db: Db): string {
  const r = db.prepare(`SELECT (SELECT max(updated_at) FROM series) AS a, (SELECT count(*) FROM series_queue) AS b,
      (SELECT max(updated_at) FROM runs) AS c, (SELECT max(updated_at) FROM outcomes) AS d,
      (SELECT max(id) FROM outbox) AS e, (SELECT group_concat(state) FROM outbox WHERE id > (SELECT max(id) - 50 FROM outbox)) AS f,
      (SELECT max(updated_at) FROM source_health) AS g, (SELECT max(detected_at) FROM series_merges) AS h`).get() as Record<string, unknown>;
  return Object.values(r).map((v) => String(v ?? '')).join('|');
}
