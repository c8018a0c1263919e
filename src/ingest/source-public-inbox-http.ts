// public-inbox over HTTP, the way lore serves it: poll `<inbox>/new.atom` (conditional requests), fetch
// each new message by `<inbox>/<msgid>/raw`, and a reply's whole thread by `<inbox>/<msgid>/t.mbox.gz`
// when the message it answers is not stored yet. The feed's validators are the cursor, written in the
// same transaction as the last message of the poll; what was fetched is deduplicated by the store.
import { gunzipSync } from 'node:zlib';
import { sourceSchema } from '../settings/schema.js';
import { getCursor, storeMessages } from '../store/messages.js';
import { ingestInputs } from './ingest.js';
import type { RawInput } from './inputs.js';
import { splitMbox } from './mbox.js';
import { pollPublicInboxGit } from './source-public-inbox-git.js';
import { fetchWithRetry, hasMessage, HttpError, redactUrl, type PollContext, type PollResult, type SourceDefinition } from './source-kit.js';

type HttpSource = Extract<PollContext['source'], { type: 'public-inbox-http' }>;

export interface AtomEntry {
  /** with angle brackets */
  msgid: string;
  /** the message's page, `<inbox>/<escaped msgid>/` */
  href: string;
  /** the page of the message it answers, when the inbox holds that one */
  parentHref: string | null;
  title: string;
  updated: string | null;
}

interface FeedCursor {
  etag?: string;
  lastModified?: string;
  updated?: string;
}

function decodeXml(s: string): string {
  return s
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'")
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(parseInt(n, 10)))
    .replace(/&#x([0-9a-f]+);/gi, (_, n: string) => String.fromCodePoint(parseInt(n, 16)))
    .replace(/&amp;/g, '&');
}

/** The Message-ID a public-inbox message URL names: the last path segment, unescaped, in angle brackets. */
export function msgidFromHref(href: string): string {
  const u = new URL(href);
  const parts = u.pathname.split('/').filter(Boolean);
  return `<${decodeURIComponent(parts[parts.length - 1])}>`;
}

/** The entries of a public-inbox Atom feed, in feed order (newest first). */
export function parseAtom(xml: string): { updated: string | null; entries: AtomEntry[] } {
  const feedUpdated = /<updated>([^<]*)<\/updated>/.exec(xml.slice(0, xml.indexOf('<entry>') === -1 ? xml.length : xml.indexOf('<entry>')));
  const entries: AtomEntry[] = [];
  for (const m of xml.matchAll(/<entry>([\s\S]*?)<\/entry>/g)) {
    const body = m[1];
    // the entry's own link is the first <link ... href=...> outside thr:in-reply-to
    const link = /<link\s+(?:[^>]*\s)?href="([^"]+)"/.exec(body.replace(/<thr:in-reply-to[\s\S]*?\/>/g, ''));
    if (!link) continue;
    const href = decodeXml(link[1]);
    const parent = /<thr:in-reply-to[^>]*\shref="([^"]+)"/.exec(body);
    const title = /<title[^>]*>([\s\S]*?)<\/title>/.exec(body);
    const updated = /<updated>([^<]*)<\/updated>/.exec(body);
    entries.push({
      msgid: msgidFromHref(href),
      href: href.endsWith('/') ? href : `${href}/`,
      parentHref: parent ? (decodeXml(parent[1]).endsWith('/') ? decodeXml(parent[1]) : `${decodeXml(parent[1])}/`) : null,
      title: title ? decodeXml(title[1]) : '',
      updated: updated ? updated[1] : null,
    });
  }
  return { updated: feedUpdated ? feedUpdated[1] : null, entries };
}

function inboxUrl(source: HttpSource): string {
  return source.url.endsWith('/') ? source.url : `${source.url}/`;
}

/**
 * Messages of a public-inbox mboxrd answer (/raw, t.mbox.gz). public-inbox follows every message with a
 * blank line, the last one included: dropping it gives the bytes the git epoch holds, so the same message
 * read over HTTP and from git has the same content hash.
 */
export function splitPublicInboxMbox(buf: Buffer): Buffer[] {
  const msgs = splitMbox(buf);
  if (msgs.length > 0) {
    const last = msgs[msgs.length - 1];
    const n = last.length;
    if (n >= 2 && last[n - 1] === 0x0a && last[n - 2] === 0x0a) msgs[msgs.length - 1] = last.subarray(0, n - 1);
    else if (n >= 4 && last.subarray(n - 4).toString('latin1') === '\r\n\r\n') msgs[msgs.length - 1] = last.subarray(0, n - 2);
  }
  return msgs;
}

async function* fromList(items: RawInput[]): AsyncGenerator<RawInput> {
  yield* items;
}

