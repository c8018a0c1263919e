import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { splitMbox } from '../../../src/ingest/mbox.js';
import { parseMessage } from '../../../src/mail/parse.js';
import type { ParsedMessage } from '../../../src/mail/types.js';
import { isScissorsLine, renderAm, wrapHeader } from '../../../src/series/am.js';
import { collectFollowupTrailers } from '../../../src/series/trailers.js';
import type { CollectedTrailer, Series } from '../../../src/series/types.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const b4 = path.resolve(repoRoot, '..', 'shared', 'corpus', 'b4');

async function loadMbox(name: string): Promise<ParsedMessage[]> {
  return Promise.all(splitMbox(readFileSync(path.join(b4, name))).map((buf) => parseMessage(buf)));
}

/** A series of `patches` whose trailers are the patch's own followed by `extra[i]` (as assembleSeries builds them). */
function seriesOf(patches: ParsedMessage[], extra: CollectedTrailer[][] = [], opts: Partial<Series> = {}): Series {
  return {
    id: 'test', name: null, version: 1, total: patches.length, received_all: true, rfc: false, tags: [],
    submitter: patches[0]!.from, cover: null, base_commit: null, depends_on: [], previous: null,
    ...opts,
    patches: patches.map((p, i) => ({
      msgid: p.msgid, number: i + 1, name: p.subject.name, subject: p.subject.raw, author: p.from,
      pull_url: null, files: p.files,
      trailers: [...p.trailers.map((t) => ({ name: t.name, value: t.value, from: p.msgid })), ...(extra[i] ?? [])],
    })),
  };
}

const mapOf = (msgs: ParsedMessage[]) => new Map(msgs.map((m) => [m.msgid, m]));

const DIFF = [
  'diff --git a/drivers/net/tun.c b/drivers/net/tun.c',
  'index 1111111..2222222 100644',
  '--- a/drivers/net/tun.c',
  '+++ b/drivers/net/tun.c',
  '@@ -1,3 +1,3 @@',
  ' a',
  '-b',
  '+c',
  ' d',
  '-- ',
  '2.45.0',
  '',
].join('\n');

function mail(headers: Record<string, string>, body: string): string {
  const h = { Date: 'Mon, 2 Sep 2024 10:00:00 +0200', ...headers };
  return Object.entries(h).map(([k, v]) => `${k}: ${v}`).join('\n') + '\n\n' + body;
}

describe('renderAm on b4 samples (without assembleSeries)', () => {
  it('single: equals b4 trailers-followup-single-ref-addmysob.txt', async () => {
    const [patch, ...followups] = await loadMbox('trailers-followup-single.mbox');
    const collected = collectFollowupTrailers(patch!, followups, { sloppy: false });
    const out = renderAm(seriesOf([patch!], [collected]), mapOf([patch!, ...followups]), {
      addMySob: 'Test Override <test-override@example.com>',
    });
    expect(out).toBe(readFileSync(path.join(b4, 'trailers-followup-single-ref-addmysob.txt'), 'utf8'));
  });

  it('with-cover: patch follow-ups come before cover-letter ones whatever their arrival order', async () => {
    const msgs = await loadMbox('trailers-followup-with-cover.mbox');
    const [cover, p1, p2, f1, f2] = msgs;
    const coverTrailers = collectFollowupTrailers(cover!, [f2!], { sloppy: false });
    const own2 = collectFollowupTrailers(p2!, [f1!], { sloppy: false });
    // cover trailers listed first, as if the cover follow-up had arrived first
    const series = seriesOf([p1!, p2!], [coverTrailers, [...coverTrailers, ...own2]], { version: 2, cover: cover!.msgid });
    const out = renderAm(series, mapOf(msgs), { addMySob: 'Test Override <test-override@example.com>' });
    expect(out).toBe(readFileSync(path.join(b4, 'trailers-followup-with-cover-ref-defaults.txt'), 'utf8'));
  });
});

