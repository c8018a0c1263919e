// The outbox: a reply is written as a row in the same SQLite transaction as the verdict, and a sender
// delivers pending rows. Sent once, never twice:
//
//   pending ──claim──▶ sending ──(message fully handed to SMTP, before the final ".")──▶ committing ──250──▶ sent
//
// The switch to `committing` is written synchronously when the transport has read the whole message,
// before the SMTP end-of-data marker can be written. So:
//   - a sender that dies in `sending` never finished the SMTP DATA: the server dropped the transaction
//     (RFC 5321 §4.1.1.4), and the row goes back to pending and is sent again (same Message-ID);
//   - a sender that dies in `committing` may or may not have had the message accepted: the row becomes
//     `unknown`. The window is wider than the final reply's round trip: nodemailer reads the message ahead,
//     with PIPELINING right after writing MAIL/RCPT/DATA, before the server answered any of them and before
//     a byte of content went out; a kill there leaves an `unknown` row that was never delivered (the one
//     report lost in 50 in the last at-most-once measurement). A non-2xx SMTP answer after the mark is not
//     uncertain (the server refused the message): it is retried or failed like any other.
//   - `unknown` rows are resolved by a delivery check, when the list has an archive lookup configured
//     (reply.per_list.<list>.archive, public-inbox's `<url>/<msgid>/raw`): found → `sent`, with the evidence
//     in `result`; still absent once the grace period after the hand-over has passed → `pending`, resent with
//     the same Message-ID (checkUncertain). Without a lookup the row stays `unknown` and is NOT resent
//     (at-most-once: on a list a duplicate reply is worse than a missing one); an operator can requeue it.
// A reply held as `dry-run` (its list not enabled for sending) goes out once a maintainer approves it
// (approveHeldReply: dry-run → pending).
// A claim names its sender (pid@host#token); recovery only touches claims whose process is gone.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { Readable } from 'node:stream';
import nodemailer, { type Transporter } from 'nodemailer';
import { logger } from '../log.js';
import { resolveSecret } from '../settings/load.js';
import type { ReplySettings, Settings } from '../settings/schema.js';
import type { Db } from '../store/db.js';
import type { ReportContext } from './context.js';
import { buildReplyMail, composeRaw, envelopeOf, parseAddress, type MailPayload } from './mail.js';
import { archiveLookup, decideReply, effectivePolicy, type ArchiveLookup, type Decision } from './policy.js';

export type OutboxState = 'pending' | 'sending' | 'committing' | 'sent' | 'dry-run' | 'skipped' | 'failed' | 'unknown';

export interface OutboxRow {
  id: number;
  message_id: string;
  series_id: string;
  version: number;
  channel: string;
  recipients: string;
  payload: string;
  state: OutboxState;
  attempts: number;
  result: string | null;
  created_at: string;
  sent_at: string | null;
  verdict: string | null;
  list: string | null;
  submitter: string | null;
  not_before: string | null;
  claimed_by: string | null;
  /** who approved a held (dry-run) reply, and when (migration 12) */
  approved_by?: string | null;
  approved_at?: string | null;
}

const log = logger.child({ module: 'report' });

/** The list a series was posted to: the first configured list among the addresses of its cover (or patch 1). */
export function replyList(ctx: ReportContext, settings: Settings): string | null {
  const known = new Set<string>([
    ...settings.reply.lists, ...Object.keys(settings.reply.per_list), ...settings.trees.flatMap((t) => t.lists),
  ].map((l) => l.toLowerCase()));
  for (const p of [...ctx.thread.to, ...ctx.thread.cc]) {
    if (known.has(p.email.toLowerCase())) return p.email.toLowerCase();
  }
  const listId = ctx.thread.list_id?.replace(/^.*</, '').replace(/>.*$/, '').toLowerCase();
  if (listId) {
    for (const l of known) if (l.replace('@', '.') === listId) return l;
  }
  return null;
}

export interface QueueResult {
  decision: Decision;
  /** the outbox row written (null when the decision was `none`) */
  row: OutboxRow | null;
}

function windowStart(now: Date, minutes: number): string {
  return new Date(now.getTime() - minutes * 60_000).toISOString();
}

