// The outbox: a reply is written as a row in the same SQLite transaction as the verdict, and a sender
// delivers pending rows. Sent once, never twice:
//
//   pending ──claim──▶ sending ──(message fully handed to SMTP, before the final ".")──▶ committing ──250──▶ sent
//
// The switch to `committing` is written synchronously while the transport reads the message, after the
// last byte of content and before the SMTP end-of-data marker can be written. So:
//   - a sender that dies in `sending` never finished the SMTP DATA: the server dropped the transaction
//     (RFC 5321 §4.1.1.4), and the row goes back to pending and is sent again (same Message-ID);
//   - a sender that dies in `committing` may or may not have had the message accepted: the row becomes
//     `unknown` and is NOT resent (at-most-once, the choice for mailing lists, where a duplicate reply is
//     worse than a missing one). An operator can requeue it (requeueOutbox), and the resend carries the same
//     Message-ID, which archives and clients deduplicate. The window is one SMTP reply round trip.
// A claim names its sender (pid@host#token); recovery only touches claims whose process is gone.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { Readable } from 'node:stream';
import nodemailer, { type Transporter } from 'nodemailer';
import { logger } from '../log.js';
import { resolveSecret } from '../settings/load.js';
import type { Settings } from '../settings/schema.js';
import type { Db } from '../store/db.js';
import type { ReportContext } from './context.js';
import { buildReplyMail, composeRaw, envelopeOf, parseAddress, type MailPayload } from './mail.js';
import { decideReply, effectivePolicy, type Decision } from './policy.js';

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

/**
 * Recovers rows whose sender died: `sending` back to pending (the SMTP transaction never completed),
 * `committing` to unknown (maybe delivered: not resent).
 */
export function recoverOutbox(db: Db): { requeued: number; unknown: number } {
  const rows = db.prepare(`SELECT id, state, claimed_by, message_id FROM outbox WHERE state IN ('sending', 'committing')`).all() as
    { id: number; state: string; claimed_by: string | null; message_id: string }[];
  let requeued = 0;
  let unknown = 0;
  for (const r of rows) {
    if (claimAlive(r.claimed_by)) continue;
    if (r.state === 'sending') {
      requeued += db.prepare(`UPDATE outbox SET state = 'pending', claimed_by = NULL WHERE id = ? AND state = 'sending'`).run(r.id).changes;
      log.warn({ msgid: r.message_id }, 'sender died before the end of SMTP DATA: requeued');
    } else {
      unknown += db.prepare(`UPDATE outbox SET state = 'unknown', claimed_by = NULL, result = ? WHERE id = ? AND state = 'committing'`)
        .run(JSON.stringify({ error: 'sender died after handing the message over, before the SMTP reply was recorded; not resent (at-most-once)' }), r.id).changes;
      log.warn({ msgid: r.message_id }, 'sender died while the SMTP server had the message: marked unknown, not resent');
    }
  }
  return { requeued, unknown };
}

/** Sends an `unknown` or `failed` row again (operator decision); it keeps its Message-ID. */
export function requeueOutbox(db: Db, id: number): boolean {
  return db.prepare(`UPDATE outbox SET state = 'pending', not_before = NULL WHERE id = ? AND state IN ('unknown', 'failed')`).run(id).changes === 1;
}

export interface SendHooks {
  /** after the row is claimed (state sending), before connecting */
  afterClaim?(row: OutboxRow): void;
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
}

export interface SendSummary {
  sent: number;
  failed: number;
  retry: number;
  unknown: number;
  recovered: { requeued: number; unknown: number };
}

function backoffMs(attempts: number): number {
  return Math.min(60_000 * 2 ** (attempts - 1), 6 * 3600_000);
}

