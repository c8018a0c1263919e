import os from 'node:os';
import nodemailer from 'nodemailer';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadReportContext } from '../../../src/report/context.js';
import { queueReport, recoverOutbox, replySummary, requeueOutbox, sendOutbox, type OutboxRow } from '../../../src/report/outbox.js';
import { parseSettings } from '../../../src/settings/load.js';
import { openDb, type Db } from '../../../src/store/db.js';
import { storeMessages } from '../../../src/store/messages.js';
import { saveSeriesDocument } from '../../../src/store/series.js';
import { cases, contextFor, origin, series } from './cases.js';

const LIST = 'netdev@vger.kernel.org';
const sendSettings = parseSettings({ smtp: { url: 'smtp://127.0.0.1:1', from: 'patchgate <bot@patchgate.example.org>' }, reply: { mode: 'send', lists: [LIST] } });
const now = new Date('2026-03-01T12:00:00Z');

function rows(db: Db): OutboxRow[] {
  return db.prepare('SELECT * FROM outbox ORDER BY id').all() as OutboxRow[];
}

/** A transport that reads the whole message (like SMTP) and keeps it. */
function memoryTransport() {
  return nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
}

describe('outbox', () => {
  let db: Db;
  beforeEach(() => {
    db = openDb(':memory:');
  });
  afterEach(() => db.close());

  it('the reply row is written with the verdict or not at all', () => {
    db.prepare("INSERT INTO runs (series_id, version, state) VALUES (?, 2, 'running')").run(series.id);
    const setVerdict = (v: string) => db.prepare('UPDATE runs SET verdict = ? WHERE series_id = ? AND version = 2').run(v, series.id);
    expect(() => db.transaction(() => {
      setVerdict('failure');
      queueReport(db, contextFor('build-failure'), sendSettings, { now });
      throw new Error('crash before commit');
    })()).toThrow('crash before commit');
    expect(rows(db)).toHaveLength(0);
    expect(db.prepare('SELECT verdict FROM runs').pluck().get()).toBeNull();
    db.transaction(() => {
      setVerdict('failure');
      queueReport(db, contextFor('build-failure'), sendSettings, { now });
    })();
    expect(rows(db).map((r) => [r.state, r.verdict, r.list])).toEqual([['pending', 'failure', LIST]]);
  });

  it('dry-run rows are never sent', async () => {
    const dry = parseSettings({ reply: { mode: 'dry-run', lists: [LIST] } });
    const r = queueReport(db, contextFor('conflict'), dry, { now });
    expect(r.row?.state).toBe('dry-run');
    const transport = memoryTransport();
    let calls = 0;
    const orig = transport.sendMail.bind(transport);
    transport.sendMail = ((...a: Parameters<typeof orig>) => { calls++; return orig(...a); }) as typeof transport.sendMail;
    const s = await sendOutbox(db, transport, { now: () => now });
    expect(s.sent).toBe(0);
    expect(calls).toBe(0);
    expect(rows(db)[0].state).toBe('dry-run');
    expect(replySummary(db, series.id, 2)).toEqual({ msgid: r.row!.message_id, to: ['jane@example.org'], sent: false });
  });

  it('one row per verdict per revision; a changed verdict gets its own', () => {
    const settings = parseSettings({ ...sendSettings, reply: { mode: 'send', lists: [LIST], on: 'always' } });
    expect(queueReport(db, contextFor('build-failure'), settings, { now }).row).not.toBeNull();
    expect(queueReport(db, contextFor('perf-regression'), settings, { now }).decision).toMatchObject({ action: 'none' });
    expect(queueReport(db, contextFor('success'), settings, { now }).row?.verdict).toBe('success');
    expect(rows(db).map((r) => r.verdict)).toEqual(['failure', 'success']);
  });

  it('the rate limit counts what the outbox already holds', () => {
    const settings = parseSettings({ ...sendSettings, reply: { mode: 'send', lists: [LIST], rate_limit: { per_list: 2, per_submitter: 10 } } });
    for (const id of ['a', 'b', 'c']) {
      queueReport(db, { ...contextFor('conflict'), series: { ...contextFor('conflict').series, id } }, settings, { now });
    }
    expect(rows(db).map((r) => r.state)).toEqual(['pending', 'pending', 'skipped']);
    expect(JSON.parse(rows(db)[2].result!).reason).toMatch(/rate limit/);
    // an hour later the window is free again
    queueReport(db, { ...contextFor('conflict'), series: { ...contextFor('conflict').series, id: 'd' } }, settings, { now: new Date(now.getTime() + 61 * 60_000) });
    expect(rows(db)[3].state).toBe('pending');
  });

  it('sends pending rows once, records the SMTP result, holds rows for quiet hours', async () => {
    const transport = memoryTransport();
    queueReport(db, contextFor('conflict'), sendSettings, { now });
    const s1 = await sendOutbox(db, transport, { now: () => now });
    expect(s1.sent).toBe(1);
    const row = rows(db)[0];
    expect(row.state).toBe('sent');
    expect(row.attempts).toBe(1);
    expect(JSON.parse(row.result!).envelope).toEqual({ from: 'bot@patchgate.example.org', to: ['jane@example.org'] });
    expect((await sendOutbox(db, transport, { now: () => now })).sent).toBe(0);
    expect(replySummary(db, series.id, 2)?.sent).toBe(true);

    const quiet = parseSettings({ ...sendSettings, reply: { mode: 'send', lists: [LIST], quiet_hours: { start: '11:00', end: '13:00' } } });
    queueReport(db, contextFor('success'), parseSettings({ ...quiet, reply: { ...quiet.reply, on: 'always' } }), { now });
    expect(rows(db)[1].not_before).toBe('2026-03-01T13:00:00.000Z');
    expect((await sendOutbox(db, transport, { now: () => now })).sent).toBe(0);
    expect((await sendOutbox(db, transport, { now: () => new Date('2026-03-01T13:00:01Z') })).sent).toBe(1);
  });

  it('a transient SMTP failure retries later; a permanent one fails', async () => {
    const fail = (responseCode?: number) => nodemailer.createTransport({
      name: 'fail', version: '1',
      send(_mail: unknown, cb: (err: Error | null) => void) { cb(Object.assign(new Error('nope'), { responseCode })); },
    });
    queueReport(db, contextFor('conflict'), sendSettings, { now });
    const s = await sendOutbox(db, fail(421), { now: () => now });
    expect(s.retry).toBe(1);
    expect(rows(db)[0]).toMatchObject({ state: 'pending', not_before: '2026-03-01T12:01:00.000Z', claimed_by: null });
    const s2 = await sendOutbox(db, fail(550), { now: () => new Date('2026-03-01T12:02:00Z') });
    expect(s2.failed).toBe(1);
    expect(rows(db)[0].state).toBe('failed');
    expect(requeueOutbox(db, rows(db)[0].id)).toBe(true);
    expect(rows(db)[0].state).toBe('pending');
  });

  it("recovery: a dead sender's 'sending' row is resent, its 'committing' row is not", () => {
    queueReport(db, contextFor('conflict'), sendSettings, { now });
    queueReport(db, { ...contextFor('conflict'), series: { ...contextFor('conflict').series, id: 'other' } }, sendSettings, { now });
    const host = os.hostname();
    db.prepare("UPDATE outbox SET state = 'sending', claimed_by = ? WHERE id = 1").run(`4000000@${host}#dead`);
    db.prepare("UPDATE outbox SET state = 'committing', claimed_by = ? WHERE id = 2").run(`4000000@${host}#dead`);
    expect(recoverOutbox(db)).toEqual({ requeued: 1, unknown: 1 });
    expect(rows(db).map((r) => r.state)).toEqual(['pending', 'unknown']);
  });

  it('builds the context from the store', () => {
    storeMessages(db, [{ raw: Buffer.from('x'), parsed: origin(), source: 'test' }]);
    saveSeriesDocument(db, { messages: [], series: [series], comments: [] }, new Map([[series.id, '2026-03-01T12:00:00Z']]));
    db.prepare("INSERT INTO runs (series_id, version, state, tree, tree_reason, branch) VALUES (?, 2, 'done', 'net-next', 'subject tag [net-next]', 'b')").run(series.id);
    const put = db.prepare('INSERT INTO outcomes (series_id, version, stage, status, summary, data) VALUES (?, 2, ?, ?, ?, ?)');
    for (const o of cases['build-failure']) put.run(series.id, o.stage, o.status, o.summary, JSON.stringify(o.data));
    const ctx = loadReportContext(db, series.id, 2)!;
    expect(ctx.verdict).toBe('failure');
    expect(ctx.thread.references).toEqual(origin().references);
    expect(ctx.thread.to.map((p) => p.email)).toEqual([LIST]);
    expect(ctx.reason).toBe('the build fails at patch 2/2');
    expect(loadReportContext(db, 'nope', 1)).toBeNull();
  });
});

