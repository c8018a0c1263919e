// The test matrix in the gate stage (`gates.matrix` in the configuration, off by default): the cells of
// config/matrix.yaml that the series' touched paths and projects (config/projects.yaml) select, run on the
// base and head kernels of the build stage, every other cell listed as not run with its reason. The cells the
// perf gate entry already runs (gates.perf.cells) are listed as such rather than run twice.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { GateEntry, StageContext } from '../../queue/registry.js';
import type { Series } from '../../series/types.js';
import { loadProjects, matchesProject, type Project } from '../../web/projects.js';
import { probeAccel } from './accel.js';
import { buildInitramfs } from './initramfs.js';
import { expandMatrix, loadMatrix, probeHost, runMatrix, type CellReport, type MatrixCell, type SeriesScope } from './matrix.js';
import { runMatrixCell } from './matrix-run.js';
import { perfSettingsFrom, type PerfSettings } from './settings.js';
import { buildTopologyInitramfs } from './topologies.js';

export const matrixSettingsSchema = z.object({
  enabled: z.boolean().default(false),
  /** the matrix file (relative paths from the working directory) */
  file: z.string().default('config/matrix.yaml'),
  /** the projects file whose projects select cells (default: projects_file of the config, else config/projects.yaml) */
  projects_file: z.string().optional(),
  looks: z.array(z.number().int().min(3)).default([5, 8]),
  transactions: z.number().int().positive().default(2000),
  /** wall-time budget per perf cell, seconds */
  cell_budget_s: z.number().positive().default(300),
  /** the kernel the functional cells boot instead of the head (one with ACPI, PCI hotplug and 8021q) */
  functional_kernel: z.string().optional(),
});
export type MatrixSettings = z.infer<typeof matrixSettingsSchema>;

export function matrixSettingsFrom(settings: Record<string, unknown>): MatrixSettings {
  const gates = (settings.gates ?? {}) as Record<string, unknown>;
  return matrixSettingsSchema.parse(gates.matrix ?? {});
}

/** The series' touched files and the projects it belongs to: what selects matrix cells. */
export function seriesScope(series: Series, projects: Project[]): SeriesScope {
  return {
    paths: [...new Set(series.patches.flatMap((p) => p.files))],
    projects: projects.filter((p) => matchesProject(p, series)).map((p) => p.id),
  };
}

/** The gates.perf cell that already measures this matrix cell (guest-to-guest, same test and sizes), if any. */
export function coveredByPerfGate(cell: MatrixCell, perf: Pick<PerfSettings, 'cells'>): string | null {
  if (cell.kind !== 'perf' || cell.topology !== 'guest-to-guest') return null;
  const hit = perf.cells.find((c) => c.test === cell.test && (c.size ?? '1,1') === (cell.size ?? '1,1') && (c.msg ?? 16384) === (cell.msg ?? 16384));
  return hit ? hit.id : null;
}

const RANK: Record<string, number> = { failure: 3, warning: 2, success: 1 };

/** The matrix entry's status: the worst verdict of the cells run (not-run cells do not count). */
export function matrixStatus(reports: CellReport[]): GateEntry['status'] {
  const run = reports.filter((r) => r.state === 'run').map((r) => /^([a-z-]+):/.exec(r.verdict ?? '')?.[1] ?? 'warning');
  if (run.length === 0) return 'skipped';
  const worst = run.reduce((a, s) => ((RANK[s] ?? 2) > (RANK[a] ?? 2) ? s : a), 'success');
  return worst === 'failure' ? 'failure' : worst === 'success' ? 'success' : 'warning';
}

function projectsOf(settings: Record<string, unknown>, given: string | undefined): Project[] {
  const file = given ?? (typeof settings.projects_file === 'string' ? settings.projects_file : 'config/projects.yaml');
  return existsSync(file) ? loadProjects(file) : [];
}

/**
 * The `matrix` gate entry, or null when `gates.matrix.enabled` is off (the stage then adds nothing). Runs on
 * the same base and head images as the perf gate; a missing image or matrix file makes the entry skipped.
 */
export async function matrixGateEntry(ctx: StageContext): Promise<(GateEntry & { details?: unknown }) | null> {
  const raw = ctx.settings as unknown as Record<string, unknown>;
  const ms = matrixSettingsFrom(raw);
  if (!ms.enabled) return null;
  const skip = (summary: string): GateEntry => ({ id: 'matrix', status: 'skipped', summary });
  if (ctx.options.perf === false) return skip('test matrix not run (--no-perf)');
  if (!existsSync(ms.file)) return skip(`test matrix not run: no matrix file ${ms.file}`);
  const perf = perfSettingsFrom(raw);
  const build = ctx.previous.build?.data as { configs?: { config: string; artifacts: string | null }[] } | undefined;
  const built = build?.configs?.find((c) => c.config === perf.config);
  const head = built?.artifacts ? path.join(built.artifacts, 'bzImage') : null;
  const base = built?.artifacts ? path.join(built.artifacts, 'base-bzImage') : null;
  if (!head || !base || !existsSync(head) || !existsSync(base)) return skip(`test matrix not run: no ${perf.config} base and head kernel images from the build`);
  const cfg = loadMatrix(ms.file);
  const cells = expandMatrix(cfg);
  const scope = seriesScope(ctx.series, projectsOf(raw, ms.projects_file));
  const work = path.resolve(ctx.settings.work_dir, 'perf', ctx.workerId, `${ctx.seriesId}-v${ctx.version}-matrix`);
  const rdDir = path.resolve(ctx.settings.work_dir, 'perf', ctx.workerId, 'initramfs');
  const initrd = buildInitramfs(rdDir).path;
  const topologyInitrd = buildTopologyInitramfs(rdDir);
  const accel = perf.accel === 'auto' ? await probeAccel(base, initrd, work) : { accel: perf.accel, reason: `accelerator ${perf.accel} set in the configuration` };
  const reports = await runMatrix(cells, scope, probeHost(cfg), cfg, async (cell) => {
    const covered = coveredByPerfGate(cell, perf);
    if (covered) return { notRun: `measured by the perf gate entry (gates.perf cell ${covered})` };
    if (cell.kind === 'ring') return { notRun: 'ring cells run with `patchgate gate ring` on the base and head trees, not in the gate stage yet' };
    void ctx.updateProgress({ stage: 'gate', gate: 'matrix', cell: cell.id });
    return runMatrixCell(cell, {
      baselineKernel: base, candidateKernel: head, initrd, topologyInitrd, workDir: work, accel: accel.accel, signal: ctx.signal,
      plan: { looks: ms.looks, alpha: perf.alpha }, transactions: ms.transactions, cellBudgetMs: ms.cell_budget_s * 1000,
      functionalKernel: ms.functional_kernel, onProgress: (msg) => ctx.log.info({ gate: 'matrix', cell: cell.id }, msg),
    });
  });
  const run = reports.filter((r) => r.state === 'run');
  const status = matrixStatus(reports);
  const bad = run.filter((r) => /^(failure|warning):/.test(r.verdict ?? '')).map((r) => `${r.id} ${r.verdict!.split(':')[0]}`);
  const metrics: Record<string, unknown> = {};
  for (const r of run) metrics[r.id] = { verdict: r.verdict };
  return {
    id: 'matrix', status, metrics,
    summary: `${run.length} of ${reports.length} matrix cells run${bad.length ? ` (${bad.join(', ')})` : ''}, ${reports.length - run.length} not run (${accel.reason})`,
    details: { cells: reports.map(({ details: _d, ...r }) => r), scope },
  };
}
