// Trailer parsing, b4 style. Pure: no I/O.
//
// Two readings of a body, as b4 does them:
//  - parseTrailers(): the trailer block of a commit message, i.e. the trailer lines of its last paragraph
//    (everything above `---` / the diff; signature below `-- ` ignored);
//  - findTrailers(text, { followup: true }): every trailer-looking unquoted line of a reply, with the
//    stricter rules b4 applies to follow-ups (a person trailer needs an address, links only in link trailers).
import type { Trailer } from './types.js';

/** Trailers whose value is not a person even when it contains an `@` (Link: https://.../msgid@host). */
const UTILITY_NAMES = new Set([
  'fixes', 'link', 'buglink', 'closes', 'obsoleted-by', 'message-id', 'change-id', 'base-commit', 'based-on',
]);
/** `Name: value` lines that are never trailers. */
const IGNORED_NAMES = new Set(['phone', 'email', 'prerequisite-message-id']);
/** Mail headers: only taken while nothing else has been seen yet (in-body headers). */
const HEADER_NAMES = new Set(['subject', 'date', 'from']);
const LINK_NAMES = new Set(['link', 'buglink', 'closes']);
const NONPERSON_NAMES = new Set([...LINK_NAMES, 'fixes', 'subject', 'date', 'obsoleted-by', 'change-id', 'base-commit']);

const TRAILER_LINE_RE = /^\s*(\w\S+):\s+(\S.*)$/;
const EXTINFO_LINE_RE = /^\s*\[[^\]]+\]\s*$/;
const HASH_COMMENT_RE = /^(.*\S)(\s+#[^#]+)$/;
const PERSON_RE = /\S+@\S+\.\S+/;
const SIG_SEPARATOR = '\n-- \n';

export interface FindTrailersOptions {
  /** apply b4's follow-up rules (reply bodies) */
  followup?: boolean;
}

export interface FoundTrailers {
  trailers: Trailer[];
  /** lines that are not trailers (nor extinfo lines), in order */
  others: string[];
}

/** Outlook & co. turn `<a@b.org>` into `<a@b.org<mailto:a@b.org>>`: drop the `<mailto:...>` part. */
function cleanHtmlJunk(value: string): string {
  return value.replace(/<mailto:[^<>]*>/gi, '');
}

function trailerType(name: string, value: string): Trailer['type'] {
  if (UTILITY_NAMES.has(name.toLowerCase()) || value.includes('://')) return 'utility';
  if (PERSON_RE.test(value)) return 'person';
  return 'utility';
}

/** Build a trailer from a name and a raw value, as b4 would (junk cleaned, `  # comment` split off). */
export function makeTrailer(name: string, rawValue: string, extinfo: string | null = null): Trailer {
  let value = cleanHtmlJunk(rawValue).trim();
  let ext = extinfo;
  const m = HASH_COMMENT_RE.exec(value);
  if (m && ext === null) {
    value = m[1]!;
    ext = m[2]!;
  }
  return { name, value, type: trailerType(name, value), extinfo: ext };
}

/** Re-join the wrapping that mail clients and copy-paste commonly introduce into trailers. */
function unwrap(text: string): string {
  // Fixes: abcd0123 (foo bar
  // baz quux)
  let out = text.includes('(') ? text.replace(/^(\S+:\s+[\da-f]+\s+\([^)\n]+)\n([^\n]+\))/gim, '$1 $2') : text;
  // Signed-off-by: Long Name
  // <email.here@example.com>
  if (out.includes('\n<')) out = out.replace(/^(\S+:\s+[^<\n]+)\n(<[^>\n]+>)$/gm, '$1 $2');
  return out;
}

/** text.replace(/^\n+|\n+$/g, '') without a regex scan of the whole text */
function trimNewlines(text: string): string {
  let a = 0;
  let b = text.length;
  while (a < b && text.charCodeAt(a) === 0x0a) a++;
  while (b > a && text.charCodeAt(b - 1) === 0x0a) b--;
  return a === 0 && b === text.length ? text : text.slice(a, b);
}

/** text.replace(/\n+$/, '') */
function trimTrailingNewlines(text: string): string {
  let b = text.length;
  while (b > 0 && text.charCodeAt(b - 1) === 0x0a) b--;
  return b === text.length ? text : text.slice(0, b);
}

