import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseMessage, splitContent } from '../../../src/mail/parse.js';
import type { ParsedMessage } from '../../../src/mail/types.js';
import { corpusFile, corpusFiles, makeMail, splitMbox } from './corpus.js';

const NO_NEWLINE = '\\ No newline at end of file';

async function mail(name: string): Promise<ParsedMessage> {
  return parseMessage(corpusFile('mail', name));
}

describe('pull requests (patchwork mail/ 0001-0006, 0017, 0023, 0024, historic 0018)', () => {
  const powerpc = 'git://git.kernel.org/pub/scm/linux/kernel/git/benh/powerpc.git next';
  it.each([
    ['0001-git-pull-request.mbox', powerpc],
    ['0002-git-pull-request-wrapped.mbox', powerpc],
    ['0004-git-pull-request-git+ssh.mbox', 'git+ssh://git.kernel.org/pub/scm/linux/kernel/git/benh/powerpc.git next'],
    ['0005-git-pull-request-ssh.mbox', 'ssh://git.kernel.org/pub/scm/linux/kernel/git/benh/powerpc.git next'],
    ['0006-git-pull-request-http.mbox', 'http://git.kernel.org/pub/scm/linux/kernel/git/benh/powerpc.git next'],
    ['0017-git-pull-request-git-2-14-3.mbox', 'git://git.kernel.org/pub/scm/linux/kernel/git/davem/net'],
  ])('%s: pull request, no diff', async (file, url) => {
    const p = await mail(file);
    expect(p.kind).toBe('pull-request');
    expect(p.diff).toBeNull();
    expect(p.message).not.toBe('');
    expect(p.pullUrl).toBe(url);
  });

  it('0001: msgid, list id, name with the git pull words as tags', async () => {
    const p = await mail('0001-git-pull-request.mbox');
    expect(p.msgid).toBe('<1287719462.2198.37.camel@pasglop>');
    expect(p.msgidSynthetic).toBe(false);
    expect(p.listId).toBe('cbe-oss-dev.ozlabs.org');
    expect(p.subject).toMatchObject({ name: 'Please pull powerpc.git next branch', tags: ['git', 'pull'], number: null, version: 1 });
    expect(p.from).toEqual({ name: 'Benjamin Herrenschmidt', email: 'benh@kernel.crashing.org' });
    expect(p.cc.map((c) => c.email)).toEqual(['linuxppc-dev@ozlabs.org', 'akpm@linux-foundation.org', 'linux-kernel@vger.kernel.org']);
  });

  it('0003: pull URL and a diff in one mail: kind pull-request with the diff set', async () => {
    const p = await mail('0003-git-pull-request-with-diff.mbox');
    expect(p.kind).toBe('pull-request');
    expect(p.pullUrl).toBe('git://git.kernel.org/pub/scm/linux/kernel/git/tip/linux-2.6-tip.git x86-fixes-for-linus');
    expect(p.diff?.startsWith('diff --git a/arch/x86/include/asm/smp.h')).toBe(true);
    expect(p.files[0]).toBe('arch/x86/include/asm/smp.h');
  });

  it('0023: a newline inside the URL becomes one space', async () => {
    const p = await mail('0023-git-pull-request-newline-in-url.mbox');
    expect(p.pullUrl).toBe('https://git.kernel.org/pub/scm/linux/kernel/git/matthias.bgg/linux.git/ tags/v5.4-next-soc');
    expect(p.subject.name).toBe('soc: updates for v5.5');
    // the list footer at the end is not part of the body
    expect(p.body).not.toContain('mailing list');
  });

  it('0024: lines padded with trailing spaces', async () => {
    const p = await mail('0024-git-pull-request-trailing-space.mbox');
    expect(p.pullUrl).toBe('git://git.kernel.org/pub/scm/linux/kernel/git/nsekhar/linux-davinci.git tags/davinci-for-v5.6/soc');
    expect(p.from).toEqual({ name: 'XXX XXX', email: 'xxx@example.com' });
  });

  it('historic 0018: CRLF line endings are normalised and it still parses as a pull request', async () => {
    const raw = corpusFile('historic', '0018-git-pull-request-crlf-newlines.mbox');
    expect(raw.includes('\r\n')).toBe(true);
    const p = await parseMessage(raw);
    expect(p.kind).toBe('pull-request');
    expect(p.diff).toBeNull();
    expect(p.pullUrl).toBe('git://git.kernel.org/pub/scm/linux/kernel/git/benh/powerpc.git next');
    expect(p.body).not.toContain('\r');
    expect(p.message).not.toContain('\r');
    expect(p.subject.raw).toBe('[git pull] Please pull powerpc.git next branch');
  });
});

