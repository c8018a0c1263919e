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
  const insert = db.prepare(`INSERT OR IGNORE INTO messages (msgid, hash, source, kind, reason, date, subject, sender, raw, parsed)
                             VALUES (@msgid, @hash, @source, @kind, @reason, @date, @subject, @sender, @raw, @parsed)`);
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

/** Every stored message in arrival order. */
export function loadParsedMessages(db: Db): ParsedMessage[] {
  const rows = db.prepare('SELECT parsed FROM messages ORDER BY seq').pluck().all() as string[];
  return rows.map((r) => JSON.parse(r) as ParsedMessage);
}

export function loadRaw(db: Db, msgid: string): Buffer | null {
  const row = db.prepare('SELECT raw FROM messages WHERE msgid = ? ORDER BY seq LIMIT 1').get(msgid) as { raw: Buffer } | undefined;
  return row ? row.raw : null;
}

export function countMessages(db: Db): number {
  return db.prepare('SELECT count(*) FROM messages').pluck().get() as number;
}