export async function pollPublicInboxHttp(ctx: PollContext<HttpSource>): Promise<PollResult> {
  const { db, source, log } = ctx;
  const base = inboxUrl(source);
  const feedUrl = `${base}new.atom`;
  const saved = getCursor(db, source.name, 'feed');
  const cursor: FeedCursor = saved ? (JSON.parse(saved) as FeedCursor) : {};
  const headers: Record<string, string> = { accept: 'application/atom+xml' };
  if (cursor.etag) headers['if-none-match'] = cursor.etag;
  if (cursor.lastModified) headers['if-modified-since'] = cursor.lastModified;
  const res = await fetchWithRetry(ctx.fetch, feedUrl, { headers }, { log, signal: ctx.signal });
  if (res.status === 304) return { read: 0, inserted: 0, known: 0, note: 'feed not modified' };
  if (!res.ok) throw new HttpError(feedUrl, res.status, `${redactUrl(feedUrl)}: HTTP ${res.status}`);
  const feed = parseAtom(await res.text());
  const next: FeedCursor = {
    etag: res.headers.get('etag') ?? undefined,
    lastModified: res.headers.get('last-modified') ?? undefined,
    updated: feed.updated ?? undefined,
  };

  const entries = [...feed.entries].reverse(); // oldest first
  const fresh = entries.filter((e) => !hasMessage(db, e.msgid));
  if (saved && fresh.length === entries.length && entries.length > 0) {
    // more arrived since the last poll than the feed shows: the rest is only in the archive
    if (source.catch_up === 'git') {
      log.warn({ entries: entries.length }, 'every message in the feed is new: catching up from the inbox\'s git epochs');
      const caughtUp = await pollPublicInboxGit({ ...ctx, source: { name: source.name, type: 'public-inbox-git', url: base.replace(/\/+$/, '') } });
      storeMessages(db, [], { source: source.name, key: 'feed', value: JSON.stringify({ etag: res.headers.get('etag') ?? undefined, lastModified: res.headers.get('last-modified') ?? undefined, updated: feed.updated ?? undefined }) });
      return { ...caughtUp, note: `gap in the feed: caught up from git (${caughtUp.note ?? ''})` };
    }
    log.warn({ entries: entries.length }, 'every message in the feed is new: messages older than the feed may have been missed (poll more often, or set catch_up: git)');
  }

  const inputs: RawInput[] = [];
  const taken = new Set<string>();
  const take = (raws: Buffer[], from: string) => {
    for (const raw of raws) inputs.push({ raw, source: `${source.name}:${from}` });
  };
  const freshIds = new Set(fresh.map((e) => e.msgid));
  let threads = 0;
  for (const e of fresh) {
    if (taken.has(e.msgid)) continue;
    const parentMissing = e.parentHref !== null && !hasMessage(db, msgidFromHref(e.parentHref)) && !taken.has(msgidFromHref(e.parentHref))
      && !freshIds.has(msgidFromHref(e.parentHref));
    if (parentMissing) {
      // the reply's whole thread, so that the patch or cover it answers is there too
      const url = `${e.href}t.mbox.gz`;
      const r = await fetchWithRetry(ctx.fetch, url, {}, { log, signal: ctx.signal });
      if (r.ok) {
        const mbox = gunzipSync(Buffer.from(await r.arrayBuffer()));
        const msgs = splitPublicInboxMbox(mbox);
        threads++;
        take(msgs, url);
        for (const id of idsOf(msgs)) taken.add(id);
        if (taken.has(e.msgid)) continue;
      } else {
        log.warn({ url: redactUrl(url), status: r.status }, 'thread not available; fetching the message alone');
      }
    }
    const url = `${e.href}raw`;
    const r = await fetchWithRetry(ctx.fetch, url, {}, { log, signal: ctx.signal });
    if (r.status === 404 || r.status === 410) {
      log.warn({ msgid: e.msgid }, 'message listed in the feed is gone');
      continue;
    }
    if (!r.ok) throw new HttpError(url, r.status, `${redactUrl(url)}: HTTP ${r.status}`);
    take(splitPublicInboxMbox(Buffer.from(await r.arrayBuffer())), url);
    taken.add(e.msgid);
  }

  const cursorUpdate = { source: source.name, key: 'feed', value: JSON.stringify(next) };
  if (inputs.length === 0) {
    storeMessages(db, [], cursorUpdate);
    return { read: 0, inserted: 0, known: 0, note: `${entries.length} entries, none new` };
  }
  const last = inputs[inputs.length - 1];
  const stats = await ingestInputs(db, fromList(inputs), ctx.ingest, (l) => (l === last ? cursorUpdate : undefined));
  return { ...stats, note: `${fresh.length} new of ${entries.length} entries, ${threads} thread(s) fetched` };
}

/** Message-IDs of raw messages, read from their headers (cheap: no full parse). */
function idsOf(raws: Buffer[]): string[] {
  const ids: string[] = [];
  for (const raw of raws) {
    const head = raw.subarray(0, Math.max(0, raw.indexOf('\n\n')) || Math.min(raw.length, 65536)).toString('latin1');
    const m = /^message-id:[ \t]*(?:\r?\n[ \t]+)?(<[^>\s]+>)/im.exec(head);
    if (m) ids.push(m[1]);
  }
  return ids;
}

export const publicInboxHttpSource: SourceDefinition<'public-inbox-http'> = {
  type: 'public-inbox-http',
  schema: sourceSchema.options.find((o) => o.shape.type.value === 'public-inbox-http')!,
  defaultInterval: 300,
  poll: pollPublicInboxHttp,
};
