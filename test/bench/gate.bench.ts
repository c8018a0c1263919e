// `npm run bench -- gate [--runs N] [--aa-runs N] [--cells rr,stream] [--extra 0,36,142,780]`: the perf gate on
// this machine. Baseline = the 6.1 guest kernel; candidates = the same kernel with a sized extra loop per
// transmitted packet in virtio_net (scripts/perf-kernels.sh builds them). Extra 0 is an A/A run: any flag is a
// false alarm. By default one gate holds the RR and the STREAM cell of the guest-to-guest topology (the issue's
// goal: a verdict on both in under 5 minutes).
// Prints per gate: verdict, estimated change and interval of every metric, boots used, wall time and its split
// over the cells; then per candidate the flags per metric and the wall per verdict; then, from the A/A gates of
// this same run, each metric's per-boot noise and the smallest effect the plan detects (calibrate.ts). The host
// load is printed at the start and the end.
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { calibrateFrom } from '../../src/gates/perf/calibrate.js';
import { buildInitramfs } from '../../src/gates/perf/initramfs.js';
import { runPerfGate, type PerfCell, type PerfGateResult } from '../../src/gates/perf/gate.js';
import { runGuestPair, type PairOptions } from '../../src/gates/perf/guest-runner.js';
import type { GateRule } from '../../src/gates/perf/stats.js';
import { repoRoot } from '../helpers/archive.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : def);
const runs = parseInt(opt('runs', '1'), 10);
const aaRuns = parseInt(opt('aa-runs', opt('runs', '1')), 10);
const extras = opt('extra', '0,36,142,780').split(',').map(Number);
const cellNames = opt('cells', 'rr,stream').split(',');
const looks = opt('looks', '5,8,12').split(',').map(Number);

const kernels = path.join(repoRoot, 'var', 'perf', 'kernels');
const missing = extras.filter((n) => !existsSync(path.join(kernels, `extra-${n}.bzImage`)));
if (missing.length) execFileSync('bash', [path.join(repoRoot, 'scripts', 'perf-kernels.sh'), ...[0, ...missing].map(String)], { stdio: 'inherit' });

const allCells: Record<string, PerfCell> = {
  rr: { id: 'tcp_rr', test: 'TCP_RR', transactions: 4000 },
  stream: { id: 'tcp_stream', test: 'TCP_STREAM', transactions: 4000 },
};
const allRules: Record<string, [string, GateRule]> = {
  rr: ['tcp_rr_cost_per_trans', { direction: 'lower-is-better', threshold: 0.003, require: 'not-regress' }],
  stream: ['tcp_stream_cost_per_kb', { direction: 'lower-is-better', threshold: 0.01, require: 'not-regress' }],
};
const cells = cellNames.map((c) => allCells[c]);
const rules = Object.fromEntries(cellNames.map((c) => allRules[c]));

const load = () => os.loadavg().map((x) => x.toFixed(1)).join(' ');
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const rd = buildInitramfs(path.join(repoRoot, 'var', 'perf', 'initramfs'));
  const base = path.join(kernels, 'extra-0.bzImage');
  const plan = { looks, alpha: 0.05 };
  process.stdout.write(`perf gate benchmark: cells ${cellNames.join(',')}, ${runs} run(s) per candidate, ${aaRuns} A/A, looks ${looks.join('/')}, TCG + icount, load ${load()} at ${new Date().toISOString()}\n`);
  process.stdout.write('extra  run  status    boots  wall_s  per cell  metric: change [low, high] verdict\n');
  // rounds outermost: if the run is stopped early, every candidate has the same number of gates
  const rounds = Math.max(runs, aaRuns);
  const tally = new Map<number, { flagged: Record<string, number>; runs: number; walls: number[] }>();
  const aaGates: PerfGateResult[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const extra of extras) {
      if (r >= (extra === 0 ? aaRuns : runs)) continue;
      // the wall time of each cell's boots: what the RR and the STREAM cell each cost of the verdict
      const cellWall: Record<string, number> = {};
      const timed = async (o: PairOptions) => {
        const t0 = Date.now();
        try {
          return await runGuestPair(o);
        } finally {
          cellWall[o.test] = (cellWall[o.test] ?? 0) + Date.now() - t0;
        }
      };
      const res = await runPerfGate({
        baselineKernel: base, candidateKernel: path.join(kernels, `extra-${extra}.bzImage`), initrd: rd.path,
        workDir: path.join(repoRoot, 'var', 'perf', 'bench', `x${extra}-r${r}`), cells, rules, plan, accel: 'tcg', runPair: timed,
      });
      if (extra === 0) aaGates.push(res);
      const boots = Object.values(res.samples.baseline)[0]?.length ?? 0;
      const split = Object.entries(cellWall).map(([k, v]) => `${k === 'TCP_STREAM' ? 'S' : 'R'}${(v / 1000).toFixed(0)}`).join('/');
      const m = Object.entries(res.metrics).map(([k, v]) => `${k}: ${(v.change * 100).toFixed(2)}% [${(v.low * 100).toFixed(2)}, ${(v.high * 100).toFixed(2)}] ${v.verdict}`).join('; ');
      process.stdout.write(`${String(extra).padStart(5)}  ${String(r + 1).padStart(3)}  ${res.status.padEnd(8)}  ${String(boots).padStart(5)}  ${(res.wallMs / 1000).toFixed(0).padStart(6)}  ${split.padEnd(8)}  ${m}\n`);
      const t = tally.get(extra) ?? { flagged: {}, runs: 0, walls: [] };
      t.runs++;
      t.walls.push(res.wallMs);
      for (const [k, v] of Object.entries(res.metrics)) if (v.verdict === 'regression' || v.verdict === 'improvement') t.flagged[k] = (t.flagged[k] ?? 0) + 1;
      tally.set(extra, t);
    }
  }
  process.stdout.write(`\nload ${load()} at ${new Date().toISOString()}\n\nextra  gates  flagged per metric                    wall per verdict: median (max)\n`);
  for (const [extra, t] of tally) {
    const flags = Object.keys(rules).map((k) => `${k.replace(/_cost_per_(trans|kb)$/, '')} ${t.flagged[k] ?? 0}`).join(', ');
    const med = median(t.walls) / 1000;
    process.stdout.write(`${String(extra).padStart(5)}  ${String(t.runs).padStart(5)}  ${flags.padEnd(36)}  ${med.toFixed(0)} s (${(Math.max(...t.walls) / 1000).toFixed(0)} s)${med <= 300 ? '' : ' over the 5-minute goal'}${extra === 0 ? '   (A/A: every flag is a false alarm)' : ''}\n`);
  }
  if (aaGates.length) {
    // the detectable effect from this run's own A/A gates: per-boot noise, then a power simulation of the plan
    const cal = calibrateFrom(aaGates, rules, plan, { power: 0.8 });
    process.stdout.write(`\nfrom the ${aaGates.length} A/A gate(s) above: metric  noise per boot  detects at 80% power\n`);
    for (const c of cal.metrics) {
      process.stdout.write(`  ${c.metric.padEnd(24)}  ${(c.noise * 100).toFixed(2)}%  ${c.detectable === null ? 'nothing up to +20%' : `+${(c.detectable * 100).toFixed(2)}%`} (${c.samples} residuals)\n`);
    }
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
