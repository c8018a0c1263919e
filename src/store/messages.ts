// Messages and cursors: a message and the cursor that covers it are written in one transaction,
// so a crash loses nothing and stores nothing twice.
import type { CoreMessage, ParsedMessage } from '../mail/types.js';
import type { Statement } from 'better-sqlite3';
import type { Db } from './db.js';

export interface IncomingMessage {
  raw: Buffer;
  parsed: ParsedMessage;
  source: string;
}

/**
 * A parsed message in the form the store writes: its indexed columns and its two JSON texts (the full
 * ParsedMessage and the slim coreOf copy). Flat data, so a parser thread can make it and hand it over
 * cheaply (no structured clone of the message's object graph, the texts as UTF-8 bytes in a transferred buffer).
 */
export interface StoredForm {
  msgid: string;
  hash: string;
  kind: string;
  reason: string | null;
  date: string | null;
  subject: string;
  sender: string;
  /**
   * the ParsedMessage as JSON, texts that repeat another field kept as references (sharedText; decodeParsed
   * reads it), or those UTF-8 bytes (a parser thread hands them over this way)
   */
  parsed: string | Buffer;
  /** JSON.stringify of its coreOf copy, or those UTF-8 bytes */
  core: string | Buffer;
}

/** An incoming message already turned into its stored form (storedForm), e.g. by a parser thread. */
export interface PreparedMessage {
  raw: Buffer;
  row: StoredForm;
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

/**
 * A stored form whose two JSON texts are still in pieces: each is a flat list of [key, value] JSON texts
 * (`"diff"`, `"diff --git ..."`), members of one object. A writer can put the pieces where they go (a parser
 * thread encodes them straight into its transfer buffer) without first joining them into one more copy of
 * every text: the largest allocation of the parse thread before this.
 */
export interface StoredMembers extends Omit<StoredForm, 'parsed' | 'core'> {
  parsed: string[];
  core: string[];
}

/** texts shorter than this are stored as they are */
const MIN_SHARED = 256;

/**
 * Where PART (at least MIN_SHARED long) is in TEXT: at its end (a patch's body ends with its diff), else the
 * first place its first 64 characters lead to a whole copy (an am text has the signature after the diff);
 * -1 if not found. Bounded work on any input: no search for the whole part, at most 8 candidates checked.
 */
function findShared(text: string, part: string): number {
  if (text.endsWith(part)) return text.length - part.length;
  const head = part.slice(0, 64);
  let at = text.indexOf(head);
  for (let tries = 0; at >= 0 && tries < 8; tries++) {
    if (text.startsWith(part, at)) return at;
    at = text.indexOf(head, at + 1);
  }
  return -1;
}

/**
 * The stored JSON of a text field that repeats another field, or undefined when it is stored as it is. A
 * patch's body and am text hold its diff, stored once (in `diff`): they are kept as the text around it,
 * `{"around":"diff","before":...,"after":...}`. A message that is the start of the body (a reply's message
 * is its body less the last line break) is kept as `{"prefixOf":"body","length":N}`. decodeParsed puts them
 * back. Measured on the archive: 141 MB of JSON becomes 76 MB, serialised and stored in less time.
 */
function sharedText(m: ParsedMessage, key: string): string | undefined {
  if (key === 'body' || key === 'amText') {
    const text = key === 'body' ? m.body : m.amText;
    if (typeof text !== 'string' || typeof m.diff !== 'string' || m.diff.length < MIN_SHARED) return undefined;
    const at = findShared(text, m.diff);
    if (at < 0) return undefined;
    return `{"around":"diff","before":${JSON.stringify(text.slice(0, at))},"after":${JSON.stringify(text.slice(at + m.diff.length))}}`;
  }
  if (key === 'message') {
    if (typeof m.message !== 'string' || m.message.length < MIN_SHARED || typeof m.body !== 'string' || !m.body.startsWith(m.message)) return undefined;
    return `{"prefixOf":"body","length":${m.message.length}}`;
  }
  return undefined;
}

/**
 * A ParsedMessage from the stored `parsed` JSON, the texts stored as references to other fields put back
 * (sharedText). Every reader of the `parsed` column goes through this; json_extract of any other field
 * (`$.diff`, `$.listId`) reads the stored JSON as it is.
 */
export function decodeParsed(text: string): ParsedMessage {
  const m = JSON.parse(text) as ParsedMessage;
  const fields = m as unknown as Record<string, unknown>;
  for (const key of ['body', 'amText']) {
    const v = fields[key] as { around?: string; before?: string; after?: string } | undefined;
    if (v && typeof v === 'object' && v.around === 'diff') fields[key] = `${v.before}${m.diff}${v.after}`;
  }
  const msg = fields.message as { prefixOf?: string; length?: number } | undefined;
  if (msg && typeof msg === 'object' && msg.prefixOf === 'body') m.message = m.body.slice(0, msg.length);
  return m;
}

/**
 * The columns and the JSON members stored for a parsed message. Joined (storedForm), the two texts are the
 * message with its repeated texts as references (decodeParsed reads it back) and exactly
 * JSON.stringify(coreOf(parsed)), built from one serialisation of each field: the core copy shares its
 * fields with the full one but for the texts it has of its own (body, message, notes) and hasDiff.
 */
export function storedMembers(parsed: ParsedMessage): StoredMembers {
  const core = coreText(parsed);
  const full: string[] = [];
  const slim: string[] = [];
  for (const key of Object.keys(parsed)) {
    const name = JSON.stringify(key);
    const inCore = !NOT_IN_CORE.has(key);
    // the core copy has texts of its own for these
    const ownCoreText = key === 'body' || key === 'message' || key === 'notes';
    const shared = sharedText(parsed, key);
    if (shared !== undefined) {
      full.push(name, shared);
      if (inCore && ownCoreText) slim.push(name, JSON.stringify(core[key as 'body' | 'message']));
      continue;
    }
    const json = JSON.stringify((parsed as unknown as Record<string, unknown>)[key]);
    if (json === undefined) continue; // undefined, functions: JSON leaves the key out
    full.push(name, json);
    if (inCore) slim.push(name, ownCoreText ? JSON.stringify(core[key as 'body' | 'message' | 'notes']) : json);
  }
  // coreOf adds the three text fields at the end when the message lacks them, then hasDiff
  for (const key of ['body', 'message', 'notes'] as const) {
    if (!Object.prototype.hasOwnProperty.call(parsed, key)) slim.push(JSON.stringify(key), JSON.stringify(core[key]));
  }
  slim.push('"hasDiff"', parsed.diff !== null && parsed.diff !== undefined ? 'true' : 'false');
  return {
    msgid: parsed.msgid,
    hash: parsed.hash,
    kind: parsed.kind,
    reason: parsed.reason,
    date: parsed.date,
    subject: parsed.subject.raw,
    sender: parsed.from.email,
    parsed: full,
    core: slim,
  };
}

/** The JSON object text of storedMembers' pieces. */
export function joinMembers(members: string[]): string {
  let out = '{';
  for (let i = 0; i < members.length; i += 2) out += `${i > 0 ? ',' : ''}${members[i]}:${members[i + 1]}`;
  return out + '}';
}

/** The columns and JSON texts stored for a parsed message (storedMembers, joined). */
export function storedForm(parsed: ParsedMessage): StoredForm & { parsed: string; core: string } {
  const m = storedMembers(parsed);
  return { ...m, parsed: joinMembers(m.parsed), core: joinMembers(m.core) };
}

interface Statements {
  insert: Statement<unknown[]>;
  setCursor: Statement<unknown[]>;
}

// prepared once per connection
const statements = new WeakMap<Db, Statements>();

function statementsOf(db: Db): Statements {
  let s = statements.get(db);
  if (!s) {
    s = {
      // the JSON texts may come as UTF-8 bytes: CAST makes them TEXT, byte for byte what binding the string stores
      insert: db.prepare(`INSERT OR IGNORE INTO messages (msgid, hash, source, kind, reason, date, subject, sender, raw, parsed, core)
                          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS TEXT), CAST(? AS TEXT))`),
      setCursor: db.prepare(`INSERT INTO cursors (source, key, value) VALUES (?, ?, ?)
                             ON CONFLICT (source, key) DO UPDATE SET value = excluded.value, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')`),
    };
    statements.set(db, s);
  }
  return s;
}

/** Stores messages (idempotent on msgid + content hash) and the cursor after them, atomically. */
export function storeMessages(db: Db, items: IncomingMessage[], cursor?: CursorUpdate): StoreResult {
  return storePrepared(db, items.map(({ raw, parsed, source }) => ({ raw, row: storedForm(parsed), source })), cursor);
}

/**
 * storeMessages for messages already in their stored form: one transaction for the batch and its cursor.
 * NEWLY, when given, gets the items that were stored (not known before), in the order they were stored.
 */
export function storePrepared(db: Db, items: PreparedMessage[], cursor?: CursorUpdate, newly?: PreparedMessage[]): StoreResult {
  const { insert, setCursor } = statementsOf(db);
  let inserted = 0;
  const stored: PreparedMessage[] = [];
  db.transaction(() => {
    for (const item of items) {
      const { raw, row, source } = item;
      const r = insert.run(row.msgid, row.hash, source, row.kind, row.reason, row.date, row.subject, row.sender, raw, row.parsed, row.core);
      inserted += r.changes;
      if (r.changes > 0 && newly) stored.push(item);
    }
    if (cursor) setCursor.run(cursor.source, cursor.key, cursor.value);
  })();
  for (const item of stored) newly!.push(item); // committed: no rolled-back row is reported
  return { inserted, known: items.length - inserted };
}

export function isKnownMessage(db: Db, msgid: string, hash: string): boolean {
  return db.prepare('SELECT 1 FROM messages WHERE msgid = ? AND hash = ?').get(msgid, hash) !== undefined;
}

export function getCursor(db: Db, source: string, key: string): string | null {
  const row = db.prepare('SELECT value FROM cursors WHERE source = ? AND key = ?').get(source, key) as { value: string } | undefined;
  return row ? row.value : null;
}

/** The fields of a ParsedMessage that its core copy leaves out (CoreMessage). */
const NOT_IN_CORE = new Set(['to', 'cc', 'headers', 'dateHeader', 'amText', 'diff']);

/**
 * What the series engine reads of a message (CoreMessage): no text told twice and none of the fields the engine
 * does not read. A patch keeps its trailers and dependencies and says whether it has a diff (the diff text, for
 * patch-ids, is read back from the store), and loses body, message, notes and amText; replies keep their body
 * (follow-up trailers are read from it) with quoted lines cut down to their `>` marks. Loading 10,000 messages
 * this way takes a fraction of the memory.
 */
export function coreOf(m: ParsedMessage): CoreMessage {
  const { amText: _amText, to: _to, cc: _cc, headers: _headers, dateHeader: _dateHeader, diff, ...rest } = m;
  return { ...rest, ...coreText(m), hasDiff: diff !== null && diff !== undefined };
}

/** The text fields of coreOf(m). */
function coreText(m: ParsedMessage): { body: string; message: string; notes: string } {
  if (m.kind === 'patch' || m.kind === 'pull-request') return { body: '', message: '', notes: '' };
  // replies quote whole patches; a quoted line never holds a collected trailer: keep only its `>`
  return { body: m.body.replace(/^(>+).*$/gm, '$1'), message: '', notes: '' };
}

/** Every stored message in arrival order, in full (for `am`, reports and the gates). */
export function loadParsedMessages(db: Db): ParsedMessage[] {
  const out: ParsedMessage[] = [];
  for (const r of db.prepare('SELECT parsed FROM messages ORDER BY seq').pluck().iterate() as Iterable<string>) out.push(decodeParsed(r));
  return out;
}

/**
 * Every stored message in arrival order as the series engine reads it (coreOf). Rows stored before the core
 * copy existed give their full text, and rows stored before it left fields out give those too: the engine
 * does not read them.
 */
export function loadCoreMessages(db: Db): CoreMessage[] {
  const out: CoreMessage[] = [];
  for (const r of db.prepare('SELECT coalesce(core, parsed) FROM messages ORDER BY seq').pluck().iterate() as Iterable<string>) out.push(JSON.parse(r) as CoreMessage);
  return out;
}

/**
 * Reads the diff of the first stored message with a Message-ID (null when it has none or is not stored): the
 * `parsed` JSON keeps each diff once, as it is.
 */
export function diffReader(db: Db): (msgid: string) => string | null {
  const stmt = db.prepare("SELECT json_extract(parsed, '$.diff') FROM messages WHERE msgid = ? ORDER BY seq LIMIT 1").pluck();
  return (msgid) => (stmt.get(msgid) as string | null | undefined) ?? null;
}

export function loadRaw(db: Db, msgid: string): Buffer | null {
  const row = db.prepare('SELECT raw FROM messages WHERE msgid = ? ORDER BY seq LIMIT 1').get(msgid) as { raw: Buffer } | undefined;
  return row ? row.raw : null;
}

export function countMessages(db: Db): number {
  return db.prepare('SELECT count(*) FROM messages').pluck().get() as number;
}
