// `npm run bench -- gate [--runs N] [--cells rr,stream] [--extra 0,25,100,500]`: the perf gate on this machine.
// Baseline = the 6.1 guest kernel; candidates = the same kernel with a sized extra loop per transmitted packet
// in virtio_net (scripts/perf-kernels.sh builds them). Extra 0 is an A/A run: any flag is a false alarm.
// Prints per gate: verdict, estimated change and interval of every metric, boots used and wall time.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { buildInitramfs } from '../../src/gates/perf/initramfs.js';
import { runPerfGate, type PerfCell } from '../../src/gates/perf/gate.js';
import type { GateRule } from '../../src/gates/perf/stats.js';
import { repoRoot } from '../helpers/archive.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : def);
const runs = parseInt(opt('runs', '1'), 10);
const aaRuns = parseInt(opt('aa-runs', opt('runs', '1')), 10);
const extras = opt('extra', '0,36,142,780').split(',').map(Number);
const cellNames = opt('cells', 'rr').split(',');

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

async function main(): Promise<void> {
  const rd = buildInitramfs(path.join(repoRoot, 'var', 'perf', 'initramfs'));
  const base = path.join(kernels, 'extra-0.bzImage');
  process.stdout.write(`perf gate benchmark: cells ${cellNames.join(',')}, ${runs} run(s) per candidate, TCG + icount\n`);
  process.stdout.write('extra  run  status    boots  wall_s  metric: change [low, high] verdict\n');
  // rounds outermost: if the run is stopped early, every candidate has the same number of gates
  const rounds = Math.max(runs, aaRuns);
  const tally = new Map<number, { flagged: number; runs: number; wall: number }>();
  for (let r = 0; r < rounds; r++) {
    for (const extra of extras) {
      if (r >= (extra === 0 ? aaRuns : runs)) continue;
      const res = await runPerfGate({
        baselineKernel: base, candidateKernel: path.join(kernels, `extra-${extra}.bzImage`), initrd: rd.path,
        workDir: path.join(repoRoot, 'var', 'perf', 'bench', `x${extra}-r${r}`), cells, rules,
        plan: { looks: [5, 8, 12], alpha: 0.05 }, accel: 'tcg',
      });
      const boots = Object.values(res.samples.baseline)[0]?.length ?? 0;
      const m = Object.entries(res.metrics).map(([k, v]) => `${k}: ${(v.change * 100).toFixed(2)}% [${(v.low * 100).toFixed(2)}, ${(v.high * 100).toFixed(2)}] ${v.verdict}`).join('; ');
      process.stdout.write(`${String(extra).padStart(5)}  ${String(r + 1).padStart(3)}  ${res.status.padEnd(8)}  ${String(boots).padStart(5)}  ${(res.wallMs / 1000).toFixed(0).padStart(6)}  ${m}\n`);
      const t = tally.get(extra) ?? { flagged: 0, runs: 0, wall: 0 };
      t.runs++;
      t.wall += res.wallMs;
      if (Object.values(res.metrics).some((v) => v.verdict === 'regression' || v.verdict === 'improvement')) t.flagged++;
      tally.set(extra, t);
    }
  }
  process.stdout.write('\nextra  gates  flagged  mean wall per verdict\n');
  for (const [extra, t] of tally) {
    process.stdout.write(`${String(extra).padStart(5)}  ${String(t.runs).padStart(5)}  ${String(t.flagged).padStart(7)}  ${(t.wall / t.runs / 1000).toFixed(0)} s${extra === 0 ? '   (A/A: every flag is a false alarm)' : ''}\n`);
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
