// Statistics of the performance gate: baseline and candidate samples from interleaved fresh boots,
// compared with rank methods that need no normality: an exact Mann-Whitney test, the Hodges-Lehmann
// estimate of the relative change (on log values) and its Moses (rank-based) confidence interval.

export type Direction = 'lower-is-better' | 'higher-is-better';
export type MetricVerdict = 'improvement' | 'no-change' | 'regression' | 'noisy';

export interface MetricRule {
  direction: Direction;
  /** smallest relative change that matters (0.005 = 0.5%); smaller significant changes count as no change */
  threshold: number;
  /**
   * at the last look, a metric with no significant change whose interval rules out a worsening above this
   * (default 3 x threshold) is `no-change` rather than `noisy`: the budget is spent and nothing bad was seen
   */
  tolerance?: number;
}

export interface Comparison {
  n: number;
  m: number;
  /** relative change of the candidate against the baseline (0.02 = +2%), Hodges-Lehmann on log values */
  change: number;
  /** confidence interval of `change` at 1 - alpha */
  low: number;
  high: number;
  /** exact two-sided Mann-Whitney p-value */
  p: number;
  verdict: MetricVerdict;
}

const cache = new Map<string, Float64Array>();

/**
 * The null distribution of the Mann-Whitney U statistic for sample sizes n and m: P(U = u), u = 0..n*m.
 * Computed exactly by the classic recurrence over the number of arrangements.
 */
export function uDistribution(n: number, m: number): Float64Array {
  const key = `${Math.min(n, m)}x${Math.max(n, m)}`;
  const hit = cache.get(key);
  if (hit) return hit;
  // f[i][j][u] arrangements of i baseline and j candidate values with U = u; iterate with rolling arrays.
  // Using probabilities avoids overflow: P_{i,j}(u) = i/(i+j) * P_{i-1,j}(u - j) + j/(i+j) * P_{i,j-1}(u).
  const a = Math.min(n, m);
  const b = Math.max(n, m);
  let prev: Float64Array[] = []; // prev[j] for i-1
  for (let i = 0; i <= a; i++) {
    const cur: Float64Array[] = [];
    for (let j = 0; j <= b; j++) {
      const d = new Float64Array(i * j + 1);
      if (i === 0 || j === 0) d[0] = 1;
      else {
        const pi = i / (i + j);
        const pj = j / (i + j);
        const left = prev[j]; // (i-1, j): the largest value is a baseline one, which beats all j candidates
        const down = cur[j - 1]; // (i, j-1)
        for (let u = 0; u < left.length; u++) d[u + j] += pi * left[u];
        for (let u = 0; u < down.length; u++) d[u] += pj * down[u];
      }
      cur.push(d);
    }
    prev = cur;
  }
  const out = prev[b];
  cache.set(key, out);
  return out;
}

/** P(U <= k) under the null. */
function cdf(dist: Float64Array, k: number): number {
  let s = 0;
  for (let u = 0; u <= Math.min(k, dist.length - 1); u++) s += dist[u];
  return s;
}

/** U of the candidate: the number of (baseline, candidate) pairs where the candidate is larger (ties count 1/2). */
export function mannWhitneyU(base: number[], cand: number[]): number {
  let u = 0;
  for (const x of base) for (const y of cand) u += y > x ? 1 : y === x ? 0.5 : 0;
  return u;
}

/** Exact two-sided p-value (ties rounded conservatively). */
export function mannWhitneyP(base: number[], cand: number[]): number {
  const n = base.length;
  const m = cand.length;
  const dist = uDistribution(n, m);
  const u = mannWhitneyU(base, cand);
  const lo = Math.min(u, n * m - u);
  return Math.min(1, 2 * cdf(dist, Math.floor(lo)));
}

/** The number of extreme pairwise differences to drop at each end for a 1 - alpha Moses interval (>= 1). */
export function mosesK(n: number, m: number, alpha: number): number {
  const dist = uDistribution(n, m);
  // the largest k with P(U <= k - 1) <= alpha / 2
  let k = 0;
  let acc = 0;
  for (let u = 0; u < dist.length; u++) {
    acc += dist[u];
    if (acc > alpha / 2) break;
    k = u + 1;
  }
  return k;
}

function median(sorted: number[]): number {
  const h = sorted.length >> 1;
  return sorted.length % 2 ? sorted[h] : (sorted[h - 1] + sorted[h]) / 2;
}

/**
 * Compares candidate with baseline for one metric. `alpha` is the per-metric level (already divided by the
 * number of metrics and looks by the caller when several are tested).
 */
export function compare(base: number[], cand: number[], rule: MetricRule, alpha = 0.05): Comparison {
  const n = base.length;
  const m = cand.length;
  if (n < 2 || m < 2) throw new Error(`need at least 2 samples on each side, have ${n} and ${m}`);
  if ([...base, ...cand].some((x) => !(x > 0))) throw new Error('samples must be positive numbers');
  const lb = base.map(Math.log);
  const lc = cand.map(Math.log);
  const diffs: number[] = [];
  for (const x of lb) for (const y of lc) diffs.push(y - x);
  diffs.sort((x, y) => x - y);
  const k = mosesK(n, m, alpha);
  const hl = median(diffs);
  // With too few samples for the level (k = 0) the interval is unbounded: the result can only be noisy.
  const lowLog = k >= 1 ? diffs[k - 1] : -Infinity;
  const highLog = k >= 1 ? diffs[diffs.length - k] : Infinity;
  const change = Math.expm1(hl);
  const low = Math.expm1(lowLog);
  const high = Math.expm1(highLog);
  const p = mannWhitneyP(base, cand);
  return { n, m, change, low, high, p, verdict: judge(change, low, high, rule) };
}

