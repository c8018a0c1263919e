// Reading a public-inbox archive straight from git, the way lore's mirrors hold it: each commit of an
// epoch (git/N.git) adds one message as the blob `m` (a deletion commit holds `d` instead).
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

export interface EpochMessage {
  epoch: string;
  commit: string;
  raw: Buffer;
}

/** True for a bare git repository (an epoch) or a v2 inbox holding git/N.git epochs. */
export function isPublicInboxDir(dir: string): boolean {
  return epochsOf(dir).length > 0;
}

/** The epochs of DIR in order: DIR itself when it is a bare repo, else DIR/git/N.git sorted by N. */
export function epochsOf(dir: string): string[] {
  if (isBareRepo(dir)) return [dir];
  const gitDir = path.join(dir, 'git');
  if (!existsSync(gitDir) || !statSync(gitDir).isDirectory()) return [];
  return readdirSync(gitDir)
    .filter((n) => /^\d+\.git$/.test(n))
    .sort((a, b) => parseInt(a, 10) - parseInt(b, 10))
    .map((n) => path.join(gitDir, n))
    .filter(isBareRepo);
}

function isBareRepo(dir: string): boolean {
  return existsSync(path.join(dir, 'HEAD')) && existsSync(path.join(dir, 'objects')) && existsSync(path.join(dir, 'refs'));
}

function git(gitDir: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('git', ['--git-dir', gitDir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => err.push(d));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new Error(`git ${args.join(' ')} in ${gitDir}: ${Buffer.concat(err).toString('utf8').trim()}`));
    });
  });
}

/** Commits of the epoch after SINCE (exclusive), oldest first. */
export async function newCommits(gitDir: string, since: string | null): Promise<string[]> {
  const head = (await git(gitDir, ['rev-parse', '--verify', '-q', 'HEAD']).catch(() => '')).trim();
  if (!head) return [];
  const range = since ? [`${since}..${head}`] : [head];
  const out = await git(gitDir, ['rev-list', '--reverse', ...range]);
  return out.split('\n').filter(Boolean);
}

/**
 * Yields each commit's `m` blob, oldest first, in batches read through one `git cat-file --batch`.
 * Commits without `m` (deletions) are skipped.
 */
export async function* readEpoch(gitDir: string, since: string | null = null): AsyncGenerator<EpochMessage> {
  const commits = await newCommits(gitDir, since);
  const BATCH = 500;
  for (let i = 0; i < commits.length; i += BATCH) {
    const slice = commits.slice(i, i + BATCH);
    const blobs = await catFileBatch(gitDir, slice.map((c) => `${c}:m`));
    for (let j = 0; j < slice.length; j++) {
      const raw = blobs[j];
      if (raw) yield { epoch: gitDir, commit: slice[j], raw };
    }
  }
}

/** `git cat-file --batch` for many object names; a missing object gives null. */
export function catFileBatch(gitDir: string, names: string[]): Promise<(Buffer | null)[]> {
  return new Promise((resolve, reject) => {
    const p = spawn('git', ['--git-dir', gitDir, 'cat-file', '--batch'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on('data', (d: Buffer) => chunks.push(d));
    p.stderr.on('data', (d: Buffer) => err.push(d));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`git cat-file --batch in ${gitDir}: ${Buffer.concat(err).toString('utf8').trim()}`));
      const buf = Buffer.concat(chunks);
      const result: (Buffer | null)[] = [];
      let pos = 0;
      for (let k = 0; k < names.length; k++) {
        const nl = buf.indexOf(0x0a, pos);
        if (nl === -1) return reject(new Error('git cat-file --batch: truncated output'));
        const header = buf.toString('utf8', pos, nl);
        pos = nl + 1;
        if (header.endsWith(' missing') || header.endsWith(' ambiguous')) {
          result.push(null);
          continue;
        }
        const size = parseInt(header.split(' ')[2], 10);
        result.push(buf.subarray(pos, pos + size));
        pos += size + 1; // the object is followed by a newline
      }
      resolve(result);
    });
    p.stdin.end(names.join('\n') + '\n');
  });
}
