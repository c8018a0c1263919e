import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { openDb, type Db } from '../../src/store/db.js';
import { assembleStored, ingestInputs } from '../../src/ingest/ingest.js';
import { readMailInputs } from '../../src/ingest/inputs.js';
import { createWebServer } from '../../src/web/server.js';
import { corpusDir } from '../helpers/archive.js';

const series = (f: string) => path.join(corpusDir, 'patchwork', 'series', f);

describe('dashboard and /api/ (contract: GET /api/series, GET /healthz)', () => {
  let dir: string;
  let db: Db;
  let app: FastifyInstance;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pg-web-'));
    db = openDb(path.join(dir, 'store.sqlite'));
    await ingestInputs(db, readMailInputs([series('revision-basic.mbox'), series('base-no-references.mbox'), series('bugs-mixed-versions.mbox')]));
    assembleStored(db, { sloppyTrailers: false });
    app = await createWebServer({ db, actionToken: 'sekrit' });
  });
  afterAll(async () => {
    await app.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('healthz answers 200', async () => {
    const r = await app.inject({ method: 'GET', url: '/healthz' });
    expect(r.statusCode).toBe(200);
  });

  it('/api/series lists the same series objects as the store, newest first', async () => {
    const r = await app.inject({ method: 'GET', url: '/api/series' });
    const body = r.json() as { series: { id: string; version: number; name: string | null }[] };
    const stored = db.prepare('SELECT id, first_date FROM series ORDER BY first_date DESC, id').all() as { id: string }[];
    expect(body.series.map((s) => s.id)).toEqual(stored.map((s) => s.id));
    expect(body.series.length).toBe(5);
  });

  it('?q= filters by name and ?state= by derived state', async () => {
    const q = (await app.inject({ method: 'GET', url: '/api/series?q=sample%20series' })).json() as { series: { name: string; version: number }[] };
    expect(q.series.map((s) => s.version).sort()).toEqual([1, 2]);
    for (const s of q.series) expect(s.name).toBe('A sample series');
    const superseded = (await app.inject({ method: 'GET', url: '/api/series?state=superseded' })).json() as { series: { version: number }[] };
    expect(superseded.series.map((s) => s.version)).toEqual([1]);
    const incomplete = (await app.inject({ method: 'GET', url: '/api/series?state=incomplete' })).json() as { series: { received_all: boolean }[] };
    expect(incomplete.series).toHaveLength(2);
    for (const s of incomplete.series) expect(s.received_all).toBe(false);
  });

  it('?tree= filters on the tree the pipeline chose', async () => {
    const all = (await app.inject({ method: 'GET', url: '/api/series' })).json() as { series: { id: string; version: number }[] };
    const pick = all.series[0];
    db.prepare("INSERT INTO runs (series_id, version, state, tree, tree_reason, verdict) VALUES (?, ?, 'done', 'net', 'marked for net', 'success')").run(pick.id, pick.version);
    const r = (await app.inject({ method: 'GET', url: '/api/series?tree=net' })).json() as { series: { id: string }[] };
    expect(r.series.map((s) => s.id)).toEqual([pick.id]);
    const passed = (await app.inject({ method: 'GET', url: '/api/series?state=passed' })).json() as { series: { id: string }[] };
    expect(passed.series.map((s) => s.id)).toEqual([pick.id]);
  });

  it('the queue page shows exactly the series the API returns, for the same filter', async () => {
    for (const query of ['', '?q=sample', '?state=incomplete', '?tree=net']) {
      const api = (await app.inject({ method: 'GET', url: `/api/series${query}` })).json() as { series: { id: string }[] };
      const html = (await app.inject({ method: 'GET', url: `/${query}` })).body;
      const rows = [...html.matchAll(/<tr data-series="([^"]+)"/g)].map((m) => m[1]);
      expect(rows).toEqual(api.series.map((s) => s.id));
    }
  });

  it('the series page shows its revisions and patches, escaped', async () => {
    const api = (await app.inject({ method: 'GET', url: '/api/series?q=sample' })).json() as { series: { id: string; version: number }[] };
    const v2 = api.series.find((s) => s.version === 2)!;
    const html = (await app.inject({ method: 'GET', url: `/series/${encodeURIComponent(v2.id)}` })).body;
    expect(html).toContain('<b>v2</b>');
    expect(html).toMatch(/<a href="\/series\/[^"]+">v1<\/a>/);
    expect(html).toContain('test: Add some lorem ipsum');
    expect(html).not.toMatch(/<script/i);
  });

  it('refuses an action without the maintainer token, accepts the right one', async () => {
    const api = (await app.inject({ method: 'GET', url: '/api/series' })).json() as { series: { id: string }[] };
    const url = `/api/series/${encodeURIComponent(api.series[0].id)}/retest`;
    expect((await app.inject({ method: 'POST', url })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url, headers: { authorization: 'Bearer wrong' } })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url, headers: { authorization: 'Bearer sekrit' } })).statusCode).toBe(503);
  });

  it('/metrics exposes series and message counts for Prometheus', async () => {
    const r = await app.inject({ method: 'GET', url: '/metrics' });
    expect(r.body).toMatch(/^patchgate_series 5$/m);
    expect(r.body).toMatch(/^patchgate_messages\{kind="patch"\} \d+$/m);
  });
});
