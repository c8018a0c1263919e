import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { openDb, type Db } from '../../src/store/db.js';
import { assembleStored, ingestInputs } from '../../src/ingest/ingest.js';
import { readMailInputs } from '../../src/ingest/inputs.js';
import { finishRun, getOutcome, markRunning, queueRun, resetRun, saveOutcome } from '../../src/store/runs.js';
import { listSeries } from '../../src/store/series.js';
import type { Series } from '../../src/series/types.js';
import { compileProjects } from '../../src/web/projects.js';
import { createWebServer } from '../../src/web/server.js';
import { Queue } from 'bullmq';
import { connectionOptions, queueSettingsSchema } from '../../src/queue/config.js';
import { RESULTS_QUEUE, recordJobId, STAGES } from '../../src/queue/names.js';
import { startRecorder, type Recorder } from '../../src/queue/recorder.js';
import { queueSource } from '../../src/web/queues.js';
import { corpusDir } from '../helpers/archive.js';
import { cleanPrefix, ensureRedis, uniquePrefix } from '../helpers/redis.js';

const series = (f: string) => path.join(corpusDir, 'patchwork', 'series', f);

interface ApiBody {
  series: Series[];
  total: number;
  queue: { id: string; state: string; apply: string | null; build: string | null; gate: string | null; acks: number; reviews: number }[];
}

