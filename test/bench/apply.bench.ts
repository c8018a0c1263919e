// `npm run bench -- apply [--rounds N]`: on the imported linux-source-6.1 tree, the time to apply a
// 5-patch series in a reused worker checkout (reset --hard, clean -fdx, git am x5) versus a fresh
// `git worktree add` per job (add, git am x5; removal timed apart). Rounds are interleaved in one
// run; the ratio is the baseline's median over the reused checkout's median.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ApplySeriesResult } from '../../src/trees/apply.js';

// the library logs at info; keep the bench's output to its numbers (imports below read the level)
process.env.PATCHGATE_LOG_LEVEL ??= 'warn';
const { applySeries } = await import('../../src/trees/apply.js');
const { addWorktree, openCheckout, removeWorktree } = await import('../../src/trees/checkout.js');
const { fetchMirror } = await import('../../src/trees/mirror.js');
const { writeLinuxSeries } = await import('../slow/linux-series.js');

const repoRoot = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const TARBALL = process.env.PATCHGATE_LINUX_TARBALL ?? '/usr/src/linux-source-6.1.tar.xz';
const TREE = process.env.PATCHGATE_LINUX_TREE ?? path.join(repoRoot, 'var', 'linux-source-6.1');

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = process.hrtime.bigint();
  const value = await fn();
  return [Number(process.hrtime.bigint() - t) / 1e6, value];
}

function check(r: ApplySeriesResult, label: string): void {
  const outcomes = r.patches.map((p) => p.outcome);
  if (outcomes.some((o) => o !== 'applied')) throw new Error(`${label}: series did not apply cleanly: ${outcomes.join(', ')}`);
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--rounds');
  const rounds = i > 0 ? Number(process.argv[i + 1]) : 3;
  if (!existsSync(path.join(TREE, '.git'))) {
    if (!existsSync(TARBALL)) {
      process.stderr.write(`bench apply: ${TREE} is not imported and ${TARBALL} is absent (apt-get install linux-source-6.1)\n`);
      process.exit(2);
    }
    out(`importing ${TARBALL} into ${TREE} (once) ...`);
  }
  const base = execFileSync(path.join(repoRoot, 'scripts', 'import-linux-source.sh'), [TREE, TARBALL], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();

  const scratch = mkdtempSync(path.join(tmpdir(), 'patchgate-bench-apply-'));
  try {
    const mirror = (await fetchMirror(path.join(scratch, 'mirrors'), TREE)).dir;
    const patches = writeLinuxSeries(mirror, scratch, 5);
    const reusedDir = path.join(scratch, 'checkouts', 'worker-1', 'linux');

    // the worker's checkout is made once, before any job (not part of a job's cost)
    const [createMs, checkout] = await timed(() => openCheckout({ mirror, dir: reusedDir, ref: 'refs/heads/main' }));
    try {
      check(await applySeries({ checkoutDir: reusedDir, baseRef: 'refs/heads/main', patches }), 'warm-up');
      const reused: number[] = [];
      const fresh: number[] = [];
      const removal: number[] = [];
      for (let round = 0; round < rounds; round++) {
        const freshDir = path.join(scratch, 'fresh', `job-${round}`);
        const [f, rf] = await timed(async () => {
          await addWorktree(mirror, freshDir, 'refs/heads/main');
          return applySeries({ checkoutDir: freshDir, baseRef: 'refs/heads/main', patches });
        });
        check(rf, 'fresh worktree');
        fresh.push(f);
        removal.push((await timed(() => removeWorktree(mirror, freshDir)))[0]);

        const [r, rr] = await timed(() => applySeries({ checkoutDir: reusedDir, baseRef: 'refs/heads/main', patches }));
        check(rr, 'reused checkout');
        if (rr.head !== rf.head) throw new Error('reused and fresh checkouts produced different commits');
        reused.push(r);
      }
      const fmt = (xs: number[]) => `median ${median(xs).toFixed(0)} ms  [${xs.map((x) => x.toFixed(0)).join(', ')}]`;
      out(`apply bench: linux-source-6.1 at ${base.slice(0, 12)}, ${patches.length}-patch series (tun.c, vhost/net.c), ${rounds} rounds interleaved`);
      out(`  checkout creation (once per worker):                 ${createMs.toFixed(0)} ms`);
      out(`  reused checkout (reset --hard, clean -fdx, am x5):   ${fmt(reused)}`);
      out(`  fresh git worktree add + am x5 (baseline):           ${fmt(fresh)}`);
      out(`  fresh worktree removal afterwards:                   ${fmt(removal)}`);
      out(`  ratio fresh/reused: ${(median(fresh) / median(reused)).toFixed(1)}x`);
    } finally {
      await checkout.release();
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench apply: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
