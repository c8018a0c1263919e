import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cannotRun, cannotRunReasons, expandMatrix, FUNCTIONAL_RUNNERS, loadMatrix, matrixMarkdown, matrixTable, parseMatrix, parseTestSpec, probeHost, runMatrix, selectedBy, type HostCapabilities } from '../../../../src/gates/perf/matrix.js';
import { repoRoot } from '../../../helpers/archive.js';

const file = path.join(repoRoot, 'config', 'matrix.yaml');
const cfg = loadMatrix(file);
const cells = expandMatrix(cfg);
const byId = new Map(cells.map((c) => [c.id, c]));

/** This machine as machine-facts.md describes it: root, tun, cgroup v1 cpu, no vhost-net, no Windows image. */
const thisHost: HostCapabilities = { vhostNet: false, tun: true, root: true, cgroupCpu: true, windowsImage: null, debugKernel: null, functionalRunners: [] };

describe('test specs', () => {
  it('reads netperf test names with request/response or message sizes', () => {
    expect(parseTestSpec('TCP_RR:1,1')).toEqual({ test: 'TCP_RR', size: '1,1', slug: 'tcp_rr_1' });
    expect(parseTestSpec('UDP_RR:64,1024')).toEqual({ test: 'UDP_RR', size: '64,1024', slug: 'udp_rr_64_1024' });
    expect(parseTestSpec('TCP_STREAM:16384')).toEqual({ test: 'TCP_STREAM', msg: 16384, slug: 'tcp_stream_16k' });
    expect(parseTestSpec('TCP_STREAM')).toMatchObject({ msg: 16384 });
    expect(() => parseTestSpec('SCTP_RR')).toThrow(/bad test/);
    expect(() => parseTestSpec('TCP_STREAM:1,2')).toThrow(/one message size/);
  });
});

describe('config/matrix.yaml', () => {
  it('mirrors the seed matrix: vhost on and off, queue counts, every topology, several guests, functional cells, Windows', () => {
    const topologies = new Set(cells.map((c) => c.topology).filter(Boolean));
    expect([...topologies].sort()).toEqual(['guest-to-guest', 'guest-to-host', 'multiqueue', 'several-guests']);
    expect(cells.some((c) => c.vhost)).toBe(true);
    expect(cells.some((c) => c.kind === 'perf' && !c.vhost)).toBe(true);
    expect(new Set(cells.filter((c) => c.topology === 'multiqueue').map((c) => c.queues))).toEqual(new Set([1, 2, 4]));
    expect(new Set(cells.filter((c) => c.topology === 'several-guests').map((c) => c.pairs))).toEqual(new Set([2, 4]));
    const checks = new Set(cells.map((c) => c.check).filter(Boolean));
    for (const c of ['hotplug', 'vlan-filter', 'mac-filter', 'file-copy-to-guest', 'file-copy-from-guest', 'migration', 'qos-cgroup']) expect(checks).toContain(c);
    expect(cells.some((c) => c.guest === 'windows')).toBe(true);
    expect(cells.some((c) => c.guest === 'linux-debug')).toBe(true);
    expect(cells.filter((c) => c.kind === 'ring').map((c) => c.ring)).toContain('ring');
    // message sizes: 1-byte and 64-byte request/response, 1 KB and 16 KB streams
    for (const s of ['1,1', '64,64']) expect(cells.some((c) => c.size === s)).toBe(true);
    for (const m of [1024, 16384]) expect(cells.some((c) => c.msg === m)).toBe(true);
  });

  it('names cells after their axes, uniquely', () => {
    expect(byId.get('g2g_tcp_rr_1')).toMatchObject({ topology: 'guest-to-guest', test: 'TCP_RR', size: '1,1', vhost: false });
    expect(byId.get('g2h_tcp_stream_16k_vhost_on')).toMatchObject({ topology: 'guest-to-host', test: 'TCP_STREAM', msg: 16384, vhost: true });
    expect(byId.get('mq_tcp_rr_1_vhost_off_q4')).toMatchObject({ queues: 4, vhost: false });
    expect(byId.get('multi_tcp_rr_1_4pairs')).toMatchObject({ pairs: 4 });
    expect(byId.get('copy_file_copy_to_guest_windows_vhost_off')).toMatchObject({ kind: 'functional', guest: 'windows' });
    expect(new Set(cells.map((c) => c.id)).size).toBe(cells.length);
  });

  it('every project a cell selects exists in config/projects.yaml', () => {
    const projects = new Set([...readFileSync(path.join(repoRoot, 'config', 'projects.yaml'), 'utf8').matchAll(/^ {2}- id: (\S+)/gm)].map((m) => m[1]));
    for (const c of cells) if (c.select !== 'always') for (const p of c.select.projects) expect(projects, `${c.id} selects ${p}`).toContain(p);
  });

  it('rejects a perf group without a topology and duplicate cell names', () => {
    expect(() => expandMatrix(parseMatrix('groups: [{ id: a, kind: perf, tests: [TCP_RR] }]'))).toThrow(/need a topology/);
    expect(() => expandMatrix(parseMatrix('groups: [{ id: a, kind: perf, topology: guest-to-guest, tests: ["TCP_RR:1,1", "TCP_RR:1"] }]'))).toThrow(/two cells named a_tcp_rr_1/);
    expect(() => parseMatrix('groups: [{ id: A-b, kind: perf }]')).toThrow(/groups\.0\.id/);
  });
});

