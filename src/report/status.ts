// The status union and the pure function that combines statuses into a verdict (failure sticks).

export type Status = 'success' | 'warning' | 'failure' | 'conflict' | 'pending' | 'skipped';

export const STATUSES: readonly Status[] = ['success', 'warning', 'failure', 'conflict', 'pending', 'skipped'];

/**
 * Precedence when combining, highest wins. failure sticks: nothing later can lower it. A conflict means the
 * series did not apply (the stages after it are skipped); a failure found elsewhere still outranks it.
 * Anything still pending keeps the verdict open unless a failure or conflict is already known.
 */
const RANK: Record<Status, number> = { skipped: 0, success: 1, warning: 2, pending: 3, conflict: 4, failure: 5 };

export function isStatus(value: unknown): value is Status {
  return typeof value === 'string' && (STATUSES as readonly string[]).includes(value);
}

/** Combines statuses; an empty list, or only skipped ones, is `skipped`. */
export function combineStatus(statuses: Iterable<Status>): Status {
  let verdict: Status = 'skipped';
  for (const s of statuses) if (RANK[s] > RANK[verdict]) verdict = s;
  return verdict;
}

/** A final verdict is one no further result can change: anything but pending. */
export function isFinal(status: Status): boolean {
  return status !== 'pending';
}

/** failure and conflict: the series needs the submitter's attention. */
export function isProblem(status: Status): boolean {
  return status === 'failure' || status === 'conflict';
}
