// What a revision's apply, build and gate jobs need, carried through Redis so that their workers may run on
// machines without the store: the store owner writes one key per revision when it queues the flow (the
// series document, the parsed and raw mail of its cover and patches, the maintainers' overrides), and the
// jobs find it by their series and revision. A run token names this queuing of the revision: outcomes
// reported under another token belong to an earlier run and are not recorded.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ParsedMessage } from '../mail/types.js';
import { baseOverride, skippedGates, treeOverride } from '../report/commands.js';
import type { Series } from '../series/types.js';
import type { Db } from '../store/db.js';
import { loadSeries } from '../store/series.js';
import { decodeParsed } from '../store/messages.js';

export interface RevisionInput {
  /** names this queuing of the revision (a retest queues it again under a new token) */
  token: string;
  seriesId: string;
  version: number;
  /** the series document as the store held it when the flow was queued; null when it was not there */
  series: Series | null;
  /** cover letter and patches by msgid: the parsed message and the raw mail (base64) */
  messages: Record<string, { parsed: ParsedMessage; raw: string | null }>;
  overrides: {
    /** `patchgate: tree X` */
    tree: { tree: string; reason: string } | null;
    /** `patchgate: base <sha>` */
    base: string | null;
    /** `patchgate: skip <gate>`: gate id → the reason to report */
    skipped: Record<string, string>;
  };
}

const INPUT_TTL_S = 7 * 24 * 3600;
const FINISHED_TTL_S = 24 * 3600;

export function newRunToken(): string {
  return randomBytes(6).toString('hex');
}

/** `<prefix>:pipeline:input:<revision>`: the RevisionInput JSON. */
export function inputKey(prefix: string, encodedRevision: string): string {
  return `${prefix}:pipeline:input:${encodedRevision}`;
}

/** `<prefix>:pipeline:run:<revision>`: the run token alone (read by the recorder for every result). */
export function runTokenKey(prefix: string, encodedRevision: string): string {
  return `${prefix}:pipeline:run:${encodedRevision}`;
}

/** `<prefix>:pipeline:outcomes:<revision>`: hash stage → { run, outcome } written by store-less workers. */
export function outcomesKey(prefix: string, encodedRevision: string): string {
  return `${prefix}:pipeline:outcomes:${encodedRevision}`;
}

/** Reads the revision's input from the store (the store owner, at enqueue time). */
export function buildRevisionInput(db: Db, seriesId: string, version: number, token: string): RevisionInput {
  const series = loadSeries(db, seriesId);
  const messages: RevisionInput['messages'] = {};
  if (series) {
    const get = db.prepare('SELECT parsed, raw FROM messages WHERE msgid = ? ORDER BY seq DESC LIMIT 1');
    for (const id of [series.cover, ...series.patches.map((p) => p.msgid)]) {
      if (!id || messages[id]) continue;
      const row = get.get(id) as { parsed: string; raw: Buffer | string | null } | undefined;
      if (!row) continue;
      const raw = row.raw === null ? null : (typeof row.raw === 'string' ? Buffer.from(row.raw, 'utf8') : Buffer.from(row.raw)).toString('base64');
      messages[id] = { parsed: decodeParsed(row.parsed), raw };
    }
  }
  return {
    token, seriesId, version, series, messages,
    overrides: {
      tree: treeOverride(db, seriesId),
      base: baseOverride(db, seriesId),
      skipped: Object.fromEntries(skippedGates(db, seriesId)),
    },
  };
}

/** Writes the input and its run token (one MULTI), and forgets the outcomes of any earlier run. */
export async function writeRevisionInput(redis: Redis, prefix: string, encodedRevision: string, input: RevisionInput): Promise<void> {
  await redis.multi()
    .set(inputKey(prefix, encodedRevision), JSON.stringify(input), 'EX', INPUT_TTL_S)
    .set(runTokenKey(prefix, encodedRevision), input.token, 'EX', INPUT_TTL_S)
    .del(outcomesKey(prefix, encodedRevision))
    .exec();
}

/** A finished run's input and outcomes are kept a day more (a late retry still finds them), then dropped. */
export async function expireRevision(redis: Redis, prefix: string, encodedRevision: string): Promise<void> {
  await redis.multi().expire(inputKey(prefix, encodedRevision), FINISHED_TTL_S).expire(outcomesKey(prefix, encodedRevision), FINISHED_TTL_S).exec();
}

export async function readRevisionInput(redis: Redis, prefix: string, encodedRevision: string): Promise<RevisionInput | null> {
  const json = await redis.get(inputKey(prefix, encodedRevision));
  return json ? (JSON.parse(json) as RevisionInput) : null;
}

/** The parsed messages of the input (what the apply stage used to read from the store). */
export function inputMessages(input: RevisionInput): Map<string, ParsedMessage> {
  return new Map(Object.entries(input.messages).map(([id, m]) => [id, m.parsed]));
}

/** The raw mail of MSGID as text, or null. */
export function inputRaw(input: RevisionInput, msgid: string): string | null {
  const raw = input.messages[msgid]?.raw;
  return raw == null ? null : Buffer.from(raw, 'base64').toString('utf8');
}

/** Where a stage reads its revision's data: the input from Redis, else (a stage run by hand) the store. */
export interface InputSource {
  input?: RevisionInput;
  db?: Db;
  seriesId: string;
}

function noSource(what: string): Error {
  return new Error(`${what}: this stage has neither the revision input nor the store`);
}

/** The parsed messages of MSGIDS that the input (or the store) holds. */
export function sourceMessages(src: InputSource, msgids: string[]): Map<string, ParsedMessage> {
  const out = new Map<string, ParsedMessage>();
  if (src.input) {
    for (const id of msgids) if (src.input.messages[id]) out.set(id, src.input.messages[id].parsed);
    return out;
  }
  if (!src.db) throw noSource('messages');
  const get = src.db.prepare('SELECT parsed FROM messages WHERE msgid = ? ORDER BY seq DESC LIMIT 1').pluck();
  for (const id of msgids) {
    const json = get.get(id) as string | undefined;
    if (json) out.set(id, decodeParsed(json));
  }
  return out;
}

/** The raw mail of MSGID as text, or null. */
export function sourceRaw(src: InputSource, msgid: string): string | null {
  if (src.input) return inputRaw(src.input, msgid);
  if (!src.db) throw noSource('raw mail');
  const row = src.db.prepare('SELECT raw FROM messages WHERE msgid = ? ORDER BY seq DESC LIMIT 1').pluck().get(msgid) as Buffer | string | undefined;
  if (row === undefined) return null;
  return typeof row === 'string' ? row : Buffer.from(row).toString('utf8');
}

export function sourceTreeOverride(src: InputSource): { tree: string; reason: string } | null {
  if (src.input) return src.input.overrides.tree;
  if (!src.db) throw noSource('tree override');
  return treeOverride(src.db, src.seriesId);
}

export function sourceBaseOverride(src: InputSource): string | null {
  if (src.input) return src.input.overrides.base;
  if (!src.db) throw noSource('base override');
  return baseOverride(src.db, src.seriesId);
}

export function sourceSkippedGates(src: InputSource): Map<string, string> {
  if (src.input) return new Map(Object.entries(src.input.overrides.skipped));
  if (!src.db) throw noSource('skipped gates');
  return skippedGates(src.db, src.seriesId);
}
