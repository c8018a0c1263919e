// The reply mail: threading, addressing, headers and the deterministic Message-ID. Building only; the
// outbox sends.
import { createHash } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer';
import addressparser from 'nodemailer/lib/addressparser';
import type { Person } from '../mail/types.js';
import type { ReportContext } from './context.js';
import { renderMail } from './render.js';

/** What the outbox stores for a mail row (JSON in outbox.payload). */
export interface MailPayload {
  from: Person;
  to: Person[];
  cc: Person[];
  subject: string;
  text: string;
  messageId: string;
  inReplyTo: string;
  references: string[];
  headers: Record<string, string>;
}

/** Parses `Name <addr>` (smtp.from) into a person. */
export function parseAddress(value: string): Person {
  const first = addressparser(value, { flatten: true })[0];
  if (!first || !first.address) throw new Error(`not an address: ${value}`);
  return { name: first.name ?? '', email: first.address };
}

/** A series id made safe for a Message-ID's left side (dot-atom text). */
function atom(s: string): string {
  return s.replace(/[^A-Za-z0-9_+=-]+/g, '-').replace(/^-+|-+$/g, '') || 'x';
}

/** `<patchgate.<series>.v<rev>.<verdict-hash>@<from-domain>>`: the same verdict of a revision always gets the same id. */
export function replyMessageId(seriesId: string, version: number, verdict: string, fromAddress: string): string {
  const domain = fromAddress.split('@').pop() || 'localhost';
  const hash = createHash('sha256').update(`${seriesId}\n${version}\n${verdict}`).digest('hex').slice(0, 12);
  return `<patchgate.${atom(seriesId)}.v${version}.${hash}@${domain}>`;
}

export interface BuildMailOptions {
  /** smtp.from */
  from: string;
  /** Cc addresses decided by the policy (the list, when configured) */
  cc: string[];
  /** another templates/ directory (tests) */
  templatesDir?: string;
}

/**
 * The reply to a series revision: In-Reply-To the cover letter (or patch 1), References its whole chain,
 * `Re: <its subject>`, To the submitter, automated-mail headers.
 */
export function buildReplyMail(ctx: ReportContext, opts: BuildMailOptions): MailPayload {
  const from = parseAddress(opts.from);
  const { subject, text } = renderMail(ctx, 'report', opts.templatesDir);
  const references = [...ctx.thread.references.filter((r) => r !== ctx.thread.msgid), ctx.thread.msgid];
  return {
    from,
    to: [ctx.series.submitter],
    cc: opts.cc.filter((c) => c.toLowerCase() !== ctx.series.submitter.email.toLowerCase()).map((email) => ({ name: '', email })),
    subject,
    text,
    messageId: replyMessageId(ctx.series.id, ctx.series.version, ctx.verdict, from.email),
    inReplyTo: ctx.thread.msgid,
    references,
    headers: {
      'Auto-Submitted': 'auto-generated',
      'X-Patchgate-Series': ctx.series.id,
      'X-Patchgate-Version': String(ctx.series.version),
      'X-Patchgate-Verdict': ctx.verdict,
    },
  };
}

function addr(p: Person): { name: string; address: string } {
  return { name: p.name, address: p.email };
}

/** The RFC 5322 message, CRLF line ends, text/plain only. */
export async function composeRaw(payload: MailPayload, date: Date): Promise<Buffer> {
  const composer = new MailComposer({
    from: addr(payload.from),
    to: payload.to.map(addr),
    cc: payload.cc.length ? payload.cc.map(addr) : undefined,
    subject: payload.subject,
    text: payload.text,
    messageId: payload.messageId,
    inReplyTo: payload.inReplyTo,
    references: payload.references,
    date,
    headers: payload.headers,
    newline: 'win',
    xMailer: false,
  });
  return composer.compile().build();
}

/** The SMTP envelope: the bare addresses of To and Cc. */
export function envelopeOf(payload: MailPayload): { from: string; to: string[] } {
  return { from: payload.from.email, to: [...payload.to, ...payload.cc].map((p) => p.email) };
}

function fmt(p: Person): string {
  return p.name ? `${p.name} <${p.email}>` : p.email;
}

/** A stable text form of a reply (headers in a fixed order, then the body), for golden files and dry-run review. */
export function formatMailPreview(payload: MailPayload): string {
  const lines = [
    `From: ${fmt(payload.from)}`,
    `To: ${payload.to.map(fmt).join(', ')}`,
    ...(payload.cc.length ? [`Cc: ${payload.cc.map(fmt).join(', ')}`] : []),
    `Subject: ${payload.subject}`,
    `Message-ID: ${payload.messageId}`,
    `In-Reply-To: ${payload.inReplyTo}`,
    `References: ${payload.references.join(' ')}`,
    ...Object.entries(payload.headers).map(([k, v]) => `${k}: ${v}`),
    '',
    payload.text,
  ];
  return lines.join('\n');
}
