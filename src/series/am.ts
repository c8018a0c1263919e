// A series as a git-am-ready mbox, byte for byte as b4 writes it (`b4 am -o -`). Pure: no I/O.
//
// Per patch: the body goes through what `git mailinfo --scissors` would do (in-body From/Subject/Date
// taken as headers, text above a scissors line dropped), then its trailer block is rebuilt the way b4's
// fix_trailers() does: own trailers, collected ones, optional trailer-order on the new ones, my sign-off
// last; an empty `---` is dropped. Headers are Subject (relabelled), From, Date, Message-Id and the MIME
// trio; To/Cc are not carried over.
import type { ParsedMessage, Trailer } from '../mail/types.js';
import { emailMatches, findTrailers, formatTrailer, makeTrailer, splitBody, trailerEmail, trailerEquals } from '../mail/trailers.js';
import type { Series, SeriesPatch } from './types.js';

export interface AmOptions {
  /** `Name <email>` to sign off with (moved to the end if already there, never doubled) */
  addMySob?: string;
  /** add a Link trailer (linkMask) pointing at each patch */
  addLink?: boolean;
  /** `Name: value-with-%s`, %s is the bare msgid; default `Link: https://patch.msgid.link/%s` */
  linkMask?: string;
  /** comma-separated globs (`Cc,Tested*,Reviewed*,*`) ordering the new trailers */
  trailerOrder?: string;
  /** add Cc trailers for every To/Cc recipient not already in a trailer */
  copyCcs?: boolean;
  /** write the patches as they were sent, without any trailer changes */
  noAddTrailers?: boolean;
}

export const DEFAULT_LINK_MASK = 'Link: https://patch.msgid.link/%s';
const MBOX_SEPARATOR = 'From git@z Thu Jan  1 00:00:00 1970\n';
const DIFFSTAT_RE = /^\s*\d+ file.*\d+ (insertion|deletion)/im;
const QSPECIALS_RE = /[()<>@,:;."[\]]/;
const HEADER_WIDTH = 75;

/** Render every patch of `series`, in number order. Patches whose message is unknown are skipped. */
export function renderAm(series: Series, byMsgid: Map<string, ParsedMessage>, opts: AmOptions = {}): string {
  const patches = [...series.patches].sort((a, b) => a.number - b.number);
  let out = '';
  for (const patch of patches) {
    const msg = byMsgid.get(patch.msgid);
    if (!msg) continue;
    out += renderPatch(series, patch, msg, byMsgid, opts);
  }
  return out;
}

interface MailInfo {
  author: { name: string; email: string };
  subject: string;
  date: string;
  body: string;
}

function renderPatch(
  series: Series,
  patch: SeriesPatch,
  msg: ParsedMessage,
  byMsgid: Map<string, ParsedMessage>,
  opts: AmOptions,
): string {
  const info = mailinfo(msg);
  const body = opts.noAddTrailers
    ? info.body
    : rebuildBody(info.body, newTrailers(series, patch, msg, byMsgid, opts), msg, opts);

  const headers: Array<[string, string]> = [
    ['Subject', amSubject(series, msg, info.subject)],
    ['From', formatAddress(info.author.name, info.author.email)],
    ['Date', info.date],
    ['Message-Id', bracketed(msg.msgid)],
    ['MIME-Version', '1.0'],
    ['Content-Type', 'text/plain; charset="utf-8"'],
    ['Content-Transfer-Encoding', /^[\x00-\x7f]*$/.test(body) ? '7bit' : '8bit'],
  ];
  let out = MBOX_SEPARATOR;
  for (const [name, value] of headers) out += wrapHeader(name, value) + '\n';
  out += '\n';
  // b4 writes each payload line followed by a newline, so the body's final newline yields an empty line.
  for (const line of body.split('\n')) out += line.replace(/[\r\n]+$/, '') + '\n';
  return out;
}

function bracketed(msgid: string): string {
  return msgid.startsWith('<') ? msgid : `<${msgid}>`;
}

function bareMsgid(msgid: string): string {
  return msgid.replace(/^<|>$/g, '');
}

// --- git mailinfo, the parts b4 relies on -------------------------------------------------------------

const INBODY_HEADER_RE = /^(From|Subject|Date):\s*(.*)$/i;

/** git mailinfo's is_scissors_line(): a `-- >8 --` style mark, possibly with some text on the line. */
export function isScissorsLine(line: string): boolean {
  let scissors = 0;
  let gap = 0;
  let perforation = 0;
  let inPerforation = false;
  let first = -1;
  let last = -1;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (/\s/.test(c)) {
      if (inPerforation) {
        perforation++;
        gap++;
      }
      continue;
    }
    last = i;
    if (first < 0) first = i;
    if (c === '-') {
      inPerforation = true;
      perforation++;
      continue;
    }
    const two = line.slice(i, i + 2);
    if (two === '>8' || two === '8<' || two === '>%' || two === '%<') {
      inPerforation = true;
      perforation += 2;
      scissors += 2;
      i++;
      continue;
    }
    inPerforation = false;
  }
  const visible = first >= 0 ? last - first + 1 : 0;
  return scissors > 0 && visible >= 8 && visible < perforation * 3 && gap * 2 < perforation;
}

