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

/** `apply-<series>-v<rev>` */
export function jobId(stage: Stage, seriesId: string, version: number): string {
  return `${stage}-${encodeSeriesId(seriesId)}-v${version}`;
}

/** The job ids of every stage of one revision. */
export function revisionJobIds(seriesId: string, version: number): { stage: Stage; id: string }[] {
  return STAGES.map((stage) => ({ stage, id: jobId(stage, seriesId, version) }));
}
