// Queue names and deterministic job ids. One queue per stage; a job id names the stage, the series and
// the revision, so a repeated event for the same revision adds nothing (bullmq ignores a known id).
export const STAGES = ['apply', 'build', 'gate', 'report'] as const;
export type Stage = (typeof STAGES)[number];

/** `--until` accepts the contract's names (gates) and the queue's (gate). */
export type UntilStage = 'apply' | 'build' | 'gates' | 'gate' | 'report';

export function isStage(s: string): s is Stage {
  return (STAGES as readonly string[]).includes(s);
}

/** The stages a flow runs, in order, up to and including UNTIL (all of them without it). */
export function stagesUntil(until?: UntilStage): Stage[] {
  if (!until) return [...STAGES];
  const last: Stage = until === 'gates' ? 'gate' : until;
  return STAGES.slice(0, STAGES.indexOf(last) + 1);
}

export function queueName(stage: Stage): string {
  return stage;
}

/** Series ids may hold any character; bullmq ids must not contain ':' (nor should keys): percent-encode. */
export function encodeSeriesId(seriesId: string): string {
  return encodeURIComponent(seriesId).replace(/[!'()*~]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

/** `<series>-v<rev>`: names a revision in Redis keys. */
export function revisionKey(seriesId: string, version: number): string {
  return `${encodeSeriesId(seriesId)}-v${version}`;
}

/** `apply-<series>-v<rev>` */
export function jobId(stage: Stage, seriesId: string, version: number): string {
  return `${stage}-${encodeSeriesId(seriesId)}-v${version}`;
}

/** The job ids of every stage of one revision. */
export function revisionJobIds(seriesId: string, version: number): { stage: Stage; id: string }[] {
  return STAGES.map((stage) => ({ stage, id: jobId(stage, seriesId, version) }));
}

/**
 * The queue that carries outcomes from workers without the store back to the process that owns it (the
 * recorder, src/queue/recorder.ts). Not a stage: nothing in a flow waits on it.
 */
export const RESULTS_QUEUE = 'results';

/** The stages that run where the store is (they read and write it in their own transaction). */
export const STORE_STAGES: readonly Stage[] = ['report'];

/** `outcome-apply-<series>-v<rev>-<run>` / `running-<series>-v<rev>-<run>`: one record per run and stage. */
export function recordJobId(kind: 'outcome' | 'running', stage: Stage | null, seriesId: string, version: number, run: string): string {
  return `${kind}-${stage ? `${stage}-` : ''}${encodeSeriesId(seriesId)}-v${version}-${run}`;
}