/** Strip `Re:` and leading `[...]` groups from an in-body Subject, as mailinfo does. */
function cleanSubject(subject: string): string {
  let s = subject.replace(/\s+/g, ' ').trim();
  for (;;) {
    const next = s.replace(/^(re|aw|fwd?):\s*/i, '').replace(/^\[[^\]]*\]\s*/, '');
    if (next === s) return s;
    s = next;
  }
}

function rawDate(msg: ParsedMessage): string {
  const header = msg.dateHeader ?? msg.headers['date'];
  if (header) return header.replace(/\s+/g, ' ').trim();
  return msg.date ? rfc2822(msg.date) : '';
}

/** An ISO 8601 date as `Tue, 30 Aug 2022 11:19:07 -0400`, keeping the offset it was written with. */
function rfc2822(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const m = /([+-])(\d\d):?(\d\d)$/.exec(iso);
  const offsetMin = m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
  const local = new Date(d.getTime() + offsetMin * 60_000);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p2 = (n: number) => String(n).padStart(2, '0');
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  return `${days[local.getUTCDay()]}, ${local.getUTCDate()} ${months[local.getUTCMonth()]} ${local.getUTCFullYear()} `
    + `${p2(local.getUTCHours())}:${p2(local.getUTCMinutes())}:${p2(local.getUTCSeconds())} ${sign}${p2(Math.floor(abs / 60))}${p2(abs % 60)}`;
}

/** The body git am would see: the text part with its patch (signature included). */
function amSource(msg: ParsedMessage): string {
  let body = (msg.amText ?? msg.body).replace(/\r\n/g, '\n');
  // A diff that only lives in an attachment: append it below the message.
  if (msg.diff && !body.includes(msg.diff.trim().split('\n')[0]!)) {
    body = body.replace(/\n*$/, '\n') + (msg.notes ? '' : '---\n\n') + msg.diff;
  }
  return body;
}

function mailinfo(msg: ParsedMessage): MailInfo {
  let lines = amSource(msg).split('\n');
  const author = { name: msg.from.name, email: msg.from.email };
  let subject = msg.subject.name;
  let date = rawDate(msg);

  // Scissors: only in the message part (above the patch).
  const patchAt = lines.findIndex((l) => /^(---\s*$|--- \S|diff -|Index: )/.test(l));
  const msgEnd = patchAt < 0 ? lines.length : patchAt;
  for (let i = msgEnd - 1; i >= 0; i--) {
    if (isScissorsLine(lines[i]!)) {
      lines = lines.slice(i + 1);
      break;
    }
  }
  // Leading blank lines, then in-body headers up to a blank line.
  while (lines.length > 0 && lines[0]!.trim() === '') lines.shift();
  if (lines.length > 0 && INBODY_HEADER_RE.test(lines[0]!)) {
    while (lines.length > 0 && lines[0]!.trim() !== '') {
      const m = INBODY_HEADER_RE.exec(lines.shift()!);
      let value = m ? m[2]! : '';
      while (lines.length > 0 && /^[ \t]\S/.test(lines[0]!)) value += ' ' + lines.shift()!.trim();
      if (!m) continue;
      const name = m[1]!.toLowerCase();
      if (name === 'from') {
        const addr = /^(.*?)\s*<([^>]+)>\s*$/.exec(value);
        if (addr) {
          author.name = addr[1]!.replace(/^"(.*)"$/, '$1');
          author.email = addr[2]!;
        } else {
          author.name = '';
          author.email = value.trim();
        }
      } else if (name === 'subject') subject = cleanSubject(value);
      else date = value.trim();
    }
    while (lines.length > 0 && lines[0]!.trim() === '') lines.shift();
  }
  return { author, subject, date, body: lines.join('\n').replace(/\n+$/, '') + '\n' };
}