describe('diff formats (patchwork mail/)', () => {
  it('0007: CVS Index: diff in an attachment of a multipart/mixed mail', async () => {
    const p = await mail('0007-cvs-format-diff.mbox');
    expect(p.kind).toBe('patch');
    expect(p.diff?.startsWith('Index: bfd/elf-bfd.h')).toBe(true);
    expect(p.files).toEqual(['bfd/elf-bfd.h', 'bfd/elflink.c', 'bfd/elfxx-mips.c']);
    expect(p.message).toContain('The pr11138 testcase links an executable');
    expect(p.subject.name).toBe('Fix ld pr11138 FAILures on mips*.');
  });

  it('0008: rename only (no hunks): both renames in the diff, new names as files', async () => {
    const p = await mail('0008-git-rename.mbox');
    expect(p.kind).toBe('patch');
    expect(p.diff!.split('\nrename from ').length - 1).toBe(2);
    expect(p.diff!.split('\nrename to ').length - 1).toBe(2);
    expect(p.files).toEqual([
      'package/rpi-userland/rpi-userland-000-add-pkgconfig-files.patch',
      'package/rpi-userland/rpi-userland-001-makefiles-cmake-vmcs.cmake-allow-to-override-VMCS_IN.patch',
    ]);
    expect(p.subject).toMatchObject({ name: 'package/rpi-userland: rename patches', tags: ['buildroot'], number: 1, total: 11 });
    expect(p.message).toBe('Rename patches to follow standard naming scheme.\n\nSigned-off-by: "Yann E. MORIN" <yann.morin.1998@free.fr>');
    expect(p.notes).toContain('2 files changed, 0 insertions(+), 0 deletions(-)');
    // the "-- \n1.8.1.2" signature is neither diff nor body
    expect(p.diff).not.toContain('1.8.1.2');
    expect(p.body).not.toContain('1.8.1.2');
  });

  it('0008 has no Message-ID: stable synthetic id from the sha256 of the raw bytes (trailing line breaks aside)', async () => {
    const raw = corpusFile('mail', '0008-git-rename.mbox');
    const p = await parseMessage(raw);
    const sha = createHash('sha256').update(raw.toString('latin1').replace(/[\r\n]+$/, ''), 'latin1').digest('hex');
    expect(p.hash).toBe(sha);
    expect(p.msgid).toBe(`<${sha.slice(0, 32)}@patchgate.invalid>`);
    expect(p.msgidSynthetic).toBe(true);
    expect((await parseMessage(raw)).msgid).toBe(p.msgid);
    expect(p.size).toBe(raw.length);
    // the same message at another place in an mbox (with or without the blank separator line) is the same message
    const moved = await parseMessage(Buffer.concat([raw, Buffer.from('\n\n')]));
    expect(moved.hash).toBe(p.hash);
    expect(moved.msgid).toBe(p.msgid);
  });

  it('0009: rename with a hunk', async () => {
    const p = await mail('0009-git-rename-with-diff.mbox');
    expect(p.diff!.split('\nrename from ').length - 1).toBe(2);
    expect(p.diff!.split('\nrename to ').length - 1).toBe(2);
    expect(p.diff!.split('\n-a\n+b').length - 1).toBe(1);
    expect(p.message).not.toBe('');
  });

  it('0011: the no-newline marker stays in the diff, not in the message (both markers)', async () => {
    const p = await mail('0011-no-newline-at-end-of-file.mbox');
    expect(p.diff!.startsWith('diff --git a/tools/testing/selftests/powerpc/Makefile')).toBe(true);
    expect(p.message.trimEnd().endsWith(NO_NEWLINE)).toBe(false);
    expect(p.diff!.trimEnd().endsWith(NO_NEWLINE)).toBe(true);
    expect(p.diff!.split(NO_NEWLINE).length - 1).toBe(2);
    expect(p.subject).toMatchObject({ version: 3, number: 5, total: 5 });
    expect(p.files).toEqual([
      'tools/testing/selftests/powerpc/Makefile',
      'tools/testing/selftests/powerpc/vphn/vphn.c',
      'tools/testing/selftests/powerpc/vphn/vphn.h',
    ]);
  });

  it('0016: empty Subject header', async () => {
    const p = await mail('0016-no-subject.mbox');
    expect(p.msgid).toBe('<ABC@DEF>');
    expect(p.subject.name).toBe('');
    expect(p.diff).not.toBeNull();
    expect(p.message).not.toBe('');
    expect(p.kind).toBe('patch');
  });

  it('0019: multipart/alternative patch: the HTML part is ignored', async () => {
    const p = await mail('0019-multipart-patch.mbox');
    expect(p.kind).toBe('patch');
    expect(p.diff).not.toBeNull();
    expect(p.message).not.toBe('');
    expect(p.diff).not.toContain('<div');
    expect(p.message).not.toContain('<div');
    expect(p.body).not.toContain('<div');
    expect(p.files).toEqual(['patchwork/parser.py']);
  });

  it('0020: multipart comment from Outlook: a reply, text part only', async () => {
    const p = await mail('0020-multipart-comment.mbox');
    expect(p.kind).toBe('comment');
    expect(p.message).toContain('Yup, this looks sensible to me.');
    expect(p.message).not.toContain('<div');
    expect(p.inReplyTo).toBe('<20180620122142.9917-1-yuri.volchkov@gmail.com>');
    expect(p.references).toEqual(['<20180620122142.9917-1-yuri.volchkov@gmail.com>']);
    expect(p.subject.isReply).toBe(true);
  });

  it('0021: empty new file (no hunk)', async () => {
    const p = await mail('0021-git-empty-new-file.mbox');
    expect(p.kind).toBe('patch');
    expect(p.diff).toBe('diff --git a/banana b/banana\nnew file mode 100644\nindex 000000000000..e69de29bb2d1\n');
    expect(p.body).not.toContain('snowpatch mailing list');
    expect(p.files).toEqual(['banana']);
    expect(p.subject).toMatchObject({ name: 'Test commit; please ignore', tags: ['snowpatch'], number: 1, total: 3 });
  });

  it('0022: mode change only', async () => {
    const p = await mail('0022-git-mode-change.mbox');
    expect(p.diff).toContain('old mode 100644\nnew mode 100755');
    expect(p.files).toEqual(['scripts/kconfig/nconf-cfg.sh']);
    expect(p.message).not.toBe('');
  });

  it('0025: binary patch with --no-prefix paths', async () => {
    const p = await mail('0025-git-add-binary-file.mbox');
    expect(p.diff!.startsWith('diff --git pixel.bmp pixel.bmp')).toBe(true);
    for (const s of ['GIT binary patch\n', 'literal 142\n', 'literal 0\n']) expect(p.diff).toContain(s);
    expect(p.diff).not.toContain('2.35.3');
    expect(p.files).toEqual(['pixel.bmp']);
  });

  it('0026: mixed binary and text files', async () => {
    const p = await mail('0026-git-add-mixed-binary-text-files.mbox');
    expect(p.diff!.startsWith('diff --git pixel.bmp pixel.bmp')).toBe(true);
    expect(p.diff).toContain('GIT binary patch\n');
    expect(p.diff).toContain('diff --git quit.sh quit.sh\n');
    expect(p.files).toEqual(['pixel.bmp', 'quit.sh']);
  });

  it('0027: modified binary file; the message is only a sign-off', async () => {
    const p = await mail('0027-git-modify-binary-file.mbox');
    expect(p.diff!.startsWith('diff --git pixel.bmp pixel.bmp')).toBe(true);
    for (const s of ['GIT binary patch\n', 'literal 0\n', 'literal 142\n']) expect(p.diff).toContain(s);
    expect(p.message).toBe('Signed-off-by: Stephen Finucane <stephen@that.guru>');
    expect(p.trailers.map((t) => t.name)).toEqual(['Signed-off-by']);
  });
});