/** Verdict from the interval: the sign convention of `rule.direction` decides what is worse. */
export function judge(change: number, low: number, high: number, rule: MetricRule): MetricVerdict {
  const worse = rule.direction === 'lower-is-better' ? 1 : -1;
  const [bLow, bHigh] = worse > 0 ? [low, high] : [-high, -low]; // interval of "badness"
  const b = worse * change;
  const t = rule.threshold;
  if (bLow > 0 && b > t) return 'regression';
  if (bHigh < 0 && b < -t) return 'improvement';
  if (bLow > -t && bHigh < t) return 'no-change'; // equivalent within the threshold
  if ((bLow > 0 || bHigh < 0) && Math.abs(b) <= t) return 'no-change'; // real but too small to matter
  return 'noisy';
}

export interface SequentialPlan {
  /** sample counts per side at which the gate looks at the data, e.g. [5, 8, 12] */
  looks: number[];
  /** family-wise false-alarm level over all metrics and looks */
  alpha: number;
}

/** The per-test level: Bonferroni over metrics and looks, which keeps the family-wise rate within alpha. */
export function perTestAlpha(plan: SequentialPlan, metrics: number): number {
  return plan.alpha / (metrics * plan.looks.length);
}

/** True when another look would not change the verdict class (decisive) or the budget is spent. */
export function isDecisive(c: Comparison): boolean {
  return c.verdict !== 'noisy';
}

export interface GateRule extends MetricRule {
  /** `not-regress`: a regression fails the gate; `improve`: anything but an improvement fails it (latency work) */
  require: 'not-regress' | 'improve';
}

export interface LookResult {
  metrics: Record<string, Comparison>;
  /** every metric decisive, or the last look reached */
  done: boolean;
  status: 'success' | 'warning' | 'failure' | 'pending';
  /** which metrics decided, in words */
  summary: string;
}

function pct(x: number): string {
  if (!Number.isFinite(x)) return x > 0 ? '+inf' : '-inf';
  return `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)}%`;
}

/**
 * One look of the sequential gate: compares every metric on the samples so far (each side cut to the largest
 * planned look it reaches) and says whether to stop. Noisy metrics at the last look give a warning, never a pass.
 */
export function evaluateLook(
  base: Record<string, number[]>,
  cand: Record<string, number[]>,
  rules: Record<string, GateRule>,
  plan: SequentialPlan,
): LookResult {
  const names = Object.keys(rules);
  const alpha = perTestAlpha(plan, names.length);
  const metrics: Record<string, Comparison> = {};
  const have = Math.min(...names.map((k) => Math.min(base[k]?.length ?? 0, cand[k]?.length ?? 0)));
  const look = [...plan.looks].reverse().find((l) => l <= have);
  if (look === undefined) return { metrics, done: false, status: 'pending', summary: `waiting for ${plan.looks[0]} samples per side (have ${have})` };
  const last = look >= plan.looks[plan.looks.length - 1];
  for (const k of names) {
    const c = compare(base[k].slice(0, look), cand[k].slice(0, look), rules[k], alpha);
    if (last && c.verdict === 'noisy') {
      const worse = rules[k].direction === 'lower-is-better' ? 1 : -1;
      const [bLow, bHigh] = worse > 0 ? [c.low, c.high] : [-c.high, -c.low];
      if (bLow <= 0 && bHigh >= 0 && bHigh < (rules[k].tolerance ?? 3 * rules[k].threshold)) c.verdict = 'no-change';
    }
    metrics[k] = c;
  }
  const failing = names.filter((k) => {
    const v = metrics[k].verdict;
    return rules[k].require === 'improve' ? v === 'regression' || (last && v !== 'improvement') : v === 'regression';
  });
  const noisy = names.filter((k) => metrics[k].verdict === 'noisy');
  const decisive = noisy.length === 0;
  const done = decisive || last || failing.length > 0;
  const words = names.map((k) => `${k} ${metrics[k].verdict} ${pct(metrics[k].change)} [${pct(metrics[k].low)}, ${pct(metrics[k].high)}]`).join('; ');
  let status: LookResult['status'];
  if (failing.length > 0) status = 'failure';
  else if (!done) status = 'pending';
  else if (noisy.length > 0) status = 'warning';
  else status = 'success';
  return { metrics, done, status, summary: `${look}+${look} boots: ${words}` };
}

export interface Adjusted {
  base: number[];
  cand: number[];
  /** cost per unit of the covariate (Theil-Sen, within each side, pooled), never negative */
  slope: number;
}

/**
 * Removes the part of a cost that follows a nuisance covariate. Under TCG with -icount, a guest's busy time per
 * transaction grows with the guest time a transaction takes (timer ticks while briefly idle), and that guest time
 * follows the host's load. The slope is the median of the pairwise slopes taken within each side only (so the
 * candidate's own effect does not enter it), and costs are moved to the median covariate of all boots.
 */
export function adjustByCovariate(base: number[], cand: number[], xBase: number[], xCand: number[]): Adjusted {
  const slopes: number[] = [];
  for (const [ys, xs] of [[base, xBase], [cand, xCand]] as const) {
    for (let i = 0; i < ys.length; i++) {
      for (let j = i + 1; j < ys.length; j++) {
        if (xs[j] !== xs[i]) slopes.push((ys[j] - ys[i]) / (xs[j] - xs[i]));
      }
    }
  }
  if (slopes.length === 0) return { base: [...base], cand: [...cand], slope: 0 };
  slopes.sort((a, b) => a - b);
  const slope = Math.max(0, median(slopes));
  const x0 = median([...xBase, ...xCand].sort((a, b) => a - b));
  const adj = (ys: number[], xs: number[]) => ys.map((y, i) => y - slope * (xs[i] - x0));
  return { base: adj(base, xBase), cand: adj(cand, xCand), slope };
}
