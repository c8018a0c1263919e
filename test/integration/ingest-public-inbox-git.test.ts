// The public-inbox git source on the shared archive: epochs grown commit by commit, a new epoch, a git
// URL mirrored into work_dir, and a crash between batches.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logger } from '../../src/log.js';
import { runSource } from '../../src/ingest/sources.js';
import { openDb, type Db } from '../../src/store/db.js';
import { countMessages, getCursor } from '../../src/store/messages.js';
import type { SourceSettings } from '../../src/settings/schema.js';
import { appendDeletion, appendToEpoch, archiveBundle, archiveMessages, cloneArchive, commitsOf, removeDir, settingsFor, tempDir } from './ingest-support.js';

const log = logger.child({ test: 'ingest-public-inbox-git' });

let tmp: string;
let archive: string;
let first700: Buffer[];

beforeAll(async () => {
  tmp = tempDir('pigit');
  archive = cloneArchive(tmp);
  first700 = await archiveMessages(archive, 0, 700);
  expect(first700).toHaveLength(700);
});
afterAll(() => removeDir(tmp));

function distinctRows(db: Db): { rows: number; sources: number; pairs: number } {
  return db.prepare('SELECT count(*) AS rows, count(DISTINCT source) AS sources, count(DISTINCT msgid || hash) AS pairs FROM messages').get() as {
    rows: number; sources: number; pairs: number;
  };
}

async function poll(db: Db, dir: string, source: SourceSettings, ingest = {}) {
  const settings = settingsFor(dir, [source]);
  const run = await runSource({ db, settings, source: settings.sources[0], log, ingest: { batchSize: 64, ...ingest } });
  if (run.error) throw run.error;
  return run;
}

describe('public-inbox git source, local path', () => {
  it('reads an epoch once, then only the commits added since, and picks up a new epoch', async () => {
    const dir = tempDir('pigit-local');
    const inbox = path.join(dir, 'inbox');
    const epoch0 = path.join(inbox, 'git', '0.git');
    appendToEpoch(epoch0, first700.slice(0, 300));
    const db = openDb(path.join(dir, 'store.sqlite'));
    const source = { name: 'virt', type: 'public-inbox-git', path: inbox } as SourceSettings;

    const r1 = await poll(db, dir, source);
    expect(r1.result.read).toBe(300);
    expect(r1.result.inserted + r1.result.known).toBe(300);
    const c0 = commitsOf(epoch0);
    expect(getCursor(db, 'virt', 'epoch/0')).toBe(c0[c0.length - 1]);
    const afterFirst = countMessages(db);

    appendToEpoch(epoch0, first700.slice(300, 500), 1_700_000_000);
    const r2 = await poll(db, dir, source);
    expect(r2.result.read).toBe(200);
    expect(r2.result.known).toBe(0); // nothing read twice
    expect(countMessages(db)).toBe(afterFirst + r2.result.inserted);

    const r3 = await poll(db, dir, source);
    expect(r3.result.read).toBe(0);

    // a deletion commit carries no message: skipped, nothing breaks
    appendDeletion(epoch0, first700[0]);
    expect((await poll(db, dir, source)).result.read).toBe(0);

    // lore rolls over to git/1.git: picked up, read from its start, epoch 0 untouched
    const epoch1 = path.join(inbox, 'git', '1.git');
    appendToEpoch(epoch1, first700.slice(500, 700), 1_800_000_000);
    const r4 = await poll(db, dir, source);
    expect(r4.result.read).toBe(200);
    expect(r4.result.known).toBe(0);
    const c1 = commitsOf(epoch1);
    expect(getCursor(db, 'virt', 'epoch/1')).toBe(c1[c1.length - 1]);

    const rows = distinctRows(db);
    expect(rows.rows).toBe(rows.pairs); // no (msgid, content) stored twice
    expect(rows.sources).toBe(rows.rows); // each row from one commit
    expect(r1.result.read + r2.result.read + r4.result.read).toBe(700);
    expect(r1.health.state).toBe('ok');
    db.close();
    removeDir(dir);
  });

  it('a bare epoch given directly works too', async () => {
    const dir = tempDir('pigit-bare');
    const db = openDb(':memory:');
    const source = { name: 'bare', type: 'public-inbox-git', path: archive } as SourceSettings;
    // the real archive epoch itself, all 10,000 commits: read once, then nothing more
    const r1 = await poll(db, dir, source, { batchSize: 512 });
    expect(r1.result.read).toBe(10_000);
    expect(r1.result.inserted + r1.result.known).toBe(10_000);
    const r2 = await poll(db, dir, source);
    expect(r2.result.read).toBe(0);
    expect(getCursor(db, 'bare', 'epoch/0')).toBe(commitsOf(archive).at(-1));
    db.close();
    removeDir(dir);
  }, 180_000);
});