describe('renderAm details', () => {
  it('noAddTrailers writes the body as sent, empty --- included', async () => {
    const raw = mail({ From: 'A U Thor <author@example.org>', Subject: '[PATCH] tun: fix', 'Message-Id': '<p1@example.org>' },
      'Fix it.\n\nSigned-off-by: A U Thor <author@example.org>\n---\n\n' + DIFF);
    const p = await parseMessage(raw);
    const f = await parseMessage(mail({ From: 'R <r@example.org>', Subject: 'Re: [PATCH] tun: fix', 'Message-Id': '<f1@example.org>', 'In-Reply-To': '<p1@example.org>' },
      '> Fix it.\n\nReviewed-by: R <r@example.org>\n'));
    const series = seriesOf([p], [collectFollowupTrailers(p, [f], { sloppy: false })]);
    const plain = renderAm(series, mapOf([p, f]), { noAddTrailers: true });
    expect(plain).toContain('Signed-off-by: A U Thor <author@example.org>\n---\n\ndiff --git');
    expect(plain).not.toContain('Reviewed-by');
    const added = renderAm(series, mapOf([p, f]), {});
    expect(added).toContain('Signed-off-by: A U Thor <author@example.org>\nReviewed-by: R <r@example.org>\n\ndiff --git');
    expect(added.endsWith(' d\n-- \n2.45.0\n\n')).toBe(true);
  });

  it('keeps a collected trailer\'s [extinfo] line and a # comment', async () => {
    const p = await parseMessage(mail({ From: 'A <a@example.org>', Subject: '[PATCH 1/1] x: y', 'Message-Id': '<p@example.org>' },
      'Body.\n\nSigned-off-by: A <a@example.org>\n---\n' + DIFF));
    const f = await parseMessage(mail({ From: 'R <r@example.org>', Subject: 'Re: [PATCH 1/1] x: y', 'Message-Id': '<f@example.org>', 'In-Reply-To': '<p@example.org>' },
      'Acked-by: R <r@example.org>\n[for the tun bits]\nLink: https://lore.kernel.org/r/x@y  # discussion\n'));
    const out = renderAm(seriesOf([p], [collectFollowupTrailers(p, [f], { sloppy: false })]), mapOf([p, f]), {});
    expect(out).toContain([
      'Signed-off-by: A <a@example.org>',
      'Acked-by: R <r@example.org>',
      '[for the tun bits]',
      'Link: https://lore.kernel.org/r/x@y  # discussion',
      '',
      'diff --git a/drivers/net/tun.c b/drivers/net/tun.c',
    ].join('\n'));
    expect(out).toContain('Subject: [PATCH 1/1] x: y\n');
  });

  it('takes an in-body From as the author and drops text above a scissors line', async () => {
    const p = await parseMessage(mail({ From: 'Sender <sender@example.org>', Subject: '[PATCH v2] net: thing', 'Message-Id': '<p@example.org>' },
      'Some chatter that is not part of the commit.\n\n-- >8 --\nFrom: Real Author <real@example.org>\n\nThe message.\n\nSigned-off-by: Real Author <real@example.org>\n---\n' + DIFF));
    const out = renderAm(seriesOf([p], [], { version: 2 }), mapOf([p]), {});
    expect(out).toContain('Subject: [PATCH v2] net: thing\nFrom: Real Author <real@example.org>\n');
    // a `---` with nothing but the diff below it is dropped, as b4 does
    expect(out).toContain('\n\nThe message.\n\nSigned-off-by: Real Author <real@example.org>\n\ndiff --git');
    expect(out).not.toContain('chatter');
  });

  it('8-bit bodies, quoted names and long subjects are written as b4 writes them', async () => {
    const subject = '[PATCH RFC net-next 3/7] virtio_net: make the receive path handle very long subjects without breaking anything';
    const p = await parseMessage(Buffer.from(mail({
      From: '"Doe, Jänë" <jane@example.org>', Subject: subject, 'Message-Id': '<p@example.org>',
      'Content-Type': 'text/plain; charset=utf-8', 'Content-Transfer-Encoding': '8bit',
    }, 'Grüße.\n\nSigned-off-by: Jänë Doe <jane@example.org>\n---\n' + DIFF), 'utf8'));
    const out = renderAm(seriesOf([p], [], { total: 7 }), mapOf([p]), {});
    expect(out).toContain('Subject: [PATCH RFC 3/7] virtio_net: make the receive path handle very long\n subjects without breaking anything\n');
    expect(out).toContain('From: "Doe, Jänë" <jane@example.org>\nDate: Mon, 2 Sep 2024 10:00:00 +0200\nMessage-Id: <p@example.org>\n');
    expect(out).toContain('Content-Transfer-Encoding: 8bit\n');
  });

  it('wraps like Python textwrap at 75 columns, never breaking long words', () => {
    expect(wrapHeader('Subject', 'short')).toBe('Subject: short');
    const long = 'x'.repeat(90);
    expect(wrapHeader('Subject', `a ${long} b`)).toBe(`Subject: a\n ${long}\n b`);
  });

  it.each([
    ['-- >8 --', true],
    ['--8<--', false],
    ['-- 8< -- cut here -- 8< --', true],
    ['------------------------>8------------------------', true],
    ['>8', false],
    ['some text with >8 in it', false],
    ['---', false],
  ])('isScissorsLine(%j) = %s', (line, want) => {
    expect(isScissorsLine(line)).toBe(want);
  });
});
