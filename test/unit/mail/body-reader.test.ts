// bodyReader: which reader the auto engine starts a body with (the ingest benchmark counts the fallbacks).
import { describe, expect, it } from 'vitest';
import { bodyReader, parseMessage } from '../../../src/mail/parse.js';

const head = 'From: A <a@example.org>\nSubject: [PATCH] x: y\nMessage-ID: <r@x>\n';

function multipart(type: string, parts: string[]): Buffer {
  const b = 'BOUNDARY42';
  return Buffer.from(`${head}MIME-Version: 1.0\nContent-Type: ${type}; boundary="${b}"\n\n${parts.map((p) => `--${b}\n${p}\n`).join('')}--${b}--\n`);
}

describe('bodyReader', () => {
  it('routes single text parts and the common multipart shapes to the fast path', () => {
    expect(bodyReader(Buffer.from(`${head}\nhello\n`))).toEqual({ reader: 'fast', contentType: 'text/plain' });
    expect(bodyReader(Buffer.from(`${head}Content-Type: text/x-patch; charset=utf-8\n\n--- a/x\n`)).reader).toBe('fast');
    const mixed = multipart('multipart/mixed', ['Content-Type: text/plain\n\nsee attached', 'Content-Type: text/x-patch\nContent-Disposition: attachment; filename="a.patch"\n\n--- a/x\n+++ b/x\n']);
    expect(bodyReader(mixed)).toEqual({ reader: 'fast', contentType: 'multipart/mixed' });
  });

  it('sends what the fast reader does not handle to mailparser, and both give the text', async () => {
    const related = multipart('multipart/mixed', [
      'Content-Type: multipart/related; boundary="inner"\n\n--inner\nContent-Type: text/plain\n\nlook at the picture\n--inner\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n--inner--',
    ]);
    expect(bodyReader(related)).toEqual({ reader: 'mailparser', contentType: 'multipart/mixed' });
    expect((await parseMessage(related)).body).toContain('look at the picture');
    expect(bodyReader(Buffer.from(`${head}Content-Type: message/rfc822\n\n${head}\ninner\n`)).reader).toBe('mailparser');
  });

  it('has nothing to read for a message without a body', () => {
    expect(bodyReader(Buffer.from(head)).reader).toBe('none');
  });
});
