import { describe, expect, it } from 'vitest';
import { decodeCharset, decodeTransfer, headerBytesToText, parseContentType, splitHeaders } from '../../../src/mail/mime.js';

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
