// The build cgroup against cgroupfs-shaped directories (the files the kernel's interfaces name, with the
// contents it writes): what is written for v1 and v2, how usage is read back, and the sweep of what dead bot
// processes left. The real v1 hierarchy is exercised by test/integration/build-sandbox-secrets.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createBuildCgroup, sweepBuildCgroups } from '../../../src/build/cgroup.js';

const roots: string[] = [];
function fakeRoot(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'pg-cgroupfs-'));
  roots.push(root);
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    writeFileSync(path.join(root, f), text);
  }
  return root;
}
const text = (root: string, f: string) => readFileSync(path.join(root, f), 'utf8');

afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

describe('build cgroup', () => {
  it('v2: hands memory and pids down to its parent, sets memory.max, swap and pids.max, and reads the events', () => {
    const root = fakeRoot({ 'cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma misc\n', 'cgroup.subtree_control': 'cpu\n' });
    const cg = createBuildCgroup('b1-1', { memoryMb: 64, pids: 10 }, root)!;
    expect(cg.version).toBe(2);
    expect(text(root, 'cgroup.subtree_control')).toBe('+memory +pids');
    expect(text(root, 'patchgate/cgroup.subtree_control')).toBe('+memory +pids');
    expect(text(root, 'patchgate/b1-1/memory.max')).toBe(String(64 * 1024 * 1024));
    expect(text(root, 'patchgate/b1-1/pids.max')).toBe('10');
    expect(cg.procs).toEqual([path.join(root, 'patchgate/b1-1/cgroup.procs')]);
    // as the kernel writes them after a build that hit both limits
    writeFileSync(path.join(root, 'patchgate/b1-1/memory.events'), 'low 0\nhigh 0\nmax 12\noom 1\noom_kill 2\noom_group_kill 0\n');
    writeFileSync(path.join(root, 'patchgate/b1-1/pids.events'), 'max 3\n');
    writeFileSync(path.join(root, 'patchgate/b1-1/memory.peak'), `${3 * 1024 * 1024}\n`);
    expect(cg.usage()).toEqual({ oomKills: 2, pidsLimitHit: true, peakMemoryMb: 3 });
  });

  it('v1: the memory and pids hierarchies, with swap held to the same limit where it is accounted', () => {
    const root = fakeRoot({ 'memory/memory.limit_in_bytes': '9223372036854771712\n', 'memory/cgroup.procs': '', 'pids/cgroup.procs': '' });
    mkdirSync(path.join(root, 'memory/patchgate/b1-2'), { recursive: true });
    writeFileSync(path.join(root, 'memory/patchgate/b1-2/memory.memsw.limit_in_bytes'), '9223372036854771712\n');
    const cg = createBuildCgroup('b1-2', { memoryMb: 128, pids: 20 }, root)!;
    expect(cg.version).toBe(1);
    expect(text(root, 'memory/patchgate/b1-2/memory.limit_in_bytes')).toBe(String(128 * 1024 * 1024));
    expect(text(root, 'memory/patchgate/b1-2/memory.memsw.limit_in_bytes')).toBe(String(128 * 1024 * 1024));
    expect(text(root, 'pids/patchgate/b1-2/pids.max')).toBe('20');
    expect(cg.procs).toEqual([path.join(root, 'memory/patchgate/b1-2/cgroup.procs'), path.join(root, 'pids/patchgate/b1-2/cgroup.procs')]);
    writeFileSync(path.join(root, 'memory/patchgate/b1-2/memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 4\n');
    writeFileSync(path.join(root, 'memory/patchgate/b1-2/memory.max_usage_in_bytes'), `${130 * 1024 * 1024}\n`);
    writeFileSync(path.join(root, 'pids/patchgate/b1-2/pids.events'), 'max 0\n');
    expect(cg.usage()).toEqual({ oomKills: 4, pidsLimitHit: false, peakMemoryMb: 130 });
  });

  it('is null where there is neither, and the sweep removes only the empty cgroups of dead bot processes', () => {
    expect(createBuildCgroup('b1-3', { memoryMb: 1, pids: 1 }, fakeRoot({ 'cgroup.controllers': 'cpu io\n' }))).toBeNull();
    const root = fakeRoot({});
    for (const d of ['patchgate/b999999999-1', `patchgate/b${process.pid}-1`, 'memory/patchgate/b999999999-2', 'patchgate/not-ours']) mkdirSync(path.join(root, d), { recursive: true });
    expect(sweepBuildCgroups(root).sort()).toEqual([path.join(root, 'memory/patchgate/b999999999-2'), path.join(root, 'patchgate/b999999999-1')]);
    expect(existsSync(path.join(root, `patchgate/b${process.pid}-1`))).toBe(true);
    expect(existsSync(path.join(root, 'patchgate/not-ours'))).toBe(true);
  });
});
