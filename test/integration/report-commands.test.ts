// Commands by mail on real mail: a series made with `git format-patch --cover-letter --thread` in a real
// repository, maintainers' replies written as mail clients write them (quoted text, signature), parsed,
// stored and assembled by patchgate's own engine; retest re-queues the revision in a real bullmq pipeline
// (real Redis), `tree X` sets the override tree selection honours.
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { splitMbox } from '../../src/ingest/mbox.js';
import { parseMessage } from '../../src/mail/parse.js';
import type { ParsedMessage } from '../../src/mail/types.js';
import { createPipeline, type Pipeline } from '../../src/queue/pipeline.js';
import { jobId } from '../../src/queue/names.js';
import { queueConfig } from '../../src/queue/config.js';
import { commandReplyMessageId, executeCommandActions, processCommands, skippedGates, treeOverride } from '../../src/report/commands.js';
import { createMailTransport, replySummary, sendOutbox } from '../../src/report/outbox.js';
import { assembleSeries } from '../../src/series/assemble.js';
import type { Series, SeriesDocument } from '../../src/series/types.js';
import { parseSettings } from '../../src/settings/load.js';
import type { Settings } from '../../src/settings/schema.js';
import { openDb, type Db } from '../../src/store/db.js';
import { storeMessages } from '../../src/store/messages.js';
import { finishRun, getRun } from '../../src/store/runs.js';
import { saveSeriesDocument } from '../../src/store/series.js';
import { parseTrees } from '../../src/trees/config.js';
import { selectionInputFromSeries, selectTree, type TreeProbe } from '../../src/trees/select.js';
import { cleanPrefix, ensureRedis, uniquePrefix } from '../helpers/redis.js';
import { startSmtpSink } from '../unit/report/helpers/smtp-sink.js';
import { commit, initRepo, sh, tempDir } from './trees-git.js';

const LIST = 'netdev@vger.kernel.org';
const MAINTAINER = 'Net Maintainer <maint@example.org>';
const TREES = [
  { name: 'net-next', url: 'https://git.example.org/net-next.git', branch: 'main', tokens: ['net-next'], lists: [LIST] },
  { name: 'net', url: 'https://git.example.org/net.git', branch: 'main', tokens: ['net'], lists: [LIST] },
];

/** The series as git format-patch writes it: cover letter and 2 patches, threaded shallow. */
async function formatSeries(): Promise<{ raws: Buffer[]; messages: ParsedMessage[] }> {
  const { dir, cleanup } = tempDir('patchgate-commands-');
  try {
    initRepo(dir);
    commit(dir, 'net: add the frobnicator', { 'drivers/net/frob.c': 'int frob(void)\n{\n\treturn 0;\n}\n' });
    commit(dir, 'net: frob: return the count\n\nSigned-off-by: Jane Dev <jane@example.org>', { 'drivers/net/frob.c': 'int frob(void)\n{\n\treturn 1;\n}\n' });
    commit(dir, 'net: frob: document it\n\nSigned-off-by: Jane Dev <jane@example.org>', { 'Documentation/frob.rst': 'Frob\n====\n' });
    const out = sh(dir, ['format-patch', '--stdout', '--cover-letter', '--thread=shallow', '--subject-prefix=PATCH net-next',
      `--to=${LIST}`, '--from=Jane Dev <jane@example.org>', '-2'])
      .replace('*** SUBJECT HERE ***', 'net: frob improvements').replace('*** BLURB HERE ***', 'Two small frob changes.');
    const raws = splitMbox(Buffer.from(`${out}\n`));
    return { raws, messages: await Promise.all(raws.map((r) => parseMessage(r))) };
  } finally {
    cleanup();
  }
}

let replySeq = 0;

/** A reply to MSG as a mail client writes it: attribution, quoted text, the answer, a signature. */
function replyTo(msg: ParsedMessage, opts: { from?: string; answer: string; headers?: string[]; quote?: string[] }): Buffer {
  replySeq++;
  const quoted = (opts.quote ?? msg.body.split('\n').slice(0, 4)).map((l) => `> ${l}`.trimEnd());
  return Buffer.from([
    `From: ${opts.from ?? MAINTAINER}`,
    `To: ${msg.from.name} <${msg.from.email}>`,
    `Cc: ${LIST}`,
    `Subject: Re: ${msg.subject.raw}`,
    'Date: Mon, 2 Mar 2026 10:00:00 +0000',
    `Message-ID: <reply-${replySeq}-${process.pid}@example.org>`,
    `In-Reply-To: ${msg.msgid}`,
    `References: ${[...msg.references, msg.msgid].join(' ')}`,
    'List-Id: <netdev.vger.kernel.org>',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    ...(opts.headers ?? []),
    '',
    `On Sun, 1 Mar 2026, ${msg.from.name} wrote:`,
    ...quoted,
    '',
    opts.answer,
    '',
    '-- ',
    'Net Maintainer',
    '',
  ].join('\n'));
}

