// Topologies beyond one guest pair over QEMU's socket netdev (guest-runner.ts):
//   guest-to-host  one guest on a tap device in a private network namespace, pgnet's server on the host side
//   multiqueue     the same with virtio-net mq=on, N queues and N vCPUs (tap supports queues=N; socket does not)
//   several pairs  N guest pairs at once (the vhost workqueue item), with per-pair fairness
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runGuestPair, type ClientResult, type PairOptions, type PairResult } from './guest-runner.js';
import { buildHostPgnet, parseServerLines, startHostServer, type HostServer } from './host-pgnet.js';
import { openNetns } from './netns.js';
import { buildInitramfs } from './initramfs.js';

const here = path.dirname(fileURLToPath(import.meta.url));

function topoInit(): string {
  for (const d of [path.join(here, 'guest-topo'), path.resolve(here, '..', '..', '..', '..', 'src', 'gates', 'perf', 'guest-topo')]) {
    if (existsSync(path.join(d, 'init.sh'))) return path.join(d, 'init.sh');
  }
  throw new Error('cannot find guest-topo/init.sh');
}

/** The topology guests' initramfs: busybox, pgnet, and guest-topo/init.sh (parallel streams, queue info). */
export function buildTopologyInitramfs(outDir: string, busybox = '/bin/busybox'): string {
  return buildInitramfs(outDir, busybox, { init: topoInit(), name: 'topo' }).path;
}

export interface GuestInfo {
  cpus: number;
  rx_queues: number;
  tx_queues: number;
}

/** `PGNET-STREAM j PGNET {...}` lines (topology init) and the PGNET-INFO line of a console log. */
export function parseTopologyConsole(log: string): { streams: ClientResult[]; info: GuestInfo | null; clock: string | null; done: boolean } {
  const streams: ClientResult[] = [];
  let info: GuestInfo | null = null;
  let clock: string | null = null;
  for (const line of log.split(/\r?\n/)) {
    const s = /^PGNET-STREAM (\d+) PGNET (\{.*\})\s*$/.exec(line);
    if (s) {
      try {
        streams.push(JSON.parse(s[2]) as ClientResult);
      } catch {
        /* garbled by a kernel message */
      }
    }
    const i = /^PGNET-INFO (\{.*\})\s*$/.exec(line);
    if (i) info = JSON.parse(i[1]) as GuestInfo;
    const c = /^PGNET-CLOCK (\S+)/.exec(line);
    if (c) clock = c[1];
  }
  return { streams, info, clock, done: log.includes('PGNET-DONE') };
}

export interface TapGuestOptions extends Omit<PairOptions, 'initrd' | 'isolate' | 'port'> {
  /** the topology initramfs (buildTopologyInitramfs) */
  initrd: string;
  /** virtio-net queue pairs (mq=on when > 1) and vCPUs; default 1 */
  queues?: number;
  vcpus?: number;
  /** parallel pgnet streams; default = queues */
  streams?: number;
  /** QEMU's vhost for the tap netdev (needs /dev/vhost-net) */
  vhost?: boolean;
  /** where the host-side pgnet is built */
  binDir?: string;
  /** more pg.* parameters for the guest's /init (functional checks) */
  extraAppend?: string;
  /** more QEMU arguments (functional checks: -qmp) */
  extraQemuArgs?: string[];
  /** a cgroup directory (v1 or v2) QEMU runs in: its pid goes to cgroup.procs before QEMU starts */
  cgroup?: string;
  /** called once the QEMU runs, with the serial log path and the namespace (functional checks drive the guest) */
  during?: (serial: string, ns: import('./netns.js').NetNs) => Promise<void>;
}

export interface TapGuestResult {
  topology: 'guest-to-host' | 'multiqueue';
  streams: ClientResult[];
  /** the host side's view of each connection */
  hostServers: { transactions: number; bytes: number; elapsed_ns: number }[];
  info: GuestInfo | null;
  clock: string | null;
  /** aggregate rates over the streams */
  trans_per_sec: number;
  throughput: number;
  /**
   * guest busy ns per transaction (or per KB for STREAM): the streams overlap, and each measured the whole
   * guest's busy time over its own window, so the longest window's busy time is divided by all the work
   */
  busy_ns_per_trans: number;
  busy_ns_per_kb: number;
  qemuArgs: string[];
  wallMs: number;
  exitCode: number;
  log: string;
}

/** The version string in a bzImage's setup header ("6.1.192 (root@vm) #1 SMP ..."), or null. */
export function kernelVersion(bzImage: string): string | null {
  try {
    const b = readFileSync(bzImage);
    if (b.length < 0x210 || b.toString('latin1', 0x202, 0x206) !== 'HdrS') return null;
    const off = b.readUInt16LE(0x20e) + 0x200;
    const end = b.indexOf(0, off);
    return end > off ? b.toString('latin1', off, end) : null;
  } catch {
    return null;
  }
}