describe('encodings (patchwork mail/)', () => {
  it('0010: invalid charset name "none" falls back (QP body in a multipart)', async () => {
    const p = await mail('0010-invalid-charset.mbox');
    expect(p.kind).toBe('patch');
    expect(p.diff).toContain('diff --git a/sysdeps/x86_64/fpu/multiarch/e_pow.c b/sysdeps/x86_64/fpu/multiarch/e_pow.c\n');
    expect(p.message).toContain('\t[BZ #16315]');
    expect(p.listId).toBe('libc-alpha.sourceware.org');
  });

  it('0012: raw 0x9c byte in a Received header does not matter', async () => {
    const p = await mail('0012-invalid-header-char.mbox');
    expect(p.kind).toBe('patch');
    expect(p.subject).toMatchObject({ name: 'kni: fix compilation error when debug enabled', tags: ['dpdk-dev'] });
    expect(p.listId).toBe('dev.dpdk.org');
  });

  it('0013: RFC 2047 From and 8-bit UTF-8 body', async () => {
    const p = await mail('0013-with-utf8-body.mbox');
    expect(p.kind).toBe('patch');
    expect(p.from).toEqual({ name: 'Rafał Miłecki', email: 'zajec5@gmail.com' });
    expect(p.message).toContain('Signed-off-by: Rafał Miłecki <zajec5@gmail.com>');
    expect(p.diff).toContain('+M:\tRafał Miłecki <zajec5@gmail.com>');
    expect(p.trailers[0]?.value).toBe('Rafał Miłecki <zajec5@gmail.com>');
  });

  it('0014: decodes raw UTF-8 headers (patchwork leaves U+FFFD)', async () => {
    const p = await mail('0014-with-unencoded-utf8-headers.mbox');
    expect(p.kind).toBe('patch');
    expect(p.from).toEqual({ name: 'Rafał Miłecki', email: 'zajec5@gmail.com' });
    expect(p.subject.name).toBe('MAINTAINERS: Update entry for BCM5301X ARM to include Rafał Miłecki');
    expect(p.cc).toContainEqual({ name: 'Rafał Miłecki', email: 'zajec5@gmail.com' });
    expect(JSON.stringify(p)).not.toContain('\ufffd');
  });

  it('0015: invalid UTF-8 inside a Cc encoded word does not break the rest', async () => {
    const p = await mail('0015-with-invalid-utf8-headers.mbox');
    expect(p.kind).toBe('patch');
    expect(p.from).toEqual({ name: 'Rafał Miłecki', email: 'zajec5@gmail.com' });
    expect(p.cc.map((c) => c.email)).toContain('zajec5@gmail.com');
  });

  it('raw latin1 (not UTF-8) header bytes decode as windows-1252', async () => {
    const raw = Buffer.concat([
      Buffer.from('From: Jos'),
      Buffer.from([0xe9]),
      Buffer.from(' Garc'),
      Buffer.from([0xed]),
      Buffer.from('a <jose@example.com>\nSubject: caf'),
      Buffer.from([0xe9]),
      Buffer.from('\nMessage-Id: <l1@x>\n\nbody\n'),
    ]);
    const p = await parseMessage(raw);
    expect(p.from.name).toBe('José García');
    expect(p.subject.name).toBe('café');
  });

  it('base64 and quoted-printable bodies in other charsets', async () => {
    const b64 = makeMail(Buffer.from('Grüße\n\nSigned-off-by: Jörg <j@x.org>\n', 'latin1').toString('base64') + '\n', {
      'Content-Type': 'text/plain; charset=iso-8859-1',
      'Content-Transfer-Encoding': 'base64',
    });
    const p = await parseMessage(b64);
    expect(p.message).toBe('Grüße\n\nSigned-off-by: Jörg <j@x.org>');
    const qp = makeMail('Gr=C3=BC=C3=9Fe, a long line that is soft=\n-wrapped\n', {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Transfer-Encoding': 'quoted-printable',
    });
    expect((await parseMessage(qp)).message).toBe('Grüße, a long line that is soft-wrapped');
    const koi = makeMail(Buffer.from([0xf0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4]).toString('base64') + '\n', {
      'Content-Type': 'text/plain; charset=koi8-r',
      'Content-Transfer-Encoding': 'base64',
    });
    expect((await parseMessage(koi)).message).toBe('Привет');
  });

  it('invalid UTF-8 with no charset falls back to windows-1252; an invalid charset with valid UTF-8 reads UTF-8', async () => {
    const latin = Buffer.concat([Buffer.from(makeMail('', { 'Content-Type': '' })), Buffer.from([0x64, 0xe9, 0x6a, 0xe0, 0x0a])]);
    expect((await parseMessage(latin)).message).toBe('déjà');
    const none = makeMail('żółw\n', { 'Content-Type': 'text/plain; charset="none"', 'Content-Transfer-Encoding': '8bit' });
    expect((await parseMessage(none)).message).toBe('żółw');
  });
});

