// Raw RFC 822 message -> ParsedMessage. Never throws: unusable mail comes back as kind
// `rejected` with a reason, with every field that could be read. Pure: no I/O.
//
// Two ways to the text of a message, giving the same ParsedMessage:
//  - the fast path: single-part messages and the common multipart shapes (mixed / alternative /
//    signed, see multipart.ts) decoded here (libmime for encoded words and format=flowed,
//    libqp / base64 / iconv-lite for bodies);
//  - mailparser's simpleParser for anything else (embedded messages, encrypted mail, broken
//    structure). test/unit/mail/engines.test.ts holds the two to the same result.
// Headers are always read by the code here, so that raw 8-bit headers decode the same way.
import { createHash } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { Transform, type TransformCallback } from 'node:stream';
import type { Attachment, simpleParser as SimpleParser } from 'mailparser';
import type { Dependencies, ParsedMessage, Person, SubjectInfo, Trailer } from './types.js';
import {
  decodeCharset,
  decodeFlowed,
  decodeTransfer,
  decodeWords,
  headerBytesToText,
  normaliseSpace,
  parseContentType,
  splitHeaders,
  unfold,
  type RawHeader,
} from './mime.js';
import {
  isUsableEmail,
  parseAddress,
  parseAddressList,
  parseDate,
  parseListId,
  parseMessageIds,
  unmungeFrom,
} from './headers.js';
import { parseSubject } from './subject.js';
import { isSeparator, locateDiff } from './diff.js';
import { findProseCut } from './footer.js';
import { parsePullRequest } from './pull-request.js';
import { emptyDependencies, parseDependencyLines } from './deps.js';
import { parseTrailers } from './trailers.js';
import { PATCH_ATTACHMENT_TYPES, readMultipart } from './multipart.js';

export const DEFAULT_MAX_BYTES = 20 * 1024 * 1024;
/** headers beyond this are not read (mailsplit refuses more than 1 MiB too) */
const MAX_HEADER_BYTES = 1024 * 1024;

export interface ParseOptions {
  /** larger messages are rejected without a full parse; default 20 MiB */
  maxBytes?: number;
  /**
   * Which body decoder to use: `auto`/`fast` (the fast path, mailparser for what it cannot read:
   * embedded messages, encrypted mail, broken structure) or `mailparser` for everything (for the
   * tests that compare the two).
   */
  engine?: 'auto' | 'fast' | 'mailparser';
  /**
   * contentHash(raw), when the caller already has it: the parse pool's reading thread hashes each message
   * (native code, while it waits on the parser threads) and the parser thread does not
   */
  hash?: string;
}

const FAST_TYPES = new Set(['text/plain', 'text/html', ...PATCH_ATTACHMENT_TYPES]);

const KEPT_HEADERS = new Set(['x-mailer', 'auto-submitted', 'precedence', 'list-post', 'x-original-from', 'user-agent']);

class Headers {
  private readonly map = new Map<string, RawHeader[]>();
  /** all(name), computed once per name */
  private readonly texts = new Map<string, string[]>();

  constructor(list: RawHeader[]) {
    for (const h of list) {
      if (!h.name) continue;
      const l = this.map.get(h.name);
      if (l) l.push(h);
      else this.map.set(h.name, [h]);
    }
  }

  has(name: string): boolean {
    return this.map.has(name);
  }

  /** all values of a header, as text (bytes decoded, unfolded), encoded words kept */
  all(name: string): readonly string[] {
    let t = this.texts.get(name);
    if (!t) {
      t = (this.map.get(name) ?? []).map((h) => unfold(headerBytesToText(h.raw)));
      this.texts.set(name, t);
    }
    return t;
  }

  first(name: string): string | null {
    return this.map.has(name) ? this.all(name)[0] : null;
  }

  /** an unstructured header with encoded words decoded */
  text(name: string): string | null {
    const v = this.first(name);
    return v === null ? null : decodeWords(v);
  }

  names(): string[] {
    return [...this.map.keys()];
  }
}

