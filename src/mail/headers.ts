// Structured header fields: addresses, message ids, dates, list ids and DMARC un-munging.
// Input is header text already turned from bytes into characters (encoded words still in place
// for addresses: they are decoded per display name, after the address is split). Pure: no I/O.
import type { Person } from './types.js';
import { decodeWords, normaliseSpace } from './mime.js';

const MAX_MSGID_LENGTH = 998;

// ---------------------------------------------------------------------------------------------
// Addresses

interface AddressToken {
  kind: 'text' | 'quoted' | 'comment' | 'angle' | 'comma' | 'colon' | 'semicolon';
  value: string;
}

/** Tokens of an address list; each token's text is taken as slices of the input, not built char by char. */
function tokenizeAddresses(input: string): AddressToken[] {
  const tokens: AddressToken[] = [];
  let textFrom = -1; // start of the pending text token
  const flush = (to: number): void => {
    if (textFrom >= 0 && to > textFrom) tokens.push({ kind: 'text', value: input.slice(textFrom, to) });
    textFrom = -1;
  };
  let i = 0;
  const n = input.length;
  while (i < n) {
    const c = input.charCodeAt(i);
    if (c === 0x22 /* " */) {
      flush(i);
      // a backslash takes the next character literally (a backslash at the very end stays)
      let j = i + 1;
      let from = j;
      let v = '';
      while (j < n && input.charCodeAt(j) !== 0x22) {
        if (input.charCodeAt(j) === 0x5c && j + 1 < n) {
          v += input.slice(from, j);
          j++;
          from = j;
        }
        j++;
      }
      v += input.slice(from, Math.min(j, n));
      tokens.push({ kind: 'quoted', value: v });
      i = j + 1;
    } else if (c === 0x28 /* ( */) {
      flush(i);
      // nested comments stay in the value; the closing parenthesis does not
      let depth = 1;
      let j = i + 1;
      let from = j;
      let v = '';
      let closed = false;
      while (j < n && depth > 0) {
        const d = input.charCodeAt(j);
        if (d === 0x5c && j + 1 < n) {
          v += input.slice(from, j);
          from = j + 1;
          j += 2;
          continue;
        }
        if (d === 0x28) depth++;
        else if (d === 0x29) {
          depth--;
          if (depth === 0) {
            v += input.slice(from, j);
            closed = true;
            j++;
            break;
          }
        }
        j++;
      }
      if (!closed) v += input.slice(from, j);
      tokens.push({ kind: 'comment', value: v });
      i = j;
    } else if (c === 0x3c /* < */) {
      flush(i);
      const j = input.indexOf('>', i + 1);
      const end = j < 0 ? n : j;
      tokens.push({ kind: 'angle', value: input.slice(i + 1, end) });
      i = end + 1;
    } else if (c === 0x2c /* , */) {
      flush(i);
      tokens.push({ kind: 'comma', value: ',' });
      i++;
    } else if (c === 0x3a /* : */) {
      flush(i);
      tokens.push({ kind: 'colon', value: ':' });
      i++;
    } else if (c === 0x3b /* ; */) {
      flush(i);
      tokens.push({ kind: 'semicolon', value: ';' });
      i++;
    } else {
      if (textFrom < 0) textFrom = i;
      i++;
    }
  }
  flush(n);
  return tokens;
}

function cleanName(name: string): string {
  const n = normaliseSpace(name);
  return n.includes('=?') ? normaliseSpace(decodeWords(n)) : n;
}

function cleanEmail(email: string): string {
  let e = email.replace(/\s+/g, '');
  // source route `@a,@b:user@host`
  const route = /^(?:@[^:]*:)(.+)$/.exec(e);
  if (route) e = route[1];
  return e.replace(/^mailto:/i, '');
}

function addressFromTokens(tokens: AddressToken[]): Person | null {
  if (!tokens.length) return null;
  const angle = tokens.find((t) => t.kind === 'angle');
  if (angle) {
    const nameParts: string[] = [];
    const comments: string[] = [];
    for (const t of tokens) {
      if (t === angle) continue;
      if (t.kind === 'text' || t.kind === 'quoted') nameParts.push(t.value);
      else if (t.kind === 'comment') comments.push(t.value);
      else if (t.kind === 'colon') nameParts.push(':');
    }
    let name = cleanName(nameParts.join(' '));
    if (!name && comments.length) name = cleanName(comments.join(' '));
    return { name, email: cleanEmail(angle.value) };
  }
  // `user@host (Name)` or `user at host (Name)` or a bare address
  const textParts: string[] = [];
  const comments: string[] = [];
  for (const t of tokens) {
    if (t.kind === 'text') textParts.push(t.value);
    else if (t.kind === 'quoted') textParts.push(t.value);
    else if (t.kind === 'comment') comments.push(t.value);
    else if (t.kind === 'colon') textParts.push(':');
  }
  let addr = normaliseSpace(textParts.join(' '));
  if (!addr.includes('@')) {
    const at = /^(\S+)\s+at\s+(\S+)$/i.exec(addr);
    if (at) addr = `${at[1]}@${at[2]}`;
  }
  if (!addr && !comments.length) return null;
  const words = addr.split(' ');
  if (words.length > 1) {
    // `Name user@host` without brackets: the address is the word with the @
    const idx = words.findIndex((w) => w.includes('@'));
    if (idx >= 0) {
      const email = words[idx];
      const rest = words.filter((_, k) => k !== idx).join(' ');
      return { name: cleanName(rest || comments.join(' ')), email: cleanEmail(email) };
    }
  }
  return { name: cleanName(comments.join(' ')), email: cleanEmail(addr) };
}

