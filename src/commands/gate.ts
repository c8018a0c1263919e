// `patchgate gate matrix|calibrate|ring`: the perf gate's test matrix for this machine, its calibration (A/A
// false alarms and the smallest detectable effect), and the virtio ring benchmark gate between two trees.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { UsageError, type CliIo } from '../cli.js';
import { probeAccel } from '../gates/perf/accel.js';
import { calibrate, calibrationNote, calibrationReport } from '../gates/perf/calibrate.js';
import type { PerfCell } from '../gates/perf/gate.js';
import { buildInitramfs } from '../gates/perf/initramfs.js';
import { expandMatrix, loadMatrix, matrixMarkdown, matrixTable, probeHost, runMatrix, type MatrixCell } from '../gates/perf/matrix.js';
import { runMatrixCell } from '../gates/perf/matrix-run.js';
import { runRingGate, ringReport } from '../gates/ringtest/ringtest.js';
import { perfSettingsFrom } from '../gates/perf/settings.js';
import type { GateRule } from '../gates/perf/stats.js';
import { buildTopologyInitramfs } from '../gates/perf/topologies.js';
import { logger } from '../log.js';
import { loadSettings } from '../settings/load.js';

function csv(v: string | undefined): string[] {
  return v ? v.split(',').map((s) => s.trim()).filter(Boolean) : [];
}

function looksOf(v: string | undefined, def: number[]): number[] {
  if (!v) return def;
  const looks = csv(v).map(Number);
  if (looks.some((n) => !Number.isInteger(n) || n < 3) || looks.some((n, i) => i > 0 && n <= looks[i - 1])) throw new UsageError(`--looks ${v}: increasing integers >= 3`);
  return looks;
}

