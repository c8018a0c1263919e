// The daemon killed with SIGKILL at 20+ random points while it ingests the shared archive (10,000
// messages), restarted each time: at the end every message is stored exactly once and the cursor is at
// the last commit. Kill points are drawn after the restarted daemon has committed something, so they
// land inside the ingest (parsing, storing, between batches), not only during start-up.
import { seededRandom } from '../../src/gates/perf/calibrate.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { cloneArchive, commitsOf, removeDir, repoRoot, tempDir } from '../integration/ingest-support.js';

const KILLS = 22;
let tmp: string;
let archive: string;

beforeAll(() => {
  tmp = tempDir('sigkill');
  archive = cloneArchive(tmp);
});
afterAll(() => removeDir(tmp));

/** A small seeded generator (mulberry32): a failing run can be replayed with PATCHGATE_KILL_SEED. */
const rng = seededRandom;

describe('SIGKILL while ingesting the shared archive', () => {
  it(`${KILLS} kills at random points, restarts: every message stored exactly once`, async () => {
    const seed = process.env.PATCHGATE_KILL_SEED ? parseInt(process.env.PATCHGATE_KILL_SEED, 10) : Date.now() % 100_000;
    const random = rng(seed);
    const store = path.join(tmp, 'store.sqlite');
    const config = path.join(tmp, 'patchgate.yaml');
    writeFileSync(config, `store: { path: ${store} }\nwork_dir: ${path.join(tmp, 'work')}\nsources:\n  - { name: virt, type: public-inbox-git, path: ${archive}, interval: 0.2 }\n`);
    const script = `const { main } = await import(${JSON.stringify(path.join(repoRoot, 'src', 'cli.ts'))}); process.exitCode = await main(process.argv.slice(1));`;
    const env = { ...process.env, PATCHGATE_LOG_LEVEL: 'warn' };
    delete env.VITEST;
    const stored = () => {
      try {
        const db = new Database(store, { readonly: true, fileMustExist: true });
        try { return db.prepare('SELECT count(*) FROM messages').pluck().get() as number; } finally { db.close(); }
      } catch {
        return 0; // not created yet
      }
    };
    const kills: { at: number; before: number; after: number }[] = [];
    let child: ChildProcess | null = null;
    try {
      for (let i = 0; i < KILLS; i++) {
        const before = stored();
        child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, 'ingest', '--config', config, '--batch-size', '100', '--workers', '0'],
          { cwd: repoRoot, env, stdio: ['ignore', 'ignore', 'ignore'] });
        const exited = new Promise<void>((r) => child!.once('exit', () => r()));
        // wait until this run has committed something (or the archive is done), then a random delay
        const end = Date.now() + 20_000;
        while (stored() === before && stored() < 10_000 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
        // short enough that 22 runs of today's ingest speed (1,500-2,500 msg/s) do not finish the archive
        const delay = Math.floor(random() * 300);
        await new Promise((r) => setTimeout(r, delay));
        child.kill('SIGKILL');
        await exited;
        kills.push({ at: delay, before, after: stored() });
      }
    } finally {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    // most kills must have hit a daemon that had stored something and was still ingesting
    const midIngest = kills.filter((k) => k.after > k.before && k.after < 10_000).length;
    expect(midIngest, `seed ${seed}: ${JSON.stringify(kills)}`).toBeGreaterThanOrEqual(15);

    // finish what is left, the same way an operator would
    const last = await runCli(['ingest', '--config', config, '--once', '--workers', '0']);
    expect(last.code).toBe(0);

    const db = new Database(store, { readonly: true });
    const rows = db.prepare('SELECT count(*) AS n, count(DISTINCT source) AS commits, count(DISTINCT msgid || hash) AS messages FROM messages').get();
    // 10,000 commits, 10,000 distinct blobs: each stored once, from exactly one commit
    expect(rows, `seed ${seed}`).toEqual({ n: 10_000, commits: 10_000, messages: 10_000 });
    expect(db.prepare("SELECT value FROM cursors WHERE source = 'virt' AND key = 'epoch/0'").pluck().get()).toBe(commitsOf(archive).at(-1));
    db.close();
  }, 600_000);
});
