// Filtering checks of the matrix (the `filter` group): two guests joined by QEMU's socket netdev over UDP on
// loopback, in a private network namespace; no host networking is involved (the host kernel has no 8021q).
//   vlan-filter  VLAN sub-interfaces (busybox `ip link add link eth0 name eth0.N type vlan id N`): tagged
//                traffic on a VID both guests have passes; a VID the receiver does not have does not arrive
//   mac-filter   virtio-net rx filtering: frames to a unicast MAC not the receiver's are dropped, and arrive
//                once the receiver is promiscuous (the driver tells the device through the control queue)
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { CheckResult } from './functional.js';
import { openNetns } from './netns.js';

export interface FilterOptions {
  kernel: string;
  /** the topology initramfs (buildTopologyInitramfs): its /init has the vlan and mac modes */
  initrd: string;
  workDir: string;
  accel?: 'tcg' | 'kvm';
  /** QEMU's vhost for the netdev: the socket netdev has none, so vhost=on cells cannot use this runner */
  vhost?: boolean;
  qemu?: string;
  timeoutSec?: number;
  /** mac-filter: foreign frames sent in each phase (default 100) */
  frames?: number;
}

/** QEMU's command line for one side (a sends, b receives) of a filter check. */
export function filterGuestArgs(o: FilterOptions, side: 'a' | 'b', mode: 'vlan' | 'mac', ports: [number, number], serial: string): string[] {
  const accel = o.accel ?? 'tcg';
  const [mine, peer] = side === 'a' ? ports : [ports[1], ports[0]];
  const ip = side === 'a' ? '10.0.2.1' : '10.0.2.2';
  const peerIp = side === 'a' ? '10.0.2.2' : '10.0.2.1';
  return [
    '-accel', accel, ...(accel === 'tcg' ? ['-icount', 'shift=0,align=off,sleep=on'] : []),
    '-m', '256', '-smp', '1', '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-kernel', o.kernel, '-initrd', o.initrd, '-serial', `file:${serial}`,
    '-netdev', `socket,id=n0,udp=127.0.0.1:${peer},localaddr=127.0.0.1:${mine}`,
    '-device', `virtio-net-pci,netdev=n0,mac=52:54:00:12:34:${side === 'a' ? '01' : '02'}`,
    '-append', [
      `console=ttyS0 panic=-1 ${accel === 'tcg' ? 'tsc_early_khz=1000000 ' : ''}tsc=reliable nolapic_timer i8042.noaux=1 i8042.nokbd=1 quiet`,
      `pg.mode=${mode} pg.side=${side} pg.ip=${ip} pg.peer=${peerIp}${mode === 'mac' ? ` pg.frames=${o.frames ?? 100}` : ''}`,
    ].join(' '),
  ];
}

interface PairLogs {
  a: string;
  b: string;
  wallMs: number;
  codes: [number, number];
  stderr: string;
}

let nextPort = 30000 + (process.pid % 15000) * 2;