describe('bad mail through the git source', () => {
  it('is stored as rejected with a reason, never dropped', async () => {
    const dir = tempDir('pigit-bad');
    const epoch0 = path.join(dir, 'inbox', 'git', '0.git');
    const junk = Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x0a, 0x0a, 0x80, 0x81, 0x0a]);
    const huge = Buffer.concat([Buffer.from('From: a@b.c\nSubject: big\nMessage-ID: <huge@example.org>\n\n'), Buffer.alloc(300_000, 'x')]);
    appendToEpoch(epoch0, [first700[0], junk, huge, first700[1]]);
    const db = openDb(':memory:');
    const source = { name: 'bad', type: 'public-inbox-git', path: path.join(dir, 'inbox') } as SourceSettings;
    const settings = settingsFor(dir, [source], { mail: { max_bytes: 200_000 } });
    const run = await runSource({ db, settings, source: settings.sources[0], log });
    expect(run.error).toBeNull();
    expect(run.result.read).toBe(4);
    expect(countMessages(db)).toBe(4);
    const rejected = db.prepare("SELECT msgid, reason FROM messages WHERE kind = 'rejected' ORDER BY seq").all() as { msgid: string; reason: string }[];
    expect(rejected).toHaveLength(2);
    for (const r of rejected) expect(r.reason).toMatch(/\S/);
    db.close();
    removeDir(dir);
  });
});

describe('public-inbox git source, git URL mirrored into work_dir', () => {
  it('mirrors every epoch of an inbox URL, follows new commits and new epochs', async () => {
    const dir = tempDir('pigit-url');
    const upstream = path.join(dir, 'upstream');
    appendToEpoch(path.join(upstream, 'git', '0.git'), first700.slice(0, 250));
    const db = openDb(path.join(dir, 'store.sqlite'));
    const source = { name: 'lore-virt', type: 'public-inbox-git', url: `file://${upstream}` } as SourceSettings;
    const settings = settingsFor(dir, [source]);

    const r1 = await poll(db, dir, source);
    expect(r1.result.read).toBe(250);
    const mirror0 = path.join(settings.work_dir, 'sources', 'lore-virt', 'git', '0.git');
    expect(commitsOf(mirror0)).toEqual(commitsOf(path.join(upstream, 'git', '0.git')));

    appendToEpoch(path.join(upstream, 'git', '0.git'), first700.slice(250, 400), 1_700_000_000);
    appendToEpoch(path.join(upstream, 'git', '1.git'), first700.slice(400, 450), 1_800_000_000);
    const r2 = await poll(db, dir, source);
    expect(r2.result.read).toBe(200);
    expect(r2.result.known).toBe(0);
    expect(getCursor(db, 'lore-virt', 'epoch/1')).toBe(commitsOf(path.join(upstream, 'git', '1.git')).at(-1));
    expect((await poll(db, dir, source)).result.read).toBe(0);
    db.close();
    removeDir(dir);
  });

  it('mirrors a single repository URL (the shared archive bundle itself)', async () => {
    const dir = tempDir('pigit-bundle');
    const db = openDb(':memory:');
    const source = { name: 'bundle', type: 'public-inbox-git', url: archiveBundle } as SourceSettings;
    const r = await poll(db, dir, source, { batchSize: 512 });
    expect(r.result.read).toBe(10_000);
    const settings = settingsFor(dir, [source]);
    expect(commitsOf(path.join(settings.work_dir, 'sources', 'bundle', 'git', '0.git'))).toHaveLength(10_000);
    expect((await poll(db, dir, source)).result.read).toBe(0);
    db.close();
    removeDir(dir);
  }, 180_000);
});

describe('a crash between batches', () => {
  it('loses nothing and stores nothing twice on restart', async () => {
    const dir = tempDir('pigit-crash');
    const epoch0 = path.join(dir, 'inbox', 'git', '0.git');
    appendToEpoch(epoch0, first700.slice(0, 400));
    const file = path.join(dir, 'store.sqlite');
    const source = { name: 'virt', type: 'public-inbox-git', path: path.join(dir, 'inbox') } as SourceSettings;
    const settings = settingsFor(dir, [source]);

    let db = openDb(file);
    let batches = 0;
    const crashing = await runSource({
      db, settings, source: settings.sources[0], log,
      ingest: {
        batchSize: 50,
        onProgress: () => {
          if (++batches === 3) throw new Error('simulated crash after 3 batches');
        },
      },
    });
    expect(crashing.error?.message).toMatch(/simulated crash/);
    expect(crashing.health.state).toBe('failing');
    const storedBeforeCrash = db.prepare('SELECT count(DISTINCT source) FROM messages').pluck().get() as number;
    expect(storedBeforeCrash).toBe(150); // three whole batches, each with its cursor
    const cursor = getCursor(db, 'virt', 'epoch/0');
    expect(cursor).toBe(commitsOf(epoch0)[149]);
    db.close();

    db = openDb(file); // the restart
    const again = await runSource({ db, settings, source: settings.sources[0], log, ingest: { batchSize: 50 } });
    expect(again.error).toBeNull();
    expect(again.result.read).toBe(250); // exactly the rest
    expect(again.result.known).toBe(0); // nothing read twice
    const rows = distinctRows(db);
    expect(rows.sources).toBe(400);
    expect(rows.rows).toBe(rows.pairs);
    expect(again.health.state).toBe('ok');
    db.close();
    removeDir(dir);
  });
});
