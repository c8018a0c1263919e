// Crash tests: the report sender runs as its own process and is SIGKILLed at chosen points (and at random
// times while 50 reports go out); a new sender is started after each kill. No report may arrive twice.
// See src/report/outbox.ts for the states: a kill before the end of SMTP DATA resends (the server dropped
// the partial message); a kill after it never resends when no archive lookup is configured for the list (the
// default, tested here: at-most-once). With a lookup, see report-crash-archive.test.ts (exactly once).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { queueReport, type OutboxRow } from '../../src/report/outbox.js';
import { parseSettings } from '../../src/settings/load.js';
import { openDb, type Db } from '../../src/store/db.js';
import { contextFor } from '../unit/report/cases.js';
import { useSmtpSink, type SmtpSink } from '../unit/report/helpers/smtp-sink.js';
import { runSender } from '../unit/report/helpers/run-sender.js';

const LIST = 'netdev@vger.kernel.org';

async function arrivedIds(sink: SmtpSink): Promise<string[]> {
  return Promise.all(sink.messages.map(async (m) => (await simpleParser(m.raw)).messageId ?? ''));
}

describe('outbox crash safety (SIGKILL of the sender process)', () => {
  const sink = useSmtpSink();
  let dir: string;
  let dbPath: string;
  let db: Db;
  const settings = parseSettings({ smtp: { url: 'smtp://127.0.0.1:1', from: 'patchgate <bot@patchgate.example.org>' },
    reply: { mode: 'send', lists: [LIST], rate_limit: { per_list: 0, per_submitter: 0 } } });

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'patchgate-outbox-'));
    dbPath = path.join(dir, 'store.sqlite');
    db = openDb(dbPath);
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function queue(n: number): string[] {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const ctx = contextFor('build-failure');
      const row = queueReport(db, { ...ctx, series: { ...ctx.series, id: `crash-${i}` } }, settings).row!;
      ids.push(row.message_id);
    }
    return ids;
  }
  const states = () => (db.prepare('SELECT state FROM outbox ORDER BY id').pluck().all() as string[]);

  it('killed between the outbox write and the send: the restarted sender delivers it once', async () => {
    const [id] = queue(1);
    const first = await runSender(dbPath, sink.url, 'start');
    expect(first.signal).toBe('SIGKILL');
    expect(states()).toEqual(['pending']);
    const second = await runSender(dbPath, sink.url);
    expect(second.code).toBe(0);
    expect(await arrivedIds(sink)).toEqual([id]);
    expect(states()).toEqual(['sent']);
  });

  it('killed after claiming, before SMTP: requeued on restart and delivered once', async () => {
    const [id] = queue(1);
    expect((await runSender(dbPath, sink.url, 'afterClaim')).signal).toBe('SIGKILL');
    expect(states()).toEqual(['sending']);
    expect(sink.messages).toHaveLength(0);
    await runSender(dbPath, sink.url);
    expect(await arrivedIds(sink)).toEqual([id]);
    expect(states()).toEqual(['sent']);
  });

  it('killed after the SMTP server accepted, before the row was marked sent: never sent twice', async () => {
    const [id] = queue(1);
    expect((await runSender(dbPath, sink.url, 'afterAccept')).signal).toBe('SIGKILL');
    expect(await arrivedIds(sink)).toEqual([id]);
    expect(states()).toEqual(['committing']);
    const again = await runSender(dbPath, sink.url);
    expect(JSON.parse(again.stdout)).toMatchObject({ sent: 0, unknown: 1 });
    expect(await arrivedIds(sink)).toEqual([id]);
    expect(states()).toEqual(['unknown']);
  });

  it('killed with the message handed over but before the final ".": nothing arrives, and it is not resent (at-most-once)', async () => {
    queue(1);
    expect((await runSender(dbPath, sink.url, 'afterCommitMark')).signal).toBe('SIGKILL');
    await runSender(dbPath, sink.url);
    expect(sink.messages).toHaveLength(0);
    expect(states()).toEqual(['unknown']);
  });

  it('a kill in the middle of a batch: the rows before it stay sent, the rest go out once', async () => {
    const ids = queue(5);
    expect((await runSender(dbPath, sink.url, 'afterClaim:3')).signal).toBe('SIGKILL');
    expect(await arrivedIds(sink)).toEqual(ids.slice(0, 2));
    await runSender(dbPath, sink.url);
    expect(await arrivedIds(sink)).toEqual(ids);
    expect(states()).toEqual(['sent', 'sent', 'sent', 'sent', 'sent']);
  });

  it('50 reports, the sender SIGKILLed at random times until done: no report arrives twice', async () => {
    const ids = queue(50);
    let seed = 0x2545f491;
    const rand = () => {
      seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
      return (seed >>> 0) / 2 ** 32;
    };
    let kills = 0;
    for (let round = 0; round < 40; round++) {
      const r = await runSender(dbPath, sink.url, 'none', round < 25 ? 400 + Math.floor(rand() * 1200) : undefined);
      if (r.signal === 'SIGKILL') kills++;
      else if (r.code === 0) break;
    }
    const rows = db.prepare('SELECT message_id, state FROM outbox ORDER BY id').all() as Pick<OutboxRow, 'message_id' | 'state'>[];
    const arrived = await arrivedIds(sink);
    const counts = new Map<string, number>();
    for (const id of arrived) counts.set(id, (counts.get(id) ?? 0) + 1);
    // never twice
    expect([...counts.values()].every((c) => c === 1)).toBe(true);
    // everything reached a final state: sent, or unknown (killed inside the one-round-trip window)
    expect(rows.every((r) => r.state === 'sent' || r.state === 'unknown')).toBe(true);
    // every row recorded as sent arrived exactly once; nothing arrived that is not ours
    for (const r of rows) if (r.state === 'sent') expect(counts.get(r.message_id)).toBe(1);
    expect(arrived.every((id) => ids.includes(id))).toBe(true);
    const unknown = rows.filter((r) => r.state === 'unknown').length;
    // the at-most-once window is one SMTP round trip: it may swallow a report only when a kill lands in it
    expect(unknown).toBeLessThanOrEqual(kills);
    expect(arrived.length).toBeGreaterThanOrEqual(50 - unknown);
    expect(kills).toBeGreaterThan(0);
    console.info(`crash test: ${kills} kills, ${arrived.length} arrived once, ${unknown} unknown`);
  }, 240_000);
});
