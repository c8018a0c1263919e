// Functional cells of the matrix that run on a guest on tap in a private namespace (topologies.ts):
//   file-copy-to-guest / file-copy-from-guest  HTTP both ways (busybox httpd and wget), checked by sha256
//   qos-cgroup  the guest's QEMU in a cgroup with a CPU quota: the host-side transaction rate must follow it
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FunctionalCheck } from './matrix.js';
import type { NetNs } from './netns.js';
import { runTapGuest, type TapGuestOptions } from './topologies.js';


export interface CheckResult {
  check: FunctionalCheck;
  /** not-run: the guest cannot do the check at all (for example no PCI hotplug in the guest kernel) */
  status: 'success' | 'failure' | 'not-run';
  summary: string;
  details: Record<string, unknown>;
}

function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

async function waitFor(file: string, re: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  const t0 = Date.now();
  for (;;) {
    const m = existsSync(file) ? re.exec(readFileSync(file, 'utf8')) : null;
    if (m) return m;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${re} in ${file}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function runIn(ns: NetNs, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(ns.wrap[0], [...ns.wrap.slice(1), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (c) => resolve({ code: c ?? -1, stderr: err }));
  });
}

export interface CopyResult {
  toGuest: CheckResult;
  fromGuest: CheckResult;
  wallMs: number;
}

/** One boot copies a file each way: host → guest (the guest prints its sha256) and guest → host. */
export async function runFileCopy(o: Omit<TapGuestOptions, 'test' | 'transactions'> & { bytes?: number; busybox?: string }): Promise<CopyResult> {
  const bytes = o.bytes ?? 4 * 1024 * 1024;
  const busybox = o.busybox ?? '/bin/busybox';
  mkdirSync(o.workDir, { recursive: true });
  const www = mkdtempSync(path.join(o.workDir, 'www-'));
  const input = randomBytes(bytes);
  writeFileSync(path.join(www, 'in.bin'), input);
  const fetched = path.join(o.workDir, 'out.bin');
  let guestIn: { sha: string; size: number } | null = null;
  let guestOut: { sha: string; size: number } | null = null;
  let hostGot: Buffer | null = null;
  const t0 = Date.now();
  try {
    await runTapGuest({
      ...o, test: 'TCP_RR', transactions: 1, extraAppend: `pg.mode=copy pg.copy_blocks=${Math.ceil(bytes / 65536)}`,
      during: async (serial, ns) => {
        const httpd = spawn(ns.wrap[0], [...ns.wrap.slice(1), busybox, 'httpd', '-f', '-p', '10.0.2.1:8000', '-h', www], { stdio: 'ignore', detached: true });
        try {
          const a = await waitFor(serial, /^PGNET-COPY-IN ([0-9a-f]{64}) (\d+)/m, 120_000).catch(() => null);
          if (a) guestIn = { sha: a[1], size: Number(a[2]) };
          const b = await waitFor(serial, /^PGNET-COPY-OUT ([0-9a-f]{64}) (\d+)/m, 120_000);
          guestOut = { sha: b[1], size: Number(b[2]) };
          const w = await runIn(ns, [busybox, 'wget', '-q', '-O', fetched, 'http://10.0.2.2:8080/out.bin']);
          if (w.code === 0 && existsSync(fetched)) hostGot = readFileSync(fetched);
        } finally {
          writeFileSync(path.join(www, 'fetched'), 'ok\n'); // lets the guest finish
          await waitFor(serial, /^PGNET-DONE/m, 60_000).catch(() => null);
          try {
            process.kill(-httpd.pid!, 'SIGTERM');
          } catch {
            /* already gone */
          }
        }
      },
    });
  } finally {
    rmSync(www, { recursive: true, force: true });
  }
  const want = sha256(input);
  const gi = guestIn as { sha: string; size: number } | null;
  const go = guestOut as { sha: string; size: number } | null;
  const hg = hostGot as Buffer | null;
  const toGuest: CheckResult = gi && gi.sha === want && gi.size === bytes
    ? { check: 'file-copy-to-guest', status: 'success', summary: `${bytes} bytes host -> guest, sha256 matches`, details: { sha256: want, bytes } }
    : { check: 'file-copy-to-guest', status: 'failure', summary: gi ? `guest got ${gi.size} bytes, sha256 ${gi.sha.slice(0, 12)} != ${want.slice(0, 12)}` : 'the guest did not get the file', details: { want, got: gi } };
  const hostSha = hg ? sha256(hg) : null;
  const fromGuest: CheckResult = go && hg && hostSha === go.sha && hg.length === go.size
    ? { check: 'file-copy-from-guest', status: 'success', summary: `${go.size} bytes guest -> host, sha256 matches`, details: { sha256: go.sha, bytes: go.size } }
    : { check: 'file-copy-from-guest', status: 'failure', summary: go ? `host got ${hg?.length ?? 0} bytes, sha256 ${hostSha?.slice(0, 12) ?? '-'} != ${go.sha.slice(0, 12)}` : 'the guest did not serve its file', details: { guest: go, hostSha } };
  return { toGuest, fromGuest, wallMs: Date.now() - t0 };
}

/** A cgroup for one QEMU with a CPU quota (cgroup v2 cpu.max, or v1 cpu.cfs_quota_us). */
export function makeCpuCgroup(name: string, quota: number): { dir: string; remove: () => void } {
  const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
  const dir = v2 ? path.join('/sys/fs/cgroup', name) : path.join('/sys/fs/cgroup/cpu', name);
  mkdirSync(dir, { recursive: true });
  const period = 100_000;
  if (v2) writeFileSync(path.join(dir, 'cpu.max'), `${Math.round(quota * period)} ${period}`);
  else {
    writeFileSync(path.join(dir, 'cpu.cfs_period_us'), String(period));
    writeFileSync(path.join(dir, 'cpu.cfs_quota_us'), String(Math.round(quota * period)));
  }
  return {
    dir,
    remove: () => {
      try {
        rmdirSync(dir); // a cgroup directory goes with rmdir once its processes are gone
      } catch {
        /* still busy: left behind, named after this process */
      }
    },
  };
}

/** cpu.stat of a cgroup: nr_periods, nr_throttled, throttled_time (v1) / throttled_usec (v2). */
export function readCpuStat(dir: string): Record<string, number> {
  const f = path.join(dir, 'cpu.stat');
  if (!existsSync(f)) return {};
  return Object.fromEntries(readFileSync(f, 'utf8').trim().split('\n').map((l) => l.split(' ')).map(([k, v]) => [k, Number(v)]));
}

export interface QosResult extends CheckResult {
  free: number;
  limited: number;
}

/**
 * TCP_RR from a guest to the host side, once freely and once with the guest's QEMU in a cgroup limited to
 * `quota` of a CPU. The host-side rate (real time, unlike the guest's -icount clock) must follow the limit:
 * limited <= free x max(2 x quota, 0.6), a loose bound since the free run itself shares 2 busy CPUs.
 */
export async function runQos(o: Omit<TapGuestOptions, 'test' | 'cgroup'> & { quota?: number }): Promise<QosResult> {
  const quota = o.quota ?? 0.1;
  const rate = async (cgroup?: string, tag = 'free') => {
    const r = await runTapGuest({ ...o, test: 'TCP_RR', workDir: path.join(o.workDir, tag), cgroup });
    const s = r.hostServers.filter((x) => x.transactions === o.transactions).at(-1);
    if (!s) throw new Error('no host-side result');
    return s.transactions / (s.elapsed_ns / 1e9);
  };
  const free = await rate();
  const cg = makeCpuCgroup(`patchgate-qos-${process.pid}-${Date.now()}`, quota);
  let limited: number;
  let stat: Record<string, number> = {};
  try {
    limited = await rate(cg.dir, 'limited');
    stat = readCpuStat(cg.dir);
  } finally {
    cg.remove();
  }
  // The limit held when the scheduler throttled the group and the rate fell. How far it falls depends on the
  // CPU the free run got: on a loaded host that may be little more than the quota.
  const throttled = (stat.nr_throttled ?? 0) > 0;
  const ok = throttled && limited < free * 0.9;
  return {
    check: 'qos-cgroup', status: ok ? 'success' : 'failure', free, limited,
    summary: `host-side TCP_RR ${free.toFixed(0)}/s free, ${limited.toFixed(0)}/s with cpu quota ${(quota * 100).toFixed(0)}% (${((limited / free) * 100).toFixed(0)}%), throttled ${stat.nr_throttled ?? 0} of ${stat.nr_periods ?? 0} periods`,
    details: { free, limited, quota, cpuStat: stat },
  };
}

/** A minimal QMP client over QEMU's unix socket: commands in order, events collected. */
export async function qmpConnect(sock: string, timeoutMs = 30_000): Promise<{
  cmd: (execute: string, args?: Record<string, unknown>) => Promise<unknown>;
  waitEvent: (name: string, ms: number) => Promise<Record<string, unknown>>;
  close: () => void;
}> {
  const net = await import('node:net');
  const t0 = Date.now();
  let s: import('node:net').Socket | null = null;
  while (!s) {
    try {
      s = await new Promise<import('node:net').Socket>((resolve, reject) => {
        const c = net.createConnection(sock, () => resolve(c));
        c.once('error', reject);
      });
    } catch (err) {
      if (Date.now() - t0 > timeoutMs) throw new Error(`QMP socket ${sock}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const sock_ = s;
  let buf = '';
  const replies: ((v: Record<string, unknown>) => void)[] = [];
  const events: Record<string, unknown>[] = [];
  const waiters: { name: string; resolve: (e: Record<string, unknown>) => void }[] = [];
  let greeted: () => void = () => undefined;
  const greeting = new Promise<void>((r) => (greeted = r));
  sock_.on('data', (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (!line) continue;
      const msg = JSON.parse(line) as Record<string, unknown>;
      if ('QMP' in msg) greeted();
      else if ('event' in msg) {
        events.push(msg);
        for (const w of waiters.filter((x) => x.name === msg.event)) w.resolve(msg);
      } else replies.shift()?.(msg);
    }
  });
  await greeting;
  const cmd = (execute: string, args?: Record<string, unknown>) =>
    new Promise<unknown>((resolve, reject) => {
      replies.push((m) => ('error' in m ? reject(new Error(`${execute}: ${JSON.stringify(m.error)}`)) : resolve(m.return)));
      sock_.write(JSON.stringify(args ? { execute, arguments: args } : { execute }) + '\n');
    });
  await cmd('qmp_capabilities');
  return {
    cmd,
    waitEvent: (name, ms) => {
      const seen = events.find((e) => e.event === name);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no ${name} event in ${ms} ms`)), ms);
        waiters.push({ name, resolve: (e) => (clearTimeout(t), resolve(e)) });
      });
    },
    close: () => sock_.destroy(),
  };
}

