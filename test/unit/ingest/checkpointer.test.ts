// WAL checkpoints of a bulk ingest on a thread of their own: while it runs the storing connection does not
// checkpoint itself, the other thread does; afterwards the log is fully copied into the database file, the
// connection's auto-checkpoint is what it was, and every message is stored as without the thread.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ingestInputs } from '../../../src/ingest/ingest.js';
import { startCheckpointer } from '../../../src/ingest/checkpointer.js';
import type { RawInput } from '../../../src/ingest/inputs.js';
import { splitMbox } from '../../../src/ingest/mbox.js';
import { openDb, type Db } from '../../../src/store/db.js';
import { corpusDir } from '../../helpers/archive.js';

const tmp: string[] = [];
afterEach(() => {
  for (const d of tmp.splice(0)) rmSync(d, { recursive: true, force: true });
});

function freshStore(): { db: Db; file: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pg-ckpt-'));
  tmp.push(dir);
  const file = path.join(dir, 'store.sqlite');
  return { db: openDb(file), file };
}

function corpusInputs(): RawInput[] {
  const file = path.join(corpusDir, 'patchwork', 'series', 'base-different-versions.mbox');
  return splitMbox(readFileSync(file)).map((raw, i) => ({ raw, source: `${file}#${i + 1}` }));
}

async function* list(inputs: RawInput[]): AsyncGenerator<RawInput> {
  yield* inputs;
}

describe('checkpoint thread', () => {
  it('an in-memory store has no log: no thread', () => {
    const db = openDb(':memory:');
    expect(startCheckpointer(db)).toBeNull();
    db.close();
  });

  it('takes over the checkpoints of a multi-batch ingest and gives them back', async () => {
    const inputs = corpusInputs();
    expect(inputs.length).toBeGreaterThanOrEqual(4);
    const { db, file } = freshStore();
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    const during: number[] = [];
    const stats = await ingestInputs(db, list(inputs), {
      batchSize: 1,
      inflight: 1,
      onProgress: () => {
        during.push(Number(db.pragma('wal_autocheckpoint', { simple: true })));
      },
    });
    expect(stats).toEqual({ read: inputs.length, inserted: inputs.length, known: 0 });
    // the first batch is stored with SQLite's own checkpoints, the thread takes over from the second
    expect(during[0]).toBe(1000);
    expect(during.slice(1).every((v) => v === 0)).toBe(true);
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    // everything in the log was copied into the database file by the thread
    const [state] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
    expect(state.busy).toBe(0);
    expect(state.checkpointed).toBe(state.log);
    db.close();
    // and the file holds every message
    const again = openDb(file);
    expect(again.prepare('SELECT count(*) FROM messages').pluck().get()).toBe(inputs.length);
    again.close();
  });

  it('checkpointThread: false keeps SQLite checkpointing on the storing connection', async () => {
    const { db } = freshStore();
    const seen: number[] = [];
    await ingestInputs(db, list(corpusInputs()), {
      batchSize: 1,
      checkpointThread: false,
      onProgress: () => {
        seen.push(Number(db.pragma('wal_autocheckpoint', { simple: true })));
      },
    });
    expect(seen.every((v) => v === 1000)).toBe(true);
    db.close();
  });

  it('committed() after a close is a no-op; close() resolves once', async () => {
    const { db } = freshStore();
    const c = startCheckpointer(db)!;
    expect(c).not.toBeNull();
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    c.committed();
    await c.close();
    c.committed();
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    db.close();
  });
});
