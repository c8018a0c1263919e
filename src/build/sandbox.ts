// Runs untrusted build code (a patch's Makefiles, Kconfig, scripts): as root, in fresh network, mount,
// PID, IPC and UTS namespaces (`unshare`), in a new root (pivot_root) that holds only the toolchain
// (/usr and its links, read-only), a few files of /etc, a minimal /dev, a private /proc and /tmp, and
// the directories the run names: readable ones read-only (by default the working directory, with its
// `.git` hidden), writable ones read-write. The bot's environment, its configuration and the secret
// files it names, the store, /root, /home and everything else outside those directories do not
// exist inside. The command runs as an unprivileged user without capabilities (`setpriv`), under
// rlimits (`prlimit`: address space, processes, core, file size), with a clean environment, a
// wall-clock limit and an output limit. On timeout, output overflow or cancel the whole process group
// is killed; the namespace's init dies with it, which takes every process of the namespace along.
// What the sandbox stopped (network, writes, the process limit, reads of hidden paths) is read back
// from the log as `denials`.
//
// Without root there is no way to do this here: runSandboxed throws SandboxUnavailableError unless
// the settings opt out (`allow_unsandboxed: true`, for developer machines), in which case it still
// applies the rlimits, the time and output limits and the process-group kill.
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, closeSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmdirSync, statSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { logger } from '../log.js';
import { createBuildCgroup, type BuildCgroup } from './cgroup.js';

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
  /**
   * memory of the whole build, all its processes together, MiB: enforced by a cgroup per build where the host
   * has the memory and pids controllers (cgroup.ts), which also holds the build to nproc processes
   */
  build_memory_mb: z.number().int().positive().default(8192),
  /** a cgroup per build (false: the per-process limits only) */
  cgroup: z.boolean().default(true),
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
  /** directories the command may read (besides the toolchain); default: cwd */
  readable?: string[];
  /** show the readable directories' git metadata (read-only); default: their `.git` is hidden */
  git?: boolean;
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
  /** what the sandbox stopped, from the log (sandboxDenials) */
  denials: string[];
}

let probed: { ok: boolean; reason: string } | null = null;

const UNSHARE = ['--net', '--mount', '--pid', '--ipc', '--uts', '--fork', '--kill-child', '--propagation', 'private', '--'];

/** Whether the sandbox can be made here (root; unshare, pivot_root and setpriv work): the real setup, run once. Cached. */
export function probeNamespaces(): { ok: boolean; reason: string } {
  if (probed) return probed;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    probed = { ok: false, reason: 'not running as root' };
    return probed;
  }
  const mnt = mkdtempSync(path.join(os.tmpdir(), 'pg-sandbox-root-'));
  try {
    const r = spawnSync('unshare', [...UNSHARE, '/bin/sh', '-c', setupScript({ readable: [], writable: [], hidden: [] }, sandboxSettingsSchema.parse({})), 'sandbox', mnt, '/', 'true'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000, encoding: 'utf8' });
    probed = r.status === 0 ? { ok: true, reason: 'namespaces and a private root work' } : { ok: false, reason: `unshare failed (${r.error?.message ?? `exit ${r.status}: ${(r.stderr ?? '').trim().split('\n').at(-1)}`})` };
  } finally {
    rmdirSync(mnt);
  }
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

/** The toolchain: visible read-only in every sandbox (symlinks such as /bin -> usr/bin kept as links). */
export const TOOLCHAIN_PATHS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];

/**
 * What of /etc a build sees: copies of the files the loader, the compilers and the shell utilities
 * read. Nothing else of /etc (no gitconfig, npmrc, ssh, the bot's own configuration).
 */
export const ETC_ENTRIES = ['passwd', 'group', 'nsswitch.conf', 'ld.so.cache', 'ld.so.conf', 'ld.so.conf.d', 'alternatives', 'localtime', 'ccache.conf', 'hosts', 'host.conf', 'mtab', 'os-release', 'debian_version', 'perl'];

/** the line the sandbox prints for each file a build left in its private /tmp or /dev/shm */
const DISCARDED = 'patchgate-sandbox: discarded a write outside the build directories:';

const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];

export interface SandboxView {
  /** visible read-only (besides the toolchain) */
  readable: string[];
  /** visible read-write */
  writable: string[];
  /** git metadata directories hidden (a `.git` in a readable directory) */
  hidden: string[];
}