interface BodyText {
  text: string;
  engine: 'fast' | 'mailparser' | 'none';
}

function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

/**
 * The identity of a message's bytes: sha256 of the raw message without its trailing line breaks, which
 * mbox writers add or drop depending on where the message sits in a file.
 */
export function contentHash(buf: Buffer): string {
  let end = buf.length;
  while (end > 0 && (buf[end - 1] === 0x0a || buf[end - 1] === 0x0d)) end--;
  return sha256(buf.subarray(0, end));
}

function toBuffer(raw: Buffer | string): Buffer {
  if (Buffer.isBuffer(raw)) return raw;
  if (typeof raw === 'string') return Buffer.from(raw, 'utf8');
  return Buffer.alloc(0);
}

function normaliseNewlines(text: string): string {
  return text.includes('\r') ? text.replace(/\r\n/g, '\n') : text;
}

/** Decodes a single-part body here. */
function fastBody(buf: Buffer, bodyStart: number, headers: Headers): string {
  const ct = parseContentType(headers.first('content-type') ?? undefined);
  if (!FAST_TYPES.has(ct.type) || ct.type === 'text/html') return '';
  const cte = (headers.first('content-transfer-encoding') ?? '').toLowerCase().trim();
  let bytes = decodeTransfer(buf.subarray(bodyStart), cte);
  const format = (ct.params.format ?? '').toLowerCase().trim();
  if (ct.type === 'text/plain' && format === 'flowed') {
    const delSp = (ct.params.delsp ?? '').toLowerCase().trim() === 'yes';
    bytes = Buffer.from(decodeFlowed(bytes.toString('latin1'), delSp), 'latin1');
  }
  return normaliseNewlines(decodeCharset(bytes, ct.params.charset));
}

function isPatchAttachment(att: Attachment): boolean {
  const type = (att.contentType || '').toLowerCase();
  if (PATCH_ATTACHMENT_TYPES.has(type)) return true;
  const filename = (att.filename || '').toLowerCase();
  return /\.(?:patch|diff)$/.test(filename) && (type === 'application/octet-stream' || type.startsWith('text/'));
}

function attachmentCharset(att: Attachment): string | undefined {
  const ct = att.headers.get('content-type') as unknown;
  if (ct && typeof ct === 'object' && 'params' in (ct as Record<string, unknown>)) {
    const params = (ct as { params?: Record<string, string> }).params;
    return params?.charset;
  }
  return undefined;
}

/** Joins text segments so that each starts on its own line. */
function joinSegments(segments: string[]): string {
  let out = '';
  for (const s of segments) {
    if (!s) continue;
    if (out && !out.endsWith('\n')) out += '\n';
    out += s;
  }
  return out;
}

/**
 * A stand-in for node-iconv that mailparser accepts as its `Iconv` option: text parts in a
 * declared charset other than ASCII/UTF-8 are decoded with the same rules as the fast path
 * (unknown names such as `none` fall back to UTF-8 or windows-1252 instead of U+FFFD).
 */
class CharsetPolicyStream extends Transform {
  private readonly chunks: Buffer[] = [];

  constructor(private readonly charset: string) {
    super();
  }

  convert(input: Buffer | string): Buffer {
    return Buffer.from(decodeCharset(Buffer.isBuffer(input) ? input : Buffer.from(input, 'latin1'), this.charset), 'utf8');
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.chunks.push(chunk);
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.chunks.length) this.push(this.convert(Buffer.concat(this.chunks)));
    done();
  }
}

/** mailparser, loaded on first use: few messages need it, and loading it costs ~100 ms at every start */
let simpleParser: typeof SimpleParser | undefined;

/**
 * Loads mailparser ahead of its first use, for a thread that has time for it now (a parser thread waiting for
 * its first batch) rather than in the middle of its work.
 */
export async function preloadMailparser(): Promise<void> {
  simpleParser ??= (await import('mailparser')).simpleParser;
}