describe('dashboard and /api/ (contract: GET /api/series, GET /healthz)', () => {
  let dir: string;
  let db: Db;
  let app: FastifyInstance;
  const api = async (q = '') => (await app.inject({ method: 'GET', url: `/api/series${q}` })).json() as ApiBody;
  const rowsOf = (html: string) => [...html.matchAll(/<tr data-series="([^"]+)" data-state="([^"]+)"/g)].map((m) => ({ id: m[1], state: m[2] }));

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pg-web-'));
    db = openDb(path.join(dir, 'store.sqlite'));
    await ingestInputs(db, readMailInputs([series('revision-basic.mbox'), series('base-no-references.mbox'), series('bugs-mixed-versions.mbox')]));
    assembleStored(db, { sloppyTrailers: false });
    const projects = compileProjects([
      { id: 'ieee802154', title: 'ieee802154 clean-ups', paths: ['net/ieee802154/**'], subjects: ['ieee802154'], metrics: ['tcp_rr_cost_per_trans'] },
      { id: 'nothing', title: 'matches nothing', paths: ['drivers/vhost/**'], subjects: [], metrics: [] },
    ]);
    app = await createWebServer({ db, actionToken: 'sekrit', projects });
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

  it('/api/series lists the same series objects as the store (export), newest first', async () => {
    const body = await api();
    const stored = listSeries(db);
    expect(stored.length).toBeGreaterThanOrEqual(4);
    expect(body.total).toBe(stored.length);
    expect(new Set(body.series.map((s) => s.id))).toEqual(new Set(stored.map((s) => s.id)));
    for (const s of body.series) expect(s).toEqual(stored.find((x) => x.id === s.id));
    const dates = body.queue.map((q) => db.prepare('SELECT first_date FROM series WHERE id = ?').pluck().get(q.id) as string);
    expect([...dates].sort().reverse()).toEqual(dates);
  });

  it('?q= filters by name; superseded and incomplete states follow the series documents', async () => {
    const q = await api('?q=sample%20series');
    expect(q.series.length).toBeGreaterThanOrEqual(2);
    for (const s of q.series) expect(s.name).toBe('A sample series');
    const all = listSeries(db);
    const replaced = new Set(all.map((s) => s.previous).filter(Boolean));
    const superseded = await api('?state=superseded');
    expect(new Set(superseded.series.map((s) => s.id))).toEqual(replaced);
    expect(replaced.size).toBeGreaterThan(0);
    const incomplete = await api('?state=incomplete');
    expect(new Set(incomplete.series.map((s) => s.id))).toEqual(new Set(all.filter((s) => !s.received_all && !replaced.has(s.id)).map((s) => s.id)));
  });

  it('the state follows the pipeline through its own store writes (queued → building → testing → needs-ack/passed/failed)', async () => {
    const target = (await api('?state=new')).series.find((s) => s.patches.length > 0)!;
    expect(target).toBeTruthy();
    const stateOf = async () => (await api(`?q=${encodeURIComponent(target.id)}`)).queue.find((q) => q.id === target.id)!.state;
    const fresh = () => db.prepare('SELECT state FROM series_queue_v WHERE series_id = ?').pluck().get(target.id);
    queueRun(db, target.id, target.version, 'report');
    expect(await stateOf()).toBe('queued');
    markRunning(db, target.id, target.version);
    expect(await stateOf()).toBe('queued');
    saveOutcome(db, target.id, target.version, 'apply', { status: 'success', summary: 'applied to net-next', data: { tree: { name: 'net-next', reason: 'net-next in the subject' }, branch: 'b', apply: [] } });
    expect(await stateOf()).toBe('building');
    saveOutcome(db, target.id, target.version, 'build', { status: 'warning', summary: '1 new warning', data: { build: [] } });
    expect(await stateOf()).toBe('testing');
    finishRun(db, target.id, target.version, 'success');
    const acked = target.patches.every((p) => p.trailers.some((t) => /^(acked|reviewed)-by$/i.test(t.name)));
    expect(await stateOf()).toBe(acked ? 'passed' : 'needs-ack');
    expect(await stateOf()).toBe(fresh());
    const row = (await api(`?q=${encodeURIComponent(target.id)}`)).queue[0];
    expect([row.apply, row.build, row.gate]).toEqual(['success', 'warning', null]);
    queueRun(db, target.id, target.version, 'report');
    markRunning(db, target.id, target.version);
    finishRun(db, target.id, target.version, 'conflict');
    expect(await stateOf()).toBe('failed');
    resetRun(db, target.id, target.version);
    expect(await stateOf()).toBe('new');
    queueRun(db, target.id, target.version, 'apply');
    markRunning(db, target.id, target.version);
    finishRun(db, target.id, target.version, 'success');
    expect(await stateOf()).toBe('applied');
    resetRun(db, target.id, target.version);
    // every maintained row equals the state computed from scratch
    const drift = db.prepare('SELECT q.series_id FROM series_queue q JOIN series_queue_v v USING (series_id) WHERE q.state != v.state OR q.acks != v.acks').all();
    expect(drift).toEqual([]);
  });

  it('?tree= filters on the tree the pipeline chose', async () => {
    const all = await api();
    const pick = all.series[0];
    db.prepare("INSERT INTO runs (series_id, version, state, tree, tree_reason, verdict) VALUES (?, ?, 'done', 'net', 'marked for net', 'success')").run(pick.id, pick.version);
    const r = await api('?tree=net');
    expect(r.series.map((s) => s.id)).toEqual([pick.id]);
    const expected = pick.patches.every((p) => p.trailers.some((t) => /^(acked|reviewed)-by$/i.test(t.name))) ? 'passed' : 'needs-ack';
    expect((await api(`?state=${expected}`)).series.map((s) => s.id)).toContain(pick.id);
  });

  it('the queue page shows exactly the series, states and verdicts the API returns, for the same filter, sort and page', async () => {
    for (const query of ['', '?q=sample', '?state=incomplete', '?tree=net', '?sort=name', '?sort=state&order=desc', '?sort=date&order=asc',
      '?limit=2', '?limit=2&offset=2', '?project=ieee802154', '?list=netdev.vger.kernel.org', '?age=>30d', '?age=7d']) {
      const body = await api(query);
      const html = (await app.inject({ method: 'GET', url: `/${query}` })).body;
      expect(rowsOf(html), query).toEqual(body.queue.map((q) => ({ id: q.id, state: q.state })));
      expect(html).toContain(`<span id="total">${body.total}</span>`);
      for (const q of body.queue) {
        const tr = html.slice(html.indexOf(`<tr data-series="${q.id}"`));
        const cell = tr.slice(tr.indexOf('class="verdicts"'), tr.indexOf('</td>', tr.indexOf('class="verdicts"')));
        expect([...cell.matchAll(/data-status="([^"]*)"/g)].map((m) => m[1] || null), query).toEqual([q.apply, q.build, q.gate]);
      }
    }
  });

  it('sorts by name and by state, pages with links that keep the filters', async () => {
    const byName = await api('?sort=name');
    // the name shown: the series name, else patch 1's
    const names = byName.series.map((s) => (s.name ?? [...s.patches].sort((a, b) => a.number - b.number)[0]?.name ?? '').toLowerCase());
    expect(names).toEqual([...names].sort());
    const desc = await api('?sort=name&order=desc');
    expect(desc.series.map((s) => s.id)).not.toEqual(byName.series.map((s) => s.id));
    const page1 = (await app.inject({ method: 'GET', url: '/?limit=2&sort=name' })).body;
    expect(page1).toContain('href="/?sort=name&amp;offset=2"');
    expect((await api('?age=>30d')).total).toBe(byName.total);
    expect((await api('?age=1d')).total).toBe(0);
  });

  it('filters by project (config/projects.yaml patterns) and by submitter', async () => {
    const p = await api('?project=ieee802154');
    expect(p.series.map((s) => s.name)).toEqual(['net: ieee802154: remove explicit set skb->sk']);
    expect((await api('?project=nothing')).total).toBe(0);
    const sub = p.series[0].submitter.email;
    const bySub = await api(`?submitter=${encodeURIComponent(sub.toUpperCase())}`);
    expect(bySub.series.every((s) => s.submitter.email.toLowerCase() === sub.toLowerCase())).toBe(true);
    expect(bySub.total).toBeGreaterThan(0);
  });

  it('state filtering and paging run on indexes, not on a scan of every series document', () => {
    const plan = (sql: string) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail).join('\n');
    const p = plan(`SELECT s.doc FROM series_queue q JOIN series s ON s.id = q.series_id LEFT JOIN runs r ON r.series_id = s.id AND r.version = s.version
      WHERE q.state = 'new' ORDER BY q.first_date DESC, q.series_id DESC LIMIT 100`);
    expect(p).toMatch(/series_queue_state/);
    expect(p).not.toMatch(/TEMP B-TREE/);
  });

  it('the series page shows its revisions, what changed since the previous one, and escapes everything', async () => {
    const revs = (await api('?q=sample')).series.sort((a, b) => a.version - b.version);
    const v2 = revs.find((s) => s.version === 2 && s.previous)!;
    const html = (await app.inject({ method: 'GET', url: `/series/${encodeURIComponent(v2.id)}` })).body;
    expect(html).toContain('<b>v2</b>');
    expect(html).toMatch(/<a href="\/series\/[^"]+">v1<\/a>/);
    expect(html).toContain('test: Add some lorem ipsum');
    expect(html).toContain('<table id="compare">');
    const changes = [...html.matchAll(/<tr class="chg-[a-z]+" data-change="([a-z]+)"/g)].map((m) => m[1]);
    expect(changes.length).toBe(Math.max(v2.patches.length, changes.length));
    expect(html.match(/<script/g)).toHaveLength(1);
    expect(html).not.toContain('skb->sk');
  });

  it('a perf outcome is drawn as baseline and candidate distributions, on the series page and in the project history', async () => {
    const target = (await api('?project=ieee802154')).series[0];
    const baseline = [1012.5, 1009.8, 1015.1, 1011.0, 1013.3];
    const candidate = [1034.2, 1031.9, 1036.8, 1033.0, 1035.5];
    saveOutcome(db, target.id, target.version, 'gate:perf', {
      status: 'failure', summary: 'tcp_rr_cost_per_trans +2.2% [+1.9%, +2.5%]',
      data: { id: 'perf', status: 'failure', metrics: { tcp_rr_cost_per_trans: { change: 0.022, low: 0.019, high: 0.025, p: 0.0079, verdict: 'regression' } },
        samples: { baseline: { tcp_rr_cost_per_trans: baseline }, candidate: { tcp_rr_cost_per_trans: candidate } } },
    });
    const html = (await app.inject({ method: 'GET', url: `/series/${encodeURIComponent(target.id)}` })).body;
    const svg = html.slice(html.indexOf('<svg class="perf-plot" data-metric="tcp_rr_cost_per_trans"'), html.indexOf('</svg>', html.indexOf('perf-plot')));
    expect(svg.length).toBeGreaterThan(100);
    expect(svg.match(/<circle class="sample"/g)).toHaveLength(10);
    expect(svg.match(/class="median"/g)).toHaveLength(2);
    expect(svg).toContain('median baseline 1012');
    expect(svg).toContain('median candidate 1034');
    expect(svg).toContain('+2.20% [+1.90%, +2.50%]');
    const medians = [...svg.matchAll(/class="median" x1="[^"]+" x2="[^"]+" y1="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(medians[1]).toBeLessThan(medians[0]); // the candidate's larger cost is drawn higher
    const projects = (await app.inject({ method: 'GET', url: '/projects' })).body;
    expect(projects).toContain('<svg class="history-plot" data-metric="tcp_rr_cost_per_trans"');
    expect(projects).toContain('<svg class="timeline-plot"');
  });

  it('refuses an action without the maintainer token, accepts the right one', async () => {
    const body = await api();
    const url = `/api/series/${encodeURIComponent(body.series[0].id)}/retest`;
    expect((await app.inject({ method: 'POST', url })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url, headers: { authorization: 'Bearer wrong' } })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url, headers: { authorization: 'Bearer sekrit' } })).statusCode).toBe(503);
    const form = `/series/${encodeURIComponent(body.series[0].id)}/retest`;
    const refused = await app.inject({ method: 'POST', url: form, payload: 'token=nope', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(refused.statusCode).toBe(401);
    expect(refused.body).toContain('a maintainer token is needed');
  });

  it('a maintainer marks a series superseded (token needed), and can take the mark back', async () => {
    const all = await api();
    const target = all.series[all.queue.findIndex((q) => q.state !== 'superseded')];
    const before = (await api(`?q=${encodeURIComponent(target.id)}`)).queue[0].state;
    const url = `/api/series/${encodeURIComponent(target.id)}/supersede`;
    expect((await app.inject({ method: 'POST', url })).statusCode).toBe(401);
    expect((await api(`?q=${encodeURIComponent(target.id)}`)).queue[0].state).toBe(before);
    expect((await app.inject({ method: 'POST', url, headers: { authorization: 'Bearer sekrit' } })).statusCode).toBe(200);
    expect((await api(`?q=${encodeURIComponent(target.id)}`)).queue[0].state).toBe('superseded');
    expect((await app.inject({ method: 'GET', url: `/series/${encodeURIComponent(target.id)}` })).body).toContain('unmark superseded');
    const form = await app.inject({ method: 'POST', url: `/series/${encodeURIComponent(target.id)}/supersede`, payload: 'token=sekrit&undo=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form.statusCode).toBe(200);
    expect((await api(`?q=${encodeURIComponent(target.id)}`)).queue[0].state).toBe(before);
    // the mark is the same override a `patchgate: superseded` mail command sets
    db.prepare("INSERT INTO series_overrides (series_id, key, value, msgid, sender) VALUES (?, 'superseded', 'yes', '<cmd@x>', 'maint@x')").run(target.id);
    expect((await api(`?q=${encodeURIComponent(target.id)}`)).queue[0].state).toBe('superseded');
    db.prepare("DELETE FROM series_overrides WHERE series_id = ?").run(target.id);
  });

  it('a maintainer sets the tree (token needed): the override tree selection honours', async () => {
    const target = (await api()).series[0];
    const url = `/api/series/${encodeURIComponent(target.id)}/tree`;
    expect((await app.inject({ method: 'POST', url, payload: { tree: 'net' } })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url, payload: { tree: 'net; drop' }, headers: { authorization: 'Bearer sekrit' } })).statusCode).toBe(400);
    expect((await app.inject({ method: 'POST', url, payload: { tree: 'net' }, headers: { authorization: 'Bearer sekrit' } })).statusCode).toBe(200);
    const { treeOverride } = await import('../../src/report/commands.js');
    expect(treeOverride(db, target.id)?.tree).toBe('net');
    expect((await app.inject({ method: 'GET', url: `/series/${encodeURIComponent(target.id)}` })).body).toContain('set to net');
    db.prepare("DELETE FROM series_overrides WHERE series_id = ?").run(target.id);
  });

  it('the workers page works without Redis and shows source alerts', async () => {
    db.prepare(`INSERT INTO source_health (source, type, state, detail, failures, polls, messages, last_poll_at, last_ok_at)
      VALUES ('kvm', 'public-inbox-http', 'failing', 'connect ECONNREFUSED 127.0.0.1:8080', 3, 10, 42, '2026-11-26T01:00:00Z', '2026-11-26T00:40:00Z')`).run();
    const html = (await app.inject({ method: 'GET', url: '/workers' })).body;
    expect(html).toContain('Redis is not configured');
    expect(html).toMatch(/<p class="alert" id="alerts">kvm is failing: connect ECONNREFUSED/);
    expect(html).toContain('<tr data-source="kvm">');
  });

  it('/api/events sends the store version, and a new one when the store changes', async () => {
    const app2 = await createWebServer({ db, pollMs: 50 });
    await app2.listen({ host: '127.0.0.1', port: 0 });
    const port = (app2.server.address() as { port: number }).port;
    const versions: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/api/events' }, (res) => {
        expect(res.headers['content-type']).toBe('text/event-stream');
        let buf = '';
        res.on('data', (c: Buffer) => {
          buf += c.toString();
          for (const m of buf.matchAll(/event: version\ndata: (.*)\n\n/g)) if (!versions.includes(m[1])) versions.push(m[1]);
          if (versions.length === 1 && !buf.includes('written')) {
            buf += 'written';
            db.prepare("UPDATE source_health SET state = 'ok', updated_at = '2099-01-01T00:00:00.000Z' WHERE source = 'kvm'").run();
          }
          if (versions.length >= 2) {
            req.destroy();
            resolve();
          }
        });
      });
      req.on('error', reject);
    });
    expect(versions[1]).not.toBe(versions[0]);
    await app2.close();
  });

  it('/metrics exposes series and message counts for Prometheus', async () => {
    const r = await app.inject({ method: 'GET', url: '/metrics' });
    expect(r.body).toMatch(new RegExp(`^patchgate_series ${listSeries(db).length}$`, 'm'));
    expect(r.body).toMatch(/^patchgate_messages\{kind="patch"\} \d+$/m);
    expect(r.body).toMatch(/^patchgate_series_by_state\{state="superseded"\} \d+$/m);
  });
});

