// patchwork's REST API (1.2 and later) as a source: `events/?category=series-completed&since=`, oldest
// first, following Link rel="next" pages; each completed series is read (`series/<id>/`) for its patch and
// cover ids and downloaded as one mbox (`/series/<id>/mbox/`). patchwork filters `date >= since`, so the
// events at the cursor's date come back on the next poll: their ids are kept in the cursor and skipped.
// patchwork's series and patch ids are stored (patchwork_series, patchwork_patches) so checks can be
// posted back to `<patch url>checks/`.
import { sourceSchema } from '../settings/schema.js';
import { resolveSecret } from '../settings/load.js';
import type { Db } from '../store/db.js';
import { getCursor, storeMessages } from '../store/messages.js';
import { ingestInputs } from './ingest.js';
import type { RawInput } from './inputs.js';
import { splitMbox } from './mbox.js';
import { addResult, emptyResult, fetchWithRetry, HttpError, redactUrl, type PollContext, type PollResult, type SourceDefinition } from './source-kit.js';

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

export interface PwEvent {
  id: number;
  category: string;
  project: { id: number; link_name: string };
  date: string;
  actor?: unknown;
  payload: { series?: PwSeriesEmbedded };
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

/** All series-completed events at or after SINCE, oldest first, following the Link headers. */
export async function listEvents(ctx: PollContext<PatchworkSource>, since: string): Promise<{ events: PwEvent[]; pages: number }> {
  const params = new URLSearchParams({ category: 'series-completed', project: ctx.source.project, since, order: 'date', per_page: '100' });
  let url: string | null = `${apiBase(ctx.source)}events/?${params.toString()}`;
  const events: PwEvent[] = [];
  let pages = 0;
  while (url) {
    if (ctx.signal?.aborted) break;
    const { body, res }: { body: PwEvent[]; res: Response } = await getJson<PwEvent[]>(ctx, url);
    events.push(...body);
    pages++;
    url = nextLink(res.headers.get('link'));
  }
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

export async function pollPatchwork(ctx: PollContext<PatchworkSource>): Promise<PollResult> {
  const { db, source, log } = ctx;
  const saved = getCursor(db, source.name, 'events');
  let cursor: PatchworkCursor = saved ? (JSON.parse(saved) as PatchworkCursor) : { since: source.since ?? defaultSince(), ids: [] };
  const { events, pages } = await listEvents(ctx, cursor.since);
  let result = emptyResult();
  let handled = 0;
  for (const event of events) {
    if (ctx.signal?.aborted) break;
    // the boundary: patchwork compared with >=, so the events of the cursor's own date come again
    if (event.date < cursor.since || (event.date === cursor.since && cursor.ids.includes(event.id))) continue;
    const next: PatchworkCursor = event.date === cursor.since ? { since: cursor.since, ids: [...cursor.ids, event.id] } : { since: event.date, ids: [event.id] };
    const update = { source: source.name, key: 'events', value: JSON.stringify(next) };
    const embedded = event.payload.series;
    if (event.category !== 'series-completed' || !embedded) {
      storeMessages(db, [], update);
      cursor = next;
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
    cursor = next;
    handled++;
  }
  return { ...result, note: `${handled} series from ${events.length} event(s) on ${pages} page(s)` };
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