async function mailparserBody(buf: Buffer): Promise<string> {
  simpleParser ??= (await import('mailparser')).simpleParser;
  const mail = await simpleParser(buf, {
    skipHtmlToText: true,
    skipTextToHtml: true,
    skipTextLinks: true,
    skipImageLinks: true,
    keepDeliveryStatus: true,
    checksumAlgo: false,
    Iconv: CharsetPolicyStream,
  } as Parameters<typeof SimpleParser>[1]);
  const segments: string[] = [];
  if (typeof mail.text === 'string') segments.push(normaliseNewlines(mail.text));
  for (const att of mail.attachments ?? []) {
    if (!isPatchAttachment(att) || !Buffer.isBuffer(att.content)) continue;
    segments.push(normaliseNewlines(decodeCharset(att.content, attachmentCharset(att))));
  }
  return joinSegments(segments);
}

async function readBody(buf: Buffer, bodyStart: number, headers: Headers, engine: ParseOptions['engine']): Promise<BodyText> {
  if (bodyStart >= buf.length) return { text: '', engine: 'none' };
  const ct = parseContentType(headers.first('content-type') ?? undefined);
  const single = FAST_TYPES.has(ct.type);
  if (engine !== 'mailparser' && single) return { text: fastBody(buf, bodyStart, headers), engine: 'fast' };
  if (engine !== 'mailparser' && ct.type.startsWith('multipart/')) {
    const segments = readMultipart(buf, bodyStart, ct);
    if (segments) return { text: joinSegments(segments.map(normaliseNewlines)), engine: 'fast' };
  }
  try {
    const text = await mailparserBody(buf);
    // mailparser reads undeclared / US-ASCII parts as UTF-8 and loses invalid bytes to U+FFFD;
    // a single part can be read again from its bytes
    if (single && text.includes('\ufffd')) return { text: fastBody(buf, bodyStart, headers), engine: 'fast' };
    // a garbled Content-Type is text/plain (RFC 2045 5.2); mailparser makes it an attachment
    if (single && text === '' && ct.type === 'text/plain') return { text: fastBody(buf, bodyStart, headers), engine: 'fast' };
    return { text, engine: 'mailparser' };
  } catch {
    // mailparser gave up (broken structure, oversized header block): read what we can ourselves
    return { text: single ? fastBody(buf, bodyStart, headers) : '', engine: 'fast' };
  }
}

/**
 * Which reader the `auto` engine starts a message's body with: `fast` (single part, or a multipart shape
 * multipart.ts reads), `mailparser` (anything else), `none` (no body, or headers too large to read).
 * For counting the fallbacks (the ingest benchmark); parseMessage decides the same way in readBody.
 */
export function bodyReader(raw: Buffer): { reader: 'fast' | 'mailparser' | 'none'; contentType: string } {
  const split = splitHeaders(raw, MAX_HEADER_BYTES);
  const ct = parseContentType(new Headers(split.headers).first('content-type') ?? undefined);
  if (!split.complete || split.bodyStart >= raw.length) return { reader: 'none', contentType: ct.type };
  if (FAST_TYPES.has(ct.type)) return { reader: 'fast', contentType: ct.type };
  if (ct.type.startsWith('multipart/') && readMultipart(raw, split.bodyStart, ct)) return { reader: 'fast', contentType: ct.type };
  return { reader: 'mailparser', contentType: ct.type };
}

interface InBodyHeaders {
  from: Person | null;
  /** lines consumed from the top of the message part */
  consumed: number;
}

/** git am's in-body headers: `From:` / `Subject:` / `Date:` lines opening the body, then a blank line. */
function inBodyHeaders(lines: string[], from: number, to: number): InBodyHeaders {
  let i = from;
  let person: Person | null = null;
  while (i < to && /^(?:From|Subject|Date):\s/.test(lines[i])) {
    if (lines[i].startsWith('From:')) person = parseAddress(decodeWords(lines[i].slice(5).trim()));
    i++;
  }
  if (i === from || (i < to && lines[i].trim() !== '')) return { from: null, consumed: 0 };
  return { from: person && isUsableEmail(person.email) ? person : null, consumed: i - from };
}