// --- subject and headers -----------------------------------------------------------------------------

/** `[PATCH RFC vN n/m] name`: PATCH, RFC if set, the series version when written or rerolled, n/m if written. */
function amSubject(series: Series, msg: ParsedMessage, name: string): string {
  const parts = ['PATCH'];
  if (msg.subject.rfc) parts.push('RFC');
  if (msg.subject.versionExplicit || msg.subject.version !== series.version) parts.push(`v${series.version}`);
  if (msg.subject.number !== null && msg.subject.total !== null) parts.push(`${msg.subject.number}/${msg.subject.total}`);
  return `[${parts.join(' ')}] ${name}`;
}

function formatAddress(name: string, email: string): string {
  if (!name || name === email) return email;
  if (!name.startsWith('"') && QSPECIALS_RE.test(name)) return `"${name.replace(/([\\"])/g, '\\$1')}" <${email}>`;
  return `${name} <${email}>`;
}

/** Python textwrap.wrap(width=75, subsequent_indent=' ', no long-word or hyphen breaking), as b4 uses. */
export function wrapHeader(name: string, value: string): string {
  const whole = `${name}: ${value}`;
  if (name.toLowerCase() === 'from' || whole.length <= HEADER_WIDTH) return whole;
  const text = `${name}:_${value}`.replace(/\s/g, ' ');
  const chunks = text.split(/( +)/).filter((c) => c !== '');
  const lines: string[] = [];
  let i = 0;
  while (i < chunks.length) {
    const indent = lines.length === 0 ? '' : ' ';
    const room = HEADER_WIDTH - indent.length;
    if (lines.length > 0 && chunks[i]!.trim() === '') i++;
    const cur: string[] = [];
    let len = 0;
    while (i < chunks.length && len + chunks[i]!.length <= room) {
      cur.push(chunks[i]!);
      len += chunks[i]!.length;
      i++;
    }
    if (cur.length === 0 && i < chunks.length) cur.push(chunks[i++]!);
    while (cur.length > 0 && cur[cur.length - 1]!.trim() === '') cur.pop();
    if (cur.length > 0) lines.push(indent + cur.join(''));
  }
  return lines.join('\n').replace(':_', ': ');
}

// --- trailers ------------------------------------------------------------------------------------------

/** Parent chain of a message (In-Reply-To first, then References newest first), as msgids. */
function ancestors(msg: ParsedMessage, byMsgid: Map<string, ParsedMessage>): string[] {
  const seen: string[] = [];
  let cur: ParsedMessage | undefined = msg;
  while (cur) {
    const parent: string | null = cur.inReplyTo ?? cur.references[cur.references.length - 1] ?? null;
    if (!parent || seen.includes(parent)) break;
    seen.push(parent);
    cur = byMsgid.get(parent);
  }
  for (const r of [...msg.references].reverse()) if (!seen.includes(r)) seen.push(r);
  return seen;
}

/** The extinfo the trailer had where it was written, if any. */
function withExtinfo(t: { name: string; value: string }, source: ParsedMessage | undefined): Trailer {
  const base = makeTrailer(t.name, t.value);
  if (!source) return base;
  const found = findTrailers(source.body, { followup: true }).trailers.find((f) => trailerEquals(f, t));
  return found ? { ...base, extinfo: found.extinfo } : base;
}

/**
 * The trailers b4 would add to this patch, before ordering: those collected from the patch's own
 * follow-ups, then those from the cover letter's, then the Link trailer.
 */
function newTrailers(
  series: Series,
  patch: SeriesPatch,
  msg: ParsedMessage,
  byMsgid: Map<string, ParsedMessage>,
  opts: AmOptions,
): Trailer[] {
  const own: Trailer[] = [];
  const cover: Trailer[] = [];
  for (const t of patch.trailers) {
    if (t.from === patch.msgid || t.from === msg.msgid) continue;
    const source = byMsgid.get(t.from);
    const rt = withExtinfo(t, source);
    const chain = source ? ancestors(source, byMsgid) : [];
    const viaCover = series.cover !== null
      && (t.from === series.cover || (chain.includes(series.cover) && !chain.includes(patch.msgid)));
    (viaCover ? cover : own).push(rt);
  }
  const out = [...own, ...cover];
  if (opts.addLink) out.push(linkTrailer(opts.linkMask ?? DEFAULT_LINK_MASK, patch.msgid));
  return out;
}

