// git as a child process, always with `-C dir` (nothing here chdirs). For the calls that need stdin
// or the exit status as data (am, patch-id, interpret-trailers, merge-base --is-ancestor); the rest
// of the tree layer uses simple-git via gitClient().
import { spawn } from 'node:child_process';
import { simpleGit, type SimpleGit } from 'simple-git';
import { logger } from '../log.js';
import { GitCommandError } from './errors.js';

const log = logger.child({ module: 'trees/git' });

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
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('git', argv, { env: gitEnv(options.env), stdio: ['pipe', 'pipe', 'pipe'], signal: options.signal });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(options.signal?.aborted ? options.signal.reason : new GitCommandError(dir, args, null, e.message)));
    child.stdin.on('error', () => undefined); // git may exit before reading all input
    child.on('close', (code) => {
      const result = { code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
      log.trace({ dir, args: args.slice(0, 4), code: result.code, ms: Date.now() - started }, 'git');
      if ((options.ok ?? [0]).includes(result.code)) resolve(result);
      else reject(new GitCommandError(dir, args, result.code, result.stderr || result.stdout));
    });
    child.stdin.end(options.input ?? '');
  });
}

// variables simple-git refuses to pass on (editors, pagers, askpass, config paths): none is needed here
const SIMPLE_GIT_REFUSES = new Set([
  'editor', 'visual', 'pager', 'prefix', 'ssh_askpass', 'git_askpass', 'git_editor', 'git_sequence_editor', 'git_pager',
  'git_exec_path', 'git_external_diff', 'git_proxy_command', 'git_template_dir', 'git_ssh', 'git_ssh_command',
  'git_config', 'git_config_global', 'git_config_system', 'git_config_count', 'git_config_parameters',
]);

/** simple-git bound to a directory, C locale, no prompts. */
export function gitClient(dir: string): SimpleGit {
  const env = Object.fromEntries(Object.entries(gitEnv()).filter(([k]) => !SIMPLE_GIT_REFUSES.has(k.toLowerCase())));
  return simpleGit({ baseDir: dir, maxConcurrentProcesses: 4, trimmed: false, allowEnvironment: ['GIT_TERMINAL_PROMPT'] }).env(env);
}
