// A local mbox file or maildir folder as a source: new mail appended to the mbox (cursor: byte offset
// plus a fingerprint of the file's start, so a replaced or truncated file is read again) or delivered to
// the maildir (cursor: the last file name in delivery order).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { sourceSchema } from '../settings/schema.js';
import { getCursor } from '../store/messages.js';
import { ingestInputs } from './ingest.js';
import type { RawInput } from './inputs.js';
import { splitMbox } from './mbox.js';
import type { PollContext, PollResult, SourceDefinition } from './source-kit.js';

interface MboxCursor {
  offset: number;
  /** sha256 of the first min(offset, 4096) bytes */
  head: string;
}

function headHash(buf: Buffer, upTo: number): string {
  return createHash('sha256').update(buf.subarray(0, Math.min(upTo, 4096))).digest('hex');
}

async function* fromList(items: RawInput[]): AsyncGenerator<RawInput> {
  yield* items;
}

export async function pollMbox(ctx: PollContext<Extract<PollContext['source'], { type: 'mbox' }>>): Promise<PollResult> {
  const { db, source, log } = ctx;
  if (!existsSync(source.path)) throw new Error(`${source.path}: no such file`);
  const buf = readFileSync(source.path);
  const saved = getCursor(db, source.name, 'offset');
  let start = 0;
  if (saved) {
    const c = JSON.parse(saved) as MboxCursor;
    if (c.offset <= buf.length && headHash(buf, c.offset) === c.head) start = c.offset;
    else log.warn({ path: source.path }, 'mbox was replaced or truncated: reading it again from the start');
  }
  if (start === buf.length) return { read: 0, inserted: 0, known: 0 };
  const msgs = splitMbox(buf.subarray(start));
  const inputs = msgs.map((raw, i) => ({ raw, source: `${source.name}:${source.path}@${start}#${i + 1}` }));
  const last = inputs[inputs.length - 1];
  const cursor: MboxCursor = { offset: buf.length, head: headHash(buf, buf.length) };
  // one cursor, written with the batch holding the last message: a crash before it re-reads (the store dedupes)
  const stats = await ingestInputs(db, fromList(inputs), ctx.ingest, (l) =>
    l === last ? { source: source.name, key: 'offset', value: JSON.stringify(cursor) } : undefined,
  );
  return stats;
}

function baseName(file: string): string {
  const name = path.basename(file);
  const colon = name.indexOf(':');
  return colon === -1 ? name : name.slice(0, colon);
}

/** Files of new/ and cur/ in delivery order (maildir names start with the delivery time). */
function maildirFiles(dir: string): string[] {
  const files: string[] = [];
  for (const sub of ['new', 'cur']) {
    const d = path.join(dir, sub);
    if (!existsSync(d)) continue;
    for (const name of readdirSync(d)) {
      const full = path.join(d, name);
      if (statSync(full).isFile()) files.push(full);
    }
  }
  return files.sort((a, b) => (baseName(a) < baseName(b) ? -1 : baseName(a) > baseName(b) ? 1 : 0));
}

export async function pollMaildir(ctx: PollContext<Extract<PollContext['source'], { type: 'maildir' }>>): Promise<PollResult> {
  const { db, source } = ctx;
  if (!existsSync(source.path)) throw new Error(`${source.path}: no such directory`);
  const after = getCursor(db, source.name, 'last');
  const files = maildirFiles(source.path).filter((f) => after === null || baseName(f) > after);
  const inputs = files.map((f) => ({ raw: readFileSync(f), source: `${source.name}:${f}` }));
  return ingestInputs(db, fromList(inputs), ctx.ingest, (l) => ({ source: source.name, key: 'last', value: baseName(l.source) }));
}

function schemaOf(type: 'mbox' | 'maildir') {
  return sourceSchema.options.find((o) => o.shape.type.value === type)!;
}

export const mboxSource: SourceDefinition<'mbox'> = { type: 'mbox', schema: schemaOf('mbox'), defaultInterval: 60, poll: pollMbox };
export const maildirSource: SourceDefinition<'maildir'> = { type: 'maildir', schema: schemaOf('maildir'), defaultInterval: 60, poll: pollMaildir };