function linkTrailer(mask: string, msgid: string): Trailer {
  const at = mask.indexOf(':');
  const effective = at > 0 ? mask : DEFAULT_LINK_MASK;
  const colon = effective.indexOf(':');
  const name = effective.slice(0, colon).trim();
  const value = effective.slice(colon + 1).trim().replace('%s', bareMsgid(msgid));
  return makeTrailer(name, value);
}

function parseSob(sob: string): Trailer {
  return makeTrailer('Signed-off-by', sob.trim());
}

function globToRegExp(glob: string): RegExp {
  const src = glob.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')
    .replace(/\[!/g, '[^');
  return new RegExp(`^${src}$`);
}

/** Sort `trailers` by the first glob of `order` their lower-case name matches; unmatched go last. */
function applyOrder(trailers: Trailer[], order: string): Trailer[] {
  const rest = [...trailers];
  const ordered: Trailer[] = [];
  for (const glob of order.split(',').map((g) => g.trim().toLowerCase())) {
    if (rest.length === 0) break;
    const re = globToRegExp(glob);
    for (const t of [...rest]) {
      if (re.test(t.name.toLowerCase())) {
        ordered.push(t);
        rest.splice(rest.indexOf(t), 1);
      }
    }
  }
  return [...ordered, ...rest];
}

/** To and Cc recipients as Cc trailers, sorted by domain then local part, skipping those already named. */
function copyCcTrailers(msg: ParsedMessage, present: Trailer[]): Trailer[] {
  const key = (email: string) => {
    const at = email.indexOf('@');
    return at > 0 ? email.slice(at + 1) + email.slice(0, at) : email;
  };
  const dests = [...msg.to, ...msg.cc].map((p, i) => ({ p, i }))
    .sort((a, b) => (key(a.p.email) < key(b.p.email) ? -1 : key(a.p.email) > key(b.p.email) ? 1 : a.i - b.i))
    .map((x) => x.p);
  const out: Trailer[] = [];
  for (const d of dests) {
    const known = [...present, ...out].some((t) => {
      const addr = trailerEmail(t);
      return addr !== null && emailMatches(addr, d.email);
    });
    if (known) continue;
    out.push(makeTrailer('Cc', d.name ? `${d.name} <${d.email}>` : d.email));
  }
  return out;
}

/** b4 fix_trailers() + rebuild_message() on a mailinfo'd body. */
function rebuildBody(text: string, added: Trailer[], msg: ParsedMessage, opts: AmOptions): string {
  const parts = splitBody(text);
  let btrailers = [...parts.trailers];
  let fresh = [...added];
  const sob = opts.addMySob ? parseSob(opts.addMySob) : null;

  // My sign-off always moves to the bottom of all trailers.
  if (sob) {
    btrailers = btrailers.filter((t) => !trailerEquals(t, sob));
    fresh = fresh.filter((t) => !trailerEquals(t, sob));
  }
  if (opts.copyCcs) fresh.push(...copyCcTrailers(msg, [...btrailers, ...fresh]));

  const order = opts.trailerOrder?.trim();
  if (order && order !== '*') {
    // Ordering applies within our chain of custody: the trailers below the last Signed-off-by.
    while (btrailers.length > 0 && btrailers[btrailers.length - 1]!.name.toLowerCase() !== 'signed-off-by') {
      fresh.unshift(btrailers.pop()!);
    }
    fresh = applyOrder(fresh, order);
  }

  const fixed = [...btrailers];
  for (const t of fresh) {
    if (fixed.some((f) => trailerEquals(f, t))) continue;
    fixed.push(t);
  }
  if (sob) fixed.push(sob);

  let body = '';
  if (parts.headers.length > 0) {
    for (const h of parts.headers) body += formatTrailer(h, true) + '\n';
    body += '\n';
  }
  if (parts.message.length > 0) {
    body += parts.message.replace(/[\r\n]+$/, '') + '\n';
    if (fixed.length > 0) body += '\n';
  }
  for (const t of fixed) body += formatTrailer(t) + '\n';
  if (parts.basement.length > 0) {
    if (fixed.length === 0) body += '\n';
    const stripped = parts.basement.replace(/^[\r\n]+/, '');
    const isPatch = stripped.trimStart().startsWith('diff --git') || stripped.trimStart().startsWith('--- ');
    body += DIFFSTAT_RE.test(parts.basement) || !isPatch ? '---\n' : '\n';
    body += parts.tail + '\n';
  } else if (parts.signature.length > 0) {
    body += '-- \n' + parts.signature.replace(/[\r\n]+$/, '') + '\n';
  }
  return body;
}