describe('recordVerdict', () => {
  it('stores the verdict and queues the reply and patchwork checks in one transaction', async () => {
    const { recordVerdict } = await import('../../../src/report/verdict.js');
    const db = openDb(':memory:');
    storeMessages(db, [{ raw: Buffer.from('x'), parsed: origin(), source: 'test' }]);
    saveSeriesDocument(db, { messages: [], series: [series], comments: [] }, new Map([[series.id, '2026-03-01T12:00:00Z']]));
    db.prepare("INSERT INTO runs (series_id, version, state, tree, tree_reason) VALUES (?, 2, 'running', 'net-next', 'tag')").run(series.id);
    const put = db.prepare('INSERT INTO outcomes (series_id, version, stage, status, summary, data) VALUES (?, 2, ?, ?, ?, ?)');
    for (const o of cases.conflict) put.run(series.id, o.stage, o.status, o.summary, JSON.stringify(o.data));
    const settings = parseSettings({
      smtp: { from: 'patchgate <bot@patchgate.example.org>' }, reply: { mode: 'send', lists: [LIST] },
      sources: [{ name: 'pw', type: 'patchwork', url: 'https://patchwork.example.org/api/1.3/', project: 'netdevbpf' }],
    });
    expect(() => db.transaction(() => {
      recordVerdict(db, series.id, 2, settings, { now });
      throw new Error('crash');
    })()).toThrow('crash');
    expect(db.prepare('SELECT verdict FROM runs').pluck().get()).toBeNull();
    expect(rows(db)).toHaveLength(0);
    const r = recordVerdict(db, series.id, 2, settings, { now })!;
    expect(r.verdict).toBe('conflict');
    expect(r.patchworkChecks).toBe(2);
    expect(db.prepare('SELECT verdict FROM runs').pluck().get()).toBe('conflict');
    expect(rows(db).map((x) => [x.channel, x.state])).toEqual([['mail', 'pending'], ['patchwork', 'pending'], ['patchwork', 'pending']]);
    expect(recordVerdict(db, 'unknown-series', 1, settings)).toBeNull();
    db.close();
  });
});