function isBlank(line: string): boolean {
  return line.trim() === '';
}

/** The lines [a, b) without the blank lines at either end, as a range. */
function trimBlankRange(lines: readonly string[], a: number, b: number): [number, number] {
  while (a < b && isBlank(lines[a])) a++;
  while (b > a && isBlank(lines[b - 1])) b--;
  return [a, b];
}

interface Content {
  body: string;
  message: string;
  notes: string;
  diff: string | null;
  files: string[];
  pullUrl: string | null;
  deps: Dependencies;
  inBodyFrom: Person | null;
}

/**
 * Splits decoded text into prose, diff, message and notes. Every part is a run of whole lines of the text,
 * taken as one substring of it (lines.slice(a, b).join('\n') without copying the lines again).
 */
export function splitContent(text: string): Content {
  const lines = text.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  // offset in text of each line's first character
  const at = new Array<number>(lines.length);
  for (let i = 0, o = 0; i < lines.length; i++) {
    at[i] = o;
    o += lines[i].length + 1;
  }
  const join = (a: number, b: number): string => (b > a ? text.slice(at[a], at[b - 1] + lines[b - 1].length) : '');
  const joinTrimmed = (a: number, b: number): string => join(...trimBlankRange(lines, a, b));

  const loc = locateDiff(lines);
  const diffStart = loc ? loc.start : lines.length;
  const diffEnd = loc ? loc.end : lines.length;
  const beforeCut = findProseCut(lines, 0, diffStart);
  const afterCut = loc ? findProseCut(lines, diffEnd, lines.length) : diffEnd;
  // the prose before the diff is lines [0, beforeCut), after it [diffEnd, afterCut)
  const diffLines = loc ? join(loc.start, loc.end) : null;
  const diff = diffLines === null ? null : diffLines + '\n';

  // the commit message and the notes below its `---`
  let messageFrom = 0;
  let messageTo = beforeCut;
  let notesFrom = 0;
  let notesTo = 0;
  if (loc) {
    for (let k = 0; k < beforeCut; k++) {
      if (isSeparator(lines[k])) {
        messageTo = k;
        notesFrom = k + 1;
        notesTo = beforeCut;
        break;
      }
    }
  }
  let first = messageFrom;
  while (first < messageTo && isBlank(lines[first])) first++;
  const ib = inBodyHeaders(lines, first < messageTo ? first : -1, messageTo);
  if (ib.consumed > 0) messageFrom = first + ib.consumed;
  const message = joinTrimmed(messageFrom, messageTo);
  const notes = joinTrimmed(notesFrom, notesTo);

  const proseLines = diffEnd < afterCut ? [...lines.slice(0, beforeCut), ...lines.slice(diffEnd, afterCut)] : lines.slice(0, beforeCut);
  const bodyParts: string[] = [];
  const beforeText = joinTrimmed(0, beforeCut);
  if (beforeText) bodyParts.push(beforeText);
  if (diffLines !== null) bodyParts.push(trimTrailingNewlines(diffLines));
  const afterText = joinTrimmed(diffEnd, afterCut);
  if (afterText) bodyParts.push(afterText);
  const body = bodyParts.length ? bodyParts.join('\n') + '\n' : '';

  return {
    body,
    message,
    notes,
    diff,
    files: loc ? loc.files : [],
    pullUrl: mayBePull(proseLines) ? parsePullRequest(proseLines.join('\n')) : null,
    deps: parseDependencyLines(proseLines),
    inBodyFrom: ib.from,
  };
}

/** text.replace(/\n+$/, '') without a regex scan over a whole diff */
function trimTrailingNewlines(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0x0a) end--;
  return end === text.length ? text : text.slice(0, end);
}

function mayBePull(lines: readonly string[]): boolean {
  for (const l of lines) {
    const c = l.charCodeAt(0);
    if ((c === 0x54 || c === 0x74) && /^the following changes since commit/i.test(l)) return true;
  }
  return false;
}

function syntheticMsgid(hash: string): string {
  return `<${hash.slice(0, 32)}@patchgate.invalid>`;
}

