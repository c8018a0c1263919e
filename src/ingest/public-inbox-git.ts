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
 * Yields each commit's `m` blob, oldest first, streamed through one `git cat-file --batch` for the epoch
 * (one process: starting one per batch cost a fork of this whole process each time). Commits without `m`
 * (deletions) are skipped.
 */
export async function* readEpoch(gitDir: string, since: string | null = null): AsyncGenerator<EpochMessage> {
  const commits = await newCommits(gitDir, since);
  if (commits.length === 0) return;
  const p = spawn('git', ['--git-dir', gitDir, 'cat-file', '--batch'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const err: Buffer[] = [];
  p.stderr.on('data', (d: Buffer) => err.push(d));
  const closed = new Promise<number | null>((resolve, reject) => {
    p.on('error', reject);
    p.on('close', resolve);
  });
  closed.catch(() => undefined); // awaited below
  p.stdin.on('error', () => undefined); // git gone early: reported through its exit
  p.stdin.end(commits.map((c) => `${c}:m`).join('\n') + '\n');
  // unread output: whole chunks, the first one from `offset`
  let chunks: Buffer[] = [];
  let offset = 0;
  let buffered = 0;
  let next = 0; // index of the commit whose object comes next
  let size = -1; // body size of the object whose header was read, -1 while reading a header
  const take = (n: number): Buffer => {
    const first = chunks[0];
    if (first.length - offset >= n) {
      const out = first.subarray(offset, offset + n);
      offset += n;
      buffered -= n;
      return out;
    }
    // only the unread bytes: earlier messages keep the first chunk, no second copy of their bytes
    chunks = [Buffer.concat([first.subarray(offset), ...chunks.slice(1)])];
    offset = 0;
    return take(n);
  };
  const headerEnd = (): number => {
    let seen = 0;
    for (let i = 0; i < chunks.length; i++) {
      const from = i === 0 ? offset : 0;
      const nl = chunks[i].indexOf(0x0a, from);
      if (nl >= 0) return seen + nl - from;
      seen += chunks[i].length - from;
    }
    return -1;
  };
  try {
    for await (const chunk of p.stdout as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      buffered += chunk.length;
      for (;;) {
        if (size < 0) {
          const nl = headerEnd();
          if (nl < 0) break;
          const header = take(nl + 1).toString('utf8').trimEnd();
          if (header.endsWith(' missing') || header.endsWith(' ambiguous')) {
            next++;
            continue;
          }
          size = parseInt(header.split(' ')[2], 10);
        }
        if (buffered < size + 1) break; // the object is followed by a newline
        const raw = take(size);
        take(1);
        size = -1;
        if (chunks.length > 0 && offset === chunks[0].length) {
          chunks.shift();
          offset = 0;
        }
        yield { epoch: gitDir, commit: commits[next++], raw };
      }
      while (chunks.length > 0 && offset >= chunks[0].length) {
        offset -= chunks[0].length;
        chunks.shift();
      }
    }
    const code = await closed;
    if (code !== 0) throw new Error(`git cat-file --batch in ${gitDir}: ${Buffer.concat(err).toString('utf8').trim()}`);
    if (next !== commits.length) throw new Error('git cat-file --batch: truncated output');
  } finally {
    if (p.exitCode === null) p.kill();
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