describe('selection by series', () => {
  it('a series touching drivers/vhost selects the several-guests, guest-to-host and ring cells, not the multiqueue ones', () => {
    const scope = { paths: ['drivers/vhost/net.c'], projects: [] };
    expect(selectedBy(byId.get('multi_tcp_rr_1_2pairs')!, scope)).toBe('touches drivers/vhost/net.c');
    expect(selectedBy(byId.get('g2h_tcp_rr_1_vhost_off')!, scope)).toBe('touches drivers/vhost/net.c');
    expect(selectedBy(byId.get('ring_ring')!, scope)).toBe('touches drivers/vhost/net.c');
    expect(selectedBy(byId.get('mq_tcp_rr_1_vhost_off_q2')!, scope)).toBeNull();
    expect(selectedBy(byId.get('g2g_tcp_rr_1')!, scope)).toBe('every series');
  });

  it('include/linux/virtio* globs match headers in that directory only; projects select too', () => {
    expect(selectedBy(byId.get('ring_ptr_ring')!, { paths: ['include/linux/virtio_ring.h'], projects: [] })).toMatch(/touches/);
    expect(selectedBy(byId.get('ring_ptr_ring')!, { paths: ['include/linux/sub/virtio_x.h'], projects: [] })).toBeNull();
    expect(selectedBy(byId.get('mq_tcp_rr_1_vhost_off_q2')!, { paths: ['Documentation/x.rst'], projects: ['mq-default'] })).toBe('project mq-default');
  });
});

