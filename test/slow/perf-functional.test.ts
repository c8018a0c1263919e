// The matrix's functional checks on real guests (PATCHGATE_SLOW=1, root): file copy both ways, live migration
// during TCP_RR, QoS with a cgroup CPU quota, hotplug through QMP, vlan and mac filtering. The 6.1 perf guest kernel
// (var/perf/kernels/extra-0.bzImage, scripts/perf-kernels.sh builds it) has no ACPI, so hotplug must say so.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMacFilter, runVlanFilter } from '../../src/gates/perf/filter.js';
import { runFileCopy, runHotplug, runMigration, runQos } from '../../src/gates/perf/functional.js';
import { canUseNetns } from '../../src/gates/perf/netns.js';
import { buildTopologyInitramfs } from '../../src/gates/perf/topologies.js';
import { repoRoot } from '../helpers/archive.js';

const kernel = path.join(repoRoot, 'var', 'perf', 'kernels', 'extra-0.bzImage');
// the SMP build of the same kernel with ACPI, PCI hotplug and 8021q (MATRIX.md); its cases skip without it
const fullKernel = path.join(repoRoot, 'var', 'perf', 'kernels-smp', 'smp4.bzImage');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'pg-slow-func-'));
let initrd = '';
beforeAll(() => {
  if (!existsSync(kernel)) execFileSync('bash', [path.join(repoRoot, 'scripts', 'perf-kernels.sh'), '0'], { stdio: 'inherit' });
  initrd = buildTopologyInitramfs(path.join(tmp, 'rd'));
}, 900_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!canUseNetns().ok)('functional checks on a real guest', () => {
  it('copies 1 MiB each way with matching sha256', async () => {
    const r = await runFileCopy({ kernel, initrd, workDir: path.join(tmp, 'copy'), bytes: 1024 * 1024 });
    expect(r.toGuest.status).toBe('success');
    expect(r.fromGuest.status).toBe('success');
    expect(r.fromGuest.details.bytes).toBe(1024 * 1024);
  }, 300_000);

  it('live-migrates the guest between two QEMUs while TCP_RR runs; the run finishes on the destination', async () => {
    const r = await runMigration({ kernel, initrd, workDir: path.join(tmp, 'mig'), secs: 8 });
    expect(r.migrate?.status).toBe('completed');
    expect(r.status).toBe('success');
    expect((r.details.client as { transactions: number }).transactions).toBeGreaterThan(0);
  }, 300_000);

  it('a 10% CPU quota on the QEMU throttles it and lowers the host-side rate', async () => {
    const r = await runQos({ kernel, initrd, workDir: path.join(tmp, 'qos'), transactions: 2000 });
    expect((r.details.cpuStat as Record<string, number>).nr_throttled).toBeGreaterThan(0);
    expect(r.limited).toBeLessThan(r.free);
  }, 300_000);

  it('hotplug on a guest kernel without ACPI is reported as not runnable, with the reason', async () => {
    const r = await runHotplug({ kernel, initrd, workDir: path.join(tmp, 'hp') });
    expect(r.status).toBe('not-run');
    expect(r.summary).toMatch(/no ACPI and no hotplug slots/);
  }, 300_000);

  it('mac filtering: frames to a foreign unicast MAC are dropped, and arrive once the guest is promiscuous', async () => {
    const r = await runMacFilter({ kernel, initrd, workDir: path.join(tmp, 'mac') });
    expect(r.status).toBe('success');
    expect(r.details).toMatchObject({ sent: 100, ctrlRx: true });
    expect(r.details.filtered as number).toBeLessThan(50);
    expect(r.details.promisc as number).toBeGreaterThanOrEqual(100);
  }, 300_000);

  it('vlan filtering on a guest kernel without 802.1Q is reported as not runnable, with the reason', async () => {
    const r = await runVlanFilter({ kernel, initrd, workDir: path.join(tmp, 'vlan-no8021q') });
    expect(r.status).toBe('not-run');
    expect(r.summary).toMatch(/CONFIG_VLAN_8021Q/);
  }, 300_000);

  it.skipIf(!existsSync(fullKernel))('vlan filtering: tagged traffic passes on the shared VID, a wrong VID does not arrive', async () => {
    const r = await runVlanFilter({ kernel: fullKernel, initrd, workDir: path.join(tmp, 'vlan') });
    expect(r.status).toBe('success');
    expect(r.details).toMatchObject({ tagged: { done: 20, wanted: 20 }, receiver: { vid102: 0 } });
    expect(r.details.wrongVidTx as number).toBeGreaterThan(0);
  }, 300_000);

  it.skipIf(!existsSync(fullKernel))('hotplug on a guest kernel with ACPI: the guest sees the NIC come and go', async () => {
    const r = await runHotplug({ kernel: fullKernel, initrd, workDir: path.join(tmp, 'hp-acpi') });
    expect(r.status).toBe('success');
    expect(r.details.steps).toContain('guest: removed');
  }, 300_000);
});
