// Messages and cursors: a message and the cursor that covers it are written in one transaction,
// so a crash loses nothing and stores nothing twice.
import type { ParsedMessage } from '../mail/types.js';
import type { Db } from './db.js';

export interface IncomingMessage {
  raw: Buffer;
  parsed: ParsedMessage;
  source: string;
}

export interface CursorUpdate {
  source: string;
  key: string;
  value: string;
}

export interface StoreResult {
  inserted: number;
  known: number;
}

/** Stores messages (idempotent on msgid + content hash) and the cursor after them, atomically. */
export function storeMessages(db: Db, items: IncomingMessage[], cursor?: CursorUpdate): StoreResult {
  const insert = db.prepare(`INSERT OR IGNORE INTO messages (msgid, hash, source, kind, reason, date, subject, sender, raw, parsed, core)
                             VALUES (@msgid, @hash, @source, @kind, @reason, @date, @subject, @sender, @raw, @parsed, @core)`);
  const setCursor = db.prepare(`INSERT INTO cursors (source, key, value) VALUES (?, ?, ?)
                                ON CONFLICT (source, key) DO UPDATE SET value = excluded.value, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')`);
  let inserted = 0;
  db.transaction(() => {
    for (const { raw, parsed, source } of items) {
      const r = insert.run({
        msgid: parsed.msgid,
        hash: parsed.hash,
        source,
        kind: parsed.kind,
        reason: parsed.reason,
        date: parsed.date,
        subject: parsed.subject.raw,
        sender: parsed.from.email,
        raw,
        parsed: JSON.stringify(parsed),
        core: JSON.stringify(coreOf(parsed)),
      });
      inserted += r.changes;
    }
    if (cursor) setCursor.run(cursor.source, cursor.key, cursor.value);
  })();
  return { inserted, known: items.length - inserted };
}

export function isKnownMessage(db: Db, msgid: string, hash: string): boolean {
  return db.prepare('SELECT 1 FROM messages WHERE msgid = ? AND hash = ?').get(msgid, hash) !== undefined;
}

export function getCursor(db: Db, source: string, key: string): string | null {
  const row = db.prepare('SELECT value FROM cursors WHERE source = ? AND key = ?').get(source, key) as { value: string } | undefined;
  return row ? row.value : null;
}

/**
 * What the series engine reads of a message: everything but the patch's text told again. A patch keeps its
 * diff (patch-ids), trailers and dependencies, and loses body, message, notes and amText; replies keep their
 * body (follow-up trailers are read from it) with quoted lines cut down to their `>` marks. Loading 10,000 messages this way takes a fraction of the memory.
 */
export function coreOf(m: ParsedMessage): ParsedMessage {
  const { amText: _amText, ...rest } = m;
  if (m.kind === 'patch' || m.kind === 'pull-request') return { ...rest, body: '', message: '', notes: '' };
  // replies quote whole patches; a quoted line never holds a collected trailer: keep only its `>`
  return { ...rest, body: m.body.replace(/^(>+).*$/gm, '$1'), message: '', notes: '' };
}

/**
 * Every stored message in arrival order. `core` gives the slim copies (coreOf) that series assembly needs;
 * without it, the full parsed messages (for `am`, reports and the gates).
 */
export function loadParsedMessages(db: Db, opts: { core?: boolean } = {}): ParsedMessage[] {
  const sql = opts.core ? 'SELECT coalesce(core, parsed) FROM messages ORDER BY seq' : 'SELECT parsed FROM messages ORDER BY seq';
  const out: ParsedMessage[] = [];
  for (const r of db.prepare(sql).pluck().iterate() as Iterable<string>) out.push(JSON.parse(r) as ParsedMessage);
  return out;
}

export function loadRaw(db: Db, msgid: string): Buffer | null {
  const row = db.prepare('SELECT raw FROM messages WHERE msgid = ? ORDER BY seq LIMIT 1').get(msgid) as { raw: Buffer } | undefined;
  return row ? row.raw : null;
}

export function countMessages(db: Db): number {
  return db.prepare('SELECT count(*) FROM messages').pluck().get() as number;
}
