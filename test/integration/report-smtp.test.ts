// Replies through a real SMTP server on loopback: threading, plain text, the deterministic Message-ID,
// dry-run, policies, and the reply re-ingested by patchgate's own mail and series engine.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { simpleParser } from 'mailparser';
import { beforeEach, describe, expect, it } from 'vitest';
import { splitMbox } from '../../src/ingest/mbox.js';
import { parseMessage } from '../../src/mail/parse.js';
import type { ParsedMessage } from '../../src/mail/types.js';
import { makeReportContext, type ReportContext } from '../../src/report/context.js';
import { replyMessageId } from '../../src/report/mail.js';
import { createMailTransport, queueReport, replySummary, sendOutbox } from '../../src/report/outbox.js';
import { assembleSeries } from '../../src/series/assemble.js';
import { parseSettings } from '../../src/settings/load.js';
import { openDb, type Db } from '../../src/store/db.js';
import { useSmtpSink } from '../unit/report/helpers/smtp-sink.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const corpus = path.resolve(repoRoot, '..', 'shared', 'corpus', 'patchwork', 'series');
const FROM = 'patchgate <bot@patchgate.example.org>';

async function readMbox(name: string): Promise<ParsedMessage[]> {
  return Promise.all(splitMbox(readFileSync(path.join(corpus, name))).map((b) => parseMessage(b)));
}

/** A failing build verdict for every patch of SERIES, as the pipeline stores it. */
function failingOutcomes(patches: { msgid: string }[]) {
  return [
    { stage: 'apply', status: 'success', summary: null, data: { patches: patches.map((p) => ({ msgid: p.msgid, outcome: 'applied', files: [], detail: '' })) } },
    { stage: 'build', status: 'failure', summary: null, data: { config: 'x86_64 defconfig', patches: patches.map((p, i) => ({
      msgid: p.msgid, status: i === patches.length - 1 ? 'failure' : 'success', new_warnings: [],
      errors: i === patches.length - 1 ? [{ file: 'lib/lorem.c', line: 12, message: "expected ';' before '}' token" }] : [],
    })) } },
  ];
}

async function contextFromCorpus(mbox: string): Promise<{ messages: ParsedMessage[]; ctx: ReportContext }> {
  const messages = await readMbox(mbox);
  const doc = assembleSeries(messages, { sloppyTrailers: false });
  const series = doc.series[doc.series.length - 1];
  const originId = series.cover ?? series.patches[0].msgid;
  const ctx = makeReportContext({
    series, run: { tree: 'net-next', tree_reason: 'default tree', branch: null },
    outcomes: failingOutcomes(series.patches), origin: messages.find((m) => m.msgid === originId) ?? null,
  });
  return { messages, ctx };
}

