// The parse pool's store path: messages parsed and serialised on a thread come back as exactly the stored
// form the calling thread would make, in order, whatever buffers the raw messages are views into.
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseMessage } from '../../../src/mail/parse.js';
import { createParsePool, createRowEncoder, decodeRows, encodeRows, pack, type ParsePool } from '../../../src/ingest/parse-pool.js';
import { splitMbox } from '../../../src/ingest/mbox.js';
import { storedForm } from '../../../src/store/messages.js';
import { corpusDir } from '../../helpers/archive.js';

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
