// Mirrors and checkout locks on real repositories.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckout, withCheckout } from '../../src/trees/checkout.js';
import { acquireLock } from '../../src/trees/lock.js';
import { fetchMirror, fetchTreeMirrors, mirrorPath, treeHead } from '../../src/trees/mirror.js';
import { parseTrees } from '../../src/trees/config.js';
import { commit, initRepo, numbered, sh, tempDir } from './trees-git.js';

let scratch: ReturnType<typeof tempDir>;
let upstream: string;
let root: string;

beforeAll(() => {
  scratch = tempDir();
  upstream = initRepo(path.join(scratch.dir, 'upstream'));
  commit(upstream, 'first', { 'a.c': numbered('a', 5) });
  sh(upstream, ['branch', 'queue']);
  root = path.join(scratch.dir, 'mirrors');
});
afterAll(() => scratch?.cleanup());

describe('mirrors', () => {
  it('one bare mirror per URL, branches under refs/heads, fetched when older than the limit', async () => {
    const { trees } = parseTrees({ trees: [{ name: 'kvm', url: upstream, branch: 'main' }, { name: 'kvm-queue', url: upstream, branch: 'queue' }] });
    const states = await fetchTreeMirrors(root, trees);
    expect(states.size).toBe(1);
    const dir = mirrorPath(root, upstream);
    expect(sh(dir, ['rev-parse', '--is-bare-repository'])).toBe('true');
    expect(sh(dir, ['config', 'gc.auto'])).toBe('0');
    expect(await treeHead(root, trees[1])).toBe(sh(upstream, ['rev-parse', 'queue']));

    const second = commit(upstream, 'second', { 'a.c': numbered('a', 5, { 2: 'changed' }) });
    expect((await fetchMirror(root, upstream, { maxAgeMs: 60_000 })).fetched).toBe(false);
    expect(await treeHead(root, trees[0])).not.toBe(second);
    expect((await fetchMirror(root, upstream)).fetched).toBe(true);
    expect(await treeHead(root, trees[0])).toBe(second);
  });
});

describe('checkouts', () => {
  it('are worktrees of the mirror, reset and cleaned between jobs', async () => {
    const mirror = mirrorPath(root, upstream);
    const dir = path.join(scratch.dir, 'checkouts', 'w1', 'kvm');
    await withCheckout({ mirror, dir, ref: 'refs/heads/queue' }, async (c) => {
      expect(c.baseSha).toBe(sh(upstream, ['rev-parse', 'queue']));
      writeFileSync(path.join(dir, 'a.c'), 'dirty\n');
      writeFileSync(path.join(dir, 'build.o'), 'junk\n');
    });
    await withCheckout({ mirror, dir, ref: 'refs/heads/main' }, async (c) => {
      expect(sh(dir, ['rev-parse', 'HEAD'])).toBe(c.baseSha);
      expect(sh(dir, ['status', '--porcelain', '--ignored'])).toBe('');
    });
    expect(sh(mirror, ['worktree', 'list']).split('\n')).toHaveLength(2);
  });

  it('a lock left by a dead process on this host is taken over', async () => {
    const file = path.join(scratch.dir, 'stale.lock');
    writeFileSync(file, `999999999@${(await import('node:os')).hostname()}\n`);
    const lock = await acquireLock(file, { waitMs: 1000, pollMs: 20 });
    await lock.release();
  });

  it('an unknown base is an infrastructure error, not an outcome', async () => {
    const mirror = mirrorPath(root, upstream);
    await expect(openCheckout({ mirror, dir: path.join(scratch.dir, 'checkouts', 'w2', 'x'), ref: 'refs/heads/nope' })).rejects.toThrow(/refs\/heads\/nope/);
  });
});
