// The heads queue's job: one HEAD run, then a bisection of every change it detected (when the tree's
// schedule entry allows it). Outcomes are data in the store; only infrastructure faults throw.
import type { Job } from 'bullmq';
import { bisectBetween, bisectChange, runHead, type BisectionOutcome, type HeadRunResult, type HeadsContext } from './run.js';
import { headsSettingsFrom } from './settings.js';
import type { HeadJobData } from './schedule.js';

export interface HeadJobResult {
  run: Pick<HeadRunResult, 'runId' | 'commit' | 'status' | 'changes' | 'notRun' | 'note'>;
  bisections: { id: number; metric: string; summary: string; culprit: string | null }[];
}

export async function runHeadJob(ctx: HeadsContext, data: HeadJobData, opts: { bisect?: boolean } = {}): Promise<HeadJobResult> {
  const heads = ctx.heads ?? headsSettingsFrom(ctx.settings as Record<string, unknown>);
  const run = await runHead({ ...ctx, heads }, data.tree, { trigger: data.trigger, commit: data.commit });
  const allowed = opts.bisect ?? (heads.trees.find((t) => t.tree === data.tree)?.bisect ?? true);
  const bisections: HeadJobResult['bisections'] = [];
  if (allowed) {
    for (const c of run.changes) {
      const b: BisectionOutcome = await bisectChange({ ...ctx, heads }, c.id);
      bisections.push({ id: b.bisectionId, metric: c.metric, summary: b.result.summary, culprit: b.result.culprit?.commit ?? null });
    }
  }
  return { run: { runId: run.runId, commit: run.commit, status: run.status, changes: run.changes, notRun: run.notRun, note: run.note }, bisections };
}

export interface BisectJobResult {
  bisection: { id: number; metric: string; state: string; summary: string; culprit: string | null; candidates: string[] };
}

/** A bisection job (dashboard, mail command): a detected change, or a range with a metric. */
export async function runBisectJob(ctx: HeadsContext, data: HeadJobData): Promise<BisectJobResult> {
  const heads = ctx.heads ?? headsSettingsFrom(ctx.settings as Record<string, unknown>);
  const req = data.bisect;
  if (!req) throw new Error('not a bisection job');
  let b: BisectionOutcome;
  if ('changeId' in req) b = await bisectChange({ ...ctx, heads }, req.changeId);
  else b = await bisectBetween({ ...ctx, heads }, data.tree, { good: req.good, bad: req.bad, metric: req.metric || `${heads.cells[0]}_cost_per_trans` });
  return {
    bisection: {
      id: b.bisectionId, metric: b.result.metric, state: b.result.status, summary: b.result.summary, culprit: b.result.culprit?.commit ?? null,
      candidates: b.result.candidates.map((c) => c.commit),
    },
  };
}

/** The bullmq processor for the heads queue: HEAD runs (the schedule, the triggers) and bisections, one code path. */
export function headJobProcessor(ctx: HeadsContext): (job: Job<HeadJobData>) => Promise<HeadJobResult | BisectJobResult> {
  return (job) => (job.data.bisect ? runBisectJob(ctx, job.data) : runHeadJob(ctx, job.data));
}
