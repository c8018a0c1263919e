// The static gates for the `gate` stage: builds a GateContext from the stage context (the patch mails
// from the revision input, the tree checkout at the applied head) and runs the registry's gates. The gate stage
// module (src/gates/stage.ts) calls runStaticGates() next to its dynamic gates (perf).
import path from 'node:path';
import { sandboxSettingsSchema } from '../build/sandbox.js';
import { buildSettingsFrom } from '../build/settings.js';
import { treesFromSettings } from '../queue/apply-stage.js';
import type { ApplyData, GateEntry, StageContext } from '../queue/registry.js';
import { sourceRaw } from '../queue/revision-input.js';
import { checkoutPath, withCheckout } from '../trees/checkout.js';
import { git } from '../trees/git.js';
import { treeMirrorPath } from '../trees/mirror.js';
import { gateWorkDir, runGates } from './registry.js';
import type { GateContext, GateOutcome, GatePatch } from './types.js';

/** The patch mail: from the revision input in Redis (a worker without the store), else the store. */
function rawMail(ctx: StageContext, msgid: string): string | null {
  return sourceRaw(ctx, msgid);
}

/** Runs the registered gates (settings from the config's `gates:`) on the series; rows as the contract's `gates`. */
export async function runStaticGates(ctx: StageContext, only?: string[]): Promise<(GateEntry & { details: GateOutcome['details'] })[]> {
  const settings = ctx.settings as Record<string, unknown>;
  const apply = ctx.previous.apply?.data as (ApplyData & { base?: string; head?: string }) | undefined;
  const trees = await treesFromSettings(ctx.settings);
  const treeConf = apply?.tree ? trees.trees.find((t) => t.name === apply.tree!.name) : undefined;
  const patches: GatePatch[] = ctx.series.patches.map((p) => ({
    msgid: p.msgid, number: p.number, name: p.name, author: p.author, mbox: rawMail(ctx, p.msgid), commit: null, files: p.files, trailers: p.trailers,
  }));
  let sandbox;
  try {
    sandbox = buildSettingsFrom(ctx.settings).sandbox;
  } catch {
    sandbox = sandboxSettingsSchema.parse({});
  }
  const scratch = await gateWorkDir(path.resolve(ctx.settings.work_dir, 'gates', ctx.workerId));
  const base = (dir: string | null): GateContext => ({
    seriesId: ctx.seriesId,
    version: ctx.version,
    series: { name: ctx.series.name, total: ctx.series.total, received_all: ctx.series.received_all, cover: ctx.series.cover, submitter: ctx.series.submitter, tags: ctx.series.tags },
    patches,
    tree: treeConf ? { name: treeConf.name, dir, lists: (treeConf.lists ?? []).map((l: string) => l.toLowerCase()) } : null,
    workDir: scratch.dir,
    sandbox,
    signal: ctx.signal,
    log: ctx.log,
  });
  try {
    let outcomes: GateOutcome[];
    if (treeConf && apply?.head && apply.base) {
      const mirror = treeMirrorPath(path.resolve(ctx.settings.work_dir, 'mirrors'), treeConf);
      outcomes = await withCheckout({ mirror, dir: checkoutPath(path.resolve(ctx.settings.work_dir, 'checkouts'), ctx.workerId, treeConf.name), ref: apply.head }, async (co) => {
        const commits = (await git(co.dir, ['rev-list', '--reverse', `${apply.base}..${apply.head}`])).stdout.split('\n').filter(Boolean);
        const inOrder = (apply.apply ?? []).filter((a) => a.outcome === 'applied' || a.outcome === 'applied-3way');
        inOrder.forEach((a, i) => {
          const p = patches.find((x) => x.msgid === a.msgid);
          if (p && commits[i]) p.commit = commits[i];
        });
        return runGates(base(co.dir), { settings: settings.gates as Record<string, unknown> | undefined, only });
      });
    } else {
      outcomes = await runGates(base(null), { settings: settings.gates as Record<string, unknown> | undefined, only });
    }
    return outcomes.map((o) => ({ id: o.id, status: o.status, summary: o.summary, details: o.details, ...(o.metrics ? { metrics: o.metrics } : {}) }));
  } finally {
    await scratch.cleanup();
  }
}
