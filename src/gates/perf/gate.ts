// The performance gate: baseline and candidate kernels booted as guest pairs, interleaved A B A B,
// per-transaction guest CPU cost compared with exact rank statistics, more pairs until decisive.
import path from 'node:path';
import { runGuestPair, type PairResult, type PerfTest } from './guest-runner.js';
import { adjustByCovariate, evaluateLook, type Comparison, type GateRule, type SequentialPlan } from './stats.js';

export interface PerfCell {
  id: string;
  test: PerfTest;
  transactions: number;
  size?: string;
  msg?: number;
}

export interface PerfGateOptions {
  baselineKernel: string;
  candidateKernel: string;
  initrd: string;
  workDir: string;
  cells: PerfCell[];
  rules: Record<string, GateRule>;
  plan: SequentialPlan;
  accel: 'tcg' | 'kvm';
  /** called after each boot with a line of progress */
  onProgress?: (msg: string) => void;
  signal?: AbortSignal;
  /** the guest pair runner (tests of the sequencing pass their own) */
  runPair?: typeof runGuestPair;
  /** adjust costs for the guest time per transaction (default true: see adjustByCovariate) */
  adjust?: boolean;
  /**
   * wall-time budget (ms): no further look starts once it is spent, and a look under way stops after the
   * boot round in which it ran out (the verdict is then the last completed look's, `noisy` where it was not
   * decisive, and the summary says the budget ended the gate)
   */
  budgetMs?: number;
  /** the clock the budget is measured with (tests pass their own) */
  now?: () => number;
}

export interface MetricOutcome {
  change: number;
  low: number;
  high: number;
  p: number;
  verdict: Comparison['verdict'];
}

export interface PerfGateResult {
  status: 'success' | 'warning' | 'failure' | 'skipped';
  summary: string;
  metrics: Record<string, MetricOutcome>;
  samples: { baseline: Record<string, number[]>; candidate: Record<string, number[]> };
  /** the wall-time budget ended the gate before its last look */
  budgetSpent?: boolean;
  /** guest ns per transaction of each boot (the covariate), and the fitted slope per metric */
  covariate: { baseline: Record<string, number[]>; candidate: Record<string, number[]>; slope: Record<string, number> };
  /** wall-clock figures, reported but not gated under TCG */
  wall: { baseline: Record<string, number[]>; candidate: Record<string, number[]> };
  note: string;
  wallMs: number;
}

/** The gated cost metrics of one boot: guest busy ns (client + server) per transaction or per KB. */
export function costMetrics(cell: PerfCell, r: PairResult): Record<string, number> {
  const c = r.clients[r.clients.length - 1];
  const s = r.servers[r.servers.length - 1];
  if (!c) throw new Error(`no pgnet result in the client console (clock ${r.clock ?? 'unknown'})`);
  const serverBusy = s ? s.busy_ns : 0;
  const out: Record<string, number> = {};
  const key = cell.id;
  if (cell.test === 'TCP_STREAM') out[`${key}_cost_per_kb`] = (c.busy_ns + serverBusy) / (c.bytes / 1024);
  else out[`${key}_cost_per_trans`] = (c.busy_ns + serverBusy) / c.transactions;
  return out;
}

/** The covariate of each cost metric: guest time per transaction (or per KB) of the client. */
export function covariates(cell: PerfCell, r: PairResult): Record<string, number> {
  const c = r.clients[r.clients.length - 1];
  return cell.test === 'TCP_STREAM' ? { [`${cell.id}_cost_per_kb`]: c.elapsed_ns / (c.bytes / 1024) } : { [`${cell.id}_cost_per_trans`]: c.elapsed_ns / c.transactions };
}

function wallMetrics(cell: PerfCell, r: PairResult): Record<string, number> {
  const c = r.clients[r.clients.length - 1];
  return cell.test === 'TCP_STREAM' ? { [`${cell.id}_mbit_s`]: c.throughput } : { [`${cell.id}_trans_s`]: c.trans_per_sec };
}

function push(into: Record<string, number[]>, values: Record<string, number>): void {
  for (const [k, v] of Object.entries(values)) (into[k] ??= []).push(v);
}