/** device_add / device_del of a virtio-net-pci through the QEMU monitor; the guest must see it come and go. */
export async function runHotplug(o: Omit<TapGuestOptions, 'test' | 'transactions'>): Promise<CheckResult> {
  mkdirSync(o.workDir, { recursive: true });
  const qmp = path.join(o.workDir, 'qmp.sock');
  const steps: string[] = [];
  let fault: string | null = null;
  await runTapGuest({
    ...o, test: 'TCP_RR', transactions: 1, extraAppend: 'pg.mode=hotplug', extraQemuArgs: ['-qmp', `unix:${qmp},server=on,wait=off`],
    during: async (serial) => {
      try {
        const ready = await waitFor(serial, /^PGNET-HOTPLUG ready (.*)$/m, 120_000);
        steps.push(`guest ready (${ready[1].trim()})`);
        const m = await qmpConnect(qmp);
        try {
          if (/acpi=no slots=0/.test(ready[1])) {
            fault = 'the guest kernel cannot see hotplugged PCI devices: no ACPI and no hotplug slots (CONFIG_ACPI, CONFIG_HOTPLUG_PCI_ACPI)';
            await m.cmd('quit').catch(() => undefined);
            return;
          }
          await m.cmd('netdev_add', { type: 'socket', id: 'hn1', listen: '127.0.0.1:0' }).catch(() => m.cmd('netdev_add', { type: 'socket', id: 'hn1', udp: '127.0.0.1:1', localaddr: '127.0.0.1:0' }));
          await m.cmd('device_add', { driver: 'virtio-net-pci', id: 'hp1', netdev: 'hn1', mac: '52:54:00:12:34:99' });
          steps.push('device_add');
          const added = await waitFor(serial, /^PGNET-HOTPLUG (added \S+|timeout)/m, 60_000);
          steps.push(`guest: ${added[1]}`);
          if (added[1].startsWith('added')) {
            await m.cmd('device_del', { id: 'hp1' });
            steps.push('device_del');
            await m.waitEvent('DEVICE_DELETED', 60_000);
            steps.push('DEVICE_DELETED');
            await waitFor(serial, /^PGNET-HOTPLUG removed/m, 30_000);
            steps.push('guest: removed');
          }
        } finally {
          m.close();
        }
      } catch (err) {
        fault = (err as Error).message;
      }
    },
  });
  const ok = steps.includes('guest: removed') && steps.some((s) => s === 'guest: added 52:54:00:12:34:99');
  const f = fault as string | null;
  if (f?.startsWith('the guest kernel cannot')) return { check: 'hotplug', status: 'not-run', summary: f, details: { steps } };
  return {
    check: 'hotplug', status: ok ? 'success' : 'failure',
    summary: ok ? 'virtio-net-pci added and removed via QMP; the guest saw eth1 come (52:54:00:12:34:99) and go' : `hotplug failed after: ${steps.join(' -> ') || 'nothing'}${fault ? ` (${fault})` : ''}`,
    details: { steps, fault },
  };
}