/** A one-shot stream of RAW that marks the row committing just before it reports its end. */
function committingStream(raw: Buffer, onEnd: () => void): Readable {
  let pushed = false;
  return new Readable({
    read() {
      if (!pushed) {
        pushed = true;
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

/** Sends the pending mail rows that are due, one SMTP transaction each. Never sends dry-run rows. */
export async function sendOutbox(db: Db, transport: Transporter, opts: SendOptions = {}): Promise<SendSummary> {
  const now = opts.now ?? (() => new Date());
  const maxAttempts = opts.maxAttempts ?? 5;
  const hooks = opts.hooks ?? {};
  const recovered = recoverOutbox(db);
  const summary: SendSummary = { sent: 0, failed: 0, retry: 0, unknown: 0, recovered };
  const due = db.prepare(`SELECT * FROM outbox WHERE channel = 'mail' AND state = 'pending' AND (not_before IS NULL OR not_before <= ?)
      ORDER BY id LIMIT ?`).all(now().toISOString(), opts.limit ?? 100) as OutboxRow[];
  const claim = db.prepare(`UPDATE outbox SET state = 'sending', claimed_by = ?, attempts = attempts + 1 WHERE id = ? AND state = 'pending'`);
  const markCommitting = db.prepare(`UPDATE outbox SET state = 'committing' WHERE id = ? AND state = 'sending' AND claimed_by = ?`);
  const markSent = db.prepare(`UPDATE outbox SET state = 'sent', claimed_by = NULL, result = ?, sent_at = ? WHERE id = ? AND claimed_by = ?`);
  const markEnd = db.prepare(`UPDATE outbox SET state = ?, claimed_by = NULL, result = ?, not_before = ? WHERE id = ? AND claimed_by = ?`);
  for (const candidate of due) {
    if (claim.run(PROCESS_TOKEN, candidate.id).changes !== 1) continue;
    const row = db.prepare('SELECT * FROM outbox WHERE id = ?').get(candidate.id) as OutboxRow;
    const rlog = log.child({ series: row.series_id, rev: row.version, msgid: row.message_id });
    hooks.afterClaim?.(row);
    const payload = JSON.parse(row.payload) as MailPayload;
    let committing = false;
    try {
      const raw = await composeRaw(payload, now());
      const stream = committingStream(raw, () => {
        if (markCommitting.run(row.id, PROCESS_TOKEN).changes !== 1) throw new Error('outbox row lost its claim');
        committing = true;
        hooks.afterCommitMark?.(row);
      });
      const info = await transport.sendMail({ envelope: envelopeOf(payload), raw: stream });
      hooks.afterAccept?.(row);
      markSent.run(JSON.stringify({ response: info.response ?? null, accepted: info.accepted ?? null, rejected: info.rejected ?? null, envelope: info.envelope ?? null }), now().toISOString(), row.id, PROCESS_TOKEN);
      summary.sent++;
      rlog.info({ to: envelopeOf(payload).to }, 'reply sent');
    } catch (err) {
      const e = err as Error & { responseCode?: number; code?: string };
      const result = JSON.stringify({ error: e.message, code: e.code ?? null, responseCode: e.responseCode ?? null });
      if (committing) {
        markEnd.run('unknown', result, null, row.id, PROCESS_TOKEN);
        summary.unknown++;
        rlog.warn({ err: e.message }, 'no SMTP answer after the message was handed over: marked unknown, not resent');
      } else if ((e.responseCode !== undefined && e.responseCode >= 500) || row.attempts >= maxAttempts) {
        markEnd.run('failed', result, null, row.id, PROCESS_TOKEN);
        summary.failed++;
        rlog.error({ err: e.message, attempts: row.attempts }, 'reply failed');
      } else {
        markEnd.run('pending', result, new Date(now().getTime() + backoffMs(row.attempts)).toISOString(), row.id, PROCESS_TOKEN);
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
  return db.prepare(`SELECT 1 FROM outbox WHERE channel = 'mail' AND state IN ('pending', 'sending', 'committing')
      AND (not_before IS NULL OR not_before <= ?) LIMIT 1`).get(now.toISOString()) !== undefined;
}
