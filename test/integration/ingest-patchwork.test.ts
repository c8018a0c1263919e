// The patchwork source against a loopback server replaying patchwork's documented API (1.2): events
// filtered with since (inclusive, as patchwork does), a fixed page size with Link headers, 502/504 on the
// first tries, series and cover mboxes made of real mail from the shared corpus.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { splitMbox } from '../../src/ingest/mbox.js';
import { nextLink, patchworkPatchOf, type PwEvent } from '../../src/ingest/source-patchwork.js';
import { runSource } from '../../src/ingest/sources.js';
import { logger } from '../../src/log.js';
import type { SourceSettings } from '../../src/settings/schema.js';
import { openDb, type Db } from '../../src/store/db.js';
import { getCursor } from '../../src/store/messages.js';
import { removeDir, repoRoot, settingsFor, tempDir } from './ingest-support.js';

const log = logger.child({ test: 'ingest-patchwork' });
const fixtures = path.join(repoRoot, 'test', 'fixtures', 'patchwork');
const corpus = path.resolve(repoRoot, '..', 'shared', 'corpus');
const PW = 'https://patchwork.kernel.org';
const PAGE_SIZE = 2; // patchwork's events list has a fixed page size (page_size_query_param = None)

let server: http.Server;
let base: string;
let events: PwEvent[];
const requests: string[] = [];
/** statuses to answer first, per path (+ `?page=N` for event pages) */
const faults = new Map<string, number[]>();

function fixture(name: string): string {
  return readFileSync(path.join(fixtures, name), 'utf8').replaceAll(PW, base);
}

/** patchwork compares datetimes; compare ISO strings with the fraction padded to microseconds. */
function norm(d: string): string {
  const [s, frac = ''] = d.split('.');
  return `${s}.${frac.padEnd(6, '0')}`;
}

function mboxFor(p: string): string | null {
  const map = JSON.parse(readFileSync(path.join(fixtures, 'mboxes.json'), 'utf8')) as Record<string, { corpus: string; messages: number[] }>;
  const entry = map[p];
  if (!entry) return null;
  const msgs = splitMbox(readFileSync(path.join(corpus, entry.corpus)));
  return entry.messages.map((n) => {
    const text = msgs[n - 1].toString('latin1').replace(/^(>*From )/gm, '>$1');
    return `From patchwork Mon Sep 17 00:00:00 2001\n${text}${text.endsWith('\n') ? '' : '\n'}\n`;
  }).join('');
}

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', base);
  requests.push(`${url.pathname}${url.search}`);
  const faultKey = url.pathname + (url.searchParams.get('page') ? `?page=${url.searchParams.get('page')}` : '');
  const pending = faults.get(faultKey);
  if (pending && pending.length > 0) {
    res.writeHead(pending.shift()!, { 'content-type': 'text/html' }).end('<html>Bad Gateway</html>');
    return;
  }
  if (url.pathname === '/api/1.2/events/') {
    const q = url.searchParams;
    let list = events.filter((e) => (!q.get('category') || e.category === q.get('category'))
      && (!q.get('project') || e.project.link_name === q.get('project') || String(e.project.id) === q.get('project'))
      && (!q.get('since') || norm(e.date) >= norm(q.get('since')!)));
    list.sort((a, b) => (norm(a.date) < norm(b.date) ? -1 : norm(a.date) > norm(b.date) ? 1 : a.id - b.id));
    if (q.get('order') !== 'date') list = list.reverse(); // patchwork's default ordering is -date
    const page = parseInt(q.get('page') ?? '1', 10);
    const slice = list.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE);
    const links: string[] = [];
    const link = (n: number) => {
      const u = new URL(url.toString());
      u.searchParams.set('page', String(n));
      return u.toString();
    };
    if (page * PAGE_SIZE < list.length) links.push(`<${link(page + 1)}>; rel="next"`);
    if (page > 1) links.push(`<${link(page - 1)}>; rel="prev"`);
    res.writeHead(200, { 'content-type': 'application/json', allow: 'GET, HEAD, OPTIONS', vary: 'Accept', ...(links.length ? { link: links.join(', ') } : {}) });
    res.end(JSON.stringify(slice));
    return;
  }
  const series = /^\/api\/1\.2\/series\/(\d+)\/$/.exec(url.pathname);
  if (series) {
    try {
      res.writeHead(200, { 'content-type': 'application/json' }).end(fixture(`series-${series[1]}.json`));
    } catch {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"detail":"Not found."}');
    }
    return;
  }
  const mbox = mboxFor(url.pathname);
  if (mbox !== null) {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(mbox);
    return;
  }
  res.writeHead(404, { 'content-type': 'application/json' }).end('{"detail":"Not found."}');
}

beforeAll(async () => {
  server = http.createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  events = JSON.parse(fixture('events.json')) as PwEvent[];
  requests.length = 0;
  faults.clear();
});

