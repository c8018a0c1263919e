// The stored form of a parsed message: the one-pass serialisation must give exactly the JSON texts that
// JSON.stringify gives for the message and for its slim copy, on real mail; and storing it stays idempotent.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseMessage } from '../../../src/mail/parse.js';
import type { ParsedMessage } from '../../../src/mail/types.js';
import { splitMbox } from '../../../src/ingest/mbox.js';
import { readEpoch } from '../../../src/ingest/public-inbox-git.js';
import { openDb } from '../../../src/store/db.js';
import { assembleStored } from '../../../src/ingest/ingest.js';
import { coreOf, decodeParsed, diffReader, getCursor, loadCoreMessages, loadParsedMessages, storedForm, storeMessages, storePrepared } from '../../../src/store/messages.js';
import { archiveGitDir, corpusDir } from '../../helpers/archive.js';

function mailFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...mailFiles(full));
    else if (/\.(mbox|eml|mail)$/.test(name)) out.push(full);
  }
  return out;
}

async function corpusMessages(): Promise<ParsedMessage[]> {
  const out: ParsedMessage[] = [];
  for (const dir of [path.join(corpusDir, 'patchwork'), path.join(corpusDir, 'b4')]) {
    for (const f of mailFiles(dir)) for (const raw of splitMbox(readFileSync(f))) out.push(await parseMessage(raw));
  }
  return out;
}

/** counts of stored texts kept as references (sharedText), over every expectSameTexts call */
const sharedSeen = { around: 0, prefixOf: 0 };

