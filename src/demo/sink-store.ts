// The local SMTP sink's mail, kept in the store beside everything else (table sink_mail), so that the
// dashboard can show what patchgate "sent" without any real list ever seeing it. The table belongs to
// the sink: it is created on first use, and a store without it simply has no sink mail.
import type { Db } from '../store/db.js';

export interface SinkMail {
  id: number;
  received_at: string;
  /** SMTP envelope */
  mail_from: string;
  rcpt_to: string[];
  /** from the headers, with angle brackets; null when the message has none */
  message_id: string | null;
  in_reply_to: string | null;
  subject: string;
  verdict: string | null;
  size: number;
}

export interface SinkMailWithRaw extends SinkMail {
  raw: Buffer;
}

export function ensureSinkTable(db: Db): void {
  db.exec(`CREATE TABLE IF NOT EXISTS sink_mail (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    mail_from TEXT NOT NULL,
    rcpt_to TEXT NOT NULL,
    message_id TEXT,
    in_reply_to TEXT,
    subject TEXT NOT NULL DEFAULT '',
    verdict TEXT,
    raw BLOB NOT NULL
  )`);
}

function hasTable(db: Db): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sink_mail'").get() !== undefined;
}

/** One header's unfolded value (first occurrence), read from the raw head without a full parse. */
export function headerOf(raw: Buffer, name: string): string | null {
  const end = raw.indexOf('\r\n\r\n') >= 0 ? raw.indexOf('\r\n\r\n') : raw.indexOf('\n\n');
  const head = raw.subarray(0, end < 0 ? raw.length : end).toString('utf8').replace(/\r?\n[ \t]+/g, ' ');
  const re = new RegExp(`^${name.replace(/[-]/g, '\\-')}:[ \\t]*(.*)$`, 'im');
  const m = re.exec(head);
  return m ? m[1].trim() : null;
}

export function insertSinkMail(db: Db, m: { mailFrom: string; rcptTo: string[]; raw: Buffer }): number {
  ensureSinkTable(db);
  const msgid = /<[^>\s]+>/.exec(headerOf(m.raw, 'Message-ID') ?? '')?.[0] ?? null;
  const irt = /<[^>\s]+>/.exec(headerOf(m.raw, 'In-Reply-To') ?? '')?.[0] ?? null;
  const r = db.prepare('INSERT INTO sink_mail (mail_from, rcpt_to, message_id, in_reply_to, subject, verdict, raw) VALUES (?, ?, ?, ?, ?, ?, ?)')
    .run(m.mailFrom, JSON.stringify(m.rcptTo), msgid, irt, headerOf(m.raw, 'Subject') ?? '', headerOf(m.raw, 'X-Patchgate-Verdict'), m.raw);
  return Number(r.lastInsertRowid);
}

const COLUMNS = 'id, received_at, mail_from, rcpt_to, message_id, in_reply_to, subject, verdict, length(raw) AS size';

function row(r: Record<string, unknown>): SinkMail {
  return { ...(r as unknown as SinkMail), rcpt_to: JSON.parse(String(r.rcpt_to)) as string[] };
}

/** Newest first. */
export function listSinkMail(db: Db, limit = 500): SinkMail[] {
  if (!hasTable(db)) return [];
  return (db.prepare(`SELECT ${COLUMNS} FROM sink_mail ORDER BY id DESC LIMIT ?`).all(limit) as Record<string, unknown>[]).map(row);
}

export function getSinkMail(db: Db, id: number): SinkMailWithRaw | null {
  if (!hasTable(db)) return null;
  const r = db.prepare(`SELECT ${COLUMNS}, raw FROM sink_mail WHERE id = ?`).get(id) as Record<string, unknown> | undefined;
  return r ? { ...row(r), raw: Buffer.from(r.raw as Uint8Array) } : null;
}

/** Every received message's raw bytes, oldest first (for re-ingesting them). */
export function sinkRaws(db: Db): Buffer[] {
  if (!hasTable(db)) return [];
  return (db.prepare('SELECT raw FROM sink_mail ORDER BY id').pluck().all() as Uint8Array[]).map((b) => Buffer.from(b));
}
