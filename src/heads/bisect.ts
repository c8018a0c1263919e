// Bisection of a detected metric change between two commits of a tree (good: the earlier HEAD, bad: the
// later one), driven by patchgate rather than `git bisect run`: every step builds the commit and measures
// it with the instruction-counted cost metric, a handful of boots, and compares those samples with the
// good end's using the gate's rank statistics (stats.ts). A step "has the change" when its effect against
// the good end matches the detected change's size: its interval overlaps the detected interval and its
// estimate is past half of the detected change; it "lacks the change" when its estimate is below half and
// its interval clear of the detected one. Anything else is unclear and is measured again (a retry).
//
// Merges: the first-parent chain from good to bad is bisected first; when the first commit with the change
// is a merge, the merged branch is bisected (its tip measured first: a tip without the change means the
// merge itself made it), recursively. The result is the first commit whose effect matches, with its size.
import { git } from '../trees/git.js';
import { logger } from '../log.js';
import { compare, type Comparison, type MetricRule } from '../gates/perf/stats.js';

const log = logger.child({ module: 'heads/bisect' });

export interface DetectedChange {
  metric: string;
  /** relative change of bad against good, and its confidence interval */
  change: number;
  low: number;
  high: number;
  rule: MetricRule;
}

/** Builds COMMIT and returns BOOTS samples of the metric (one per boot). */
export interface Measurer {
  measure(commit: string, boots: number): Promise<number[]>;
}

export type StepClass = 'has-change' | 'lacks-change' | 'unclear';

export interface BisectStep {
  /** 1-based step number */
  n: number;
  commit: string;
  subject: string;
  /** 0: the first-parent chain between good and bad; 1: a branch merged there; ... */
  depth: number;
  /** candidates left at this level before the step */
  candidates: number;
  samples: number[];
  retries: number;
  comparison: Comparison;
  class: Exclude<StepClass, 'unclear'>;
  /** decided by the estimate alone after the retries ran out */
  forced: boolean;
  ms: number;
}

export interface Culprit {
  commit: string;
  subject: string;
  author: string;
  /** the merges it came through, outermost first (empty when on the first-parent chain) */
  via: string[];
  /** true when the culprit is a merge whose merged branch alone lacks the change */
  merge: boolean;
}

export interface BisectResult {
  status: 'found' | 'not-reproduced';
  good: string;
  bad: string;
  metric: string;
  detected: DetectedChange;
  culprit: Culprit | null;
  /** the culprit's effect against the good end */
  size: Comparison | null;
  steps: BisectStep[];
  retries: number;
  /** commits in good..bad (all parents) */
  range: number;
  /** the step budget: ceil(log2(candidates)) per level searched, plus one tip check per merged branch */
  bound: number;
  summary: string;
  wallMs: number;
}

export interface BisectOptions {
  repo: string;
  good: string;
  bad: string;
  detected: DetectedChange;
  /** the good end's samples (from the HEAD run before the change) */
  goodSamples: number[];
  /** the bad end's samples, when measured (the HEAD run that detected the change) */
  badSamples?: number[];
  measurer: Measurer;
  stepBoots: number;
  maxRetries: number;
  /** per-test level of the step comparisons */
  alpha?: number;
  onStep?: (step: BisectStep) => void;
  signal?: AbortSignal;
}

/** Classifies one step's comparison with the good end against the detected change. */
export function classifyStep(c: Comparison, d: Pick<DetectedChange, 'change' | 'low' | 'high'>): StepClass {
  if (!Number.isFinite(c.low) || !Number.isFinite(c.high)) return 'unclear';
  const ratio = c.change / d.change;
  const overlap = c.low <= d.high && c.high >= d.low;
  const separated = d.change > 0 ? c.low > 0 : c.high < 0;
  if (overlap && separated && ratio >= 0.5) return 'has-change';
  if (!overlap && ratio < 0.5) return 'lacks-change';
  return 'unclear';
}

/** The first-parent chain from good (excluded) to tip (included), oldest first. */
export async function firstParentChain(repo: string, good: string, tip: string): Promise<string[]> {
  const out = (await git(repo, ['rev-list', '--first-parent', '--reverse', tip, `^${good}`])).stdout;
  return out.split('\n').filter(Boolean);
}

export async function parentsOf(repo: string, commit: string): Promise<string[]> {
  const out = (await git(repo, ['rev-list', '--parents', '-n', '1', commit])).stdout.trim().split(/\s+/);
  return out.slice(1);
}

async function describe(repo: string, commit: string): Promise<{ subject: string; author: string }> {
  const out = (await git(repo, ['log', '-1', '--format=%s%x00%an <%ae>', commit])).stdout.trim();
  const [subject, author] = out.split('\0');
  return { subject, author };
}

export async function resolveCommit(repo: string, rev: string): Promise<string> {
  return (await git(repo, ['rev-parse', '--verify', `${rev}^{commit}`])).stdout.trim();
}

function pct(x: number): string {
  if (!Number.isFinite(x)) return x > 0 ? '+inf' : '-inf';
  return `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)}%`;
}

