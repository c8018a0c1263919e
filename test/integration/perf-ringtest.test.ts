// The ring gate for real: tools/virtio/ringtest built out of two small trees (the files ringtest uses, taken
// from the 6.1 source in var/perf/linux or Debian's linux-source tarball), run pinned and interleaved.
// The candidate tree carries a known extra cost in ptr_ring's produce path.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRingtest, ringGateApplies, ringMetric, ringReport, runRingGate, runRingOnce } from '../../src/gates/ringtest/ringtest.js';
import { repoRoot } from '../helpers/archive.js';

const FILES = ['tools/virtio/ringtest', 'include/linux/ptr_ring.h', 'include/uapi/linux/virtio_ring.h', 'include/uapi/linux/virtio_types.h'];
const linux = path.join(repoRoot, 'var', 'perf', 'linux');
const tarball = '/usr/src/linux-source-6.1.tar.xz';
const haveSource = existsSync(path.join(linux, 'tools', 'virtio', 'ringtest')) || existsSync(tarball);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'pg-ring-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function miniTree(dir: string): void {
  if (existsSync(path.join(linux, 'tools', 'virtio', 'ringtest'))) {
    for (const f of FILES) cpSync(path.join(linux, f), path.join(dir, f), { recursive: true, filter: (s) => !s.endsWith('.o') });
  } else {
    mkdirSync(dir, { recursive: true });
    execFileSync('tar', ['-C', dir, '--strip-components=1', '-xJf', tarball, ...FILES.map((f) => `linux-source-6.1/${f}`)]);
  }
}

describe('which series get the ring gate', () => {
  it('drivers/vhost, drivers/virtio, include/linux/virtio*, not other drivers', () => {
    expect(ringGateApplies(['drivers/vhost/vringh.c'])).toBe(true);
    expect(ringGateApplies(['drivers/virtio/virtio_ring.c'])).toBe(true);
    expect(ringGateApplies(['include/linux/virtio_config.h'])).toBe(true);
    expect(ringGateApplies(['drivers/net/tun.c', 'Documentation/x.rst'])).toBe(false);
    expect(ringGateApplies(['include/linux/virtio/other.h'])).toBe(false);
  });
});

describe.skipIf(!haveSource)('ringtest built from two trees', () => {
  const base = path.join(tmp, 'base');
  const cand = path.join(tmp, 'cand');
  beforeAll(() => {
    miniTree(base);
    miniTree(cand);
    const h = path.join(cand, 'include', 'linux', 'ptr_ring.h');
    const src = readFileSync(h, 'utf8');
    const anchor = 'static inline int __ptr_ring_produce(struct ptr_ring *r, void *ptr)\n{\n';
    expect(src).toContain(anchor);
    writeFileSync(h, src.replace(anchor, `${anchor}\t{ int i; for (i = 0; i < 3000; i++) barrier(); }\n`));
  }, 120_000);

  it('builds each tree once, out of the tree, and reuses a build whose inputs did not change', () => {
    const out = path.join(tmp, 'out');
    const a = buildRingtest(base, out, ['ptr_ring', 'ring']);
    expect(a.reused).toBe(false);
    expect(existsSync(path.join(a.dir, 'ptr_ring'))).toBe(true);
    expect(existsSync(path.join(base, 'tools', 'virtio', 'ringtest', 'ptr_ring'))).toBe(false); // the tree stays clean
    const again = buildRingtest(base, out, ['ptr_ring', 'ring']);
    expect(again).toMatchObject({ reused: true, key: a.key, dir: a.dir });
    const c = buildRingtest(cand, out, ['ptr_ring', 'ring']);
    expect(c.key).not.toBe(a.key);
  }, 120_000);

  it('a pinned run reports wall ns per cycle', async () => {
    const a = buildRingtest(base, path.join(tmp, 'out'), ['ptr_ring', 'ring']);
    const r = await runRingOnce(a.dir, 'ptr_ring', 200_000);
    expect(r.cycles).toBe(200_000);
    expect(r.nsPerCycle).toBeCloseTo(r.wallNs / 200_000, 6);
    expect(r.nsPerCycle).toBeGreaterThan(0);
    await expect(runRingOnce(a.dir, 'ptr_ring', 0)).rejects.toThrow(/exited/);
  });

  it('flags the candidate whose ptr_ring produce path costs more, at the first look; the same tree on both sides is an A/A comparison', async () => {
    const r = await runRingGate({ baseTree: base, candidateTree: cand, programs: ['ptr_ring'], plan: { looks: [5], alpha: 0.05 }, threshold: 0.05, workDir: path.join(tmp, 'gate'), cycles: 200_000 });
    expect(r.identical).toBe(false);
    expect(r.samples.baseline[ringMetric('ptr_ring')]).toHaveLength(5);
    expect(r.metrics[ringMetric('ptr_ring')].verdict).toBe('regression');
    expect(r.status).toBe('failure');
    expect(ringReport(r)).toMatch(/ringtest_ptr_ring_ns_per_cycle: regression \+\d/);
    const aa = await runRingGate({ baseTree: base, candidateTree: base, programs: ['ring'], plan: { looks: [5], alpha: 0.05 }, threshold: 0.05, workDir: path.join(tmp, 'gate'), cycles: 200_000 });
    expect(aa.identical).toBe(true);
    expect(aa.builds!.candidate.reused).toBe(true);
    expect(ringReport(aa)).toMatch(/identical ringtest inputs/);
  }, 120_000);
});
