// patchwork's REST API (1.2 and later) as a source: `events/?category=series-completed&since=`, oldest
// first, following Link rel="next" pages; each completed series is read (`series/<id>/`) for its patch and
// cover ids and downloaded as one mbox (`/series/<id>/mbox/`). patchwork filters `date >= since`, so the
// events at the cursor's date come back on the next poll: their ids are kept in the cursor and skipped.
// patchwork's series and patch ids are stored (patchwork_series, patchwork_patches) so checks can be
// posted back to `<patch url>checks/`.
// Accepted series: `events/?category=patch-state-changed` (own cursor, same >= boundary) keeps each known
// patch's state; a series with a patch turned `accepted` has its patch list read (`patches/?series=<id>`:
// every state, and the commit_ref patchwork names) in case an event was missed. A series whose patches are
// all accepted marks the revision patchgate assembled from those Message-IDs merged (series_merges, how
// 'patchwork accepted', trees/merged.ts recordMerges), once it is assembled: series are assembled after a
// poll, so the accepted series not recorded yet are looked at again on the next polls (ACCEPTED_WINDOW_MS).
import { sourceSchema } from '../settings/schema.js';
import { logger } from '../log.js';
import { resolveSecret } from '../settings/load.js';
import type { Series } from '../series/types.js';
import type { Db } from '../store/db.js';
import { getCursor, storeMessages } from '../store/messages.js';
import { recordMerges, type MergeRecord } from '../trees/merged.js';
import { ingestInputs } from './ingest.js';
import type { RawInput } from './inputs.js';
import { splitMbox } from './mbox.js';
import { addResult, emptyResult, fetchWithRetry, HttpError, redactUrl, type PollContext, type PollResult, type SourceDefinition } from './source-kit.js';

const log = logger.child({ module: 'ingest/patchwork' });

type PatchworkSource = Extract<PollContext['source'], { type: 'patchwork' }>;

/** SeriesEmbedded of patchwork's schema (what an event's payload holds). */
export interface PwSeriesEmbedded {
  id: number;
  url: string;
  web_url: string;
  name: string | null;
  date: string;
  version: number;
  mbox: string;
}

/** PatchEmbedded of patchwork's schema. */
export interface PwPatchEmbedded {
  id: number;
  url: string;
  web_url?: string;
  msgid: string;
  name?: string;
  mbox?: string;
}

export interface PwEvent {
  id: number;
  category: string;
  project: { id: number; link_name: string };
  date: string;
  actor?: unknown;
  /** series-completed: series; patch-state-changed: patch, previous_state, current_state (state slugs) */
  payload: { series?: PwSeriesEmbedded; patch?: PwPatchEmbedded; previous_state?: string; current_state?: string };
}

/** The parts of patchwork's PatchList (`patches/`) we use. */
export interface PwPatch extends PwPatchEmbedded {
  state: string;
  commit_ref: string | null;
}

/** The parts of patchwork's Series we use. */
export interface PwSeries extends PwSeriesEmbedded {
  total: number;
  received_total: number;
  received_all: boolean;
  cover_letter: { id: number; url: string; msgid: string; mbox: string } | null;
  patches: { id: number; url: string; web_url: string; msgid: string; name: string; mbox: string }[];
}

export interface PatchworkCursor {
  /** the date of the newest event handled, as patchwork wrote it */
  since: string;
  /** ids of the handled events with exactly that date (patchwork returns them again: since is inclusive) */
  ids: number[];
}

/** The URL of rel="next" in an RFC 5988 Link header. */
export function nextLink(header: string | null): string | null {
  if (!header) return null;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]+)>\s*;(.*)$/.exec(part);
    if (m && /(?:^|;)\s*rel="?([^";]*\s)?next(\s[^";]*)?"?\s*(?:;|$)/.test(m[2])) return m[1];
  }
  return null;
}

function apiBase(source: PatchworkSource): string {
  return source.url.endsWith('/') ? source.url : `${source.url}/`;
}

function authHeaders(source: PatchworkSource): Record<string, string> {
  const token = resolveSecret(source.token);
  return token ? { authorization: `Token ${token}`, accept: 'application/json' } : { accept: 'application/json' };
}

/** patchwork writes naive UTC dates (`2024-01-02T03:04:05` or with microseconds). */
function defaultSince(): string {
  return new Date(Date.now() - 24 * 3600_000).toISOString().replace(/Z$/, '').replace(/\.\d+$/, '');
}

