import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../../src/gates/perf/calibrate.js';
import { compare, evaluateLook, mannWhitneyP, mosesK, perTestAlpha, uDistribution, type GateRule, type SequentialPlan } from '../../../../src/gates/perf/stats.js';

/** The seeded PRNG of the calibration (mulberry32) and Box-Muller normals, so the simulations repeat exactly. */
const rng = seededRandom;
function normal(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r());
}
/** Per-boot cost samples: log-normal noise of relative size `sd` around `mean * (1 + effect)`. */
function samples(r: () => number, n: number, mean: number, sd: number, effect = 0): number[] {
  return Array.from({ length: n }, () => mean * (1 + effect) * Math.exp(sd * normal(r)));
}

const plan: SequentialPlan = { looks: [5, 8, 12], alpha: 0.05 };
const rules: Record<string, GateRule> = {
  tcp_rr_cost: { direction: 'lower-is-better', threshold: 0.005, require: 'not-regress' },
  tcp_stream_cost: { direction: 'lower-is-better', threshold: 0.01, require: 'not-regress' },
};

/** Runs one sequential gate: draws boots in pairs until the look is decisive. */
function simulateGate(r: () => number, effect: number, sd: number): { status: string; flagged: boolean; boots: number } {
  const base: Record<string, number[]> = { tcp_rr_cost: [], tcp_stream_cost: [] };
  const cand: Record<string, number[]> = { tcp_rr_cost: [], tcp_stream_cost: [] };
  for (const look of plan.looks) {
    while (base.tcp_rr_cost.length < look) {
      for (const k of Object.keys(base)) {
        base[k].push(...samples(r, 1, 1000, sd));
        cand[k].push(...samples(r, 1, 1000, sd, k === 'tcp_rr_cost' ? effect : 0));
      }
    }
    const res = evaluateLook(base, cand, rules, plan);
    if (res.done) {
      const flagged = Object.values(res.metrics).some((c) => c.verdict === 'regression' || c.verdict === 'improvement');
      return { status: res.status, flagged, boots: look };
    }
  }
  throw new Error('unreachable: the last look is always done');
}

describe('exact Mann-Whitney machinery', () => {
  it('the U distribution is a probability distribution with P(U=0) = 1/C(n+m, n)', () => {
    const d = uDistribution(5, 5);
    expect(d.length).toBe(26);
    expect(d.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 12);
    expect(d[0]).toBeCloseTo(1 / 252, 12);
    expect(d[25]).toBeCloseTo(1 / 252, 12);
    expect(d[12]).toBeCloseTo(d[13], 12); // symmetric
  });

  it('complete separation of 5 vs 5 gives the smallest exact p, 2/252 = 0.0079 (machine-facts.md)', () => {
    expect(mannWhitneyP([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])).toBeCloseTo(2 / 252, 10);
    expect(mannWhitneyP([1, 3, 5, 7, 9], [2, 4, 6, 8, 10])).toBeGreaterThan(0.5);
  });

  it('Moses k: 5 vs 5 at 95% drops 3 differences at each end; at the Bonferroni level of 2 metrics x 3 looks only 1', () => {
    expect(mosesK(5, 5, 0.05)).toBe(3);
    expect(mosesK(5, 5, perTestAlpha(plan, 2))).toBe(1);
    expect(mosesK(3, 3, 0.001)).toBe(0);
  });

  it('estimates a +2% change in per-transaction cost with an interval around it', () => {
    const base = [1000, 1001, 999, 1000.5, 999.5];
    const cand = base.map((x) => x * 1.02);
    const c = compare(base, cand, rules.tcp_rr_cost, 0.05);
    expect(c.change).toBeCloseTo(0.02, 3);
    expect(c.low).toBeLessThanOrEqual(c.change);
    expect(c.high).toBeGreaterThanOrEqual(c.change);
    expect(c.low).toBeGreaterThan(0);
    expect(c.verdict).toBe('regression');
  });

  it('a significant change below the practical threshold is no change, not a regression', () => {
    const base = [1000, 1000.1, 999.9, 1000.05, 999.95];
    const cand = base.map((x) => x * 1.002); // +0.2% < 0.5%
    expect(compare(base, cand, rules.tcp_rr_cost, 0.05).verdict).toBe('no-change');
  });

  it('higher-is-better metrics flip the sign: throughput down 10% is a regression', () => {
    const base = [500, 505, 495, 502, 498];
    const cand = base.map((x) => x * 0.9);
    expect(compare(base, cand, { direction: 'higher-is-better', threshold: 0.05 }, 0.05).verdict).toBe('regression');
  });

  it('a latency project that must improve fails when nothing changed', () => {
    const r = rng(7);
    const base = { tcp_rr_cost: samples(r, 12, 1000, 0.002) };
    const cand = { tcp_rr_cost: samples(r, 12, 1000, 0.002) };
    const res = evaluateLook(base, cand, { tcp_rr_cost: { direction: 'lower-is-better', threshold: 0.005, require: 'improve' } }, plan);
    expect(res.done).toBe(true);
    expect(res.status).toBe('failure');
  });
});

