// Applying series with git am --3way in a reused worktree of a real mirror; results pushed to a
// real bare repository and fetched back.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySeries, applyToFirstCandidate, resultBranch, type PatchToApply } from '../../src/trees/apply.js';
import { openCheckout, type Checkout } from '../../src/trees/checkout.js';
import { LockTimeoutError } from '../../src/trees/errors.js';
import { fetchMirror } from '../../src/trees/mirror.js';
import { commit, formatPatch, initRepo, numbered, read, sh, tempDir } from './trees-git.js';

let scratch: ReturnType<typeof tempDir>;
let mirror: string;
let results: string;
let checkout: Checkout;
const sha: Record<string, string> = {};
const patch: Record<string, PatchToApply> = {};

const TUN = (changes: Record<number, string> = {}) => numbered('tun', 60, changes);
const VHOST = (changes: Record<number, string> = {}) => numbered('vhost_net', 60, changes);

beforeAll(async () => {
  scratch = tempDir();
  const upstream = initRepo(path.join(scratch.dir, 'upstream'));
  sha.base = commit(upstream, 'Linux 6.1', { 'drivers/net/tun.c': TUN(), 'drivers/vhost/net.c': VHOST() });

  // the submitter's series, written on the base
  const dev = path.join(scratch.dir, 'dev');
  sh(scratch.dir, ['clone', '-q', upstream, dev]);
  const p1 = commit(dev, 'tun: check the header length\n\nA longer explanation.\n\nSigned-off-by: Ada Author <ada@example.org>', { 'drivers/net/tun.c': TUN({ 10: '\ttun_check_len();' }) });
  const p2 = commit(dev, 'tun: drop a stale counter\n\nSigned-off-by: Ada Author <ada@example.org>', { 'drivers/net/tun.c': TUN({ 10: '\ttun_check_len();', 30: '\ttun_no_counter();' }) });
  const p3 = commit(dev, 'vhost/net: use the new helper\n\nSigned-off-by: Ada Author <ada@example.org>', { 'drivers/vhost/net.c': VHOST({ 5: '\tvhost_helper();' }) });
  patch.p1 = { msgid: '<p1@example.org>', subject: '[PATCH net-next 1/3] tun: check the header length', mbox: formatPatch(dev, p1) };
  patch.p2 = { msgid: '<p2@example.org>', subject: '[PATCH net-next 2/3] tun: drop a stale counter', mbox: formatPatch(dev, p2) };
  patch.p3 = { msgid: '<p3@example.org>', subject: '[PATCH net-next 3/3] vhost/net: use the new helper', mbox: formatPatch(dev, p3) };

  // upstream branches the series meets
  const branch = (name: string, message: string, files: Record<string, string>) => {
    sh(upstream, ['checkout', '-q', '-b', name, sha.base]);
    sha[name] = commit(upstream, message, files);
  };
  branch('conflicting', 'tun: rework the counter', { 'drivers/net/tun.c': TUN({ 30: '\ttun_counter_v2();' }) });
  branch('shifted', 'tun: rename a helper', { 'drivers/net/tun.c': TUN({ 27: '\ttun_renamed();' }) });
  branch('has-p1', 'tun: check the header length (backported, reworded)', { 'drivers/net/tun.c': TUN({ 10: '\ttun_check_len();' }) });
  branch('has-p2-reworked', 'tun: drop a stale counter', { 'drivers/net/tun.c': TUN({ 30: '\ttun_counter_gone();', 31: '\tx();' }) });
  branch('has-p1-and-more', 'tun: several things', { 'drivers/net/tun.c': TUN({ 10: '\ttun_check_len();', 55: '\tother();' }) });
  sh(upstream, ['checkout', '-q', 'main']);

  mirror = (await fetchMirror(path.join(scratch.dir, 'mirrors'), upstream)).dir;
  results = path.join(scratch.dir, 'results.git');
  sh(scratch.dir, ['init', '-q', '--bare', results]);
  checkout = await openCheckout({ mirror, dir: path.join(scratch.dir, 'checkouts', 'worker-1', 'net-next'), ref: 'refs/heads/main' });
});

afterAll(async () => {
  await checkout?.release();
  scratch?.cleanup();
});

