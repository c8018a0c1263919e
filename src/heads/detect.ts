// Change detection between two consecutive HEAD runs of a tree: each metric's samples of the later run
// against the earlier one's, with the gate's rank statistics and per-metric thresholds (stats.ts), the
// family-wise level split over the metrics compared (Bonferroni, as the gate does).
import { compare, type Comparison, type MetricRule } from '../gates/perf/stats.js';

export interface MetricChange {
  metric: string;
  comparison: Comparison;
}

export interface Detection {
  /** every metric both runs have */
  compared: MetricChange[];
  /** the regressions and improvements among them */
  changes: MetricChange[];
  /** metrics only one of the runs has */
  missing: string[];
}

export function detectChanges(
  before: Record<string, number[]>,
  after: Record<string, number[]>,
  rules: Record<string, MetricRule>,
  alpha = 0.05,
): Detection {
  const names = Object.keys(rules).filter((m) => (before[m]?.length ?? 0) >= 2 && (after[m]?.length ?? 0) >= 2);
  const missing = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((m) => rules[m] && !names.includes(m));
  const perTest = alpha / Math.max(1, names.length);
  const compared = names.map((metric) => ({ metric, comparison: compare(before[metric], after[metric], rules[metric], perTest) }));
  const changes = compared.filter((c) => c.comparison.verdict === 'regression' || c.comparison.verdict === 'improvement');
  return { compared, changes, missing };
}