function listAddresses(headers: Headers, listId: string | null): string[] {
  const out: string[] = [];
  for (const v of headers.all('list-post')) {
    const m = /<mailto:([^>?]+)/i.exec(v);
    if (m) out.push(m[1]);
  }
  for (const name of ['x-beenthere', 'x-mailing-list']) {
    for (const v of headers.all(name)) {
      const a = parseAddress(v);
      if (a && isUsableEmail(a.email)) out.push(a.email);
    }
  }
  if (listId) {
    // netdev.vger.kernel.org -> netdev@vger.kernel.org
    const dot = listId.indexOf('.');
    if (dot > 0) out.push(`${listId.slice(0, dot)}@${listId.slice(dot + 1)}`);
  }
  return out;
}

function keptHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of headers.names()) {
    if (KEPT_HEADERS.has(name) || name.startsWith('x-patchwork-') || name.startsWith('x-patchgate-')) {
      out[name] = normaliseSpace(decodeWords(headers.first(name) ?? ''));
    }
  }
  return out;
}

function classify(
  subject: SubjectInfo,
  content: Content,
  inReplyTo: string | null,
  references: string[],
): { kind: ParsedMessage['kind']; reason: string | null } {
  const threaded = inReplyTo !== null || references.length > 0;
  if (subject.isReply) {
    return { kind: 'comment', reason: content.diff || content.pullUrl ? 'reply subject with a diff: a review suggestion' : null };
  }
  if (content.pullUrl) return { kind: 'pull-request', reason: null };
  if (content.diff) return { kind: 'patch', reason: null };
  if (subject.number === 0) return { kind: 'cover', reason: null };
  if (threaded) return { kind: 'comment', reason: null };
  const marker = subject.number === null ? 'no series marker' : `series marker ${subject.number}/${subject.total} without a diff`;
  return { kind: 'other', reason: `no diff, ${marker}, not a reply` };
}

interface Envelope {
  msgid: string;
  msgidSynthetic: boolean;
  date: string | null;
  from: Person;
  fromUsable: boolean;
  to: Person[];
  cc: Person[];
  subject: SubjectInfo;
  inReplyTo: string | null;
  references: string[];
  listId: string | null;
  headers: Record<string, string>;
}

function readEnvelope(headers: Headers, hash: string): Envelope {
  const msgid = parseMessageIds(headers.all('message-id').join(' '))[0] ?? null;
  const to = headers.all('to').flatMap(parseAddressList);
  const cc = headers.all('cc').flatMap(parseAddressList);
  const listId = parseListId(headers.text('list-id')) ?? parseListId(headers.text('x-mailing-list')) ?? parseListId(headers.text('x-list'));
  const rawFrom = parseAddress(headers.first('from') ?? '');
  let from: Person = rawFrom ?? { name: '', email: '' };
  const fromUsable = !!rawFrom && isUsableEmail(rawFrom.email);
  if (fromUsable) {
    const xof = headers.first('x-original-from');
    from = unmungeFrom(from, {
      xOriginalFrom: xof ? parseAddress(xof) : null,
      replyTo: headers.all('reply-to').flatMap(parseAddressList),
      cc,
      listAddresses: listAddresses(headers, listId),
    });
  }
  const irt = headers.all('in-reply-to').flatMap(parseMessageIds);
  // several References headers (seen in the wild) come newest first, each oldest first
  const refHeaders = headers.all('references');
  const references: string[] = [];
  const seen = new Set<string>();
  for (let k = refHeaders.length - 1; k >= 0; k--) {
    for (const id of parseMessageIds(refHeaders[k])) {
      if (!seen.has(id)) {
        seen.add(id);
        references.push(id);
      }
    }
  }
  return {
    msgid: msgid ?? syntheticMsgid(hash),
    msgidSynthetic: msgid === null,
    date: parseDate(headers.first('date')),
    from,
    fromUsable,
    to,
    cc,
    subject: parseSubject(headers.text('subject') ?? ''),
    inReplyTo: irt[0] ?? null,
    references,
    listId,
    headers: keptHeaders(headers),
  };
}

