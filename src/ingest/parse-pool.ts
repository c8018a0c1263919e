// Parsing on every core: a small pool of worker threads running parseMessage. Small inputs are parsed
// in process (starting threads costs more than it saves).
//
// Where the time goes (`patchgate series` over the archive's 10,000 messages, 2 cores, ~4.7 CPU-s in ~3.1 s):
// the parser thread is busy from its first batch to its last (parse ~1.2 s, serialise ~0.45 s, GC ~0.35 s)
// and sets the pace; the storing thread (inserts, reading the core copies, hashing) is idle half the time;
// git cat-file ~0.5 s; TurboFan compiling on V8's helper threads ~1 s, which competes for the two cores.
// Measured and not kept: a second parser thread (the storing thread then lacks a core: 4.1-4.3 s against
// 3.8-3.9 s), parsing a share of each batch on the storing thread (10%: +0.25 s, 20%: +0.4 s), handing
// parsed messages over by structured clone and serialising them on the storing thread (+0.8 s).
import type { Worker } from 'node:worker_threads';
import { contentHash, parseMessage } from '../mail/parse.js';
import type { ParsedMessage } from '../mail/types.js';
import { storedForm, type StoredForm, type StoredMembers } from '../store/messages.js';
import { defaultParseThreads, dropWarmParseThreads, takeParseThreads } from './parse-threads.js';

export interface ParsePool {
  parseBatch(raws: Buffer[]): Promise<ParsedMessage[]>;
  /** parses and serialises for the store on the threads: what storePrepared writes */
  prepareBatch(raws: Buffer[]): Promise<StoredForm[]>;
  /**
   * rows of prepareBatch that are stored and no longer read: their buffer goes back to a thread for a later
   * batch (their parsed and core bytes are then empty)
   */
  release(rows: StoredForm[]): void;
  close(): Promise<void>;
  /** how many threads were started (0 while everything ran in process) */
  readonly threads: number;
}

export interface ParsePoolOptions {
  /** parser threads; default: available cores - 1 (at least 1), the calling thread keeps a core; 0 parses in process */
  workers?: number;
  maxBytes?: number;
  /** batches smaller than this are parsed in process until a thread is started */
  minBatchForThreads?: number;
}

interface Pending {
  resolve: (p: ParsedMessage[] | StoredForm[]) => void;
  reject: (e: Error) => void;
}

/**
 * The messages of a batch copied into one fresh buffer that is transferred, not cloned, to the thread. A raw
 * message is usually a view into a larger buffer (a whole `git cat-file --batch` answer, a whole mbox), and
 * posting a view clones its entire backing buffer: megabytes per message batch, copied and held twice.
 */
export function pack(raws: Buffer[], spares: ArrayBuffer[] = []): { buffer: ArrayBuffer; raws: Uint8Array[] } {
  let total = 0;
  for (const r of raws) total += r.byteLength;
  const spare = spares.findIndex((b) => b.byteLength >= total);
  const buffer = spare >= 0 ? spares.splice(spare, 1)[0] : new ArrayBuffer(total);
  const all = new Uint8Array(buffer);
  const views: Uint8Array[] = [];
  let at = 0;
  for (const r of raws) {
    all.set(r, at);
    views.push(new Uint8Array(buffer, at, r.byteLength));
    at += r.byteLength;
  }
  return { buffer, raws: views };
}

/**
 * Buffers that went back and forth between the threads, kept for the next batch instead of freed: the
 * thread that stores holds its rows' buffer only until the batch is stored, not until its garbage collector
 * gets to the buffer (tens of MB of peak memory, measured), and neither side allocates a new one per batch.
 */
