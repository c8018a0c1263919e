// Low-level MIME helpers shared by the fast path and the mailparser path: header block splitting,
// unfolding, header byte decoding, charsets, transfer encodings. Pure: no I/O.
import { Buffer, isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';
import libmime from 'libmime';
import libqp from 'libqp';

/** One raw header field: lower-case name, value still folded, as a binary (latin1) string. */
export interface RawHeader {
  name: string;
  /** the value after the colon, folding kept, bytes as latin1 code units */
  raw: string;
}

export interface SplitMessage {
  headers: RawHeader[];
  /** byte offset where the body starts (after the blank line), or raw.length when there is none */
  bodyStart: number;
  /** the mbox `From ` line, if the message started with one */
  mboxFrom: string | null;
  /** false when no end of the header block was found within the byte limit */
  complete: boolean;
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * Finds the end of the header block: the first empty line (LF LF or CRLF CRLF or mixed). Returns
 * [end of headers, start of body]; when there is no empty line the whole input is headers.
 */
export function findHeaderEnd(raw: Buffer, limit = raw.length): [number, number] {
  let pos = 0;
  const n = Math.min(limit, raw.length);
  while (pos < n) {
    const nl = raw.indexOf(LF, pos);
    if (nl < 0 || nl >= n) break;
    // the line that follows starts at nl + 1: empty if it is LF or CR LF
    const next = nl + 1;
    if (next < raw.length && raw[next] === LF) return [nl + 1, next + 1];
    if (next + 1 < raw.length && raw[next] === CR && raw[next + 1] === LF) return [nl + 1, next + 2];
    pos = next;
  }
  // a message whose first line is already empty has no headers
  if (raw[0] === LF) return [0, 1];
  if (raw[0] === CR && raw[1] === LF) return [0, 2];
  return [n, n];
}

function isFold(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/**
 * Splits the header block into fields. Continuation lines (starting with SP/HT) join the field
 * above with their line break kept; a line without a colon outside a fold is kept as a field with
 * an empty name (it is ignored later), the same as mailsplit does. A leading mbox `From ` line is
 * returned separately.
 */
export function splitHeaders(raw: Buffer, maxHeaderBytes = raw.length): SplitMessage {
  const [headerEnd, bodyStart] = findHeaderEnd(raw, maxHeaderBytes);
  const block = raw.toString('latin1', 0, headerEnd);
  const lines = block.split('\n');
  const headers: RawHeader[] = [];
  let mboxFrom: string | null = null;
  let i = 0;
  if (lines.length && lines[0].startsWith('From ')) {
    mboxFrom = lines[0].replace(/\r$/, '');
    i = 1;
  }
  let cur: RawHeader | null = null;
  for (; i < lines.length; i++) {
    let line = lines[i];
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line === '' && i === lines.length - 1) break;
    if (cur && line.length && isFold(line.charCodeAt(0))) {
      cur.raw += '\n' + line;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon < 0) {
      cur = { name: '', raw: line };
    } else {
      cur = { name: line.slice(0, colon).trim().toLowerCase(), raw: line.slice(colon + 1) };
    }
    headers.push(cur);
  }
  const complete = bodyStart > headerEnd || raw.length <= maxHeaderBytes;
  return { headers, bodyStart, mboxFrom, complete };
}

/** True when the binary string has no byte >= 0x80. */
function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * Turns raw header bytes (a latin1 string) into text: valid UTF-8 is read as UTF-8 (raw unencoded
 * UTF-8 headers are common from git send-email), anything else as windows-1252.
 */
export function headerBytesToText(raw: string): string {
  if (isAscii(raw)) return raw;
  const buf = Buffer.from(raw, 'latin1');
  if (isUtf8(buf)) return buf.toString('utf8');
  return iconv.decode(buf, 'windows-1252');
}

/** Unfolds a header value (drops the line breaks of folding) and trims it. */
export function unfold(value: string): string {
  if (!value.includes('\n')) return value.trim();
  return value.replace(/\r?\n(?=[ \t])/g, '').replace(/\r?\n/g, ' ').trim();
}

/** Decodes RFC 2047 encoded words; never throws. */
export function decodeWords(text: string): string {
  if (!text.includes('=?')) return text;
  try {
    return libmime.decodeWords(text);
  } catch {
    return text;
  }
}

/** Whether a code unit >= 0xa0 is one of JavaScript's `\s` characters. */
function isWideSpace(c: number): boolean {
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f
    || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/**
 * Whether normaliseSpace would change TEXT: it has a control character or a `\s` character other than a
 * single space between two other characters. Most header values and names are already normal: one scan
 * instead of a regex replace and a trim, which allocate.
 */
function needsNormalising(text: string): boolean {
  let afterSpace = true; // a leading space is trimmed
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x20) {
      if (afterSpace) return true;
      afterSpace = true;
      continue;
    }
    if (c < 0x20 || c === 0x7f || (c >= 0xa0 && isWideSpace(c))) return true;
    afterSpace = false;
  }
  return afterSpace && text.length > 0; // a trailing space is trimmed
}

/** Collapses runs of whitespace (and control characters) to one space and trims. */
export function normaliseSpace(text: string): string {
  if (!needsNormalising(text)) return text;
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\s\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+/g, ' ').trim();
}

