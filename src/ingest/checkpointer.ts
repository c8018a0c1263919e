// WAL checkpoints of a bulk ingest, on a thread of their own. A checkpoint copies the write-ahead log into
// the database file and waits for two fsyncs; run by the connection that commits (SQLite's auto-checkpoint),
// that wait stalls the thread that feeds the parser and stores: measured on the archive, the ingesting thread
// spent ~1.5 s of 10,000 messages blocked in fsync while using ~0.8 CPU-s for the inserts. A second connection
// on a worker thread checkpoints (PASSIVE: never in the writer's way) after each commit instead; what is
// written and when a commit is durable do not change (synchronous=NORMAL in WAL mode syncs at checkpoints only).
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { logger } from '../log.js';
import type { Db } from '../store/db.js';

export interface Checkpointer {
  /** a batch was committed: checkpoint it (requests made while one runs are folded into the next) */
  committed(): void;
  /** a last checkpoint, the thread's connection closed, the writer's auto-checkpoint restored */
  close(): Promise<void>;
}

// CommonJS on purpose: an eval'd worker has require(), and the module path is resolved by the caller
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.file, { fileMustExist: true });
parentPort.on('message', (m) => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message || err) });
    return;
  }
  if (m === 'close') db.close();
  parentPort.postMessage({ done: m });
});
`;

/**
 * Starts a checkpointing thread for DB when it is a file in WAL mode (null otherwise: an in-memory store has
 * no log) and turns the connection's own auto-checkpoint off until close().
 */
export function startCheckpointer(db: Db): Checkpointer | null {
  if (db.memory || !db.open) return null;
  const mode = String(db.pragma('journal_mode', { simple: true })).toLowerCase();
  if (mode !== 'wal') return null;
  const autocheckpoint = Number(db.pragma('wal_autocheckpoint', { simple: true }));
  const require = createRequire(import.meta.url);
  let worker: Worker;
  try {
    worker = new Worker(THREAD, { eval: true, workerData: { module: require.resolve('better-sqlite3'), file: db.name } });
  } catch (err) {
    logger.warn({ err }, 'checkpoint thread not started: the ingest checkpoints as it commits');
    return null;
  }
  db.pragma('wal_autocheckpoint = 0');
  let busy = false; // a checkpoint request is out
  let again = false; // a commit came while it was out
  let failed = false;
  let closing: ((err?: Error) => void) | null = null;
  const restore = () => {
    if (db.open) db.pragma(`wal_autocheckpoint = ${autocheckpoint}`);
  };
  const fail = (err: Error) => {
    if (failed) return;
    failed = true;
    logger.warn({ err }, 'checkpoint thread failed: the ingest checkpoints as it commits');
    restore();
    void worker.terminate();
    closing?.();
  };
  worker.on('message', (m: { done?: string; error?: string }) => {
    if (m.error !== undefined) return fail(new Error(m.error));
    if (m.done === 'close') {
      closing?.();
      return;
    }
    busy = false;
    if (again && !closing) {
      again = false;
      busy = true;
      worker.postMessage('checkpoint');
    }
  });
  worker.on('error', fail);
  worker.on('exit', (code) => {
    if (!closing && !failed) fail(new Error(`checkpoint thread exited with code ${code}`));
  });
  return {
    committed() {
      if (failed || closing) return;
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      worker.postMessage('checkpoint');
    },
    close() {
      if (failed) return Promise.resolve();
      return new Promise<void>((resolve) => {
        closing = () => {
          restore();
          resolve();
        };
        worker.postMessage('close');
      }).then(() => worker.terminate().then(() => undefined));
    },
  };
}
