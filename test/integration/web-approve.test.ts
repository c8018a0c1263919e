// The dashboard's "approve sending a reply held in the outbox" action, on a store of real corpus mail: the
// series page offers it for a held (dry-run) mail reply; without the maintainer token it is refused and the
// row stays held; with it, src/report/outbox.ts approveHeldReply makes the row pending (or says why not).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assembleStored, ingestInputs } from '../../src/ingest/ingest.js';
import { readMailInputs } from '../../src/ingest/inputs.js';
import { configureOutbox } from '../../src/report/outbox.js';
import type { Series } from '../../src/series/types.js';
import { replySchema } from '../../src/settings/schema.js';
import { openDb, type Db } from '../../src/store/db.js';
import { listSeries } from '../../src/store/series.js';
import { createWebServer } from '../../src/web/server.js';
import { corpusDir } from '../helpers/archive.js';

const SENDING = { smtp: { url: 'smtp://127.0.0.1:2525', from: 'patchgate <patchgate@localhost>' }, reply: replySchema.parse({ mode: 'send' }) };

describe('approving a held reply on the dashboard', () => {
  let dir: string;
  let db: Db;
  let app: FastifyInstance;
  let s: Series;
  let other: Series;
  let held: number;
  let github: number;

  const rowOf = (id: number) => db.prepare('SELECT state, approved_by FROM outbox WHERE id = ?').get(id) as { state: string; approved_by: string | null };
  const form = (series: Series, fields: Record<string, string>) => app.inject({
    method: 'POST', url: `/series/${encodeURIComponent(series.id)}/approve`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(fields).toString(),
  });
  /** An outbox row as the report stage writes one: a held (dry-run) reply. */
  const insert = (series: Series, channel: string, state: string) => Number(db.prepare(`INSERT INTO outbox (message_id, series_id, version, channel, recipients, payload, state, verdict)
      VALUES (?, ?, ?, ?, '["netdev@vger.kernel.org"]', ?, ?, 'failure')`)
    .run(`<patchgate-${series.id}-v${series.version}-${channel}@localhost>`, series.id, series.version, channel, `Subject: Re: ${series.name}\n\nbuild failed\n`, state).lastInsertRowid);

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pg-web-approve-'));
    db = openDb(path.join(dir, 'store.sqlite'));
    await ingestInputs(db, readMailInputs([path.join(corpusDir, 'patchwork', 'series', 'revision-basic.mbox'), path.join(corpusDir, 'patchwork', 'series', 'base-no-references.mbox')]));
    assembleStored(db, { sloppyTrailers: false });
    const all = listSeries(db).filter((x) => x.patches.length > 0);
    [s, other] = [all[0], all[1]];
    held = insert(s, 'mail', 'dry-run');
    github = insert(s, 'github', 'dry-run');
    app = await createWebServer({ db, actionToken: 'sekrit' });
  });
  afterEach(() => configureOutbox(null));
  afterAll(async () => {
    await app.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the series page offers approval for the held mail reply only (a form that works without JavaScript)', async () => {
    const html = (await app.inject({ method: 'GET', url: `/series/${encodeURIComponent(s.id)}` })).body;
    const forms = [...html.matchAll(/<form method="post" action="([^"]+)" class="filters approve" data-reply="(\d+)">(.*?)<\/form>/g)];
    expect(forms.map((f) => [f[1], Number(f[2])])).toEqual([[`/series/${encodeURIComponent(s.id)}/approve`, held]]);
    expect(forms[0][3]).toContain(`<input type="hidden" name="reply" value="${held}">`);
    expect(forms[0][3]).toContain('name="token"');
    expect(forms[0][3]).toContain('<button type="submit">approve sending</button>');
  });

  it('without the token (or with a wrong one) it is refused and the reply stays held', async () => {
    configureOutbox(SENDING);
    for (const fields of [{ reply: String(held) }, { reply: String(held), token: 'wrong' }]) {
      const r = await form(s, fields);
      expect(r.statusCode).toBe(401);
      expect(r.body).toContain('a maintainer token is needed');
    }
    const api = await app.inject({ method: 'POST', url: `/api/series/${encodeURIComponent(s.id)}/approve`, payload: { reply: held } });
    expect(api.statusCode).toBe(401);
    expect(rowOf(held)).toEqual({ state: 'dry-run', approved_by: null });
  });

  it('a reply of another series, or a report that is not mail, is not approved from this page', async () => {
    configureOutbox(SENDING);
    const wrongSeries = await form(other, { reply: String(held), token: 'sekrit' });
    expect(wrongSeries.statusCode).toBe(404);
    const notMail = await form(s, { reply: String(github), token: 'sekrit' });
    expect(notMail.statusCode).toBe(409);
    expect(notMail.body).toContain('not mail');
    expect(rowOf(held).state).toBe('dry-run');
    expect(rowOf(github).state).toBe('dry-run');
  });

  it('with the token but no SMTP transport in this process, the reason is shown and nothing changes', async () => {
    const r = await form(s, { reply: String(held), token: 'sekrit' });
    expect(r.statusCode).toBe(409);
    expect(r.body).toContain('no SMTP transport is configured');
    expect(rowOf(held).state).toBe('dry-run');
  });

  it('with the token: the row becomes pending, approved by the dashboard; the button is gone; a second approval is refused', async () => {
    configureOutbox(SENDING);
    const r = await form(s, { reply: String(held), token: 'sekrit' });
    expect(r.statusCode).toBe(200);
    expect(r.body).toContain(`reply ${held} is queued for sending`);
    expect(rowOf(held)).toEqual({ state: 'pending', approved_by: 'a maintainer on the dashboard' });
    const html = (await app.inject({ method: 'GET', url: `/series/${encodeURIComponent(s.id)}` })).body;
    expect(html).toContain(`<details class="reply" data-state="pending" data-reply="${held}">`);
    expect(html).not.toContain(`data-reply="${held}"><input type="hidden"`);
    const again = await app.inject({ method: 'POST', url: `/api/series/${encodeURIComponent(s.id)}/approve`, headers: { authorization: 'Bearer sekrit' }, payload: { reply: held } });
    expect(again.statusCode).toBe(409);
    expect((again.json() as { error: string }).error).toContain('not a held (dry-run) reply');
  });
});
