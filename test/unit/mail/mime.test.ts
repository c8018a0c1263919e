import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeCharset, decodeTransfer, headerBytesToText, normaliseSpace, parseContentType, splitHeaders, unfold } from '../../../src/mail/mime.js';

describe('decodeCharset', () => {
  it('charsets seen in the archive and corpus', () => {
    expect(decodeCharset(Buffer.from([0x1b, 0x24, 0x42, 0x46, 0x7c, 0x4b, 0x5c, 0x38, 0x6c, 0x1b, 0x28, 0x42]), 'ISO-2022-JP')).toBe('日本語');
    expect(decodeCharset(Buffer.from([0x80, 0x41]), 'windows-1252')).toBe('€A');
    expect(decodeCharset(Buffer.from([0xa4]), 'iso-8859-15')).toBe('€');
    expect(decodeCharset(Buffer.from([0xb1]), 'iso-8859-2')).toBe('ą');
    expect(decodeCharset(Buffer.from('Rafał', 'utf8'), '"UTF-8"'.replace(/"/g, ''))).toBe('Rafał');
    expect(decodeCharset(Buffer.from('Rafał', 'utf8'), 'us-ascii')).toBe('Rafał');
  });

  it('invalid names fall back: UTF-8 when valid, else windows-1252; UTF-7 is refused', () => {
    expect(decodeCharset(Buffer.from('żółw', 'utf8'), 'none')).toBe('żółw');
    expect(decodeCharset(Buffer.from([0x64, 0xe9, 0x6a, 0xe0]), 'none')).toBe('déjà');
    expect(decodeCharset(Buffer.from([0x64, 0xe9]), 'u\u0000\u0000\u0000d')).toBe('dé');
    expect(decodeCharset(Buffer.from([0x64, 0xe9]), undefined)).toBe('dé');
    expect(decodeCharset(Buffer.from('+ADw-script+AD4-'), 'utf-7')).toBe('+ADw-script+AD4-');
  });

  it('declared UTF-8 that is broken keeps U+FFFD for the broken bytes only', () => {
    expect(decodeCharset(Buffer.from([0x61, 0xff, 0x62]), 'utf-8')).toBe('a\ufffdb');
  });
});

describe('decodeTransfer', () => {
  it('base64 with line breaks and junk, quoted-printable with soft breaks', () => {
    expect(decodeTransfer(Buffer.from('aGVs\r\nbG8=\n'), 'BASE64').toString()).toBe('hello');
    expect(decodeTransfer(Buffer.from('a=3Db =\nc=0'), 'quoted-printable').toString()).toBe('a=b c=0');
    expect(decodeTransfer(Buffer.from('as is'), 'x-unknown').toString()).toBe('as is');
  });
});

describe('headers', () => {
  it('splitHeaders: mbox From line, folding, CRLF, a line without a colon', () => {
    const raw = Buffer.from('From x@y Thu Jan  1 00:00:00 1970\r\nSubject: a\r\n b\r\nbogus line\r\nX-A: 1\r\n\r\nbody');
    const s = splitHeaders(raw);
    expect(s.mboxFrom).toBe('From x@y Thu Jan  1 00:00:00 1970');
    expect(s.headers.map((h) => h.name)).toEqual(['subject', '', 'x-a']);
    expect(s.headers[0].raw).toBe(' a\n b');
    expect(raw.subarray(s.bodyStart).toString()).toBe('body');
    expect(s.complete).toBe(true);
  });

  it('headerBytesToText: raw UTF-8 as UTF-8, other 8-bit as windows-1252', () => {
    expect(headerBytesToText(Buffer.from('Rafał', 'utf8').toString('latin1'))).toBe('Rafał');
    expect(headerBytesToText('Jos\u00e9')).toBe('José');
    expect(headerBytesToText('\u009c')).toBe('œ');
  });

  it('parseContentType: garbled types are text/plain', () => {
    expect(parseContentType('text/plain; charset="utf-8"; format=flowed')).toEqual({ type: 'text/plain', params: { charset: 'utf-8', format: 'flowed' } });
    expect(parseContentType('text/plai\u0000\u0000\u00ff').type).toBe('text/plain');
    expect(parseContentType(undefined).type).toBe('text/plain');
    expect(parseContentType('Multipart/Mixed; boundary="b"')).toEqual({ type: 'multipart/mixed', params: { boundary: 'b' } });
  });
});

describe('normaliseSpace and unfold (scan first, regex only when something changes)', () => {
  // every JavaScript \s character, control characters, and characters that look like space but are not \s
  const pieces = [' ', ' ', '  ', '\t', '\n', '\r\n', '\v', '\f', '\u00a0', '\u1680', '\u2000', '\u200a', '\u2028', '\u2029', '\u202f',
    '\u205f', '\u3000', '\ufeff', '\x00', '\x08', '\x0e', '\x1f', '\x7f', '\u0085', '\u200b', '\u180e', 'a', 'Zoë', '=?utf-8?q?x?=', ','];
  const text = fc.array(fc.constantFrom(...pieces), { maxLength: 24 }).map((a) => a.join(''));

  it('normaliseSpace collapses runs of whitespace and control characters to one space and trims, as the regex does', () => {
    // eslint-disable-next-line no-control-regex
    const byRegex = (t: string) => t.replace(/[\s\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+/g, ' ').trim();
    fc.assert(fc.property(fc.oneof(text, fc.string({ unit: 'binary', maxLength: 24 })), (t) => normaliseSpace(t) === byRegex(t)), { numRuns: 5000 });
    expect(normaliseSpace('  Jane \u00a0 Doe\u3000')).toBe('Jane Doe');
    expect(normaliseSpace('Jane Doe')).toBe('Jane Doe');
    expect(normaliseSpace('Jane\u200bDoe')).toBe('Jane\u200bDoe'); // a zero-width space is not \s
  });

  it('unfold drops folding line breaks, turns other line breaks into spaces and trims', () => {
    const byRegex = (t: string) => t.replace(/\r?\n(?=[ \t])/g, '').replace(/\r?\n/g, ' ').trim();
    fc.assert(fc.property(text, (t) => unfold(t) === byRegex(t)), { numRuns: 5000 });
    expect(unfold(' a\r\n\tb\nc ')).toBe('a\tb c');
  });
});
