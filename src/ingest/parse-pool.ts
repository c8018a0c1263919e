// Parsing on every core: a small pool of worker threads running parseMessage. Small inputs are parsed
// in process (starting threads costs more than it saves).
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { parseMessage } from '../mail/parse.js';
import type { ParsedMessage } from '../mail/types.js';

export interface ParsePool {
  parseBatch(raws: Buffer[]): Promise<ParsedMessage[]>;
  close(): Promise<void>;
  /** how many threads were started (0 while everything ran in process) */
  readonly threads: number;
}

export interface ParsePoolOptions {
  /** parser threads; default: available cores - 1 (at least 1), the calling thread keeps a core; 0 parses in process */
  workers?: number;
  maxBytes?: number;
  /** batches smaller than this are parsed in process */
  minBatchForThreads?: number;
}

interface Pending {
  resolve: (p: ParsedMessage[]) => void;
  reject: (e: Error) => void;
}

/**
 * The thread's entry. From compiled JavaScript it is parse-worker.js; when running from TypeScript sources
 * (tests, tsx) the thread first registers tsx's loader, then imports parse-worker.ts.
 */
function spawnWorker(maxBytes: number | undefined): Worker {
  const self = fileURLToPath(import.meta.url);
  if (!self.endsWith('.ts')) return new Worker(new URL('./parse-worker.js', import.meta.url), { workerData: { maxBytes } });
  const target = new URL('./parse-worker.ts', import.meta.url).href;
  const boot = `(async () => { const { register } = await import('tsx/esm/api'); register(); await import(${JSON.stringify(target)}); })()`;
  return new Worker(boot, { eval: true, workerData: { maxBytes } });
}

export async function createParsePool(opts: ParsePoolOptions = {}): Promise<ParsePool> {
  // one core stays with the calling thread, which reads, stores and assembles while the threads parse
  // (measured on the archive: parsing ~2.5 CPU-s, the rest ~2.7 CPU-s per 10,000 messages)
  const size = opts.workers ?? Math.max(1, os.availableParallelism() - 1);
  const minBatch = opts.minBatchForThreads ?? 64;
  const workers: Worker[] = [];
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let failed: Error | null = null;

  function start(): void {
    if (workers.length > 0 || size === 0) return;
    for (let i = 0; i < size; i++) {
      const w = spawnWorker(opts.maxBytes);
      w.on('message', (msg: { id: number; parsed?: ParsedMessage[]; error?: string }) => {
        const p = pending.get(msg.id);
        if (!p) return;
        pending.delete(msg.id);
        if (msg.error !== undefined) p.reject(new Error(msg.error));
        else p.resolve(msg.parsed ?? []);
      });
      w.on('error', (err) => {
        failed = err;
        for (const p of pending.values()) p.reject(err);
        pending.clear();
      });
      workers.push(w);
    }
  }

  function onThread(w: Worker, raws: Buffer[]): Promise<ParsedMessage[]> {
    return new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      w.postMessage({ id, raws: raws.map((r) => new Uint8Array(r.buffer, r.byteOffset, r.byteLength)) });
    });
  }

  async function inProcess(raws: Buffer[]): Promise<ParsedMessage[]> {
    return Promise.all(raws.map((r) => parseMessage(r, { maxBytes: opts.maxBytes })));
  }

  return {
    get threads() {
      return workers.length;
    },
    async parseBatch(raws) {
      if (size === 0 || raws.length < minBatch) return inProcess(raws);
      if (failed) throw failed;
      start();
      const per = Math.ceil(raws.length / workers.length);
      const parts: Promise<ParsedMessage[]>[] = [];
      for (let i = 0; i < workers.length; i++) {
        const slice = raws.slice(i * per, (i + 1) * per);
        if (slice.length > 0) parts.push(onThread(workers[i], slice));
      }
      return (await Promise.all(parts)).flat();
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
      workers.length = 0;
    },
  };
}
