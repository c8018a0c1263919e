// The perf gate's guest side without a kernel: the initramfs the project builds, the pgnet traffic tool run on
// the host over loopback inside a private network namespace, and run-pair.sh's handling of its arguments
// (with a stand-in QEMU that records its command line and speaks on the socket netdev's port).
// The full boot of a real guest pair is in test/slow/perf-guest.test.ts.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGuestPair } from '../../src/gates/perf/guest-runner.js';
import { buildHostPgnet, guestSourceDir, parseClientLine, parseServerLines, startHostServer } from '../../src/gates/perf/host-pgnet.js';
import { buildInitramfs } from '../../src/gates/perf/initramfs.js';
import { canUseNetns, openNetns, type NetNs } from '../../src/gates/perf/netns.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'pg-perf-guest-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const haveBusybox = existsSync('/bin/busybox');
const netns = canUseNetns();

describe('the perf guests initramfs', () => {
  it.skipIf(!haveBusybox)('holds /init, busybox and a static pgnet, and is rebuilt only when its inputs change', () => {
    const out = path.join(tmp, 'rd');
    const a = buildInitramfs(out);
    const b = buildInitramfs(out);
    expect(b.path).toBe(a.path);
    const list = execFileSync('sh', ['-c', `zcat "${a.path}" | cpio -t --quiet`]).toString().split('\n');
    for (const f of ['init', 'bin/busybox', 'bin/pgnet', 'proc', 'sys', 'dev']) expect(list).toContain(f);
    const x = path.join(tmp, 'x');
    execFileSync('sh', ['-c', `mkdir -p "${x}" && cd "${x}" && zcat "${a.path}" | cpio -id --quiet init bin/pgnet`]);
    expect(readFileSync(path.join(x, 'init'), 'utf8')).toBe(readFileSync(path.join(guestSourceDir(), 'init.sh'), 'utf8'));
    // static: no program interpreter, so it runs in a guest that has no libc
    expect(execFileSync('readelf', ['-l', path.join(x, 'bin', 'pgnet')]).toString()).not.toMatch(/INTERP/);
    const usage = spawnSync(path.join(x, 'bin', 'pgnet'), [], { encoding: 'utf8' });
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/-H host is required/);
  });
});