function assemble(
  env: Envelope,
  hash: string,
  size: number,
  content: Content,
  trailers: Trailer[],
  kind: ParsedMessage['kind'],
  reason: string | null,
): ParsedMessage {
  const parsed: ParsedMessage = {
    msgid: env.msgid,
    msgidSynthetic: env.msgidSynthetic,
    hash,
    size,
    date: env.date,
    from: env.from,
    to: env.to,
    cc: env.cc,
    subject: env.subject,
    inReplyTo: env.inReplyTo,
    references: env.references,
    listId: env.listId,
    kind,
    reason,
    body: content.body,
    message: content.message,
    notes: content.notes,
    diff: content.diff,
    pullUrl: content.pullUrl,
    files: content.files,
    trailers,
    deps: content.deps,
    headers: env.headers,
  };
  if (content.inBodyFrom) parsed.inBodyFrom = content.inBodyFrom;
  return parsed;
}

const EMPTY_CONTENT: Content = {
  body: '',
  message: '',
  notes: '',
  diff: null,
  files: [],
  pullUrl: null,
  deps: emptyDependencies(),
  inBodyFrom: null,
};

function safeTrailers(message: string): Trailer[] {
  if (!message) return [];
  try {
    return parseTrailers(message);
  } catch {
    return [];
  }
}

async function parseInner(buf: Buffer, hash: string, opts: ParseOptions): Promise<ParsedMessage> {
  const size = buf.length;
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  if (size === 0) {
    return assemble(readEnvelope(new Headers([]), hash), hash, size, EMPTY_CONTENT, [], 'rejected', 'empty message');
  }
  if (size > maxBytes) {
    // read the headers only, for the quarantine listing
    const split = splitHeaders(buf, Math.min(size, MAX_HEADER_BYTES));
    const env = readEnvelope(new Headers(split.headers), hash);
    return assemble(env, hash, size, EMPTY_CONTENT, [], 'rejected', `oversized: ${size} bytes > ${maxBytes}`);
  }
  const split = splitHeaders(buf, MAX_HEADER_BYTES);
  const headers = new Headers(split.headers);
  const env = readEnvelope(headers, hash);
  if (!split.complete) {
    return assemble(env, hash, size, EMPTY_CONTENT, [], 'rejected', `header block larger than ${MAX_HEADER_BYTES} bytes`);
  }
  const body = await readBody(buf, split.bodyStart, headers, opts.engine ?? 'auto');
  const content = splitContent(body.text);
  const trailers = safeTrailers(content.message);
  if (!env.fromUsable) {
    const what = headers.has('from') ? 'no usable From header (no address in it)' : 'no usable From header (missing)';
    return assemble(env, hash, size, content, trailers, 'rejected', what);
  }
  const { kind, reason } = classify(env.subject, content, env.inReplyTo, env.references);
  const parsed = assemble(env, hash, size, content, trailers, kind, reason);
  // What `patchgate am` rebuilds a patch from (series/am.ts): the text part verbatim, the Date as written.
  if (kind === 'patch' || kind === 'pull-request') parsed.amText = body.text;
  parsed.dateHeader = headers.text('date') ?? null;
  return parsed;
}

/**
 * Parses one raw message. Never throws: malformed, oversized or malicious mail comes back with
 * kind `rejected` and a reason, and with every field that could be read.
 */
export async function parseMessage(raw: Buffer | string, opts: ParseOptions = {}): Promise<ParsedMessage> {
  let buf: Buffer;
  let hash = '';
  try {
    buf = toBuffer(raw);
    hash = opts.hash ?? contentHash(buf);
    return await parseInner(buf, hash, opts);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const env = readEnvelope(new Headers([]), hash || sha256(Buffer.alloc(0)));
    return assemble(env, hash, typeof raw === 'string' ? Buffer.byteLength(raw) : (raw?.length ?? 0), EMPTY_CONTENT, [], 'rejected', `parser error: ${message}`);
  }
}