function positive(v: string | undefined, def: number, name: string): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${name} ${v}: a positive integer`);
  return n;
}

function findFile(given: string | undefined, configFile: string, fallback: string): string {
  const candidates = given ? [given, path.resolve(path.dirname(configFile), given)] : [fallback];
  const hit = candidates.find((c) => existsSync(c));
  if (!hit) throw new UsageError(`${given ?? fallback} not found`);
  return hit;
}

const DEFAULT_KERNEL = 'var/perf/kernels/extra-0.bzImage';

function kernelArg(v: string | undefined, name: string): string {
  const k = v ?? (existsSync(DEFAULT_KERNEL) ? DEFAULT_KERNEL : undefined);
  if (!k) throw new UsageError(`${name} is required (no ${DEFAULT_KERNEL}: scripts/perf-kernels.sh builds it)`);
  if (!existsSync(k)) throw new UsageError(`${name} ${k}: no such kernel image`);
  return path.resolve(k);
}

function machine(): string {
  return `${os.hostname()} (${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? 'unknown CPU'})`;
}

interface MatrixOpts {
  config: string;
  matrix?: string;
  paths?: string;
  projects?: string;
  run?: boolean;
  baseline?: string;
  candidate?: string;
  looks?: string;
  transactions?: string;
  only?: string;
  accel?: string;
  baseTree?: string;
  candidateTree?: string;
  json?: boolean;
  markdown?: boolean;
  cellBudget?: string;
  functionalKernel?: string;
}

export function registerGate(program: Command, io: CliIo): void {
  const gate = program.command('gate').description('the performance gate: test matrix, calibration, ring benchmark');

  gate
    .command('matrix')
    .description('list (or with --run, run) the test matrix on this machine: every cell run with its verdict or not run with its reason')
    .requiredOption('--config <file>', 'configuration file')
    .option('--matrix <file>', 'matrix file (default: matrix_file of the config, else config/matrix.yaml)')
    .option('--paths <list>', 'files the series touches, comma-separated (selects cells)')
    .option('--projects <list>', 'projects the series belongs to, comma-separated (selects cells)')
    .option('--run', 'run the selected cells this host can run')
    .option('--baseline <bzImage>', `baseline kernel (default ${DEFAULT_KERNEL})`)
    .option('--candidate <bzImage>', 'candidate kernel (default: the baseline, an A/A run)')
    .option('--looks <list>', 'boots per side at each look (default: gates.perf.looks)')
    .option('--transactions <n>', 'transactions (or stream writes) per boot', '4000')
    .option('--base-tree <dir>', 'base kernel tree (ring cells)')
    .option('--candidate-tree <dir>', 'candidate kernel tree (ring cells)')
    .option('--only <list>', 'run only these cells (ids, comma-separated); the others are reported as not run')
    .option('--accel <accel>', 'tcg, kvm or auto (default: gates.perf.accel)')
    .option('--cell-budget <s>', 'wall-time budget per perf cell in seconds: no further look starts once it is spent, and a look under way stops after the boot round it runs out in')
    .option('--functional-kernel <bzImage>', 'the kernel the functional cells boot (default: the candidate)')
    .option('--markdown', 'print the listing as a Markdown table')
    .option('--json', 'print the cell reports as JSON')
    .action(async (opts: MatrixOpts) => {
      const settings = loadSettings(opts.config) as Record<string, unknown> & { work_dir: string };
      const file = findFile(opts.matrix ?? (typeof settings.matrix_file === 'string' ? settings.matrix_file : undefined), opts.config, 'config/matrix.yaml');
      let cfg;
      try {
        cfg = loadMatrix(file);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      const cells = expandMatrix(cfg);
      const only = new Set(csv(opts.only));
      for (const id of only) if (!cells.some((c) => c.id === id)) throw new UsageError(`--only: no cell ${id} in ${file}`);
      const scope = opts.paths === undefined && opts.projects === undefined ? { paths: null, projects: [] } : { paths: csv(opts.paths), projects: csv(opts.projects) };
      const host = probeHost(cfg);
      let run: ((cell: MatrixCell) => Promise<import('../gates/perf/matrix.js').CellOutcome | null>) | undefined;
      if (opts.run) {
        const perf = perfSettingsFrom(settings);
        const baseline = kernelArg(opts.baseline, '--baseline');
        const candidate = opts.candidate ? kernelArg(opts.candidate, '--candidate') : baseline;
        const work = path.resolve(settings.work_dir, 'perf', 'matrix', String(Date.now()));
        const initrd = buildInitramfs(path.resolve(settings.work_dir, 'perf', 'initramfs')).path;
        const topologyInitrd = buildTopologyInitramfs(path.resolve(settings.work_dir, 'perf', 'initramfs'));
        const accelSetting = opts.accel ?? perf.accel;
        const accel = accelSetting === 'auto' ? await probeAccel(baseline, initrd, work) : { accel: accelSetting as 'tcg' | 'kvm', reason: `accelerator ${accelSetting} as configured` };
        io.stderr.write(`matrix: ${accel.reason}\n`);
        const plan = { looks: looksOf(opts.looks, perf.looks), alpha: perf.alpha };
        const transactions = positive(opts.transactions, 4000, '--transactions');
        const cellBudgetMs = opts.cellBudget === undefined ? undefined : positive(opts.cellBudget, 0, '--cell-budget') * 1000;
        const functionalKernel = opts.functionalKernel ? kernelArg(opts.functionalKernel, '--functional-kernel') : undefined;
        run = async (cell) => {
          if (only.size && !only.has(cell.id)) return { notRun: 'not in --only' };
          io.stderr.write(`matrix: ${cell.id} ...\n`);
          const o = {
            baselineKernel: baseline, candidateKernel: candidate, initrd, topologyInitrd, workDir: work, plan, accel: accel.accel, transactions,
            onProgress: (m: string) => logger.info({ cell: cell.id }, m), cellBudgetMs, functionalKernel, baseTree: opts.baseTree, candidateTree: opts.candidateTree,
          };
          const r = await runMatrixCell(cell, o);
          if (r) io.stderr.write(`matrix: ${cell.id}: ${'verdict' in r ? r.verdict : `not run: ${r.notRun}`}\n`);
          return r;
        };
      }
      const reports = await runMatrix(cells, scope, host, cfg, run);
      if (opts.json) io.stdout.write(JSON.stringify({ matrix: file, host, cells: reports }, null, 2) + '\n');
      else if (opts.markdown) io.stdout.write(matrixMarkdown(reports));
      else {
        io.stdout.write(`matrix ${file} on ${machine()}\n`);
        io.stdout.write(`host: ${host.vhostNet ? '/dev/vhost-net' : 'no /dev/vhost-net'}, ${host.tun ? '/dev/net/tun' : 'no /dev/net/tun'}, ${host.root ? 'root' : 'not root'}, ${host.cgroupCpu ? 'cgroup cpu' : 'no cgroup cpu'}, Windows image ${host.windowsImage ?? 'none'}, debug kernel ${host.debugKernel ?? 'none'}\n\n`);
        io.stdout.write(matrixTable(reports));
      }
    });

  gate
    .command('calibrate')
    .description('A/A gates (the same kernel on both sides): the false-alarm rate and the smallest effect the configured plan detects, per metric')
    .requiredOption('--config <file>', 'configuration file')
    .option('--runs <n>', 'A/A gates to run', '5')
    .option('--kernel <bzImage>', `the kernel booted on both sides (default ${DEFAULT_KERNEL})`)
    .option('--looks <list>', 'boots per side at each look (default: gates.perf.looks)')
    .option('--power <p>', 'the power at which an effect counts as detected', '0.8')
    .option('--accel <accel>', 'tcg, kvm or auto (default: gates.perf.accel)')
    .option('--save <file>', 'where the calibration is kept for verdicts (default: <work_dir>/perf/calibration.json)')
    .option('--json', 'print the calibration as JSON')
    .action(async (opts: { config: string; runs: string; kernel?: string; looks?: string; power: string; accel?: string; save?: string; json?: boolean }) => {
      const settings = loadSettings(opts.config) as Record<string, unknown> & { work_dir: string };
      const perf = perfSettingsFrom(settings);
      const runs = positive(opts.runs, 5, '--runs');
      const power = Number(opts.power);
      if (!(power > 0 && power < 1)) throw new UsageError(`--power ${opts.power}: between 0 and 1`);
      const kernel = kernelArg(opts.kernel, '--kernel');
      const work = path.resolve(settings.work_dir, 'perf', 'calibrate', String(Date.now()));
      const initrd = buildInitramfs(path.resolve(settings.work_dir, 'perf', 'initramfs')).path;
      const accelSetting = opts.accel ?? perf.accel;
      const accel = accelSetting === 'auto' ? await probeAccel(kernel, initrd, work) : { accel: accelSetting as 'tcg' | 'kvm', reason: `accelerator ${accelSetting} as configured` };
      const cells: PerfCell[] = perf.cells.map((c) => ({ id: c.id, test: c.test, transactions: c.transactions, size: c.size, msg: c.msg }));
      const rules: Record<string, GateRule> = {};
      for (const c of perf.cells) rules[c.test === 'TCP_STREAM' ? `${c.id}_cost_per_kb` : `${c.id}_cost_per_trans`] = c.rule;
      const plan = { looks: looksOf(opts.looks, perf.looks), alpha: perf.alpha };
      const res = await calibrate({
        kernel, initrd, workDir: work, cells, rules, plan, accel: accel.accel, runs, power,
        onProgress: (m) => io.stderr.write(`calibrate: ${m}\n`),
      });
      const saved = { machine: machine(), savedAt: new Date().toISOString(), kernel, accel, plan, ...res };
      const save = path.resolve(opts.save ?? path.join(settings.work_dir, 'perf', 'calibration.json'));
      mkdirSync(path.dirname(save), { recursive: true });
      writeFileSync(save, JSON.stringify(saved, null, 2) + '\n');
      if (opts.json) io.stdout.write(JSON.stringify(saved, null, 2) + '\n');
      else io.stdout.write(calibrationReport(res, `${machine()}, ${accel.reason}, looks ${plan.looks.join('/')}`) + `${calibrationNote(res)}\nsaved to ${save}\n`);
    });

  gate
    .command('ring')
    .description('the virtio ring benchmark gate: tools/virtio/ringtest built from two trees, pinned, interleaved')
    .requiredOption('--base <dir>', 'the base kernel tree')
    .requiredOption('--candidate <dir>', 'the candidate kernel tree')
    .option('--programs <list>', 'ringtest programs', 'ring,virtio_ring_0_9')
    .option('--looks <list>', 'runs per side at each look', '5,8,12')
    .option('--threshold <x>', 'relative change that matters', '0.05')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { base: string; candidate: string; programs: string; looks: string; threshold: string; json?: boolean }) => {
      for (const d of [opts.base, opts.candidate]) if (!existsSync(path.join(d, 'tools', 'virtio', 'ringtest', 'Makefile'))) throw new UsageError(`${d}: no tools/virtio/ringtest in this tree`);
      const threshold = Number(opts.threshold);
      if (!(threshold > 0 && threshold < 1)) throw new UsageError(`--threshold ${opts.threshold}: between 0 and 1`);
      const res = await runRingGate({
        baseTree: path.resolve(opts.base), candidateTree: path.resolve(opts.candidate), programs: csv(opts.programs),
        plan: { looks: looksOf(opts.looks, [5, 8, 12]), alpha: 0.05 }, threshold, workDir: path.resolve('var', 'work', 'ringtest', String(Date.now())),
        onProgress: (m) => io.stderr.write(`ring: ${m}\n`),
      });
      if (opts.json) io.stdout.write(JSON.stringify(res, null, 2) + '\n');
      else io.stdout.write(ringReport(res));
      if (res.status === 'failure') process.exitCode = 1;
    });
}