async function poll(db: Db, dir: string, source: SourceSettings) {
  const settings = settingsFor(dir, [source]);
  return runSource({ db, settings, source: settings.sources[0], log });
}

function pwSource(): SourceSettings {
  return { name: 'pw', type: 'patchwork', url: `${base}/api/1.2/`, project: 'netdevbpf', since: '2016-01-01T00:00:00' } as SourceSettings;
}

describe('patchwork source', () => {
  it('reads completed series across pages, retries 502/504, stores patchwork ids, and keeps the >= boundary', async () => {
    const dir = tempDir('pw');
    const db = openDb(':memory:');
    faults.set('/api/1.2/events/?page=2', [502]);
    faults.set('/series/13/mbox/', [504]);

    const r1 = await poll(db, dir, pwSource());
    expect(r1.error).toBeNull();
    // 4 completed series: 11 (cover + 2), 12 (cover + 2), 13 (cover + 4), 14 (2 patches, no cover)
    expect(r1.result.read).toBe(13);
    expect(r1.result.inserted).toBe(13);
    expect(r1.result.note).toBe('4 series from 4 event(s) on 2 page(s)');
    expect(requests.filter((r) => r.startsWith('/api/1.2/events/') && r.includes('page=2'))).toHaveLength(2); // 502, then the retry
    expect(requests.filter((r) => r === '/series/13/mbox/')).toHaveLength(2); // 504, then the retry
    const first = requests.find((r) => r.startsWith('/api/1.2/events/'))!;
    const q = new URL(first, base).searchParams;
    expect(q.get('category')).toBe('series-completed');
    expect(q.get('since')).toBe('2016-01-01T00:00:00');
    expect(q.get('project')).toBe('netdevbpf');

    // patchwork's ids, so that checks can be posted back
    const p = patchworkPatchOf(db, '<1473632524-8585-2-git-send-email-stephenfinucane@gmail.com>');
    expect(p).toEqual({ source: 'pw', patch_id: 1101, series_id: 11, url: `${base}/api/1.2/patches/1101/` });
    expect(db.prepare('SELECT count(*) FROM patchwork_patches').pluck().get()).toBe(10);
    expect(db.prepare('SELECT cover_msgid FROM patchwork_series WHERE series_id = 13').pluck().get())
      .toBe('<20221025-test1-v1-0-e4f28f57990c@linuxfoundation.org>');

    // the cursor: the newest date and the ids already handled at that date
    expect(JSON.parse(getCursor(db, 'pw', 'events')!)).toEqual({ since: '2022-10-25T17:38:47.250000', ids: [90020, 90021] });

    // patchwork returns the boundary events again (>=): nothing is read twice, no series fetched
    requests.length = 0;
    const r2 = await poll(db, dir, pwSource());
    expect(new URL(requests[0], base).searchParams.get('since')).toBe('2022-10-25T17:38:47.250000');
    expect(r2.result.read).toBe(0);
    expect(requests.filter((r) => r.includes('/series/'))).toEqual([]);

    // a series completed at the very same instant, published after our poll: read, and only it
    events.push(...(JSON.parse(fixture('events-late.json')) as PwEvent[]));
    const r3 = await poll(db, dir, pwSource());
    expect(r3.result.read).toBe(3);
    expect(r3.result.inserted).toBe(3);
    expect(JSON.parse(getCursor(db, 'pw', 'events')!)).toEqual({ since: '2022-10-25T17:38:47.250000', ids: [90020, 90021, 90030] });
    expect(patchworkPatchOf(db, '<20240610210912.161735-5-ahassick@iol.unh.edu>')?.patch_id).toBe(1502);
    db.close();
    removeDir(dir);
  });

  it('a server that keeps failing is a recorded failure; the cursor does not move', async () => {
    const dir = tempDir('pw-fail');
    const db = openDb(':memory:');
    faults.set('/api/1.2/events/', [502, 504, 502, 502, 504, 502]);
    const r = await poll(db, dir, pwSource());
    expect(r.error?.message).toMatch(/: HTTP 504 after 5 attempts$/) // the fifth answer;
    expect(r.health.state).toBe('failing');
    expect(getCursor(db, 'pw', 'events')).toBeNull();
    expect(db.prepare('SELECT count(*) FROM messages').pluck().get()).toBe(0);
    db.close();
    removeDir(dir);
  }, 60_000);
});

describe('Link headers', () => {
  it('finds rel="next" among several relations, in any order', () => {
    expect(nextLink('<https://pw/api/events/?page=3>; rel="next", <https://pw/api/events/?page=1>; rel="prev"')).toBe('https://pw/api/events/?page=3');
    expect(nextLink('<https://pw/a?page=1>; rel="prev", <https://pw/a?page=3>; rel="next"')).toBe('https://pw/a?page=3');
    expect(nextLink('<https://pw/a?page=1>; rel="prev"')).toBeNull();
    expect(nextLink(null)).toBeNull();
  });
});