/**
 * The git metadata of DIR: its `.git` (a directory, or a file naming the worktree's git dir) and, for a
 * worktree, the git dir and the common dir it points to.
 */
export function gitMetadata(dir: string): { dotGit: string | null; dirs: string[] } {
  const dotGit = path.join(dir, '.git');
  if (!existsSync(dotGit)) return { dotGit: null, dirs: [] };
  if (statSync(dotGit).isDirectory()) return { dotGit, dirs: [dotGit] };
  const m = /^gitdir:\s*(.+)$/m.exec(readFileSync(dotGit, 'utf8'));
  if (!m) return { dotGit, dirs: [] };
  const gitDir = path.resolve(dir, m[1].trim());
  const dirs = [gitDir];
  const common = path.join(gitDir, 'commondir');
  if (existsSync(common)) dirs.push(path.resolve(gitDir, readFileSync(common, 'utf8').trim()));
  return { dotGit, dirs };
}

/** The paths a run sees: the toolchain, then what the run names (default: its working directory). */
export function sandboxView(run: Pick<SandboxRun, 'cwd' | 'readable' | 'writable' | 'git'>): SandboxView {
  const writable = run.writable.map((w) => path.resolve(w));
  const readable = (run.readable ?? [run.cwd]).map((r) => path.resolve(r));
  const hidden: string[] = [];
  for (const r of readable) {
    const g = gitMetadata(r);
    if (!g.dotGit) continue;
    if (run.git) readable.push(...g.dirs.filter((d) => !readable.some((x) => d === x || d.startsWith(`${x}/`))));
    else hidden.push(g.dotGit);
  }
  return { readable: [...new Set(readable)], writable: [...new Set(writable)], hidden };
}

/**
 * The `sh -c` script run as root inside the new namespaces before dropping to the sandbox user. It
 * builds a new root on a tmpfs holding only the toolchain (read-only binds), a few files of /etc, a
 * minimal /dev, a private /proc (this PID namespace only), a private /tmp (its writes vanish with the
 * namespace), the readable directories (read-only) and the writable ones, pivots into it and detaches
 * the old root: the bot's files (configuration, keys, the store, /root, /home, /run, /var ...) do
 * not exist for the build. `$1` is the new root's mount point, `$2` the working directory.
 */
