// The ingest path shared by every source: raw bytes → ParsedMessage → store, then series assembly.
import { parseMessage } from '../mail/parse.js';
import type { CoreMessage, ParsedMessage } from '../mail/types.js';
import { assembleSeries } from '../series/assemble.js';
import type { AssembleOptions, SeriesDocument } from '../series/types.js';
import type { Db } from '../store/db.js';
import { diffReader, loadCoreMessages, storedForm, storePrepared, type CursorUpdate, type PreparedMessage, type StoredForm } from '../store/messages.js';
import { saveSeriesDocument } from '../store/series.js';
import { startCheckpointer, type Checkpointer } from './checkpointer.js';
import type { RawInput } from './inputs.js';
import { readAhead } from './read-ahead.js';

export interface IngestStats {
  read: number;
  inserted: number;
  known: number;
}

export interface IngestOptions {
  maxBytes?: number;
  /** how many messages go into one store transaction */
  batchSize?: number;
  /** batches being parsed while the oldest is stored */
  inflight?: number;
  /** parses a batch; defaults to in-process parseMessage (a worker pool may be passed in) */
  parseBatch?: (raws: Buffer[]) => Promise<ParsedMessage[]>;
  /**
   * parses a batch into the stored form (columns and JSON texts), e.g. a pool's prepareBatch, which does
   * that serialising on its threads; preferred over parseBatch when given
   */
  prepareBatch?: (raws: Buffer[]) => Promise<StoredForm[]>;
  onProgress?: (stats: IngestStats) => void;
  /**
   * the stored forms of the messages each batch newly stored, in store order, after the batch is committed
   * (the thread that stores is mostly idle while parsers work: a caller can read the rows there)
   */
  onStored?: (rows: StoredForm[]) => void;
  /** rows of prepareBatch that are stored and read (onStored): a pool takes their buffers back */
  release?: (rows: StoredForm[]) => void;
  /**
   * WAL checkpoints on a thread of their own from the second batch on (checkpointer.ts), so that the thread
   * storing never waits for fsync; default true (a file store in WAL mode only)
   */
  checkpointThread?: boolean;
}

export function inProcessParser(maxBytes?: number): (raws: Buffer[]) => Promise<ParsedMessage[]> {
  return (raws) => Promise.all(raws.map((r) => parseMessage(r, { maxBytes })));
}

/**
 * Parses and stores every input. Re-reading the same mail stores nothing new (messages are keyed by
 * Message-ID and content hash). `cursorOf` gives the cursor to write with the batch that ends at an input.
 */
export async function ingestInputs(
  db: Db,
  inputs: AsyncIterable<RawInput>,
  opts: IngestOptions = {},
  cursorOf?: (last: RawInput) => CursorUpdate | undefined,
): Promise<IngestStats> {
  const parse = opts.parseBatch ?? inProcessParser(opts.maxBytes);
  const prepare = opts.prepareBatch ?? (async (raws: Buffer[]) => (await parse(raws)).map(storedForm));
  const batchSize = opts.batchSize ?? 256;
  const inflight = Math.max(1, opts.inflight ?? 2);
  const stats: IngestStats = { read: 0, inserted: 0, known: 0 };
  // Parsing of the next batches overlaps with storing the current one; batches are stored in order.
  const queue: { batch: RawInput[]; rows: Promise<StoredForm[]> }[] = [];
  let batches = 0;
  let checkpointer: Checkpointer | null = null;
  const storeOldest = async () => {
    const { batch, rows } = queue.shift()!;
    const done = await rows;
    const items: PreparedMessage[] = batch.map((b, i) => ({ raw: b.raw, row: done[i], source: b.source }));
    // a one-batch ingest (the daemon's polls, mostly) keeps SQLite's own checkpoints: no thread for it
    if (++batches === 2 && opts.checkpointThread !== false) checkpointer = startCheckpointer(db);
    const newly: PreparedMessage[] | undefined = opts.onStored ? [] : undefined;
    const r = storePrepared(db, items, cursorOf?.(batch[batch.length - 1]), newly);
    checkpointer?.committed();
    if (newly) opts.onStored!(newly.map((n) => n.row));
    opts.release?.(done);
    stats.read += batch.length;
    stats.inserted += r.inserted;
    stats.known += r.known;
    opts.onProgress?.(stats);
  };
  let batch: RawInput[] = [];
  const enqueue = async () => {
    if (batch.length === 0) return;
    const b = batch;
    batch = [];
    const rows = prepare(b.map((x) => x.raw));
    rows.catch(() => undefined); // awaited in order by storeOldest
    queue.push({ batch: b, rows });
    while (queue.length > inflight) await storeOldest();
  };
  try {
    // the mail of the next batches is read while this thread waits for the parsers (read-ahead.ts)
    for await (const input of readAhead(inputs, { limit: 2 * batchSize * 16384, maxItems: 2 * batchSize, sizeOf: (x) => x.raw.length })) {
      batch.push(input);
      if (batch.length >= batchSize) await enqueue();
    }
    await enqueue();
    while (queue.length > 0) await storeOldest();
  } finally {
    await (checkpointer as Checkpointer | null)?.close();
  }
  return stats;
}

/**
 * Assembles the series document from everything stored, and saves the series snapshots. MESSAGES, when the
 * caller has them already, are the stored messages' core copies in store order (what loadCoreMessages gives).
 */
export function assembleStored(db: Db, opts: AssembleOptions, messages: CoreMessage[] = loadCoreMessages(db)): SeriesDocument {
  const doc = assembleSeries(messages, { diffOf: diffReader(db), ...opts });
  const dateOf = new Map(messages.map((m) => [m.msgid, m.date]));
  const firstDates = new Map<string, string | null>();
  for (const s of doc.series) {
    const ids = [s.cover, ...s.patches.map((p) => p.msgid)].filter((x): x is string => !!x);
    const dates = ids.map((id) => dateOf.get(id)).filter((d): d is string => !!d).sort();
    firstDates.set(s.id, dates[0] ?? null);
  }
  saveSeriesDocument(db, doc, firstDates);
  return doc;
}