describe('the workers page with real Redis: the results queue beside the stage queues', () => {
  let dir: string;
  let db: Db;
  let app: FastifyInstance;
  let redisUrl: string;
  let prefix: string;
  let results: Queue;
  let recorder: Recorder | null = null;
  const resultsRow = (html: string) => {
    const m = /<tr data-queue="results" class="results"><td>results<\/td>((?:<td>\d+<\/td>){7})<td>(\d+)<\/td>/.exec(html);
    if (!m) return null;
    const [waiting, active, , , , completed] = [...m[1].matchAll(/<td>(\d+)<\/td>/g)].map((c) => Number(c[1]));
    return { waiting, active, completed, workers: Number(m[2]) };
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pg-web-results-'));
    db = openDb(path.join(dir, 'store.sqlite'));
    await ingestInputs(db, readMailInputs([series('base-no-references.mbox')]));
    assembleStored(db, { sloppyTrailers: false });
    redisUrl = await ensureRedis();
    prefix = uniquePrefix('web-results');
    results = new Queue(RESULTS_QUEUE, { connection: connectionOptions(redisUrl), prefix });
    app = await createWebServer({ db, queues: queueSource(redisUrl, prefix) });
  }, 30_000);

  afterAll(async () => {
    await recorder?.close();
    await results?.close();
    await app?.close();
    if (redisUrl && prefix) await cleanPrefix(redisUrl, prefix);
    db?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a record waiting with no store owner is an alert; once a recorder stores it the alert goes', async () => {
    const s = listSeries(db)[0];
    queueRun(db, s.id, s.version, 'report');
    // what a store-less build worker hands to the store owner (src/queue/worker.ts report())
    const rec = { kind: 'outcome' as const, seriesId: s.id, version: s.version, run: null, stage: 'build',
      outcomes: { build: { status: 'success' as const, summary: 'built on x86_64', data: {} } }, finish: null };
    await results.add('record', rec, { jobId: recordJobId('outcome', 'build', s.id, s.version, 'none'), removeOnComplete: { age: 3600 } });

    let html = (await app.inject({ method: 'GET', url: '/workers' })).body;
    // the stage queues are still listed, the results queue after them
    for (const st of STAGES) expect(html).toContain(`<tr data-queue="${st}"><td>${st}</td>`);
    expect(html.indexOf('data-queue="report"')).toBeLessThan(html.indexOf('data-queue="results"'));
    expect(resultsRow(html)).toEqual({ waiting: 1, active: 0, completed: 0, workers: 0 });
    expect(html).toMatch(/<p class="alert" id="results-alert">1 outcome record of store-less workers waits in the results queue \(the oldest since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\): no store owner is running/);

    recorder = await startRecorder({ config: { ...queueSettingsSchema.parse(undefined), url: redisUrl, prefix }, db });
    await recorder.ready();
    for (let i = 0; i < 200 && (await results.getJobCounts('completed')).completed < 1; i++) await new Promise((r) => setTimeout(r, 50));
    expect(getOutcome(db, s.id, s.version, 'build')?.summary).toBe('built on x86_64');

    html = (await app.inject({ method: 'GET', url: '/workers' })).body;
    expect(resultsRow(html)).toEqual({ waiting: 0, active: 0, completed: 1, workers: 1 });
    expect(html).not.toContain('id="results-alert"');
  }, 30_000);
});
