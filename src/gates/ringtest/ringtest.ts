// The ring gate: the kernel's tools/virtio/ringtest built from the base and the candidate trees, run pinned
// (--host-affinity 0 --guest-affinity 1, machine-facts.md: unpinned runs vary 100x), interleaved A B A B,
// compared per program with the perf gate's rank statistics. For series touching drivers/vhost,
// drivers/virtio or include/linux/virtio*.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { globToRegExp } from '../../web/projects.js';
import { evaluateLook, type GateRule, type LookResult, type SequentialPlan } from '../perf/stats.js';

export const RING_PATHS = ['drivers/vhost/**', 'drivers/virtio/**', 'include/linux/virtio*', 'include/uapi/linux/virtio*', 'include/linux/ptr_ring.h', 'tools/virtio/**'];

/** Does a series touching these files get the ring gate? */
export function ringGateApplies(files: string[]): boolean {
  const res = RING_PATHS.map(globToRegExp);
  return files.some((f) => res.some((re) => re.test(f)));
}

/** The files of a tree that decide what ringtest measures. */
function ringInputs(tree: string): string[] {
  const dir = path.join(tree, 'tools', 'virtio', 'ringtest');
  return [
    ...readdirSync(dir).filter((f) => /\.(c|h)$|^Makefile$/.test(f)).sort().map((f) => path.join(dir, f)),
    path.join(tree, 'include', 'linux', 'ptr_ring.h'),
    path.join(tree, 'include', 'uapi', 'linux', 'virtio_ring.h'),
    path.join(tree, 'include', 'uapi', 'linux', 'virtio_types.h'),
  ];
}

export interface RingBuild {
  dir: string;
  /** hash of the inputs: the same sources give the same binaries (base and candidate may share one) */
  key: string;
  buildMs: number;
  reused: boolean;
}

/**
 * Builds the programs out of the tree: copies ringtest, ptr_ring.h and the tree's uapi virtio_ring.h (which
 * ringtest would otherwise take from /usr/include) into OUT/<hash>, and runs its Makefile there.
 */
export function buildRingtest(tree: string, outDir: string, programs: string[]): RingBuild {
  const inputs = ringInputs(tree);
  for (const f of inputs) if (!existsSync(f)) throw new Error(`${tree}: ${path.relative(tree, f)} missing`);
  const h = createHash('sha256');
  for (const f of inputs) h.update(path.basename(f)).update(readFileSync(f));
  const key = h.update(programs.join(',')).digest('hex').slice(0, 16);
  const root = path.join(outDir, key);
  const bin = path.join(root, 'tools', 'virtio', 'ringtest');
  if (programs.every((p) => existsSync(path.join(bin, p)))) return { dir: bin, key, buildMs: 0, reused: true };
  const t0 = Date.now();
  rmSync(root, { recursive: true, force: true });
  mkdirSync(path.join(root, 'include', 'linux'), { recursive: true });
  mkdirSync(path.join(root, 'uapi', 'linux'), { recursive: true });
  cpSync(path.join(tree, 'tools', 'virtio', 'ringtest'), bin, { recursive: true, filter: (s) => !/\.o$/.test(s) });
  cpSync(path.join(tree, 'include', 'linux', 'ptr_ring.h'), path.join(root, 'include', 'linux', 'ptr_ring.h'));
  for (const f of ['virtio_ring.h', 'virtio_types.h']) cpSync(path.join(tree, 'include', 'uapi', 'linux', f), path.join(root, 'uapi', 'linux', f));
  // CFLAGS from the environment: the Makefile's `CFLAGS +=` appends to it
  execFileSync('make', ['-s', '-C', bin, ...programs], { stdio: 'pipe', env: { ...process.env, CFLAGS: `-I${path.join(root, 'uapi')}` } });
  return { dir: bin, key, buildMs: Date.now() - t0, reused: false };
}

export interface RingRun {
  program: string;
  cycles: number;
  wallNs: number;
  nsPerCycle: number;
}

/** One pinned run of a ringtest program; ns per cycle of wall time. */
export function runRingOnce(bin: string, program: string, cycles: number, affinity: [number, number] = [0, 1], timeoutMs = 120_000): Promise<RingRun> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const p = spawn(path.join(bin, program), ['--host-affinity', String(affinity[0]), '--guest-affinity', String(affinity[1]), '--run-cycles', String(cycles)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      const wallNs = Number(process.hrtime.bigint() - t0);
      if (code !== 0) return reject(new Error(`${program} exited ${code ?? signal}: ${err.trim().slice(0, 300)}`));
      resolve({ program, cycles, wallNs, nsPerCycle: wallNs / cycles });
    });
  });
}

export interface RingGateOptions {
  baseTree: string;
  candidateTree: string;
  programs: string[];
  plan: SequentialPlan;
  /** relative change that matters (machine-facts.md: pinned runs repeat within about 5%) */
  threshold: number;
  workDir: string;
  cycles?: number;
  /** runs per sample, of which the fastest counts (interference from other load only ever slows a run) */
  repeats?: number;
  affinity?: [number, number];
  onProgress?: (msg: string) => void;
  /** the runner (tests pass their own) */
  runOnce?: typeof runRingOnce;
}