describe('content splitting (patchwork synthetic cases)', () => {
  const diff = corpusFile('patches', '0001-add-line.patch').toString('utf8');
  const utf8Diff = corpusFile('patches', '0002-utf-8.patch').toString('utf8');

  it('inline patch: diff equals the patch file exactly, message the text above it', async () => {
    const p = await parseMessage(makeMail('Test for attached patch\n' + diff));
    expect(p.diff).toBe(diff);
    expect(p.message).toBe('Test for attached patch');
    expect(p.kind).toBe('patch');
    expect(p.files).toEqual(['meep.text']);
  });

  it('UTF-8 inline patch', async () => {
    const p = await parseMessage(makeMail('Test for attached patch\n' + utf8Diff, { 'Content-Type': 'text/plain; charset="utf-8"', 'Content-Transfer-Encoding': '8bit' }));
    expect(p.diff).toBe(utf8Diff);
  });

  it('no Content-Type / Content-Transfer-Encoding headers', async () => {
    const p = await parseMessage(makeMail('Test for attached patch\n' + diff, { 'Content-Type': '', 'Content-Transfer-Encoding': '' }));
    expect(p.diff).toBe(diff);
    expect(p.message).toBe('Test for attached patch');
  });

  it.each(['x-patch', 'x-diff'])('patch as a text/%s attachment', async (subtype) => {
    const raw = [
      'Message-Id: <att@x>',
      'From: Test Author <test-author@example.com>',
      'Subject: Test subject',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="BOUNDARY"',
      '',
      '--BOUNDARY',
      'Content-Type: text/plain; charset="us-ascii"',
      '',
      'Test for attached patch',
      '--BOUNDARY',
      `Content-Type: text/${subtype}; charset="us-ascii"`,
      'Content-Disposition: attachment; filename="0001.patch"',
      '',
      diff + '--BOUNDARY--',
      '',
    ].join('\n');
    const p = await parseMessage(raw);
    expect(p.diff).toBe(diff);
    expect(p.message).toBe('Test for attached patch');
  });

  it('a "-- " signature between the text and the diff is stripped', async () => {
    const p = await parseMessage(makeMail('Test comment\nmore comment\n-- \nsig\n' + diff));
    expect(p.diff).toBe(diff);
    expect(p.message).toBe('Test comment\nmore comment');
    expect(p.body).not.toContain('sig');
  });

  it('a _____ mailing-list footer is stripped', async () => {
    const body = ['Test comment', 'more comment', '_______________________________________________', 'Linuxppc-dev mailing list', diff].join('\n');
    const p = await parseMessage(makeMail(body));
    expect(p.diff).toBe(diff);
    expect(p.message).toBe('Test comment\nmore comment');
  });

  it('lines starting "diff"/"Different" in prose are not diffs', async () => {
    const text = 'Lines can start with words beginning in "diff"\ndifficult\nDifferent';
    const p = await parseMessage(makeMail(text + '\n' + diff));
    expect(p.diff).toBe(diff);
    expect(p.message).toBe(text);
    const prose = await parseMessage(makeMail('diff between v1 and v2:\nIndex: not a diff\n--- not a diff either\n'));
    expect(prose.diff).toBeNull();
    expect(prose.kind).toBe('other');
  });

  it('"---\\nUpdate: ..." is not a signature: kept (git am puts it in the notes, patchwork in the message)', async () => {
    const text = 'Test comment\nmore comment\n---\nUpdate: test update';
    const p = await parseMessage(makeMail(text + '\n' + diff));
    expect(p.diff).toBe(diff);
    expect(p.message).toBe('Test comment\nmore comment');
    expect(p.notes).toBe('Update: test update');
    expect(p.body).toContain(text);
    const signed = await parseMessage(makeMail(text + '\n-- \nsig\n' + diff));
    expect(signed.notes).toBe('Update: test update');
    expect(signed.diff).toBe(diff);
    // without a diff the whole text is the message
    const reply = await parseMessage(makeMail(text + '\n', { 'In-Reply-To': '<p@x>' }));
    expect(reply.message).toBe(text);
  });

  it('plain unified diff without a git header, and a -p1 non-git diff', async () => {
    const plain = '--- a/drivers/net/tun.c\n+++ b/drivers/net/tun.c\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n';
    const p = await parseMessage(makeMail('msg\n\n' + plain + '-- \n2.1\n'));
    expect(p.diff).toBe(plain);
    expect(p.files).toEqual(['drivers/net/tun.c']);
    const orig = 'diff -urN linux.orig/mm/x.c linux/mm/x.c\n--- linux.orig/mm/x.c\t2019-01-01 00:00:00\n+++ linux/mm/x.c\t2019-01-02 00:00:00\n@@ -1 +1 @@\n-a\n+b\n';
    expect((await parseMessage(makeMail('msg\n\n' + orig))).files).toEqual(['mm/x.c']);
  });

  it('a removed line reading "-- " inside a hunk does not cut the diff', async () => {
    const d = 'diff --git a/x b/x\nindex 1..2 100644\n--- a/x\n+++ b/x\n@@ -1,3 +1,2 @@\n a\n-- \n b\n';
    const p = await parseMessage(makeMail('msg\n---\n' + d + '-- \n2.30.0\n'));
    expect(p.diff).toBe(d);
  });

  it('deletions and renames name the right file', async () => {
    const d = [
      'diff --git a/old.c b/old.c',
      'deleted file mode 100644',
      'index 1111111..0000000',
      '--- a/old.c',
      '+++ /dev/null',
      '@@ -1 +0,0 @@',
      '-x',
      'diff --git a/a.c b/b.c',
      'similarity index 90%',
      'rename from a.c',
      'rename to b.c',
      'index 1..2 100644',
      '--- a/a.c',
      '+++ b/b.c',
      '@@ -1 +1 @@',
      '-y',
      '+z',
      '',
    ].join('\n');
    const p = await parseMessage(makeMail('msg\n---\n' + d));
    expect(p.files).toEqual(['old.c', 'b.c']);
    expect(p.diff).toBe(d);
  });

  it('in-body From: header is taken out of the message', async () => {
    const p = await parseMessage(makeMail('From: Real Author <real@example.com>\n\nFix the thing.\n\nSigned-off-by: Real Author <real@example.com>\n---\n' + diff));
    expect(p.inBodyFrom).toEqual({ name: 'Real Author', email: 'real@example.com' });
    expect(p.message).toBe('Fix the thing.\n\nSigned-off-by: Real Author <real@example.com>');
    expect(p.from.email).toBe('test-author@example.com');
  });

  it('format=flowed text is unwrapped like git am does', async () => {
    const p = await parseMessage(
      makeMail('This is a long \nflowed line.\n', { 'Content-Type': 'text/plain; charset=utf-8; format=flowed', 'In-Reply-To': '<p@x>' }),
    );
    expect(p.message).toBe('This is a long flowed line.');
  });
});