describe('what this host can run', () => {
  it('vhost=on cells: not run, no /dev/vhost-net; Windows: no image; debug: no debug kernel; unimplemented checks say so', () => {
    expect(cannotRun(byId.get('g2h_tcp_rr_1_vhost_on')!, thisHost, cfg)).toMatch(/^no \/dev\/vhost-net on this host \(vhost=on needs the host's vhost_net driver: /);
    expect(cannotRun(byId.get('g2h_tcp_rr_1_vhost_off')!, thisHost, cfg)).toBeNull();
    expect(cannotRun(byId.get('copy_file_copy_to_guest_windows_vhost_off')!, { ...thisHost, functionalRunners: FUNCTIONAL_RUNNERS }, cfg)).toBe('no Windows image (windows_image is not set in the matrix file)');
    // every reason a cell cannot run, not only the first
    expect(cannotRunReasons(byId.get('copy_file_copy_to_guest_windows_vhost_on')!, thisHost, cfg)).toEqual([
      expect.stringMatching(/^no \/dev\/vhost-net on this host/), 'no Windows image (windows_image is not set in the matrix file)', 'no runner for the file-copy-to-guest check in this patchgate yet',
    ]);
    expect(cannotRun(byId.get('copy_file_copy_to_guest_windows_vhost_on')!, thisHost, cfg)!.split('; ')).toHaveLength(3);
    expect(cannotRun(byId.get('copy_file_copy_to_guest_linux_debug_vhost_off')!, thisHost, cfg)).toMatch(/no debug guest kernel/);
    expect(cannotRun(byId.get('filter_vlan_filter_vhost_off')!, thisHost, cfg)).toMatch(/no runner for the vlan-filter check/);
    expect(cannotRun(byId.get('migration_vhost_off')!, { ...thisHost, functionalRunners: ['migration'] }, cfg)).toBeNull();
    expect(cannotRun(byId.get('qos_qos_cgroup_vhost_off')!, { ...thisHost, cgroupCpu: false, functionalRunners: ['qos-cgroup'] }, cfg)).toBe('no writable cgroup cpu controller');
    expect(cannotRun(byId.get('g2h_tcp_rr_1_vhost_off')!, { ...thisHost, root: false }, cfg)).toMatch(/not root/);
    // a guest pair over the socket netdev needs nothing of the host
    expect(cannotRun(byId.get('g2g_tcp_rr_1')!, { ...thisHost, root: false, tun: false }, cfg)).toBeNull();
  });

  it('the probe reads the real host: a configured Windows image that does not exist is reported as missing', () => {
    const c = { ...cfg, windows_image: '/nonexistent/win.qcow2' };
    const h = probeHost(c);
    expect(h.windowsImage).toBeNull();
    expect(h.vhostNet).toBe(existsSync('/dev/vhost-net'));
    expect(cannotRun(byId.get('copy_file_copy_to_guest_windows_vhost_off')!, h, c)).toBe('no Windows image at /nonexistent/win.qcow2');
  });

  it('a run reports every cell: run with its verdict, or not run with the reason; a runner fault stays on its cell', async () => {
    const ran: string[] = [];
    const reports = await runMatrix(cells, { paths: ['drivers/vhost/net.c'], projects: [] }, thisHost, cfg, async (cell) => {
      ran.push(cell.id);
      if (cell.id === 'multi_tcp_rr_1_4pairs') throw new Error('QEMU died');
      return { verdict: `success: ${cell.id}` };
    });
    expect(reports.map((r) => r.id)).toEqual(cells.map((c) => c.id));
    for (const r of reports) expect(r.state === 'run' ? r.verdict : r.reason).toBeTruthy();
    expect(ran).toContain('g2h_tcp_rr_1_vhost_off');
    expect(ran).not.toContain('g2h_tcp_rr_1_vhost_on');
    expect(reports.find((r) => r.id === 'g2h_tcp_rr_1_vhost_on')).toMatchObject({ state: 'not-run', reason: expect.stringMatching(/^no \/dev\/vhost-net on this host/) });
    expect(reports.find((r) => r.id === 'multi_tcp_rr_1_4pairs')).toMatchObject({ state: 'not-run', reason: 'infrastructure fault: QEMU died' });
    expect(reports.find((r) => r.id === 'mq_tcp_rr_1_vhost_off_q2')!.reason).toMatch(/not selected/);
    const table = matrixTable(reports);
    expect(table.split('\n').filter((l) => /^\S+\s+(perf|functional|ring)\s/.test(l))).toHaveLength(cells.length);
    expect(table).toMatch(/g2h_tcp_rr_1_vhost_on\s+perf\s+not-run\s+not run: no \/dev\/vhost-net on this host/);
  });
});

describe('the listing as Markdown (MATRIX.md)', () => {
  it('has one row per cell, escapes pipes, and counts verdict statuses and not-run reasons', async () => {
    const host = { ...thisHost, functionalRunners: FUNCTIONAL_RUNNERS };
    const reports = await runMatrix(cells, { paths: null, projects: [] }, host, cfg, async (cell) => {
      if (cell.kind === 'ring') return { notRun: 'no base and candidate trees given (--base-tree, --candidate-tree)' };
      return cell.kind === 'perf' ? { verdict: `warning: ${cell.id} noisy +1.00% [-1%, +3%] | wall` } : { verdict: `success: ${cell.id}` };
    });
    const md = matrixMarkdown(reports);
    const rows = md.split('\n').filter((l) => /^\| [a-z0-9_]+ \| (perf|functional|ring) \|/.test(l));
    expect(rows).toHaveLength(cells.length);
    expect(md).toContain('\\| wall');
    const run = reports.filter((r) => r.state === 'run');
    const perf = run.filter((r) => r.kind === 'perf').length;
    expect(md).toContain(`${cells.length} cells: ${run.length} run (warning ${perf}, success ${run.length - perf}), ${cells.length - run.length} not run.`);
    expect(md).toMatch(/- 4 x no base and candidate trees given/);
    const vhostOn = cells.filter((c) => c.vhost).length;
    expect(md).toContain(`- ${vhostOn} x no /dev/vhost-net on this host`);
    // every vlan and mac filter cell that is not vhost=on has a runner now
    expect(reports.find((r) => r.id === 'filter_vlan_filter_vhost_off')).toMatchObject({ state: 'run' });
    expect(reports.find((r) => r.id === 'filter_mac_filter_vhost_off')).toMatchObject({ state: 'run' });
  });
});
