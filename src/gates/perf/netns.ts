// A private network namespace held open by a sleeping process: commands enter it with nsenter, so the
// host side of a topology (tap devices, a pgnet server) and the QEMUs share one namespace that reaches
// nothing outside. Needs root (machine-facts.md: tap works as root inside `unshare -n`).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';

export interface NetNs {
  pid: number;
  /** the prefix that runs a command inside the namespace */
  wrap: string[];
  /** runs a command inside the namespace and returns its stdout (throws on failure) */
  exec(cmd: string, args: string[]): string;
  close(): Promise<void>;
}

export function canUseNetns(): { ok: boolean; reason: string } {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'not root: no private network namespace or tap device' };
  try {
    execFileSync('unshare', ['--net', '--', 'true'], { stdio: 'pipe' });
  } catch (err) {
    return { ok: false, reason: `unshare --net failed: ${(err as Error).message.split('\n')[0]}` };
  }
  return { ok: true, reason: 'root, unshare --net works' };
}

/** Opens a namespace with loopback up. */
export async function openNetns(): Promise<NetNs> {
  const holder: ChildProcess = spawn('unshare', ['--net', '--', 'sleep', '100000'], { stdio: 'ignore', detached: true });
  const pid = holder.pid;
  if (!pid) throw new Error('unshare --net did not start');
  const wrap = ['nsenter', `--net=/proc/${pid}/ns/net`, '--'];
  // wait until unshare has exec'd sleep inside the new namespace
  const self = execFileSync('readlink', ['/proc/self/ns/net']).toString().trim();
  for (let i = 0; ; i++) {
    let ns = '';
    try {
      ns = execFileSync('readlink', [`/proc/${pid}/ns/net`]).toString().trim();
    } catch {
      /* not there yet */
    }
    if (ns && ns !== self) break;
    if (i > 200) throw new Error('the network namespace did not appear');
    await new Promise((r) => setTimeout(r, 10));
  }
  const exec = (cmd: string, args: string[]) => execFileSync(wrap[0], [...wrap.slice(1), cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  exec('ip', ['link', 'set', 'lo', 'up']);
  return {
    pid,
    wrap,
    exec,
    close: () =>
      new Promise<void>((resolve) => {
        if (holder.exitCode !== null || holder.signalCode !== null) return resolve();
        holder.once('close', () => resolve());
        holder.kill('SIGTERM');
      }),
  };
}