export class SpareBuffers {
  private readonly buffers: ArrayBuffer[] = [];
  constructor(private readonly keep = 2) {}
  put(b: ArrayBuffer | undefined): void {
    if (!b || b.byteLength === 0) return; // detached
    this.buffers.push(b);
    // the largest are kept
    if (this.buffers.length > this.keep) this.buffers.sort((x, y) => y.byteLength - x.byteLength).length = this.keep;
  }
  /** the largest spare, if it has at least N bytes; undefined otherwise */
  take(n = 0): ArrayBuffer | undefined {
    let best = -1;
    for (let i = 0; i < this.buffers.length; i++) {
      if (best < 0 || this.buffers[i].byteLength > this.buffers[best].byteLength) best = i;
    }
    if (best < 0 || this.buffers[best].byteLength < n) return undefined;
    return this.buffers.splice(best, 1)[0];
  }
  /** for pack */
  get list(): ArrayBuffer[] {
    return this.buffers;
  }
}

/** A stored form on its way from a thread: the JSON texts as [offset, length] into the batch's buffer. */
export interface WireRow extends Omit<StoredForm, 'parsed' | 'core'> {
  parsed: [number, number];
  core: [number, number];
}

export interface RowEncoder {
  add(row: StoredForm): void;
  /** a row whose JSON texts are still in pieces (storedMembers): each piece is written once, never joined */
  addMembers(row: StoredMembers): void;
  /** the buffer to transfer (its tail past the last text is unused) and the rows pointing into it */
  finish(): { buffer: ArrayBuffer; rows: WireRow[] };
}

/** pieces at least this long are written on their own; shorter ones are gathered into one string first */
const LONG_PIECE = 1024;

/**
 * The JSON texts of a batch's stored forms, encoded as UTF-8 straight into one growing buffer that is
 * transferred: the thread that stores never holds them as strings (no copies into its heap, no garbage there,
 * no re-encoding), and the thread that parses lets each text go as soon as it is written.
 */
export function createRowEncoder(initialBytes = 1 << 20, reuse?: ArrayBuffer): RowEncoder {
  let out = reuse && reuse.byteLength >= initialBytes ? Buffer.from(reuse) : Buffer.allocUnsafeSlow(Math.max(16, initialBytes));
  let at = 0;
  const rows: WireRow[] = [];
  /** room for N more bytes */
  const reserve = (n: number) => {
    if (at + n <= out.length) return;
    const bigger = Buffer.allocUnsafeSlow(Math.max(out.length * 2, at + n));
    out.copy(bigger, 0, 0, at);
    out = bigger;
  };
  // UTF-8 takes at most 3 bytes per UTF-16 unit: room for that, then write, instead of measuring first
  const write = (v: string) => {
    reserve(v.length * 3);
    at += out.write(v, at, 'utf8');
  };
  const put = (v: string | Buffer): [number, number] => {
    const start = at;
    if (typeof v === 'string') write(v);
    else {
      reserve(v.length);
      at += v.copy(out, at);
    }
    return [start, at - start];
  };
  const putMembers = (members: string[]): [number, number] => {
    const start = at;
    let short = '{';
    for (let i = 0; i < members.length; i += 2) {
      short += `${i > 0 ? ',' : ''}${members[i]}:`;
      const value = members[i + 1];
      if (value.length < LONG_PIECE) {
        short += value;
        continue;
      }
      write(short);
      write(value);
      short = '';
    }
    write(short + '}');
    return [start, at - start];
  };
  return {
    add(row) {
      rows.push({ ...row, parsed: put(row.parsed), core: put(row.core) });
    },
    addMembers(row) {
      rows.push({ ...row, parsed: putMembers(row.parsed), core: putMembers(row.core) });
    },
    finish() {
      // allocUnsafeSlow or a reused one: a buffer of its own, starting at offset 0
      return { buffer: out.buffer as ArrayBuffer, rows };
    },
  };
}

export function encodeRows(rows: StoredForm[]): { buffer: ArrayBuffer; rows: WireRow[] } {
  const enc = createRowEncoder(rows.reduce((n, r) => n + r.parsed.length + r.core.length, 0));
  for (const r of rows) enc.add(r);
  return enc.finish();
}

export function decodeRows(buffer: ArrayBuffer, rows: WireRow[]): StoredForm[] {
  return rows.map((r) => ({ ...r, parsed: Buffer.from(buffer, r.parsed[0], r.parsed[1]), core: Buffer.from(buffer, r.core[0], r.core[1]) }));
}

