// The delivery check of rows whose SMTP outcome is unknown: looked up by Message-ID in the list's archive
// (public-inbox's `<inbox>/<msgid>/raw`, served here by a loopback HTTP server of that URL shape), sent
// again only when absent after the grace period; without a lookup configured, never resent.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import nodemailer, { type Transporter } from 'nodemailer';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  archiveRawUrl, checkUncertain, hasDueMail, lookupArchive, queueReport, recoverOutbox, sendOutbox, type OutboxRow,
} from '../../../src/report/outbox.js';
import { archiveLookup } from '../../../src/report/policy.js';
import { parseSettings } from '../../../src/settings/load.js';
import { openDb, type Db } from '../../../src/store/db.js';
import { contextFor } from './cases.js';

const LIST = 'netdev@vger.kernel.org';
const t0 = new Date('2026-03-01T12:00:00Z');
const at = (ms: number) => new Date(t0.getTime() + ms);

/** A loopback HTTP server answering public-inbox's raw-message URLs from the messages it holds. */
interface FakeInbox {
  url: string;
  archived: Map<string, string>;
  requests: string[];
  failWith: number | null;
  close(): Promise<void>;
}

async function startInbox(): Promise<FakeInbox> {
  const archived = new Map<string, string>();
  const requests: string[] = [];
  const inbox: FakeInbox = { url: '', archived, requests, failWith: null, close: async () => {} };
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    const m = /^\/netdev\/([^/]+)\/raw$/.exec(req.url ?? '');
    if (inbox.failWith) {
      res.writeHead(inbox.failWith).end('busy');
      return;
    }
    const raw = m ? archived.get(decodeURIComponent(m[1])) : undefined;
    if (!raw) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('404 Not Found\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`From mboxrd@z Thu Jan  1 00:00:00 1970\n${raw}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  inbox.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/netdev`;
  inbox.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return inbox;
}

/** A transport that reads the whole message (like SMTP) and keeps each one. */
function memoryTransport(sent: string[]) {
  const t = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  return {
    sendMail: async (m: Parameters<typeof t.sendMail>[0]) => {
      const info = await t.sendMail(m);
      sent.push((info.message as Buffer).toString());
      return info;
    },
    close: () => t.close(),
  } as unknown as Transporter;
}

/** A transport that reads the whole message, then fails as SMTP would: silence (no code) or a reply code. */
function failingAfterData(responseCode?: number) {
  return nodemailer.createTransport({
    name: 'fail-after-data', version: '1',
    send(mail: { message: { createReadStream(): NodeJS.ReadableStream } }, cb: (err: Error | null) => void) {
      const s = mail.message.createReadStream();
      s.on('data', () => {});
      s.on('error', (err: Error) => cb(err));
      s.on('end', () => cb(Object.assign(new Error(responseCode ? `${responseCode} refused` : 'Connection closed unexpectedly'), { responseCode, code: responseCode ? 'EMESSAGE' : 'ECONNECTION' })));
    },
  } as never);
}

describe('archive lookups before a resend', () => {
  let inbox: FakeInbox;
  let db: Db;
  beforeAll(async () => {
    inbox = await startInbox();
  });
  afterAll(async () => {
    await inbox.close();
  });
  beforeEach(() => {
    db = openDb(':memory:');
    inbox.archived.clear();
    inbox.requests.length = 0;
    inbox.failWith = null;
  });
  afterEach(() => db.close());

  const withArchive = () => parseSettings({
    smtp: { url: 'smtp://127.0.0.1:1', from: 'patchgate <bot@patchgate.example.org>' },
    reply: { mode: 'send', lists: [LIST], per_list: { [LIST]: { cc_list: true, archive: { url: `${inbox.url}/`, grace: '10m', recheck: '1m' } } } },
  });
  const withoutArchive = parseSettings({
    smtp: { url: 'smtp://127.0.0.1:1', from: 'patchgate <bot@patchgate.example.org>' }, reply: { mode: 'send', lists: [LIST] },
  });
  const rows = () => db.prepare('SELECT * FROM outbox ORDER BY id').all() as OutboxRow[];
  /** A queued row left `committing` by a dead sender, handed over at t0. */
  function deadCommitting(settings: ReturnType<typeof parseSettings>): OutboxRow {
    const row = queueReport(db, contextFor('build-failure'), settings, { now: t0 }).row!;
    db.prepare(`UPDATE outbox SET state = 'committing', claimed_by = ?, attempts = 1, result = json_set(result, '$.handed_over_at', ?) WHERE id = ?`)
      .run(`4000000@${os.hostname()}#dead`, t0.toISOString(), row.id);
    return row;
  }

  it('the lookup settings and the public-inbox URL shape', () => {
    expect(archiveLookup(withArchive().reply, 'NETDEV@vger.kernel.org')).toEqual({ url: inbox.url, graceMs: 600_000, recheckMs: 60_000 });
    expect(archiveLookup(withoutArchive.reply, LIST)).toBeNull();
    expect(archiveLookup(withArchive().reply, null)).toBeNull();
    expect(parseSettings({ reply: { per_list: { [LIST]: { archive: { url: 'https://lore.kernel.org/netdev' } } } } }).reply.per_list[LIST].archive)
      .toEqual({ url: 'https://lore.kernel.org/netdev', grace: '30m', recheck: '2m' });
    expect(() => parseSettings({ reply: { per_list: { [LIST]: { archive: { url: 'not a url' } } } } })).toThrow(/archive\.url/);
    expect(archiveRawUrl('https://lore.kernel.org/netdev/', '<patchgate.a+b/c@bot.example.org>'))
      .toBe('https://lore.kernel.org/netdev/patchgate.a%2Bb%2Fc@bot.example.org/raw');
  });

  it('no lookup configured: an uncertain row stays unknown, is never resent, and says why', async () => {
    const row = deadCommitting(withoutArchive);
    const sent: string[] = [];
    const s = await sendOutbox(db, memoryTransport(sent), { reply: withoutArchive.reply, now: () => at(3600_000) });
    expect(s.recovered).toEqual({ requeued: 0, unknown: 1 });
    expect(s.checked).toEqual({ delivered: 0, resend: 0, waiting: 0 });
    expect(sent).toHaveLength(0);
    expect(rows()[0]).toMatchObject({ id: row.id, state: 'unknown', not_before: null });
    expect(JSON.parse(rows()[0].result!).next).toMatch(/no archive lookup for netdev@vger\.kernel\.org.*at-most-once/);
    expect(hasDueMail(db, at(7200_000))).toBe(false);
    expect(inbox.requests).toHaveLength(0);
  });

  it('a reply that did not go to the list is never looked up in its archive (it cannot be there): at-most-once', async () => {
    const row = deadCommitting(withArchive());
    // sent to the submitter alone (the list's policy keeps the list off Cc)
    db.prepare('UPDATE outbox SET recipients = ? WHERE id = ?').run(JSON.stringify(['alex.dev@example.org']), row.id);
    const sent: string[] = [];
    const s = await sendOutbox(db, memoryTransport(sent), { reply: withArchive().reply, now: () => at(3600_000) });
    expect(s.recovered).toEqual({ requeued: 0, unknown: 1 });
    expect(s.checked).toEqual({ delivered: 0, resend: 0, waiting: 0 });
    expect(sent).toHaveLength(0);
    expect(rows()[0]).toMatchObject({ state: 'unknown', not_before: null });
    expect(JSON.parse(rows()[0].result!).next).toMatch(/or the list was not a recipient\): not resent \(at-most-once\)/);
    expect(inbox.requests).toHaveLength(0);
  });

  it('found in the archive: sent, with the evidence, and not sent again', async () => {
    const row = deadCommitting(withArchive());
    inbox.archived.set(row.message_id.slice(1, -1), `Message-ID: ${row.message_id}\nSubject: x\n\nbody\n`);
    const sent: string[] = [];
    const s = await sendOutbox(db, memoryTransport(sent), { reply: withArchive().reply, now: () => at(5000) });
    expect(s.recovered.unknown).toBe(1);
    expect(s.checked).toEqual({ delivered: 1, resend: 0, waiting: 0 });
    expect(sent).toHaveLength(0);
    const r = rows()[0];
    expect(r.state).toBe('sent');
    expect(r.sent_at).toBe(at(5000).toISOString());
    const result = JSON.parse(r.result!);
    expect(result).toMatchObject({ delivered: 'found in the list archive', status: 200, url: archiveRawUrl(inbox.url, row.message_id) });
    expect(result.smtp.handed_over_at).toBe(t0.toISOString());
  });

  it('absent: waits out the grace period (looking again), then resends once with the same Message-ID', async () => {
    const row = deadCommitting(withArchive());
    const sent: string[] = [];
    const transport = memoryTransport(sent);
    const s1 = await sendOutbox(db, transport, { reply: withArchive().reply, now: () => at(60_000) });
    expect(s1.checked).toEqual({ delivered: 0, resend: 0, waiting: 1 });
    expect(rows()[0]).toMatchObject({ state: 'unknown', not_before: at(120_000).toISOString() });
    expect(hasDueMail(db, at(119_000))).toBe(false);
    expect(hasDueMail(db, at(120_000))).toBe(true);
    // not due yet: no lookup at all
    await sendOutbox(db, transport, { reply: withArchive().reply, now: () => at(90_000) });
    expect(inbox.requests).toHaveLength(1);
    // the last recheck before the grace end is at the grace end
    await sendOutbox(db, transport, { reply: withArchive().reply, now: () => at(590_000) });
    expect(rows()[0].not_before).toBe(at(600_000).toISOString());
    expect(sent).toHaveLength(0);
    const s2 = await sendOutbox(db, transport, { reply: withArchive().reply, now: () => at(600_000) });
    expect(s2.checked).toEqual({ delivered: 0, resend: 1, waiting: 0 });
    expect(s2.sent).toBe(1);
    expect(sent).toHaveLength(1);
    expect(sent[0].replace(/\r\n[ \t]+/g, ' ')).toContain(`Message-ID: ${row.message_id}`);
    const r = rows()[0];
    expect(r).toMatchObject({ state: 'sent', attempts: 2 });
    expect(JSON.parse(r.result!).resent).toMatch(/^not in the list archive 600 s after the hand-over$/);
    await sendOutbox(db, transport, { reply: withArchive().reply, now: () => at(900_000) });
    expect(sent).toHaveLength(1);
  });

  it('a failed lookup is no answer: the row stays unknown and is looked up again, never resent on it', async () => {
    deadCommitting(withArchive());
    inbox.failWith = 503;
    const sent: string[] = [];
    const s = await sendOutbox(db, memoryTransport(sent), { reply: withArchive().reply, now: () => at(3600_000) });
    expect(s.checked).toEqual({ delivered: 0, resend: 0, waiting: 1 });
    expect(rows()[0]).toMatchObject({ state: 'unknown', not_before: at(3660_000).toISOString() });
    expect(JSON.parse(rows()[0].result!).last_lookup.error).toBe('HTTP 503');
    expect(sent).toHaveLength(0);
    // an unreachable archive likewise
    expect(await lookupArchive('http://127.0.0.1:1/netdev', '<x@y>')).toMatchObject({ found: null });
  });

  it('a 200 for another message is not evidence', async () => {
    inbox.archived.set('a@b', 'Message-ID: <other@b>\n\nx\n');
    expect(await lookupArchive(inbox.url, '<a@b>')).toMatchObject({ found: null });
    inbox.archived.set('c@d', 'From: x\nMessage-Id:\n <c@d>\n\nx\n');
    expect(await lookupArchive(inbox.url, '<c@d>')).toMatchObject({ found: true, status: 200 });
    expect(await lookupArchive(inbox.url, '<e@f>')).toMatchObject({ found: false, status: 404 });
  });

  it('in-process: silence after the hand-over is uncertain (looked up); a reply code is a refusal (not uncertain)', async () => {
    queueReport(db, contextFor('build-failure'), withArchive(), { now: t0 });
    const s1 = await sendOutbox(db, failingAfterData(), { reply: withArchive().reply, now: () => t0 });
    expect(s1.unknown).toBe(1);
    const r = rows()[0];
    expect(r).toMatchObject({ state: 'unknown', not_before: t0.toISOString() });
    expect(JSON.parse(r.result!)).toMatchObject({ handed_over_at: t0.toISOString(), code: 'ECONNECTION' });

    db.prepare("UPDATE outbox SET state = 'pending', not_before = NULL").run();
    const s2 = await sendOutbox(db, failingAfterData(550), { reply: withArchive().reply, now: () => t0 });
    expect(s2).toMatchObject({ unknown: 0, failed: 1 });
    expect(rows()[0].state).toBe('failed');
    db.prepare("UPDATE outbox SET state = 'pending', not_before = NULL").run();
    const s3 = await sendOutbox(db, failingAfterData(451), { reply: withArchive().reply, now: () => t0 });
    expect(s3).toMatchObject({ unknown: 0, retry: 1 });
    expect(rows()[0].state).toBe('pending');
  });

  it('recovery without reply settings keeps the old at-most-once behaviour', () => {
    deadCommitting(withArchive());
    expect(recoverOutbox(db)).toEqual({ requeued: 0, unknown: 1 });
    expect(rows()[0]).toMatchObject({ state: 'unknown', not_before: null });
  });

  it('checkUncertain leaves rows of other states alone', async () => {
    const row = queueReport(db, contextFor('build-failure'), withArchive(), { now: t0 }).row!;
    inbox.archived.set(row.message_id.slice(1, -1), `Message-ID: ${row.message_id}\n\nx\n`);
    expect(await checkUncertain(db, withArchive().reply, { now: () => at(1000) })).toEqual({ delivered: 0, resend: 0, waiting: 0 });
    expect(rows()[0].state).toBe('pending');
  });
});
