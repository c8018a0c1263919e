// The public-inbox sources against a real public-inbox (Debian's package) served by public-inbox-httpd
// on loopback: new.atom, /raw, t.mbox.gz for missing parents, the git epochs over smart HTTP, a message
// delivered with public-inbox-mda while the daemon runs.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followSources } from '../../src/commands/ingest.js';
import { assembleStored } from '../../src/ingest/ingest.js';
import { parseAtom } from '../../src/ingest/source-public-inbox-http.js';
import { runSource } from '../../src/ingest/sources.js';
import { logger } from '../../src/log.js';
import type { SourceSettings } from '../../src/settings/schema.js';
import { openDb, type Db } from '../../src/store/db.js';
import { getCursor } from '../../src/store/messages.js';
import { archiveMessages, cloneArchive, removeDir, repoRoot, settingsFor, tempDir, toMboxrd } from './ingest-support.js';
import { freePort } from '../helpers/net.js';

const log = logger.child({ test: 'ingest-public-inbox-http' });
const script = path.join(repoRoot, 'scripts', 'public-inbox.sh');
const corpus = path.resolve(repoRoot, '..', 'shared', 'corpus');

let tmp: string;
let base: string;
let archive: string;
let later: Buffer[];


function pi(...args: string[]): string {
  return execFileSync('sh', [script, ...args], { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] }).trim();
}

function deliver(name: string, raw: Buffer): void {
  execFileSync('sh', [script, 'deliver', path.join(tmp, 'pi'), name], { input: raw, stdio: ['pipe', 'pipe', 'pipe'] });
}

beforeAll(async () => {
  tmp = tempDir('pihttp');
  archive = cloneArchive(tmp);
  const msgs = await archiveMessages(archive, 0, 400);
  later = msgs.slice(300);
  writeFileSync(path.join(tmp, 'virt.mbox'), toMboxrd(msgs.slice(0, 300)));
  const pidir = path.join(tmp, 'pi');
  const port = await freePort();
  pi('create', pidir, 'virt', path.join(tmp, 'virt.mbox'));
  pi('create', pidir, 'small',
    path.join(corpus, 'b4', 'trailers-thread-with-cover-followup.mbox'),
    path.join(corpus, 'patchwork', 'series', 'revision-basic.mbox'));
  pi('create', pidir, 'burst', path.join(tmp, 'virt.mbox'));
  base = pi('serve', pidir, String(port));
}, 120_000);

afterAll(() => {
  try {
    pi('stop', path.join(tmp, 'pi'));
  } finally {
    removeDir(tmp);
  }
});

function has(db: Db, msgid: string): boolean {
  return db.prepare('SELECT 1 FROM messages WHERE msgid = ?').get(msgid) !== undefined;
}

async function poll(db: Db, dir: string, source: SourceSettings) {
  const settings = settingsFor(dir, [source]);
  const run = await runSource({ db, settings, source: settings.sources[0], log });
  if (run.error) throw run.error;
  return run;
}

