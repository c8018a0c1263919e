// Calibration of the perf gate on this machine: A/A gates (the same kernel on both sides) give the observed
// false-alarm rate and the per-boot noise of every metric; a power simulation of the configured plan on that
// noise (resampling the observed per-boot deviations) gives the smallest effect the plan detects.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { runPerfGate, type PerfCell, type PerfGateResult } from './gate.js';
import type { runGuestPair } from './guest-runner.js';
import { evaluateLook, type GateRule, type SequentialPlan } from './stats.js';

/** mulberry32: a seeded PRNG, so a calibration's simulation repeats exactly. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r());
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/**
 * Per-boot deviations on the log scale: each gate side's samples centred on their own median, so drift between
 * gates (minutes apart) does not count as noise, as the gate only ever compares inside one run.
 */
export function residuals(groups: number[][]): number[] {
  const out: number[] = [];
  for (const g of groups) {
    if (g.length < 2) continue;
    const logs = g.map(Math.log);
    const m = median(logs);
    // a median-centred residual understates the spread by about sqrt((n-1)/n); correct for it
    const k = Math.sqrt(g.length / (g.length - 1));
    for (const x of logs) out.push((x - m) * k);
  }
  return out;
}

/** Robust relative noise: 1.4826 x the median absolute deviation of the residuals. */
export function robustSd(res: number[]): number {
  if (res.length === 0) return NaN;
  const m = median(res);
  return 1.4826 * median(res.map((x) => Math.abs(x - m)));
}

export interface NoiseModel {
  /** per-boot deviations (log scale) to resample; empty = normal with sd */
  residuals: number[];
  sd: number;
}

function draw(r: () => number, noise: NoiseModel): number {
  if (noise.residuals.length >= 8) return noise.residuals[Math.floor(r() * noise.residuals.length)];
  return noise.sd * normal(r);
}

export interface SimulationResult {
  /** fraction of simulated gates that flagged the metric (regression for a positive effect) */
  flagged: number;
  /** mean boots per side at the verdict */
  boots: number;
}

/**
 * Simulates `runs` sequential gates of the plan over all `rules`, with an effect on `metric` only and every
 * metric's noise drawn from its model. Returns how often `metric` was flagged.
 */
export function simulateGates(
  rules: Record<string, GateRule>, plan: SequentialPlan, noise: Record<string, NoiseModel>, metric: string, effect: number, runs: number, seed = 1,
): SimulationResult {
  const r = seededRandom(seed);
  const names = Object.keys(rules);
  let flagged = 0;
  let boots = 0;
  for (let i = 0; i < runs; i++) {
    const base: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
    const cand: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
    for (const look of plan.looks) {
      while (base[names[0]].length < look) {
        for (const k of names) {
          base[k].push(Math.exp(draw(r, noise[k])));
          cand[k].push((k === metric ? 1 + effect : 1) * Math.exp(draw(r, noise[k])));
        }
      }
      const res = evaluateLook(base, cand, rules, plan);
      if (res.done || look === plan.looks[plan.looks.length - 1]) {
        const v = res.metrics[metric].verdict;
        if (effect === 0 ? v === 'regression' || v === 'improvement' : v === (effect > 0 === (rules[metric].direction === 'lower-is-better') ? 'regression' : 'improvement')) flagged++;
        boots += look;
        break;
      }
    }
  }
  return { flagged: flagged / runs, boots: boots / runs };
}

/** The effects tried when looking for the smallest detectable one. */
export const EFFECT_GRID = [0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.2];

export interface MetricCalibration {
  metric: string;
  /** observed per-boot noise (robust sd of log values, ~ relative sd) */
  noise: number;
  samples: number;
  /** A/A gates that flagged this metric */
  falseAlarms: number;
  /** simulated false-alarm rate of the plan at the observed noise */
  simulatedFalseAlarm: number;
  /** smallest effect of EFFECT_GRID flagged in at least `power` of simulated gates (null: none) */
  detectable: number | null;
  /** the power table: effect → fraction flagged, mean boots per side */
  powerTable: { effect: number; flagged: number; boots: number }[];
}

export interface CalibrationResult {
  runs: number;
  /** A/A gates with any metric flagged */
  falseAlarmGates: number;
  falseAlarmRate: number;
  alpha: number;
  power: number;
  metrics: MetricCalibration[];
  gates: Pick<PerfGateResult, 'status' | 'summary' | 'wallMs'>[];
  wallMs: number;
}