interface World {
  db: Db;
  settings: Settings;
  series: Series;
  messages: ParsedMessage[];
  doc: SeriesDocument;
  byMsgid: Map<string, ParsedMessage>;
}

function settingsWith(commands: Record<string, unknown>, redis?: { url: string; prefix: string }, extra: Record<string, unknown> = {}): Settings {
  return parseSettings({
    smtp: { from: 'patchgate <bot@patchgate.example.org>' }, trees: TREES, commands, ...(redis ? { redis } : {}), ...extra,
  });
}

/** Stores raw mails as ingest does and assembles the series document. */
async function ingest(w: Pick<World, 'db' | 'messages'>, raws: Buffer[]): Promise<{ doc: SeriesDocument; byMsgid: Map<string, ParsedMessage> }> {
  const parsed = await Promise.all(raws.map((r) => parseMessage(r)));
  storeMessages(w.db, raws.map((raw, i) => ({ raw, parsed: parsed[i], source: 'test-list' })));
  w.messages.push(...parsed.filter((p) => !w.messages.some((m) => m.msgid === p.msgid)));
  const doc = assembleSeries(w.messages, { sloppyTrailers: false });
  saveSeriesDocument(w.db, doc, new Map(doc.series.map((s) => [s.id, '2026-03-01T12:00:00Z'])));
  return { doc, byMsgid: new Map(w.messages.map((m) => [m.msgid, m])) };
}

async function world(commands: Record<string, unknown>, redis?: { url: string; prefix: string }, extra: Record<string, unknown> = {}): Promise<World> {
  const { raws } = await formatSeries();
  const w = { db: openDb(':memory:'), messages: [] as ParsedMessage[] };
  const { doc, byMsgid } = await ingest(w, raws);
  expect(doc.series).toHaveLength(1);
  return { ...w, settings: settingsWith(commands, redis, extra), series: doc.series[0], doc, byMsgid };
}

async function reply(w: World, raw: Buffer) {
  const { doc, byMsgid } = await ingest(w, [raw]);
  w.doc = doc;
  w.byMsgid = byMsgid;
  return processCommands(w.db, doc, byMsgid, w.settings);
}

function rows(db: Db) {
  return db.prepare('SELECT msgid, line, series_id, sender, command, argument, state, reason FROM commands ORDER BY created_at, msgid, line').all() as
    { msgid: string; line: number; series_id: string | null; sender: string; command: string; argument: string | null; state: string; reason: string }[];
}

const noProbe: TreeProbe = { contains: async () => false, maintainers: async () => null };