/** text.replace(/^\n+/, '') */
function trimLeadingNewlines(text: string): string {
  let a = 0;
  while (a < text.length && text.charCodeAt(a) === 0x0a) a++;
  return a === 0 ? text : text.slice(a);
}

/** text.replace(/\r/g, '') */
function dropCarriageReturns(text: string): string {
  return text.includes('\r') ? text.replace(/\r/g, '') : text;
}

/**
 * Every trailer line of `text` (b4 `find_trailers`). Lines below a `-- ` signature marker are ignored,
 * quoted lines (`>`) never match. An extinfo line (`[for the foo bits]`) right after a trailer is attached
 * to it verbatim; a trailing `  # comment` is split off into extinfo too.
 */
export function findTrailers(text: string, opts: FindTrailersOptions = {}): FoundTrailers {
  let body = dropCarriageReturns(text);
  const sig = body.indexOf(SIG_SEPARATOR);
  if (sig >= 0) body = body.slice(0, sig);
  body = unwrap(body.trim() + '\n');

  const trailers: Trailer[] = [];
  const others: string[] = [];
  let wasTrailer = false;
  for (const line of body.split('\n')) {
    const m = TRAILER_LINE_RE.exec(line);
    if (m) {
      const name = m[1]!;
      const raw = m[2]!;
      const lname = name.toLowerCase();
      if (IGNORED_NAMES.has(lname)) continue;
      if (others.length > 0 && HEADER_NAMES.has(lname)) continue;
      if (opts.followup) {
        // eslint-disable-next-line no-control-regex
        if (!/^[\x00-\x7f]*$/.test(lname)) continue;
        if (!PERSON_RE.test(raw) && !NONPERSON_NAMES.has(lname)) continue;
        if (/https?:\/\//.test(raw) && !LINK_NAMES.has(lname)) continue;
      }
      trailers.push(makeTrailer(name, raw));
      wasTrailer = true;
      continue;
    }
    if (line.length > 2 && wasTrailer && EXTINFO_LINE_RE.test(line)) {
      trailers[trailers.length - 1]!.extinfo = line;
      wasTrailer = false;
      continue;
    }
    wasTrailer = false;
    others.push(line);
  }
  return { trailers, others };
}

/** The parts of a patch body as b4 sees them (`get_body_parts`). */
export interface BodyParts {
  /** in-body git headers (`From:`/`Subject:` ... as the first paragraph), usually empty */
  headers: Trailer[];
  /** the commit message without its trailer block */
  message: string;
  /** the trailer block (last paragraph) */
  trailers: Trailer[];
  /** everything below `---` (or from the diff on), without the separator */
  basement: string;
  /** the text below a `-- ` signature marker */
  signature: string;
  /** the basement and everything after it (signature included) verbatim, leading newlines dropped */
  tail: string;
}

function sameTrailers(a: Trailer[], b: Trailer[]): boolean {
  return a.length === b.length && a.every((t, i) => trailerEquals(t, b[i]!));
}

/** Split a patch body into in-body headers, message, trailer block, basement and signature. */
export function splitBody(text: string): BodyParts {
  let body = trimNewlines(dropCarriageReturns(text));
  const full = body;
  let signature = '';
  const sig = body.lastIndexOf(SIG_SEPARATOR);
  if (sig >= 0) {
    signature = body.slice(sig + SIG_SEPARATOR.length);
    body = trimTrailingNewlines(body.slice(0, sig));
  }

  let top = body;
  let basementAt = -1;
  const sep = /^---\n/m.exec(body);
  if (sep) {
    top = body.slice(0, sep.index);
    basementAt = sep.index + sep[0].length;
  } else if (body.includes('\ndiff ')) {
    top = body.slice(0, body.indexOf('\ndiff '));
    basementAt = top.length + 1;
  } else if (body.includes('\n--- a/')) {
    top = body.slice(0, body.indexOf('\n--- a/'));
    basementAt = top.length + 1;
  }
  const basement = basementAt < 0 ? '' : trimTrailingNewlines(body.slice(basementAt));
  const tail = basementAt < 0 ? '' : trimLeadingNewlines(full.slice(basementAt));

  const mbody = trimNewlines(top);
  const paras = mbody.split('\n\n');
  const mparts: string[] = [];
  let headers: Trailer[] = [];
  const first = findTrailers(paras[0]!);
  if (first.others.length > 0) mparts.push(paras[0]!);
  else headers = first.trailers;

  const last = findTrailers(paras[paras.length - 1]!);
  if (paras.length === 1) {
    if (sameTrailers(headers, last.trailers)) headers = [];
    const message = trimTrailingNewlines(last.others.join('\n'));
    return { headers, message, trailers: last.trailers, basement, signature, tail };
  }
  if (paras.length > 2) mparts.push(...paras.slice(1, -1));
  if (last.others.length > 0) mparts.push(last.others.join('\n'));
  const message = trimTrailingNewlines(mparts.join('\n\n'));
  return { headers, message, trailers: last.trailers, basement, signature, tail };
}

/**
 * The trailer block of a commit message (b4 semantics): the trailer lines of its last paragraph, with
 * wrapped addresses re-joined, HTML junk cleaned, extinfo attached, names kept verbatim.
 */
export function parseTrailers(text: string): Trailer[] {
  if (!text.trim()) return [];
  return splitBody(text).trailers;
}

/** b4 equality: same name (any case) and same value (any case); extinfo is never compared. */
export function trailerEquals(a: { name: string; value: string }, b: { name: string; value: string }): boolean {
  return a.name.toLowerCase() === b.name.toLowerCase() && a.value.toLowerCase() === b.value.toLowerCase();
}

/** `Name: value` plus extinfo: a `  # comment` stays on the line, a `[...]` line goes below. */
export function formatTrailer(t: { name: string; value: string; extinfo?: string | null }, omitExtinfo = false): string {
  const line = `${t.name}: ${t.value}`;
  if (!t.extinfo || omitExtinfo) return line;
  if (t.extinfo.trimStart().startsWith('#')) return line + t.extinfo;
  return `${line}\n${t.extinfo}`;
}

/** The display name of a person trailer, verbatim (quotes, parentheses, brackets, commas kept). */
export function trailerName(t: { value: string }): string {
  const m = /^(.*?)\s*<[^<>]*>\s*$/.exec(t.value);
  return m ? m[1]! : '';
}

/** The address of a person trailer (lower-case not applied), or null for utility trailers. */
export function trailerEmail(t: { name: string; value: string; type?: Trailer['type'] }): string | null {
  const type = t.type ?? trailerType(t.name, t.value);
  if (type !== 'person') return null;
  const angle = /<([^<>\s]+@[^<>\s]+)>\s*$/.exec(t.value) ?? /<([^<>\s]+@[^<>\s]+)>/.exec(t.value);
  if (angle) return angle[1]!;
  const bare = /[^\s<>"(),;]+@[^\s<>"(),;]+\.[^\s<>"(),;]+/.exec(t.value);
  return bare ? bare[0] : null;
}

/**
 * b4's address comparison: exact (case-insensitive), else ignoring `+extension` local parts, else same
 * local part where one domain is a one-level subdomain of the other (foo@linux.intel.com ~ foo@intel.com).
 */
export function emailMatches(ours: string, theirs: string): boolean {
  let a = ours.toLowerCase();
  let b = theirs.toLowerCase();
  if (a === b) return true;
  if (!a.includes('@') || !b.includes('@')) return false;
  a = a.replace(/\+[^@]+@/, '@');
  b = b.replace(/\+[^@]+@/, '@');
  if (a === b) return true;
  const [alocal, adomain] = splitAddr(a);
  const [blocal, bdomain] = splitAddr(b);
  if (alocal !== blocal) return false;
  const dots = (s: string) => s.split('.').length - 1;
  return Math.abs(dots(adomain) - dots(bdomain)) === 1
    && (adomain.endsWith(`.${bdomain}`) || bdomain.endsWith(`.${adomain}`));
}

function splitAddr(addr: string): [string, string] {
  const at = addr.indexOf('@');
  return [addr.slice(0, at), addr.slice(at + 1)];
}

/**
 * Whether a `Fixes:` value names a commit: a 7..64 hex digit hash (SHA-1 or SHA-256, abbreviated or not),
 * optionally followed by the subject. `?` or a description without a hash is rejected.
 */
export function isValidFixes(value: string): boolean {
  return /^[0-9a-f]{7,64}(?![0-9a-z])/i.test(value.trim());
}
