// selectAndApply: selection, per-worker checkouts of the chosen tree, apply, result branch, on
// real git trees; candidates tried in order when selection is unsure.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectAndApply, type TreeDirs } from '../../src/trees/apply-on-tree.js';
import { parseTrees, type TreesFile } from '../../src/trees/config.js';
import type { PatchToApply } from '../../src/trees/apply.js';
import { listResultBranches } from '../../src/trees/results.js';
import type { SelectionInput } from '../../src/trees/select.js';
import { commit, formatPatch, initRepo, numbered, sh, tempDir } from './trees-git.js';

let scratch: ReturnType<typeof tempDir>;
let trees: TreesFile;
let dirs: TreeDirs;
let series: PatchToApply[];

const input = (partial: Partial<SelectionInput>): SelectionInput => ({
  tags: [], baseCommit: null, prerequisitePatchIds: [], fixes: [], files: [], listIds: [], to: [], cc: [], ...partial,
});

beforeAll(() => {
  scratch = tempDir();
  const base = initRepo(path.join(scratch.dir, 'linux'));
  commit(base, 'Linux 6.1', { 'drivers/net/tun.c': numbered('tun', 40) });
  const clone = (name: string) => {
    const dir = path.join(scratch.dir, name);
    sh(scratch.dir, ['clone', '-q', base, dir]);
    return dir;
  };
  const net = clone('net');
  const netNext = clone('net-next');
  // net-next moved on: the series (written on net) conflicts there
  commit(netNext, 'tun: rework line 20', { 'drivers/net/tun.c': numbered('tun', 40, { 20: '\treworked();' }) });
  const dev = clone('dev');
  const p1 = commit(dev, 'tun: fix line 20\n\nSigned-off-by: Ada Author <ada@example.org>', { 'drivers/net/tun.c': numbered('tun', 40, { 20: '\tfixed();' }) });
  series = [{ msgid: '<fix-1@example.org>', subject: '[PATCH] tun: fix line 20', mbox: formatPatch(dev, p1) }];
  trees = parseTrees({
    trees: [
      { name: 'net-next', url: netNext, branch: 'main', lists: ['netdev@vger.kernel.org'], tokens: ['net-next'] },
      { name: 'net', url: net, branch: 'main', lists: ['netdev@vger.kernel.org'], tokens: ['net'], fixes: true },
    ],
  });
  dirs = { mirrors: path.join(scratch.dir, 'mirrors'), checkouts: path.join(scratch.dir, 'checkouts'), results: path.join(scratch.dir, 'results.git') };
});
afterAll(() => scratch?.cleanup());

describe('selectAndApply', () => {
  it('unsure selection: tries net-next, then net, keeps net and says why', async () => {
    const r = await selectAndApply({ input: input({ listIds: ['<netdev.vger.kernel.org>'] }), trees, dirs, workerId: 'w1', seriesId: 's-1', revision: 2, patches: series });
    expect(r.selection.candidates.map((c) => c.name)).toEqual(['net-next', 'net']);
    expect(r.tree).toEqual({ name: 'net', reason: 'sent to netdev@vger.kernel.org; net-next conflicted, net applies' });
    expect(r.apply.map((p) => p.outcome)).toEqual(['applied']);
    expect(r.branch).toBe('patchgate/s-1/v2');
    expect((await listResultBranches(dirs.results)).get('patchgate/s-1/v2')).toBe(r.result!.head);
  });

  it('a series marked for net-next stays on net-next and reports the conflict', async () => {
    const r = await selectAndApply({ input: input({ tags: ['net-next'], listIds: ['<netdev.vger.kernel.org>'] }), trees, dirs, workerId: 'w1', seriesId: 's-2', revision: 1, patches: series });
    expect(r.tree).toEqual({ name: 'net-next', reason: 'marked for net-next' });
    expect(r.apply[0]).toMatchObject({ outcome: 'conflict', files: ['drivers/net/tun.c'] });
    expect(r.apply[0].detail).toContain('error: patch failed: drivers/net/tun.c:17');
    expect(r.branch).toBeNull();
  });

  it('no tree: nothing applied', async () => {
    const r = await selectAndApply({ input: input({ to: ['linux-kernel@vger.kernel.org'] }), trees, dirs, workerId: 'w1', seriesId: 's-3', revision: 1, patches: series });
    expect(r).toMatchObject({ tree: null, apply: [], branch: null });
  });
});
