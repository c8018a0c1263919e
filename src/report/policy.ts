// The reply policy: whether, when and how a verdict is answered on a list. Pure: the caller supplies the
// clock, the counts of recent replies and the previous reply for the revision.
import type { ReplySettings } from '../settings/schema.js';
import type { ThreadInfo } from './context.js';
import { isFinal, isProblem, type Status } from './status.js';

/** Senders that are bots: never answered (patchgate's own address is added by the caller). */
export const KNOWN_BOTS: readonly string[] = [
  'lkp@intel.com', // kernel test robot
  'patchwork-bot+*@kernel.org',
  '*@syzkaller.appspotmail.com',
  'bot@kernelci.org',
  'no-reply@patchew.org',
  'noreply@github.com',
  '*[bot]@users.noreply.github.com',
  'mailer-daemon@*',
  'postmaster@*',
];

export interface EffectivePolicy {
  on: 'failure' | 'always' | 'never';
  cc_list: boolean;
  quiet_hours: { start: string; end: string; tz: string } | null;
  rate_limit: { per_list: number; per_submitter: number; window_minutes: number };
  /** sending enabled: mode send and the list named in reply.lists */
  send: boolean;
}

export function effectivePolicy(reply: ReplySettings, list: string | null): EffectivePolicy {
  const key = list ? Object.keys(reply.per_list).find((k) => k.toLowerCase() === list.toLowerCase()) : undefined;
  const over = key ? reply.per_list[key] : {};
  const enabled = list !== null && reply.lists.some((l) => l.toLowerCase() === list.toLowerCase());
  return {
    on: over.on ?? reply.on,
    cc_list: over.cc_list ?? reply.cc_list,
    quiet_hours: over.quiet_hours === null ? null : over.quiet_hours ?? reply.quiet_hours ?? null,
    rate_limit: { ...reply.rate_limit, ...over.rate_limit },
    send: reply.mode === 'send' && enabled,
  };
}

function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.toLowerCase().split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(value.toLowerCase());
}

/** Why the message a reply would answer is a bot's (or patchgate's own), or null when a human wrote it. */
export function botReason(thread: ThreadInfo, bots: readonly string[]): string | null {
  const own = Object.keys(thread.headers).find((h) => h.toLowerCase().startsWith('x-patchgate-'));
  if (own) return `patchgate's own mail (${own})`;
  const auto = Object.entries(thread.headers).find(([h]) => h.toLowerCase() === 'auto-submitted');
  if (auto && auto[1].trim().toLowerCase() !== 'no') return `automated mail (Auto-Submitted: ${auto[1].trim()})`;
  const from = thread.from.email;
  const bot = bots.find((b) => globMatch(b, from));
  if (bot) return `bot sender ${from}`;
  return null;
}

/** Minutes since local midnight in TZ. */
function minuteOfDay(at: Date, tz: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone: tz, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(at);
  const h = Number(parts.find((p) => p.type === 'hour')?.value ?? 0);
  const m = Number(parts.find((p) => p.type === 'minute')?.value ?? 0);
  return h * 60 + m;
}

function hhmm(s: string): number {
  const [h, m] = s.split(':').map(Number);
  return h * 60 + m;
}

export function inQuietHours(at: Date, q: { start: string; end: string; tz: string }): boolean {
  const m = minuteOfDay(at, q.tz);
  const s = hhmm(q.start);
  const e = hhmm(q.end);
  if (s === e) return false;
  return s < e ? m >= s && m < e : m >= s || m < e;
}

/** The first whole minute at or after AT outside the quiet hours (AT itself when outside). */
export function quietHoursEnd(at: Date, q: { start: string; end: string; tz: string }): Date {
  if (!inQuietHours(at, q)) return at;
  const t = new Date(at);
  t.setUTCSeconds(0, 0);
  for (let i = 0; i < 24 * 60 + 1; i++) {
    t.setTime(t.getTime() + 60_000);
    if (!inQuietHours(t, q)) return t;
  }
  return at;
}

