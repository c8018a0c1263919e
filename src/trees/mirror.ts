// One bare mirror per tree URL (trees sharing a URL, like kvm next and queue, share it), fetched on
// demand when older than a limit, or on a schedule. Branches land in refs/heads/*, tags in refs/tags/*.
// Job checkouts are worktrees of the mirror (checkout.ts), so objects are never copied.
import { createHash } from 'node:crypto';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { logger } from '../log.js';
import type { TreeConfig } from './config.js';
import { redactUrl } from './errors.js';
import { git, gitClient } from './git.js';
import { withLock } from './lock.js';

const STAMP = 'patchgate-fetched';
const log = logger.child({ module: 'trees/mirror' });

/** `<root>/<last path part>-<hash of the URL>.git`: stable, readable, never colliding. */
export function mirrorPath(root: string, url: string): string {
  const tail = url.replace(/\/+$/, '').replace(/\.git$/, '').split(/[/:]/).pop() || 'tree';
  const hash = createHash('sha256').update(url.trim()).digest('hex').slice(0, 10);
  return path.resolve(root, `${tail.replace(/[^A-Za-z0-9._-]/g, '_')}-${hash}.git`);
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

async function lastFetch(dir: string): Promise<number | null> {
  return stat(path.join(dir, STAMP)).then(
    (s) => s.mtimeMs,
    () => null,
  );
}

export interface FetchOptions {
  /** fetch only when the last fetch is older than this, ms (0: always) */
  maxAgeMs?: number;
}

export interface MirrorState {
  dir: string;
  /** true when this call cloned or fetched */
  fetched: boolean;
}

async function cloneMirror(url: string, dir: string): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(path.dirname(dir), { recursive: true });
  const started = Date.now();
  await git(null, ['clone', '--bare', '--quiet', '--no-tags', url, tmp]);
  await git(tmp, ['config', 'remote.origin.fetch', '+refs/heads/*:refs/heads/*']);
  await git(tmp, ['config', '--add', 'remote.origin.fetch', '+refs/tags/*:refs/tags/*']);
  // maintenance is scheduled (gcMirror), never started by a job's git am
  await git(tmp, ['config', 'gc.auto', '0']);
  await git(tmp, ['config', 'maintenance.auto', 'false']);
  await rename(tmp, dir);
  log.info({ url: redactUrl(url), dir, ms: Date.now() - started }, 'mirror cloned');
}

/**
 * Makes sure the mirror of `url` exists under `root` and is fresh enough; returns its directory.
 * Concurrent callers on one machine wait for each other (a lock file beside the mirror).
 */
export async function fetchMirror(root: string, url: string, options: FetchOptions = {}): Promise<MirrorState> {
  const dir = mirrorPath(root, url);
  await mkdir(root, { recursive: true });
  return withLock(`${dir}.lock`, async () => {
    if (!(await exists(path.join(dir, 'HEAD')))) {
      await cloneMirror(url, dir);
      await writeFile(path.join(dir, STAMP), new Date().toISOString());
      return { dir, fetched: true };
    }
    const last = await lastFetch(dir);
    const maxAge = options.maxAgeMs ?? 0;
    if (maxAge > 0 && last !== null && Date.now() - last < maxAge) return { dir, fetched: false };
    const started = Date.now();
    await gitClient(dir).fetch(['--prune', '--quiet', 'origin']);
    await writeFile(path.join(dir, STAMP), new Date().toISOString());
    log.debug({ url: redactUrl(url), dir, ms: Date.now() - started }, 'mirror fetched');
    return { dir, fetched: true };
  });
}

/** Only the directory, without touching the network. */
export function treeMirrorPath(root: string, tree: Pick<TreeConfig, 'url'>): string {
  return mirrorPath(root, tree.url);
}

/** Fetches every distinct URL once. */
export async function fetchTreeMirrors(root: string, trees: TreeConfig[], options: FetchOptions = {}): Promise<Map<string, MirrorState>> {
  const byUrl = new Map<string, MirrorState>();
  for (const url of new Set(trees.map((t) => t.url))) byUrl.set(url, await fetchMirror(root, url, options));
  return byUrl;
}

/** The commit at the tip of the tree's branch in its mirror. */
export async function treeHead(root: string, tree: Pick<TreeConfig, 'url' | 'branch'>): Promise<string> {
  const dir = treeMirrorPath(root, tree);
  return (await git(dir, ['rev-parse', '--verify', `refs/heads/${tree.branch}^{commit}`])).stdout.trim();
}

/** Packs the mirror (the scheduled half of gc.auto=0). Worktree HEADs keep their commits alive. */
export async function gcMirror(root: string, url: string): Promise<void> {
  const dir = mirrorPath(root, url);
  await withLock(`${dir}.lock`, () => git(dir, ['gc', '--quiet']));
}

/**
 * Fetches every tree's mirror now and then every `intervalMs` until the signal aborts. Errors are
 * logged and retried at the next tick: a fetch failure must not stop the schedule. `afterFetch` runs after each
 * mirror's fetch (also when it was fresh enough to skip), with the trees it serves (merged.ts looks there for
 * merged series); its errors are logged like a fetch's.
 */
export function scheduleMirrorFetch(
  root: string,
  trees: TreeConfig[],
  intervalMs: number,
  signal: AbortSignal,
  afterFetch?: (dir: string, trees: TreeConfig[]) => Promise<unknown>,
): Promise<void> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const tick = async () => {
      for (const url of new Set(trees.map((t) => t.url))) {
        if (signal.aborted) break;
        try {
          const { dir } = await fetchMirror(root, url, { maxAgeMs: intervalMs / 2 });
          if (afterFetch && !signal.aborted) await afterFetch(dir, trees.filter((t) => t.url === url));
        } catch (err) {
          log.warn({ url: redactUrl(url), err: err instanceof Error ? redactUrl(err.message) : String(err) }, 'mirror fetch failed; next try at the next tick');
        }
      }
      if (!signal.aborted) timer = setTimeout(tick, intervalMs);
    };
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
    void tick();
  });
}
