// The apply stage: select the tree (src/trees/select.ts), then `git am --3way` the series on it in this
// worker's reused checkout (src/trees/apply.ts), trying the candidates in order, and push the result to
// the results repository as `patchgate/<series-id>/v<rev>`. A conflict is an outcome; a git or network
// fault throws (retried by the queue).
//
// Settings (passthrough keys of the config file): `trees:` (or `trees_file:`), `work_dir:`, and
//   results: { repo: var/results.git }   a bare repository people fetch the branches from
//   mirrors: { max_age_s: 600 }          fetch a tree's mirror when older than this
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { ParsedMessage } from '../mail/types.js';
import { renderAm } from '../series/am.js';
import type { Series } from '../series/types.js';
import type { Settings } from '../settings/schema.js';
import { applySeries, applyToFirstCandidate, resultBranch, type ApplySeriesResult } from '../trees/apply.js';
import { checkoutPath, withCheckout } from '../trees/checkout.js';
import { loadTrees, parseTrees, type TreeConfig, type TreesFile } from '../trees/config.js';
import { git } from '../trees/git.js';
import { fetchMirror, treeMirrorPath } from '../trees/mirror.js';
import { gitProbe } from '../trees/probe.js';
import { selectionInputFromSeries, selectTree, type TreeProbe } from '../trees/select.js';
import type { StageContext, StageRegistry, ApplyData } from './registry.js';
import { sourceBaseOverride, sourceMessages, sourceTreeOverride } from './revision-input.js';
import type { StageOutcome } from './schemas.js';

/** The trees: the config's `trees:` list when it has one, else `trees_file:`; `elsewhere` from the file. */
export async function treesFromSettings(settings: Settings): Promise<TreesFile> {
  const file = settings.trees_file ? await loadTrees(settings.trees_file) : null;
  if (settings.trees.length) return parseTrees({ trees: settings.trees, elsewhere: file?.elsewhere ?? [] }, 'trees');
  return file ?? { trees: [], elsewhere: [] };
}

function workPaths(settings: Settings): { mirrors: string; checkouts: string; results: string; maxAgeMs: number } {
  const extra = settings as Record<string, unknown>;
  const results = (extra.results as { repo?: string } | undefined)?.repo ?? path.join(settings.work_dir, 'results.git');
  const maxAge = (extra.mirrors as { max_age_s?: number } | undefined)?.max_age_s ?? 600;
  return {
    mirrors: path.resolve(settings.work_dir, 'mirrors'),
    checkouts: path.resolve(settings.work_dir, 'checkouts'),
    results: path.resolve(results),
    maxAgeMs: maxAge * 1000,
  };
}

async function ensureResultsRepo(dir: string): Promise<void> {
  if (existsSync(path.join(dir, 'HEAD'))) return;
  await mkdir(dir, { recursive: true });
  await git(null, ['init', '--bare', '--quiet', dir]);
}

/** A probe that fetches a tree's mirror (when stale) before asking git about it. */
function fetchingProbe(root: string, maxAgeMs: number, signal: AbortSignal): TreeProbe {
  const inner = gitProbe({ repoFor: (tree) => treeMirrorPath(root, tree) });
  const ready = new Map<string, Promise<unknown>>();
  const fetch = (tree: TreeConfig) => {
    signal.throwIfAborted();
    let p = ready.get(tree.url);
    if (!p) {
      p = fetchMirror(root, tree.url, { maxAgeMs });
      ready.set(tree.url, p);
    }
    return p;
  };
  return {
    async contains(tree, commit) { await fetch(tree); return inner.contains(tree, commit); },
    async maintainers(tree) { await fetch(tree); return inner.maintainers(tree); },
    async existingFiles(tree, files) { await fetch(tree); return inner.existingFiles ? inner.existingFiles(tree, files) : null; },
    async patchIdsPresent(tree, ids) { await fetch(tree); return inner.patchIdsPresent ? inner.patchIdsPresent(tree, ids) : new Set<string>(); },
  };
}

function summarize(tree: string, result: ApplySeriesResult): string {
  const conflict = result.patches.find((p) => p.outcome === 'conflict');
  if (conflict) return `conflict on ${tree}: ${conflict.files.join(', ') || conflict.msgid}`;
  const n = (o: string) => result.patches.filter((p) => p.outcome === o).length;
  const parts = [`${n('applied') + n('applied-3way')} applied`];
  if (n('applied-3way')) parts.push(`${n('applied-3way')} through 3-way`);
  if (n('already-applied')) parts.push(`${n('already-applied')} already in the tree`);
  return `${parts.join(', ')} on ${tree}`;
}

