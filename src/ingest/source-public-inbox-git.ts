// public-inbox git epochs as a source, the way lore is mirrored: each epoch (git/N.git) is read from a
// local path, or mirrored from a git URL into work_dir first; new commits' `m` blobs are read oldest first;
// the cursor per epoch (its last commit) is written in the same transaction as the messages it covers.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { sourceSchema } from '../settings/schema.js';
import { getCursor } from '../store/messages.js';
import { ingestInputs } from './ingest.js';
import type { RawInput } from './inputs.js';
import { epochsOf, readEpoch } from './public-inbox-git.js';
import { addResult, emptyResult, redactUrl, type PollContext, type PollResult, type SourceDefinition } from './source-kit.js';

export interface Epoch {
  /** the epoch number (N of git/N.git; 0 for a lone bare repository) */
  n: number;
  gitDir: string;
}

/** Mirrors whose older epochs were already fetched in this process (old epochs are frozen on lore). */
const fetchedOnce = new Set<string>();

export function runGit(args: string[], opts: { cwd?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('git', args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => err.push(d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });
}

async function gitOrThrow(args: string[]): Promise<string> {
  const r = await runGit(args);
  if (r.code !== 0) throw new Error(`git ${args.map(redactUrl).join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

function epochNumber(gitDir: string): number {
  const m = /^(\d+)\.git$/.exec(path.basename(gitDir));
  return m ? parseInt(m[1], 10) : 0;
}

/** A URL naming one git repository (an epoch or a bundle) rather than an inbox holding git/N.git. */
function isSingleRepoUrl(url: string): boolean {
  return /\.git\/?$/.test(url) || /\.bundle$/.test(url);
}

function joinUrl(base: string, rel: string): string {
  return base.replace(/\/+$/, '') + '/' + rel;
}

/** Clones URL as a mirror into DIR (atomically: a half-done clone is never mistaken for a mirror), or fetches it. */
export async function mirror(url: string, dir: string): Promise<void> {
  if (existsSync(path.join(dir, 'HEAD'))) {
    // the configured URL wins over the one the mirror was cloned from
    await gitOrThrow(['--git-dir', dir, 'remote', 'set-url', 'origin', url]);
    await gitOrThrow(['--git-dir', dir, 'fetch', '--quiet', '--prune', 'origin']);
    return;
  }
  mkdirSync(path.dirname(dir), { recursive: true });
  const tmp = `${dir}.partial`;
  rmSync(tmp, { recursive: true, force: true });
  await gitOrThrow(['clone', '--quiet', '--mirror', url, tmp]);
  renameSync(tmp, dir);
}

async function remoteExists(url: string): Promise<boolean> {
  return (await runGit(['ls-remote', '--heads', url])).code === 0;
}

/** The epochs to read, mirroring them first when the source is a URL. New epochs are picked up here. */
export async function resolveEpochs(ctx: PollContext<Extract<PollContext['source'], { type: 'public-inbox-git' }>>): Promise<Epoch[]> {
  const { source, workDir, log } = ctx;
  if (source.path) {
    const epochs = epochsOf(source.path);
    if (epochs.length === 0) throw new Error(`${source.path}: not a public-inbox git directory (no bare repository, no git/N.git)`);
    return epochs.map((gitDir) => ({ n: epochNumber(gitDir), gitDir }));
  }
  if (!source.url) throw new Error(`source ${source.name}: public-inbox-git needs path or url`);
  if (isSingleRepoUrl(source.url)) {
    const dir = path.join(workDir, 'git', '0.git');
    await mirror(source.url, dir);
    return [{ n: 0, gitDir: dir }];
  }
  // an inbox URL: git/0.git, git/1.git ... ; the newest known epoch is fetched every poll, older ones once
  const local = epochsOf(workDir).map((gitDir) => ({ n: epochNumber(gitDir), gitDir }));
  const newest = local.length ? Math.max(...local.map((e) => e.n)) : -1;
  for (const e of local) {
    const key = `${e.gitDir}`;
    if (e.n === newest || !fetchedOnce.has(key)) {
      await mirror(joinUrl(source.url, `git/${e.n}.git`), e.gitDir);
      fetchedOnce.add(key);
    }
  }
  for (let n = newest + 1; ; n++) {
    const url = joinUrl(source.url, `git/${n}.git`);
    if (!(await remoteExists(url))) {
      if (n === 0) throw new Error(`${redactUrl(source.url)}: no epoch git/0.git found`);
      break;
    }
    const gitDir = path.join(workDir, 'git', `${n}.git`);
    log.info({ epoch: n }, 'new public-inbox epoch');
    await mirror(url, gitDir);
    fetchedOnce.add(gitDir);
    local.push({ n, gitDir });
  }
  return local.sort((a, b) => a.n - b.n);
}

function commitOf(input: RawInput): string {
  return input.source.slice(input.source.lastIndexOf('@') + 1);
}

async function* epochInputs(sourceName: string, epoch: Epoch, since: string | null): AsyncGenerator<RawInput> {
  for await (const m of readEpoch(epoch.gitDir, since)) {
    yield { raw: m.raw, source: `${sourceName}:${epoch.n}.git@${m.commit}` };
  }
}

async function sinceIsKnown(gitDir: string, since: string): Promise<boolean> {
  return (await runGit(['--git-dir', gitDir, 'cat-file', '-e', `${since}^{commit}`])).code === 0;
}

export async function pollPublicInboxGit(ctx: PollContext<Extract<PollContext['source'], { type: 'public-inbox-git' }>>): Promise<PollResult> {
  const { db, source, log } = ctx;
  let result = emptyResult();
  const epochs = await resolveEpochs(ctx);
  for (const epoch of epochs) {
    const key = `epoch/${epoch.n}`;
    let since = getCursor(db, source.name, key);
    if (since && !(await sinceIsKnown(epoch.gitDir, since))) {
      // the epoch was rewritten or re-created: read it all again; the store keeps nothing twice
      log.warn({ epoch: epoch.n, cursor: since }, 'cursor commit not in the epoch any more: re-reading the epoch');
      since = null;
    }
    const stats = await ingestInputs(db, epochInputs(source.name, epoch, since), ctx.ingest, (last) => ({
      source: source.name,
      key,
      value: commitOf(last),
    }));
    if (stats.read > 0) log.debug({ epoch: epoch.n, ...stats }, 'epoch read');
    result = addResult(result, stats);
  }
  return { ...result, note: `${epochs.length} epoch(s)` };
}

export const publicInboxGitSource: SourceDefinition<'public-inbox-git'> = {
  type: 'public-inbox-git',
  schema: sourceSchema.options.find((o) => o.shape.type.value === 'public-inbox-git')!,
  defaultInterval: 300,
  poll: pollPublicInboxGit,
};
