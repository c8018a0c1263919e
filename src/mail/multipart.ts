// A small multipart reader for the common shapes of list mail: multipart/mixed, /alternative and
// /signed (nested a few levels) whose leaves are text/plain, text/html, patch attachments
// (text/x-patch ...) or attachments that add no text. It composes the text the way mailparser's
// simpleParser does (inline text/plain parts joined by newlines, HTML parts ignored, patch
// attachments after), so both give the same ParsedMessage. Anything else (encrypted mail, embedded messages, odd
// encodings, broken structure) returns null and goes to mailparser. Pure: no I/O.
import { Buffer } from 'node:buffer';
import libmime from 'libmime';
import {
  decodeCharset,
  decodeWords,
  decodeFlowed,
  decodeTransfer,
  headerBytesToText,
  parseContentType,
  splitHeaders,
  unfold,
  type ContentType,
} from './mime.js';

const MAX_DEPTH = 4;
const MAX_PARTS = 64;
const CONTAINERS = new Set(['multipart/mixed', 'multipart/alternative', 'multipart/signed']);
/** attachment types read as text, the same list parse.ts applies to mailparser's attachments */
export const PATCH_ATTACHMENT_TYPES = new Set([
  'text/plain',
  'text/x-patch',
  'text/x-diff',
  'text/x-log',
  'text/patch',
  'text/diff',
  'application/x-patch',
  'application/x-diff',
]);
const ENCODINGS = new Set(['', '7bit', '8bit', 'binary', 'base64', 'quoted-printable']);

interface Leaf {
  type: string;
  ct: ContentType;
  inline: boolean;
  /** under a multipart/alternative */
  alternative: boolean;
  body: Buffer;
  encoding: string;
}

class Unsupported extends Error {}

function headerValue(headers: { name: string; raw: string }[], name: string): string | undefined {
  const h = headers.find((x) => x.name === name);
  return h ? unfold(headerBytesToText(h.raw)) : undefined;
}

/** Positions of the delimiter lines of `boundary` in buf[start, end): [lineStart, lineEnd, closing]. */
function delimiters(buf: Buffer, start: number, end: number, boundary: string): [number, number, boolean][] {
  const marker = Buffer.from(`--${boundary}`, 'latin1');
  const out: [number, number, boolean][] = [];
  let pos = start;
  while (pos < end) {
    const at = buf.indexOf(marker, pos);
    if (at < 0 || at >= end) break;
    if (at === start || buf[at - 1] === 0x0a) {
      let k = at + marker.length;
      let closing = false;
      if (buf[k] === 0x2d && buf[k + 1] === 0x2d) {
        closing = true;
        k += 2;
      }
      while (k < end && (buf[k] === 0x20 || buf[k] === 0x09 || buf[k] === 0x0d)) k++;
      if (k >= end || buf[k] === 0x0a) {
        out.push([at, Math.min(k + 1, end), closing]);
        if (closing) break;
        pos = k + 1;
        continue;
      }
    }
    pos = at + marker.length;
  }
  return out;
}