function setupScript(view: SandboxView, s: SandboxSettings): string {
  const mb = 1024 * 1024;
  const q = shellQuote;
  const lines = [
    'set -e',
    'R=$1; WD=$2; shift 2',
    'mount -t tmpfs -o mode=755,size=16m pgroot "$R"',
  ];
  for (const t of TOOLCHAIN_PATHS) {
    let st;
    try {
      st = lstatSync(t);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) lines.push(`ln -s ${q(readlinkSync(t))} "$R"${q(t)}`);
    else if (st.isDirectory()) lines.push(`mkdir "$R"${q(t)} && mount --bind ${q(t)} "$R"${q(t)} && mount -o remount,bind,ro "$R"${q(t)}`);
  }
  const etc = ETC_ENTRIES.filter((e) => existsSync(`/etc/${e}`) || isLink(`/etc/${e}`)).map((e) => q(`/etc/${e}`));
  lines.push(`mkdir "$R/etc"${etc.length ? ` && cp -a ${etc.join(' ')} "$R/etc/"` : ''}`);
  lines.push('mkdir "$R/dev" "$R/dev/shm" "$R/dev/pts" "$R/proc" "$R/tmp"');
  for (const d of DEVICES) lines.push(`if [ -e /dev/${d} ]; then touch "$R/dev/${d}" && mount --bind /dev/${d} "$R/dev/${d}"; fi`);
  lines.push(
    'ln -s /proc/self/fd "$R/dev/fd" && ln -s /proc/self/fd/0 "$R/dev/stdin" && ln -s /proc/self/fd/1 "$R/dev/stdout" && ln -s /proc/self/fd/2 "$R/dev/stderr"',
    'mount -t tmpfs -o size=1g,mode=1777 tmpfs "$R/dev/shm"',
    'mount -t tmpfs -o size=2g,mode=1777 tmpfs "$R/tmp"',
    'mount -t proc -o nosuid,nodev,noexec proc "$R/proc"',
  );
  // parents before children: a writable out dir may sit below a readable tree and the other way round
  const binds = [...view.readable.map((p) => ({ p, ro: true })), ...view.writable.map((p) => ({ p, ro: false }))].sort((a, b) => a.p.length - b.p.length);
  for (const b of binds) {
    lines.push(`mkdir -p "$R"${q(b.p)} && mount --bind ${q(b.p)} "$R"${q(b.p)}` + (b.ro ? ` && mount -o remount,bind,ro,nosuid,nodev "$R"${q(b.p)}` : ` && mount -o remount,bind,nosuid,nodev "$R"${q(b.p)}`));
  }
  // the first levels below /tmp and /dev/shm that hold mount points of the binds are not the build's writes
  const mountParents = [...new Set(binds.map((b) => /^(\/tmp|\/dev\/shm)\/[^/]+/.exec(b.p)?.[0]).filter((p): p is string => !!p))];
  for (const h of view.hidden) {
    lines.push(statSync(h).isDirectory() ? `mount -t tmpfs -o ro,size=4k,mode=755 hidden "$R"${q(h)}` : `mount --bind /dev/null "$R"${q(h)}`);
  }
  lines.push(
    'mkdir "$R/.oldroot" && cd "$R" && pivot_root . .oldroot && umount -l /.oldroot && rmdir /.oldroot',
    'mount -o remount,bind,ro /',
    'cd "$WD" && unset OLDPWD',
    // this shell stays the namespace's init (it reaps orphans) and, after the build, names what the
    // build left in the private /tmp and /dev/shm: writes outside the build directories, discarded
    'set +e',
    `setpriv --reuid=${s.uid} --regid=${s.gid} --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- ` +
      `prlimit --as=${s.memory_mb * mb} --nproc=${s.nproc} --fsize=${s.max_file_mb * mb} --core=0 -- "$@" 2>&1`,
    'rc=$?',
    `find /tmp /dev/shm -mindepth 1 -maxdepth 1 2>/dev/null | while read -r f; do case "$f" in ${mountParents.length ? `${mountParents.map(q).join('|')}) ;; ` : ''}*) echo "${DISCARDED} $f";; esac; done | head -n 10`,
    'exit $rc',
  );
  return lines.join('\n');
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

const DENIALS: Array<[RegExp, string]> = [
  [/Network is unreachable|Cannot assign requested address|Temporary failure in name resolution|Could not resolve host|Name or service not known/i, 'network access blocked'],
  [/Read-only file system/, 'write outside the build directories blocked'],
  [/^patchgate-sandbox: discarded a write outside the build directories:/, 'write outside the build directories discarded'],
  [/fork: (retry: )?Resource temporarily unavailable|Cannot fork|fork failed/i, 'process limit reached'],
];

/**
 * What the sandbox stopped, read from a build log: network access, writes to read-only places, the
 * process limit, and reads of absolute paths that the sandbox hides (not found, or denied). One line
 * each (`why: the log line`), at most 10.
 */