export async function applyStage(ctx: StageContext): Promise<StageOutcome> {
  const { series, settings, signal } = ctx;
  const trees = await treesFromSettings(settings);
  const paths = workPaths(settings);
  const ids = [series.cover, ...series.patches.map((p) => p.msgid)].filter((x): x is string => !!x);
  // from the revision input in Redis (a worker without the store), else the store
  const byMsgid = sourceMessages(ctx, ids);
  const messages = ids.map((id) => byMsgid.get(id)).filter((m): m is ParsedMessage => !!m);
  const empty = (status: StageOutcome['status'], summary: string, tree: ApplyData['tree'] = null): StageOutcome => ({
    status, summary, data: { tree, apply: [], branch: null } satisfies ApplyData as unknown as Record<string, unknown>,
  });
  if (trees.trees.length === 0) return empty('skipped', 'no trees configured');

  const probe = fetchingProbe(paths.mirrors, paths.maxAgeMs, signal);
  // a maintainer's `patchgate: tree X` (src/report/commands.ts) decides alone
  const selection = await selectTree({ ...selectionInputFromSeries(series, messages), override: sourceTreeOverride(ctx) }, trees, probe);
  ctx.log.info({ tree: selection.name, reason: selection.reason, candidates: selection.candidates.map((c) => c.name) }, 'tree selected');
  if (!selection.name) return empty('skipped', selection.reason);

  const patches = patchesToApply(series, byMsgid);
  const candidates = selection.candidates
    .map((c) => ({ ...c, config: trees.trees.find((t) => t.name === c.name)! }))
    .filter((c) => c.config);
  if (patches.length === 0) {
    return empty('skipped', 'no patch with a diff to apply (pull request?)', { name: candidates[0].name, reason: candidates[0].reason });
  }
  await ensureResultsRepo(paths.results);
  const branch = resultBranch(series.id, series.version);
  const attempt = await applyToFirstCandidate(candidates, async (c) => {
    const mirror = (await fetchMirror(paths.mirrors, c.config.url, { maxAgeMs: paths.maxAgeMs })).dir;
    let ref = `refs/heads/${c.config.branch}`;
    // a maintainer's `patchgate: base <sha>` before the series' own base-commit
    const baseHint = sourceBaseOverride(ctx) ?? series.base_commit;
    if (baseHint && (await probe.contains(c.config, baseHint))) ref = baseHint;
    return withCheckout({ mirror, dir: checkoutPath(paths.checkouts, ctx.workerId, c.config.name), ref }, (co) =>
      applySeries({ checkoutDir: co.dir, baseRef: co.baseSha, patches, resultsRepo: paths.results, branch, signal }));
  });
  if (!attempt.tree || !attempt.result) return empty('skipped', selection.reason);
  const result = attempt.result;
  const data: ApplyData = {
    tree: { name: attempt.tree.name, reason: attempt.tree.reason },
    apply: result.patches.map((p) => ({ msgid: p.msgid, outcome: p.outcome, files: p.files, detail: p.detail })),
    branch: result.branch,
  };
  return {
    status: result.status === 'success' ? 'success' : 'conflict',
    summary: summarize(attempt.tree.name, result),
    data: { ...data, base: result.baseSha, head: result.head, tried: attempt.tried, notes: selection.notes } as unknown as Record<string, unknown>,
  };
}

/** One git-am-ready mbox per patch that carries a diff, collected trailers included (as `patchgate am`). */
export function patchesToApply(series: Series, byMsgid: Map<string, ParsedMessage>): { msgid: string; mbox: string; subject: string }[] {
  const out: { msgid: string; mbox: string; subject: string }[] = [];
  for (const p of [...series.patches].sort((a, b) => a.number - b.number)) {
    const msg = byMsgid.get(p.msgid);
    if (!msg?.diff) continue;
    const mbox = renderAm({ ...series, patches: [p] }, byMsgid);
    if (mbox) out.push({ msgid: p.msgid, mbox, subject: p.subject });
  }
  return out;
}

export function registerStages(registry: StageRegistry): void {
  registry.set('apply', applyStage);
}