/**
 * Decides by the reply policy and writes the mail row for a verdict. Call it inside the transaction that
 * stores the verdict (it nests as a savepoint): the verdict and its reply are stored together or not at all.
 */
export function queueReport(db: Db, ctx: ReportContext, settings: Settings, opts: { now?: Date } = {}): QueueResult {
  const now = opts.now ?? new Date();
  const list = replyList(ctx, settings);
  const own = parseAddress(settings.smtp.from).email;
  // IMMEDIATE: the rate-limit counts and the insert are one serialised step across processes
  return db.transaction((): QueueResult => {
    // (rows without a verdict are answers to commands by mail, src/report/commands.ts)
    const previousVerdict = db.prepare(`SELECT verdict FROM outbox WHERE series_id = ? AND version = ? AND channel = 'mail'
        AND state != 'skipped' AND verdict IS NOT NULL ORDER BY id DESC LIMIT 1`).pluck().get(ctx.series.id, ctx.series.version) as string | undefined;
    const policy = effectivePolicy(settings.reply, list);
    const since = windowStart(now, policy.rate_limit.window_minutes);
    const counted = `channel = 'mail' AND state NOT IN ('skipped', 'failed') AND created_at >= ?`;
    const recentList = list ? db.prepare(`SELECT count(*) FROM outbox WHERE ${counted} AND list = ?`).pluck().get(since, list) as number : 0;
    const submitter = ctx.series.submitter.email.toLowerCase();
    const recentSubmitter = db.prepare(`SELECT count(*) FROM outbox WHERE ${counted} AND submitter = ?`).pluck().get(since, submitter) as number;
    const decision = decideReply({
      verdict: ctx.verdict, incomplete: ctx.incomplete, thread: ctx.thread, list, reply: settings.reply, ownAddress: own, now,
      previousVerdict: previousVerdict ?? null, recent: { list: recentList, submitter: recentSubmitter },
    });
    const rlog = log.child({ series: ctx.series.id, rev: ctx.series.version });
    if (decision.action === 'none') {
      rlog.debug({ reason: decision.reason }, 'no reply');
      return { decision, row: null };
    }
    const payload = buildReplyMail(ctx, { from: settings.smtp.from, cc: decision.action === 'queue' ? decision.cc : [] });
    const state: OutboxState = decision.action === 'skip' ? 'skipped' : decision.state;
    const info = db.prepare(`INSERT INTO outbox (message_id, series_id, version, channel, recipients, payload, state, result,
          created_at, verdict, list, submitter, not_before)
        VALUES (@message_id, @series_id, @version, 'mail', @recipients, @payload, @state, @result, @created_at, @verdict, @list, @submitter, @not_before)
        ON CONFLICT (message_id) DO NOTHING`).run({
      message_id: payload.messageId, series_id: ctx.series.id, version: ctx.series.version,
      recipients: JSON.stringify(envelopeOf(payload).to), payload: JSON.stringify(payload), state,
      result: JSON.stringify({ reason: decision.reason }), created_at: now.toISOString(), verdict: ctx.verdict, list, submitter,
      not_before: decision.action === 'queue' && decision.notBefore ? decision.notBefore.toISOString() : null,
    });
    if (info.changes === 0) {
      rlog.info({ msgid: payload.messageId }, 'reply already in the outbox');
      return { decision: { action: 'none', reason: 'already in the outbox' }, row: null };
    }
    rlog.info({ msgid: payload.messageId, state, reason: decision.reason }, 'reply queued');
    const row = db.prepare('SELECT * FROM outbox WHERE id = ?').get(info.lastInsertRowid) as OutboxRow;
    return { decision, row };
  }).immediate();
}

/** `patchgate run`'s `reply` field: the newest mail row of a revision that is, or was to be, sent. */
export function replySummary(db: Db, seriesId: string, version: number): { msgid: string; to: string[]; sent: boolean } | null {
  const row = db.prepare(`SELECT message_id, recipients, state FROM outbox WHERE series_id = ? AND version = ? AND channel = 'mail'
      AND state != 'skipped' AND verdict IS NOT NULL ORDER BY id DESC LIMIT 1`).get(seriesId, version) as { message_id: string; recipients: string; state: string } | undefined;
  if (!row) return null;
  return { msgid: row.message_id, to: JSON.parse(row.recipients) as string[], sent: row.state === 'sent' };
}

