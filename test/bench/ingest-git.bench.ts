// `npm run bench -- ingest-git [--limit N] [--workers N]`: the public-inbox git source end to end over the
// shared archive (rev-list, `git cat-file --batch`, parse, store with its cursor, one poll of the source)
// in messages/s, against a bare `git cat-file --batch` read of the same blobs, measured in the same run.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { archiveGitDir } from '../helpers/archive.js';

const self = fileURLToPath(import.meta.url);
const args = process.argv.slice(2);
const opt = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const limit = Number(opt('--limit')) || 0;

interface Result {
  label: string;
  messages: number;
  seconds: number;
}

/** A bare epoch holding the first LIMIT commits of the archive (all of them without --limit). */
function epochFor(gitDir: string, tmp: string): string {
  if (!limit) return gitDir;
  const commits = spawnSync('git', ['--git-dir', gitDir, 'rev-list', '--reverse', 'HEAD'], { encoding: 'utf8', maxBuffer: 1 << 26 }).stdout.split('\n').filter(Boolean);
  const dir = path.join(tmp, 'epoch.git');
  spawnSync('git', ['init', '-q', '--bare', dir]);
  spawnSync('git', ['--git-dir', gitDir, 'branch', '-f', 'bench-limit', commits[Math.min(limit, commits.length) - 1]]);
  spawnSync('git', ['--git-dir', dir, 'fetch', '-q', gitDir, 'bench-limit:refs/heads/master']);
  spawnSync('git', ['--git-dir', gitDir, 'branch', '-D', 'bench-limit']);
  return dir;
}

async function phaseSource(epoch: string): Promise<Result> {
  const { openDb } = await import('../../src/store/db.js');
  const { runSource } = await import('../../src/ingest/sources.js');
  const { createParsePool } = await import('../../src/ingest/parse-pool.js');
  const { parseSettings } = await import('../../src/settings/load.js');
  const { logger } = await import('../../src/log.js');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pg-bench-git-'));
  const settings = parseSettings({ work_dir: tmp, sources: [{ name: 'virt', type: 'public-inbox-git', path: epoch }] });
  const workers = opt('--workers') !== undefined ? Number(opt('--workers')) : undefined;
  const pool = await createParsePool({ workers });
  const t0 = process.hrtime.bigint();
  const db = openDb(path.join(tmp, 'store.sqlite'));
  const run = await runSource({ db, settings, source: settings.sources[0], log: logger, ingest: { parseBatch: pool.parseBatch } });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const threads = pool.threads;
  await pool.close();
  db.close();
  rmSync(tmp, { recursive: true, force: true });
  if (run.error) throw run.error;
  return { label: `public-inbox-git source, one poll (${threads || 'no'} parser threads)`, messages: run.result.inserted, seconds };
}

async function phaseCatFile(epoch: string): Promise<Result> {
  const { catFileBatch, newCommits } = await import('../../src/ingest/public-inbox-git.js');
  const t0 = process.hrtime.bigint();
  const commits = await newCommits(epoch, null);
  let n = 0;
  for (let i = 0; i < commits.length; i += 500) {
    const blobs = await catFileBatch(epoch, commits.slice(i, i + 500).map((c) => `${c}:m`));
    n += blobs.filter(Boolean).length;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { label: 'bare rev-list + git cat-file --batch of the same blobs', messages: n, seconds };
}

async function main(): Promise<void> {
  if (args.includes('--phase')) {
    const epoch = opt('--epoch')!;
    const r = opt('--phase') === 'source' ? await phaseSource(epoch) : await phaseCatFile(epoch);
    process.stdout.write(JSON.stringify(r) + '\n');
    return;
  }
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pg-bench-epoch-'));
  try {
    const epoch = epochFor(archiveGitDir(), tmp);
    const run = (phase: string): Result => {
      const extra = opt('--workers') !== undefined ? ['--workers', opt('--workers')!] : [];
      const out = spawnSync(process.execPath, ['--import', 'tsx', self, '--phase', phase, '--epoch', epoch, ...extra], { encoding: 'utf8', maxBuffer: 1 << 24 });
      if (out.status !== 0) throw new Error(`phase ${phase} failed:\n${out.stderr}`);
      return JSON.parse(out.stdout.trim().split('\n').pop()!) as Result;
    };
    const bare = run('catfile');
    const source = run('source');
    const rate = (r: Result) => r.messages / r.seconds;
    const line = (r: Result) => `${r.label.padEnd(62)} ${String(r.messages).padStart(6)} msgs  ${r.seconds.toFixed(2).padStart(7)} s  ${rate(r).toFixed(0).padStart(7)} msg/s`;
    process.stdout.write(`ingest-git benchmark on ${os.availableParallelism()} cores, epoch ${epoch}\n`);
    process.stdout.write(line(bare) + '\n');
    process.stdout.write(line(source) + '\n');
    process.stdout.write(`ratio source/bare read: ${(rate(source) / rate(bare)).toFixed(3)} (the source reaches ${(100 * rate(source) / rate(bare)).toFixed(1)}% of git's read speed)\n`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
