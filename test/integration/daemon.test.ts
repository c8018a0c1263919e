// The daemon (src/main.ts, what `patchgate start` runs beside the dashboard) on real git and a real Redis:
// mail appearing in a followed mbox becomes a series, is queued by itself and runs to a verdict; a v2 that
// arrives later is queued too and supersedes v1.
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../../src/main.js';
import { queueConfig } from '../../src/queue/config.js';
import { createPipeline, type Pipeline } from '../../src/queue/pipeline.js';
import { parseSettings } from '../../src/settings/load.js';
import type { Settings } from '../../src/settings/schema.js';
import { openDb, type Db } from '../../src/store/db.js';
import { cleanPrefix, ensureRedis, uniquePrefix } from '../helpers/redis.js';
import { git, makeSeries } from '../helpers/series-repo.js';

let dir: string;
let url: string;
let prefix: string;
let db: Db;
let settings: Settings;
let pipeline: Pipeline;
let daemon: Daemon;
let inbox: string;
let repo: string;

async function until<T>(what: string, fn: () => T | null | undefined, ms = 90_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  url = await ensureRedis();
  prefix = uniquePrefix('daemon');
  dir = mkdtempSync(path.join(os.tmpdir(), 'patchgate-daemon-'));
  repo = path.join(dir, 'net-next');
  mkdirSync(path.join(repo, 'drivers', 'net'), { recursive: true });
  git(dir, 'init', '-q', repo);
  writeFileSync(path.join(repo, 'drivers', 'net', 'tun.c'), 'one\ntwo\nthree\nfour\nfive\n');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'base');
  inbox = path.join(dir, 'inbox.mbox');
  writeFileSync(inbox, makeSeries(repo, dir, 'v1', 'PATCH net-next', [{ file: 'drivers/net/tun.c', from: 'two\n', to: 'two (v1)\n', msg: 'tun: rename two' }]));
  settings = parseSettings({
    store: { path: path.join(dir, 'store.sqlite') },
    redis: { url, prefix },
    work_dir: path.join(dir, 'work'),
    sources: [{ name: 'box', type: 'mbox', path: inbox, interval: 1 }],
    trees: [{ name: 'net-next', url: repo, branch: 'main', tokens: ['net-next'], lists: ['netdev@vger.kernel.org'] }],
    queue: { attempts: 2, backoff_ms: 100 },
  });
  db = openDb(settings.store.path);
  pipeline = createPipeline({ config: queueConfig(settings), db });
  daemon = await startDaemon({ db, settings, pipeline, scanMs: 300 });
}, 120_000);

afterAll(async () => {
  await daemon?.close();
  await pipeline?.close();
  db?.close();
  await cleanPrefix(url, prefix);
  rmSync(dir, { recursive: true, force: true });
});

interface RunRow { series_id: string; version: number; state: string; tree: string | null; verdict: string | null }

describe('the daemon', { timeout: 180_000 }, () => {
  it('queues a series that arrives in a followed source by itself and runs it to a verdict', async () => {
    const run = await until('v1 done', () => db.prepare("SELECT * FROM runs WHERE version = 1 AND state = 'done'").get() as RunRow | undefined);
    expect(run.tree).toBe('net-next');
    const apply = db.prepare("SELECT status, data FROM outcomes WHERE series_id = ? AND version = 1 AND stage = 'apply'").get(run.series_id) as { status: string; data: string };
    expect(apply.status).toBe('success');
    expect(JSON.parse(apply.data).apply.map((a: { outcome: string }) => a.outcome)).toEqual(['applied']);
  });

  it('a v2 appended later is queued as well, once, and v1 is superseded', async () => {
    appendFileSync(inbox, '\n' + makeSeries(repo, dir, 'v2', 'PATCH net-next v2', [{ file: 'drivers/net/tun.c', from: 'two\n', to: 'two (v2)\n', msg: 'tun: rename two' }]));
    const v2 = await until('v2 done', () => db.prepare("SELECT * FROM runs WHERE version = 2 AND state = 'done'").get() as RunRow | undefined);
    const v1 = db.prepare('SELECT series_id FROM runs WHERE version = 1').get() as { series_id: string };
    const doc = JSON.parse(db.prepare('SELECT doc FROM series WHERE id = ?').pluck().get(v2.series_id) as string) as { previous: string | null };
    expect(doc.previous).toBe(v1.series_id);
    // nothing ran twice: one apply outcome per revision
    expect(db.prepare("SELECT count(*) FROM outcomes WHERE stage = 'apply'").pluck().get()).toBe(2);
    expect(db.prepare('SELECT count(*) FROM runs').pluck().get()).toBe(2);
  });
});