describe('kinds', () => {
  const diff = corpusFile('patches', '0001-add-line.patch').toString('utf8');

  it('cover letter: no diff and N/M with N == 0', async () => {
    const p = await parseMessage(makeMail('test cover letter\n', { Subject: '[PATCH 0/2] A cover letter' }));
    expect(p.kind).toBe('cover');
    expect(p.subject).toMatchObject({ number: 0, total: 2, name: 'A cover letter' });
  });

  it.each(['Re: meep', 'RE: meep', 'Re meep', 're meep', 'Aw: meep'])('%s without a diff is a comment', async (subject) => {
    expect((await parseMessage(makeMail('text\n', { Subject: subject }))).kind).toBe('comment');
  });

  it('In-Reply-To or References alone make a comment', async () => {
    expect((await parseMessage(makeMail('text\n', { 'In-Reply-To': '<a@b>' }))).kind).toBe('comment');
    expect((await parseMessage(makeMail('text\n', { References: '<a@b>' }))).kind).toBe('comment');
  });

  it('a reply subject with a diff is a comment (a review suggestion), as in patchwork', async () => {
    const p = await parseMessage(makeMail('try this\n' + diff, { Subject: 'Re: [PATCH] foo', 'In-Reply-To': '<a@b>' }));
    expect(p.kind).toBe('comment');
    expect(p.diff).toBe(diff);
  });

  it('a threaded patch (In-Reply-To, no Re:) is a patch', async () => {
    expect((await parseMessage(makeMail('x\n' + diff, { Subject: '[PATCH 1/2] foo', 'In-Reply-To': '<a@b>' }))).kind).toBe('patch');
  });

  it('other, with a reason', async () => {
    const p = await parseMessage(makeMail('hello\n', { Subject: 'just a question' }));
    expect(p.kind).toBe('other');
    expect(p.reason).toBe('no diff, no series marker, not a reply');
    const numbered = await parseMessage(makeMail('hello\n', { Subject: '[PATCH 2/3] lost its diff' }));
    expect(numbered).toMatchObject({ kind: 'other', reason: 'no diff, series marker 2/3 without a diff, not a reply' });
  });

  it('fuzz x-face: no diff, no series marker, not a reply', async () => {
    const p = await parseMessage(corpusFile('fuzz', 'x-face.mbox'));
    expect(p).toMatchObject({ kind: 'other', reason: 'no diff, no series marker, not a reply' });
    expect(p.msgid).toBe('<200811131654.22389.laurent.pinchart@skynet.be>');
  });
});

describe('rejected mail', () => {
  it('oversized mail is rejected without a full parse, headers still read', async () => {
    const big = makeMail('x'.repeat(200) + '\n', { Subject: '[PATCH] big' });
    const p = await parseMessage(big, { maxBytes: 100 });
    expect(p.kind).toBe('rejected');
    expect(p.reason).toBe(`oversized: ${Buffer.byteLength(big)} bytes > 100`);
    expect(p.msgid).toBe('<test-1@example.com>');
    expect(p.subject.name).toBe('big');
    expect(p.body).toBe('');
  });

  it('the default limit is 20 MiB', async () => {
    const huge = Buffer.alloc(20 * 1024 * 1024 + 1, 0x61);
    const p = await parseMessage(huge);
    expect(p.kind).toBe('rejected');
    expect(p.reason).toBe('oversized: 20971521 bytes > 20971520');
  });

  it('no From header, or a From without an address', async () => {
    const none = await parseMessage(makeMail('hi\n', { From: '' }));
    expect(none).toMatchObject({ kind: 'rejected', reason: 'no usable From header (missing)' });
    const bad = await parseMessage(makeMail('hi\n', { From: 'testH=?UTF-8?B?w6E=?=user=?UTF-8?B?w6E=?=' }));
    expect(bad.kind).toBe('rejected');
    expect(bad.reason).toMatch(/^no usable From header/);
    // still returns what it could read
    expect(bad.msgid).toBe('<test-1@example.com>');
  });

  it('empty input and non-mail input never throw', async () => {
    expect(await parseMessage('')).toMatchObject({ kind: 'rejected', reason: 'empty message' });
    expect((await parseMessage(Buffer.from([0, 1, 2, 255, 254, 10, 10, 0]))).kind).toBe('rejected');
    expect((await parseMessage(undefined as unknown as string)).kind).toBe('rejected');
  });

  it('an invalid Date alone is not a reason to reject', async () => {
    const p = await parseMessage(makeMail('hi\n', { Date: 'Wg>' }));
    expect(p.date).toBeNull();
    expect(p.kind).toBe('other');
  });
});

describe('fuzz/ and historic/earlyfail: no crash, a kind and a reason for each', () => {
  const expected: Record<string, ParsedMessage['kind']> = {
    'base64err.mbox': 'rejected',
    'charset.mbox': 'rejected',
    'codec-null.mbox': 'patch',
    'date-oserror.mbox': 'rejected',
    'date-too-long.mbox': 'rejected',
    'date.mbox': 'rejected',
    'dateheader.mbox': 'rejected',
    'email-len.mbox': 'rejected',
    'msgid-len.mbox': 'rejected',
    'msgid-len2.mbox': 'rejected',
    'msgidheader.mbox': 'rejected',
    'name-len.mbox': 'rejected',
    'refshdr.mbox': 'rejected',
    'unknown-encoding.mbox': 'rejected',
    'value2.mbox': 'rejected',
    'x-face.mbox': 'other',
    'year-out-of-range.mbox': 'rejected',
  };

  it('covers every fuzz file', () => {
    expect(corpusFiles('fuzz')).toEqual(Object.keys(expected).sort());
  });

  it.each(Object.entries(expected))('%s', async (file, kind) => {
    const p = await parseMessage(corpusFile('fuzz', file));
    expect(p.kind).toBe(kind);
    if (kind === 'rejected' || kind === 'other') expect(p.reason).toMatch(/\S/);
    expect(p.msgid).toMatch(/^<[^\s<>]+>$/);
    expect(typeof p.hash).toBe('string');
  });

  it('codec-null: NULs in the charset, still the patch patchwork accepts', async () => {
    const p = await parseMessage(corpusFile('fuzz', 'codec-null.mbox'));
    expect(p.msgid).toBe('<l-xiaolou4617@gmail.com>');
    expect(p.subject.name).toBe('net: ieee802154: remove explicit set skb->sk');
    expect(p.diff).not.toBeNull();
  });

  it('historic/earlyfail: rejected, with the reason', async () => {
    const p = await parseMessage(corpusFile('historic', 'earlyfail.mbox'));
    expect(p.kind).toBe('rejected');
    expect(p.reason).toMatch(/From/);
  });
});

