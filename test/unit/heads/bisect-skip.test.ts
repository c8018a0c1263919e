// The bisection's `git bisect skip`: commits that do not build are skipped, their neighbours tested, and
// when only skipped commits are left between a commit without the change and one with it, the result is the
// range of candidates and why. A real git repo of a tiny C program; the measurer really compiles each
// commit's program with the C compiler (a syntax error is a real failed build) and runs it: it prints its
// cost, measured with seeded noise of the instruction-counted metric's size (~0.2%).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bisect, stepBudget, type DetectedChange, type Measurer } from '../../../src/heads/bisect.js';
import { compare } from '../../../src/gates/perf/stats.js';
import { seededRandom } from '../../../src/gates/perf/calibrate.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

let tick = 0;
function git(dir: string, ...args: string[]): string {
  tick++;
  const date = `2026-02-01T00:${String(Math.floor(tick / 60) % 60).padStart(2, '0')}:${String(tick % 60).padStart(2, '0')}Z`;
  return execFileSync('git', ['-C', dir, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@example.org', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@example.org', GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date },
  }).trim();
}

function program(cost: number, broken = false): string {
  return `#include <stdio.h>\nstatic int transmit_cost(void) { return ${cost}; }\nint main(void) { printf("%d\\n", transmit_cost())${broken ? '' : ';'} return 0; }\n`;
}

interface Spec {
  /** cost of each commit's program after the base (1000) */
  costs: number[];
  /** indexes of commits whose program has a syntax error */
  broken: number[];
}

function history(spec: Spec): { dir: string; good: string; shas: string[] } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pg-heads-skip-'));
  dirs.push(dir);
  git(dir, 'init', '-q', '-b', 'main');
  writeFileSync(path.join(dir, 'net.c'), program(1000));
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'base');
  const good = git(dir, 'rev-parse', 'HEAD');
  spec.costs.forEach((cost, i) => {
    writeFileSync(path.join(dir, 'net.c'), program(cost, spec.broken.includes(i)));
    git(dir, 'commit', '-q', '-a', '--allow-empty', '-m', `c${i}${spec.broken.includes(i) ? ': refactor (breaks the build)' : ''}`);
  });
  const shas = git(dir, 'rev-list', '--reverse', 'HEAD', `^${good}`).split('\n');
  expect(shas).toHaveLength(spec.costs.length);
  return { dir, good, shas };
}

/** Builds the commit's program with the C compiler and runs it; a compile error is a skip with the compiler's message. */
function compilingMeasurer(dir: string, seed: number): Measurer & { builds: string[] } {
  const r = seededRandom(seed);
  const builds: string[] = [];
  const out = mkdtempSync(path.join(os.tmpdir(), 'pg-heads-skip-bin-'));
  dirs.push(out);
  return {
    builds,
    async measure(commit, boots) {
      builds.push(commit);
      const src = git(dir, 'show', `${commit}:net.c`);
      const bin = path.join(out, commit);
      const cc = spawnSync('cc', ['-x', 'c', '-o', bin, '-'], { input: src, encoding: 'utf8' });
      if (cc.status !== 0) return { skip: `${commit.slice(0, 12)} does not build: ${cc.stderr.split('\n').find((l) => /error/.test(l))?.trim() ?? `cc exit ${cc.status}`}` };
      const cost = Number(execFileSync(bin, { encoding: 'utf8' }).trim());
      return Array.from({ length: boots }, () => cost * (1 + (r() - 0.5) * 0.004));
    },
  };
}

const rule = { direction: 'lower-is-better' as const, threshold: 0.003 };

async function run(spec: Spec, seed = 1) {
  const h = history(spec);
  const m = compilingMeasurer(h.dir, seed);
  const bad = h.shas[h.shas.length - 1];
  const goodSamples = (await m.measure(h.good, 5)) as number[];
  const badSamples = (await m.measure(bad, 5)) as number[];
  const c = compare(goodSamples, badSamples, rule, 0.05);
  const detected: DetectedChange = { metric: 'tcp_rr_cost_per_trans', change: c.change, low: c.low, high: c.high, rule };
  m.builds.length = 0;
  const r = await bisect({ repo: h.dir, good: h.good, bad, detected, goodSamples, badSamples, measurer: m, stepBoots: 4, maxRetries: 2 });
  return { ...h, r, m };
}

/** 16 commits; the one at AT adds per-packet cost (1000 -> 1100); BROKEN do not compile. */
function costs(at: number, n = 16): number[] {
  return Array.from({ length: n }, (_, i) => (i >= at ? 1100 : 1000));
}