export interface MigrationResult extends CheckResult {
  /** query-migrate of the source at the end: status, total time, downtime (ms) */
  migrate: Record<string, unknown> | null;
}

/**
 * Live migration between two local QEMU processes while TCP_RR runs from the guest to the host side. The two
 * QEMUs sit on taps bridged in a private namespace (br0 = 10.0.2.1); the destination waits with -incoming.
 * The check passes when the migration completes and the guest finishes its run on the destination, the
 * connection surviving the switch (QEMU's self-announce moves the guest's MAC to the destination's tap).
 */
export async function runMigration(o: Omit<TapGuestOptions, 'test' | 'transactions'> & { secs?: number; migrateAfterMs?: number }): Promise<MigrationResult> {
  const { openNetns } = await import('./netns.js');
  const { buildHostPgnet, startHostServer } = await import('./host-pgnet.js');
  const { tapGuestArgs } = await import('./topologies.js');
  mkdirSync(o.workDir, { recursive: true });
  const secs = o.secs ?? 12;
  const ns = await openNetns();
  const pgnet = buildHostPgnet(o.binDir ?? path.join(o.workDir, '..', 'bin'));
  const server = startHostServer(pgnet, 12865, ns.wrap);
  const port = 40000 + (process.pid % 20000);
  const procs: import('node:child_process').ChildProcess[] = [];
  const steps: string[] = [];
  let info: Record<string, unknown> | null = null;
  let fault: string | null = null;
  const t0 = Date.now();
  try {
    ns.exec('ip', ['link', 'add', 'br0', 'type', 'bridge']);
    ns.exec('ip', ['addr', 'add', '10.0.2.1/24', 'dev', 'br0']);
    ns.exec('ip', ['link', 'set', 'br0', 'up']);
    for (const t of ['pgtap0', 'pgtap1']) {
      ns.exec('ip', ['tuntap', 'add', 'dev', t, 'mode', 'tap']);
      ns.exec('ip', ['link', 'set', t, 'master', 'br0']);
      ns.exec('ip', ['link', 'set', t, 'up']);
    }
    await server.ready;
    const guest = { ...o, test: 'TCP_RR' as const, transactions: 0, extraAppend: `pg.secs=${secs}` };
    const start = (tap: string, tag: string, extra: string[]) => {
      const args = [...tapGuestArgs({ ...guest, extraQemuArgs: ['-qmp', `unix:${path.join(o.workDir, `${tag}.sock`)},server=on,wait=off`, ...extra] }, tap, path.join(o.workDir, `${tag}.log`))];
      const p = spawn(ns.wrap[0], [...ns.wrap.slice(1), 'timeout', '-k', '2', String(o.timeoutSec ?? 240), o.qemu ?? 'qemu-system-x86_64', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      const done = new Promise<{ code: number; err: string }>((resolve) => p.on('close', (c) => resolve({ code: c ?? -1, err })));
      procs.push(p);
      return done;
    };
    const dest = start('pgtap1', 'dest', ['-incoming', `tcp:127.0.0.1:${port}`]);
    const src = start('pgtap0', 'src', []);
    await waitFor(path.join(o.workDir, 'src.log'), /^PGNET-RUNNING/m, 120_000);
    steps.push('guest running TCP_RR on the source');
    await new Promise((r) => setTimeout(r, o.migrateAfterMs ?? 3000));
    const m = await qmpConnect(path.join(o.workDir, 'src.sock'));
    try {
      await m.cmd('migrate', { uri: `tcp:127.0.0.1:${port}` });
      steps.push('migrate');
      for (let i = 0; i < 1200; i++) {
        info = (await m.cmd('query-migrate')) as Record<string, unknown>;
        if (info.status === 'completed' || info.status === 'failed' || info.status === 'cancelled') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      steps.push(`migration ${String(info?.status)}`);
      await m.cmd('quit').catch(() => undefined);
    } finally {
      m.close();
    }
    await src;
    const d = await dest;
    steps.push(`destination exited ${d.code}`);
  } catch (err) {
    fault = (err as Error).message;
  } finally {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
    await server.stop();
    await ns.close();
  }
  const destLog = existsSync(path.join(o.workDir, 'dest.log')) ? readFileSync(path.join(o.workDir, 'dest.log'), 'utf8') : '';
  const result = /^PGNET-STREAM 0 PGNET (\{.*\})\s*$/m.exec(destLog);
  const client = result ? (JSON.parse(result[1]) as { transactions: number; elapsed_ns: number }) : null;
  const ok = info?.status === 'completed' && !!client && client.transactions > 0 && destLog.includes('PGNET-DONE');
  const downtime = info?.downtime as number | undefined;
  return {
    check: 'migration', status: ok ? 'success' : 'failure', migrate: info,
    summary: ok
      ? `migrated during TCP_RR in ${String(info?.['total-time'] ?? '?')} ms (downtime ${downtime ?? '?'} ms); the guest finished ${client!.transactions} transactions on the destination, ${((Date.now() - t0) / 1000).toFixed(0)} s`
      : `migration check failed after: ${steps.join(' -> ') || 'nothing'}${fault ? ` (${fault})` : ''}`,
    details: { steps, fault, client },
  };
}
