// A reply held in the outbox (dry-run: its list is not enabled for sending) approved by a maintainer, through
// the library call the dashboard uses and through `patchgate outbox approve`, then delivered once to a real
// SMTP server on loopback. Rows in other states, and approvals while mail cannot go out, are refused.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import YAML from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { approveHeldReply, configureOutbox, createMailTransport, queueReport, sendOutbox, type OutboxRow } from '../../src/report/outbox.js';
import { parseSettings } from '../../src/settings/load.js';
import type { Settings } from '../../src/settings/schema.js';
import { openDb, type Db } from '../../src/store/db.js';
import { runCli } from '../helpers/cli.js';
import { contextFor } from '../unit/report/cases.js';
import { useSmtpSink } from '../unit/report/helpers/smtp-sink.js';

const LIST = 'netdev@vger.kernel.org';

describe('approving a held reply', () => {
  const sink = useSmtpSink();
  let dir: string;
  let dbPath: string;
  let configPath: string;
  let db: Db;
  let settings: Settings;
  let n = 0;

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'patchgate-approve-'));
    dbPath = path.join(dir, 'store.sqlite');
    // sending on, but netdev is not among the lists enabled for it: its replies are held (dry-run)
    const config = {
      store: { path: dbPath },
      smtp: { url: sink.url, from: 'patchgate <bot@patchgate.example.org>' },
      reply: { mode: 'send', lists: ['kvm@vger.kernel.org'], rate_limit: { per_list: 0, per_submitter: 2 }, per_list: { [LIST]: { cc_list: true } } },
    };
    configPath = path.join(dir, 'patchgate.yaml');
    writeFileSync(configPath, YAML.stringify(config));
    settings = parseSettings(config);
    db = openDb(dbPath);
  });
  afterEach(() => {
    configureOutbox(null);
    process.exitCode = 0;
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function held(): OutboxRow {
    const ctx = contextFor('build-failure');
    const { row } = queueReport(db, { ...ctx, series: { ...ctx.series, id: `held-${++n}` } }, settings);
    return row!;
  }
  const rowOf = (id: number) => db.prepare('SELECT * FROM outbox WHERE id = ?').get(id) as OutboxRow;
  async function deliver() {
    const transport = createMailTransport(settings);
    try {
      return await sendOutbox(db, transport, { reply: settings.reply });
    } finally {
      transport.close();
    }
  }
  const arrived = () => Promise.all(sink.messages.map(async (m) => (await simpleParser(m.raw)).messageId));

  it('held → approved → delivered once to the SMTP server, with who approved and when recorded', async () => {
    const row = held();
    expect(row.state).toBe('dry-run');
    expect(row.list).toBe(LIST);
    expect(JSON.parse(row.result!).reason).toBe(`dry-run: ${LIST} is not in reply.lists`);
    // held rows are never sent on their own
    await deliver();
    expect(sink.messages).toHaveLength(0);

    const before = Date.now();
    expect(approveHeldReply(db, row.id, ' Jakub Kicinski <kuba@kernel.org> ', settings)).toEqual({ ok: true });
    const approved = rowOf(row.id);
    expect(approved).toMatchObject({ state: 'pending', approved_by: 'Jakub Kicinski <kuba@kernel.org>' });
    expect(Date.parse(approved.approved_at!)).toBeGreaterThanOrEqual(before - 1000);

    const s = await deliver();
    expect(s.sent).toBe(1);
    expect(await arrived()).toEqual([row.message_id]);
    expect(sink.messages[0].rcptTo).toEqual(JSON.parse(row.recipients));
    expect(sink.messages[0].rcptTo).toContain(LIST);
    const sent = rowOf(row.id);
    expect(sent.state).toBe('sent');
    expect(JSON.parse(sent.result!)).toMatchObject({ approved_by: 'Jakub Kicinski <kuba@kernel.org>', response: expect.stringMatching(/^250/) });
    // once: neither another pass nor another approval sends it again
    await deliver();
    expect(approveHeldReply(db, row.id, 'someone', settings)).toEqual({ ok: false, reason: `row ${row.id} is sent, not a held (dry-run) reply` });
    await deliver();
    expect(sink.messages).toHaveLength(1);
  });

  it('sent and skipped rows, unknown ids and an empty approver are refused', () => {
    const a = held();
    const b = held();
    const c = held(); // third reply to the same submitter within the hour: rate limit (per_submitter 2)
    expect(c.state).toBe('skipped');
    expect(approveHeldReply(db, c.id, 'kuba', settings)).toEqual({ ok: false, reason: `row ${c.id} is skipped, not a held (dry-run) reply` });
    db.prepare("UPDATE outbox SET state = 'sent' WHERE id = ?").run(b.id);
    expect(approveHeldReply(db, b.id, 'kuba', settings)).toEqual({ ok: false, reason: `row ${b.id} is sent, not a held (dry-run) reply` });
    expect(approveHeldReply(db, 9999, 'kuba', settings)).toEqual({ ok: false, reason: 'no outbox row 9999' });
    expect(approveHeldReply(db, a.id, '  ', settings)).toEqual({ ok: false, reason: 'an approval must name who approves' });
    expect(rowOf(a.id).state).toBe('dry-run');
    expect(rowOf(c.id).state).toBe('skipped');
  });

  it('refused while mail cannot go out: sending off, no SMTP transport, no settings in the process', () => {
    const row = held();
    const off = parseSettings({ ...settings, reply: { ...settings.reply, mode: 'dry-run' } });
    expect(approveHeldReply(db, row.id, 'kuba', off)).toEqual({ ok: false, reason: 'sending is off (reply.mode is dry-run)' });
    const noSmtp = parseSettings({ ...settings, smtp: { ...settings.smtp, url: 'file:///dev/null' } });
    expect(approveHeldReply(db, row.id, 'kuba', noSmtp)).toMatchObject({ ok: false, reason: expect.stringMatching(/^no SMTP transport is configured/) });
    // the dashboard's call (three arguments) uses the settings this process's sender registered
    configureOutbox(null);
    expect(approveHeldReply(db, row.id, 'kuba')).toEqual({ ok: false, reason: 'no SMTP transport is configured in this process' });
    expect(rowOf(row.id)).toMatchObject({ state: 'dry-run', approved_by: null });
    configureOutbox(settings);
    expect(approveHeldReply(db, row.id, 'kuba')).toEqual({ ok: true });
    expect(rowOf(row.id).state).toBe('pending');
  });

  it('the CLI: `outbox list --state dry-run`, `outbox approve ID --by WHO --send` delivers once; refusals exit 1', async () => {
    const a = held();
    const b = held();
    db.prepare("UPDATE outbox SET state = 'sent' WHERE id = ?").run(b.id);

    const list = await runCli(['outbox', 'list', '--config', configPath, '--state', 'dry-run', '--json']);
    expect(list.code).toBe(0);
    expect((JSON.parse(list.stdout) as OutboxRow[]).map((r) => [r.id, r.state, r.message_id])).toEqual([[a.id, 'dry-run', a.message_id]]);
    const text = await runCli(['outbox', 'list', '--config', configPath]);
    expect(text.stdout.trim().split('\n')).toHaveLength(2);
    expect((await runCli(['outbox', 'list', '--config', configPath, '--state', 'bogus'])).code).toBe(2);

    const ok = await runCli(['outbox', 'approve', String(a.id), '--by', 'kuba@kernel.org', '--config', configPath, '--send']);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe(`approved outbox row ${a.id} (by kuba@kernel.org): pending\noutbox row ${a.id}: sent\n`);
    expect(await arrived()).toEqual([a.message_id]);
    expect(rowOf(a.id)).toMatchObject({ state: 'sent', approved_by: 'kuba@kernel.org' });
    const listed = await runCli(['outbox', 'list', '--config', configPath, '--state', 'sent']);
    expect(listed.stdout).toContain(`approved by kuba@kernel.org`);

    const again = await runCli(['outbox', 'approve', String(a.id), '--by', 'kuba@kernel.org', '--config', configPath]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`patchgate: not approved: row ${a.id} is sent, not a held (dry-run) reply\n`);
    process.exitCode = 0;
    const noBy = await runCli(['outbox', 'approve', String(a.id), '--config', configPath]);
    expect(noBy.code).toBe(2);
    expect(sink.messages).toHaveLength(1);
  });
});