describe('threading headers in series/ mboxes', () => {
  it('bugs-multiple-references: two References headers give oldest-first refs; folded Message-Id', async () => {
    const msgs = splitMbox(corpusFile('series', 'bugs-multiple-references.mbox'));
    expect(msgs).toHaveLength(5);
    const cover = await parseMessage(msgs[0]);
    expect(cover.msgid).toBe('<cover.1495511998.git.viresh.kumar@linaro.org>');
    expect(cover.kind).toBe('cover');
    expect(cover.subject).toMatchObject({ version: 2, number: 0, total: 4 });
    const p1 = await parseMessage(msgs[1]);
    expect(p1.msgid).toBe('<b9f67b2be37d5e9740a5e1ed85b0e8b4e5c0eb91.1495511998.git.viresh.kumar@linaro.org>');
    const p2 = await parseMessage(msgs[2]);
    expect(p2.msgid).toBe('<ed9beaec36649c862369a34ea209822c00d86f52.1495511998.git.viresh.kumar@linaro.org>');
    expect(p2.inReplyTo).toBe(p1.msgid);
    expect(p2.references).toEqual([cover.msgid, p1.msgid]);
    expect(p2.subject).toMatchObject({ name: "PM / OPP: Don't create copy of regulators unnecessarily", number: 2, version: 2 });
    expect(p2.kind).toBe('patch');
  });

  it('base-different-versions: folded subject, (v3) in the cover name', async () => {
    const msgs = splitMbox(corpusFile('series', 'base-different-versions.mbox'));
    const kinds = await Promise.all(msgs.map(async (m) => (await parseMessage(m)).kind));
    expect(kinds).toEqual(['cover', 'patch', 'patch', 'patch', 'patch']);
    const cover = await parseMessage(msgs[0]);
    expect(cover.subject).toMatchObject({ name: 'net: dsa: Multi-CPU ground work (v3)', version: 3, tags: ['net-next'] });
    const p1 = await parseMessage(msgs[1]);
    expect(p1.subject.name).not.toContain('\n');
    expect(p1.subject.name).toContain('use dst->cpu_dp->netdev');
  });

  it('mercurial series: "0 of 2" cover and "1 of 2" patches', async () => {
    const msgs = splitMbox(corpusFile('series', 'mercurial-cover-letter.mbox'));
    const parsed = await Promise.all(msgs.map((m) => parseMessage(m)));
    expect(parsed.map((p) => p.kind)).toEqual(['cover', 'patch', 'patch']);
    expect(parsed.map((p) => [p.subject.number, p.subject.total])).toEqual([
      [0, 2],
      [1, 2],
      [2, 2],
    ]);
    expect(parsed[0].msgid).toBe('<patchbomb.1485159385@nuevo>');
  });

  it('base-no-references: [net,v2,N/2] without PATCH; bugs-multiple-content-types: the reply is a comment', async () => {
    const nr = await Promise.all(splitMbox(corpusFile('series', 'base-no-references.mbox')).map((m) => parseMessage(m)));
    expect(nr.map((p) => [p.kind, p.subject.version, p.subject.number, p.inReplyTo])).toEqual([
      ['patch', 2, 1, null],
      ['patch', 2, 2, null],
    ]);
    const mct = await Promise.all(splitMbox(corpusFile('series', 'bugs-multiple-content-types.mbox')).map((m) => parseMessage(m)));
    expect(mct.map((p) => p.kind)).toEqual(['patch', 'comment']);
    expect(mct[1].inReplyTo).toBe('<20190820013652.147041-1-yuehaibing@huawei.com>');
    expect(mct[0].subject).toMatchObject({ name: 'bpf: Use PTR_ERR_OR_ZERO in xsk_map_inc()', tags: ['-next'] });
  });

  it('every series mbox gives patchwork\'s [cover, patch, comment] counts message by message', async () => {
    const counts: Record<string, [number, number, number]> = {
      'base-single-patch.mbox': [0, 1, 0],
      'base-cover-letter.mbox': [1, 2, 0],
      'base-no-cover-letter.mbox': [0, 2, 0],
      'base-deep-threaded.mbox': [1, 2, 0],
      'base-out-of-order.mbox': [1, 2, 0],
      'base-incomplete.mbox': [1, 1, 0],
      'base-extra-patches.mbox': [1, 3, 0],
      'revision-basic.mbox': [2, 4, 0],
      'revision-unlabeled.mbox': [2, 4, 0],
      'bugs-unnumbered.mbox': [1, 2, 0],
      'bugs-spamming.mbox': [0, 3, 0],
      'bugs-mixed-versions.mbox': [0, 2, 0],
      'dependency-base-patch.mbox': [1, 2, 0],
      'base-different-versions.mbox': [1, 4, 0],
      'bugs-multiple-references.mbox': [1, 4, 0],
      'base-no-references.mbox': [0, 2, 0],
      'base-no-references-no-cover.mbox': [1, 2, 0],
      'bugs-multiple-content-types.mbox': [0, 1, 1],
      'revision-threaded-to-single-patch.mbox': [0, 2, 0],
      'revision-threaded-to-cover.mbox': [2, 4, 0],
      'revision-threaded-to-patch.mbox': [2, 4, 0],
      'revision-out-of-order.mbox': [2, 4, 0],
      'revision-no-cover-letter.mbox': [1, 4, 0],
      'revision-unlabeled-noreferences.mbox': [0, 4, 0],
      'bugs-nocover-noversion.mbox': [0, 4, 0],
      'bugs-nocover.mbox': [0, 4, 0],
      'mercurial-cover-letter.mbox': [1, 2, 0],
      'mercurial-no-cover-letter.mbox': [0, 2, 0],
    };
    // every series mbox of the corpus is listed (ASSERTED counts of patchwork's test_series)
    expect(Object.keys(counts).sort()).toEqual(corpusFiles('series'));
    for (const [file, want] of Object.entries(counts)) {
      const parsed = await Promise.all(splitMbox(corpusFile('series', file)).map((m) => parseMessage(m)));
      const got = [
        parsed.filter((p) => p.kind === 'cover').length,
        parsed.filter((p) => p.kind === 'patch').length,
        parsed.filter((p) => p.kind === 'comment').length,
      ];
      expect(got, file).toEqual(want);
    }
  });
});

