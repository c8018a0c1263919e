// What every ingest source shares: the poll context and result, durations, HTTP with retries and backoff.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ZodType } from 'zod';
import type { Logger } from '../log.js';
import type { Settings, SourceSettings } from '../settings/schema.js';
import type { Db } from '../store/db.js';
import type { IngestOptions } from './ingest.js';

export type SourceType = SourceSettings['type'];
export type SourceOf<T extends SourceType> = Extract<SourceSettings, { type: T }>;

export interface PollContext<S extends SourceSettings = SourceSettings> {
  db: Db;
  source: S;
  /** the whole configuration (the GitHub source reads `github:`) */
  settings: Settings;
  /** a directory of this source's own (mirrors, state), under work_dir */
  workDir: string;
  log: Logger;
  /** parser and batching for ingestInputs */
  ingest: IngestOptions;
  fetch: typeof fetch;
  signal?: AbortSignal;
}

export interface PollResult {
  /** messages read from the source this pass */
  read: number;
  /** of those, new to the store */
  inserted: number;
  /** already stored (seen before, from this or another source) */
  known: number;
  /** a short note for the log (epochs, pages, gaps) */
  note?: string;
}

/** One entry of the source registry (src/ingest/sources.ts). */
export interface SourceDefinition<T extends SourceType = SourceType> {
  type: T;
  /** the settings schema of this source type (validated with the rest of the configuration) */
  schema: ZodType;
  /** seconds between polls when the configuration gives no `interval` */
  defaultInterval: number;
  poll(ctx: PollContext<SourceOf<T>>): Promise<PollResult>;
}

export function emptyResult(): PollResult {
  return { read: 0, inserted: 0, known: 0 };
}

export function addResult(a: PollResult, b: { read: number; inserted: number; known: number }): PollResult {
  return { ...a, read: a.read + b.read, inserted: a.inserted + b.inserted, known: a.known + b.known };
}

/** `90` (seconds), `90s`, `5m`, `24h`, `2d`, `500ms` → milliseconds. */
export function durationMs(value: number | string | undefined, fallbackSeconds: number): number {
  if (value === undefined) return fallbackSeconds * 1000;
  if (typeof value === 'number') return value * 1000;
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(value.trim());
  if (!m) throw new Error(`not a duration: ${value}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return parseFloat(m[1]) * unit;
}

/** Raised for an HTTP answer that retrying will not fix (4xx other than 429), or after the last retry. */
export class HttpError extends Error {
  constructor(public readonly url: string, public readonly status: number, message: string) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface RetryOptions {
  retries?: number;
  /** first backoff in ms, doubled after each failure */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** statuses worth retrying */
  retryOn?: number[];
  log?: Logger;
  signal?: AbortSignal;
}

const RETRY_STATUSES = [429, 500, 502, 503, 504];

/**
 * fetch with retries on network errors and on 429/5xx, with exponential backoff (Retry-After honoured).
 * Any other answer (2xx, 304, 4xx) is returned to the caller to judge.
 */
export async function fetchWithRetry(fetchFn: typeof fetch, url: string, init: RequestInit = {}, opts: RetryOptions = {}): Promise<Response> {
  const retries = opts.retries ?? 4;
  const retryOn = opts.retryOn ?? RETRY_STATUSES;
  let backoff = opts.backoffMs ?? 500;
  const maxBackoff = opts.maxBackoffMs ?? 30_000;
  for (let attempt = 0; ; attempt++) {
    let res: Response | null = null;
    let failure: string;
    try {
      res = await fetchFn(url, { ...init, signal: opts.signal ?? init.signal });
      if (!retryOn.includes(res.status)) return res;
      failure = `HTTP ${res.status}`;
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      failure = (err as Error).message;
    }
    if (attempt >= retries) {
      throw new HttpError(url, res?.status ?? 0, `${url}: ${failure} after ${attempt + 1} attempts`);
    }
    let wait = backoff;
    const retryAfter = res?.headers.get('retry-after');
    if (retryAfter && /^\d+$/.test(retryAfter)) wait = Math.max(wait, parseInt(retryAfter, 10) * 1000);
    wait = Math.min(wait, maxBackoff);
    opts.log?.warn({ url: redactUrl(url), failure, attempt: attempt + 1, wait }, 'request failed, retrying');
    await res?.body?.cancel().catch(() => undefined);
    await sleep(wait, undefined, { signal: opts.signal });
    backoff = Math.min(backoff * 2, maxBackoff);
  }
}

/** A URL without its password, for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '[secret]';
    return u.toString();
  } catch {
    return url;
  }
}

/** Is a message with this Message-ID already stored? */
export function hasMessage(db: Db, msgid: string): boolean {
  return db.prepare('SELECT 1 FROM messages WHERE msgid = ? LIMIT 1').get(msgid) !== undefined;
}