export interface PolicyInput {
  verdict: Status;
  /** stages that failed for infrastructure or were cancelled: the verdict is not the series' */
  incomplete?: string[];
  thread: ThreadInfo;
  list: string | null;
  reply: ReplySettings;
  /** patchgate's own sender address */
  ownAddress: string;
  now: Date;
  /** the verdict of the last reply queued for this series revision, if any */
  previousVerdict: string | null;
  /** replies queued within the rate-limit window: to the list and to this submitter */
  recent: { list: number; submitter: number };
}

export type Decision =
  /** nothing to record: no final verdict, not wanted by the policy, or already answered */
  | { action: 'none'; reason: string }
  /** recorded in the outbox as skipped, with the reason (bots, rate limits) */
  | { action: 'skip'; reason: string }
  | { action: 'queue'; state: 'pending' | 'dry-run'; notBefore: Date | null; cc: string[]; reason: string };

export function decideReply(input: PolicyInput): Decision {
  const { verdict, reply, list } = input;
  const policy = effectivePolicy(reply, list);
  if (!isFinal(verdict)) return { action: 'none', reason: 'no final verdict yet' };
  if (verdict === 'skipped') return { action: 'none', reason: 'nothing was tested' };
  if (input.incomplete && input.incomplete.length > 0) {
    return { action: 'none', reason: `not answering on an incomplete run (${input.incomplete.join('; ')})` };
  }
  if (policy.on === 'never') return { action: 'none', reason: `policy: never reply${list ? ` on ${list}` : ''}` };
  if (policy.on === 'failure' && !isProblem(verdict)) return { action: 'none', reason: `policy: reply on failure only (verdict ${verdict})` };
  if (input.previousVerdict === verdict) return { action: 'none', reason: `verdict ${verdict} already answered for this revision` };
  const bot = botReason(input.thread, [...KNOWN_BOTS, ...reply.bots, input.ownAddress]);
  if (bot) return { action: 'skip', reason: `not replying to ${bot}` };
  const { per_list, per_submitter, window_minutes } = policy.rate_limit;
  if (list && per_list > 0 && input.recent.list >= per_list) {
    return { action: 'skip', reason: `rate limit: ${input.recent.list} replies on ${list} in ${window_minutes} min (max ${per_list})` };
  }
  if (per_submitter > 0 && input.recent.submitter >= per_submitter) {
    return { action: 'skip', reason: `rate limit: ${input.recent.submitter} replies to ${input.thread.from.email} in ${window_minutes} min (max ${per_submitter})` };
  }
  const cc = policy.cc_list && list ? [list] : [];
  if (!policy.send) {
    const why = reply.mode !== 'send' ? 'reply.mode is dry-run' : `${list ?? 'this series\' list'} is not in reply.lists`;
    return { action: 'queue', state: 'dry-run', notBefore: null, cc, reason: `dry-run: ${why}` };
  }
  const notBefore = policy.quiet_hours && inQuietHours(input.now, policy.quiet_hours) ? quietHoursEnd(input.now, policy.quiet_hours) : null;
  return { action: 'queue', state: 'pending', notBefore, cc, reason: notBefore ? `quiet hours: held until ${notBefore.toISOString()}` : 'queued' };
}

/** Where to look a reply up before sending it again (reply.per_list.<list>.archive), in milliseconds. */
export interface ArchiveLookup {
  /** the list's public-inbox URL: a reply is at `<url>/<message-id>/raw` */
  url: string;
  graceMs: number;
  recheckMs: number;
}

/** `90` (seconds), `90s`, `5m`, `24h`, `2d`, `500ms` → milliseconds (the schema's duration). */
export function durationToMs(value: number | string): number {
  if (typeof value === 'number') return value * 1000;
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(value.trim());
  if (!m) throw new Error(`not a duration: ${value}`);
  return parseFloat(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
}

/** The archive lookup configured for LIST, or null (then a reply of unknown outcome is never resent). */
export function archiveLookup(reply: ReplySettings, list: string | null): ArchiveLookup | null {
  if (!list) return null;
  const key = Object.keys(reply.per_list).find((k) => k.toLowerCase() === list.toLowerCase());
  const a = key ? reply.per_list[key].archive : undefined;
  if (!a) return null;
  return { url: a.url.replace(/\/+$/, ''), graceMs: durationToMs(a.grace), recheckMs: durationToMs(a.recheck) };
}
