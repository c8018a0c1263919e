// Runs untrusted build code (a patch's Makefiles, Kconfig, scripts): as root, in fresh network, mount
// and PID namespaces (`unshare`), every mount read-only except the writable directories, a private
// /proc, /dev/shm and /tmp (an overlay whose writes vanish with the namespace), as an unprivileged user without capabilities (`setpriv`), under rlimits
// (`prlimit`: address space, processes, core, file size), with a clean environment, a wall-clock
// limit and an output limit. On timeout, output overflow or cancel the whole process group is
// killed; the namespace's init dies with it, which takes every process of the namespace along.
//
// Without root there is no way to do this here: runSandboxed throws SandboxUnavailableError unless
// the settings opt out (`allow_unsandboxed: true`, for developer machines), in which case it still
// applies the rlimits, the time and output limits and the process-group kill.
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, closeSync, lstatSync, mkdirSync, openSync, readdirSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { logger } from '../log.js';

const log = logger.child({ module: 'build/sandbox' });

export const sandboxSettingsSchema = z.object({
  enabled: z.boolean().default(true),
  /** run without namespaces when they are not available (non-root developer machines) */
  allow_unsandboxed: z.boolean().default(false),
  /** uid and gid the command runs as (nobody) */
  uid: z.number().int().nonnegative().default(65534),
  gid: z.number().int().nonnegative().default(65534),
  /** address-space limit per process, MiB */
  memory_mb: z.number().int().positive().default(4096),
  /** process limit of the sandbox user */
  nproc: z.number().int().positive().default(1024),
  /** largest file a process may write, MiB */
  max_file_mb: z.number().int().positive().default(4096),
  /** largest log (stdout + stderr), MiB */
  max_output_mb: z.number().int().positive().default(64),
});
export type SandboxSettings = z.infer<typeof sandboxSettingsSchema>;

export class SandboxUnavailableError extends Error {
  constructor(reason: string) {
    super(`build sandbox unavailable: ${reason} (run as root, or set build.sandbox.allow_unsandboxed: true on a development machine)`);
    this.name = 'SandboxUnavailableError';
  }
}

