// Real guests (PATCHGATE_SLOW=1): the 6.1 guest kernel (var/perf/kernels/extra-0.bzImage, built here by
// scripts/perf-kernels.sh when missing: about 5 minutes) booted under TCG with -icount in every topology.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { costMetrics } from '../../src/gates/perf/gate.js';
import { runGuestPair } from '../../src/gates/perf/guest-runner.js';
import { buildInitramfs } from '../../src/gates/perf/initramfs.js';
import { canUseNetns } from '../../src/gates/perf/netns.js';
import { buildTopologyInitramfs, runSeveralPairs, runTapGuest } from '../../src/gates/perf/topologies.js';
import { repoRoot } from '../helpers/archive.js';

const kernel = path.join(repoRoot, 'var', 'perf', 'kernels', 'extra-0.bzImage');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'pg-slow-guest-'));
let initrd = '';
let topoInitrd = '';

beforeAll(() => {
  if (!existsSync(kernel)) execFileSync('bash', [path.join(repoRoot, 'scripts', 'perf-kernels.sh'), '0'], { stdio: 'inherit' });
  initrd = buildInitramfs(path.join(tmp, 'rd')).path;
  topoInitrd = buildTopologyInitramfs(path.join(tmp, 'rd'));
}, 900_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('a real guest pair over the socket netdev', () => {
  it('boots server and client, measures TCP_RR with the tsc clock and the idle accounting, and stops both', async () => {
    const r = await runGuestPair({ kernel, initrd, workDir: path.join(tmp, 'pair'), test: 'TCP_RR', transactions: 2000, timeoutSec: 240 });
    expect(r.exitCode).toBe(0);
    expect(r.clock).toBe('tsc');
    expect(r.clientLog).toMatch(/PGNET-IDLE ok/);
    expect(r.clientLog).toMatch(/PGNET-DONE/);
    const c = r.clients[0];
    expect(c.transactions).toBe(2000);
    expect(r.servers.at(-1)!.transactions).toBe(2000);
    // per-transaction guest cost: tens of microseconds of guest instructions on each side (about 31,600 ns together)
    expect(c.busy_ns_per_trans).toBeGreaterThan(3_000);
    expect(c.busy_ns_per_trans).toBeLessThan(200_000);
    const cost = costMetrics({ id: 'tcp_rr', test: 'TCP_RR', transactions: 2000 }, r).tcp_rr_cost_per_trans;
    expect(cost).toBeGreaterThan(c.busy_ns_per_trans);
  }, 300_000);

  it('TCP_STREAM: the server receives every byte the client sent', async () => {
    const r = await runGuestPair({ kernel, initrd, workDir: path.join(tmp, 'stream'), test: 'TCP_STREAM', transactions: 2000, msg: 16384, timeoutSec: 240 });
    expect(r.clients[0].bytes).toBe(2000 * 16384);
    expect(r.servers.at(-1)!.bytes).toBe(2000 * 16384);
    expect(r.clients[0].throughput).toBeGreaterThan(0);
  }, 300_000);
});

describe.skipIf(!canUseNetns().ok)('topologies with a tap device in a private namespace', () => {
  it('guest-to-host: the guest reaches pgnet on the host side of the tap', async () => {
    const r = await runTapGuest({ kernel, initrd: topoInitrd, workDir: path.join(tmp, 'g2h'), test: 'TCP_RR', transactions: 2000, timeoutSec: 240 });
    expect(r.topology).toBe('guest-to-host');
    expect(r.streams).toHaveLength(1);
    expect(r.streams[0].transactions).toBe(2000);
    expect(r.hostServers.some((s) => s.transactions === 2000)).toBe(true);
    expect(r.info).toMatchObject({ rx_queues: 1, tx_queues: 1 });
  }, 300_000);

  it('multiqueue: QEMU opens the tap with 2 queues and mq=on; the guest reports the queues it uses', async () => {
    const r = await runTapGuest({ kernel, initrd: topoInitrd, workDir: path.join(tmp, 'mq'), test: 'TCP_RR', transactions: 1000, queues: 2, timeoutSec: 240 });
    expect(r.topology).toBe('multiqueue');
    expect(r.streams).toHaveLength(2);
    expect(r.info!.cpus).toBeGreaterThanOrEqual(1);
    // virtio-net uses min(queue pairs, online CPUs) queue pairs
    expect(r.info!.rx_queues).toBe(Math.min(2, r.info!.cpus));
  }, 300_000);

  it('several guests: two pairs at once, each measured, with fairness figures', async () => {
    const r = await runSeveralPairs({ kernel, initrd, workDir: path.join(tmp, 'multi'), test: 'TCP_RR', transactions: 2000, pairs: 2, timeoutSec: 240 });
    expect(r.perPair).toHaveLength(2);
    for (const p of r.perPair) expect(p.cost).toBeGreaterThan(3_000);
    // the per-transaction cost does not depend on the other pair: the two agree within a few percent
    expect(r.costFairness.spread).toBeLessThan(0.05);
    expect(r.rateFairness.jain).toBeGreaterThan(0.5);
  }, 300_000);
});
