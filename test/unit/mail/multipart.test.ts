import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../../src/mail/parse.js';
import { readMultipart } from '../../../src/mail/multipart.js';
import { parseContentType, splitHeaders } from '../../../src/mail/mime.js';
import { corpusFile } from './corpus.js';

const diff = corpusFile('patches', '0001-add-line.patch').toString('utf8');

function mime(contentType: string, parts: string[], boundary = 'XYZ'): string {
  return [
    'Message-Id: <mp@example.com>',
    'From: A U Thor <author@example.com>',
    'Subject: [PATCH] multipart',
    'MIME-Version: 1.0',
    `Content-Type: ${contentType}; boundary="${boundary}"`,
    '',
    'This is a multi-part message in MIME format.',
    ...parts.flatMap((p) => [`--${boundary}`, p]),
    `--${boundary}--`,
    'epilogue',
    '',
  ].join('\n');
}

function read(raw: string): string[] | null {
  const buf = Buffer.from(raw);
  const split = splitHeaders(buf);
  const ct = parseContentType(split.headers.find((h) => h.name === 'content-type')!.raw);
  return readMultipart(buf, split.bodyStart, ct);
}

async function both(raw: string) {
  const fast = await parseMessage(raw, { engine: 'fast' });
  const slow = await parseMessage(raw, { engine: 'mailparser' });
  expect(fast).toEqual(slow);
  return fast;
}

describe('multipart fast reader', () => {
  it('PGP-signed patch wrapped by a list into multipart/mixed with a footer part', async () => {
    const signed = [
      'Content-Type: multipart/signed; micalg=pgp-sha256; protocol="application/pgp-signature"; boundary="SIG"',
      '',
      '--SIG',
      'Content-Type: text/plain; charset=us-ascii',
      'Content-Disposition: inline',
      '',
      'Fix it.\n\nSigned-off-by: A U Thor <author@example.com>\n---\n' + diff.trimEnd(),
      '--SIG',
      'Content-Type: application/pgp-signature; name="signature.asc"',
      '',
      '-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----',
      '--SIG--',
    ].join('\n');
    const footer = 'Content-Type: text/plain; charset="us-ascii"\nContent-Transfer-Encoding: 7bit\n\n_______________________________________________\nVirtualization mailing list\nhttps://lists.linuxfoundation.org/mailman/listinfo/virtualization';
    const raw = mime('multipart/mixed', [signed, footer]);
    expect(read(raw)).not.toBeNull();
    const p = await both(raw);
    expect(p.kind).toBe('patch');
    expect(p.diff).toBe(diff);
    expect(p.message).toBe('Fix it.\n\nSigned-off-by: A U Thor <author@example.com>');
    expect(p.body).not.toContain('PGP SIGNATURE');
    expect(p.body).not.toContain('mailing list');
  });

  it('multipart/alternative inside mixed, base64 and QP parts, HTML ignored', async () => {
    const alt = [
      'Content-Type: multipart/alternative; boundary="ALT"',
      '',
      '--ALT',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('Grüße, see the patch.\n').toString('base64'),
      '--ALT',
      'Content-Type: text/html; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      '<div>Gr=C3=BC=C3=9Fe</div>',
      '--ALT--',
    ].join('\n');
    const att = `Content-Type: text/x-patch; charset=utf-8; name="0001.patch"\nContent-Disposition: attachment; filename="0001.patch"\n\n${diff}`;
    const raw = mime('multipart/mixed', [alt, att]);
    expect(read(raw)).not.toBeNull();
    const p = await both(raw);
    expect(p.message).toBe('Grüße, see the patch.');
    expect(p.diff).toBe(diff);
    expect(p.body).not.toContain('<div>');
  });

  it('an octet-stream attachment named *.patch is read as the patch; other attachments add nothing', async () => {
    const text = 'Content-Type: text/plain\n\nHere it is.';
    const att = `Content-Type: application/octet-stream; name="fix.patch"\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename="fix.patch"\n\n${Buffer.from(diff).toString('base64')}`;
    const gz = 'Content-Type: application/gzip; name="config.gz"\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename="config.gz"\n\nH4sIAAAAAAAAA+3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIA3A5reHScAKAAA';
    const raw = mime('multipart/mixed', [text, att, gz]);
    const p = await both(raw);
    expect(p.diff).toBe(diff);
    expect(p.message).toBe('Here it is.');
  });

  it('embedded messages and encrypted mail go to mailparser', async () => {
    const rfc822 = 'Content-Type: message/rfc822\n\nFrom: x@y.org\nSubject: inner\n\ninner body';
    const raw = mime('multipart/mixed', ['Content-Type: text/plain\n\nouter', rfc822]);
    expect(read(raw)).toBeNull();
    await both(raw);
    const enc = mime('multipart/encrypted; protocol="application/pgp-encrypted"', ['Content-Type: application/pgp-encrypted\n\nVersion: 1', 'Content-Type: application/octet-stream\n\n-----BEGIN PGP MESSAGE-----']);
    expect(read(enc)).toBeNull();
    expect((await both(enc)).kind).toBe('other');
  });

  it('a multipart without its closing delimiter goes to mailparser and still parses', async () => {
    const raw = mime('multipart/mixed', ['Content-Type: text/plain\n\nhello\n' + diff]).replace(/--XYZ--[\s\S]*$/, '');
    expect(read(raw)).toBeNull();
    const p = await both(raw);
    expect(p.diff).toBe(diff);
  });
});
