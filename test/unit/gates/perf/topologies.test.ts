import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PairOptions, PairResult } from '../../../../src/gates/perf/guest-runner.js';
import { pairRunnerFor } from '../../../../src/gates/perf/matrix-run.js';
import { fairness, kernelIsSmp, kernelVersion, parseTopologyConsole, runSeveralPairs, tapGuestArgs } from '../../../../src/gates/perf/topologies.js';
import type { MatrixCell } from '../../../../src/gates/perf/matrix.js';

const at = (a: string[], f: string) => a[a.indexOf(f) + 1];

/** Minimal bzImages: a setup header ("HdrS" at 0x202) whose version pointer leads to the version string. */
const tmp = mkdtempSync(path.join(os.tmpdir(), 'pg-topo-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
function bzImage(name: string, version: string): string {
  const b = Buffer.alloc(0x400);
  b.write('HdrS', 0x202, 'latin1');
  b.writeUInt16LE(0x300 - 0x200, 0x20e);
  b.write(`${version}\0`, 0x300, 'latin1');
  const f = path.join(tmp, name);
  writeFileSync(f, b);
  return f;
}
const smpKernel = bzImage('smp', '6.1.192 (root@vm) #1 SMP Thu Nov 26 02:40:00 UTC 2026');
const upKernel = bzImage('up', '6.1.192 (root@vm) #2 Thu Nov 26 01:41:07 UTC 2026');

describe('kernel version from the bzImage header', () => {
  it('reads the version string and whether the kernel is SMP', () => {
    expect(kernelVersion(smpKernel)).toBe('6.1.192 (root@vm) #1 SMP Thu Nov 26 02:40:00 UTC 2026');
    expect(kernelIsSmp(smpKernel)).toBe(true);
    expect(kernelIsSmp(upKernel)).toBe(false);
    expect(kernelVersion(path.join(tmp, 'missing'))).toBeNull();
  });
});

describe('QEMU command line of a guest on tap', () => {
  const base = { kernel: '/k/bz', initrd: '/k/rd', workDir: '/tmp/x', test: 'TCP_RR' as const, transactions: 4000 };

  it('guest-to-host: one queue, no mq, vhost off, icount under TCG, the host as peer', () => {
    const a = tapGuestArgs(base, 'pgtap0', '/tmp/x/guest.log');
    expect(at(a, '-netdev')).toBe('tap,id=n0,ifname=pgtap0,script=no,downscript=no,vhost=off');
    expect(at(a, '-device')).toBe('virtio-net-pci,netdev=n0,mac=52:54:00:12:34:02');
    expect(at(a, '-smp')).toBe('1');
    expect(at(a, '-append')).toMatch(/ nolapic_timer /);
    expect(at(a, '-icount')).toBe('shift=0,align=off,sleep=on');
    expect(at(a, '-serial')).toBe('file:/tmp/x/guest.log');
    expect(at(a, '-append')).toMatch(/pg\.role=client pg\.ip=10\.0\.2\.2 pg\.peer=10\.0\.2\.1 pg\.port=12865 .*pg\.test=TCP_RR pg\.n=4000 .*pg\.streams=1$/);
  });

  it('multiqueue: queues=N on the netdev, mq=on with 2N+2 vectors, N vCPUs and N streams', () => {
    const a = tapGuestArgs({ ...base, kernel: smpKernel, queues: 4, vhost: true }, 'pgtap0', '/tmp/s');
    expect(at(a, '-netdev')).toBe('tap,id=n0,ifname=pgtap0,script=no,downscript=no,vhost=on,queues=4');
    expect(at(a, '-device')).toBe('virtio-net-pci,netdev=n0,mac=52:54:00:12:34:02,mq=on,vectors=10');
    expect(at(a, '-smp')).toBe('4');
    expect(at(a, '-append')).toMatch(/pg\.streams=4$/);
    expect(at(a, '-append')).not.toMatch(/nolapic_timer/); // SMP guests do not come up without the LAPIC timer
    // nor under -icount: multi-threaded TCG, and no 1 GHz TSC hint
    expect(a).not.toContain('-icount');
    expect(at(a, '-accel')).toBe('tcg,thread=multi');
    expect(at(a, '-append')).not.toMatch(/tsc_early_khz/);
    // a uniprocessor kernel keeps -icount even with N vCPUs (it uses one)
    const up = tapGuestArgs({ ...base, kernel: upKernel, queues: 2 }, 't', '/s');
    expect(at(up, '-icount')).toBe('shift=0,align=off,sleep=on');
    expect(at(up, '-accel')).toBe('tcg');
    const kvm = tapGuestArgs({ ...base, accel: 'kvm', queues: 2, streams: 1 }, 't', '/s');
    expect(kvm).not.toContain('-icount');
    expect(at(kvm, '-append')).toMatch(/pg\.streams=1$/);
  });
});

describe('topology console', () => {
  it('reads per-stream results and what the guest saw', () => {
    const log = [
      'PGNET-CLOCK tsc', 'PGNET-IDLE ok', 'PGNET-INFO {"cpus":2,"rx_queues":2,"tx_queues":2}',
      '[    3.1] random: crng init done',
      'PGNET-STREAM 0 PGNET {"test":"TCP_RR","transactions":4000,"bytes":0,"elapsed_ns":9e8,"trans_per_sec":4400,"throughput":0,"busy_ns":1.1e8,"busy_ns_per_trans":27500,"busy_ns_per_kb":0}',
      'PGNET-STREAM 1 PGNET {"test":"TCP_RR","transactions":4000,"bytes":0,"elapsed_ns":8e8,"trans_per_sec":5000,"thr[ 3.2] garbled',
      'PGNET-DONE',
    ].join('\n');
    const r = parseTopologyConsole(log);
    expect(r.info).toEqual({ cpus: 2, rx_queues: 2, tx_queues: 2 });
    expect(r.clock).toBe('tsc');
    expect(r.done).toBe(true);
    expect(r.streams).toHaveLength(1);
    expect(r.streams[0].trans_per_sec).toBe(4400);
  });
});

describe('fairness of several guests', () => {
  it("Jain's index: 1 when equal, 1/N when one pair takes everything; spread relative to the median", () => {
    expect(fairness([100, 100, 100, 100]).jain).toBeCloseTo(1, 12);
    expect(fairness([100, 0, 0, 0]).jain).toBeCloseTo(0.25, 12);
    expect(fairness([6422, 4711]).jain).toBeCloseTo((11133 ** 2) / (2 * (6422 ** 2 + 4711 ** 2)), 12);
    expect(fairness([90, 100, 110]).spread).toBeCloseTo(0.2, 12);
  });

  it('runs the pairs at once, each with its own port and work dir, and combines them for the gate', async () => {
    const started: string[] = [];
    let running = 0;
    let peak = 0;
    const fake = async (o: PairOptions): Promise<PairResult> => {
      started.push(`${o.port}:${o.workDir}`);
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 20));
      running--;
      const rate = o.workDir.endsWith('pair-0') ? 6000 : 3000;
      return {
        clients: [{ test: 'TCP_RR', transactions: 1000, bytes: 0, elapsed_ns: 1e9, trans_per_sec: rate, throughput: 0, busy_ns: 2e7, busy_ns_per_trans: 2e4, busy_ns_per_kb: 0 }],
        servers: [{ transactions: 1000, bytes: 0, elapsed_ns: 1e9, busy_ns: 1e7 }], clock: 'tsc', wallMs: 20, exitCode: 0, clientLog: '', serverLog: '',
      };
    };
    const r = await runSeveralPairs({ kernel: 'k', initrd: 'rd', workDir: '/w', test: 'TCP_RR', transactions: 1000, pairs: 3, port: 30000, run: fake });
    expect(peak).toBe(3);
    expect(started.sort()).toEqual(['30000:/w/pair-0', '30001:/w/pair-1', '30002:/w/pair-2']);
    expect(r.perPair.map((p) => p.cost)).toEqual([30000, 30000, 30000]);
    expect(r.costFairness.jain).toBeCloseTo(1, 12);
    expect(r.rateFairness.jain).toBeCloseTo((12000 ** 2) / (3 * (6000 ** 2 + 2 * 3000 ** 2)), 12);

    // as a gate boot: one combined result, busy of every guest over every transaction
    const cell = { id: 'multi_tcp_rr_1_3pairs', kind: 'perf', topology: 'several-guests', pairs: 3, queues: 1, vhost: false, guest: 'linux-release', test: 'TCP_RR', select: 'always' } as MatrixCell;
    const seen = { info: [], jain: [] as number[] };
    const runner = pairRunnerFor(cell, { topologyInitrd: 'trd' }, seen, fake);
    const boot = await runner({ kernel: 'k', initrd: 'rd', workDir: '/w2', test: 'TCP_RR', transactions: 1000 });
    expect(boot.clients).toHaveLength(1);
    expect(boot.servers).toHaveLength(0);
    expect(boot.clients[0].transactions).toBe(3000);
    expect(boot.clients[0].busy_ns).toBe(9e7); // (client 2e7 + server 1e7) x 3 guests pairs
    expect(boot.clients[0].busy_ns_per_trans).toBe(30000);
    expect(boot.clients[0].trans_per_sec).toBe(12000);
    expect(seen.jain).toHaveLength(1);
    expect(seen.jain[0]).toBeCloseTo(r.rateFairness.jain, 12);
    // guest-to-guest cells use the pair runner as it is
    expect(pairRunnerFor({ ...cell, topology: 'guest-to-guest' }, { topologyInitrd: 'trd' }, seen, fake)).toBe(fake);
  });
});