describe('the sequential gate on simulated boots', () => {
  it('over 1,000 simulated A/A gates the false-alarm rate stays within alpha', () => {
    const r = rng(42);
    let alarms = 0;
    for (let i = 0; i < 1000; i++) if (simulateGate(r, 0, 0.005).flagged) alarms++;
    // 0.05 plus three binomial standard deviations of the simulation itself
    expect(alarms / 1000).toBeLessThanOrEqual(0.05 + 3 * Math.sqrt((0.05 * 0.95) / 1000));
  });

  it('power table for 2%, 5%, 10% and 20% effects (per-boot noise 0.5% and 2%)', () => {
    const table: string[] = ['effect  noise  power  mean boots/side'];
    const power: Record<string, number> = {};
    for (const sd of [0.005, 0.02]) {
      for (const effect of [0.02, 0.05, 0.1, 0.2]) {
        const r = rng(1000 + effect * 1000 + sd * 1e5);
        let hit = 0;
        let boots = 0;
        const runs = 200;
        for (let i = 0; i < runs; i++) {
          const g = simulateGate(r, effect, sd);
          boots += g.boots;
          if (g.status === 'failure') hit++;
        }
        power[`${effect}/${sd}`] = hit / runs;
        table.push(`${(effect * 100).toFixed(0).padStart(4)}%  ${(sd * 100).toFixed(1).padStart(4)}%  ${(hit / runs).toFixed(2).padStart(5)}  ${(boots / runs).toFixed(1)}`);
      }
    }
    process.stdout.write(table.join('\n') + '\n');
    // with the measured SLUB noise (~0.2-0.5%) every effect of 2% or more is caught every time
    for (const e of [0.02, 0.05, 0.1, 0.2]) expect(power[`${e}/0.005`]).toBe(1);
    // with 2% noise, power grows with the effect and the large effects are caught every time
    expect(power['0.1/0.02']).toBeGreaterThanOrEqual(power['0.05/0.02']);
    expect(power['0.05/0.02']).toBeGreaterThanOrEqual(power['0.02/0.02']);
    expect(power['0.2/0.02']).toBe(1);
  });
});

describe('adjusting costs for the guest time per transaction', () => {
  it('removes the load-driven part: A/A samples that differ only by guest time come out equal', async () => {
    const { adjustByCovariate } = await import('../../../../src/gates/perf/stats.js');
    // measured shape: ~31,600 ns per transaction plus ~0.0007 ns per ns of guest time per transaction
    const xb = [250_000, 700_000, 160_000, 300_000, 230_000];
    const xc = [310_000, 170_000, 1_300_000, 260_000, 210_000];
    const cost = (x: number, effect = 0) => 31_400 * (1 + effect) + 0.0007 * x;
    const a = adjustByCovariate(xb.map((x) => cost(x)), xc.map((x) => cost(x)), xb, xc);
    expect(a.slope).toBeCloseTo(0.0007, 6);
    const all = [...a.base, ...a.cand];
    expect(Math.max(...all) - Math.min(...all)).toBeLessThan(1e-6);
  });

  it('keeps the candidate effect: the slope is fitted within each side only', async () => {
    const { adjustByCovariate, compare } = await import('../../../../src/gates/perf/stats.js');
    const xb = [200_000, 400_000, 300_000, 250_000, 350_000];
    const xc = [210_000, 900_000, 320_000, 260_000, 500_000]; // the candidate happened to run on a busier host
    const cost = (x: number, effect = 0) => 31_400 * (1 + effect) + 0.0007 * x;
    const raw = { b: xb.map((x) => cost(x)), c: xc.map((x) => cost(x, 0.02)) };
    const a = adjustByCovariate(raw.b, raw.c, xb, xc);
    const cmp = compare(a.base, a.cand, { direction: 'lower-is-better', threshold: 0.003 }, 0.05);
    expect(cmp.change).toBeCloseTo(0.02, 3);
    expect(cmp.verdict).toBe('regression');
  });

  it('never uses a negative slope (more guest time cannot make work cheaper)', async () => {
    const { adjustByCovariate } = await import('../../../../src/gates/perf/stats.js');
    const a = adjustByCovariate([3, 2, 1], [3, 2, 1], [1, 2, 3], [1, 2, 3]);
    expect(a.slope).toBe(0);
    expect(a.base).toEqual([3, 2, 1]);
  });
});

describe('the last look', () => {
  it('ends noisy A/A data as no change when the interval rules out a regression above the tolerance', () => {
    const r = rng(99);
    const base = { tcp_rr_cost: samples(r, 12, 31_600, 0.004) };
    const cand = { tcp_rr_cost: samples(r, 12, 31_600, 0.004) };
    const strict = evaluateLook(base, cand, { tcp_rr_cost: { direction: 'lower-is-better', threshold: 0.001, require: 'not-regress', tolerance: 0.001 } }, plan);
    expect(strict.metrics.tcp_rr_cost.verdict).toBe('noisy');
    expect(strict.status).toBe('warning');
    const tolerant = evaluateLook(base, cand, { tcp_rr_cost: { direction: 'lower-is-better', threshold: 0.001, require: 'not-regress', tolerance: 0.02 } }, plan);
    expect(tolerant.metrics.tcp_rr_cost.verdict).toBe('no-change');
    expect(tolerant.status).toBe('success');
  });

  it('never turns a significant worsening into no change', () => {
    const r = rng(5);
    const base = { tcp_rr_cost: samples(r, 12, 31_600, 0.004) };
    const cand = { tcp_rr_cost: samples(r, 12, 31_600, 0.004, 0.006) };
    const res = evaluateLook(base, cand, { tcp_rr_cost: { direction: 'lower-is-better', threshold: 0.003, require: 'not-regress', tolerance: 0.05 } }, plan);
    expect(res.metrics.tcp_rr_cost.verdict).not.toBe('no-change');
  });
});
