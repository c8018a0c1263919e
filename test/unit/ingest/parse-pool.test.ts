// The parse pool's store path: messages parsed and serialised on a thread come back as exactly the stored
// form the calling thread would make, in order, whatever buffers the raw messages are views into.
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseMessage } from '../../../src/mail/parse.js';
import { createParsePool, createRowEncoder, decodeRows, encodeRows, pack, SpareBuffers, type ParsePool } from '../../../src/ingest/parse-pool.js';
import { splitMbox } from '../../../src/ingest/mbox.js';
import { storedForm, storedMembers } from '../../../src/store/messages.js';
import { readEpoch } from '../../../src/ingest/public-inbox-git.js';
import { archiveGitDir, corpusDir } from '../../helpers/archive.js';

function asText(row: { parsed: string | Buffer; core: string | Buffer }): { parsed: string; core: string } {
  return { ...row, parsed: row.parsed.toString(), core: row.core.toString() };
}

describe('parse pool', () => {
  let pool: ParsePool | null = null;
  afterAll(async () => {
    await pool?.close();
  });

  it('pack copies views of one large buffer into a transferable buffer of their bytes only', () => {
    const big = Buffer.from('aaaa-bbbbbb-cc-', 'latin1');
    const views = [big.subarray(0, 4), big.subarray(5, 11), big.subarray(12, 14), big.subarray(14, 14)];
    const { buffer, raws } = pack(views);
    expect(buffer.byteLength).toBe(12);
    expect(raws.map((r) => Buffer.from(r).toString('latin1'))).toEqual(['aaaa', 'bbbbbb', 'cc', '']);
    expect(raws.every((r) => r.buffer === buffer)).toBe(true);
  });

  it('encodeRows / decodeRows carry UTF-8 JSON texts byte for byte', async () => {
    const m = await parseMessage(Buffer.from('From: Zoë <z@example.org>\nSubject: [PATCH] ünïcode “quotes” \u{1F600}\nMessage-ID: <u@x>\n\nbody ✓\n---\n', 'utf8'));
    const row = storedForm(m);
    const { buffer, rows } = encodeRows([row, { ...row, parsed: Buffer.from(row.parsed), core: '' }]);
    const back = decodeRows(buffer, rows);
    expect(asText(back[0])).toEqual(row);
    expect(asText(back[1])).toEqual({ ...row, core: '' });
    // a small start: the buffer grows, nothing written before is lost
    const enc = createRowEncoder(16);
    for (let i = 0; i < 20; i++) enc.add({ ...row, msgid: `<${i}@x>` });
    const { buffer: grown, rows: wire } = enc.finish();
    expect(decodeRows(grown, wire).map(asText)).toEqual(Array.from({ length: 20 }, (_, i) => ({ ...row, msgid: `<${i}@x>` })));
  });

  it('addMembers writes the JSON texts storedForm joins, byte for byte (long pieces, two-byte text, a reused buffer)', async () => {
    const msgs = [await parseMessage(Buffer.from(`From: Zoë <z@example.org>\nSubject: [PATCH] “quotes” \u{1F600}\nMessage-ID: <u@x>\n\n${'Lazăr ș ț '.repeat(300)}\n---\n`, 'utf8'))];
    for await (const m of readEpoch(archiveGitDir())) {
      msgs.push(await parseMessage(m.raw));
      if (msgs.length === 400) break;
    }
    // some pieces are written on their own (>= 1024 UTF-16 units), some are not; some text is outside Latin-1
    expect(msgs.some((m) => m.body.length >= 1024 && /[^\u0000-\u00ff]/.test(m.body))).toBe(true);
    const reuse = new ArrayBuffer(1 << 20);
    new Uint8Array(reuse).fill(0x7b); // stale bytes that must not show through
    for (const enc of [createRowEncoder(64), createRowEncoder(1 << 20, reuse)]) {
      for (const m of msgs) enc.addMembers(storedMembers(m));
      const { buffer, rows } = enc.finish();
      expect(decodeRows(buffer, rows).map(asText)).toEqual(msgs.map(storedForm));
    }
  }, 60_000);

  it('SpareBuffers keeps the largest few, gives one big enough, and ignores detached buffers', () => {
    const spares = new SpareBuffers(2);
    for (const n of [10, 30, 20]) spares.put(new ArrayBuffer(n));
    spares.put(new ArrayBuffer(0));
    expect(spares.list.map((b) => b.byteLength).sort()).toEqual([20, 30]);
    expect(spares.take(40)).toBeUndefined();
    expect(spares.take(25)?.byteLength).toBe(30);
    expect(spares.take()?.byteLength).toBe(20);
    expect(spares.take()).toBeUndefined();
  });

  it('released rows give their buffers back: later batches reuse them and their rows are still exact', async () => {
    const file = readFileSync(path.join(corpusDir, 'patchwork', 'series', 'revision-basic.mbox'));
    const raws = Array.from({ length: 6 }, () => splitMbox(file)).flat();
    const expected = await Promise.all(raws.map(async (r) => storedForm(await parseMessage(r))));
    const p = await createParsePool({ workers: 1, minBatchForThreads: 4 });
    try {
      for (let round = 0; round < 4; round++) {
        const rows = await p.prepareBatch(raws);
        expect(rows.map(asText)).toEqual(expected);
        p.release(rows);
        // handed back (transferred): this thread no longer holds the bytes
        expect(rows.every((r) => r.parsed.length === 0 && r.core.length === 0)).toBe(true);
      }
      // a batch smaller than minBatchForThreads goes to the started thread too
      const small = await p.prepareBatch(raws.slice(0, 2));
      expect(small.map(asText)).toEqual(expected.slice(0, 2));
      expect(Buffer.isBuffer(small[0].parsed)).toBe(true);
    } finally {
      await p.close();
    }
  }, 60_000);

  it('prepareBatch on a thread gives the stored form of every message, in order (views into one mbox buffer)', async () => {
    const file = readFileSync(path.join(corpusDir, 'patchwork', 'series', 'revision-basic.mbox'));
    const one = splitMbox(file);
    // more than minBatchForThreads, so the batch goes to the thread; the messages are views into larger buffers
    const raws = Array.from({ length: 5 }, () => one).flat();
    expect(raws.length).toBeGreaterThanOrEqual(10);
    pool = await createParsePool({ workers: 1, minBatchForThreads: 4 });
    const rows = await pool.prepareBatch(raws);
    expect(pool.threads).toBe(1);
    const expected = await Promise.all(raws.map(async (r) => storedForm(await parseMessage(r))));
    expect(rows.map(asText)).toEqual(expected);
    // the raw buffers are untouched (copied to the thread, not transferred away)
    expect(Buffer.concat(raws).length).toBe(one.reduce((n, r) => n + r.length, 0) * 5);
    // parseBatch still gives parsed messages
    expect(JSON.stringify(await pool.parseBatch(raws))).toBe(JSON.stringify(await Promise.all(raws.map((r) => parseMessage(r)))));
  }, 60_000);
});
