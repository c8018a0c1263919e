// The apply stage in one call, for the pipeline: fresh-enough mirrors, tree selection, the worker's
// checkout of the chosen tree, applySeries, the result branch. Fills `tree`, `apply` and `branch`
// of `patchgate run` (shared/docs/contract.md).
import path from 'node:path';
import { logger } from '../log.js';
import { applySeries, applyToFirstCandidate, resultBranch, type ApplySeriesResult, type Committer, type PatchApplyResult, type PatchToApply, type TrailerLine } from './apply.js';
import { checkoutPath, withCheckout } from './checkout.js';
import type { TreeConfig, TreesFile } from './config.js';
import { fetchMirror, treeMirrorPath } from './mirror.js';
import { gitProbe } from './probe.js';
import { ensureResultsRepo } from './results.js';
import { selectTree, type SelectionInput, type TreeCandidate, type TreeSelection } from './select.js';

const log = logger.child({ module: 'trees/apply-on-tree' });

export interface TreeDirs {
  /** bare mirrors, one per tree URL */
  mirrors: string;
  /** per-worker checkouts */
  checkouts: string;
  /** the results repository (created when missing) */
  results: string;
}

export interface ApplyOnTreeOptions {
  tree: TreeConfig;
  dirs: TreeDirs;
  /** names this worker's checkout (one per worker and tree) */
  workerId: string;
  patches: PatchToApply[];
  trailers?: TrailerLine[];
  /** `patchgate/<series-id>/v<rev>` */
  branch: string;
  /** fetch the tree's mirror when its last fetch is older than this (default 10 minutes; 0: always) */
  fetchMaxAgeMs?: number;
  committer?: Committer;
  signal?: AbortSignal;
}

/** Applies the series on the tip of one tree's branch in this worker's checkout of it. */
export async function applyOnTree(options: ApplyOnTreeOptions): Promise<ApplySeriesResult> {
  const { tree, dirs } = options;
  const mirror = (await fetchMirror(dirs.mirrors, tree.url, { maxAgeMs: options.fetchMaxAgeMs ?? 10 * 60_000 })).dir;
  const results = await ensureResultsRepo(dirs.results, { borrowFrom: [mirror] });
  const dir = checkoutPath(dirs.checkouts, options.workerId, path.basename(mirror, '.git'));
  return withCheckout({ mirror, dir, ref: `refs/heads/${tree.branch}`, reset: false, lock: { signal: options.signal } }, () =>
    applySeries({
      checkoutDir: dir,
      baseRef: `refs/heads/${tree.branch}`,
      patches: options.patches,
      trailers: options.trailers,
      resultsRepo: results,
      branch: options.branch,
      committer: options.committer,
      signal: options.signal,
    }),
  );
}

export interface SelectAndApplyOptions {
  input: SelectionInput;
  trees: TreesFile;
  dirs: TreeDirs;
  workerId: string;
  seriesId: string;
  revision: number;
  patches: PatchToApply[];
  trailers?: TrailerLine[];
  fetchMaxAgeMs?: number;
  committer?: Committer;
  signal?: AbortSignal;
}

export interface SelectAndApplyResult {
  /** as `patchgate run` prints it */
  tree: { name: string; reason: string } | null;
  apply: PatchApplyResult[];
  branch: string | null;
  selection: TreeSelection;
  result: ApplySeriesResult | null;
  tried: Array<{ name: string; status: 'success' | 'conflict' }>;
}

/**
 * Selects the tree and applies the series; when selection is unsure, tries its candidates in order
 * and keeps the first on which the series applies (the reason says so). No tree: nothing applied.
 */
export async function selectAndApply(options: SelectAndApplyOptions): Promise<SelectAndApplyResult> {
  const { trees, dirs } = options;
  for (const url of new Set(trees.trees.map((t) => t.url))) {
    await fetchMirror(dirs.mirrors, url, { maxAgeMs: options.fetchMaxAgeMs ?? 10 * 60_000 });
  }
  const probe = gitProbe({ repoFor: (t) => treeMirrorPath(dirs.mirrors, t) });
  const selection = await selectTree(options.input, trees, probe);
  if (!selection.name) {
    return { tree: null, apply: [], branch: null, selection, result: null, tried: [] };
  }
  const byName = new Map(trees.trees.map((t) => [t.name, t]));
  const branch = resultBranch(options.seriesId, options.revision);
  const picked = await applyToFirstCandidate<TreeCandidate>(selection.candidates, (candidate) =>
    applyOnTree({
      tree: byName.get(candidate.name)!,
      dirs,
      workerId: options.workerId,
      patches: options.patches,
      trailers: options.trailers,
      branch,
      fetchMaxAgeMs: options.fetchMaxAgeMs,
      committer: options.committer,
      signal: options.signal,
    }),
  );
  log.info({ series: options.seriesId, rev: options.revision, tree: picked.tree?.name, tried: picked.tried }, 'tree selected and series applied');
  return {
    tree: picked.tree ? { name: picked.tree.name, reason: picked.tree.reason } : null,
    apply: picked.result?.patches ?? [],
    branch: picked.result?.branch ?? null,
    selection,
    result: picked.result,
    tried: picked.tried,
  };
}
