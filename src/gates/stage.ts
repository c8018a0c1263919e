// The `gate` stage: the static gates (checkpatch, sign-offs, Fixes:, series format, maintainers' Cc) and the
// performance gate, which boots the base and head kernels of the build stage as guest pairs.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { GateData, GateEntry, StageContext, StageRegistry } from '../queue/registry.js';
import type { StageOutcome } from '../queue/schemas.js';
import { sourceSkippedGates } from '../queue/revision-input.js';
import { probeAccel } from './perf/accel.js';
import { runPerfGate, type PerfCell } from './perf/gate.js';
import { buildInitramfs } from './perf/initramfs.js';
import { matrixGateEntry } from './perf/matrix-stage.js';
import { perfSettingsFrom } from './perf/settings.js';
import type { GateRule } from './perf/stats.js';
import { runStaticGates } from './static-stage.js';

type Status = GateEntry['status'];

const ORDER: Status[] = ['failure', 'conflict', 'warning', 'pending', 'success', 'skipped'];

function worst(statuses: Status[]): Status {
  for (const s of ORDER) if (statuses.includes(s)) return s;
  return 'skipped';
}

interface BuiltConfig {
  config: string;
  artifacts: string | null;
}

/** Runs the perf gate when the build made both the base's and the head's kernel image. */
export async function perfGateEntry(ctx: StageContext): Promise<GateEntry & { details?: unknown }> {
  const settings = perfSettingsFrom(ctx.settings as Record<string, unknown>);
  const skip = (summary: string): GateEntry => ({ id: 'perf', status: 'skipped', summary });
  if (!settings.enabled) return skip('perf gate disabled in the configuration');
  if (ctx.options.perf === false) return skip('perf gate not run (--no-perf)');
  const overridden = sourceSkippedGates(ctx).get('perf');
  if (overridden) return skip(`perf gate ${overridden}`);
  const build = ctx.previous.build?.data as { configs?: BuiltConfig[] } | undefined;
  const cfg = build?.configs?.find((c) => c.config === settings.config);
  if (!cfg?.artifacts) return skip(`no ${settings.config} build of this revision to boot`);
  const head = path.join(cfg.artifacts, 'bzImage');
  const base = path.join(cfg.artifacts, 'base-bzImage');
  if (!existsSync(head) || !existsSync(base)) return skip('the build left no base and head kernel images (build failed?)');
  const work = path.resolve(ctx.settings.work_dir, 'perf', ctx.workerId);
  const rd = buildInitramfs(path.join(work, 'initramfs'));
  const accel = settings.accel === 'auto' ? await probeAccel(base, rd.path, work) : { accel: settings.accel, reason: `accelerator ${settings.accel} set in the configuration` };
  const cells: PerfCell[] = settings.cells.map((c) => ({ id: c.id, test: c.test, transactions: c.transactions, size: c.size, msg: c.msg }));
  const rules: Record<string, GateRule> = {};
  const metricOfCell = new Map<string, string>();
  for (const c of settings.cells) {
    const key = c.test === 'TCP_STREAM' ? `${c.id}_cost_per_kb` : `${c.id}_cost_per_trans`;
    rules[key] = c.rule;
    metricOfCell.set(key, c.id);
  }
  const res = await runPerfGate({
    baselineKernel: base, candidateKernel: head, initrd: rd.path, workDir: path.join(work, `${ctx.seriesId}-v${ctx.version}`),
    cells, rules, plan: { looks: settings.looks, alpha: settings.alpha }, accel: accel.accel, signal: ctx.signal,
    onProgress: (msg) => {
      ctx.log.info({ gate: 'perf' }, msg);
      void ctx.updateProgress({ stage: 'gate', gate: 'perf', msg });
    },
  });
  const metrics: Record<string, unknown> = {};
  for (const [k, m] of Object.entries(res.metrics)) metrics[metricOfCell.get(k) ?? k] = { change: m.change, low: m.low, high: m.high, p: m.p, verdict: m.verdict, metric: k };
  return {
    id: 'perf',
    status: res.status,
    summary: `${res.summary} (${accel.reason})`,
    metrics,
    details: { samples: res.samples, wall: res.wall, note: res.note, accel, wall_ms: res.wallMs },
  };
}

export async function gateStage(ctx: StageContext): Promise<StageOutcome> {
  const build = ctx.previous.build;
  const apply = ctx.previous.apply;
  if (apply && apply.status !== 'success' && apply.status !== 'warning') {
    return { status: 'skipped', summary: `gates not run: apply ${apply.status}`, data: { gates: [] } satisfies GateData };
  }
  const skipped = sourceSkippedGates(ctx);
  const statics = (await runStaticGates(ctx)).map((g) => (skipped.has(g.id) ? { ...g, status: 'skipped' as Status, summary: `${g.id} ${skipped.get(g.id)}` } : g));
  const gates: (GateEntry & { details?: unknown })[] = [...statics];
  if (!build || build.status === 'failure') gates.push({ id: 'perf', status: 'skipped', summary: build ? 'perf gate not run: the build failed' : 'perf gate not run: nothing was built' });
  else gates.push(await perfGateEntry(ctx));
  // the test matrix (gates.matrix, off by default): the cells the series' paths and projects select
  const matrix = build && build.status !== 'failure' ? await matrixGateEntry(ctx) : null;
  if (matrix) gates.push(matrix);
  const status = worst(gates.map((g) => g.status));
  const failing = gates.filter((g) => g.status === 'failure' || g.status === 'warning').map((g) => `${g.id}: ${g.summary}`);
  return { status, summary: failing.length ? failing.join('; ') : `${gates.filter((g) => g.status === 'success').length} gates passed`, data: { gates } };
}

export function registerStages(registry: StageRegistry): void {
  registry.set('gate', gateStage);
}