const series = () => [patch.p1, patch.p2, patch.p3];
const log = (rev: string, format = '%s') => sh(checkout.dir, ['log', `--format=${format}`, `${sha.base}..${rev}`]).split('\n').reverse();

describe('applySeries', () => {
  it('applies a clean series and pushes a branch people can fetch', async () => {
    const branch = resultBranch('20231114-tun-header-ada@example.org', 1);
    const r = await applySeries({ checkoutDir: checkout.dir, baseRef: 'refs/heads/main', patches: series(), resultsRepo: results, branch });
    expect(r.status).toBe('success');
    expect(r.baseSha).toBe(sha.base);
    expect(r.patches.map((p) => [p.msgid, p.outcome, p.files])).toEqual([
      ['<p1@example.org>', 'applied', ['drivers/net/tun.c']],
      ['<p2@example.org>', 'applied', ['drivers/net/tun.c']],
      ['<p3@example.org>', 'applied', ['drivers/vhost/net.c']],
    ]);
    expect(r.patches[2].commit).toBe(r.head);
    expect(log(r.head)).toEqual(['tun: check the header length', 'tun: drop a stale counter', 'vhost/net: use the new helper']);
    expect(r.branch).toBe('patchgate/20231114-tun-header-ada@example.org/v1');

    const reader = path.join(scratch.dir, 'reader');
    sh(scratch.dir, ['clone', '-q', results, reader]);
    sh(reader, ['fetch', '-q', 'origin', r.branch!]);
    expect(sh(reader, ['rev-parse', 'FETCH_HEAD'])).toBe(r.head);
    expect(read(reader, '.git/FETCH_HEAD')).toContain(r.branch!);

    // same base, same patches: the same commits (committer date = author date)
    const again = await applySeries({ checkoutDir: checkout.dir, baseRef: 'refs/heads/main', patches: series() });
    expect(again.head).toBe(r.head);
  });

  it('puts collected trailers into the applied commits, without doubling one already there', async () => {
    const r = await applySeries({
      checkoutDir: checkout.dir,
      baseRef: 'refs/heads/main',
      patches: [{ ...patch.p1, trailers: [{ name: 'Reviewed-by', value: 'Rita Reviewer <rita@example.org>' }] }, patch.p2],
      trailers: [{ name: 'Tested-by', value: 'Tom Tester <tom@example.org>' }, { name: 'Signed-off-by', value: 'Ada Author <ada@example.org>' }],
    });
    const first = sh(checkout.dir, ['log', '-1', '--format=%B', r.patches[0].commit!]);
    expect(first).toBe(
      'tun: check the header length\n\nA longer explanation.\n\nSigned-off-by: Ada Author <ada@example.org>\n' +
        'Reviewed-by: Rita Reviewer <rita@example.org>\nTested-by: Tom Tester <tom@example.org>',
    );
    expect(sh(checkout.dir, ['log', '-1', '--format=%B', r.head])).toBe(
      'tun: drop a stale counter\n\nSigned-off-by: Ada Author <ada@example.org>\nTested-by: Tom Tester <tom@example.org>',
    );
    expect(sh(checkout.dir, ['log', '-1', '--format=%an <%ae>|%cn', r.head])).toBe('Ada Author <ada@example.org>|patchgate');
  });

  it('reports a conflict with the file and the failing hunk, skips the rest, pushes nothing', async () => {
    const r = await applySeries({ checkoutDir: checkout.dir, baseRef: 'refs/heads/conflicting', patches: series(), resultsRepo: results, branch: 'patchgate/conflict/v1' });
    expect(r.status).toBe('conflict');
    expect(r.patches.map((p) => p.outcome)).toEqual(['applied', 'conflict', 'skipped']);
    const conflict = r.patches[1];
    expect(conflict.files).toEqual(['drivers/net/tun.c']);
    expect(conflict.detail).toContain('error: patch failed: drivers/net/tun.c:27');
    expect(conflict.detail).toContain('CONFLICT (content): Merge conflict in drivers/net/tun.c');
    expect(conflict.detail).toContain('(hunk @@ -27,7 +27,7 @@');
    expect(conflict.hunk).toContain('+\ttun_no_counter();');
    expect(r.patches[2].detail).toBe('not tried: patch 2 <p2@example.org> did not apply');
    expect(r.patches[2].files).toEqual(['drivers/vhost/net.c']);
    expect(r.branch).toBeNull();
    expect(sh(results, ['branch', '--list', 'patchgate/conflict/*'])).toBe('');
    // the checkout is left clean on the last good commit, and is reusable at once
    expect(r.head).toBe(r.patches[0].commit);
    expect(sh(checkout.dir, ['status', '--porcelain'])).toBe('');
    const next = await applySeries({ checkoutDir: checkout.dir, baseRef: 'refs/heads/main', patches: series() });
    expect(next.status).toBe('success');
  });

  it('falls back to a 3-way merge where the plain patch does not apply', async () => {
    const r = await applySeries({ checkoutDir: checkout.dir, baseRef: 'refs/heads/shifted', patches: series() });
    expect(r.patches.map((p) => p.outcome)).toEqual(['applied', 'applied-3way', 'applied']);
    expect(r.patches[1].detail).toMatch(/3-way/);
    const tun = read(checkout.dir, 'drivers/net/tun.c');
    expect(tun).toContain('\ttun_renamed();');
    expect(tun).toContain('\ttun_no_counter();');
  });

  it('knows a patch already in the base by patch-id and carries on', async () => {
    const r = await applySeries({ checkoutDir: checkout.dir, baseRef: 'refs/heads/has-p1', patches: series() });
    expect(r.patches.map((p) => p.outcome)).toEqual(['already-applied', 'applied', 'applied']);
    expect(r.patches[0].commit).toBe(sha['has-p1']);
    expect(r.patches[0].detail).toMatch(/^same change \(patch-id [0-9a-f]{12}\) as [0-9a-f]+ \("tun: check the header length \(backported, reworded\)"\) in the base$/);
    expect(r.status).toBe('success');
  });

  it('knows a reworked patch already in the base by its subject', async () => {
    const r = await applySeries({ checkoutDir: checkout.dir, baseRef: 'refs/heads/has-p2-reworked', patches: series() });
    expect(r.patches.map((p) => p.outcome)).toEqual(['applied', 'already-applied', 'applied']);
    expect(r.patches[1].commit).toBe(sha['has-p2-reworked']);
    expect(r.patches[1].detail).toMatch(/has the same subject and the patch no longer applies$/);
  });

  it('takes git am’s "already applied" when the change is inside a bigger commit', async () => {
    const r = await applySeries({ checkoutDir: checkout.dir, baseRef: 'refs/heads/has-p1-and-more', patches: series() });
    expect(r.patches[0].outcome).toBe('already-applied');
    expect(r.patches.slice(1).map((p) => p.outcome)).toEqual(['applied', 'applied']);
  });
});

