// The builder interface and registry. The pipeline calls runBuild(); it picks the first builder
// that applies to the tree (the kernel builder for Kbuild trees; a QEMU builder can be added to
// BUILDERS later without touching the pipeline).
import type { Logger } from '../log.js';
import { logger } from '../log.js';
import type { Diagnostic } from './diagnostics.js';
import type { ConfigMismatch } from './kconfig.js';
import type { BuildSettings } from './settings.js';

export type BuildStatus = 'success' | 'warning' | 'failure' | 'skipped';

export interface BuildTree {
  /** tree name from the configuration (`net-next`) */
  name: string;
  /** the checkout: a git work tree holding the series applied as commits */
  dir: string;
  /** the builder the tree's configuration names (trees.yaml `builder:`); else the first that applies */
  builder?: 'kernel' | 'qemu';
}

export interface BuildPatch {
  msgid: string;
  /** the commit this patch became in the checkout (parents: base, then the previous patch) */
  commit: string;
}

export interface BuildContext {
  seriesId: string;
  version: number;
  tree: BuildTree;
  /** the commit the series was applied on */
  base: string;
  /** in series order; patches that made no commit (already applied, skipped) are left out */
  patches: BuildPatch[];
  settings: BuildSettings;
  /** identifies this worker: out dirs are per worker at a fixed path */
  workerId: string;
  signal?: AbortSignal;
  log?: Logger;
  updateProgress?(progress: number | Record<string, unknown>): Promise<void> | void;
}

/** The contract's issue shape: `{ file, line, message }` (message carries the flag, gcc style). */
export interface BuildIssue {
  file: string;
  line: number;
  message: string;
}

export interface PatchBuild {
  msgid: string;
  commit: string;
  status: BuildStatus;
  new_warnings: BuildIssue[];
  fixed_warnings: BuildIssue[];
  errors: BuildIssue[];
  /** why a patch was skipped, or what failed when no compiler error says it */
  detail?: string;
  /** what the build sandbox stopped during this patch's build (network, writes, hidden files, process limit) */
  sandbox_denials?: string[];
  duration_ms: number;
  log?: string;
}

export interface ConfigBuild {
  config: string;
  status: BuildStatus;
  /** the base commit's build */
  base: { status: BuildStatus; duration_ms: number; errors: BuildIssue[]; log?: string; sandbox_denials?: string[] };
  patches: PatchBuild[];
  /** fragment options the final .config does not have */
  config_mismatches: ConfigMismatch[];
  artifacts: string | null;
}

export interface BuildResult {
  builder: string;
  status: BuildStatus;
  summary: string;
  configs: ConfigBuild[];
}

export interface Builder {
  id: 'kernel' | 'qemu';
  appliesTo(tree: BuildTree): boolean | Promise<boolean>;
  build(ctx: BuildContext): Promise<BuildResult>;
}

const RANK: Record<BuildStatus, number> = { skipped: 0, success: 1, warning: 2, failure: 3 };

/** The worst of several statuses (failure sticks); skipped only when everything was skipped. */
export function combineBuildStatus(list: BuildStatus[]): BuildStatus {
  let worst: BuildStatus = 'skipped';
  for (const s of list) if (RANK[s] > RANK[worst]) worst = s;
  return worst;
}

export function issueOf(d: Diagnostic): BuildIssue {
  return { file: d.file, line: d.line, message: d.flag ? `${d.message} [${d.flag}]` : d.message };
}

const registry: Builder[] = [];

/** Adds a builder (later registrations are asked first). */
export function registerBuilder(builder: Builder): void {
  const i = registry.findIndex((b) => b.id === builder.id);
  if (i >= 0) registry.splice(i, 1);
  registry.unshift(builder);
}

export function builders(): readonly Builder[] {
  return registry;
}

/** Builds the series with the first builder that applies; none applying is a skipped result. */
export async function runBuild(ctx: BuildContext, list: readonly Builder[] = registry): Promise<BuildResult> {
  const log = ctx.log ?? logger.child({ module: 'build', series: ctx.seriesId, rev: ctx.version });
  const candidates = ctx.tree.builder ? list.filter((b) => b.id === ctx.tree.builder) : list;
  for (const b of candidates) {
    if (await b.appliesTo(ctx.tree)) {
      log.info({ builder: b.id, tree: ctx.tree.name, patches: ctx.patches.length }, 'build starts');
      return b.build({ ...ctx, log });
    }
  }
  const named = ctx.tree.builder ? ` (${ctx.tree.builder} asked for)` : '';
  return { builder: 'none', status: 'skipped', summary: `no builder applies to tree ${ctx.tree.name}${named}`, configs: [] };
}

/**
 * One contract row per patch (shared/docs/contract.md `build`), merged over the configs: the worst
 * status, the union of new warnings and errors. Patches not built (no commit) come back skipped.
 */
export function toContractRows(result: BuildResult, msgids: string[]): { msgid: string; status: BuildStatus; new_warnings: BuildIssue[]; errors: BuildIssue[] }[] {
  return msgids.map((msgid) => {
    const rows = result.configs.flatMap((c) => c.patches.filter((p) => p.msgid === msgid));
    const seen = new Set<string>();
    const uniq = (list: BuildIssue[]) =>
      list.filter((i) => {
        const k = `${i.file}\0${i.line}\0${i.message}`;
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
      });
    const new_warnings = uniq(rows.flatMap((r) => r.new_warnings));
    seen.clear();
    const errors = uniq(rows.flatMap((r) => r.errors));
    return { msgid, status: rows.length ? combineBuildStatus(rows.map((r) => r.status)) : 'skipped', new_warnings, errors };
  });
}