describe('public-inbox HTTP source against public-inbox-httpd', () => {
  it('reads the feed, fetches each new message raw and the threads of replies whose parent is missing', async () => {
    const dir = tempDir('pihttp-feed');
    const db = openDb(':memory:');
    const source = { name: 'virt-http', type: 'public-inbox-http', url: `${base}/virt/` } as SourceSettings;
    const feed = parseAtom(await (await fetch(`${base}/virt/new.atom`)).text());
    expect(feed.entries.length).toBe(25);

    const r1 = await poll(db, dir, source);
    for (const e of feed.entries) expect(has(db, e.msgid)).toBe(true);
    // every reply in the feed whose parent the inbox holds now has its parent stored (the feed names
    // In-Reply-To targets the inbox may not have: those cannot be fetched)
    const replies = feed.entries.filter((e) => e.parentHref);
    let parentsInInbox = 0;
    for (const e of replies) {
      const parent = `<${decodeURIComponent(new URL(e.parentHref!).pathname.split('/').filter(Boolean).at(-1)!)}>`;
      const inInbox = (await fetch(`${e.parentHref}raw`)).status === 200;
      if (!inInbox) continue;
      parentsInInbox++;
      expect(has(db, parent), parent).toBe(true);
    }
    expect(parentsInInbox).toBeGreaterThan(5);
    expect(r1.result.inserted).toBeGreaterThan(25); // threads came along
    expect(r1.result.note).toMatch(/thread\(s\) fetched/);
    expect(getCursor(db, 'virt-http', 'feed')).not.toBeNull();

    const r2 = await poll(db, dir, source);
    expect(r2.result.read).toBe(0);
    expect(r2.result.inserted).toBe(0);
    db.close();
    removeDir(dir);
  });

  it('the git source (epochs cloned over HTTP) and the HTTP source produce the same series', async () => {
    const dir = tempDir('pihttp-same');
    const viaHttp = openDb(':memory:');
    const viaGit = openDb(':memory:');
    await poll(viaHttp, dir, { name: 'small-http', type: 'public-inbox-http', url: `${base}/small/` } as SourceSettings);
    const g = await poll(viaGit, dir, { name: 'small-git', type: 'public-inbox-git', url: `${base}/small` } as SourceSettings);
    expect(g.result.read).toBe(13);
    const shape = (db: Db) => assembleStored(db, { sloppyTrailers: false }).series
      .map((s) => ({ id: s.id, version: s.version, cover: s.cover, patches: s.patches.map((p) => [p.msgid, p.trailers.map((t) => t.value)]) }))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    const a = shape(viaHttp);
    const b = shape(viaGit);
    expect(a.length).toBeGreaterThanOrEqual(3); // the b4 series, revision-basic's v1 and v2
    expect(a).toEqual(b);
    // the same bytes either way: read by both sources into one store, each message is stored once
    await poll(viaHttp, dir, { name: 'small-git', type: 'public-inbox-git', url: `${base}/small` } as SourceSettings);
    const rows = viaHttp.prepare('SELECT count(*) AS n, count(DISTINCT msgid) AS ids, count(DISTINCT hash) AS hashes FROM messages').get();
    expect(rows).toEqual({ n: 13, ids: 13, hashes: 13 });
    viaHttp.close();
    viaGit.close();
    removeDir(dir);
  });

  it('more new mail than the feed shows: a warning, or with catch_up: git every message from the epochs', async () => {
    const pidir = path.join(tmp, 'pi');
    const dir = tempDir('pihttp-gap');
    const plain = openDb(':memory:');
    const catching = openDb(':memory:');
    const plainSource = { name: 'burst', type: 'public-inbox-http', url: `${base}/burst/` } as SourceSettings;
    const catchSource = { name: 'burst', type: 'public-inbox-http', url: `${base}/burst/`, catch_up: 'git' } as SourceSettings;
    await poll(plain, dir, plainSource);
    await poll(catching, dir, catchSource);
    // a burst of 40 messages between two polls; the feed lists 25
    const burst = later.slice(40, 80);
    writeFileSync(path.join(tmp, 'burst.mbox'), toMboxrd(burst));
    pi('import', pidir, 'burst', path.join(tmp, 'burst.mbox'));
    const ids = burst.map((m) => /^message-id:\s*(<[^>]+>)/im.exec(m.toString('latin1'))![1]);

    await poll(plain, dir, plainSource);
    const missed = ids.filter((id) => !has(plain, id));
    expect(missed.length).toBeGreaterThan(0); // what the feed no longer shows

    const r = await poll(catching, dir, catchSource);
    expect(r.result.note).toMatch(/^gap in the feed: caught up from git/);
    expect(ids.filter((id) => !has(catching, id))).toEqual([]);
    // and from then on the feed is followed as before
    expect((await poll(catching, dir, catchSource)).result.read).toBe(0);
    plain.close();
    catching.close();
    removeDir(dir);
  }, 120_000);

  it('a message delivered with public-inbox-mda while the daemon runs is ingested within one poll interval', async () => {
    const dir = tempDir('pihttp-daemon');
    const db = openDb(':memory:');
    const sources = [
      { name: 'virt-http', type: 'public-inbox-http', url: `${base}/virt/`, interval: 1 },
      { name: 'virt-git', type: 'public-inbox-git', url: `${base}/virt`, interval: 1 },
    ];
    const settings = settingsFor(dir, sources);
    const controller = new AbortController();
    const polls: Record<string, number> = { 'virt-http': 0, 'virt-git': 0 };
    const running = followSources({
      db, settings, sources: settings.sources, log, signal: controller.signal,
      onPoll: (s) => { polls[s.name]++; },
    });
    const waitFor = async (cond: () => boolean, ms: number) => {
      const end = Date.now() + ms;
      while (!cond()) {
        if (Date.now() > end) return false;
        await new Promise((r) => setTimeout(r, 50));
      }
      return true;
    };
    expect(await waitFor(() => polls['virt-http'] >= 1 && polls['virt-git'] >= 1, 60_000)).toBe(true);

    const msg = later[0];
    const msgid = /^message-id:\s*(<[^>]+>)/im.exec(msg.toString('latin1'))![1];
    expect(has(db, msgid)).toBe(false);
    const httpPollsBefore = polls['virt-http'];
    deliver('virt', msg);
    const delivered = Date.now();
    // within one interval (1 s) plus the poll itself; both sources see it
    expect(await waitFor(() => has(db, msgid), 10_000)).toBe(true);
    expect(polls['virt-http'] - httpPollsBefore).toBeLessThanOrEqual(3);
    log.info({ ms: Date.now() - delivered }, 'delivered message ingested');
    const rows = db.prepare('SELECT count(*) FROM messages WHERE msgid = ?').pluck().get(msgid) as number;
    expect(rows).toBe(1); // read by both sources, stored once
    controller.abort();
    await running;
    db.close();
    removeDir(dir);
  }, 90_000);
});
