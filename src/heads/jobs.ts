// The heads queue's job: one HEAD run, then a bisection of every change it detected (when the tree's
// schedule entry allows it). Outcomes are data in the store; only infrastructure faults throw.
import type { Job } from 'bullmq';
import { bisectChange, runHead, type BisectionOutcome, type HeadRunResult, type HeadsContext } from './run.js';
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

/** The bullmq processor for the heads queue. */
export function headJobProcessor(ctx: HeadsContext): (job: Job<HeadJobData>) => Promise<HeadJobResult> {
  return (job) => runHeadJob(ctx, job.data);
}