export async function createParsePool(opts: ParsePoolOptions = {}): Promise<ParsePool> {
  // one core stays with the calling thread, which reads, stores and assembles while the threads parse
  const size = opts.workers ?? defaultParseThreads();
  const minBatch = opts.minBatchForThreads ?? 64;
  const workers: Worker[] = [];
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let failed: Error | null = null;
  /** rows buffers that came from the threads and are not yet released */
  const fromThreads = new WeakSet<ArrayBuffer>();
  /** raw buffers the threads sent back, for pack */
  const spareRaws = new SpareBuffers();
  let recycleTo = 0;

  function start(): void {
    if (workers.length > 0 || size === 0) return;
    for (const w of takeParseThreads(size)) {
      w.on('message', (msg: { id: number; parsed?: ParsedMessage[]; rows?: WireRow[]; buffer?: ArrayBuffer; spare?: ArrayBuffer; error?: string }) => {
        spareRaws.put(msg.spare);
        if (msg.buffer) fromThreads.add(msg.buffer);
        const p = pending.get(msg.id);
        if (!p) return;
        pending.delete(msg.id);
        if (msg.error !== undefined) p.reject(new Error(msg.error));
        else if (msg.rows && msg.buffer) p.resolve(decodeRows(msg.buffer, msg.rows));
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

  function onThread(w: Worker, raws: Buffer[], mode: 'parse' | 'prepare'): Promise<ParsedMessage[] | StoredForm[]> {
    return new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      // the content hashes are computed here: native code on the thread that mostly waits for the parsers
      const hashes = mode === 'prepare' ? raws.map(contentHash) : undefined;
      const { buffer, raws: views } = pack(raws, spareRaws.list);
      w.postMessage({ id, mode, raws: views, maxBytes: opts.maxBytes, hashes }, [buffer]);
    });
  }

  async function inProcess(raws: Buffer[]): Promise<ParsedMessage[]> {
    return Promise.all(raws.map((r) => parseMessage(r, { maxBytes: opts.maxBytes })));
  }

  /** the batch split evenly over the threads, results in input order */
  async function onThreads<T>(raws: Buffer[], mode: 'parse' | 'prepare'): Promise<T[]> {
    if (failed) throw failed;
    start();
    const per = Math.ceil(raws.length / workers.length);
    const parts: Promise<T[]>[] = [];
    for (let i = 0; i < workers.length; i++) {
      const slice = raws.slice(i * per, (i + 1) * per);
      if (slice.length > 0) parts.push(onThread(workers[i], slice, mode) as Promise<T[]>);
    }
    return (await Promise.all(parts)).flat();
  }

  /** in process: no threads, or a small batch while none are started (a started thread is warm and cheap to use) */
  const inProcessFor = (raws: Buffer[]) => size === 0 || (raws.length < minBatch && workers.length === 0);

  return {
    get threads() {
      return workers.length;
    },
    async parseBatch(raws) {
      if (inProcessFor(raws)) return inProcess(raws);
      return onThreads<ParsedMessage>(raws, 'parse');
    },
    async prepareBatch(raws) {
      if (inProcessFor(raws)) return (await inProcess(raws)).map(storedForm);
      return onThreads<StoredForm>(raws, 'prepare');
    },
    release(rows) {
      const buffers = new Set<ArrayBuffer>();
      for (const r of rows) {
        const b = Buffer.isBuffer(r.parsed) ? (r.parsed.buffer as ArrayBuffer) : undefined;
        if (b && fromThreads.has(b)) buffers.add(b);
      }
      for (const b of buffers) {
        fromThreads.delete(b);
        if (workers.length === 0) return;
        workers[recycleTo++ % workers.length].postMessage({ recycle: b }, [b]);
      }
    },
    async close() {
      await Promise.all([...workers.map((w) => w.terminate()), dropWarmParseThreads()]);
      workers.length = 0;
    },
  };
}