/** Whether a bzImage was built with CONFIG_SMP (its version string says `SMP`). */
export function kernelIsSmp(bzImage: string): boolean {
  return / SMP\b/.test(kernelVersion(bzImage) ?? '');
}

/** QEMU's command line for one guest on tap `ifname` (exported for the tests of argument building). */
export function tapGuestArgs(o: TapGuestOptions, ifname: string, serial: string): string[] {
  const queues = o.queues ?? 1;
  const vcpus = o.vcpus ?? queues;
  const streams = o.streams ?? queues;
  const accel = o.accel ?? 'tcg';
  // Under -icount an SMP guest kernel hangs at "Booting SMP configuration" on this machine (the secondary CPUs
  // never come up); it runs under multi-threaded TCG without -icount (its cost metric then depends on the
  // host's load). A uniprocessor kernel given N vCPUs simply uses one, and keeps -icount.
  const icount = o.icount ?? (accel === 'tcg' && !(vcpus > 1 && kernelIsSmp(o.kernel)));
  const netdev = [`tap,id=n0,ifname=${ifname},script=no,downscript=no,vhost=${o.vhost ? 'on' : 'off'}`];
  if (queues > 1) netdev.push(`queues=${queues}`);
  const device = ['virtio-net-pci,netdev=n0,mac=52:54:00:12:34:02'];
  if (queues > 1) device.push('mq=on', `vectors=${2 * queues + 2}`);
  const append = [
    // nolapic_timer keeps a 1-vCPU guest from spinning 27 s in LAPIC calibration under icount, but with it the
    // secondary CPUs never come up: SMP guests pay the calibration instead
    `console=ttyS0 panic=-1 ${icount ? 'tsc_early_khz=1000000 ' : ''}tsc=reliable${vcpus > 1 ? '' : ' nolapic_timer'} i8042.noaux=1 i8042.nokbd=1 virtio_net.napi_tx=0 quiet`,
    'pg.role=client pg.ip=10.0.2.2 pg.peer=10.0.2.1 pg.port=12865',
    `pg.test=${o.test} pg.n=${o.transactions} pg.reps=${o.reps ?? 1} pg.size=${o.size ?? '1,1'} pg.msg=${o.msg ?? 16384} pg.streams=${streams}`,
    ...(o.extraAppend ? [o.extraAppend] : []),
  ].join(' ');
  return [
    '-accel', accel === 'tcg' && vcpus > 1 && !icount ? 'tcg,thread=multi' : accel, ...(icount ? ['-icount', 'shift=0,align=off,sleep=on'] : []),
    '-m', String(o.memMb ?? 256), '-smp', String(vcpus), '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-kernel', o.kernel, '-initrd', o.initrd, '-serial', `file:${serial}`,
    '-netdev', netdev.join(','), '-device', device.join(','),
    '-append', append,
    ...(o.extraQemuArgs ?? []),
  ];
}

function aggregate(streams: ClientResult[]): Pick<TapGuestResult, 'trans_per_sec' | 'throughput' | 'busy_ns_per_trans' | 'busy_ns_per_kb'> {
  const trans = streams.reduce((s, c) => s + c.transactions, 0);
  const bytes = streams.reduce((s, c) => s + c.bytes, 0);
  const widest = streams.reduce((a, c) => (c.elapsed_ns > a.elapsed_ns ? c : a), streams[0]);
  return {
    trans_per_sec: streams.reduce((s, c) => s + c.trans_per_sec, 0),
    throughput: streams.reduce((s, c) => s + c.throughput, 0),
    busy_ns_per_trans: widest && trans ? widest.busy_ns / trans : 0,
    busy_ns_per_kb: widest && bytes ? widest.busy_ns / (bytes / 1024) : 0,
  };
}

/**
 * One guest on a tap device in a private network namespace; the host side (10.0.2.1) runs pgnet servers.
 * With queues > 1 this is the multiqueue topology: mq=on, N queue pairs, N vCPUs, N parallel streams.
 */
