// Worker thread body of the parse pool: raw messages in; ParsedMessage out, or (mode `prepare`) the
// stored form (columns, and the JSON texts as UTF-8 in one transferred buffer), so the thread that stores
// does no serialising of its own.
import { parentPort, workerData } from 'node:worker_threads';
import { parseMessage } from '../mail/parse.js';
import { storedForm } from '../store/messages.js';
import { createRowEncoder, type WireRow } from './parse-pool.js';

interface Request {
  id: number;
  mode?: 'parse' | 'prepare';
  raws: Uint8Array[];
}

const maxBytes = (workerData as { maxBytes?: number } | undefined)?.maxBytes;

/**
 * One message at a time, each serialised (to UTF-8 outside the heap) as soon as it is parsed: a parsed message
 * dies young instead of a whole batch of them being copied through the young generation and promoted.
 */
async function prepare(raws: Buffer[]): Promise<{ buffer: ArrayBuffer; rows: WireRow[] }> {
  const enc = createRowEncoder(4 << 20); // a batch's texts mostly fit: no growing copies
  for (const raw of raws) enc.add(storedForm(await parseMessage(raw, { maxBytes })));
  return enc.finish();
}

parentPort?.on('message', (req: Request) => {
  const raws = req.raws.map((r) => Buffer.from(r.buffer, r.byteOffset, r.byteLength));
  if (req.mode === 'prepare') {
    prepare(raws)
      .then(({ buffer, rows }) => parentPort?.postMessage({ id: req.id, rows, buffer }, [buffer]))
      .catch((err: Error) => parentPort?.postMessage({ id: req.id, error: err.message }));
    return;
  }
  Promise.all(raws.map((r) => parseMessage(r, { maxBytes })))
    .then((parsed) => parentPort?.postMessage({ id: req.id, parsed }))
    .catch((err: Error) => parentPort?.postMessage({ id: req.id, error: err.message }));
});
