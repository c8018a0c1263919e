// The bisection report mail: to the tree's list(s), Cc the culprit's author and committer, threaded to the
// culprit's original patch posting when the store has seen it, queued in the outbox like every reply
// (sent by the same sender; dry-run unless reply.mode is send and the list is enabled).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Person } from '../mail/types.js';
import { parseAddress, type MailPayload } from '../report/mail.js';
import type { OutboxRow } from '../report/outbox.js';
import { templatesDir } from '../report/render.js';
import { renderTemplate } from '../report/template.js';
import { wrapText } from '../report/wrap.js';
import type { Settings } from '../settings/schema.js';
import type { Db } from '../store/db.js';
import { git } from '../trees/git.js';
import type { BisectResult } from './bisect.js';

export interface Posting {
  msgid: string;
  references: string[];
}

export interface BisectMailInput {
  bisectionId: number;
  tree: string;
  branch?: string | null;
  /** the tree's lists (To) */
  lists: string[];
  /** smtp.from */
  from: string;
  result: BisectResult;
  /** the culprit's author and committer (Cc) */
  author: Person | null;
  committer?: Person | null;
  /** more people to Cc (an ambiguous result: the candidates' authors) */
  others?: Person[];
  goodBoots: number;
  fromRun?: number | null;
  toRun?: number | null;
  /** the culprit's original posting: the report is threaded to it */
  posting?: Posting | null;
  dashboard?: string | null;
  templatesDir?: string;
}

function pct(x: number): string {
  if (!Number.isFinite(x)) return x > 0 ? '+inf' : '-inf';
  return `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)}%`;
}

const METRIC_WORDS: [RegExp, string][] = [
  [/_cost_per_trans$/, 'guest busy ns per transaction, client + server'],
  [/_cost_per_kb$/, 'guest busy ns per KiB sent, client + server'],
];

export function bisectMessageId(tree: string, r: BisectResult, fromAddress: string): string {
  const domain = fromAddress.split('@').pop() || 'localhost';
  const hash = createHash('sha256').update([tree, r.good, r.bad, r.metric, r.culprit?.commit ?? ''].join('\n')).digest('hex').slice(0, 12);
  return `<patchgate.bisect.${tree.replace(/[^A-Za-z0-9_+=-]+/g, '-')}.${hash}@${domain}>`;
}

function fmt(p: Person): string {
  return p.name ? `${p.name} <${p.email}>` : p.email;
}

/** The view the bisect templates render. */
export function bisectView(i: BisectMailInput): Record<string, unknown> {
  const r = i.result;
  const c = r.culprit;
  const size = r.size;
  const worse = r.detected.rule.direction === 'lower-is-better' ? r.detected.change > 0 : r.detected.change < 0;
  const kind = worse ? 'regression' : 'improvement';
  const newest = r.candidates[r.candidates.length - 1]?.commit;
  const culpritStep = c ? r.steps.find((s) => s.commit === c.commit) : newest ? r.steps.find((s) => s.commit === newest) : undefined;
  return {
    tree: i.tree,
    branch: i.branch ?? '',
    kind,
    kind_a: worse ? 'a regression' : 'an improvement',
    kind_upper: kind.toUpperCase(),
    metric: r.metric,
    metric_words: METRIC_WORDS.find(([re]) => re.test(r.metric))?.[1] ?? r.metric,
    commit: c?.commit ?? '',
    short: c?.commit.slice(0, 12) ?? '',
    subject: c?.subject ?? '',
    author: c?.author ?? '',
    merge: c?.merge ?? false,
    via: c?.via.map((v) => v.slice(0, 12)).join(', ') ?? '',
    size: size ? pct(size.change) : '?',
    low: size ? pct(size.low) : '?',
    high: size ? pct(size.high) : '?',
    p: size ? size.p.toPrecision(2) : '?',
    good_boots: i.goodBoots,
    culprit_boots: culpritStep?.samples.length ?? size?.m ?? 0,
    detected: pct(r.detected.change),
    dlow: pct(r.detected.low),
    dhigh: pct(r.detected.high),
    good: r.good,
    bad: r.bad,
    good_short: r.good.slice(0, 12),
    bad_short: r.bad.slice(0, 12),
    from_run: i.fromRun ?? '',
    to_run: i.toRun ?? '',
    steps: r.steps.length,
    retries: r.retries,
    range: r.range,
    bound: r.bound,
    step_rows: r.steps.map((s) => ({
      n: s.n, short: s.commit.slice(0, 12), class: s.class === 'has-change' ? 'has it' : 'lacks it',
      change: pct(s.comparison.change), low: pct(s.comparison.low), high: pct(s.comparison.high), boots: s.samples.length,
    })),
    ambiguous: r.status === 'ambiguous',
    candidate_count: r.candidates.length,
    first_short: r.candidates[0]?.commit.slice(0, 12) ?? '',
    last_short: r.candidates[r.candidates.length - 1]?.commit.slice(0, 12) ?? '',
    candidate_rows: r.candidates.map((c) => ({ commit: c.commit, short: c.commit.slice(0, 12), subject: c.subject, author: c.author, note: c.skipped ? 'does not build' : 'has the change' })),
    reason: r.reason ?? '',
    skipped: r.skipped.length,
    skipped_rows: r.skipped.map((s) => ({ short: s.commit.slice(0, 12), subject: s.subject, reason: s.reason })),
    dashboard: i.dashboard ?? '',
  };
}

