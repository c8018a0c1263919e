// The patchwork source against a loopback server replaying patchwork's documented API (1.2): events
// filtered with since (inclusive, as patchwork does), a fixed page size with Link headers, 502/504 on the
// first tries, series and cover mboxes made of real mail from the shared corpus.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { splitMbox } from '../../src/ingest/mbox.js';
import { nextLink, patchworkPatchOf, type PwEvent, type PwPatch as PwPatchList } from '../../src/ingest/source-patchwork.js';
import { runSource } from '../../src/ingest/sources.js';
import { logger } from '../../src/log.js';
import type { SourceSettings } from '../../src/settings/schema.js';
import { assembleStored } from '../../src/ingest/ingest.js';
import type { Series } from '../../src/series/types.js';
import { openDb, type Db } from '../../src/store/db.js';
import { getCursor } from '../../src/store/messages.js';
import { listSeries } from '../../src/store/series.js';
import { mergeOf } from '../../src/trees/merged.js';
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
  if (url.pathname === '/api/1.2/patches/') {
    // patches/?series=<id>: the series' patches with their state (PatchList); [] for a series with no fixture
    let body = '[]';
    try {
      body = fixture(`patches-series-${url.searchParams.get('series')}.json`);
    } catch { /* no fixture: no patches */ }
    res.writeHead(200, { 'content-type': 'application/json', allow: 'GET, HEAD, OPTIONS', vary: 'Accept' }).end(body);
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

describe('patchwork accepted: a series whose patches are all accepted is merged', () => {
  const V2_1 = '<1473632795-9971-2-git-send-email-stephenfinucane@gmail.com>';
  const V2_2 = '<1473632795-9971-3-git-send-email-stephenfinucane@gmail.com>';
  const stateOf = (db: Db, id: number) => db.prepare('SELECT state, commit_ref FROM patchwork_patches WHERE source = ? AND patch_id = ?').get('pw', id);
  const queueState = (db: Db, id: string) => db.prepare('SELECT state FROM series_queue WHERE series_id = ?').pluck().get(id);
  const revisionOf = (db: Db, msgid: string): Series => listSeries(db).find((s) => s.patches.some((p) => p.msgid === msgid))!;
  const stateEvents = () => JSON.parse(fixture('events-state.json')) as PwEvent[];

  it('keeps patch states from patch-state-changed events and the series\' patch list, then records the assembled revision', async () => {
    const dir = tempDir('pw-accepted');
    const db = openDb(':memory:');
    events.push(...stateEvents());

    const r1 = await poll(db, dir, pwSource());
    expect(r1.error).toBeNull();
    expect(r1.result.note).toBe('4 series from 4 event(s) on 2 page(s); 6 state change(s), 0 revision(s) merged (patchwork accepted)');
    // the state events: their own category and cursor, the same project
    const stateReq = requests.find((r) => r.includes('category=patch-state-changed'))!;
    expect(new URL(stateReq, base).searchParams.get('project')).toBe('netdevbpf');
    expect(JSON.parse(getCursor(db, 'pw', 'state-events')!)).toEqual({ since: '2022-11-03T17:20:46.002000', ids: [91005, 91006] });
    // a patch turned accepted: its series' patch list is read, once per series
    expect(requests.filter((r) => r.startsWith('/api/1.2/patches/')).map((r) => new URL(r, base).searchParams.get('series')).sort()).toEqual(['11', '12', '14']);
    // 1202's own event is missing: the list says accepted, with the commit patchwork names
    expect(stateOf(db, 1201)).toEqual({ state: 'accepted', commit_ref: '0cc9c1f2a8b6f0b8d3c0e8b1f5a3d2c1b0a9f8e7' });
    expect(stateOf(db, 1202)).toEqual({ state: 'accepted', commit_ref: '5a1e0d3b7c9f2e4a6b8d0c2e4f6a8b0c2d4e6f80' });
    expect(stateOf(db, 1101)).toEqual({ state: 'accepted', commit_ref: null });
    expect(stateOf(db, 1102)).toEqual({ state: 'changes-requested', commit_ref: null });
    expect(stateOf(db, 1301)).toEqual({ state: null, commit_ref: null }); // no event: as read
    // the patch of a series this source never read is not kept
    expect(db.prepare('SELECT count(*) FROM patchwork_patches WHERE patch_id = 990001').pluck().get()).toBe(0);
    expect(db.prepare('SELECT series_id FROM patchwork_series WHERE source = ? AND accepted_at IS NOT NULL ORDER BY series_id').pluck().all('pw')).toEqual([12, 14]);
    // nothing assembled yet: no revision to mark
    expect(db.prepare('SELECT count(*) FROM series_merges').pluck().get()).toBe(0);

    // series are assembled after a poll; the next poll records the revision patchgate built from v2's mail
    assembleStored(db, { sloppyTrailers: false });
    const v2 = revisionOf(db, V2_1);
    const v1 = revisionOf(db, '<1473632524-8585-2-git-send-email-stephenfinucane@gmail.com>');
    const other = revisionOf(db, '<1473633236-10676-1-git-send-email-stephenfinucane@gmail.com>'); // series 14's mail
    expect(v2.patches.map((p) => p.msgid).sort()).toEqual([V2_1, V2_2]);
    expect(queueState(db, v2.id)).toBe('new');
    expect(queueState(db, other.id)).toBe('superseded');
    requests.length = 0;
    const r2 = await poll(db, dir, pwSource());
    expect(r2.error).toBeNull();
    expect(r2.result.note).toBe('0 series from 2 event(s) on 1 page(s); 0 state change(s), 1 revision(s) merged (patchwork accepted)');
    expect(requests.filter((r) => r.startsWith('/api/1.2/patches/'))).toEqual([]); // no new event: no list read
    const merge = mergeOf(db, v2.id)!;
    expect(merge).toMatchObject({ version: v2.version, tree: 'netdevbpf', branch: null, head: null, how: 'patchwork accepted', committed_at: null });
    expect(merge.commits).toEqual([
      { msgid: V2_1, commit: '0cc9c1f2a8b6f0b8d3c0e8b1f5a3d2c1b0a9f8e7', how: 'patchwork accepted' },
      { msgid: V2_2, commit: '5a1e0d3b7c9f2e4a6b8d0c2e4f6a8b0c2d4e6f80', how: 'patchwork accepted' },
    ]);
    expect(queueState(db, v2.id)).toBe('merged');
    // v1: one patch accepted, one changes-requested; series 14: all accepted but patchgate's revision is superseded
    expect(mergeOf(db, v1.id)).toBeNull();
    expect(mergeOf(db, other.id)).toBeNull();
    expect(queueState(db, other.id)).toBe('superseded');
    expect(db.prepare('SELECT series_id, merged_series FROM patchwork_series WHERE source = ? AND accepted_at IS NOT NULL ORDER BY series_id').all('pw'))
      .toEqual([{ series_id: 12, merged_series: v2.id }, { series_id: 14, merged_series: null }]);

    // recorded once: the next poll adds nothing
    const r3 = await poll(db, dir, pwSource());
    expect(r3.result.note).toBe('0 series from 2 event(s) on 1 page(s)');
    expect(db.prepare('SELECT count(*) FROM series_merges').pluck().get()).toBe(1);
    db.close();
    removeDir(dir);
  });

  it('a patch moved back out of accepted before the revision was assembled: not merged', async () => {
    const dir = tempDir('pw-unaccepted');
    const db = openDb(':memory:');
    events.push(...stateEvents());
    await poll(db, dir, pwSource());
    expect(db.prepare('SELECT accepted_at IS NOT NULL FROM patchwork_series WHERE series_id = 12').pluck().get()).toBe(1);
    // the maintainer took patch 2 back (accepted → under-review)
    const p2 = (JSON.parse(fixture('patches-series-12.json')) as PwPatchList[])[1];
    events.push({ ...stateEvents()[3], id: 91010, date: '2022-11-04T08:00:00.000000',
      payload: { patch: { id: p2.id, url: p2.url, web_url: p2.web_url, msgid: p2.msgid, name: p2.name, mbox: p2.mbox }, previous_state: 'accepted', current_state: 'under-review' } });
    assembleStored(db, { sloppyTrailers: false });
    const r = await poll(db, dir, pwSource());
    expect(r.error).toBeNull();
    expect(stateOf(db, 1202)).toEqual({ state: 'under-review', commit_ref: '5a1e0d3b7c9f2e4a6b8d0c2e4f6a8b0c2d4e6f80' });
    expect(db.prepare('SELECT accepted_at FROM patchwork_series WHERE series_id = 12').pluck().get()).toBeNull();
    expect(mergeOf(db, revisionOf(db, V2_1).id)).toBeNull();
    expect(db.prepare('SELECT count(*) FROM series_merges').pluck().get()).toBe(0);
    db.close();
    removeDir(dir);
  });
});

describe('Link headers', () => {
  it('finds rel="next" among several relations, in any order', () => {
    expect(nextLink('<https://pw/api/events/?page=3>; rel="next", <https://pw/api/events/?page=1>; rel="prev"')).toBe('https://pw/api/events/?page=3');
    expect(nextLink('<https://pw/a?page=1>; rel="prev", <https://pw/a?page=3>; rel="next"')).toBe('https://pw/a?page=3');
    expect(nextLink('<https://pw/a?page=1>; rel="prev"')).toBeNull();
    expect(nextLink(null)).toBeNull();
  });
});