async function getJson<T>(ctx: PollContext<PatchworkSource>, url: string): Promise<{ body: T; res: Response }> {
  const res = await fetchWithRetry(ctx.fetch, url, { headers: authHeaders(ctx.source) }, { log: ctx.log, signal: ctx.signal, retryOn: [429, 500, 502, 503, 504] });
  if (!res.ok) throw new HttpError(url, res.status, `${redactUrl(url)}: HTTP ${res.status}`);
  return { body: (await res.json()) as T, res };
}

/** Every item of a paginated list, following the Link headers. */
async function listAll<T>(ctx: PollContext<PatchworkSource>, first: string): Promise<{ items: T[]; pages: number }> {
  let url: string | null = first;
  const items: T[] = [];
  let pages = 0;
  while (url) {
    if (ctx.signal?.aborted) break;
    const { body, res }: { body: T[]; res: Response } = await getJson<T[]>(ctx, url);
    items.push(...body);
    pages++;
    url = nextLink(res.headers.get('link'));
  }
  return { items, pages };
}

/** All events of CATEGORY at or after SINCE, oldest first, following the Link headers. */
export async function listEvents(ctx: PollContext<PatchworkSource>, since: string, category = 'series-completed'): Promise<{ events: PwEvent[]; pages: number }> {
  const params = new URLSearchParams({ category, project: ctx.source.project, since, order: 'date', per_page: '100' });
  const { items: events, pages } = await listAll<PwEvent>(ctx, `${apiBase(ctx.source)}events/?${params.toString()}`);
  // patchwork orders by date as asked; make it so for any server, ties broken by id
  events.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : a.id - b.id));
  return { events, pages };
}

function saveIds(db: Db, source: string, project: string, event: PwEvent, series: PwSeries): void {
  const upsertSeries = db.prepare(`INSERT INTO patchwork_series (source, series_id, project, name, version, url, web_url, mbox_url, cover_msgid, event_id)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (source, series_id) DO UPDATE SET name = excluded.name, version = excluded.version, url = excluded.url,
        web_url = excluded.web_url, mbox_url = excluded.mbox_url, cover_msgid = excluded.cover_msgid, event_id = excluded.event_id`);
  const upsertPatch = db.prepare(`INSERT INTO patchwork_patches (source, patch_id, series_id, msgid, url) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (source, patch_id) DO UPDATE SET series_id = excluded.series_id, msgid = excluded.msgid, url = excluded.url`);
  db.transaction(() => {
    upsertSeries.run(source, series.id, project, series.name, series.version, series.url, series.web_url, series.mbox,
      series.cover_letter ? bracket(series.cover_letter.msgid) : null, event.id);
    for (const p of series.patches) upsertPatch.run(source, p.id, series.id, bracket(p.msgid), p.url);
  })();
}

/** patchwork stores msgids with their angle brackets (older versions) or without: ours keep them. */
function bracket(msgid: string): string {
  const t = msgid.trim();
  return t.startsWith('<') ? t : `<${t}>`;
}

async function* fromList(items: RawInput[]): AsyncGenerator<RawInput> {
  yield* items;
}

/** The events after CURSOR (patchwork's since is inclusive: those at its date already handled are skipped). */
function* newEvents(events: PwEvent[], start: PatchworkCursor): Generator<{ event: PwEvent; next: PatchworkCursor }> {
  let cursor = start;
  for (const event of events) {
    if (event.date < cursor.since || (event.date === cursor.since && cursor.ids.includes(event.id))) continue;
    const next: PatchworkCursor = event.date === cursor.since ? { since: cursor.since, ids: [...cursor.ids, event.id] } : { since: event.date, ids: [event.id] };
    yield { event, next };
    cursor = next;
  }
}

/** How long an accepted series waits for patchgate to assemble its revision before it is no longer looked for. */
export const ACCEPTED_WINDOW_MS = 30 * 24 * 3600_000;

/** Sets or clears a patchwork series' accepted_at from its stored patch states (not once its merge is recorded). */
function settleAcceptance(db: Db, source: string, seriesId: number): void {
  db.prepare(`UPDATE patchwork_series SET accepted_at = CASE
        WHEN NOT EXISTS (SELECT 1 FROM patchwork_patches p WHERE p.source = @source AND p.series_id = @series AND coalesce(p.state, '') <> 'accepted')
          AND EXISTS (SELECT 1 FROM patchwork_patches p WHERE p.source = @source AND p.series_id = @series)
        THEN coalesce(accepted_at, strftime('%Y-%m-%dT%H:%M:%fZ','now')) END
      WHERE source = @source AND series_id = @series AND merged_series IS NULL`).run({ source, series: seriesId });
}

export interface StatePass {
  /** patch-state-changed events handled */
  events: number;
  /** patchwork series whose patch list was read (a patch of it turned accepted) */
  listed: number;
}