describe.skipIf(!netns.ok)('pgnet over loopback in a private network namespace', () => {
  let ns: NetNs;
  let pgnet: string;
  const port = 23000 + (process.pid % 1000);
  let server: ReturnType<typeof startHostServer>;

  beforeAll(async () => {
    pgnet = buildHostPgnet(path.join(tmp, 'bin'));
    ns = await openNetns();
    // the namespace is empty: only its own loopback
    expect(ns.exec('ip', ['-o', 'link']).trim().split('\n')).toHaveLength(1);
    server = startHostServer(pgnet, port, ns.wrap);
    await server.ready;
  });
  afterAll(async () => {
    await server?.stop();
    await ns?.close();
  });

  function client(args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(ns.wrap[0], [...ns.wrap.slice(1), pgnet, '-H', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8', timeout: 60_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it('TCP_RR: netperf field names, the transaction count asked for, rates that agree with the elapsed time', async () => {
    const r = client(['-t', 'TCP_RR', '-n', '3000', '-r', '1,1']);
    expect(r.status).toBe(0);
    const c = parseClientLine(r.stdout)!;
    expect(Object.keys(c)).toEqual(['test', 'transactions', 'bytes', 'elapsed_ns', 'trans_per_sec', 'throughput', 'busy_ns', 'busy_ns_per_trans', 'busy_ns_per_kb', 'retransmits', 'cpus']);
    expect(c.test).toBe('TCP_RR');
    expect(c.transactions).toBe(3000);
    expect(c.bytes).toBe(0);
    expect(c.elapsed_ns).toBeGreaterThan(0);
    expect(c.trans_per_sec).toBeCloseTo(c.transactions / (c.elapsed_ns / 1e9), 0);
    expect(c.busy_ns_per_trans).toBeCloseTo(c.busy_ns / c.transactions, 0);
    await new Promise((res) => setTimeout(res, 100));
    const s = parseServerLines(server.output()).at(-1)!;
    expect(s.test).toBe(1);
    expect(s.transactions).toBe(3000);
  });

  it('TCP_STREAM: bytes = transactions x message size, throughput in 10^6 bit/s; the server counts every byte', async () => {
    const before = parseServerLines(server.output()).length;
    const r = client(['-t', 'TCP_STREAM', '-n', '2000', '-m', '8192']);
    expect(r.status).toBe(0);
    const c = parseClientLine(r.stdout)!;
    expect(c.bytes).toBe(2000 * 8192);
    expect(c.throughput).toBeCloseTo((c.bytes * 8) / (c.elapsed_ns / 1e9) / 1e6, 0);
    expect(c.busy_ns_per_kb).toBeCloseTo(c.busy_ns / (c.bytes / 1024), 1);
    for (let i = 0; i < 50 && parseServerLines(server.output()).length === before; i++) await new Promise((res) => setTimeout(res, 50));
    const s = parseServerLines(server.output()).at(-1)!;
    expect(s.test).toBe(3);
    expect(s.bytes).toBe(2000 * 8192);
  });

  it('TCP_CRR opens one connection per transaction; UDP_RR echoes datagrams of the asked size', () => {
    const crr = parseClientLine(client(['-t', 'TCP_CRR', '-n', '200', '-r', '64,64']).stdout)!;
    expect(crr.test).toBe('TCP_CRR');
    expect(crr.transactions).toBe(200);
    const udp = parseClientLine(client(['-t', 'UDP_RR', '-n', '1000', '-r', '64,64']).stdout)!;
    expect(udp.test).toBe('UDP_RR');
    expect(udp.transactions).toBe(1000);
  });

  it('a run bounded by time (-l) stops near its deadline', () => {
    const c = parseClientLine(client(['-t', 'TCP_RR', '-l', '1']).stdout)!;
    // the deadline is set before the connection is made, so the measured window is a little under 1 s
    expect(c.elapsed_ns).toBeGreaterThan(0.8e9);
    expect(c.elapsed_ns).toBeLessThanOrEqual(1.01e9);
    expect(c.elapsed_ns).toBeLessThan(5e9);
    expect(c.transactions).toBeGreaterThan(0);
  });

  it('rejects an unknown test and out-of-range sizes with exit status 2', () => {
    const bad = client(['-t', 'SCTP_RR']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown test SCTP_RR/);
    const big = client(['-t', 'TCP_RR', '-r', '70000,1']);
    expect(big.status).toBe(2);
    expect(big.stderr).toMatch(/sizes must be 1\.\.65536/);
  });
});

/** A stand-in QEMU: records its argv beside the serial file, listens or connects on the socket netdev's port. */
const fakeQemu = `#!/usr/bin/env node
const fs = require('fs'); const net = require('net');
const argv = process.argv.slice(2);
const at = (f) => argv[argv.indexOf(f) + 1];
const serial = at('-serial').replace(/^file:/, '');
fs.writeFileSync(serial + '.argv', JSON.stringify(argv));
const nd = at('-netdev');
const listen = /listen=127\\.0\\.0\\.1:(\\d+)/.exec(nd);
const connect = /connect=127\\.0\\.0\\.1:(\\d+)/.exec(nd);
const role = /pg\\.role=(\\w+)/.exec(at('-append'))[1];
if (process.env.FAKE_FAIL === role) { process.stderr.write('qemu: could not load kernel\\n'); process.exit(1); }
if (listen) {
  const srv = net.createServer((s) => { s.on('data', () => {}); });
  srv.listen(Number(listen[1]), '127.0.0.1', () => fs.writeFileSync(serial, 'PGNET-READY port 12865\\n'));
  process.on('SIGTERM', () => { fs.appendFileSync(serial, 'PGNET-SERVER {"test":1,"transactions":77,"bytes":0,"elapsed_ns":5,"busy_ns":3}\\nTERMINATED\\n'); process.exit(0); });
} else {
  const s = net.connect(Number(connect[1]), '127.0.0.1', () => {
    const n = Number(/pg\\.n=(\\d+)/.exec(at('-append'))[1]);
    fs.writeFileSync(serial, 'PGNET-CLOCK tsc\\nPGNET {"test":"TCP_RR","transactions":' + n + ',"bytes":0,"elapsed_ns":1000,"trans_per_sec":1,"throughput":0,"busy_ns":' + 2 * n + ',"busy_ns_per_trans":2,"busy_ns_per_kb":0}\\nPGNET-DONE\\n');
    s.end(); process.exit(Number(process.env.FAKE_CLIENT_EXIT || 0));
  });
}
`;

describe('run-pair.sh argument handling', () => {
  const qemu = path.join(tmp, 'fake-qemu');
  beforeAll(() => {
    writeFileSync(qemu, fakeQemu);
    chmodSync(qemu, 0o755);
  });

  it('starts the listening server first, then the client with the test parameters; stops the server after the client', async () => {
    const dir = path.join(tmp, 'pair1');
    const r = await runGuestPair({ kernel: '/k/bz', initrd: '/k/rd', workDir: dir, test: 'TCP_RR', transactions: 321, size: '64,64', qemu, port: 24000 + (process.pid % 1000), timeoutSec: 30 });
    expect(r.exitCode).toBe(0);
    expect(r.clients).toHaveLength(1);
    expect(r.clients[0].transactions).toBe(321);
    expect(r.clock).toBe('tsc');
    // the server was terminated after the client finished, and its last result was read back
    expect(r.serverLog).toMatch(/TERMINATED/);
    expect(r.servers[0].transactions).toBe(77);
    const sa = JSON.parse(readFileSync(path.join(dir, 'server.log.argv'), 'utf8')) as string[];
    const ca = JSON.parse(readFileSync(path.join(dir, 'client.log.argv'), 'utf8')) as string[];
    const after = (a: string[], f: string) => a[a.indexOf(f) + 1];
    expect(after(sa, '-netdev')).toBe(`socket,id=n0,listen=127.0.0.1:${24000 + (process.pid % 1000)}`);
    expect(after(ca, '-netdev')).toBe(`socket,id=n0,connect=127.0.0.1:${24000 + (process.pid % 1000)}`);
    for (const a of [sa, ca]) {
      expect(after(a, '-kernel')).toBe('/k/bz');
      expect(after(a, '-initrd')).toBe('/k/rd');
      expect(after(a, '-accel')).toBe('tcg');
      expect(after(a, '-icount')).toBe('shift=0,align=off,sleep=on'); // TCG gets the instruction clock by default
      expect(a).toContain('-no-reboot');
      expect(after(a, '-append')).toMatch(/tsc_early_khz=1000000 tsc=reliable nolapic_timer/);
    }
    expect(after(sa, '-append')).toMatch(/pg\.role=server pg\.ip=10\.0\.2\.1/);
    const capp = after(ca, '-append');
    expect(capp).toMatch(/pg\.role=client pg\.ip=10\.0\.2\.2 pg\.peer=10\.0\.2\.1/);
    expect(capp).toMatch(/pg\.test=TCP_RR pg\.n=321 pg\.reps=1 pg\.size=64,64/);
    expect(after(sa, '-device')).toMatch(/mac=52:54:00:12:34:01/);
    expect(after(ca, '-device')).toMatch(/mac=52:54:00:12:34:02/);
  });

  it('KVM without icount: no -icount on either command line', async () => {
    const dir = path.join(tmp, 'pair2');
    await runGuestPair({ kernel: '/k/bz', initrd: '/k/rd', workDir: dir, test: 'TCP_STREAM', transactions: 10, msg: 4096, qemu, accel: 'kvm', icount: false, memMb: 128, timeoutSec: 30 });
    const ca = JSON.parse(readFileSync(path.join(dir, 'client.log.argv'), 'utf8')) as string[];
    expect(ca).not.toContain('-icount');
    expect(ca[ca.indexOf('-accel') + 1]).toBe('kvm');
    expect(ca[ca.indexOf('-m') + 1]).toBe('128');
    expect(ca[ca.indexOf('-append') + 1]).toMatch(/pg\.test=TCP_STREAM pg\.n=10 .*pg\.msg=4096/);
  });

  it('a server that never listens fails the pair with exit 3 and says why', async () => {
    const dir = path.join(tmp, 'pair3');
    const old = process.env.FAKE_FAIL;
    process.env.FAKE_FAIL = 'server';
    try {
      await expect(runGuestPair({ kernel: '/k/bz', initrd: '/k/rd', workDir: dir, test: 'TCP_RR', transactions: 5, qemu, timeoutSec: 30 })).rejects.toThrow(/exit 3.*did not listen/s);
    } finally {
      if (old === undefined) delete process.env.FAKE_FAIL;
      else process.env.FAKE_FAIL = old;
    }
    expect(readFileSync(path.join(dir, 'server.err'), 'utf8')).toMatch(/could not load kernel/);
    expect(existsSync(path.join(dir, 'client.log.argv'))).toBe(false);
  });

  it('the real QEMU with a kernel that does not exist fails the same way, without hanging', async () => {
    const dir = path.join(tmp, 'pair4');
    await expect(runGuestPair({ kernel: path.join(tmp, 'no-such-bzImage'), initrd: path.join(tmp, 'no-rd'), workDir: dir, test: 'TCP_RR', transactions: 5, timeoutSec: 20 })).rejects.toThrow(/did not listen/);
  });
});