export async function runPerfGate(o: PerfGateOptions): Promise<PerfGateResult> {
  const run = o.runPair ?? runGuestPair;
  const now = o.now ?? Date.now;
  const t0 = now();
  const spent = () => o.budgetMs !== undefined && now() - t0 >= o.budgetMs;
  const samples = { baseline: {} as Record<string, number[]>, candidate: {} as Record<string, number[]> };
  const wall = { baseline: {} as Record<string, number[]>, candidate: {} as Record<string, number[]> };
  const cov = { baseline: {} as Record<string, number[]>, candidate: {} as Record<string, number[]>, slope: {} as Record<string, number> };
  const adjust = o.adjust ?? o.accel === 'tcg';
  const evaluate = () => {
    if (!adjust) return evaluateLook(samples.baseline, samples.candidate, o.rules, o.plan);
    const b: Record<string, number[]> = {};
    const c: Record<string, number[]> = {};
    for (const k of Object.keys(o.rules)) {
      const a = adjustByCovariate(samples.baseline[k] ?? [], samples.candidate[k] ?? [], cov.baseline[k] ?? [], cov.candidate[k] ?? []);
      b[k] = a.base;
      c[k] = a.cand;
      cov.slope[k] = a.slope;
    }
    return evaluateLook(b, c, o.rules, o.plan);
  };
  const note = o.accel === 'tcg'
    ? 'TCG with -icount: gated on guest CPU cost (instructions) per transaction, not on wall-clock rates'
    : 'KVM: gated on guest CPU cost per transaction; wall-clock rates reported';
  let boots = 0;
  let last: ReturnType<typeof evaluateLook> | null = null;
  let lastLook = 0;
  let budgetSpent = false;
  /** boots per side of the look the budget stopped, and that look's size (null: stopped between looks) */
  let stoppedAt: { boots: number; look: number } | null = null;
  const perSide = () => samples.baseline[Object.keys(o.rules)[0]]?.length ?? 0;
  looks: for (const look of o.plan.looks) {
    if (last && spent()) {
      budgetSpent = true;
      break;
    }
    while (perSide() < look) {
      for (const side of ['baseline', 'candidate'] as const) {
        for (const cell of o.cells) {
          if (o.signal?.aborted) throw new Error('perf gate cancelled');
          const kernel = side === 'baseline' ? o.baselineKernel : o.candidateKernel;
          const r = await run({
            kernel, initrd: o.initrd, workDir: path.join(o.workDir, `${side}-${cell.id}-${boots}`),
            test: cell.test, transactions: cell.transactions, size: cell.size, msg: cell.msg, accel: o.accel,
          });
          push(samples[side], costMetrics(cell, r));
          push(cov[side], covariates(cell, r));
          push(wall[side], wallMetrics(cell, r));
          o.onProgress?.(`${side} ${cell.id} boot ${samples[side][Object.keys(costMetrics(cell, r))[0]].length}: ${r.wallMs} ms`);
        }
      }
      boots++;
      // the first look always completes (there is no verdict before it); a later one stops with the budget
      if (last && perSide() < look && spent()) {
        budgetSpent = true;
        stoppedAt = { boots: perSide(), look };
        break looks;
      }
    }
    last = evaluate();
    lastLook = look;
    o.onProgress?.(last.summary);
    if (last.done) break;
  }
  const res = last!;
  const metrics: Record<string, MetricOutcome> = {};
  for (const [k, c] of Object.entries(res.metrics)) metrics[k] = { change: c.change, low: c.low, high: c.high, p: c.p, verdict: c.verdict };
  const status = res.status === 'pending' ? 'warning' : res.status;
  const budget = `wall budget of ${Math.round(o.budgetMs! / 1000)} s spent`;
  const summary = !budgetSpent ? res.summary
    : stoppedAt ? `${res.summary} (${budget} during the look at ${stoppedAt.look} boots per side: stopped at ${stoppedAt.boots}, the verdict is the look at ${lastLook}'s)`
      : `${res.summary} (${budget}: no further look)`;
  return { status, summary, budgetSpent, metrics, samples, covariate: cov, wall, note: adjust ? `${note}; costs adjusted for guest time per transaction` : note, wallMs: now() - t0 };
}