function walk(buf: Buffer, start: number, end: number, ct: ContentType, alternative: boolean, depth: number, leaves: Leaf[]): void {
  if (depth > MAX_DEPTH) throw new Unsupported('too deep');
  const boundary = ct.params.boundary;
  if (!boundary || boundary.length > 200) throw new Unsupported('no boundary');
  const delims = delimiters(buf, start, end, boundary);
  if (delims.length < 2 || !delims[delims.length - 1][2]) throw new Unsupported('unterminated multipart');
  if (delims.length > MAX_PARTS + 1) throw new Unsupported('too many parts');
  const alt = alternative || ct.type === 'multipart/alternative';
  for (let d = 0; d + 1 < delims.length; d++) {
    const partStart = delims[d][1];
    // the line break in front of the next delimiter belongs to the delimiter
    let partEnd = delims[d + 1][0];
    if (partEnd > partStart && buf[partEnd - 1] === 0x0a) partEnd--;
    if (partEnd > partStart && buf[partEnd - 1] === 0x0d) partEnd--;
    const part = buf.subarray(partStart, Math.max(partStart, partEnd));
    const split = splitHeaders(part);
    if (split.mboxFrom !== null) throw new Unsupported('From line in a part');
    const rawType = headerValue(split.headers, 'content-type');
    const disposition = headerValue(split.headers, 'content-disposition');
    const cte = headerValue(split.headers, 'content-transfer-encoding') ?? '';
    if (!ENCODINGS.has(cte.toLowerCase().trim())) throw new Unsupported('encoding');
    if (rawType === undefined && disposition !== undefined) throw new Unsupported('typeless attachment');
    const partCt = parseContentType(rawType, '');
    if (rawType !== undefined && partCt.type === '') throw new Unsupported('bad type');
    const type = partCt.type || 'text/plain';
    if (type.startsWith('multipart/')) {
      if (!CONTAINERS.has(type)) throw new Unsupported(type);
      if (leaves.length > MAX_PARTS) throw new Unsupported('too many parts');
      walk(part, split.bodyStart, part.length, partCt, alt, depth + 1, leaves);
      continue;
    }
    if (type.startsWith('message/')) throw new Unsupported(type);
    // mailparser's rules: an unknown disposition is an attachment; only text/plain and
    // text/html can be inline text
    const dispParams = disposition !== undefined ? parseContentType(`x/x;${disposition.slice(disposition.indexOf(';') + 1)}`).params : {};
    let disp = disposition !== undefined ? disposition.split(';')[0].trim().toLowerCase() : '';
    if (disp && disp !== 'inline' && disp !== 'attachment') disp = 'attachment';
    const textType = type === 'text/plain' || type === 'text/html';
    const inline = textType && disp !== 'attachment';
    if (!inline) {
      const filename = decodeWords(dispParams.filename ?? partCt.params.name ?? '');
      const effective = type === 'application/octet-stream' && filename ? libmime.detectMimeType(filename) || type : type;
      const patch =
        PATCH_ATTACHMENT_TYPES.has(effective) ||
        (/\.(?:patch|diff)$/i.test(filename) && (effective === 'application/octet-stream' || effective.startsWith('text/')));
      // other attachments (signatures, archives, images) do not add to the text
      if (!patch) continue;
    }
    leaves.push({ type, ct: { type, params: partCt.params }, inline, alternative: alt, body: part.subarray(split.bodyStart), encoding: cte });
  }
}

function utf8Like(charset: string | undefined): boolean {
  return ['ascii', 'usascii', 'utf8'].includes((charset || 'utf-8').toLowerCase().replace(/[^a-z0-9]+/g, ''));
}

/**
 * The text of a multipart message composed as simpleParser composes it, or null when the
 * structure is not one this reader handles.
 */
export function readMultipart(buf: Buffer, bodyStart: number, ct: ContentType): string[] | null {
  if (!CONTAINERS.has(ct.type)) return null;
  const leaves: Leaf[] = [];
  try {
    walk(buf, bodyStart, buf.length, ct, false, 0, leaves);
  } catch (err) {
    if (err instanceof Unsupported) return null;
    throw err;
  }
  const hasText = leaves.some((l) => l.inline && l.type === 'text/plain');
  const text: string[] = [];
  const attachments: string[] = [];
  for (const leaf of leaves) {
    let bytes = decodeTransfer(leaf.body, leaf.encoding);
    const charset = leaf.ct.params.charset;
    if (!leaf.inline) {
      attachments.push(decodeCharset(bytes, charset).replace(/\r\n/g, '\n'));
      continue;
    }
    if (leaf.type === 'text/html') {
      if (!bytes.length) continue;
      if (!leaf.alternative && hasText) text.push('');
      continue;
    }
    if ((leaf.ct.params.format ?? '').toLowerCase().trim() === 'flowed') {
      const delSp = (leaf.ct.params.delsp ?? '').toLowerCase().trim() === 'yes';
      bytes = Buffer.from(decodeFlowed(bytes.toString('latin1'), delSp), 'latin1');
    }
    // as mailparser: undeclared, ASCII and UTF-8 parts are read as UTF-8
    const decoded = utf8Like(charset) ? bytes.toString('utf8') : decodeCharset(bytes, charset);
    const content = decoded.replace(/\r?\n/g, '\n');
    if (content) text.push(content);
  }
  return [text.length ? text.join('\n') : '', ...attachments];
}