/** Renders templates/mail/bisect.txt and bisect.subject.txt into a mail payload. */
export function buildBisectMail(i: BisectMailInput): MailPayload {
  const dir = i.templatesDir ?? templatesDir();
  const view = bisectView(i);
  const read = (f: string) => readFileSync(path.join(dir, 'mail', f), 'utf8');
  const subject = renderTemplate(read('bisect.subject.txt'), view, { name: 'bisect.subject.txt' }).trim().replace(/\s+/g, ' ');
  const body = renderTemplate(read('bisect.txt'), view, { name: 'bisect.txt' });
  const text = wrapText(body.replace(/\n{3,}/g, '\n\n').replace(/^\n+/, '').replace(/\n*$/, '\n'));
  const from = parseAddress(i.from);
  const to: Person[] = i.lists.map((email) => ({ name: '', email }));
  const seen = new Set(to.map((p) => p.email.toLowerCase()));
  const cc: Person[] = [];
  for (const p of [i.author, i.committer, ...(i.others ?? [])]) {
    if (p && !seen.has(p.email.toLowerCase())) {
      seen.add(p.email.toLowerCase());
      cc.push(p);
    }
  }
  const posting = i.posting ?? null;
  return {
    from,
    to: to.length ? to : cc.splice(0, 1),
    cc,
    subject: posting ? `Re: ${subject}` : subject,
    text,
    messageId: bisectMessageId(i.tree, i.result, from.email),
    inReplyTo: posting?.msgid ?? '',
    references: posting ? [...posting.references.filter((r) => r !== posting.msgid), posting.msgid] : [],
    headers: {
      'Auto-Submitted': 'auto-generated',
      'X-Patchgate-Tree': i.tree,
      'X-Patchgate-Bisection': String(i.bisectionId),
      ...(i.result.culprit ? { 'X-Patchgate-Culprit': i.result.culprit.commit } : {}),
    },
  };
}

/**
 * The culprit's original posting in the store: the Message-ID of a `Link:` or `Message-ID:` trailer of the
 * commit when the store has that message, else a patch whose subject ends with the commit's subject from the
 * commit's author (the newest such posting).
 */
export async function findPosting(db: Db, repo: string, commit: string): Promise<Posting | null> {
  const out = (await git(repo, ['log', '-1', '--format=%s%x00%ae%x00%B', commit])).stdout;
  const [subject, email, body] = out.split('\0');
  const ids: string[] = [];
  for (const m of body.matchAll(/^(?:Link|Message-ID|Message-Id):\s*(\S+)\s*$/gim)) {
    const v = m[1];
    const id = /^<(.+)>$/.exec(v)?.[1] ?? /\/(?:r|[^/]+)\/([^/]+@[^/]+?)\/?$/.exec(v)?.[1] ?? (v.includes('@') && !v.includes('/') ? v : null);
    if (id) ids.push(decodeURIComponent(id));
  }
  const byId = db.prepare('SELECT msgid, parsed FROM messages WHERE msgid = ? ORDER BY seq DESC LIMIT 1');
  for (const id of ids) {
    const row = byId.get(id) as { msgid: string; parsed: string } | undefined;
    if (row) return { msgid: row.msgid, references: referencesOf(row.parsed) };
  }
  if (!subject) return null;
  const row = db.prepare(`SELECT msgid, parsed FROM messages WHERE kind = 'patch' AND lower(sender) LIKE ? AND
      (subject = ? OR subject LIKE ? ESCAPE '\\') ORDER BY seq DESC LIMIT 1`)
    .get(`%${email.toLowerCase()}%`, subject, `%] ${subject.replace(/[\\%_]/g, (ch) => `\\${ch}`)}`) as { msgid: string; parsed: string } | undefined;
  return row ? { msgid: row.msgid, references: referencesOf(row.parsed) } : null;
}

function referencesOf(parsed: string): string[] {
  try {
    const p = JSON.parse(parsed) as { references?: string[]; inReplyTo?: string | null };
    return p.references ?? (p.inReplyTo ? [p.inReplyTo] : []);
  } catch {
    return [];
  }
}

/** Writes the report's outbox row: pending when reply.mode is send and the list is enabled, else dry-run. */
export function queueBisectMail(db: Db, payload: MailPayload, settings: Settings, tree: string, bisectionId: number): OutboxRow | null {
  const list = payload.to[0]?.email.toLowerCase() ?? null;
  const enabled = settings.reply.mode === 'send' && !!list && settings.reply.lists.map((l) => l.toLowerCase()).includes(list);
  const recipients = [...payload.to, ...payload.cc].map((p) => p.email);
  const info = db.prepare(`INSERT INTO outbox (message_id, series_id, version, channel, recipients, payload, state, result, verdict, list)
      VALUES (?, ?, ?, 'mail', ?, ?, ?, ?, 'bisect', ?) ON CONFLICT (message_id) DO NOTHING`)
    .run(payload.messageId, `heads:${tree}`, bisectionId, JSON.stringify(recipients), JSON.stringify(payload), enabled ? 'pending' : 'dry-run',
      JSON.stringify({ reason: enabled ? 'bisection report' : `dry-run (reply.mode ${settings.reply.mode}, list ${list ?? 'none'})` }), list);
  if (info.changes === 0) return null;
  return db.prepare('SELECT * FROM outbox WHERE id = ?').get(info.lastInsertRowid) as OutboxRow;
}

export { fmt as formatPerson };
