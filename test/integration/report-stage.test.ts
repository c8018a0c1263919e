// The pipeline's report stage, called as the worker calls it, against a real SMTP server on loopback.
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logger } from '../../src/log.js';
import type { StageContext } from '../../src/queue/registry.js';
import { reportStage } from '../../src/report/stage.js';
import { parseSettings } from '../../src/settings/load.js';
import { openDb } from '../../src/store/db.js';
import { storeMessages } from '../../src/store/messages.js';
import { saveOutcome } from '../../src/store/runs.js';
import { saveSeriesDocument } from '../../src/store/series.js';
import { cases, origin, series } from '../unit/report/cases.js';
import { startSmtpSink, type SmtpSink } from '../unit/report/helpers/smtp-sink.js';

const LIST = 'netdev@vger.kernel.org';

function stageContext(reply: Record<string, unknown>, caseName: string, smtpUrl: string): StageContext {
  const db = openDb(':memory:');
  storeMessages(db, [{ raw: Buffer.from('x'), parsed: origin(), source: 'test' }]);
  saveSeriesDocument(db, { messages: [], series: [series], comments: [] }, new Map([[series.id, '2026-03-01T12:00:00Z']]));
  db.prepare("INSERT INTO runs (series_id, version, state) VALUES (?, 2, 'running')").run(series.id);
  for (const o of cases[caseName]) {
    if (o.stage.startsWith('gate:')) continue; // the gate stage row carries them
    const gates = cases[caseName].filter((g) => g.stage.startsWith('gate:')).map((g) => ({ ...(g.data as object), id: g.stage.slice(5), status: g.status, summary: g.summary }));
    saveOutcome(db, series.id, 2, o.stage, { status: o.status, summary: o.summary ?? '', data: o.stage === 'gate' ? { gates } : (o.data as Record<string, unknown>) });
  }
  const settings = parseSettings({ smtp: { url: smtpUrl, from: 'patchgate <bot@patchgate.example.org>' }, reply });
  return {
    stage: 'report', seriesId: series.id, version: 2, series, previous: {}, signal: new AbortController().signal, log: logger,
    updateProgress: async () => {}, saveState: async () => {}, resume: null, settings, db, workerId: 'test', options: { perf: true },
  };
}

describe('report stage', () => {
  let sink: SmtpSink;
  beforeAll(async () => {
    sink = await startSmtpSink();
  });
  afterAll(async () => {
    await sink.close();
  });

  it('records the verdict, sends the reply and reports it as `reply` for patchgate run', async () => {
    const ctx = stageContext({ mode: 'send', lists: [LIST] }, 'build-failure', sink.url);
    const out = await reportStage(ctx);
    expect(out.status).toBe('success');
    const reply = out.data.reply as { msgid: string; to: string[]; sent: boolean };
    expect(reply.sent).toBe(true);
    expect(reply.to).toEqual(['jane@example.org']);
    expect(sink.messages).toHaveLength(1);
    expect((await simpleParser(sink.messages[0].raw)).messageId).toBe(reply.msgid);
    expect(ctx.db.prepare('SELECT verdict FROM runs').pluck().get()).toBe('failure');
    // the stage running again (a retried job) sends nothing new
    const again = await reportStage(ctx);
    expect((again.data.reply as { sent: boolean }).sent).toBe(true);
    expect(sink.messages).toHaveLength(1);
  });

  it('dry-run: the reply is in the outbox, not sent, and SMTP is never reached', async () => {
    const before = sink.connections();
    const ctx = stageContext({}, 'conflict', sink.url);
    const out = await reportStage(ctx);
    expect(out.data.reply).toMatchObject({ sent: false });
    expect(out.summary).toMatch(/dry-run/);
    expect(sink.connections()).toBe(before);
  });

  it('a success under the default policy (failure only): no reply', async () => {
    const ctx = stageContext({ mode: 'send', lists: [LIST] }, 'success', sink.url);
    const out = await reportStage(ctx);
    expect(out.data.reply).toBeNull();
    expect(out.summary).toMatch(/no reply: policy: reply on failure only/);
  });

  it('an infrastructure failure is not blamed on the series', async () => {
    const ctx = stageContext({ mode: 'send', lists: [LIST] }, 'success', sink.url);
    saveOutcome(ctx.db, series.id, 2, 'build', { status: 'failure', summary: 'infrastructure: disk full', data: { infrastructure: true } });
    const n = sink.messages.length;
    const out = await reportStage(ctx);
    expect(out.data.verdict).toBe('failure');
    expect(out.data.reply).toBeNull();
    expect(out.summary).toMatch(/incomplete run/);
    expect(sink.messages).toHaveLength(n);
  });
});
