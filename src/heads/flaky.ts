// Flakiness bookkeeping of cells run on HEAD: a cell that fails is retried once; every attempt is stored
// (cell_results); per cell, the outcome of each run (pass, pass on retry, fail), the current streak, and a
// state: `flaky` (passed on a retry, failed in separate streaks in the window, or failed once between passes) is shown as flaky on the
// dashboard instead of being reported as a regression; `failing` (a failure streak after passes) is one.
import type { Db } from '../store/db.js';

export type AttemptStatus = 'success' | 'failure';
export type RunOutcome = 'pass' | 'pass-on-retry' | 'fail';
export type CellState = 'passing' | 'failing' | 'flaky';

export interface Attempt<T> {
  status: AttemptStatus;
  value?: T;
  detail?: string;
}

/** Runs FN; a failure (a thrown error or a `failure` result) is retried once. Returns every attempt. */
export async function retryOnce<T>(fn: () => Promise<T>, failed: (v: T) => string | null = () => null): Promise<Attempt<T>[]> {
  const attempts: Attempt<T>[] = [];
  for (let i = 0; i < 2; i++) {
    try {
      const value = await fn();
      const why = failed(value);
      attempts.push(why ? { status: 'failure', value, detail: why } : { status: 'success', value });
    } catch (err) {
      attempts.push({ status: 'failure', detail: (err as Error).message.split('\n')[0].slice(0, 300) });
    }
    if (attempts[attempts.length - 1].status === 'success') break;
  }
  return attempts;
}

export function recordAttempts(db: Db, r: { tree: string; cell: string; runId: number; commit: string; attempts: Attempt<unknown>[] }): void {
  const ins = db.prepare('INSERT OR REPLACE INTO cell_results (tree, cell, run_id, commit_id, attempt, status, detail) VALUES (?, ?, ?, ?, ?, ?, ?)');
  db.transaction(() => r.attempts.forEach((a, i) => ins.run(r.tree, r.cell, r.runId, r.commit, i + 1, a.status, a.detail ?? null)))();
}

export interface CellHealth {
  cell: string;
  /** oldest first, one per run in the window */
  outcomes: { runId: number; commit: string; outcome: RunOutcome }[];
  streak: { outcome: 'pass' | 'fail'; length: number };
  state: CellState;
}

function outcomeOf(statuses: AttemptStatus[]): RunOutcome {
  if (statuses[0] === 'success') return 'pass';
  return statuses.includes('success') ? 'pass-on-retry' : 'fail';
}

/** Per cell of TREE, over its last WINDOW runs: outcomes, the current streak, and the state. */
export function cellHealth(db: Db, tree: string, window = 10): CellHealth[] {
  const rows = db.prepare('SELECT cell, run_id, commit_id, attempt, status FROM cell_results WHERE tree = ? ORDER BY cell, run_id, attempt').all(tree) as
    { cell: string; run_id: number; commit_id: string; attempt: number; status: AttemptStatus }[];
  const byCell = new Map<string, Map<number, { commit: string; statuses: AttemptStatus[] }>>();
  for (const r of rows) {
    const runs = byCell.get(r.cell) ?? new Map();
    byCell.set(r.cell, runs);
    const run = runs.get(r.run_id) ?? { commit: r.commit_id, statuses: [] };
    run.statuses.push(r.status);
    runs.set(r.run_id, run);
  }
  const out: CellHealth[] = [];
  for (const [cell, runs] of byCell) {
    const outcomes = [...runs.entries()].slice(-window).map(([runId, v]) => ({ runId, commit: v.commit, outcome: outcomeOf(v.statuses) }));
    const pass = (o: RunOutcome) => (o === 'fail' ? 'fail' : 'pass');
    const last = pass(outcomes[outcomes.length - 1].outcome);
    let length = 0;
    for (let i = outcomes.length - 1; i >= 0 && pass(outcomes[i].outcome) === last; i--) length++;
    // failure streaks in the window: two or more, or one single-run failure between passes, is intermittent;
    // one longer streak that ended is a failure that was fixed
    const streaks: number[] = [];
    outcomes.forEach((o, i) => {
      if (o.outcome !== 'fail') return;
      if (i === 0 || outcomes[i - 1].outcome !== 'fail') streaks.push(0);
      streaks[streaks.length - 1]++;
    });
    const retried = outcomes.some((o) => o.outcome === 'pass-on-retry');
    const isolated = streaks.length === 1 && last === 'pass' && streaks[0] === 1;
    const state: CellState = retried || streaks.length > 1 || isolated ? 'flaky' : last === 'fail' ? 'failing' : 'passing';
    out.push({ cell, outcomes, streak: { outcome: last, length }, state });
  }
  return out;
}