describe('commands by mail', () => {
  it('the series is real format-patch output: a cover letter and two patches on net-next', async () => {
    const w = await world({});
    expect(w.series.cover).not.toBeNull();
    expect(w.series.patches.map((p) => p.name)).toEqual(['net: frob: return the count', 'net: frob: document it']);
    expect(w.series.tags).toContain('net-next');
  });

  it('a maintainer of the tree: unquoted commands are acted on, quoted ones ignored; re-ingesting does nothing', async () => {
    const w = await world({ trees: { 'net-next': ['maint@example.org'] } });
    const cover = w.byMsgid.get(w.series.cover!)!;
    const raw = replyTo(cover, {
      quote: ['Two small frob changes.', 'patchgate: superseded', '', 'patchgate: tree net'],
      answer: 'Looks sane, but the build box was broken yesterday.\n\npatchgate: retest\npatchgate: skip perf',
    });
    const first = await reply(w, raw);
    // the reply landed as a comment on the series
    expect(w.doc.comments.find((c) => c.parent === cover.msgid)?.series).toBe(w.series.id);
    expect(first.records.map((r) => [r.command, r.argument, r.state])).toEqual([['retest', null, 'accepted'], ['skip', 'perf', 'accepted']]);
    expect(first.actions.map((a) => a.type)).toEqual(['retest', 'skip']);
    expect(first.actions[0]).toMatchObject({ seriesId: w.series.id, version: w.series.version, sender: 'maint@example.org' });
    expect(skippedGates(w.db, w.series.id).get('perf')).toMatch(/^skipped as maint@example\.org asked/);
    // quoted commands (superseded, tree net) did nothing
    expect(treeOverride(w.db, w.series.id)).toBeNull();
    expect(rows(w.db).map((r) => r.command)).toEqual(['retest', 'skip']);

    // the same mail ingested again (a second source, a redelivery): nothing twice
    const again = await reply(w, raw);
    expect(again).toEqual({ actions: [], records: [] });
    await expect(processCommands(w.db, w.doc, w.byMsgid, w.settings)).resolves.toEqual({ actions: [], records: [] });
    expect(rows(w.db)).toHaveLength(2);
  });

  it('anyone else is refused with a logged and stored reason; unknown commands and trees are refused', async () => {
    const w = await world({ maintainers: ['boss@example.org'], trees: { 'net-next': ['maint@example.org'], net: ['other@example.org'] } });
    const patch1 = w.byMsgid.get(w.series.patches[0].msgid)!;
    const stranger = await reply(w, replyTo(patch1, { from: 'Drive By <drive@example.net>', answer: 'patchgate: retest' }));
    expect(stranger.actions).toEqual([]);
    expect(stranger.records).toMatchObject([{ state: 'refused', sender: 'drive@example.net',
      reason: 'drive@example.net is not a maintainer of net-next nor in commands.maintainers' }]);
    // a maintainer of another tree has no say over a net-next series
    const other = await reply(w, replyTo(patch1, { from: 'Other <other@example.org>', answer: 'patchgate: superseded' }));
    expect(other.records[0]).toMatchObject({ state: 'refused', reason: expect.stringMatching(/not a maintainer of net-next/) });
    // a global maintainer may; bad commands are refused one by one
    const boss = await reply(w, replyTo(patch1, { from: 'Boss <boss@example.org>', answer: 'patchgate: frobnicate\npatchgate: tree linux-next\nPatchgate: base 1234\npatchgate: base 0123abcd' }));
    expect(boss.records.map((r) => [r.command, r.state, r.reason])).toEqual([
      ['frobnicate', 'refused', 'unknown command frobnicate (known: retest, perf, tree, base, skip, superseded, head-run, bisect)'],
      ['tree', 'refused', 'unknown tree linux-next (configured: net-next, net)'],
      ['base', 'refused', 'base needs a commit id (7 to 40 hex digits)'],
      ['base', 'accepted', `${w.series.id} will be applied on 0123abcd`],
    ]);
    expect(rows(w.db).filter((r) => r.state === 'refused')).toHaveLength(5);
  });

  it('a forged From is refused: envelope, Sender and DMARC that contradict it', async () => {
    const w = await world({ trees: { 'net-next': ['maint@example.org'] } });
    const cover = w.byMsgid.get(w.series.cover!)!;
    const byEnvelope = await reply(w, replyTo(cover, { answer: 'patchgate: retest', headers: ['Return-Path: <mallory@evil.example>'] }));
    expect(byEnvelope.records[0]).toMatchObject({ state: 'refused', reason: 'sender not verified: envelope sender mallory@evil.example does not match From maint@example.org' });
    const bySender = await reply(w, replyTo(cover, { answer: 'patchgate: retest', headers: ['Sender: mallory@evil.example'] }));
    expect(bySender.records[0].reason).toBe('sender not verified: Sender mallory@evil.example does not match From maint@example.org');
    const byDmarc = await reply(w, replyTo(cover, { answer: 'patchgate: retest', headers: ['Authentication-Results: mx.example.org; dkim=none; dmarc=fail (p=REJECT) header.from=example.org'] }));
    expect(byDmarc.records[0].reason).toBe('sender not verified: Authentication-Results: dmarc=fail for example.org');
    // the list's own envelope (vger's bounce address) is how list mail arrives: accepted
    const viaList = await reply(w, replyTo(cover, { answer: 'patchgate: retest', headers: ['Return-Path: <netdev+bounces-1234-maint=example.org@vger.kernel.org>'] }));
    expect(viaList.records[0]).toMatchObject({ state: 'accepted' });
    expect(viaList.actions).toHaveLength(1);
  });

  it('never acts on patchgate\'s own mail, even from a maintainer address or with an unquoted command', async () => {
    const w = await world({ maintainers: ['bot@patchgate.example.org', 'maint@example.org'] });
    const cover = w.byMsgid.get(w.series.cover!)!;
    const own = await reply(w, replyTo(cover, { from: 'patchgate <bot@patchgate.example.org>', answer: 'patchgate: retest' }));
    const marked = await reply(w, replyTo(cover, { answer: 'patchgate: retest', headers: ['X-Patchgate-Series: x', 'Auto-Submitted: auto-generated'] }));
    expect(own).toEqual({ actions: [], records: [] });
    expect(marked).toEqual({ actions: [], records: [] });
    expect(rows(w.db)).toEqual([]);
  });

  it('`tree net` stores an override that tree selection honours (over the subject\'s net-next)', async () => {
    const w = await world({ trees: { 'net-next': ['maint@example.org'] } });
    const trees = parseTrees({ trees: TREES }, 'test');
    const input = () => selectionInputFromSeries(w.series, [...w.byMsgid.values()]);
    const before = await selectTree({ ...input(), override: treeOverride(w.db, w.series.id) }, trees, noProbe);
    expect(before).toMatchObject({ name: 'net-next', reason: 'marked for net-next' });
    const cover = w.byMsgid.get(w.series.cover!)!;
    const res = await reply(w, replyTo(cover, { answer: 'This is a fix, take it through net.\n\npatchgate: tree net' }));
    expect(res.actions).toMatchObject([{ type: 'tree', tree: 'net', seriesId: w.series.id }]);
    const after = await selectTree({ ...input(), override: treeOverride(w.db, w.series.id) }, trees, noProbe);
    expect(after.name).toBe('net');
    expect(after.candidates).toEqual([{ name: 'net', signal: 'override', reason: expect.stringMatching(/^net as maint@example\.org asked \(<reply-/) }]);
    // now on net, the net-next maintainer still owns it (the run's tree is not known yet: the override counts)
    expect(treeOverride(w.db, w.series.id)?.tree).toBe('net');
  });

  it('each command message is answered once, threaded, over real SMTP; the answer is never read as a command', async () => {
    const sink = await startSmtpSink();
    try {
      const w = await world({ trees: { 'net-next': ['maint@example.org'] } }, undefined,
        { smtp: { url: sink.url, from: 'patchgate <bot@patchgate.example.org>' }, reply: { mode: 'send', lists: [LIST] } });
      const cover = w.byMsgid.get(w.series.cover!)!;
      const raw = replyTo(cover, { answer: 'patchgate: retest\npatchgate: tree linux-next' });
      const res = await reply(w, raw);
      const cmd = w.messages[w.messages.length - 1];
      expect(res.records.map((r) => r.state)).toEqual(['accepted', 'refused']);
      const transport = createMailTransport(w.settings);
      expect((await sendOutbox(w.db, transport)).sent).toBe(1);
      transport.close();
      expect(sink.messages).toHaveLength(1);
      expect(sink.messages[0].rcptTo).toEqual(['maint@example.org']);
      const answer = await parseMessage(sink.messages[0].raw);
      expect(answer.msgid).toBe(commandReplyMessageId(cmd.msgid, 'bot@patchgate.example.org'));
      expect(answer.inReplyTo).toBe(cmd.msgid);
      expect(answer.references).toEqual([cover.msgid, cmd.msgid]);
      expect(answer.subject.raw).toBe(`Re: ${cover.subject.raw}`);
      expect(answer.headers['auto-submitted']).toBe('auto-replied');
      expect(answer.body).toContain(`> patchgate: retest\n\nAccepted: ${w.series.id} v${w.series.version} queued for a new run`);
      expect(answer.body).toContain('> patchgate: tree linux-next\n\nRefused: unknown tree linux-next (configured: net-next, net)');
      for (const line of sink.messages[0].raw.toString().split('\r\n')) expect(line.length).toBeLessThanOrEqual(78);
      // the series' report reply is not confused with the answer (patchgate run's `reply` field)
      expect(replySummary(w.db, w.series.id, w.series.version)).toBeNull();

      // the answer, ingested back from the list: a comment on the series, its quoted and unquoted text ignored
      const back = await reply(w, sink.messages[0].raw);
      expect(w.doc.comments.find((c) => c.msgid === answer.msgid)?.series).toBe(w.series.id);
      expect(back).toEqual({ actions: [], records: [] });
      // the same command mail again: no second answer
      await reply(w, raw);
      const t2 = createMailTransport(w.settings);
      expect((await sendOutbox(w.db, t2)).sent).toBe(0);
      t2.close();
      expect(sink.messages).toHaveLength(1);

      // a forged command gets no answer (no backscatter to the address it pretends to be)
      await reply(w, replyTo(cover, { answer: 'patchgate: retest', headers: ['Return-Path: <mallory@evil.example>'] }));
      expect(w.db.prepare(`SELECT count(*) FROM outbox WHERE channel = 'mail'`).pluck().get()).toBe(1);
    } finally {
      await sink.close();
    }
  });

  it('answers are dry-run by default, like reports', async () => {
    const w = await world({ maintainers: ['maint@example.org'] });
    await reply(w, replyTo(w.byMsgid.get(w.series.cover!)!, { answer: 'patchgate: retest' }));
    expect(w.db.prepare(`SELECT state, recipients FROM outbox WHERE channel = 'mail'`).all()).toEqual([{ state: 'dry-run', recipients: '["maint@example.org"]' }]);
  });

  describe('through the pipeline (real Redis)', () => {
    let url: string;
    let prefix: string;
    let pipeline: Pipeline;
    let w: World;
    beforeAll(async () => {
      url = await ensureRedis();
    });
    beforeEach(async () => {
      prefix = uniquePrefix('commands');
      w = await world({ trees: { 'net-next': ['maint@example.org'] } }, { url, prefix });
      pipeline = createPipeline({ config: queueConfig(w.settings), db: w.db });
    });
    afterEach(async () => {
      await pipeline.close();
      await cleanPrefix(url, prefix);
    });

    async function finishFlow(): Promise<void> {
      // the flow ran to its verdict and its jobs were removed on completion
      expect(await pipeline.enqueue(w.series.id, w.series.version)).toBe('added');
      await pipeline.queues.report.remove(jobId('report', w.series.id, w.series.version), { removeChildren: true });
      finishRun(w.db, w.series.id, w.series.version, 'failure');
      expect(await pipeline.enqueue(w.series.id, w.series.version)).toBe('done');
    }

    it('retest re-queues a finished revision: its flow is back in the queues', async () => {
      await finishFlow();
      const cover = w.byMsgid.get(w.series.cover!)!;
      const res = await reply(w, replyTo(cover, { answer: 'patchgate: retest' }));
      const ran = await executeCommandActions(w.db, res.actions, pipeline);
      expect(ran).toEqual([{ seriesId: w.series.id, version: w.series.version, result: 'added' }]);
      expect(getRun(w.db, w.series.id, w.series.version)).toMatchObject({ state: 'queued', verdict: null });
      expect(await pipeline.queues.apply.getJobState(jobId('apply', w.series.id, w.series.version))).toBe('waiting');
      expect(await pipeline.queues.report.getJobState(jobId('report', w.series.id, w.series.version))).toBe('waiting-children');
      // the same reply again: no second flow, nothing recorded twice
      const again = await reply(w, replyTo(cover, { answer: 'patchgate: retest' }));
      expect(again.actions).toHaveLength(1); // a new message (new Message-ID) is a new command...
      expect(await executeCommandActions(w.db, again.actions, pipeline)).toEqual([{ seriesId: w.series.id, version: w.series.version, result: 'exists' }]);
    });

    it('superseded cancels the unfinished run', async () => {
      expect(await pipeline.enqueue(w.series.id, w.series.version)).toBe('added');
      const cover = w.byMsgid.get(w.series.cover!)!;
      const res = await reply(w, replyTo(cover, { answer: 'A v2 is coming.\npatchgate: superseded' }));
      expect(await executeCommandActions(w.db, res.actions, pipeline)).toEqual([{ seriesId: w.series.id, version: w.series.version, result: 'cancelled' }]);
      expect(getRun(w.db, w.series.id, w.series.version)).toMatchObject({ state: 'cancelled', detail: expect.stringMatching(/^superseded, as maint@example\.org said/) });
      expect(await pipeline.queues.apply.getJob(jobId('apply', w.series.id, w.series.version))).toBeUndefined();
    });
  });
});