export function sandboxDenials(logText: string, view?: SandboxView): string[] {
  const visible = view ? [...view.readable, ...view.writable, ...TOOLCHAIN_PATHS] : [];
  const out: string[] = [];
  const seen = new Set<string>();
  for (const raw of logText.split('\n')) {
    if (out.length >= 10) break;
    const line = raw.trim().slice(0, 300);
    if (!line) continue;
    let why: string | null = null;
    for (const [re, w] of DENIALS) {
      if (re.test(line)) {
        why = w;
        break;
      }
    }
    if (!why && view) {
      const m = /(?:^|[\s'"`])(\/[^\s:'"`]+)['"`]?: (No such file or directory|Permission denied)/.exec(line);
      if (m && !visible.some((v) => m[1] === v || m[1].startsWith(`${v}/`))) why = 'access to a path hidden by the sandbox blocked';
    }
    if (!why) continue;
    const key = `${why}\0${line}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(`sandbox: ${why}: ${line.startsWith(DISCARDED) ? line.slice(DISCARDED.length).trim() : line}`);
  }
  return out;
}

/** The number of processes whose real uid is UID. */
export function countUserProcesses(uid: number): number {
  let n = 0;
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const m = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${e}/status`, 'utf8'));
      if (m && Number(m[1]) === uid) n++;
    } catch {
      /* gone */
    }
  }
  return n;
}

/** The number of processes below PID (its children, theirs ...), from /proc. */
export function countDescendants(pid: number): number {
  const children = new Map<number, number[]>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces and parentheses
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid);
      if (list) list.push(Number(e));
      else children.set(ppid, [Number(e)]);
    } catch {
      /* gone */
    }
  }
  let n = 0;
  const stack = [pid];
  while (stack.length) {
    for (const c of children.get(stack.pop()!) ?? []) {
      n++;
      stack.push(c);
    }
  }
  return n;
}

let cgroups = 0;
let cgroupWarned = false;

/** The build's cgroup (null: none here, or it could not be made; the per-process limits still hold). */
function buildCgroup(settings: SandboxSettings): BuildCgroup | null {
  if (!settings.cgroup) return null;
  try {
    const cg = createBuildCgroup(`b${process.pid}-${++cgroups}`, { memoryMb: settings.build_memory_mb, pids: settings.nproc });
    if (!cg && !cgroupWarned) log.warn('no cgroup memory and pids controllers on this host: builds are limited per process only');
    cgroupWarned ||= !cg;
    return cg;
  } catch (err) {
    if (!cgroupWarned) log.warn({ err }, 'cannot set up a build cgroup: builds are limited per process only');
    cgroupWarned = true;
    return null;
  }
}

/** ARGV run from a shell that first puts itself (and so everything it starts) into the cgroup's procs files. */
function inCgroup(procs: string[], argv: string[]): string[] {
  const join = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 126; shift; n=$((n - 1)); done; exec "$@"';
  return ['/bin/sh', '-c', join, 'cgroup', String(procs.length), ...procs, ...argv];
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
  const view = sandboxView(run);
  let mnt: string | null = null;
  let cgroup: BuildCgroup | null = null;
  if (isolation === 'namespaces') {
    // the new root's mount point (an empty directory; the tmpfs on it exists only in the namespace)
    mnt = mkdtempSync(path.join(os.tmpdir(), 'pg-sandbox-root-'));
    argv = ['timeout', '-s', 'KILL', `${timeoutS + 5}`, 'unshare', ...UNSHARE,
      '/bin/sh', '-c', setupScript(view, settings), 'sandbox', mnt, path.resolve(run.cwd), run.command, ...run.args];
    cgroup = buildCgroup(settings);
    if (cgroup) argv = inCgroup(cgroup.procs, argv);
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
  let processesAtLimit = 0;
  let userProcessesAtLimit = 0;
  const timer = setTimeout(() => {
    timedOut = true;
    // how many processes the build had when its time ran out (a fork bomb fills the process limit)
    if (child.pid) processesAtLimit = countDescendants(child.pid);
    userProcessesAtLimit = countUserProcesses(uid);
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
  if (mnt) {
    try {
      rmdirSync(mnt);
    } catch (err) {
      log.warn({ err, mnt }, 'cannot remove the sandbox root mount point');
    }
  }
  // timeout(1) exits 137 when its own guard fired
  if (code === 137 && Date.now() - started >= run.timeoutMs) timedOut = true;
  let denials: string[] = [];
  if (isolation === 'namespaces') {
    try {
      denials = sandboxDenials(readFileSync(run.logFile, 'utf8'), view);
    } catch (err) {
      log.warn({ err }, 'cannot read the build log for sandbox denials');
    }
    // RLIMIT_NPROC counts every process of the sandbox user, other builds' too
    if (timedOut && userProcessesAtLimit >= settings.nproc * 0.9) {
      denials.push(`sandbox: process limit reached: ${processesAtLimit} processes in the build at the time limit, ${userProcessesAtLimit} of uid ${uid} (limit ${settings.nproc})`);
    }
  }
  if (cgroup) {
    const u = cgroup.usage();
    if (u.oomKills > 0) denials.push(`sandbox: memory limit of ${settings.build_memory_mb} MiB for the whole build reached: ${u.oomKills} process(es) killed`);
    if (u.pidsLimitHit) denials.push(`sandbox: process limit of ${settings.nproc} for the whole build reached`);
    cgroup.remove();
  }
  return { code, signalName, timedOut, aborted, outputLimited, durationMs: Date.now() - started, isolation, denials };
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
