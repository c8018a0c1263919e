// The `build` stage: takes the apply stage's result (tree, base, head, per-patch outcomes), opens this
// worker's checkout of the tree at the head, and builds the series with runBuild(). Its data is the
// contract's `build` rows plus the per-config details.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { treesFromSettings } from '../queue/apply-stage.js';
import type { ApplyData, BuildData, StageContext, StageRegistry } from '../queue/registry.js';
import type { StageOutcome } from '../queue/schemas.js';
import { checkoutPath, withCheckout } from '../trees/checkout.js';
import { git } from '../trees/git.js';
import { treeMirrorPath } from '../trees/mirror.js';
import { builders, registerBuilder, runBuild, toContractRows, type BuildPatch } from './builder.js';
import { kernelBuilder } from './kernel.js';
import { buildSettingsFrom } from './settings.js';

if (!builders().some((b) => b.id === 'kernel')) registerBuilder(kernelBuilder);

interface ApplyOutcomeData extends ApplyData {
  base?: string;
  head?: string;
}

function skipped(ctx: StageContext, summary: string): StageOutcome {
  const data: BuildData = { build: ctx.series.patches.map((p) => ({ msgid: p.msgid, status: 'skipped', new_warnings: [], errors: [] })) };
  return { status: 'skipped', summary, data: data as unknown as Record<string, unknown> };
}

/** Pairs the applied patches (in order) with the commits base..head. */
export function pairCommits(apply: ApplyData['apply'], commits: string[]): BuildPatch[] {
  const applied = apply.filter((a) => a.outcome === 'applied' || a.outcome === 'applied-3way');
  return applied.slice(0, commits.length).map((a, i) => ({ msgid: a.msgid, commit: commits[i] }));
}

export async function buildStage(ctx: StageContext): Promise<StageOutcome> {
  const apply = ctx.previous.apply;
  const data = apply?.data as ApplyOutcomeData | undefined;
  if (!apply || !data?.tree || !data.base || !data.head) return skipped(ctx, 'nothing applied to build');
  if (apply.status !== 'success' && apply.status !== 'warning') return skipped(ctx, `not built: apply ${apply.status}`);
  const settings = ctx.settings;
  const trees = await treesFromSettings(settings);
  const tree = trees.trees.find((t) => t.name === data.tree!.name);
  if (!tree) return skipped(ctx, `tree ${data.tree.name} is no longer configured`);
  const mirror = treeMirrorPath(path.resolve(settings.work_dir, 'mirrors'), tree);
  // the head may have been made on another worker: fetch it from the results repository
  const has = await git(mirror, ['cat-file', '-e', `${data.head}^{commit}`], { ok: [0, 1, 128] });
  if (has.code !== 0 && data.branch) {
    const results = ((settings as Record<string, unknown>).results as { repo?: string } | undefined)?.repo ?? path.join(settings.work_dir, 'results.git');
    if (existsSync(results)) await git(mirror, ['fetch', '-q', path.resolve(results), `refs/heads/${data.branch}`]);
  }
  const buildSettings = buildSettingsFrom(settings);
  const result = await withCheckout({ mirror, dir: checkoutPath(path.resolve(settings.work_dir, 'checkouts'), ctx.workerId, tree.name), ref: data.head }, async (co) => {
    const commits = (await git(co.dir, ['rev-list', '--reverse', `${data.base}..${data.head}`])).stdout.split('\n').filter(Boolean);
    const patches = pairCommits(data.apply, commits);
    return runBuild({
      seriesId: ctx.seriesId,
      version: ctx.version,
      tree: { name: tree.name, dir: co.dir, builder: tree.builder },
      base: data.base!,
      patches,
      settings: buildSettings,
      workerId: ctx.workerId,
      signal: ctx.signal,
      log: ctx.log,
      updateProgress: (p) => ctx.updateProgress(typeof p === 'number' ? p : p),
    });
  });
  const rows = toContractRows(result, ctx.series.patches.map((p) => p.msgid));
  const out: BuildData & Record<string, unknown> = { build: rows, builder: result.builder, configs: result.configs };
  return { status: result.status, summary: result.summary, data: out };
}

export function registerStages(registry: StageRegistry): void {
  registry.set('build', buildStage);
}