describe('b4 corpus patches without git headers', () => {
  it('non-git-patch: bare ---/+++ diff with a mangled "@@@" hunk header and wrong counts', async () => {
    const [patch] = splitMbox(corpusFile('..', 'b4', 'trailers-followup-non-git-patch.mbox'));
    const p = await parseMessage(patch);
    expect(p.kind).toBe('patch');
    expect(p.files).toEqual(['b4/junk.py']);
    expect(p.diff).toBe('--- a/b4/junk.py\n+++ b/b4/junk.py\n@@@ -1,1 +1,1 @@ def junk():\n \n \n-junk1\n+junk2\n \n \n');
    expect(p.message.endsWith('Signed-off-by: Original Submitter <original-submitter@example.com>')).toBe(true);
    expect(p.trailers.map((t) => t.name)).toEqual(['Fixes', 'Reviewed-by', 'Link', 'Signed-off-by']);
  });

  it('stripped-lines: context lines that lost their leading space stay in the diff', async () => {
    const [patch] = splitMbox(corpusFile('..', 'b4', 'trailers-followup-stripped-lines.mbox'));
    const p = await parseMessage(patch);
    expect(p.kind).toBe('patch');
    expect(p.diff).toBe('--- a/b4/junk.py\n+++ b/b4/junk.py\n@@@ -1,1 +1,1 @@ def junk():\n\n\n-junk1\n+junk2\n');
    expect(p.body).not.toContain('2.wong.fu');
  });

  it('non-git-patch-with-comments: free text after --- is the notes', async () => {
    const [patch] = splitMbox(corpusFile('..', 'b4', 'trailers-followup-non-git-patch-with-comments.mbox'));
    const p = await parseMessage(patch);
    expect(p.kind).toBe('patch');
    expect(p.notes).toMatch(/there is\s+no diffstat/);
    expect(p.message).not.toMatch(/there is\s+no diffstat/);
  });
});

describe('threading and kept headers', () => {
  it('find_references duplicate case: References oldest first, deduplicated; In-Reply-To separate', async () => {
    const p = await parseMessage(
      makeMail('test\n', {
        'Message-Id': '<20130510114450.7104c5d2@nehalam.linuxnetplumber.net>',
        'In-Reply-To': '<525534677.5312512.1368202896189.JavaMail.root@vmware.com>',
        References: [
          '<AFCFCEB8EB0E24448E4EB95988BA1E531FA2EA0D@xmb-aln-x05.cisco.com>',
          ' <CAE68AUOr7B5a2QvduJhH0kEHPi+sR9X3qfrtumgLxT1BK4VS+Q@mail.gmail.com>',
          ' <1676591087.5291867.1368201908283.JavaMail.root@vmware.com>',
          ' <20130510091549.3c064df6@nehalam.linuxnetplumber.net>',
          ' <525534677.5312512.1368202896189.JavaMail.root@vmware.com>',
          ' <1676591087.5291867.1368201908283.JavaMail.root@vmware.com>',
        ].join('\n'),
      }),
    );
    expect(p.inReplyTo).toBe('<525534677.5312512.1368202896189.JavaMail.root@vmware.com>');
    expect(p.references).toEqual([
      '<AFCFCEB8EB0E24448E4EB95988BA1E531FA2EA0D@xmb-aln-x05.cisco.com>',
      '<CAE68AUOr7B5a2QvduJhH0kEHPi+sR9X3qfrtumgLxT1BK4VS+Q@mail.gmail.com>',
      '<1676591087.5291867.1368201908283.JavaMail.root@vmware.com>',
      '<20130510091549.3c064df6@nehalam.linuxnetplumber.net>',
      '<525534677.5312512.1368202896189.JavaMail.root@vmware.com>',
    ]);
  });

  it('Message-ID with a trailing comment, and a malformed In-Reply-To missing "<"', async () => {
    const p = await parseMessage(
      makeMail('test\n', {
        'Message-Id': '<xnzgy1de8d.fsf@rhel8.vm> (message ID with a comment)',
        'In-Reply-To': '5899d592-8c87-47d9-92b6-d34260ce1aa4@radware.com>',
      }),
    );
    expect(p.msgid).toBe('<xnzgy1de8d.fsf@rhel8.vm>');
    expect(p.inReplyTo).toBe('<5899d592-8c87-47d9-92b6-d34260ce1aa4@radware.com>');
    expect(p.kind).toBe('comment');
  });

  it('an empty Message-Id gets the synthetic id', async () => {
    const p = await parseMessage(makeMail('test\n', { 'Message-Id': ' ' }));
    expect(p.msgidSynthetic).toBe(true);
    expect(p.msgid).toMatch(/^<[0-9a-f]{32}@patchgate\.invalid>$/);
  });

  it('X-Patchwork-*, X-Mailer, Auto-Submitted and X-Patchgate-* headers are kept, lower-case', async () => {
    const p = await parseMessage(
      makeMail('test\n', {
        'X-Patchwork-Delegate': 'maintainer@example.com',
        'X-Patchwork-State': 'Changes Requested',
        'X-Patchwork-Action-Required': '',
        'X-Mailer': 'git-send-email 2.39.2',
        'Auto-Submitted': 'auto-generated',
        'X-Patchgate-Test': 'yes',
        'X-Unrelated': 'no',
      }),
    );
    expect(p.headers).toMatchObject({
      'x-patchwork-delegate': 'maintainer@example.com',
      'x-patchwork-state': 'Changes Requested',
      'x-mailer': 'git-send-email 2.39.2',
      'auto-submitted': 'auto-generated',
      'x-patchgate-test': 'yes',
    });
    expect(p.headers['x-unrelated']).toBeUndefined();
  });

  it('an empty X-Patchwork-Action-Required header is kept as present', async () => {
    const raw = makeMail('test\n').replace('\n\n', '\nX-Patchwork-Action-Required:\n\n');
    expect((await parseMessage(raw)).headers['x-patchwork-action-required']).toBe('');
  });
});

