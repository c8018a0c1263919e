// Starting the parser threads of the parse pool. Apart from the pool, and free of the mail parser's imports,
// so that the command line can start them before anything else loads (prestart.ts): a thread spends ~150 ms
// loading its own modules, which then overlaps with the main thread loading its modules instead of following it.
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

/** available cores - 1 (at least 1): the calling thread keeps a core to read, store and assemble */
export function defaultParseThreads(): number {
  return Math.max(1, os.availableParallelism() - 1);
}

/**
 * A parser thread. From compiled JavaScript its entry is parse-worker.js; when running from TypeScript sources
 * (tests, tsx) the thread first registers tsx's loader, then imports parse-worker.ts.
 */
export function spawnParseThread(): Worker {
  const self = fileURLToPath(import.meta.url);
  // a young generation smaller than V8's default (peak RSS of `patchgate series` over the archive ~40 MB lower)
  // and larger than 16 MB (fewer scavenges: measured 3.08-3.16 s against 3.15-3.23 s wall, +8 MB peak RSS)
  const options = { resourceLimits: { maxYoungGenerationSizeMb: 32 } };
  if (!self.endsWith('.ts')) return new Worker(new URL('./parse-worker.js', import.meta.url), options);
  const target = new URL('./parse-worker.ts', import.meta.url).href;
  const boot = `(async () => { const { register } = await import('tsx/esm/api'); register(); await import(${JSON.stringify(target)}); })()`;
  return new Worker(boot, { ...options, eval: true });
}

interface Warm {
  worker: Worker;
  failed: boolean;
}

const warm: Warm[] = [];

/**
 * Starts N parser threads ahead of their pool. They do not keep the process alive, and one that fails to
 * start is replaced when taken (the pool then sees the failure of the new one).
 */
export function prestartParseThreads(n = defaultParseThreads()): void {
  for (let i = warm.length; i < n; i++) {
    const w: Warm = { worker: spawnParseThread(), failed: false };
    w.worker.once('error', () => {
      w.failed = true;
    });
    w.worker.once('exit', () => {
      w.failed = true;
    });
    w.worker.unref();
    warm.push(w);
  }
}

/** N parser threads: those started ahead (prestartParseThreads) first, new ones for the rest. */
export function takeParseThreads(n: number): Worker[] {
  const out: Worker[] = [];
  for (const w of warm.splice(0, n)) {
    w.worker.removeAllListeners('error').removeAllListeners('exit');
    if (w.failed) {
      void w.worker.terminate();
      continue;
    }
    w.worker.ref();
    out.push(w.worker);
  }
  while (out.length < n) out.push(spawnParseThread());
  return out;
}

/** Stops threads started ahead that no pool took. */
export async function dropWarmParseThreads(): Promise<void> {
  await Promise.all(warm.splice(0).map((w) => w.worker.terminate()));
}

/** How many threads started ahead are waiting for a pool. */
export function warmParseThreads(): number {
  return warm.length;
}