/** Calibration figures from A/A gate results already run (pure: the simulation is seeded). */
export function calibrateFrom(
  gates: PerfGateResult[], rules: Record<string, GateRule>, plan: SequentialPlan, o: { power?: number; simRuns?: number } = {},
): CalibrationResult {
  const power = o.power ?? 0.8;
  const simRuns = o.simRuns ?? 300;
  const names = Object.keys(rules);
  const noise: Record<string, NoiseModel> = {};
  for (const k of names) {
    const groups = gates.flatMap((g) => [g.samples.baseline[k] ?? [], g.samples.candidate[k] ?? []]);
    const res = residuals(groups);
    noise[k] = { residuals: res, sd: robustSd(res) };
  }
  const metrics: MetricCalibration[] = names.map((k, i) => {
    const falseAlarms = gates.filter((g) => ['regression', 'improvement'].includes(g.metrics[k]?.verdict ?? '')).length;
    const fa = simulateGates(rules, plan, noise, k, 0, simRuns, 7 + i);
    const powerTable: MetricCalibration['powerTable'] = [];
    let detectable: number | null = null;
    for (const effect of EFFECT_GRID) {
      const s = simulateGates(rules, plan, noise, k, effect, simRuns, 1000 + i * 100 + EFFECT_GRID.indexOf(effect));
      powerTable.push({ effect, flagged: s.flagged, boots: s.boots });
      if (detectable === null && s.flagged >= power) detectable = effect;
    }
    return { metric: k, noise: noise[k].sd, samples: noise[k].residuals.length, falseAlarms, simulatedFalseAlarm: fa.flagged, detectable, powerTable };
  });
  const flaggedGates = gates.filter((g) => Object.values(g.metrics).some((m) => m.verdict === 'regression' || m.verdict === 'improvement')).length;
  return {
    runs: gates.length, falseAlarmGates: flaggedGates, falseAlarmRate: gates.length ? flaggedGates / gates.length : 0, alpha: plan.alpha, power, metrics,
    gates: gates.map((g) => ({ status: g.status, summary: g.summary, wallMs: g.wallMs })), wallMs: gates.reduce((s, g) => s + g.wallMs, 0),
  };
}

export interface CalibrateOptions {
  kernel: string;
  initrd: string;
  workDir: string;
  cells: PerfCell[];
  rules: Record<string, GateRule>;
  plan: SequentialPlan;
  accel: 'tcg' | 'kvm';
  runs: number;
  power?: number;
  onProgress?: (msg: string) => void;
  runPair?: typeof runGuestPair;
  signal?: AbortSignal;
}

/** Runs `runs` A/A gates and calibrates from them. */
export async function calibrate(o: CalibrateOptions): Promise<CalibrationResult> {
  const gates: PerfGateResult[] = [];
  for (let i = 0; i < o.runs; i++) {
    const g = await runPerfGate({
      baselineKernel: o.kernel, candidateKernel: o.kernel, initrd: o.initrd, workDir: path.join(o.workDir, `aa-${i}`),
      cells: o.cells, rules: o.rules, plan: o.plan, accel: o.accel, runPair: o.runPair, signal: o.signal,
    });
    gates.push(g);
    o.onProgress?.(`A/A gate ${i + 1}/${o.runs}: ${g.status} (${g.summary}), ${(g.wallMs / 1000).toFixed(0)} s`);
  }
  return calibrateFrom(gates, o.rules, o.plan, { power: o.power });
}

function pct(x: number | null, digits = 2): string {
  return x === null || !Number.isFinite(x) ? '-' : `${(x * 100).toFixed(digits)}%`;
}

/** The report `patchgate gate calibrate` prints. */
export function calibrationReport(c: CalibrationResult, machine: string): string {
  const lines = [
    `calibration on ${machine}: ${c.runs} A/A gate(s), family-wise alpha ${c.alpha}, looks per side as configured`,
    `false alarms: ${c.falseAlarmGates} of ${c.runs} gates (${pct(c.falseAlarmRate, 1)}); mean wall per verdict ${(c.wallMs / Math.max(1, c.runs) / 1000).toFixed(0)} s`,
    '',
    `${'metric'.padEnd(28)}  noise/boot  samples  A/A flags  sim. false alarm  detects (power >= ${c.power})`,
  ];
  for (const m of c.metrics) {
    lines.push(`${m.metric.padEnd(28)}  ${pct(m.noise, 3).padStart(10)}  ${String(m.samples).padStart(7)}  ${String(m.falseAlarms).padStart(9)}  ${pct(m.simulatedFalseAlarm, 1).padStart(16)}  ${m.detectable === null ? 'nothing up to +20%' : `+${pct(m.detectable)}`}`);
  }
  lines.push('', 'power table (simulated gates on the observed noise): effect -> flagged, mean boots/side');
  for (const m of c.metrics) {
    lines.push(`  ${m.metric}: ${m.powerTable.map((p) => `+${pct(p.effect, 2)} ${p.flagged.toFixed(2)}/${p.boots.toFixed(1)}`).join('  ')}`);
  }
  return lines.join('\n') + '\n';
}

/** The figures a verdict carries: the machine's A/A false-alarm rate and the smallest detectable effect per metric. */
export function calibrationNote(c: Pick<CalibrationResult, 'runs' | 'falseAlarmGates' | 'metrics'>): string {
  const det = c.metrics.map((m) => `${m.metric} ${m.detectable === null ? 'nothing up to +20%' : `+${(m.detectable * 100).toFixed(2)}%`}`).join(', ');
  return `calibration: ${c.falseAlarmGates}/${c.runs} A/A false alarms; detects ${det}`;
}

/** A calibration saved by `patchgate gate calibrate --save` (null when there is none). */
export function loadCalibration(file: string): (CalibrationResult & { machine?: string; savedAt?: string }) | null {
  if (!existsSync(file)) return null;
  return JSON.parse(readFileSync(file, 'utf8')) as CalibrationResult & { machine?: string; savedAt?: string };
}