/**
 * Parses an address list header (`To`, `Cc`, `Reply-To` ...). Groups (`list: a, b;`) are
 * flattened; display names have their encoded words decoded; entries without any address
 * text are dropped.
 */
export function parseAddressList(header: string): Person[] {
  if (!header) return [];
  const tokens = tokenizeAddresses(header.includes('\n') ? header.replace(/\r?\n/g, ' ') : header);
  const result: Person[] = [];
  let cur: AddressToken[] = [];
  const push = (): void => {
    const a = addressFromTokens(cur);
    if (a && (a.email || a.name)) result.push(a);
    cur = [];
  };
  for (const t of tokens) {
    if (t.kind === 'comma' || t.kind === 'semicolon') {
      push();
    } else if (t.kind === 'colon' && !cur.some((x) => x.kind === 'angle')) {
      // group name `undisclosed-recipients:` — drop what came before
      const hasAt = cur.some((x) => (x.kind === 'text' || x.kind === 'quoted') && x.value.includes('@'));
      if (hasAt) cur.push(t);
      else cur = [];
    } else {
      cur.push(t);
    }
  }
  push();
  return result;
}

/** The first address of a header, or null. */
export function parseAddress(header: string): Person | null {
  const list = parseAddressList(header);
  return list.find((p) => p.email) ?? list[0] ?? null;
}

/** Whether an address looks deliverable enough to identify an author: `local@domain`. */
export function isUsableEmail(email: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /^[^@\s<>()\x00-\x1f\x7f]+@[^@\s<>()\x00-\x1f\x7f]+$/.test(email) && email.length <= 320;
}

// ---------------------------------------------------------------------------------------------
// Message ids

function stripComments(value: string): string {
  if (!value.includes('(')) return value; // nothing to strip
  let out = '';
  let depth = 0;
  let inAngle = false;
  let inQuote = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (depth === 0 && !inQuote && c === '<') inAngle = true;
    else if (depth === 0 && !inQuote && c === '>') inAngle = false;
    if (!inAngle && !inQuote && c === '(') {
      depth++;
      continue;
    }
    if (depth > 0) {
      if (c === '\\') i++;
      else if (c === ')') depth--;
      continue;
    }
    if (!inAngle && c === '"') inQuote = !inQuote;
    out += c;
  }
  return out;
}

function validMsgid(id: string): boolean {
  // eslint-disable-next-line no-control-regex
  return id.length > 2 && id.length <= MAX_MSGID_LENGTH && !/[\s<>\x00-\x1f\x7f]/.test(id.slice(1, -1));
}

/**
 * Message ids of a Message-ID / In-Reply-To / References header, in order, with angle brackets,
 * deduplicated. Comments are dropped. An id missing its `<` or `>` (`abc@host>`) is accepted and
 * given its brackets; bare words without `@` are not ids.
 */
export function parseMessageIds(header: string): string[] {
  if (!header) return [];
  const value = stripComments(header.includes('\n') ? header.replace(/\r?\n/g, ' ') : header);
  const ids: string[] = [];
  const seen = new Set<string>();
  const add = (id: string): void => {
    if (validMsgid(id) && !seen.has(id)) {
      seen.add(id);
      ids.push(id);
    }
  };
  const re = /<([^<>]*)>/g;
  let m: RegExpExecArray | null;
  let found = false;
  while ((m = re.exec(value)) !== null) {
    const inner = m[1].replace(/\s+/g, '');
    if (inner) {
      found = true;
      add(`<${inner}>`);
    }
  }
  if (found) return ids;
  for (const word of value.split(/[\s,]+/)) {
    const inner = word.replace(/^<+|>+$/g, '');
    if (inner.includes('@') && !/[<>]/.test(inner)) add(`<${inner}>`);
  }
  return ids;
}

// ---------------------------------------------------------------------------------------------
// Dates

