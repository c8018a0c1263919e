// The bisection on real git histories (linear, with merged branches, a merge that makes the change itself),
// with a measurer that derives each commit's cost from its tree (the `cost` file) plus seeded noise of the
// instruction-counted metric's size (~0.2%): the bisection must name exactly the commit that changed it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bisect, stepBudget, type DetectedChange, type Measurer } from '../../src/heads/bisect.js';
import { compare } from '../../src/gates/perf/stats.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

let tick = 0;
function git(dir: string, ...args: string[]): string {
  tick++;
  const date = `2026-01-01T00:00:${String(tick % 60).padStart(2, '0')}Z`;
  return execFileSync('git', ['-C', dir, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@example.org', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@example.org', GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date },
  }).trim();
}

function repo(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'pg-heads-bisect-'));
  dirs.push(d);
  git(d, 'init', '-q', '-b', 'main');
  return d;
}

function commit(d: string, subject: string, cost?: number): string {
  if (cost !== undefined) writeFileSync(path.join(d, 'cost'), `${cost}\n`);
  writeFileSync(path.join(d, `note-${subject.replace(/[^a-z0-9]+/gi, '-')}`), `${subject}\n`);
  git(d, 'add', '-A');
  git(d, 'commit', '-q', '-m', subject);
  return git(d, 'rev-parse', 'HEAD');
}

/** mulberry32 */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function measurerFor(d: string, seed = 1, spread = 0.002): Measurer & { calls: string[] } {
  const r = rng(seed);
  const calls: string[] = [];
  return {
    calls,
    async measure(c: string, boots: number) {
      calls.push(c);
      const cost = Number(git(d, 'show', `${c}:cost`));
      return Array.from({ length: boots }, () => cost * (1 + (r() - 0.5) * 2 * spread));
    },
  };
}

const rule = { direction: 'lower-is-better' as const, threshold: 0.003 };

async function detected(m: Measurer, good: string, bad: string): Promise<{ d: DetectedChange; goodSamples: number[]; badSamples: number[] }> {
  const goodSamples = await m.measure(good, 5);
  const badSamples = await m.measure(bad, 5);
  const c = compare(goodSamples, badSamples, rule, 0.05);
  return { d: { metric: 'tcp_rr_cost_per_trans', change: c.change, low: c.low, high: c.high, rule }, goodSamples, badSamples };
}