describe('checkouts and candidates', () => {
  it('a checkout is locked while a job holds it', async () => {
    const other = openCheckout({ mirror, dir: checkout.dir, ref: 'refs/heads/main', lock: { waitMs: 300, pollMs: 50 } });
    await expect(other).rejects.toBeInstanceOf(LockTimeoutError);
  });

  it('tries the candidates in order and keeps the first that applies, saying so', async () => {
    const attempt = (c: { name: string; reason: string }) => applySeries({ checkoutDir: checkout.dir, baseRef: `refs/heads/${c.name}`, patches: series() });
    const picked = await applyToFirstCandidate(
      [{ name: 'conflicting', reason: 'paths drivers/net/tun.c are NETWORKING DRIVERS (conflicting)' }, { name: 'main', reason: 'sent to netdev@vger.kernel.org' }],
      attempt,
    );
    expect(picked.tree).toEqual({ name: 'main', reason: 'sent to netdev@vger.kernel.org; conflicting conflicted, main applies' });
    expect(picked.tried).toEqual([{ name: 'conflicting', status: 'conflict' }, { name: 'main', status: 'success' }]);
    const none = await applyToFirstCandidate([{ name: 'conflicting', reason: 'marked for x' }], attempt);
    expect(none.tree?.name).toBe('conflicting');
    expect(none.result?.status).toBe('conflict');
  });
});
