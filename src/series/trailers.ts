// Collecting trailers from follow-ups, b4 style. Pure: no I/O.
import type { CoreMessage, Trailer } from '../mail/types.js';
import { emailMatches, findTrailers, trailerEmail, trailerEquals, trailerName } from '../mail/trailers.js';
import type { CollectedTrailer } from './types.js';

/** Trailer-like lines of a reply that are patch metadata, not review trailers. */
const NOT_REVIEW_TRAILERS = new Set([
  'from', 'author', 'cc', 'to', 'date', 'subject', 'subscribe', 'unsubscribe', 'base-commit', 'change-id',
]);

export interface CollectOptions {
  /** accept person trailers whose address does not match the sender (b4 --sloppy-trailers) */
  sloppy: boolean;
  /** senders (or trailer addresses) whose trailers are dropped (b4 trailers-ignore-from) */
  ignoreFrom?: string[];
}

/** A follow-up trailer that was not taken because its address is not the sender's. */
export interface TrailerMismatch {
  name: string;
  value: string;
  /** the follow-up's sender */
  fromName: string;
  fromEmail: string;
  /** msgid of the follow-up */
  msgid: string;
}

/** The review trailers written in a reply (unquoted lines only), with b4's follow-up rules. */
export function followupTrailers(msg: CoreMessage): Trailer[] {
  return findTrailers(msg.body, { followup: true }).trailers
    .filter((t) => !NOT_REVIEW_TRAILERS.has(t.name.toLowerCase()));
}

function unquote(name: string): string {
  return name.trim().replace(/^"(.*)"$/, '$1').trim().toLowerCase();
}

/**
 * Whether a trailer was written by the sender of `msg` (b4 `get_trailers`): utility trailers always are;
 * a person trailer when its address matches the From address (case, +extension and one-level subdomain
 * tolerant), or its name is the sender's name, or every comma-separated part of a `Last, First` sender
 * name appears in the trailer's name.
 */
export function trailerMatchesSender(t: Trailer, msg: CoreMessage): boolean {
  if (t.type !== 'person') return true;
  const addr = trailerEmail(t);
  if (addr && msg.from.email && emailMatches(addr, msg.from.email)) return true;
  const tname = unquote(trailerName(t));
  const fname = unquote(msg.from.name || msg.from.email);
  if (!tname || !fname) return false;
  if (tname === fname) return true;
  if (fname.includes(',')) {
    return fname.split(',').map((s) => s.trim()).filter(Boolean).every((chunk) => tname.includes(chunk));
  }
  return false;
}

function ignored(t: Trailer, msg: CoreMessage, ignoreFrom: string[]): boolean {
  if (ignoreFrom.length === 0) return false;
  const addr = trailerEmail(t)?.toLowerCase();
  return (addr !== undefined && ignoreFrom.includes(addr)) || ignoreFrom.includes(msg.from.email.toLowerCase());
}

function presentOn(target: CoreMessage, t: { name: string; value: string }): boolean {
  return target.trailers.some((own) => trailerEquals(own, t));
}

/**
 * The trailers that follow-ups add to `target` (a patch or a cover letter). `followups` are the replies
 * below it (direct or not), in arrival order. Only unquoted lines count; a person trailer must be the
 * sender's own (unless sloppy); trailers already on the target, already collected, or from an ignored
 * sender are skipped. `from` is the msgid of the follow-up the trailer was written in.
 */
export function collectFollowupTrailers(
  target: CoreMessage,
  followups: CoreMessage[],
  opts: CollectOptions,
): CollectedTrailer[] {
  const ignoreFrom = (opts.ignoreFrom ?? []).map((a) => a.toLowerCase());
  const out: CollectedTrailer[] = [];
  for (const fmsg of followups) {
    if (fmsg.msgid === target.msgid) continue;
    for (const t of followupTrailers(fmsg)) {
      if (!opts.sloppy && !trailerMatchesSender(t, fmsg)) continue;
      if (presentOn(target, t) || out.some((c) => trailerEquals(c, t))) continue;
      if (ignored(t, fmsg, ignoreFrom)) continue;
      out.push({ name: t.name, value: t.value, from: fmsg.msgid });
    }
  }
  return out;
}

/**
 * Follow-up person trailers not taken because their address does not match the sender's (b4
 * `trailer_mismatches`). Restated trailers that are already on the target are not flagged. Deduplicated
 * by name, value and sender. Empty in sloppy mode.
 */
export function trailerMismatches(
  target: CoreMessage,
  followups: CoreMessage[],
  opts: Pick<CollectOptions, 'sloppy'>,
): TrailerMismatch[] {
  if (opts.sloppy) return [];
  const out: TrailerMismatch[] = [];
  for (const fmsg of followups) {
    if (fmsg.msgid === target.msgid) continue;
    for (const t of followupTrailers(fmsg)) {
      if (trailerMatchesSender(t, fmsg) || presentOn(target, t)) continue;
      const dup = out.some((m) => trailerEquals(m, t) && m.fromEmail.toLowerCase() === fmsg.from.email.toLowerCase());
      if (dup) continue;
      out.push({ name: t.name, value: t.value, fromName: fmsg.from.name, fromEmail: fmsg.from.email, msgid: fmsg.msgid });
    }
  }
  return out;
}
