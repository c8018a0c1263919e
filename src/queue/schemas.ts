// What travels through Redis, validated with zod: job data holds ids only; a stage returns an outcome.
import { z } from 'zod';

export const statusSchema = z.enum(['success', 'warning', 'failure', 'conflict', 'pending', 'skipped']);
export type Status = z.infer<typeof statusSchema>;

export const jobDataSchema = z.object({
  seriesId: z.string().min(1),
  version: z.number().int().positive(),
  /** resumable state a long stage saved (StageContext.saveState) */
  state: z.record(z.string(), z.unknown()).optional(),
}).strict();
export type JobData = z.infer<typeof jobDataSchema>;

/**
 * What a stage processor returns. A conflict or a failed build is an outcome (status conflict/failure),
 * never a thrown error. `data` carries the stage's details (see StageData in registry.ts).
 */
export const stageOutcomeSchema = z.object({
  status: statusSchema,
  summary: z.string(),
  data: z.record(z.string(), z.unknown()).default({}),
});
export type StageOutcome = z.infer<typeof stageOutcomeSchema>;

/** A job's return value: its own outcome and those of the stages before it (the parent reads them). */
export const stageResultSchema = z.object({
  stage: z.string(),
  outcomes: z.record(z.string(), stageOutcomeSchema),
});
export type StageResult = z.infer<typeof stageResultSchema>;

const SEVERITY: Status[] = ['failure', 'conflict', 'warning', 'pending', 'success', 'skipped'];

/** The verdict over several outcomes: the most severe status (skipped only when everything skipped). */
export function worstStatus(statuses: Status[]): Status {
  if (statuses.length === 0) return 'skipped';
  return SEVERITY.find((s) => statuses.includes(s)) ?? 'skipped';
}

/**
 * A record job (queue `results`): what a worker without the store reports to the store owner. `outcomes`
 * holds this stage's outcome and those before it, so that the last record of a flow stores them all with the
 * verdict in one transaction. `running` marks the run running; `finish` (the flow's last stage) ends it.
 */
export const recordSchema = z.object({
  kind: z.enum(['running', 'outcome']),
  seriesId: z.string().min(1),
  version: z.number().int().positive(),
  /** the run token of the revision input the worker read (null: it had none) */
  run: z.string().nullable(),
  stage: z.string(),
  outcomes: z.record(z.string(), stageOutcomeSchema).default({}),
  finish: z.object({ verdict: z.string(), detail: z.string().nullable() }).nullable().default(null),
}).strict();
export type RecordData = z.infer<typeof recordSchema>;
