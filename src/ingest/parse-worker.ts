// Worker thread body of the parse pool: raw messages in, ParsedMessage out.
import { parentPort, workerData } from 'node:worker_threads';
import { parseMessage } from '../mail/parse.js';

interface Request {
  id: number;
  raws: Uint8Array[];
}

const maxBytes = (workerData as { maxBytes?: number } | undefined)?.maxBytes;

parentPort?.on('message', (req: Request) => {
  Promise.all(req.raws.map((r) => parseMessage(Buffer.from(r.buffer, r.byteOffset, r.byteLength), { maxBytes })))
    .then((parsed) => parentPort?.postMessage({ id: req.id, parsed }))
    .catch((err: Error) => parentPort?.postMessage({ id: req.id, error: err.message }));
});