describe('bisection skips commits that do not build', () => {
  it('the middle commit does not build: skipped, its neighbour tested, the culprit still named exactly', async () => {
    // the first step would be index 7 (the middle of 16): it does not build
    const { r, shas, m } = await run({ costs: costs(11), broken: [7] });
    expect(r.status).toBe('found');
    expect(r.culprit?.commit).toBe(shas[11]);
    expect(r.size!.change).toBeGreaterThan(0.09);
    expect(r.size!.change).toBeLessThan(0.11);
    expect(r.skipped.map((s) => s.commit)).toEqual([shas[7]]);
    expect(r.skipped[0].reason).toMatch(/does not build: .*error/);
    // its neighbour was the next step, and the skipped commit was never measured again
    expect(m.builds[0]).toBe(shas[7]);
    expect(m.builds[1]).toBe(shas[8]);
    expect(m.builds.filter((c) => c === shas[7])).toHaveLength(1);
    expect(r.steps.map((s) => s.commit)).not.toContain(shas[7]);
    expect(r.candidates).toEqual([]);
    expect(r.reason).toBeNull();
    expect(r.bound).toBe(stepBudget(16));
    expect(r.steps.length).toBeLessThanOrEqual(r.bound + r.retries + r.skipped.length);
    expect(r.summary).toContain('1 skipped');
  }, 60_000);

  it('names the culprit wherever it is when a commit not next to it does not build, within log2(range) + retries + skips', async () => {
    for (const [at, broken] of [[0, 7], [6, 7], [9, 7], [15, 7], [12, 3]] as const) {
      const { r, shas } = await run({ costs: costs(at), broken: [broken] }, at * 31 + broken);
      expect(r.status, `culprit ${at}, broken ${broken}`).toBe('found');
      expect(r.culprit?.commit).toBe(shas[at]);
      expect(r.steps.length).toBeLessThanOrEqual(r.bound + r.retries + r.skipped.length);
      for (const s of r.steps) expect(s.class).toBe(shas.indexOf(s.commit) >= at ? 'has-change' : 'lacks-change');
    }
  }, 120_000);

  it('the commit just before the culprit does not build: the two are reported as the candidates, and why', async () => {
    const { r, shas } = await run({ costs: costs(9), broken: [8] });
    expect(r.status).toBe('ambiguous');
    expect(r.culprit).toBeNull();
    expect(r.candidates.map((c) => [c.commit, c.skipped])).toEqual([[shas[8], true], [shas[9], false]]);
    expect(r.reason).toBe(`${shas[8].slice(0, 12)} does not build, so the change cannot be placed among the 2 commits ${shas[8].slice(0, 12)}..${shas[9].slice(0, 12)}` +
      ` (${shas[9].slice(0, 12)} has it: +${(r.size!.change * 100).toFixed(2)}%)`);
    expect(r.size!.change).toBeGreaterThan(0.09);
    expect(r.summary).toContain(`came with one of ${shas[8].slice(0, 12)} ${shas[9].slice(0, 12)}`);
    expect(r.steps.length).toBeLessThanOrEqual(r.bound + r.retries + r.skipped.length);
  }, 60_000);

  it('the culprit itself does not build (the next commit fixes the build): it and the fix are the candidates', async () => {
    const { r, shas } = await run({ costs: costs(4), broken: [4] });
    expect(r.status).toBe('ambiguous');
    expect(r.candidates.map((c) => c.commit)).toEqual([shas[4], shas[5]]);
    expect(r.candidates[0].skipped).toBe(true);
    expect(r.candidates[1].skipped).toBe(false);
  }, 60_000);

  it('a run of commits that do not build before the culprit: all of them and the culprit are the candidates, every broken one tried once', async () => {
    const { r, shas, m } = await run({ costs: costs(10), broken: [7, 8, 9] });
    expect(r.status).toBe('ambiguous');
    expect(r.candidates.map((c) => c.commit)).toEqual([shas[7], shas[8], shas[9], shas[10]]);
    expect(r.reason).toMatch(/do not build/);
    expect(new Set(r.skipped.map((s) => s.commit))).toEqual(new Set([shas[7], shas[8], shas[9]]));
    for (const c of [shas[7], shas[8], shas[9]]) expect(m.builds.filter((x) => x === c)).toHaveLength(1);
    expect(r.steps.length).toBeLessThanOrEqual(r.bound + r.retries + r.skipped.length);
  }, 60_000);

  it('a merged branch whose tip does not build: the branch is bisected from the tip\'s neighbours', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pg-heads-skip-merge-'));
    dirs.push(dir);
    const commit = (subject: string, cost?: number, broken = false) => {
      if (cost !== undefined) writeFileSync(path.join(dir, 'net.c'), program(cost, broken));
      writeFileSync(path.join(dir, `note-${subject.replace(/\W+/g, '-')}`), subject);
      git(dir, 'add', '-A');
      git(dir, 'commit', '-q', '-m', subject);
      return git(dir, 'rev-parse', 'HEAD');
    };
    git(dir, 'init', '-q', '-b', 'main');
    const good = commit('base', 1000);
    commit('a1');
    git(dir, 'checkout', '-q', '-b', 'feature');
    commit('f1');
    const f2 = commit('f2: slow transmit', 1080);
    commit('f3');
    commit('f4: broken tip', 1080, true);
    git(dir, 'checkout', '-q', 'main');
    commit('a2');
    git(dir, 'merge', '-q', '--no-ff', '--no-commit', 'feature');
    writeFileSync(path.join(dir, 'net.c'), program(1080)); // the merge fixes the build
    git(dir, 'add', '-A');
    git(dir, 'commit', '-q', '-m', 'Merge branch feature');
    const merge = git(dir, 'rev-parse', 'HEAD');
    const bad = commit('a3');
    const m = compilingMeasurer(dir, 5);
    const goodSamples = (await m.measure(good, 5)) as number[];
    const badSamples = (await m.measure(bad, 5)) as number[];
    const c = compare(goodSamples, badSamples, rule, 0.05);
    const r = await bisect({
      repo: dir, good, bad, detected: { metric: 'tcp_rr_cost_per_trans', change: c.change, low: c.low, high: c.high, rule }, goodSamples, badSamples,
      measurer: m, stepBoots: 4, maxRetries: 2,
    });
    expect(r.status).toBe('found');
    expect(r.culprit).toMatchObject({ commit: f2, via: [merge], merge: false });
    expect(r.skipped.map((s) => s.subject)).toEqual(['f4: broken tip']);
    expect(r.steps.length).toBeLessThanOrEqual(r.bound + r.retries + r.skipped.length);
  }, 60_000);
});