describe('replies over real SMTP (loopback)', () => {
  const sink = useSmtpSink();
  let db: Db;
  beforeEach(() => {
    db = openDb(':memory:');
  });

  function settings(reply: Record<string, unknown>) {
    return parseSettings({ smtp: { url: sink.url, from: FROM }, reply });
  }

  it('delivers one threaded, plain-text, 72-column reply with the deterministic Message-ID', async () => {
    const { ctx } = await contextFromCorpus('base-cover-letter.mbox');
    const list = ctx.thread.to[0].email;
    const s = settings({ mode: 'send', lists: [list], cc_list: true });
    const q = queueReport(db, ctx, s);
    expect(q.row?.state).toBe('pending');
    const transport = createMailTransport(s);
    const summary = await sendOutbox(db, transport);
    transport.close();
    expect(summary.sent).toBe(1);
    expect(sink.messages).toHaveLength(1);
    const got = sink.messages[0];
    expect(got.mailFrom).toBe('bot@patchgate.example.org');
    expect(got.rcptTo).toEqual(['stephenfinucane@gmail.com', list]);

    const mail = await simpleParser(got.raw);
    const expectedId = replyMessageId(ctx.series.id, 1, 'failure', 'bot@patchgate.example.org');
    expect(mail.messageId).toBe(expectedId);
    expect(expectedId).toMatch(new RegExp(`^<patchgate\\.${ctx.series.id}\\.v1\\.[0-9a-f]{12}@patchgate\\.example\\.org>$`));
    expect(mail.inReplyTo).toBe(ctx.series.cover);
    expect(mail.references).toBe(ctx.series.cover);
    expect(mail.subject).toBe('Re: [PATCH 0/2] A sample series');
    expect(mail.headers.get('auto-submitted')).toBe('auto-generated');
    expect(mail.headers.get('x-patchgate-series')).toBe(ctx.series.id);
    expect(mail.headers.get('x-patchgate-version')).toBe('1');
    expect(mail.headers.get('x-patchgate-verdict')).toBe('failure');
    expect(mail.html).toBe(false);
    expect(mail.attachments).toHaveLength(0);
    const head = got.raw.toString().split('\r\n\r\n')[0];
    expect(head).toMatch(/^Content-Type: text\/plain; charset=utf-8$/m);
    expect(head).not.toMatch(/multipart/i);
    const body = got.raw.toString().slice(head.length + 4);
    for (const line of body.split('\r\n')) expect(line.length).toBeLessThanOrEqual(72);
    // bottom-posted: the quoted subject line first, the answer below it, nothing else quoted
    const text = mail.text!;
    expect(text.split('\n')[0]).toBe('> [PATCH 0/2] A sample series');
    expect(text.split('\n').filter((l) => l.startsWith('>'))).toHaveLength(1);
    expect(text).toContain("error: lib/lorem.c:12: expected ';' before '}' token");
    expect(replySummary(db, ctx.series.id, 1)).toEqual({ msgid: expectedId, to: ['stephenfinucane@gmail.com', list], sent: true });
  });

  it('re-ingested by patchgate, the reply lands as a comment on the right series (cover letter)', async () => {
    const { messages, ctx } = await contextFromCorpus('base-cover-letter.mbox');
    const s = settings({ mode: 'send', lists: [ctx.thread.to[0].email] });
    queueReport(db, ctx, s);
    const transport = createMailTransport(s);
    await sendOutbox(db, transport);
    transport.close();
    const reply = await parseMessage(sink.messages[0].raw);
    // the same (series, revision, verdict) from another store: the same Message-ID
    expect(reply.msgid).toBe(replyMessageId(ctx.series.id, 1, 'failure', 'bot@patchgate.example.org'));
    expect(reply.inReplyTo).toBe(ctx.series.cover);
    expect(reply.references).toEqual([ctx.series.cover]);
    expect(reply.headers['x-patchgate-verdict']).toBe('failure');
    expect(reply.headers['auto-submitted']).toBe('auto-generated');
    expect(reply.diff).toBeNull();
    const doc = assembleSeries([...messages, reply], { sloppyTrailers: false });
    expect(doc.series.map((x) => x.id)).toEqual([ctx.series.id]);
    expect(doc.series[0].patches).toHaveLength(2);
    expect(doc.comments).toContainEqual({ msgid: reply.msgid, parent: ctx.series.cover, series: ctx.series.id });
    // and patchgate never answers its own reply
    const again = makeReportContext({
      series: doc.series[0], run: null, outcomes: failingOutcomes(doc.series[0].patches), origin: reply,
    });
    expect(queueReport(db, { ...again, series: { ...again.series, id: 'another' } }, s).decision).toMatchObject({ action: 'skip' });
  });

  it('without a cover letter the reply threads to patch 1', async () => {
    const { messages, ctx } = await contextFromCorpus('base-no-cover-letter.mbox');
    const first = ctx.series.patches[0];
    const s = settings({ mode: 'send', lists: [ctx.thread.to[0].email] });
    queueReport(db, ctx, s);
    const transport = createMailTransport(s);
    await sendOutbox(db, transport);
    transport.close();
    const reply = await parseMessage(sink.messages[0].raw);
    expect(reply.inReplyTo).toBe(first.msgid);
    expect(reply.references).toEqual([first.msgid]);
    expect(reply.subject.raw).toBe(`Re: ${first.subject}`);
    const doc = assembleSeries([...messages, reply], { sloppyTrailers: false });
    expect(doc.comments).toContainEqual({ msgid: reply.msgid, parent: first.msgid, series: ctx.series.id });
  });

  it('a revision threaded to the previous one: References carry the whole chain', async () => {
    const { messages, ctx } = await contextFromCorpus('revision-threaded-to-cover.mbox');
    const origin = messages.find((m) => m.msgid === ctx.thread.msgid)!;
    expect(origin.references.length).toBeGreaterThan(0);
    const s = settings({ mode: 'send', lists: [ctx.thread.to[0].email] });
    queueReport(db, ctx, s);
    const transport = createMailTransport(s);
    await sendOutbox(db, transport);
    transport.close();
    const reply = await parseMessage(sink.messages[0].raw);
    expect(reply.inReplyTo).toBe(ctx.thread.msgid);
    expect(reply.references).toEqual([...origin.references, origin.msgid]);
    const doc = assembleSeries([...messages, reply], { sloppyTrailers: false });
    expect(doc.comments.find((c) => c.msgid === reply.msgid)).toMatchObject({ parent: ctx.thread.msgid, series: ctx.series.id });
  });

  it('dry-run never connects', async () => {
    const { ctx } = await contextFromCorpus('base-cover-letter.mbox');
    const before = sink.connections();
    for (const reply of [{}, { mode: 'dry-run', lists: [ctx.thread.to[0].email] }, { mode: 'send', lists: ['other@example.org'] }]) {
      const s = settings(reply);
      const q = queueReport(db, { ...ctx, series: { ...ctx.series, id: `${ctx.series.id}-${JSON.stringify(reply).length}` } }, s);
      expect(q.row?.state).toBe('dry-run');
      const transport = createMailTransport(s);
      expect((await sendOutbox(db, transport)).sent).toBe(0);
      transport.close();
    }
    expect(sink.connections()).toBe(before);
    expect(sink.messages).toHaveLength(0);
  });

  it('the rate limit and the one-reply-per-verdict rule hold end to end', async () => {
    const { ctx } = await contextFromCorpus('base-cover-letter.mbox');
    const list = ctx.thread.to[0].email;
    const s = settings({ mode: 'send', lists: [list], rate_limit: { per_list: 3, per_submitter: 10 } });
    for (let i = 0; i < 5; i++) queueReport(db, { ...ctx, series: { ...ctx.series, id: `s${i}` } }, s);
    // the same verdict again for s0: nothing new
    expect(queueReport(db, { ...ctx, series: { ...ctx.series, id: 's0' } }, s).row).toBeNull();
    const transport = createMailTransport(s);
    await sendOutbox(db, transport);
    await sendOutbox(db, transport);
    transport.close();
    expect(sink.messages).toHaveLength(3);
    const ids = await Promise.all(sink.messages.map(async (m) => (await simpleParser(m.raw)).headers.get('x-patchgate-series')));
    expect(ids).toEqual(['s0', 's1', 's2']);
  });

  it('mail from a bot is not answered, even with sending enabled', async () => {
    const { ctx } = await contextFromCorpus('base-cover-letter.mbox');
    const s = settings({ mode: 'send', lists: [ctx.thread.to[0].email] });
    const botCtx = { ...ctx, thread: { ...ctx.thread, from: { name: 'kernel test robot', email: 'lkp@intel.com' } } };
    expect(queueReport(db, botCtx, s).row?.state).toBe('skipped');
    const transport = createMailTransport(s);
    await sendOutbox(db, transport);
    transport.close();
    expect(sink.messages).toHaveLength(0);
  });
});