/** Follows patch-state-changed events, keeping the state of known patches; re-reads series turned accepted. */
export async function pollPatchStates(ctx: PollContext<PatchworkSource>): Promise<StatePass> {
  const { db, source } = ctx;
  const saved = getCursor(db, source.name, 'state-events');
  const start: PatchworkCursor = saved ? (JSON.parse(saved) as PatchworkCursor) : { since: source.since ?? defaultSince(), ids: [] };
  const { events } = await listEvents(ctx, start.since, 'patch-state-changed');
  const setState = db.prepare('UPDATE patchwork_patches SET state = ? WHERE source = ? AND patch_id = ?');
  const seriesOf = db.prepare('SELECT series_id FROM patchwork_patches WHERE source = ? AND patch_id = ?').pluck();
  const accepted = new Set<number>();
  let handled = 0;
  for (const { event, next } of newEvents(events, start)) {
    if (ctx.signal?.aborted) break;
    const { patch, current_state: state } = event.payload;
    db.transaction(() => {
      if (event.category === 'patch-state-changed' && patch && state) {
        // a patch of a series not read here (older than the cursor, or its series not complete yet) is not kept
        const series = seriesOf.get(source.name, patch.id) as number | undefined;
        if (series !== undefined) {
          setState.run(state, source.name, patch.id);
          settleAcceptance(db, source.name, series);
          if (state === 'accepted') accepted.add(series);
        }
      }
      storeMessages(db, [], { source: source.name, key: 'state-events', value: JSON.stringify(next) });
    })();
    handled++;
  }
  // the authoritative states of a series turned accepted: an event may have been missed (or come before its series)
  const upsert = db.prepare(`INSERT INTO patchwork_patches (source, patch_id, series_id, msgid, url, state, commit_ref) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (source, patch_id) DO UPDATE SET state = excluded.state, commit_ref = excluded.commit_ref`);
  for (const series of accepted) {
    if (ctx.signal?.aborted) break;
    const params = new URLSearchParams({ series: String(series), per_page: '100' });
    const { items } = await listAll<PwPatch>(ctx, `${apiBase(source)}patches/?${params.toString()}`);
    db.transaction(() => {
      for (const p of items) upsert.run(source.name, p.id, series, bracket(p.msgid), p.url, p.state, p.commit_ref ?? null);
      settleAcceptance(db, source.name, series);
    })();
  }
  return { events: handled, listed: accepted.size };
}

/**
 * Records merged the revisions of the source's accepted patchwork series: the revision patchgate assembled
 * from their Message-IDs, complete, every patch of it accepted, neither superseded nor merged already. An
 * accepted series whose revision is not assembled yet is looked at again on the next poll (for
 * ACCEPTED_WINDOW_MS). Returns the revisions recorded.
 */
export function recordAccepted(db: Db, source: Pick<PatchworkSource, 'name' | 'project'>, now = new Date()): MergeRecord[] {
  const pending = db.prepare(`SELECT series_id FROM patchwork_series WHERE source = ? AND merged_series IS NULL AND accepted_at >= ?
      ORDER BY accepted_at`).pluck().all(source.name, new Date(now.getTime() - ACCEPTED_WINDOW_MS).toISOString()) as number[];
  if (pending.length === 0) return [];
  const patchesOf = db.prepare('SELECT msgid, state, commit_ref FROM patchwork_patches WHERE source = ? AND series_id = ?');
  const revisionsOf = db.prepare(`SELECT s.doc, s.received_all, q.state FROM series s JOIN series_queue q ON q.series_id = s.id
      WHERE EXISTS (SELECT 1 FROM json_each(s.doc, '$.patches') p WHERE json_extract(p.value, '$.msgid') IN (SELECT value FROM json_each(?)))
      ORDER BY s.first_date, s.id`);
  const treeOf = db.prepare('SELECT tree FROM runs WHERE series_id = ? AND version = ? AND tree IS NOT NULL').pluck();
  const settle = db.prepare('UPDATE patchwork_series SET merged_series = ? WHERE source = ? AND series_id = ?');
  const recorded: MergeRecord[] = [];
  for (const pwSeries of pending) {
    const patches = new Map((patchesOf.all(source.name, pwSeries) as { msgid: string; state: string | null; commit_ref: string | null }[]).map((p) => [p.msgid, p]));
    const rows = revisionsOf.all(JSON.stringify([...patches.keys()])) as { doc: string; received_all: number; state: string }[];
    let done: string | null = null;
    const merges: MergeRecord[] = [];
    for (const row of rows) {
      const rev = JSON.parse(row.doc) as Series;
      const all = rev.patches.length > 0 && rev.patches.every((p) => patches.get(p.msgid)?.state === 'accepted');
      if (!all || !row.received_all) continue;
      if (row.state === 'merged') {
        done ??= rev.id; // found in its tree's branch already: nothing to add
        continue;
      }
      if (row.state === 'superseded') continue;
      merges.push({
        seriesId: rev.id, version: rev.version, tree: (treeOf.get(rev.id, rev.version) as string | undefined) ?? source.project, branch: null, head: null,
        commits: [...rev.patches].sort((a, b) => a.number - b.number).map((p) => ({ msgid: p.msgid, commit: patches.get(p.msgid)?.commit_ref ?? '', how: 'patchwork accepted' as const })),
        how: 'patchwork accepted', committedAt: null,
      });
    }
    db.transaction(() => {
      const added = new Set(recordMerges(db, merges));
      recorded.push(...merges.filter((m) => added.has(m.seriesId)));
      done = merges[0]?.seriesId ?? done;
      if (done) settle.run(done, source.name, pwSeries);
    })();
  }
  if (recorded.length) log.info({ source: source.name, merged: recorded.map((m) => `${m.seriesId} v${m.version}`) }, 'patchwork accepted series: revisions merged');
  return recorded;
}

