// Slow: imports Debian's linux-source-6.1 with scripts/import-linux-source.sh (once; var/ keeps it),
// mirrors it, writes a real 3-patch series against drivers/net/tun.c and drivers/vhost/net.c with
// git format-patch, and applies it in a worker checkout, then again in the reused checkout.
// Run: npm run test:slow (PATCHGATE_SLOW=1). Skips, saying why, when the tarball is absent.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { applySeries, resultBranch, type PatchToApply } from '../../src/trees/apply.js';
import { openCheckout } from '../../src/trees/checkout.js';
import { fetchMirror } from '../../src/trees/mirror.js';
import { ensureResultsRepo, listResultBranches } from '../../src/trees/results.js';
import { writeLinuxSeries } from './linux-series.js';

const repoRoot = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const TARBALL = process.env.PATCHGATE_LINUX_TARBALL ?? '/usr/src/linux-source-6.1.tar.xz';
const TREE = process.env.PATCHGATE_LINUX_TREE ?? path.join(repoRoot, 'var', 'linux-source-6.1');
const haveTarball = existsSync(TARBALL);
if (!haveTarball) {
  process.stderr.write(`apply-linux: SKIPPED: ${TARBALL} is absent (apt-get install linux-source-6.1, or set PATCHGATE_LINUX_TARBALL)\n`);
}

const scratch = mkdtempSync(path.join(tmpdir(), 'patchgate-slow-apply-'));
// a kernel worktree is ~80k files: remove it without blocking the event loop, and give it time
afterAll(() => rm(scratch, { recursive: true, force: true }), 10 * 60_000);

function git(dir: string, args: string[]): string {
  return execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' }, maxBuffer: 64 * 1024 * 1024 }).trim();
}

function ms(since: bigint): number {
  return Number((process.hrtime.bigint() - since) / 1_000_000n);
}

describe.skipIf(!haveTarball)('a real series on linux-source-6.1', () => {
  it('imports the tarball, applies a 3-patch tun/vhost series, pushes the branch', { timeout: 20 * 60_000 }, async () => {
    const timings: Record<string, number> = {};
    let t = process.hrtime.bigint();
    const base = execFileSync(path.join(repoRoot, 'scripts', 'import-linux-source.sh'), [TREE, TARBALL], { encoding: 'utf8' }).trim();
    timings.import = ms(t);
    expect(base).toMatch(/^[0-9a-f]{40}$/);
    expect(git(TREE, ['log', '-1', '--format=%s', 'main'])).toMatch(/^linux-source-6\.1 /);

    t = process.hrtime.bigint();
    const mirror = (await fetchMirror(path.join(scratch, 'mirrors'), TREE)).dir;
    timings.mirror = ms(t);

    // the submitter's series, written on the base and turned into mail with git format-patch
    const patches: PatchToApply[] = writeLinuxSeries(mirror, scratch, 3);
    expect(patches.map((p) => p.subject)).toEqual([
      '[PATCH net-next 1/3] tun: return -ENODEV when carrier goes up without queues',
      '[PATCH net-next 2/3] tun: explain TUN_FLOW_EXPIRE',
      '[PATCH net-next 3/3] vhost/net: make vhost_net_buf_is_empty() return bool',
    ]);
    expect(patches[0].mbox).toContain('@@ static int tun_net_change_carrier(struct net_device *dev, bool new_carrier)');

    const results = await ensureResultsRepo(path.join(scratch, 'results.git'), { borrowFrom: [mirror] });
    t = process.hrtime.bigint();
    const checkout = await openCheckout({ mirror, dir: path.join(scratch, 'checkouts', 'worker-1', 'linux'), ref: 'refs/heads/main' });
    timings.checkoutCreate = ms(t);
    try {
      const branch = resultBranch('20231114-tun-enodev-ada@example.org', 1);
      t = process.hrtime.bigint();
      const first = await applySeries({
        checkoutDir: checkout.dir, baseRef: 'refs/heads/main', patches, resultsRepo: results, branch,
        trailers: [{ name: 'Reviewed-by', value: 'Rita Reviewer <rita@example.org>' }],
      });
      timings.applyFirst = ms(t);
      expect(first.patches.map((p) => [p.outcome, p.files])).toEqual([
        ['applied', ['drivers/net/tun.c']],
        ['applied', ['drivers/net/tun.c']],
        ['applied', ['drivers/vhost/net.c']],
      ]);
      expect(first.baseSha).toBe(base);
      expect(git(checkout.dir, ['log', '-1', '--format=%B', first.head])).toContain('Reviewed-by: Rita Reviewer <rita@example.org>');
      expect(git(checkout.dir, ['show', `${first.head}:drivers/vhost/net.c`])).toContain('static bool vhost_net_buf_is_empty(');
      expect((await listResultBranches(results)).get(branch)).toBe(first.head);

      // the next job on this worker reuses the checkout: reset --hard, clean -fdx, am
      t = process.hrtime.bigint();
      const again = await applySeries({ checkoutDir: checkout.dir, baseRef: 'refs/heads/main', patches });
      timings.applyReused = ms(t);
      expect(again.patches.map((p) => p.outcome)).toEqual(['applied', 'applied', 'applied']);

      // the same series on a tree that already has patch 1: found by patch-id
      t = process.hrtime.bigint();
      const has1 = await applySeries({ checkoutDir: checkout.dir, baseRef: first.patches[0].commit!, patches });
      timings.applyAlreadyApplied = ms(t);
      expect(has1.patches.map((p) => p.outcome)).toEqual(['already-applied', 'applied', 'applied']);
    } finally {
      await checkout.release();
    }
    process.stderr.write(`apply-linux timings (ms): ${JSON.stringify(timings)}\n`);
  });
});
