// The main job's local SMTP sink and its dashboard pages: a real SMTP conversation on loopback
// (nodemailer, as the outbox sends), the message kept byte for byte, listed and shown at /mail.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailSink, type MailSink } from '../../src/demo/mail-sink.js';
import { listSinkMail, sinkRaws } from '../../src/demo/sink-store.js';
import { parseMessage } from '../../src/mail/parse.js';
import { openDb, type Db } from '../../src/store/db.js';
import { createWebServer } from '../../src/web/server.js';

describe('main job: local SMTP sink', () => {
  let dir: string;
  let db: Db;
  let sink: MailSink;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pg-sink-'));
    db = openDb(path.join(dir, 'store.sqlite'));
    sink = await startMailSink({ db, port: 0, maildir: path.join(dir, 'maildir') });
  });
  afterAll(async () => {
    await sink?.close();
    db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps what it receives and the dashboard lists and shows it', async () => {
    const [host, port] = sink.address.split(':');
    const transport = nodemailer.createTransport({ url: `smtp://${host}:${port}` });
    const info = await transport.sendMail({
      from: 'patchgate <patchgate@patchgate.test>',
      to: 'Alex Demo <alex.demo@example.org>',
      cc: 'netdev@vger.kernel.org',
      subject: 'Re: [PATCH net-next] tun: keep the frame\'s original length <in> tun_net_xmit()',
      text: 'WARNING: 1 new warning\n\ndrivers/net/tun.c:1078: unused variable \'orig_len\'\n',
      messageId: '<patchgate.x.v1.abc@patchgate.test>',
      inReplyTo: '<20261123111000.4102-1-alex.demo@example.org>',
      references: ['<20261123111000.4102-1-alex.demo@example.org>'],
      headers: { 'X-Patchgate-Verdict': 'warning', 'X-Patchgate-Series': '34b411daffb09b9d', 'Auto-Submitted': 'auto-generated' },
    });
    transport.close();
    expect(info.accepted).toEqual(['alex.demo@example.org', 'netdev@vger.kernel.org']);
    expect(sink.received()).toBe(1);

    const rows = listSinkMail(db);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      mail_from: 'patchgate@patchgate.test', rcpt_to: ['alex.demo@example.org', 'netdev@vger.kernel.org'],
      message_id: '<patchgate.x.v1.abc@patchgate.test>', in_reply_to: '<20261123111000.4102-1-alex.demo@example.org>', verdict: 'warning',
    });
    // the same bytes in the table and the maildir, and the parser reads the threading back
    const [raw] = sinkRaws(db);
    const files = readdirSync(path.join(dir, 'maildir', 'new'));
    expect(files).toHaveLength(1);
    expect(readFileSync(path.join(dir, 'maildir', 'new', files[0])).equals(raw)).toBe(true);
    const parsed = await parseMessage(raw);
    expect(parsed.inReplyTo).toBe('<20261123111000.4102-1-alex.demo@example.org>');
    expect(parsed.headers['x-patchgate-verdict']).toBe('warning');

    const app = await createWebServer({ db });
    try {
      const list = await app.inject({ method: 'GET', url: '/mail' });
      expect(list.statusCode).toBe(200);
      expect(list.body).toContain(`href="/mail/${rows[0].id}"`);
      expect(list.body).toContain('&lt;in&gt;'); // the subject, escaped
      expect(list.body).not.toContain('<in>');
      const one = await app.inject({ method: 'GET', url: `/mail/${rows[0].id}` });
      expect(one.statusCode).toBe(200);
      expect(one.body).toContain('unused variable');
      expect(one.body).toContain('href="/series/34b411daffb09b9d"');
      expect(one.body).toContain('&lt;20261123111000.4102-1-alex.demo@example.org&gt;');
      const rawPage = await app.inject({ method: 'GET', url: `/mail/${rows[0].id}?raw=1` });
      expect(Buffer.from(rawPage.rawPayload).equals(raw)).toBe(true);
      expect((await app.inject({ method: 'GET', url: '/mail/999' })).statusCode).toBe(404);
      const api = await app.inject({ method: 'GET', url: '/api/mail' });
      expect((api.json() as { mail: unknown[] }).mail).toHaveLength(1);
    } finally {
      await app.close();
    }
  });

  it('a store without a sink shows an empty page, not an error', async () => {
    const other = openDb(path.join(dir, 'other.sqlite'));
    const app = await createWebServer({ db: other });
    try {
      const r = await app.inject({ method: 'GET', url: '/mail' });
      expect(r.statusCode).toBe(200);
      expect(r.body).toContain('No mail received');
    } finally {
      await app.close();
      other.close();
    }
  });
});