export interface ContentType {
  /** lower-case `type/subtype`; `text/plain` when missing or broken */
  type: string;
  params: Record<string, string>;
}

/** Parses Content-Type (or Content-Disposition) with libmime; never throws. */
export function parseContentType(value: string | undefined, fallback = 'text/plain'): ContentType {
  if (!value || !value.trim()) return { type: fallback, params: {} };
  try {
    const parsed = libmime.parseHeaderValue(unfold(value));
    const type = String(parsed.value || '').toLowerCase().trim();
    const params: Record<string, string> = {};
    for (const [k, v] of Object.entries(parsed.params || {})) params[k.toLowerCase()] = String(v);
    // a type must look like `a/b`; anything else is treated as plain text (RFC 2045 5.2)
    if (!/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(type)) return { type: fallback, params };
    return { type, params };
  } catch {
    return { type: fallback, params: {} };
  }
}

/** Undoes a Content-Transfer-Encoding. Unknown encodings are returned as they are. */
export function decodeTransfer(body: Buffer, encoding: string): Buffer {
  const enc = encoding.toLowerCase().trim();
  if (enc === 'base64') {
    return Buffer.from(body.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
  }
  if (enc === 'quoted-printable') return libqp.decode(body);
  return body;
}

const REFUSED_CHARSET = /^(?:utf-?7(?:-?imap)?|unicode-1-1-utf-7|base64|hex)$/i;
const UTF8_CHARSET = /^utf-?8$/i;
const ASCII_CHARSET = /^(?:us-?ascii|ascii|7bit|ansi_x3\.4-1968|iso646-us)$/i;
const JAPANESE_CHARSET = /^jis|^iso-?2022-?jp|^euc-?jp/i;

/** Whether a declared charset can be decoded as declared. */
export function knownCharset(charset: string): boolean {
  if (UTF8_CHARSET.test(charset) || ASCII_CHARSET.test(charset)) return true;
  const cs = libmime.normalizeCharset(charset);
  if (REFUSED_CHARSET.test(cs)) return false;
  if (UTF8_CHARSET.test(cs) || JAPANESE_CHARSET.test(cs)) return true;
  try {
    return iconv.encodingExists(cs);
  } catch {
    return false;
  }
}

/** UTF-8 when the bytes are valid UTF-8, else windows-1252 (patchwork's fallback order). */
export function guessDecode(buf: Buffer): string {
  if (isUtf8(buf)) return buf.toString('utf8');
  return iconv.decode(buf, 'windows-1252');
}

/**
 * Decodes a text body in its declared charset. Missing, invalid (`none`, NULs) or refused
 * (UTF-7) charsets, and 8-bit bytes in a part declared US-ASCII, fall back to UTF-8 when the
 * bytes are valid UTF-8 and to windows-1252 otherwise. Declared UTF-8 that is broken keeps
 * U+FFFD for the broken bytes (a wrong guess would garble the valid rest).
 */
export function decodeCharset(buf: Buffer, declared: string | undefined | null): string {
  const name = (declared || '').trim();
  // checked before libmime's normalisation, which maps US-ASCII to windows-1252
  if (ASCII_CHARSET.test(name)) return guessDecode(buf);
  if (UTF8_CHARSET.test(name)) return buf.toString('utf8');
  if (!name || /[^\x21-\x7e]/.test(name) || !knownCharset(name)) return guessDecode(buf);
  const cs = libmime.normalizeCharset(name);
  if (UTF8_CHARSET.test(cs)) return buf.toString('utf8');
  try {
    if (JAPANESE_CHARSET.test(cs)) return libmime.decodeWord(cs, 'B', buf.toString('base64'));
    return iconv.decode(buf, cs);
  } catch {
    return guessDecode(buf);
  }
}

/** RFC 3676 format=flowed decoding, as mailparser (and git mailinfo) do it. */
export function decodeFlowed(binary: string, delSp: boolean): string {
  return libmime.decodeFlowed(binary, delSp);
}