describe('bisect on real git histories', () => {
  it('names the culprit on a linear history of 16 commits wherever it is, within ceil(log2(16)) steps', async () => {
    for (const at of [0, 1, 7, 8, 14, 15]) {
      const d = repo();
      const good = commit(d, 'base', 1000);
      const shas: string[] = [];
      for (let i = 0; i < 16; i++) shas.push(commit(d, `c${i}`, i === at ? 1100 : undefined));
      const m = measurerFor(d, at + 1);
      const { d: det, goodSamples, badSamples } = await detected(m, good, shas[15]);
      expect(det.change).toBeGreaterThan(0.09);
      const r = await bisect({ repo: d, good, bad: shas[15], detected: det, goodSamples, badSamples, measurer: m, stepBoots: 4, maxRetries: 2 });
      expect(r.status).toBe('found');
      expect(r.culprit?.commit).toBe(shas[at]);
      expect(r.culprit?.via).toEqual([]);
      expect(r.range).toBe(16);
      expect(r.bound).toBe(4);
      expect(r.steps.length).toBeLessThanOrEqual(r.bound + r.retries);
      expect(r.size!.change).toBeGreaterThan(0.09);
      expect(r.size!.change).toBeLessThan(0.11);
      for (const s of r.steps) expect(s.class).toBe(shas.indexOf(s.commit) >= at ? 'has-change' : 'lacks-change');
    }
  });

  it('first parent first, then into the merged branch: the culprit inside a merged branch, with the merge it came through', async () => {
    const d = repo();
    const good = commit(d, 'base', 1000);
    commit(d, 'a1');
    commit(d, 'a2');
    git(d, 'checkout', '-q', '-b', 'feature');
    const f1 = commit(d, 'f1');
    const f2 = commit(d, 'f2');
    const f3 = commit(d, 'f3: slow transmit', 1080);
    const f4 = commit(d, 'f4');
    git(d, 'checkout', '-q', 'main');
    commit(d, 'a3');
    git(d, 'merge', '-q', '--no-ff', '-m', 'Merge branch feature', 'feature');
    const merge = git(d, 'rev-parse', 'HEAD');
    commit(d, 'a4');
    const bad = commit(d, 'a5');
    const m = measurerFor(d, 7);
    const { d: det, goodSamples, badSamples } = await detected(m, good, bad);
    const r = await bisect({ repo: d, good, bad, detected: det, goodSamples, badSamples, measurer: m, stepBoots: 4, maxRetries: 2 });
    expect(r.culprit?.commit).toBe(f3);
    expect(r.culprit?.via).toEqual([merge]);
    expect(r.culprit?.merge).toBe(false);
    expect(r.range).toBe(10);
    // first-parent chain: a1 a2 a3 merge a4 a5 (6) -> 3 steps; the branch tip; the branch f1..f4 -> 2 steps
    expect(r.bound).toBe(stepBudget(6) + 1 + stepBudget(4));
    expect(r.steps.length).toBeLessThanOrEqual(r.bound + r.retries);
    expect(r.steps.find((s) => s.commit === f4)?.depth).toBe(1);
    expect([f1, f2].every((c) => r.steps.find((s) => s.commit === c)?.class !== 'has-change')).toBe(true);
  });

  it('a merge whose branch alone lacks the change is the culprit itself', async () => {
    const d = repo();
    const good = commit(d, 'base', 1000);
    git(d, 'checkout', '-q', '-b', 'side');
    commit(d, 's1');
    commit(d, 's2');
    git(d, 'checkout', '-q', 'main');
    commit(d, 'm1');
    git(d, 'merge', '-q', '--no-ff', '--no-commit', 'side');
    writeFileSync(path.join(d, 'cost'), '1150\n');
    git(d, 'add', '-A');
    git(d, 'commit', '-q', '-m', 'Merge branch side (with a costly resolution)');
    const merge = git(d, 'rev-parse', 'HEAD');
    const bad = commit(d, 'm2');
    const m = measurerFor(d, 3);
    const { d: det, goodSamples, badSamples } = await detected(m, good, bad);
    const r = await bisect({ repo: d, good, bad, detected: det, goodSamples, badSamples, measurer: m, stepBoots: 4, maxRetries: 2 });
    expect(r.culprit).toMatchObject({ commit: merge, merge: true, via: [] });
    expect(r.size!.change).toBeGreaterThan(0.14);
  });

  it('a step whose samples are unclear is measured again, and the retries are counted', async () => {
    const d = repo();
    const good = commit(d, 'base', 1000);
    const shas: string[] = [];
    for (let i = 0; i < 8; i++) shas.push(commit(d, `c${i}`, i === 5 ? 1100 : undefined));
    const clean = measurerFor(d, 11);
    const { d: det, goodSamples, badSamples } = await detected(clean, good, shas[7]);
    let first = true;
    const m: Measurer = {
      // the first step's first boots straddle the detected change: unclear until more boots come in
      async measure(c, boots) {
        if (first) {
          first = false;
          return [1000, 1100, 1000, 1100].slice(0, boots);
        }
        return clean.measure(c, boots);
      },
    };
    const r = await bisect({ repo: d, good, bad: shas[7], detected: det, goodSamples, badSamples, measurer: m, stepBoots: 4, maxRetries: 3 });
    expect(r.culprit?.commit).toBe(shas[5]);
    expect(r.retries).toBeGreaterThanOrEqual(1);
    expect(r.steps[0].retries).toBe(r.retries);
    expect(r.steps[0].samples.length).toBe(4 * (1 + r.retries));
    expect(r.steps.length).toBeLessThanOrEqual(r.bound + r.retries);
  });
});
