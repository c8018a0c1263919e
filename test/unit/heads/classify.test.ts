import { describe, expect, it } from 'vitest';
import { classifyStep, stepBudget } from '../../../src/heads/bisect.js';
import { detectChanges } from '../../../src/heads/detect.js';
import { compare } from '../../../src/gates/perf/stats.js';

const rule = { direction: 'lower-is-better' as const, threshold: 0.003 };
const base = [1000, 1001.5, 999.2, 1000.8, 1000.3];
const scaled = (k: number) => base.map((x, i) => x * k * (1 + (i - 2) * 0.0004));

describe('classifyStep', () => {
  const detected = compare(base, scaled(1.1), rule, 0.05);

  it('a step at the detected size has the change; one at the good end lacks it', () => {
    expect(classifyStep(compare(base, scaled(1.1).slice(0, 4), rule, 0.05), detected)).toBe('has-change');
    expect(classifyStep(compare(base, scaled(1.0).slice(0, 4), rule, 0.05), detected)).toBe('lacks-change');
  });

  it('a partial effect (a third of the change) lacks it: the bisection looks for the whole change', () => {
    expect(classifyStep(compare(base, scaled(1.033).slice(0, 4), rule, 0.05), detected)).toBe('lacks-change');
  });

  it('samples straddling both levels, or too few for an interval, are unclear', () => {
    expect(classifyStep(compare(base, [1000, 1100, 1000, 1100], rule, 0.05), detected)).toBe('unclear');
    expect(classifyStep(compare(base.slice(0, 2), [1100, 1100], rule, 0.05), detected)).toBe('unclear');
  });

  it('an improvement is matched by sign', () => {
    const imp = compare(base, scaled(0.9), rule, 0.05);
    expect(classifyStep(compare(base, scaled(0.9).slice(0, 4), rule, 0.05), imp)).toBe('has-change');
    expect(classifyStep(compare(base, scaled(1.1).slice(0, 4), rule, 0.05), imp)).toBe('lacks-change');
  });

  it('the step budget is ceil(log2(candidates))', () => {
    expect([1, 2, 3, 12, 16, 17].map(stepBudget)).toEqual([0, 1, 2, 4, 4, 5]);
  });
});

describe('detectChanges', () => {
  const rules = { tcp_rr_cost_per_trans: rule, tcp_stream_cost_per_kb: { direction: 'lower-is-better' as const, threshold: 0.01 } };

  it('reports a +10% cost as a regression and an unchanged metric as no change', () => {
    const d = detectChanges({ tcp_rr_cost_per_trans: base, tcp_stream_cost_per_kb: base }, { tcp_rr_cost_per_trans: scaled(1.1), tcp_stream_cost_per_kb: scaled(1.0005) }, rules);
    expect(d.compared.map((c) => [c.metric, c.comparison.verdict])).toEqual([['tcp_rr_cost_per_trans', 'regression'], ['tcp_stream_cost_per_kb', 'no-change']]);
    expect(d.changes.map((c) => c.metric)).toEqual(['tcp_rr_cost_per_trans']);
    expect(d.changes[0].comparison.change).toBeCloseTo(0.1, 2);
  });

  it('a change below the threshold is no regression even when significant', () => {
    const d = detectChanges({ tcp_rr_cost_per_trans: base }, { tcp_rr_cost_per_trans: scaled(1.002) }, { tcp_rr_cost_per_trans: rule });
    expect(d.changes).toEqual([]);
  });

  it('a metric only one run has is listed as missing, not compared', () => {
    const d = detectChanges({ tcp_rr_cost_per_trans: base }, { tcp_rr_cost_per_trans: base, tcp_stream_cost_per_kb: base }, rules);
    expect(d.missing).toEqual(['tcp_stream_cost_per_kb']);
    expect(d.compared.map((c) => c.metric)).toEqual(['tcp_rr_cost_per_trans']);
  });
});