export function stepBudget(candidates: number): number {
  return candidates <= 1 ? 0 : Math.ceil(Math.log2(candidates));
}

export async function bisect(o: BisectOptions): Promise<BisectResult> {
  const t0 = Date.now();
  const good = await resolveCommit(o.repo, o.good);
  const bad = await resolveCommit(o.repo, o.bad);
  const alpha = o.alpha ?? 0.05;
  const steps: BisectStep[] = [];
  const known = new Map<string, { cls: Exclude<StepClass, 'unclear'>; samples: number[]; comparison: Comparison }>();
  let retries = 0;
  let bound = 0;
  const range = Number((await git(o.repo, ['rev-list', '--count', bad, `^${good}`])).stdout.trim());

  if (o.badSamples && o.badSamples.length >= 2) {
    known.set(bad, { cls: 'has-change', samples: o.badSamples, comparison: compare(o.goodSamples, o.badSamples, o.detected.rule, alpha) });
  }

  async function probe(commit: string, depth: number, candidates: number): Promise<Exclude<StepClass, 'unclear'>> {
    const hit = known.get(commit);
    if (hit) return hit.cls;
    if (o.signal?.aborted) throw new Error('bisection cancelled');
    const started = Date.now();
    const samples = await o.measurer.measure(commit, o.stepBoots);
    let c = compare(o.goodSamples, samples, o.detected.rule, alpha);
    let cls = classifyStep(c, o.detected);
    let tries = 0;
    while (cls === 'unclear' && tries < o.maxRetries) {
      tries++;
      retries++;
      log.info({ commit, change: c.change, low: c.low, high: c.high }, 'step unclear: measuring again');
      samples.push(...(await o.measurer.measure(commit, o.stepBoots)));
      c = compare(o.goodSamples, samples, o.detected.rule, alpha);
      cls = classifyStep(c, o.detected);
    }
    const forced = cls === 'unclear';
    const final: Exclude<StepClass, 'unclear'> = cls === 'unclear' ? (c.change / o.detected.change >= 0.5 ? 'has-change' : 'lacks-change') : cls;
    const { subject } = await describe(o.repo, commit);
    const step: BisectStep = {
      n: steps.length + 1, commit, subject, depth, candidates, samples, retries: tries, comparison: c, class: final, forced, ms: Date.now() - started,
    };
    steps.push(step);
    known.set(commit, { cls: final, samples, comparison: c });
    log.info({ n: step.n, commit: commit.slice(0, 12), subject, change: pct(c.change), class: final, retries: tries }, 'bisection step');
    o.onStep?.(step);
    return final;
  }

  /** First commit with the change on the first-parent chain (lower, tip], tip known to have it. */
  async function search(lower: string, tip: string, depth: number, via: string[]): Promise<Culprit | null> {
    const chain = await firstParentChain(o.repo, lower, tip);
    if (chain.length === 0) return null;
    bound += stepBudget(chain.length);
    let lo = -1; // index of the last commit known to lack the change (-1: lower itself)
    let hi = chain.length - 1; // index of the first commit known to have it
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      const cls = await probe(chain[mid], depth, hi - lo);
      if (cls === 'has-change') hi = mid;
      else lo = mid;
    }
    const first = chain[hi];
    const parents = await parentsOf(o.repo, first);
    if (parents.length > 1) {
      // the change came in with this merge: into the merged branch(es), tip first
      for (const side of parents.slice(1)) {
        bound += 1;
        const cls = await probe(side, depth + 1, 1);
        if (cls === 'has-change') {
          const inner = await search(parents[0], side, depth + 1, [...via, first]);
          if (inner) return inner;
          break;
        }
      }
      const d = await describe(o.repo, first);
      return { commit: first, subject: d.subject, author: d.author, via, merge: true };
    }
    const d = await describe(o.repo, first);
    return { commit: first, subject: d.subject, author: d.author, via, merge: false };
  }

  const culprit = await search(good, bad, 0, []);
  let size: Comparison | null = null;
  if (culprit) {
    const hit = known.get(culprit.commit);
    if (hit) size = hit.comparison;
    else {
      // only reachable when the bad end was not measured before: measure the culprit now
      await probe(culprit.commit, 0, 1);
      size = known.get(culprit.commit)!.comparison;
    }
  }
  const status: BisectResult['status'] = culprit ? 'found' : 'not-reproduced';
  const summary = culprit
    ? `${culprit.commit.slice(0, 12)} ("${culprit.subject}") changed ${o.detected.metric} by ${pct(size!.change)} [${pct(size!.low)}, ${pct(size!.high)}]` +
      ` (detected ${pct(o.detected.change)}), ${steps.length} step(s), ${retries} retr${retries === 1 ? 'y' : 'ies'}, bound ${bound} + retries, ${range} commit(s) in range`
    : `no commit between ${good.slice(0, 12)} and ${bad.slice(0, 12)} carries the change`;
  return { status, good, bad, metric: o.detected.metric, detected: o.detected, culprit, size, steps, retries, range, bound, summary, wallMs: Date.now() - t0 };
}