const MONTHS: Record<string, number> = {
  jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11,
};
const ZONES: Record<string, number> = {
  ut: 0, utc: 0, gmt: 0, z: 0, est: -300, edt: -240, cst: -360, cdt: -300, mst: -420, mdt: -360, pst: -480,
  pdt: -420, cet: 60, cest: 120, met: 60, mest: 120, bst: 60, ist: 330, jst: 540, kst: 540, eet: 120, eest: 180,
};
const DATE_RE =
  /^(?:[A-Za-z]{2,}\.?,?\s*)?(\d{1,2})[\s-]+([A-Za-z]{3})[A-Za-z]*\.?[\s-]+(\d{2,4})\s+(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.\d+)?)?\s*([+-]\d{2}:?\d{2}|[A-Za-z]{1,5})?/;

/**
 * Parses an RFC 5322 date (lenient: obsolete zones, two-digit years, missing seconds, ISO 8601)
 * into ISO 8601 UTC. Returns null for anything unusable, including years outside 1970–2200.
 */
export function parseDate(header: string | null | undefined): string | null {
  if (!header) return null;
  const value = normaliseSpace(stripComments(header));
  if (!value || value.length > 200) return null;
  let ms: number | null = null;
  const m = DATE_RE.exec(value);
  if (m) {
    const day = Number(m[1]);
    const month = MONTHS[m[2].toLowerCase()];
    let year = Number(m[3]);
    if (m[3].length === 2) year += year < 50 ? 2000 : 1900;
    else if (m[3].length === 3) year += 1900;
    const hour = Number(m[4]);
    const minute = Number(m[5]);
    const second = m[6] ? Number(m[6]) : 0;
    let offset = 0;
    if (m[7]) {
      const z = m[7];
      if (/^[+-]/.test(z)) {
        const digits = z.replace(':', '');
        const sign = digits[0] === '-' ? -1 : 1;
        offset = sign * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5)));
      } else {
        offset = ZONES[z.toLowerCase()] ?? 0;
      }
    }
    if (month !== undefined && day >= 1 && day <= 31 && hour <= 23 && minute <= 59 && second <= 60) {
      ms = Date.UTC(year, month, day, hour, minute, second) - offset * 60_000;
    }
  } else if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(value)) {
    const t = Date.parse(value);
    if (Number.isFinite(t)) ms = t;
  }
  if (ms === null || !Number.isFinite(ms)) return null;
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  if (y < 1970 || y > 2200) return null;
  return d.toISOString();
}

/** The date of a Received header: the part after its last `;`. */
export function parseReceivedDate(header: string | null | undefined): string | null {
  if (!header) return null;
  const semi = header.lastIndexOf(';');
  if (semi < 0) return null;
  return parseDate(header.slice(semi + 1));
}

// ---------------------------------------------------------------------------------------------
// Lists

/** The list id of a `List-Id` style header: the `<...>` part, else the value when it is one word. */
export function parseListId(header: string | null | undefined): string | null {
  if (!header) return null;
  const value = normaliseSpace(header);
  const m = /<([^<>\s]+)>/.exec(value);
  if (m) return m[1];
  if (value && !/\s/.test(value)) return value;
  return null;
}

// ---------------------------------------------------------------------------------------------
// DMARC un-munging

export interface DmarcContext {
  xOriginalFrom: Person | null;
  replyTo: Person[];
  cc: Person[];
  /** addresses known to be the list's own (List-Post, List-Id derived, X-BeenThere, ...) */
  listAddresses: string[];
}

/**
 * Mailing lists rewrite From for senders with a strict DMARC policy: Mailman to
 * `Name via List <list@...>` (keeping the author in Reply-To, or in Cc when the list sets
 * Reply-To itself), Google Groups to `'Name' via List <list@...>` plus X-Original-From.
 * Returns the real author when it can be found, else the From as it is.
 */
export function unmungeFrom(from: Person, ctx: DmarcContext): Person {
  const name = from.name;
  let stripped: string | null = null;
  const via = name.lastIndexOf(' via ');
  if (via >= 0) stripped = name.slice(0, via);
  else if (/\svia$/.test(name)) stripped = name.slice(0, name.length - 4);
  if (stripped !== null) stripped = stripped.trim().replace(/^'+|'+$/g, '').replace(/^"+|"+$/g, '').trim();

  const fromLower = from.email.toLowerCase();
  const fromIsList = ctx.listAddresses.some((a) => a.toLowerCase() === fromLower);
  const xof = ctx.xOriginalFrom;
  const xofDiffers = !!xof && isUsableEmail(xof.email) && xof.email.toLowerCase() !== fromLower;
  if (stripped === null && !fromIsList && !xofDiffers) return from;

  const plainName = stripped ?? name.replace(/^'+|'+$/g, '').trim();
  if (xof && xofDiffers) return { name: xof.name || plainName, email: xof.email };
  if (stripped === null && !fromIsList) return from;
  for (const p of [...ctx.replyTo, ...ctx.cc]) {
    if (p.email && p.name && p.name.trim() === plainName && p.email.toLowerCase() !== fromLower) {
      return { name: plainName, email: p.email };
    }
  }
  return from;
}