export async function pollPatchwork(ctx: PollContext<PatchworkSource>): Promise<PollResult> {
  const { db, source, log } = ctx;
  const saved = getCursor(db, source.name, 'events');
  const cursor: PatchworkCursor = saved ? (JSON.parse(saved) as PatchworkCursor) : { since: source.since ?? defaultSince(), ids: [] };
  const { events, pages } = await listEvents(ctx, cursor.since);
  let result = emptyResult();
  let handled = 0;
  // the boundary: patchwork compared with >=, so the events of the cursor's own date come again (newEvents skips them)
  for (const { event, next } of newEvents(events, cursor)) {
    if (ctx.signal?.aborted) break;
    const update = { source: source.name, key: 'events', value: JSON.stringify(next) };
    const embedded = event.payload.series;
    if (event.category !== 'series-completed' || !embedded) {
      storeMessages(db, [], update);
      continue;
    }
    const { body: series } = await getJson<PwSeries>(ctx, embedded.url);
    // the series mbox holds the patches; the cover letter (its trailers count too) has its own
    const raws: Buffer[] = [];
    for (const url of [series.cover_letter?.mbox, series.mbox]) {
      if (!url) continue;
      const res = await fetchWithRetry(ctx.fetch, url, { headers: authHeaders(source) }, { log, signal: ctx.signal });
      if (!res.ok) throw new HttpError(url, res.status, `${redactUrl(url)}: HTTP ${res.status}`);
      raws.push(...splitMbox(Buffer.from(await res.arrayBuffer())));
    }
    // ids first (idempotent upserts): a crash before the messages and cursor below only repeats them
    saveIds(db, source.name, source.project, event, series);
    const inputs = raws.map((raw, i) => ({ raw, source: `${source.name}:series/${series.id}#${i + 1}` }));
    if (inputs.length === 0) {
      log.warn({ series: series.id }, 'series mbox is empty');
      storeMessages(db, [], update);
    } else {
      const last = inputs[inputs.length - 1];
      const stats = await ingestInputs(db, fromList(inputs), ctx.ingest, (l) => (l === last ? update : undefined));
      result = addResult(result, stats);
    }
    log.debug({ series: series.id, event: event.id, patches: series.patches.length }, 'patchwork series read');
    handled++;
  }
  let note = `${handled} series from ${events.length} event(s) on ${pages} page(s)`;
  if (!ctx.signal?.aborted) {
    const states = await pollPatchStates(ctx);
    // revisions assembled since the last poll (assembly follows a poll): this poll's accepted series, and earlier ones
    const merged = recordAccepted(db, source);
    if (states.events || merged.length) note += `; ${states.events} state change(s), ${merged.length} revision(s) merged (patchwork accepted)`;
  }
  return { ...result, note };
}

/** The stored patchwork ids of a message: where to post a check for it. */
export function patchworkPatchOf(db: Db, msgid: string): { source: string; patch_id: number; series_id: number; url: string } | null {
  return (db.prepare('SELECT source, patch_id, series_id, url FROM patchwork_patches WHERE msgid = ? ORDER BY patch_id DESC LIMIT 1').get(msgid) as
    { source: string; patch_id: number; series_id: number; url: string } | undefined) ?? null;
}

export const patchworkSource: SourceDefinition<'patchwork'> = {
  type: 'patchwork',
  schema: sourceSchema.options.find((o) => o.shape.type.value === 'patchwork')!,
  defaultInterval: 300,
  poll: pollPatchwork,
};