function expectSameTexts(m: ParsedMessage): void {
  const row = storedForm(m);
  // the stored JSON gives back exactly the message, field order and all
  expect(JSON.stringify(decodeParsed(row.parsed))).toBe(JSON.stringify(m));
  expect(row.parsed.length).toBeLessThanOrEqual(JSON.stringify(m).length);
  sharedSeen.around += (row.parsed.match(/\{"around":"diff"/g) ?? []).length;
  sharedSeen.prefixOf += (row.parsed.match(/\{"prefixOf":"body"/g) ?? []).length;
  expect(row.core).toBe(JSON.stringify(coreOf(m)));
  expect([row.msgid, row.hash, row.kind, row.reason, row.date, row.subject, row.sender]).toEqual([m.msgid, m.hash, m.kind, m.reason, m.date, m.subject.raw, m.from.email]);
}

describe('storedForm', () => {
  it('gives JSON.stringify of the message and of coreOf on every corpus message (patchwork, b4)', async () => {
    const msgs = await corpusMessages();
    expect(msgs.length).toBeGreaterThan(200);
    // all kinds are covered, rejected ones (no amText / dateHeader) included
    expect(new Set(msgs.map((m) => m.kind))).toEqual(new Set(['patch', 'cover', 'comment', 'pull-request', 'other', 'rejected']));
    for (const m of msgs) expectSameTexts(m);
  });

  it('gives the same texts on the first 1,500 messages of the real archive', async () => {
    let n = 0;
    for await (const m of readEpoch(archiveGitDir())) {
      expectSameTexts(await parseMessage(m.raw));
      if (++n === 1500) break;
    }
    expect(n).toBe(1500);
    // patches' bodies and am texts around their diffs, replies' messages as their bodies' start
    expect(sharedSeen.around).toBeGreaterThan(500);
    expect(sharedSeen.prefixOf).toBeGreaterThan(500);
  }, 120_000);

  it('keeps JSON rules for hand-made messages: undefined fields left out, missing text fields added last', async () => {
    const base = await parseMessage(Buffer.from('From: A <a@example.org>\nSubject: [PATCH] x: y\nMessage-ID: <1@x>\n\nsome words\n'));
    const { body: _b, message: _m, notes: _n, ...noText } = { ...base, kind: 'patch' as const };
    const odd = { ...base, inBodyFrom: undefined, dateHeader: null, amText: 'kept only in the full text', extra: () => 1 } as unknown as ParsedMessage;
    for (const m of [base, odd, noText as unknown as ParsedMessage, { ...base, body: '> a "quoted" line\n\\ back\u2028slash\n' }]) expectSameTexts(m);
  });

  it('keeps texts that repeat the diff or the body as references only where they do, on hostile shapes too', async () => {
    const base = await parseMessage(Buffer.from('From: A <a@example.org>\nSubject: [PATCH] x: y\nMessage-ID: <1@x>\n\nsome words\n'));
    const diff = `diff --git a/x b/x\n${'+"quoted" \\ line ✓ \u{1F600}\n'.repeat(40)}`;
    const head = diff.slice(0, 64);
    const cases: Partial<ParsedMessage>[] = [
      { body: `msg\n---\n${diff}`, amText: `msg\n---\n${diff}-- \n2.40\n`, diff }, // both around the diff
      { body: `${diff}${diff}`, amText: diff, diff }, // at the end; the whole text
      { body: `${head}${head}x${diff}tail`, diff }, // its start seen twice before the real copy
      { body: `${head.repeat(20)}${diff.slice(0, -1)}`, amText: 'short', diff }, // never whole: stored as it is
      { body: 'b'.repeat(300), message: 'b'.repeat(299), diff: null }, // a prefix of the body
      { body: 'b'.repeat(300), message: 'c'.repeat(299), diff: null }, // not a prefix
      { body: 'short body', message: 'short', diff: 'diff --git a/x b/x\n' }, // too short to bother
    ];
    for (const c of cases) expectSameTexts({ ...base, ...c } as ParsedMessage);
    const around = (c: Partial<ParsedMessage>) => (storedForm({ ...base, ...c } as ParsedMessage).parsed.match(/"around"/g) ?? []).length;
    expect(cases.map(around)).toEqual([2, 2, 1, 0, 0, 0, 0]);
    // stored before references existed: a plain text reads back as it is
    expect(decodeParsed(JSON.stringify({ ...base, body: 'x', message: 'x' }))).toEqual({ ...base, body: 'x', message: 'x' });
  });
});

describe('stored core copies', () => {
  it('assemble the same document whether they hold the diff (stored before it was left out) or not', async () => {
    const db = openDb(':memory:');
    const raws = splitMbox(readFileSync(path.join(corpusDir, 'patchwork', 'series', 'revision-basic.mbox')));
    const parsed = await Promise.all(raws.map((r) => parseMessage(r)));
    storePrepared(db, parsed.map((p, i) => ({ raw: raws[i], row: storedForm(p), source: 's' })));
    expect(loadCoreMessages(db).some((m) => 'diff' in m)).toBe(false);
    const now = assembleStored(db, { sloppyTrailers: false });
    expect(now.series.length).toBeGreaterThan(0);
    // an older store: core rows with the diff text and no hasDiff
    db.exec(`UPDATE messages SET core = json_remove(json_set(core, '$.diff', json_extract(parsed, '$.diff')), '$.hasDiff')`);
    expect(loadCoreMessages(db).filter((m) => typeof m.diff === 'string').length).toBe(parsed.filter((m) => m.diff !== null).length);
    expect(assembleStored(db, { sloppyTrailers: false })).toEqual(now);
    expect(diffReader(db)(parsed.find((m) => m.diff)!.msgid)).toBe(parsed.find((m) => m.diff)!.diff);
    db.close();
  });
});

describe('storing messages', () => {
  it('stores each message once, with its cursor, and loads the same messages back (full and core)', async () => {
    const db = openDb(':memory:');
    const raws = splitMbox(readFileSync(path.join(corpusDir, 'patchwork', 'series', 'revision-basic.mbox')));
    const parsed = await Promise.all(raws.map((r) => parseMessage(r)));
    const first = storePrepared(db, parsed.map((p, i) => ({ raw: raws[i], row: storedForm(p), source: 's' })), { source: 's', key: 'k', value: 'v1' });
    expect(first).toEqual({ inserted: parsed.length, known: 0 });
    // the old entry point writes the same rows: all known now
    expect(storeMessages(db, parsed.map((p, i) => ({ raw: raws[i], parsed: p, source: 's' })), { source: 's', key: 'k', value: 'v2' })).toEqual({ inserted: 0, known: parsed.length });
    expect(getCursor(db, 's', 'k')).toBe('v2');
    expect(loadParsedMessages(db)).toEqual(JSON.parse(JSON.stringify(parsed)));
    expect(loadCoreMessages(db)).toEqual(JSON.parse(JSON.stringify(parsed.map(coreOf))));
    const stored = db.prepare('SELECT raw FROM messages ORDER BY seq').pluck().all() as Buffer[];
    expect(stored.length).toBe(raws.length);
    stored.forEach((b, i) => expect(b.equals(raws[i]), `raw ${i}`).toBe(true));
    db.close();
  });
});
