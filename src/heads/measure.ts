// Measuring one commit of a tree: build it incrementally in the tree's one warm out dir (the kernel builder,
// ccache, sandbox) and boot its image as guest pairs, collecting the instruction-counted cost metrics of
// the perf cells (gate.ts costMetrics). Used by HEAD runs and by every bisection step.
import { copyFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { buildKernelConfig } from '../build/kernel.js';
import type { BuildConfig, BuildSettings } from '../build/settings.js';
import type { BuildIssue } from '../build/builder.js';
import { costMetrics, type PerfCell } from '../gates/perf/gate.js';
import { runGuestPair } from '../gates/perf/guest-runner.js';
import { logger } from '../log.js';
import type { Measurer, Unmeasurable } from './bisect.js';
import { retryOnce, type Attempt } from './flaky.js';

const log = logger.child({ module: 'heads/measure' });

export interface CommitMeasureOptions {
  /** the tree's checkout (a fixed path: the warm out dir depends on it) */
  repo: string;
  tree: string;
  build: BuildSettings;
  config: BuildConfig;
  initrd: string;
  accel: 'tcg' | 'kvm';
  cells: PerfCell[];
  /** images and boot logs go below this directory */
  workDir: string;
  /** the warm out dir is per worker */
  workerId?: string;
  /** keep and reuse the image of a commit built before */
  reuseImages?: boolean;
  runPair?: typeof runGuestPair;
  signal?: AbortSignal;
}

export interface BuiltImage {
  status: 'success' | 'failure';
  image: string | null;
  errors: BuildIssue[];
  ms: number;
  reused: boolean;
}

export interface CommitSamples {
  commit: string;
  /** per metric, one value per boot */
  samples: Record<string, number[]>;
  /** wall-clock rates of the same boots (reported, never compared under TCG) */
  wall: Record<string, number[]>;
  /** per cell, the attempts of its record boot (a failure retried once) */
  attempts: Record<string, Attempt<unknown>[]>;
  /** cells that failed twice on one boot */
  failed: string[];
  buildMs: number;
  bootMs: number;
}

let bootCounter = 0;

/** Builds COMMIT's kernel image (incremental in the warm out dir); failure is a returned status. */
export async function buildCommitImage(o: CommitMeasureOptions, commit: string): Promise<BuiltImage> {
  const images = path.join(o.workDir, 'images');
  const image = path.join(images, `${commit}.bzImage`);
  if ((o.reuseImages ?? true) && existsSync(image)) return { status: 'success', image, errors: [], ms: 0, reused: true };
  await mkdir(images, { recursive: true });
  const started = Date.now();
  const cfg: BuildConfig = { ...o.config, per_patch: false, targets: o.config.targets.length ? o.config.targets : ['bzImage'] };
  const r = await buildKernelConfig(
    { seriesId: `heads-${o.tree}`, version: 1, tree: { name: o.tree, dir: o.repo }, base: commit, patches: [], settings: o.build, workerId: o.workerId ?? 'heads', signal: o.signal },
    cfg,
  );
  const built = r.artifacts ? path.join(r.artifacts, 'base-bzImage') : null;
  const ms = Date.now() - started;
  if (r.base.status !== 'success' || !built || !existsSync(built)) {
    log.warn({ commit, errors: r.base.errors.slice(0, 3) }, 'commit does not build');
    return { status: 'failure', image: null, errors: r.base.errors, ms, reused: false };
  }
  await copyFile(built, image);
  log.info({ commit: commit.slice(0, 12), ms }, 'commit built');
  return { status: 'success', image, errors: [], ms, reused: false };
}

/**
 * Boots IMAGE BOOTS times per cell and collects the cost metrics. A boot that fails (no result) is retried
 * once (flaky.ts); a cell whose boot fails twice is given up for this commit and listed in `failed`.
 */
export async function bootSamples(o: CommitMeasureOptions, commit: string, image: string, boots: number, cells = o.cells): Promise<Omit<CommitSamples, 'buildMs'>> {
  const run = o.runPair ?? runGuestPair;
  const samples: Record<string, number[]> = {};
  const wall: Record<string, number[]> = {};
  const attempts: Record<string, Attempt<unknown>[]> = {};
  const failed = new Set<string>();
  const started = Date.now();
  for (let b = 0; b < boots; b++) {
    for (const cell of cells) {
      if (failed.has(cell.id)) continue;
      if (o.signal?.aborted) throw new Error('measurement cancelled');
      const tries = await retryOnce(async () => {
        const r = await run({
          kernel: image, initrd: o.initrd, workDir: path.join(o.workDir, 'boots', `${commit.slice(0, 12)}-${cell.id}-${bootCounter++}`),
          test: cell.test, transactions: cell.transactions, size: cell.size, msg: cell.msg, accel: o.accel,
        });
        return { r, cost: costMetrics(cell, r) };
      });
      // the cell's record for this commit: its first boot, or the first boot that needed the retry
      if (!attempts[cell.id] || (tries.length > 1 && attempts[cell.id].length === 1)) attempts[cell.id] = tries.map((t) => ({ status: t.status, detail: t.detail }));
      const ok = tries.find((t) => t.status === 'success')?.value;
      if (!ok) {
        failed.add(cell.id);
        log.warn({ commit: commit.slice(0, 12), cell: cell.id, detail: tries.map((t) => t.detail) }, 'cell failed twice: given up for this commit');
        continue;
      }
      for (const [k, v] of Object.entries(ok.cost)) (samples[k] ??= []).push(v);
      const c = ok.r.clients[ok.r.clients.length - 1];
      const wk = cell.test === 'TCP_STREAM' ? `${cell.id}_mbit_s` : `${cell.id}_trans_s`;
      (wall[wk] ??= []).push(cell.test === 'TCP_STREAM' ? c.throughput : c.trans_per_sec);
    }
  }
  return { commit, samples, wall, attempts, failed: [...failed], bootMs: Date.now() - started };
}

/** Builds and measures COMMIT. Throws when it does not build (the caller decides: skip or fail). */
export async function measureCommit(o: CommitMeasureOptions, commit: string, boots: number): Promise<CommitSamples> {
  const img = await buildCommitImage(o, commit);
  if (!img.image) throw new CommitBuildError(commit, img.errors);
  const s = await bootSamples(o, commit, img.image, boots);
  return { ...s, buildMs: img.ms };
}

export class CommitBuildError extends Error {
  constructor(readonly commit: string, readonly errors: BuildIssue[]) {
    super(`${commit.slice(0, 12)} does not build: ${errors.map((e) => e.message).slice(0, 2).join('; ') || 'see the build log'}`);
    this.name = 'CommitBuildError';
  }
}

/** The bisection's measurer for one metric: builds the commit, boots only the cell that metric belongs to. */
export function commitMeasurer(o: CommitMeasureOptions, metric: string, timings?: { buildMs: number; bootMs: number; builds: number }): Measurer {
  const cell = o.cells.find((c) => metric.startsWith(`${c.id}_`));
  if (!cell) throw new Error(`no perf cell measures ${metric}`);
  return {
    async measure(commit: string, boots: number): Promise<number[] | Unmeasurable> {
      const img = await buildCommitImage(o, commit);
      if (timings) {
        timings.buildMs += img.ms;
        if (!img.reused) timings.builds++;
      }
      // a commit that does not build is an outcome: the bisection skips it (like `git bisect skip`)
      if (!img.image) return { skip: new CommitBuildError(commit, img.errors).message };
      const s = await bootSamples(o, commit, img.image, boots, [cell]);
      if (timings) {
        timings.bootMs += s.bootMs;
      }
      const v = s.samples[metric];
      if (!v || s.failed.length) throw new Error(`the boots of ${commit.slice(0, 12)} gave no ${metric}: ${JSON.stringify(s.attempts[cell.id])}`);
      return v;
    },
  };
}