describe('hostile input stays linear (would take minutes if quadratic)', () => {
  it('a subject of 100,000 "Re: " and 100,000 "[x]" groups', async () => {
    const p = await parseMessage(makeMail('x\n', { Subject: 'Re: '.repeat(100_000) + '[x]'.repeat(100_000) + ' name' }));
    expect(p.subject.isReply).toBe(true);
    expect(p.kind).toBe('comment');
  });

  it('50,000 pull request openers without a URL, and 200,000 hunk-like lines', async () => {
    const pulls = await parseMessage(makeMail('The following changes since commit abc\n'.repeat(50_000)));
    expect(pulls.pullUrl).toBeNull();
    const minus = await parseMessage(makeMail('--- a/x\n+++ b/x\n@@ -1,1 +1,1 @@\n' + '-x\n+y\n \n'.repeat(200_000)));
    expect(minus.kind).toBe('patch');
    expect(minus.files).toEqual(['x']);
  });

  it('50,000 References ids and a 400 KB From name', async () => {
    const ids = Array.from({ length: 50_000 }, (_, i) => `<${i}@x>`).join(' ');
    const p = await parseMessage(makeMail('x\n', { References: ids, From: `"${'N'.repeat(400_000)}" <n@x.org>` }));
    expect(p.references).toHaveLength(50_000);
    expect(p.from.email).toBe('n@x.org');
  });

  it('a header block over 1 MiB is rejected, with the fields read before the limit', async () => {
    const p = await parseMessage(makeMail('x\n', { 'X-Junk': 'j'.repeat(1_100_000) }));
    expect(p.kind).toBe('rejected');
    expect(p.reason).toBe('header block larger than 1048576 bytes');
    expect(p.msgid).toBe('<test-1@example.com>');
  });
});

describe('tags in a patch and in a reply (patchwork ParseInitialTagsTest / ParseCommentTagsTest)', () => {
  const diff = corpusFile('patches', '0001-add-line.patch').toString('utf8');
  const tags = 'test comment\n\nTested-by: Test User <test@example.com>\nReviewed-by: Test User <test@example.com>\n';
  const count = (p: ParsedMessage, name: string): number => p.trailers.filter((t) => t.name === name).length;

  it('in the patch body', async () => {
    const p = await parseMessage(makeMail(tags + '\n' + diff));
    expect(p.kind).toBe('patch');
    expect([count(p, 'Tested-by'), count(p, 'Reviewed-by'), count(p, 'Acked-by')]).toEqual([1, 1, 0]);
  });

  it('in a reply', async () => {
    const p = await parseMessage(makeMail(tags, { 'In-Reply-To': '<1@example.com>', 'Message-Id': '<2@example.com>' }));
    expect(p.kind).toBe('comment');
    expect([count(p, 'Tested-by'), count(p, 'Reviewed-by'), count(p, 'Acked-by')]).toEqual([1, 1, 0]);
  });
});

describe('splitContent: each part a run of whole lines of the text', () => {
  it('in-body From, message, notes below ---, diff, text after it, signature cut', () => {
    const text = '\n\nFrom: Real Author <real@example.org>\n\nFix the ring.\n\nSigned-off-by: Real Author <real@example.org>\n---\nv2: rebased\n\n'
      + ' drivers/net/tun.c | 2 +-\n\ndiff --git a/drivers/net/tun.c b/drivers/net/tun.c\n--- a/drivers/net/tun.c\n+++ b/drivers/net/tun.c\n'
      + '@@ -1 +1 @@\n-a\n+b\n\n2.39.0\n\n-- \nsig\n';
    const diff = 'diff --git a/drivers/net/tun.c b/drivers/net/tun.c\n--- a/drivers/net/tun.c\n+++ b/drivers/net/tun.c\n@@ -1 +1 @@\n-a\n+b\n';
    const c = splitContent(text);
    expect(c.inBodyFrom).toEqual({ name: 'Real Author', email: 'real@example.org' });
    expect(c.message).toBe('Fix the ring.\n\nSigned-off-by: Real Author <real@example.org>');
    expect(c.notes).toBe('v2: rebased\n\n drivers/net/tun.c | 2 +-');
    expect(c.diff).toBe(diff);
    expect(c.files).toEqual(['drivers/net/tun.c']);
    expect(c.body).toBe(
      'From: Real Author <real@example.org>\n\nFix the ring.\n\nSigned-off-by: Real Author <real@example.org>\n---\nv2: rebased\n\n'
        + ` drivers/net/tun.c | 2 +-\n${diff}2.39.0\n`,
    );
  });

  it('prose only: blank lines trimmed, the signature cut, no notes', () => {
    const c = splitContent('\n \nJust prose.\n\n-- \nsig\n');
    expect([c.body, c.message, c.notes, c.diff]).toEqual(['Just prose.\n', 'Just prose.', '', null]);
    expect(splitContent('')).toMatchObject({ body: '', message: '', notes: '', diff: null });
  });
});
