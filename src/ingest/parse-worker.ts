// Worker thread body of the parse pool: raw messages in; ParsedMessage out, or (mode `prepare`) the
// stored form (columns, and the JSON texts as UTF-8 in one transferred buffer), so the thread that stores
// does no serialising of its own.
import { parentPort } from 'node:worker_threads';
import { parseMessage, preloadMailparser } from '../mail/parse.js';
import { storedMembers } from '../store/messages.js';
import { createRowEncoder, SpareBuffers, type WireRow } from './parse-pool.js';

interface Request {
  /** a rows buffer the pool is done with: kept for the next batch's rows */
  recycle?: ArrayBuffer;
  id: number;
  mode?: 'parse' | 'prepare';
  raws: Uint8Array[];
  /** the pool's limit on a message's size (parseMessage's maxBytes) */
  maxBytes?: number;
  /** contentHash of each raw message, computed by the pool (prepare mode) */
  hashes?: string[];
}

const spares = new SpareBuffers();

// the thread starts ahead of its first batch (prestart): mailparser, which a few messages need, is loaded in
// that wait instead of in the middle of a batch (measured: ~90 ms of the parser thread's time at that point)
void preloadMailparser().catch(() => undefined);

/**
 * One message at a time, each serialised (to UTF-8 outside the heap) as soon as it is parsed: a parsed message
 * dies young instead of a whole batch of them being copied through the young generation and promoted.
 */
async function prepare(raws: Buffer[], maxBytes: number | undefined, hashes: string[] | undefined): Promise<{ buffer: ArrayBuffer; rows: WireRow[] }> {
  // a batch's texts mostly fit (~5 MB per 256 messages on the archive); a buffer that grew is reused at its size
  const enc = createRowEncoder(8 << 20, spares.take());
  for (let i = 0; i < raws.length; i++) enc.addMembers(storedMembers(await parseMessage(raws[i], { maxBytes, hash: hashes?.[i] })));
  return enc.finish();
}

parentPort?.on('message', (req: Request) => {
  if (req.recycle) {
    spares.put(req.recycle);
    return;
  }
  const raws = req.raws.map((r) => Buffer.from(r.buffer, r.byteOffset, r.byteLength));
  if (req.mode === 'prepare') {
    // the batch's raw buffer goes back with the rows: parsed, nothing here points into it any more
    const spare = req.raws[0]?.buffer as ArrayBuffer | undefined;
    prepare(raws, req.maxBytes, req.hashes)
      .then(({ buffer, rows }) => parentPort?.postMessage({ id: req.id, rows, buffer, spare }, spare && spare !== buffer ? [buffer, spare] : [buffer]))
      .catch((err: Error) => parentPort?.postMessage({ id: req.id, error: err.message }));
    return;
  }
  Promise.all(raws.map((r) => parseMessage(r, { maxBytes: req.maxBytes })))
    .then((parsed) => parentPort?.postMessage({ id: req.id, parsed }))
    .catch((err: Error) => parentPort?.postMessage({ id: req.id, error: err.message }));
});