/** Boots both sides at once in a private namespace and waits for both to power off. */
async function runFilterPair(o: FilterOptions, mode: 'vlan' | 'mac'): Promise<PairLogs> {
  mkdirSync(o.workDir, { recursive: true });
  const ports: [number, number] = [nextPort, nextPort + 1];
  nextPort += 2;
  const ns = await openNetns();
  const t0 = Date.now();
  try {
    const run = (side: 'a' | 'b') => {
      const serial = path.join(o.workDir, `${side}.log`);
      const args = filterGuestArgs(o, side, mode, ports, serial);
      const p = spawn(ns.wrap[0], [...ns.wrap.slice(1), 'timeout', '-k', '2', String(o.timeoutSec ?? 180), o.qemu ?? 'qemu-system-x86_64', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      return new Promise<{ code: number; err: string; log: string }>((resolve, reject) => {
        p.on('error', reject);
        p.on('close', (c) => resolve({ code: c ?? -1, err, log: existsSync(serial) ? readFileSync(serial, 'utf8') : '' }));
      });
    };
    const [a, b] = await Promise.all([run('a'), run('b')]);
    return { a: a.log, b: b.log, wallMs: Date.now() - t0, codes: [a.code, b.code], stderr: `${a.err}${b.err}`.trim() };
  } finally {
    await ns.close();
  }
}

export interface VlanOutcome {
  unsupported: string | null;
  /** UDP_RR transactions over VID 100 (both guests have it) */
  tagged: { done: number; wanted: number } | null;
  /** frames the sender put out on VID 101 (ARP requests for an address the receiver has on VID 102) */
  wrongVidTx: number | null;
  /** the receiver's counters: frames on its VID 100 and VID 102 sub-interfaces */
  receiver: { vid100: number; vid102: number } | null;
  /** VIRTIO_NET_F_CTRL_VLAN negotiated (the device filters VIDs the driver did not add) */
  deviceFilter: boolean | null;
}

/** The PGNET-VLAN lines of both consoles. */
export function parseVlanLogs(a: string, b: string): VlanOutcome {
  const un = /^PGNET-VLAN unsupported (.*)$/m.exec(a) ?? /^PGNET-VLAN unsupported (.*)$/m.exec(b);
  const ra = /^PGNET-VLAN a tagged=(\d+)\/(\d+) vid101_tx=(\d+) filter=(\d?)/m.exec(a);
  const rb = /^PGNET-VLAN b vid100_rx=(\d+) vid102_rx=(\d+)/m.exec(b);
  return {
    unsupported: un ? un[1].trim() : null,
    tagged: ra ? { done: Number(ra[1]), wanted: Number(ra[2]) } : null,
    wrongVidTx: ra ? Number(ra[3]) : null,
    receiver: rb ? { vid100: Number(rb[1]), vid102: Number(rb[2]) } : null,
    deviceFilter: ra && ra[4] !== '' ? ra[4] === '1' : null,
  };
}

/** The verdict of a vlan-filter run: every UDP_RR transaction over VID 100 done, nothing sent on VID 101 arrived on VID 102. */
export function vlanVerdict(v: VlanOutcome): Pick<CheckResult, 'status' | 'summary'> {
  if (v.unsupported !== null) {
    return { status: 'not-run', summary: `the guest kernel has no 802.1Q VLAN support (CONFIG_VLAN_8021Q): ip link add type vlan said: ${v.unsupported}` };
  }
  if (!v.tagged || v.wrongVidTx === null || !v.receiver) return { status: 'failure', summary: `the guests did not finish the check (sender ${v.tagged ? 'done' : 'no result'}, receiver ${v.receiver ? 'done' : 'no result'})` };
  const problems: string[] = [];
  if (v.tagged.done < v.tagged.wanted) problems.push(`only ${v.tagged.done} of ${v.tagged.wanted} UDP_RR transactions over VID 100 completed`);
  if (v.wrongVidTx === 0) problems.push('the sender put out no frame on VID 101: the wrong-VID case was not exercised');
  if (v.receiver.vid102 > 0) problems.push(`${v.receiver.vid102} frames reached the receiver's VID 102 interface after the sender sent ${v.wrongVidTx} on VID 101`);
  const filter = v.deviceFilter === null ? '' : v.deviceFilter ? ', device VLAN filter (CTRL_VLAN) negotiated' : ', no device VLAN filter (CTRL_VLAN off)';
  return problems.length
    ? { status: 'failure', summary: problems.join('; ') }
    : { status: 'success', summary: `VID 100: ${v.tagged.done}/${v.tagged.wanted} UDP_RR transactions (receiver's eth0.100 got ${v.receiver.vid100} frames); wrong VID: ${v.wrongVidTx} frames sent on VID 101, 0 reached VID 102${filter}` };
}

export interface MacOutcome {
  sent: number | null;
  /** frames that reached the receiver's driver while its rx filter was on / in promiscuous mode */
  filtered: number | null;
  promisc: number | null;
  ctrlRx: boolean | null;
}

export function parseMacLogs(a: string, b: string): MacOutcome {
  const ra = /^PGNET-MAC a sent=(\d+)/m.exec(a);
  const rb = /^PGNET-MAC b filtered=(-?\d+) promisc=(-?\d+) sent=(\d+) ctrl_rx=(\d?)/m.exec(b);
  return {
    sent: ra ? Number(ra[1]) : rb ? Number(rb[3]) : null,
    filtered: rb ? Number(rb[1]) : null,
    promisc: rb ? Number(rb[2]) : null,
    ctrlRx: rb && rb[4] !== '' ? rb[4] === '1' : null,
  };
}

/**
 * The verdict of a mac-filter run. Each phase's count also holds the few frames of the guests' own TCP
 * handshakes (about 6), and on a loaded host the UDP netdev loses a few frames (99 of 100 + 6 arrived in the
 * first complete matrix run). So the filter held when fewer than half the foreign frames arrived with it on,
 * and promiscuous mode worked when at least half of them more arrived than with the filter on.
 */
export function macVerdict(m: MacOutcome): Pick<CheckResult, 'status' | 'summary'> {
  if (m.sent === null || m.filtered === null || m.promisc === null) return { status: 'failure', summary: `the guests did not finish the check (sender ${m.sent === null ? 'no result' : 'done'}, receiver ${m.filtered === null ? 'no result' : 'done'})` };
  const problems: string[] = [];
  if (m.filtered >= m.sent / 2) problems.push(`with the rx filter on, ${m.filtered} frames reached the receiver while ${m.sent} went to a foreign unicast MAC`);
  if (m.promisc - m.filtered < m.sent / 2) problems.push(`in promiscuous mode only ${m.promisc} frames arrived (${m.filtered} with the filter on) of the ${m.sent} sent to a foreign MAC`);
  const ctrl = m.ctrlRx === null ? '' : m.ctrlRx ? ' (CTRL_RX negotiated)' : ' (CTRL_RX not negotiated)';
  return problems.length
    ? { status: 'failure', summary: problems.join('; ') + ctrl }
    : { status: 'success', summary: `${m.sent} frames to a foreign unicast MAC: ${m.filtered} frames reached the receiver with the filter on (its own handshakes), ${m.promisc} in promiscuous mode${ctrl}` };
}

function noResult(logs: PairLogs): string {
  return logs.stderr ? `; qemu: ${logs.stderr.split('\n')[0].slice(0, 160)}` : `; exit ${logs.codes.join('/')}`;
}

/** vlan-filter: VLAN sub-interfaces on two guests; tagged traffic passes, a wrong VID does not. */
export async function runVlanFilter(o: FilterOptions): Promise<CheckResult> {
  if (o.vhost) return { check: 'vlan-filter', status: 'not-run', summary: 'vhost=on: the filter checks use the socket netdev, which has no vhost', details: {} };
  const logs = await runFilterPair(o, 'vlan');
  const v = parseVlanLogs(logs.a, logs.b);
  const verdict = vlanVerdict(v);
  const summary = `${verdict.summary}${verdict.status === 'failure' && !v.tagged ? noResult(logs) : ''}, ${(logs.wallMs / 1000).toFixed(0)} s`;
  return { check: 'vlan-filter', ...verdict, summary, details: { ...v, wallMs: logs.wallMs } };
}

/** mac-filter: frames to a unicast MAC not the guest's are dropped, and arrive in promiscuous mode. */
export async function runMacFilter(o: FilterOptions): Promise<CheckResult> {
  if (o.vhost) return { check: 'mac-filter', status: 'not-run', summary: 'vhost=on: the filter checks use the socket netdev, which has no vhost', details: {} };
  const logs = await runFilterPair(o, 'mac');
  const m = parseMacLogs(logs.a, logs.b);
  const verdict = macVerdict(m);
  const summary = `${verdict.summary}${verdict.status === 'failure' && m.filtered === null ? noResult(logs) : ''}, ${(logs.wallMs / 1000).toFixed(0)} s`;
  return { check: 'mac-filter', ...verdict, summary, details: { ...m, wallMs: logs.wallMs } };
}