export interface RingGateResult {
  status: 'success' | 'warning' | 'failure' | 'skipped';
  summary: string;
  metrics: LookResult['metrics'];
  samples: { baseline: Record<string, number[]>; candidate: Record<string, number[]> };
  builds: { base: RingBuild; candidate: RingBuild } | null;
  /** the trees' ringtest inputs are identical: the binaries are the same, so the comparison is A/A */
  identical: boolean;
  note: string;
  wallMs: number;
}

export function ringMetric(program: string): string {
  return `ringtest_${program}_ns_per_cycle`;
}

export async function runRingGate(o: RingGateOptions): Promise<RingGateResult> {
  const t0 = Date.now();
  if (os.cpus().length < 2) return { status: 'skipped', summary: 'ring gate needs 2 CPUs to pin host and guest threads apart', metrics: {}, samples: { baseline: {}, candidate: {} }, builds: null, identical: false, note: '', wallMs: 0 };
  const outDir = path.join(o.workDir, 'build');
  const base = buildRingtest(o.baseTree, outDir, o.programs);
  const cand = buildRingtest(o.candidateTree, outDir, o.programs);
  o.onProgress?.(`built ringtest: base ${base.key} (${base.buildMs} ms), candidate ${cand.key} (${cand.buildMs} ms)`);
  const run = o.runOnce ?? runRingOnce;
  const cycles = o.cycles ?? 1_000_000;
  const repeats = o.repeats ?? 3;
  const rules: Record<string, GateRule> = Object.fromEntries(o.programs.map((p) => [ringMetric(p), { direction: 'lower-is-better', threshold: o.threshold, require: 'not-regress' }]));
  const samples = { baseline: {} as Record<string, number[]>, candidate: {} as Record<string, number[]> };
  let last: LookResult | null = null;
  for (const look of o.plan.looks) {
    while ((samples.baseline[ringMetric(o.programs[0])]?.length ?? 0) < look) {
      for (const program of o.programs) {
        for (const [side, b] of [['baseline', base], ['candidate', cand]] as const) {
          let best = Infinity;
          for (let k = 0; k < repeats; k++) best = Math.min(best, (await run(b.dir, program, cycles, o.affinity)).nsPerCycle);
          (samples[side][ringMetric(program)] ??= []).push(best);
        }
      }
    }
    last = evaluateLook(samples.baseline, samples.candidate, rules, o.plan);
    o.onProgress?.(last.summary);
    if (last.done) break;
  }
  const res = last!;
  return {
    status: res.status === 'pending' ? 'warning' : res.status, summary: res.summary, metrics: res.metrics, samples, builds: { base, candidate: cand },
    identical: base.key === cand.key,
    note: `pinned --host-affinity ${(o.affinity ?? [0, 1])[0]} --guest-affinity ${(o.affinity ?? [0, 1])[1]}, ${cycles} cycles per run, wall ns per cycle, the fastest of ${repeats} runs per sample`,
    wallMs: Date.now() - t0,
  };
}

function pct(x: number): string {
  return Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)}%` : x > 0 ? '+inf' : '-inf';
}

export function ringReport(r: RingGateResult): string {
  const lines = [`ring gate: ${r.status}${r.identical ? ' (the trees have identical ringtest inputs: an A/A comparison)' : ''}`, `  ${r.note}`];
  for (const [k, c] of Object.entries(r.metrics)) {
    const b = [...r.samples.baseline[k]].sort((x, y) => x - y);
    const cd = [...r.samples.candidate[k]].sort((x, y) => x - y);
    lines.push(`  ${k}: ${c.verdict} ${pct(c.change)} [${pct(c.low)}, ${pct(c.high)}] p=${c.p.toFixed(4)}; base median ${b[b.length >> 1].toFixed(1)} ns, candidate median ${cd[cd.length >> 1].toFixed(1)} ns, ${c.n}+${c.m} runs`);
  }
  lines.push(`  wall ${(r.wallMs / 1000).toFixed(0)} s`);
  return lines.join('\n') + '\n';
}

/** A matrix ring cell: the gate for one program, when the base and candidate trees are known. */
export async function runRingCell(
  cell: { ring?: string; kind: string },
  trees: { base?: string; candidate?: string; workDir: string; plan?: SequentialPlan; threshold?: number },
): Promise<{ verdict: string; details?: unknown } | { notRun: string }> {
  if (cell.kind !== 'ring' || !cell.ring) return { notRun: 'not a ring cell' };
  if (!trees.base || !trees.candidate) return { notRun: 'no base and candidate trees given (--base-tree, --candidate-tree)' };
  const r = await runRingGate({
    baseTree: trees.base, candidateTree: trees.candidate, programs: [cell.ring], plan: trees.plan ?? { looks: [5, 8, 12], alpha: 0.05 },
    threshold: trees.threshold ?? 0.05, workDir: trees.workDir,
  });
  return { verdict: `${r.status}: ${r.summary}, ${(r.wallMs / 1000).toFixed(0)} s${r.identical ? ' (identical ringtest inputs)' : ''}`, details: r };
}