export async function runTapGuest(o: TapGuestOptions): Promise<TapGuestResult> {
  mkdirSync(o.workDir, { recursive: true });
  const queues = o.queues ?? 1;
  const streams = o.streams ?? queues;
  const pgnet = buildHostPgnet(o.binDir ?? path.join(o.workDir, '..', 'bin'));
  const ns = await openNetns();
  const servers: HostServer[] = [];
  const serial = path.join(o.workDir, 'guest.log');
  const t0 = Date.now();
  try {
    const ifname = 'pgtap0';
    ns.exec('ip', ['tuntap', 'add', 'dev', ifname, 'mode', 'tap', ...(queues > 1 ? ['multi_queue'] : [])]);
    ns.exec('ip', ['addr', 'add', '10.0.2.1/24', 'dev', ifname]);
    ns.exec('ip', ['link', 'set', ifname, 'up']);
    for (let j = 0; j < streams; j++) servers.push(startHostServer(pgnet, 12865 + j, ns.wrap));
    await Promise.all(servers.map((s) => s.ready));
    const args = tapGuestArgs(o, ifname, serial);
    const timeout = o.timeoutSec ?? 180;
    const qemu = o.qemu ?? 'qemu-system-x86_64';
    const inner = ['timeout', '-k', '2', String(timeout), qemu, ...args];
    const cmd = o.cgroup ? ['sh', '-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', o.cgroup, ...inner] : inner;
    let during: Promise<unknown> | null = null;
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve, reject) => {
      const p = spawn(ns.wrap[0], [...ns.wrap.slice(1), ...cmd], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.on('error', reject);
      p.on('close', (c) => resolve({ code: c ?? -1, stderr: err }));
      if (o.during) during = o.during(serial, ns).then(() => null, (e: unknown) => e);
    });
    const duringErr = during ? await during : null;
    if (duringErr) throw duringErr;
    await new Promise((r) => setTimeout(r, 50));
    const log = existsSync(serial) ? readFileSync(serial, 'utf8') : '';
    const parsed = parseTopologyConsole(log);
    if (parsed.streams.length === 0 && !o.during) throw new Error(`tap guest gave no result (exit ${code}): ${stderr.trim() || log.slice(-400)}`);
    const hostServers = servers.flatMap((s) => parseServerLines(s.output())).map(({ transactions, bytes, elapsed_ns }) => ({ transactions, bytes, elapsed_ns }));
    return {
      topology: queues > 1 ? 'multiqueue' : 'guest-to-host',
      streams: parsed.streams, hostServers, info: parsed.info, clock: parsed.clock, ...aggregate(parsed.streams),
      qemuArgs: args, wallMs: Date.now() - t0, exitCode: code, log,
    };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    await ns.close();
  }
}

export interface Fairness {
  /** Jain's index over the per-pair rates: 1 = perfectly fair, 1/N = one pair gets everything */
  jain: number;
  /** (max - min) / median of the per-pair rates */
  spread: number;
}

export function fairness(rates: number[]): Fairness {
  const n = rates.length;
  if (n === 0) return { jain: 1, spread: 0 };
  const sum = rates.reduce((s, x) => s + x, 0);
  const sq = rates.reduce((s, x) => s + x * x, 0);
  const sorted = [...rates].sort((a, b) => a - b);
  const med = n % 2 ? sorted[n >> 1] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return { jain: sq > 0 ? (sum * sum) / (n * sq) : 1, spread: med > 0 ? (sorted[n - 1] - sorted[0]) / med : 0 };
}

export interface SeveralPairsResult {
  topology: 'several-guests';
  pairs: PairResult[];
  /** per pair: client rate and guest busy ns (client + server) per transaction or per KB */
  perPair: { trans_per_sec: number; throughput: number; cost: number }[];
  /** fairness of the wall-clock rates and of the per-transaction costs */
  rateFairness: Fairness;
  costFairness: Fairness;
  wallMs: number;
}

/** N guest pairs at once, each in its own private namespace (the vhost workqueue item: per-VM fairness). */
export async function runSeveralPairs(o: PairOptions & { pairs: number; run?: typeof runGuestPair }): Promise<SeveralPairsResult> {
  const run = o.run ?? runGuestPair;
  const t0 = Date.now();
  const base = o.port ?? 21000 + (process.pid % 10000);
  const pairs = await Promise.all(
    Array.from({ length: o.pairs }, (_, i) => run({ ...o, port: base + i, workDir: path.join(o.workDir, `pair-${i}`) })),
  );
  const perPair = pairs.map((r) => {
    const c = r.clients[r.clients.length - 1];
    const s = r.servers[r.servers.length - 1];
    const busy = c.busy_ns + (s?.busy_ns ?? 0);
    return { trans_per_sec: c.trans_per_sec, throughput: c.throughput, cost: o.test === 'TCP_STREAM' ? busy / (c.bytes / 1024) : busy / c.transactions };
  });
  const rate = perPair.map((p) => (o.test === 'TCP_STREAM' ? p.throughput : p.trans_per_sec));
  return { topology: 'several-guests', pairs, perPair, rateFairness: fairness(rate), costFairness: fairness(perPair.map((p) => p.cost)), wallMs: Date.now() - t0 };
}
