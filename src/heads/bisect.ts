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
//
// A commit that does not build is skipped, as `git bisect skip` does: the step is taken on the untested
// commit nearest the middle instead, and the skipped commit is listed. When only skipped commits are left
// between the last commit without the change and the first with it, the culprit cannot be isolated: the
// result is `ambiguous`, with those candidates and the reason (which of them do not build).
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

/** A commit that cannot be measured (it does not build): the bisection skips it. */
export interface Unmeasurable {
  skip: string;
}

/** Builds COMMIT and returns BOOTS samples of the metric (one per boot), or why it cannot (it does not build). */
export interface Measurer {
  measure(commit: string, boots: number): Promise<number[] | Unmeasurable>;
}

export type StepClass = 'has-change' | 'lacks-change' | 'unclear';

/** A commit the bisection could not measure, like `git bisect skip`. */
export interface SkippedCommit {
  commit: string;
  subject: string;
  depth: number;
  reason: string;
  ms: number;
}

export interface Candidate {
  commit: string;
  subject: string;
  author: string;
  /** true when it could not be measured (does not build) */
  skipped: boolean;
}

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
  status: 'found' | 'not-reproduced' | 'ambiguous';
  good: string;
  bad: string;
  metric: string;
  detected: DetectedChange;
  culprit: Culprit | null;
  /** the culprit's effect against the good end (ambiguous: that of the newest candidate) */
  size: Comparison | null;
  /** the measured steps */
  steps: BisectStep[];
  /** the commits tried and skipped because they do not build, in the order tried */
  skipped: SkippedCommit[];
  /** ambiguous: the commits the first one with the change is among, oldest first (the last one measured with it) */
  candidates: Candidate[];
  /** ambiguous: why the culprit could not be isolated */
  reason: string | null;
  retries: number;
  /** commits in good..bad (all parents) */
  range: number;
  /** the step budget: ceil(log2(candidates)) per level searched, plus one tip check per merged branch (skips come on top) */
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

  const skipped: SkippedCommit[] = [];
  const skippedSet = new Set<string>();

  async function probe(commit: string, depth: number, candidates: number): Promise<Exclude<StepClass, 'unclear'> | 'skipped'> {
    const hit = known.get(commit);
    if (hit) return hit.cls;
    if (skippedSet.has(commit)) return 'skipped';
    if (o.signal?.aborted) throw new Error('bisection cancelled');
    const started = Date.now();
    const first = await o.measurer.measure(commit, o.stepBoots);
    if (!Array.isArray(first)) {
      const { subject } = await describe(o.repo, commit);
      skipped.push({ commit, subject, depth, reason: first.skip, ms: Date.now() - started });
      skippedSet.add(commit);
      log.info({ commit: commit.slice(0, 12), subject, reason: first.skip }, 'bisection step skipped: commit cannot be measured');
      return 'skipped';
    }
    const samples = [...first];
    let c = compare(o.goodSamples, samples, o.detected.rule, alpha);
    let cls = classifyStep(c, o.detected);
    let tries = 0;
    while (cls === 'unclear' && tries < o.maxRetries) {
      tries++;
      retries++;
      log.info({ commit, change: c.change, low: c.low, high: c.high }, 'step unclear: measuring again');
      const more = await o.measurer.measure(commit, o.stepBoots);
      if (!Array.isArray(more)) break; // built a moment ago: only an infrastructure change gets here; decide on what we have
      samples.push(...more);
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

  type Outcome = { culprit: Culprit } | { candidates: string[]; via: string[] };

  /** The untested, unskipped index of (lo, hi) nearest MID (later first on a tie), or -1 when none is left. */
  function nearest(chain: string[], lo: number, hi: number, mid: number): number {
    for (let d = 0; d < hi - lo; d++) {
      for (const i of [mid + d, mid - d]) if (i > lo && i < hi && !skippedSet.has(chain[i])) return i;
    }
    return -1;
  }

  /**
   * First commit with the change on CHAIN, whose last commit is known (or taken) to have it and whose
   * predecessor lacks it. FIRST is the index to try first (a merged branch's tip), else the middle. A merged
   * branch's chain ends with the merge (CLOSING): that merge is not descended into again.
   */
  async function searchChain(chain: string[], depth: number, via: string[], first?: number, closing = false): Promise<Outcome> {
    let lo = -1; // index of the last commit known to lack the change (-1: the chain's lower end)
    let hi = chain.length - 1; // index of the first commit known to have it
    let pick = first;
    while (hi - lo > 1) {
      const mid = nearest(chain, lo, hi, pick ?? ((lo + hi) >> 1));
      pick = undefined;
      if (mid < 0) return { candidates: chain.slice(lo + 1, hi + 1), via }; // only skipped commits left
      const cls = await probe(chain[mid], depth, hi - lo);
      // a merged branch's tip: when it lacks the change the merge made it, else the branch is bisected (its budget)
      if (closing && mid === first && cls !== 'lacks-change') bound += stepBudget(chain.length - 1);
      if (cls === 'skipped') continue;
      if (cls === 'has-change') hi = mid;
      else lo = mid;
    }
    const found = chain[hi];
    const parents = closing && hi === chain.length - 1 ? [] : await parentsOf(o.repo, found);
    if (parents.length > 1) {
      // the change came in with this merge: into the merged branch(es), tip first; the merge closes the chain
      for (const side of parents.slice(1)) {
        const branch = await firstParentChain(o.repo, parents[0], side);
        if (branch.length === 0) continue;
        bound += 1;
        const inner = await searchChain([...branch, found], depth + 1, [...via, found], branch.length - 1, true);
        if ('candidates' in inner || inner.culprit.commit !== found) return inner;
      }
      const d = await describe(o.repo, found);
      return { culprit: { commit: found, subject: d.subject, author: d.author, via, merge: true } };
    }
    const d = await describe(o.repo, found);
    return { culprit: { commit: found, subject: d.subject, author: d.author, via, merge: closing && hi === chain.length - 1 } };
  }

  const top = await firstParentChain(o.repo, good, bad);
  bound += stepBudget(top.length);
  const outcome: Outcome | null = top.length ? await searchChain(top, 0, []) : null;
  const culprit = outcome && 'culprit' in outcome ? outcome.culprit : null;
  let size: Comparison | null = null;
  if (culprit) {
    const hit = known.get(culprit.commit);
    if (hit) size = hit.comparison;
    else {
      // only reachable when the bad end was not measured before: measure the culprit now
      const cls = await probe(culprit.commit, 0, 1);
      size = cls === 'skipped' ? null : known.get(culprit.commit)!.comparison;
    }
  }
  const candidates: Candidate[] = [];
  let reason: string | null = null;
  if (outcome && 'candidates' in outcome) {
    for (const c of outcome.candidates) {
      const d = await describe(o.repo, c);
      candidates.push({ commit: c, subject: d.subject, author: d.author, skipped: skippedSet.has(c) });
    }
    const newest = outcome.candidates[outcome.candidates.length - 1];
    size = known.get(newest)?.comparison ?? null;
    const broken = candidates.filter((c) => c.skipped);
    reason = `${broken.map((c) => c.commit.slice(0, 12)).join(', ')} ${broken.length === 1 ? 'does' : 'do'} not build, so the change cannot be ` +
      `placed among the ${candidates.length} commits ${candidates[0].commit.slice(0, 12)}..${newest.slice(0, 12)}` +
      (known.has(newest) ? ` (${newest.slice(0, 12)} has it${size ? `: ${pct(size.change)}` : ''})` : '');
  }
  const status: BisectResult['status'] = culprit ? 'found' : candidates.length ? 'ambiguous' : 'not-reproduced';
  const tally = `${steps.length} step(s), ${retries} retr${retries === 1 ? 'y' : 'ies'}, ${skipped.length} skipped, bound ${bound} + retries + skips, ${range} commit(s) in range`;
  const summary = culprit && size
    ? `${culprit.commit.slice(0, 12)} ("${culprit.subject}") changed ${o.detected.metric} by ${pct(size.change)} [${pct(size.low)}, ${pct(size.high)}]` +
      ` (detected ${pct(o.detected.change)}), ${tally}`
    : culprit
      ? `${culprit.commit.slice(0, 12)} ("${culprit.subject}") is the first commit with the change, but it could not be measured, ${tally}`
      : candidates.length
        ? `the change in ${o.detected.metric} (detected ${pct(o.detected.change)}) came with one of ${candidates.map((c) => c.commit.slice(0, 12)).join(' ')}: ${reason}; ${tally}`
        : `no commit between ${good.slice(0, 12)} and ${bad.slice(0, 12)} carries the change`;
  return {
    status, good, bad, metric: o.detected.metric, detected: o.detected, culprit, size, steps, skipped, candidates, reason, retries, range, bound, summary, wallMs: Date.now() - t0,
  };
}
