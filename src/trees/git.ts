// git as a child process, always with `-C dir` (nothing here chdirs). For the calls that need stdin
// or the exit status as data (am, patch-id, interpret-trailers, merge-base --is-ancestor); the rest
// of the tree layer uses simple-git via gitClient().
import { spawn } from 'node:child_process';
import { simpleGit, type SimpleGit } from 'simple-git';
import { GitCommandError } from './errors.js';

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface GitRunOptions {
  /** written to git's stdin */
  input?: string;
  /** added to the environment */
  env?: Record<string, string>;
  /** exit codes that are answers rather than faults (default [0]) */
  ok?: number[];
  signal?: AbortSignal;
}

/** Environment for every git call: C locale (stderr is parsed), no prompts, no user/system config surprises in hooks. */
export function gitEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('GIT_')) env[k] = v;
  return { ...env, LC_ALL: 'C', LANGUAGE: 'C', GIT_TERMINAL_PROMPT: '0', GIT_PAGER: 'cat', ...extra };
}

/** Runs `git -C dir args...`. Throws GitCommandError when the exit code is not in `ok`. */
export function git(dir: string | null, args: string[], options: GitRunOptions = {}): Promise<GitResult> {
  const argv = [...(dir ? ['-C', dir] : []), '-c', 'core.hooksPath=/dev/null', ...args];
  return new Promise((resolve, reject) => {
    const child = spawn('git', argv, { env: gitEnv(options.env), stdio: ['pipe', 'pipe', 'pipe'], signal: options.signal });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(new GitCommandError(dir, args, null, e.message)));
    child.stdin.on('error', () => undefined); // git may exit before reading all input
    child.on('close', (code) => {
      const result = { code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
      if ((options.ok ?? [0]).includes(result.code)) resolve(result);
      else reject(new GitCommandError(dir, args, result.code, result.stderr || result.stdout));
    });
    child.stdin.end(options.input ?? '');
  });
}

/** simple-git bound to a directory, C locale, no prompts. */
export function gitClient(dir: string): SimpleGit {
  return simpleGit({ baseDir: dir, maxConcurrentProcesses: 4, trimmed: false }).env(gitEnv());
}