/** This process's claim on outbox rows (pid@host#token): recoverOutbox leaves the claims of live senders alone. */
export const PROCESS_TOKEN = `${process.pid}@${os.hostname()}#${randomBytes(4).toString('hex')}`;

function claimAlive(claim: string | null): boolean {
  if (!claim) return false;
  const m = /^(\d+)@(.*)#(\w+)$/.exec(claim);
  if (!m) return false;
  if (m[2] !== os.hostname()) return true; // another host's sender: not ours to judge
  const pid = Number(m[1]);
  if (pid === process.pid) return claim === PROCESS_TOKEN;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the list itself was among the envelope recipients (RECIPIENTS: the row's JSON array). */
function sentToList(recipients: string, list: string | null): boolean {
  if (!list) return false;
  try {
    return (JSON.parse(recipients) as string[]).some((r) => r.toLowerCase() === list.toLowerCase());
  } catch {
    return false;
  }
}

/**
 * The lookup configured for a row's list (none without reply settings: at-most-once). Only a reply that went
 * to the list can be found in its archive: one sent to the submitter alone has no lookup, whatever is set.
 */
function lookupFor(reply: ReplySettings | undefined, row: { list: string | null; recipients: string }): ArchiveLookup | null {
  return reply && sentToList(row.recipients, row.list) ? archiveLookup(reply, row.list) : null;
}

function parseResult(result: string | null): Record<string, unknown> {
  try {
    const v = result ? JSON.parse(result) as unknown : null;
    return v && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : {};
  } catch {
    return {};
  }
}

/** How an uncertain row is to be resolved, for its `result` and the log. */
function uncertainNote(lookup: ArchiveLookup | null, list: string | null): string {
  return lookup
    ? `to be looked up in ${lookup.url} before any resend`
    : `no archive lookup for ${list ?? 'this reply\'s list'} (none configured in reply.per_list.<list>.archive, or the list was not a recipient): not resent (at-most-once)`;
}

/**
 * Recovers rows whose sender died: `sending` back to pending (the SMTP transaction never completed),
 * `committing` to unknown (maybe delivered). An unknown row of a list with an archive lookup is due for
 * checkUncertain at once; without one it stays unknown (at-most-once).
 */
export function recoverOutbox(db: Db, opts: { reply?: ReplySettings; now?: Date } = {}): { requeued: number; unknown: number } {
  const now = opts.now ?? new Date();
  const rows = db.prepare(`SELECT id, state, claimed_by, message_id, list, recipients, result FROM outbox WHERE state IN ('sending', 'committing')`).all() as
    { id: number; state: string; claimed_by: string | null; message_id: string; list: string | null; recipients: string; result: string | null }[];
  let requeued = 0;
  let unknown = 0;
  for (const r of rows) {
    if (claimAlive(r.claimed_by)) continue;
    if (r.state === 'sending') {
      requeued += db.prepare(`UPDATE outbox SET state = 'pending', claimed_by = NULL WHERE id = ? AND state = 'sending'`).run(r.id).changes;
      log.warn({ msgid: r.message_id }, 'sender died before the end of SMTP DATA: requeued');
    } else {
      const lookup = lookupFor(opts.reply, r);
      const note = uncertainNote(lookup, r.list);
      const result = { ...parseResult(r.result), error: 'sender died after handing the message over, before the SMTP reply was recorded', unknown_at: now.toISOString(), next: note };
      unknown += db.prepare(`UPDATE outbox SET state = 'unknown', claimed_by = NULL, result = ?, not_before = ? WHERE id = ? AND state = 'committing'`)
        .run(JSON.stringify(result), lookup ? now.toISOString() : null, r.id).changes;
      log.warn({ msgid: r.message_id, list: r.list }, `sender died while the SMTP server had the message: marked unknown, ${note}`);
    }
  }
  return { requeued, unknown };
}

/** What the list archive says of a Message-ID: archived, not (yet) archived, or no answer. */
export type ArchiveAnswer =
  | { found: true; url: string; status: number }
  | { found: false; url: string; status: number }
  | { found: null; url: string; error: string };

/** public-inbox's raw-message URL for MSGID (angle brackets dropped, the id percent-encoded but for @). */
export function archiveRawUrl(inboxUrl: string, msgid: string): string {
  const bare = msgid.trim().replace(/^</, '').replace(/>$/, '');
  return `${inboxUrl.replace(/\/+$/, '')}/${encodeURIComponent(bare).replace(/%40/g, '@')}/raw`;
}

/**
 * Looks MSGID up in a public-inbox archive: 200 with that Message-ID in the raw message = archived,
 * 404 = not archived; anything else (other statuses, network errors, a 200 for another message) = no answer.
 */
export async function lookupArchive(inboxUrl: string, msgid: string, timeoutMs = 15_000): Promise<ArchiveAnswer> {
  const url = archiveRawUrl(inboxUrl, msgid);
  try {
    const res = await fetch(url, { redirect: 'follow', signal: AbortSignal.timeout(timeoutMs) });
    if (res.status === 404) {
      await res.body?.cancel();
      return { found: false, url, status: 404 };
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      return { found: null, url, error: `HTTP ${res.status}` };
    }
    const text = await res.text();
    const bare = msgid.trim().replace(/^</, '').replace(/>$/, '').toLowerCase();
    const has = text.split(/\r?\n\r?\n/, 2)[0].split(/\r?\n(?![ \t])/).some((h) => {
      const m = /^message-id:\s*<?([^>\s]+)>?/i.exec(h.replace(/\r?\n[ \t]+/g, ' '));
      return m !== null && m[1].toLowerCase() === bare;
    });
    return has ? { found: true, url, status: 200 } : { found: null, url, error: 'HTTP 200 for a message with another Message-ID' };
  } catch (err) {
    return { found: null, url, error: (err as Error).message };
  }
}

export interface CheckSummary {
  /** found in the archive: now sent */
  delivered: number;
  /** not archived after the grace period: pending again (same Message-ID) */
  resend: number;
  /** not archived yet, or no answer: looked up again later */
  waiting: number;
}

/**
 * Resolves `unknown` mail rows (SMTP outcome uncertain) whose list has an archive lookup: archived → `sent`
 * with the evidence in `result`; absent once the grace period after the hand-over has passed → `pending`,
 * sent again with the same Message-ID; otherwise looked up again after `recheck`. Rows of lists without a
 * lookup are left unknown (at-most-once).
 */
export async function checkUncertain(db: Db, reply: ReplySettings, opts: { now?: () => Date; timeoutMs?: number } = {}): Promise<CheckSummary> {
  const now = opts.now ?? (() => new Date());
  const summary: CheckSummary = { delivered: 0, resend: 0, waiting: 0 };
  const rows = db.prepare(`SELECT id, message_id, list, recipients, result, created_at FROM outbox WHERE channel = 'mail' AND state = 'unknown'
      AND (not_before IS NULL OR not_before <= ?) ORDER BY id`).all(now().toISOString()) as
    Pick<OutboxRow, 'id' | 'message_id' | 'list' | 'recipients' | 'result' | 'created_at'>[];
  for (const r of rows) {
    const lookup = lookupFor(reply, r);
    if (!lookup) continue;
    const rlog = log.child({ msgid: r.message_id, list: r.list });
    const prev = parseResult(r.result);
    const handedOver = Date.parse(String(prev.handed_over_at ?? prev.unknown_at ?? r.created_at));
    const answer = await lookupArchive(lookup.url, r.message_id, opts.timeoutMs);
    const at = now();
    const checked = { url: answer.url, checked_at: at.toISOString() };
    if (answer.found === true) {
      const result = { delivered: 'found in the list archive', ...checked, status: answer.status, smtp: prev };
      if (db.prepare(`UPDATE outbox SET state = 'sent', sent_at = ?, not_before = NULL, result = ? WHERE id = ? AND state = 'unknown'`)
        .run(at.toISOString(), JSON.stringify(result), r.id).changes === 1) {
        summary.delivered++;
        rlog.info({ url: answer.url }, 'reply of unknown outcome found in the list archive: sent');
      }
      continue;
    }
    const graceEnd = handedOver + lookup.graceMs;
    if (answer.found === false && at.getTime() >= graceEnd) {
      const result = { resend: `not in the list archive ${Math.round((at.getTime() - handedOver) / 1000)} s after the hand-over`, ...checked, previous: prev };
      if (db.prepare(`UPDATE outbox SET state = 'pending', not_before = NULL, result = ? WHERE id = ? AND state = 'unknown'`)
        .run(JSON.stringify(result), r.id).changes === 1) {
        summary.resend++;
        rlog.warn({ url: answer.url }, 'reply of unknown outcome not in the list archive after the grace period: sending it again (same Message-ID)');
      }
      continue;
    }
    const next = answer.found === false ? Math.min(graceEnd, at.getTime() + lookup.recheckMs) : at.getTime() + lookup.recheckMs;
    const result = { ...prev, last_lookup: answer.found === false ? { ...checked, status: 404 } : { ...checked, error: answer.error } };
    db.prepare(`UPDATE outbox SET not_before = ?, result = ? WHERE id = ? AND state = 'unknown'`)
      .run(new Date(Math.max(next, at.getTime() + 1)).toISOString(), JSON.stringify(result), r.id);
    summary.waiting++;
    if (answer.found === null) rlog.warn({ url: answer.url, err: answer.error }, 'list archive lookup failed: will look again');
    else rlog.info({ url: answer.url, until: new Date(graceEnd).toISOString() }, 'reply not in the list archive yet: waiting out the grace period');
  }
  return summary;
}

/** The settings approveHeldReply checks when its caller passes none: those of this process's sender. */
let processSettings: Pick<Settings, 'smtp' | 'reply'> | null = null;

/** Records the settings this process sends with (the daemon's sender, `patchgate outbox`), for approveHeldReply. */
export function configureOutbox(settings: Pick<Settings, 'smtp' | 'reply'> | null): void {
  processSettings = settings;
}

/** Why mail cannot go out at all under SETTINGS, or null when it can. */
function sendingBlocked(settings: Pick<Settings, 'smtp' | 'reply'> | null): string | null {
  if (!settings) return 'no SMTP transport is configured in this process';
  let url: URL;
  try {
    url = new URL(settings.smtp.url);
  } catch {
    return `no SMTP transport is configured (smtp.url ${JSON.stringify(settings.smtp.url)} is not a URL)`;
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') return `no SMTP transport is configured (smtp.url is ${url.protocol} not smtp: or smtps:)`;
  if (!url.hostname) return 'no SMTP transport is configured (smtp.url names no host)';
  if (settings.reply.mode !== 'send') return 'sending is off (reply.mode is dry-run)';
  return null;
}

/**
 * A maintainer approves a reply held in the outbox (state `dry-run`: its list is not enabled for sending):
 * the row becomes `pending`, with who approved it and when, and the sender delivers it like any pending
 * row (same Message-ID, same exactly-once handling). Refused, with the reason, for any other state, and
 * when mail cannot go out at all (no SMTP transport, or reply.mode dry-run). SETTINGS default to those
 * registered with configureOutbox.
 */
export function approveHeldReply(db: Db, id: number, by: string,
  settings: Pick<Settings, 'smtp' | 'reply'> | null = processSettings, now: Date = new Date()): { ok: true } | { ok: false; reason: string } {
  const who = by.trim();
  if (!who) return { ok: false, reason: 'an approval must name who approves' };
  const row = db.prepare(`SELECT id, state, channel, message_id FROM outbox WHERE id = ?`).get(id) as
    Pick<OutboxRow, 'id' | 'state' | 'channel' | 'message_id'> | undefined;
  if (!row) return { ok: false, reason: `no outbox row ${id}` };
  if (row.state !== 'dry-run') return { ok: false, reason: `row ${id} is ${row.state}, not a held (dry-run) reply` };
  if (row.channel !== 'mail') return { ok: false, reason: `row ${id} is a ${row.channel} report, not mail` };
  const blocked = sendingBlocked(settings);
  if (blocked) return { ok: false, reason: blocked };
  const changed = db.prepare(`UPDATE outbox SET state = 'pending', not_before = NULL, approved_by = ?, approved_at = ?
      WHERE id = ? AND state = 'dry-run'`).run(who, now.toISOString(), id).changes;
  if (changed !== 1) return { ok: false, reason: `row ${id} changed state meanwhile` };
  log.info({ msgid: row.message_id, by: who }, 'held reply approved: queued for sending');
  return { ok: true };
}

/** Sends an `unknown` or `failed` row again (operator decision); it keeps its Message-ID. */
export function requeueOutbox(db: Db, id: number): boolean {
  return db.prepare(`UPDATE outbox SET state = 'pending', not_before = NULL WHERE id = ? AND state IN ('unknown', 'failed')`).run(id).changes === 1;
}

export interface SendHooks {
  /** after the row is claimed (state sending), before connecting */
  afterClaim?(row: OutboxRow): void;
  /** when the transport starts reading the message (SMTP DATA under way, nothing marked yet) */
  duringData?(row: OutboxRow): void;
  /** after the row is marked committing, before the end-of-data marker can go out */
  afterCommitMark?(row: OutboxRow): void;
  /** after the SMTP server accepted the message, before the row is marked sent */
  afterAccept?(row: OutboxRow): void;
}

export interface SendOptions {
  now?: () => Date;
  /** most rows per call */
  limit?: number;
  /** attempts before a transient failure becomes `failed` */
  maxAttempts?: number;
  hooks?: SendHooks;
  /** the reply settings: their per-list archive lookups resolve rows of unknown outcome (without: at-most-once) */
  reply?: ReplySettings;
}

export interface SendSummary {
  sent: number;
  failed: number;
  retry: number;
  unknown: number;
  recovered: { requeued: number; unknown: number };
  /** rows of unknown outcome looked up in their list archive (null without reply settings) */
  checked: CheckSummary | null;
}

function backoffMs(attempts: number): number {
  return Math.min(60_000 * 2 ** (attempts - 1), 6 * 3600_000);
}

/** A one-shot stream of RAW that marks the row committing just before it reports its end. */
function committingStream(raw: Buffer, onStart: () => void, onEnd: () => void): Readable {
  let pushed = false;
  return new Readable({
    read() {
      if (!pushed) {
        pushed = true;
        try {
          onStart();
        } catch (err) {
          this.destroy(err as Error);
          return;
        }
        this.push(raw);
        return;
      }
      try {
        onEnd();
      } catch (err) {
        this.destroy(err as Error);
        return;
      }
      this.push(null);
    },
  });
}

/**
 * Sends the pending mail rows that are due, one SMTP transaction each. Never sends dry-run rows. First
 * recovers rows of dead senders and, with `opts.reply`, looks up rows of unknown outcome in their list archive.
 */
export async function sendOutbox(db: Db, transport: Transporter, opts: SendOptions = {}): Promise<SendSummary> {
  const now = opts.now ?? (() => new Date());
  const maxAttempts = opts.maxAttempts ?? 5;
  const hooks = opts.hooks ?? {};
  const recovered = recoverOutbox(db, { reply: opts.reply, now: now() });
  const checked = opts.reply ? await checkUncertain(db, opts.reply, { now }) : null;
  const summary: SendSummary = { sent: 0, failed: 0, retry: 0, unknown: 0, recovered, checked };
  const due = db.prepare(`SELECT * FROM outbox WHERE channel = 'mail' AND state = 'pending' AND (not_before IS NULL OR not_before <= ?)
      ORDER BY id LIMIT ?`).all(now().toISOString(), opts.limit ?? 100) as OutboxRow[];
  const claim = db.prepare(`UPDATE outbox SET state = 'sending', claimed_by = ?, attempts = attempts + 1 WHERE id = ? AND state = 'pending'`);
  // the hand-over time starts the archive lookup's grace period
  const markCommitting = db.prepare(`UPDATE outbox SET state = 'committing', result = json_set(CASE WHEN json_valid(result) THEN result ELSE '{}' END, '$.handed_over_at', ?)
      WHERE id = ? AND state = 'sending' AND claimed_by = ?`);
  const markSent = db.prepare(`UPDATE outbox SET state = 'sent', claimed_by = NULL, result = ?, sent_at = ? WHERE id = ? AND claimed_by = ?`);
  const markEnd = db.prepare(`UPDATE outbox SET state = ?, claimed_by = NULL, result = ?, not_before = ? WHERE id = ? AND claimed_by = ?`);
  for (const candidate of due) {
    if (claim.run(PROCESS_TOKEN, candidate.id).changes !== 1) continue;
    const row = db.prepare('SELECT * FROM outbox WHERE id = ?').get(candidate.id) as OutboxRow;
    const rlog = log.child({ series: row.series_id, rev: row.version, msgid: row.message_id });
    hooks.afterClaim?.(row);
    const payload = JSON.parse(row.payload) as MailPayload;
    let committing: string | null = null;
    try {
      const raw = await composeRaw(payload, now());
      const stream = committingStream(raw, () => hooks.duringData?.(row), () => {
        const at = now().toISOString();
        if (markCommitting.run(at, row.id, PROCESS_TOKEN).changes !== 1) throw new Error('outbox row lost its claim');
        committing = at;
        hooks.afterCommitMark?.(row);
      });
      const info = await transport.sendMail({ envelope: envelopeOf(payload), raw: stream });
      hooks.afterAccept?.(row);
      const before = parseResult(row.result);
      markSent.run(JSON.stringify({ response: info.response ?? null, accepted: info.accepted ?? null, rejected: info.rejected ?? null, envelope: info.envelope ?? null,
        ...(before.resend ? { resent: before.resend } : {}), ...(row.approved_by ? { approved_by: row.approved_by } : {}) }), now().toISOString(), row.id, PROCESS_TOKEN);
      summary.sent++;
      rlog.info({ to: envelopeOf(payload).to }, 'reply sent');
    } catch (err) {
      const e = err as Error & { responseCode?: number; code?: string };
      const result = { error: e.message, code: e.code ?? null, responseCode: e.responseCode ?? null };
      // A reply code is the server's answer: a non-2xx answer (to MAIL, RCPT, DATA or the final ".") means it
      // did not take the message, even after the row was marked committing (the mark is written as soon as
      // nodemailer has read the whole message, which can be before the envelope is answered). Only silence is
      // uncertain.
      if (committing && e.responseCode === undefined) {
        const lookup = lookupFor(opts.reply, row);
        const note = uncertainNote(lookup, row.list);
        markEnd.run('unknown', JSON.stringify({ ...result, handed_over_at: committing, unknown_at: now().toISOString(), next: note }),
          lookup ? now().toISOString() : null, row.id, PROCESS_TOKEN);
        summary.unknown++;
        rlog.warn({ err: e.message }, `no SMTP answer after the message was handed over: marked unknown, ${note}`);
      } else if ((e.responseCode !== undefined && e.responseCode >= 500) || row.attempts >= maxAttempts) {
        markEnd.run('failed', JSON.stringify(result), null, row.id, PROCESS_TOKEN);
        summary.failed++;
        rlog.error({ err: e.message, attempts: row.attempts }, 'reply failed');
      } else {
        markEnd.run('pending', JSON.stringify(result), new Date(now().getTime() + backoffMs(row.attempts)).toISOString(), row.id, PROCESS_TOKEN);
        summary.retry++;
        rlog.warn({ err: e.message, attempts: row.attempts }, 'reply not sent: will retry');
      }
    }
  }
  return summary;
}

/** The SMTP transport from `smtp.url` (a password written as env:NAME is read from the environment). */
export function createMailTransport(settings: Settings, env: NodeJS.ProcessEnv = process.env): Transporter {
  const url = new URL(settings.smtp.url);
  if (url.password) url.password = encodeURIComponent(resolveSecret(decodeURIComponent(url.password), env) ?? '');
  // bounded waits: a foreground `patchgate run` must not hang on an unreachable server (rows stay pending)
  return nodemailer.createTransport({ url: url.toString(), connectionTimeout: 15_000, greetingTimeout: 15_000, socketTimeout: 60_000 });
}

/** Whether any mail row is due (so a transport is only built, and SMTP only reached, when there is work). */
export function hasDueMail(db: Db, now = new Date()): boolean {
  return db.prepare(`SELECT 1 FROM outbox WHERE channel = 'mail' AND (state IN ('pending', 'sending', 'committing')
      OR (state = 'unknown' AND not_before IS NOT NULL)) AND (not_before IS NULL OR not_before <= ?) LIMIT 1`).get(now.toISOString()) !== undefined;
}