export interface SandboxRun {
  command: string;
  args: string[];
  cwd: string;
  /** the whole environment of the command: nothing is inherited */
  env: Record<string, string>;
  /** directories the command may write (created, and handed to the sandbox user) */
  writable: string[];
  /** stdout and stderr, interleaved, are written here */
  logFile: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

export type Isolation = 'namespaces' | 'none';

export interface SandboxResult {
  /** exit code, null when killed by a signal */
  code: number | null;
  signalName: string | null;
  timedOut: boolean;
  aborted: boolean;
  outputLimited: boolean;
  durationMs: number;
  isolation: Isolation;
}

let probed: { ok: boolean; reason: string } | null = null;

/** Whether namespaces can be made here (root, unshare and setpriv work). Cached. */
export function probeNamespaces(): { ok: boolean; reason: string } {
  if (probed) return probed;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    probed = { ok: false, reason: 'not running as root' };
    return probed;
  }
  const r = spawnSync('unshare', ['--net', '--mount', '--pid', '--fork', '--kill-child', '--mount-proc', '--', 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--', 'true'], { stdio: 'ignore', timeout: 10_000 });
  probed = r.status === 0 ? { ok: true, reason: 'unshare -n -m -p works' } : { ok: false, reason: `unshare failed (${r.error?.message ?? `exit ${r.status}`})` };
  return probed;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function ensureOwned(dir: string, uid: number, gid: number): void {
  mkdirSync(dir, { recursive: true });
  const st = statSync(dir);
  if (st.uid === uid && st.gid === gid) return;
  const walk = (p: string) => {
    const s = lstatSync(p);
    if (s.uid !== uid || s.gid !== gid) chownSync(p, uid, gid);
    if (s.isDirectory()) for (const e of readdirSync(p)) walk(path.join(p, e));
  };
  walk(dir);
}

/**
 * The `sh -c` script run as root inside the namespaces before dropping to the sandbox user:
 * a private tmpfs on /dev/shm; the writable directories bound aside there; /tmp an overlay whose
 * writes land in that tmpfs (glibc's tmpfile(), which make -O uses, insists on /tmp); every other
 * mount read-only; the writable directories bound back over their own paths.
 */
function setupScript(writable: string[], s: SandboxSettings): string {
  const mb = 1024 * 1024;
  return [
    'set -e',
    'mount -t tmpfs -o size=1g,mode=1777 tmpfs /dev/shm',
    'mkdir -p /dev/shm/.pg/upper /dev/shm/.pg/work && chmod 1777 /dev/shm/.pg/upper',
    ...writable.map((w, i) => `mkdir -p /dev/shm/.pg/w${i} && mount --bind ${shellQuote(w)} /dev/shm/.pg/w${i}`),
    'mount -t overlay overlay -o lowerdir=/tmp,upperdir=/dev/shm/.pg/upper,workdir=/dev/shm/.pg/work /tmp || echo "sandbox: no overlay on /tmp" >&2',
    'while read -r dev mp fstype rest; do',
    '  case "$mp" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*|/tmp) continue;; esac',
    '  mount -o remount,bind,ro "$mp" 2>/dev/null || true',
    'done < /proc/self/mounts',
    ...writable.map((w, i) => `mount --bind /dev/shm/.pg/w${i} ${shellQuote(w)}`),
    'chmod 700 /dev/shm/.pg',
    // the working directory was resolved before the mounts: enter it again
    'cd "$PWD"',
    `exec setpriv --reuid=${s.uid} --regid=${s.gid} --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- ` +
      `prlimit --as=${s.memory_mb * mb} --nproc=${s.nproc} --fsize=${s.max_file_mb * mb} --core=0 -- "$@" 2>&1`,
  ].join('\n');
}

/** Runs RUN in the sandbox; a non-zero exit, timeout or kill is a result, not an exception. */
export async function runSandboxed(run: SandboxRun, settings: SandboxSettings): Promise<SandboxResult> {
  let isolation: Isolation = 'none';
  if (settings.enabled) {
    const p = probeNamespaces();
    if (p.ok) isolation = 'namespaces';
    else if (!settings.allow_unsandboxed) throw new SandboxUnavailableError(p.reason);
    else log.warn({ reason: p.reason }, 'running a build without namespaces (allow_unsandboxed)');
  }
  const uid = settings.uid;
  const gid = settings.gid;
  for (const w of run.writable) {
    if (isolation === 'namespaces') ensureOwned(w, uid, gid);
    else mkdirSync(w, { recursive: true });
  }
  mkdirSync(path.dirname(run.logFile), { recursive: true });
  const fd = openSync(run.logFile, 'w');
  const timeoutS = Math.max(1, Math.ceil(run.timeoutMs / 1000));
  const mb = 1024 * 1024;
  let argv: string[];
  if (isolation === 'namespaces') {
    argv = ['timeout', '-s', 'KILL', `${timeoutS + 5}`, 'unshare', '--net', '--mount', '--pid', '--fork', '--kill-child', '--mount-proc', '--propagation', 'private', '--',
      '/bin/sh', '-c', setupScript(run.writable.map((w) => path.resolve(w)), settings), 'sandbox', run.command, ...run.args];
  } else {
    argv = ['timeout', '-s', 'KILL', `${timeoutS + 5}`, 'prlimit', `--as=${settings.memory_mb * mb}`, `--fsize=${settings.max_file_mb * mb}`, '--core=0', '--',
      '/bin/sh', '-c', 'exec "$@" 2>&1', 'sandbox', run.command, ...run.args];
  }
  const started = Date.now();
  // stdout and stderr share one pipe (`2>&1` inside), so make -O keeps a target's lines together and
  // in order; the pipe, not a file, because make 4.3 -O crashes when its output is a file it cannot reopen
  const child = spawn(argv[0], argv.slice(1), { cwd: run.cwd, env: run.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let timedOut = false;
  let aborted = false;
  let outputLimited = false;
  const killGroup = () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup();
  }, run.timeoutMs);
  const maxBytes = settings.max_output_mb * mb;
  let written = 0;
  const sink = (b: Buffer) => {
    if (outputLimited) return;
    written += b.length;
    if (written > maxBytes) {
      outputLimited = true;
      writeSync(fd, `\n[patchgate: output limit of ${settings.max_output_mb} MiB reached, build killed]\n`);
      killGroup();
      return;
    }
    writeSync(fd, b);
  };
  child.stdout?.on('data', sink);
  child.stderr?.on('data', sink);
  const onAbort = () => {
    aborted = true;
    killGroup();
  };
  if (run.signal?.aborted) onAbort();
  run.signal?.addEventListener('abort', onAbort, { once: true });
  const [code, signalName] = await new Promise<[number | null, string | null]>((resolve) => {
    child.on('error', (err) => {
      log.error({ err }, 'cannot start sandbox');
      resolve([127, null]);
    });
    child.on('close', (c, s) => resolve([c, s]));
  });
  closeSync(fd);
  clearTimeout(timer);
  run.signal?.removeEventListener('abort', onAbort);
  killGroup(); // stragglers of the group (non-namespace mode)
  // timeout(1) exits 137 when its own guard fired
  if (code === 137 && Date.now() - started >= run.timeoutMs) timedOut = true;
  return { code, signalName, timedOut, aborted, outputLimited, durationMs: Date.now() - started, isolation };
}

/** The environment a build gets: nothing from the bot's own (no secrets), C locale. */
export function sandboxEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    LANG: 'C',
    LC_ALL: 'C',
    TERM: 'dumb',
    ...extra,
  };
}
