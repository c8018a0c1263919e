// Per-worker checkouts: a detached worktree of the tree's mirror, created once and reused between
// jobs (am state dropped, reset --hard, clean -fdx), guarded by a lock file beside it. Nothing chdirs.
import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { logger } from '../log.js';
import { CheckoutError, GitCommandError } from './errors.js';
import { git } from './git.js';
import { acquireLock, type LockOptions } from './lock.js';

const log = logger.child({ module: 'trees/checkout' });

export interface Checkout {
  dir: string;
  mirror: string;
  /** the commit `ref` resolved to (the checkout is there unless opened with reset: false) */
  baseSha: string;
  release(): Promise<void>;
}

/** `<root>/<worker>/<tree>`: one checkout per worker and tree. */
export function checkoutPath(root: string, workerId: string, treeName: string): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_');
  return path.resolve(root, safe(workerId), safe(treeName));
}

async function isWorktreeOf(dir: string, mirror: string): Promise<boolean> {
  try {
    await stat(path.join(dir, '.git'));
    const common = (await git(dir, ['rev-parse', '--path-format=absolute', '--git-common-dir'])).stdout.trim();
    return path.resolve(common) === path.resolve(mirror);
  } catch {
    return false;
  }
}

/** Resolves a ref (branch, sha, `refs/heads/x`) to a commit in the mirror. */
export async function resolveCommit(repo: string, ref: string): Promise<string> {
  const r = await git(repo, ['rev-parse', '--verify', '-q', `${ref}^{commit}`], { ok: [0, 1, 128] });
  if (r.code !== 0) throw new CheckoutError(repo, ref, r.stderr || `unknown revision ${ref}`);
  return r.stdout.trim();
}

/** A brand-new detached worktree (what a job would cost without reuse; bench/apply compares the two). */
export async function addWorktree(mirror: string, dir: string, ref: string): Promise<void> {
  await mkdir(path.dirname(dir), { recursive: true });
  await rm(dir, { recursive: true, force: true });
  await git(mirror, ['worktree', 'prune']);
  try {
    await git(mirror, ['worktree', 'add', '--detach', '--quiet', '--force', dir, ref]);
  } catch (err) {
    throw new CheckoutError(dir, ref, err instanceof GitCommandError ? err.stderr : String(err));
  }
  // no background gc started by a job's git am (the mirror's gc is scheduled)
  await git(mirror, ['config', 'gc.auto', '0']);
}

export async function removeWorktree(mirror: string, dir: string): Promise<void> {
  await git(mirror, ['worktree', 'remove', '--force', dir], { ok: [0, 128] });
  await rm(dir, { recursive: true, force: true });
  await git(mirror, ['worktree', 'prune']);
}

/**
 * Puts an existing checkout back to `ref`: drops a half-done git am, removes a stale index.lock
 * (we hold the checkout's lock, so no other git runs here), reset --hard, clean -fdx.
 */
export async function resetCheckout(dir: string, ref: string): Promise<string> {
  const gitDir = (await git(dir, ['rev-parse', '--path-format=absolute', '--git-dir'])).stdout.trim();
  await rm(path.join(gitDir, 'index.lock'), { force: true });
  await rm(path.join(gitDir, 'rebase-apply'), { recursive: true, force: true });
  await rm(path.join(gitDir, 'rebase-merge'), { recursive: true, force: true });
  const sha = await resolveCommit(dir, ref);
  try {
    await git(dir, ['reset', '--hard', '--quiet', sha]);
    await git(dir, ['clean', '-fdxq']);
  } catch (err) {
    throw new CheckoutError(dir, ref, err instanceof GitCommandError ? err.stderr : String(err));
  }
  return sha;
}

export interface OpenCheckoutOptions {
  /** the tree's mirror (mirror.ts) */
  mirror: string;
  /** the checkout directory (checkoutPath()) */
  dir: string;
  /** commit or ref of the mirror to start from, e.g. `refs/heads/main` */
  ref: string;
  lock?: LockOptions;
  /**
   * reset --hard + clean -fdx to `ref` now (default true). applySeries() resets by itself: pass
   * false when it comes next, to save one reset (about 1 s on a kernel tree).
   */
  reset?: boolean;
}

/**
 * Locks the checkout, creates it on first use, resets it to `ref`. Call release() when the job is
 * done with it (withCheckout() does).
 */
export async function openCheckout(options: OpenCheckoutOptions): Promise<Checkout> {
  const { mirror, dir, ref } = options;
  await mkdir(path.dirname(dir), { recursive: true });
  const lock = await acquireLock(`${dir}.lock`, options.lock);
  try {
    const sha = await resolveCommit(mirror, ref);
    if (!(await isWorktreeOf(dir, mirror))) {
      log.info({ dir, mirror }, 'creating checkout');
      await addWorktree(mirror, dir, sha);
    }
    const baseSha = options.reset === false ? sha : await resetCheckout(dir, sha);
    return { dir, mirror, baseSha, release: () => lock.release() };
  } catch (err) {
    await lock.release();
    throw err;
  }
}

export async function withCheckout<T>(options: OpenCheckoutOptions, fn: (checkout: Checkout) => Promise<T>): Promise<T> {
  const checkout = await openCheckout(options);
  try {
    return await fn(checkout);
  } finally {
    await checkout.release();
  }
}
