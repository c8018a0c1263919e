// Browser tests of the dashboard: playwright-core driving Debian's chromium (/usr/bin/chromium), headless,
// against the real server on loopback with a store of real corpus mail. Screenshots of every page go to
// test-results/screenshots/. Without /usr/bin/chromium (apt-get install chromium) the suite is skipped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { openDb, type Db } from '../../src/store/db.js';
import type { Series } from '../../src/series/types.js';
import { configureOutbox } from '../../src/report/outbox.js';
import { replySchema } from '../../src/settings/schema.js';
import { loadProjects } from '../../src/web/projects.js';
import { createWebServer } from '../../src/web/server.js';
import { repoRoot } from '../helpers/archive.js';
import { recordRun, seedStore } from './seed.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const shots = path.join(repoRoot, 'test-results', 'screenshots');

if (!hasChromium) process.stderr.write(`dashboard browser tests skipped: ${CHROMIUM} is missing (apt-get install -y chromium)\n`);

describe.skipIf(!hasChromium)(`dashboard in a browser (needs ${CHROMIUM})`, () => {
  let dir: string;
  let db: Db;
  let app: FastifyInstance;
  let base: string;
  let browser: Browser;
  let page: Page;
  let all: Series[];
  let perfSeries: Series;
  let revised: Series;

  const shot = async (name: string) => {
    const file = path.join(shots, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    expect(statSync(file).size).toBeGreaterThan(5000);
  };

  beforeAll(async () => {
    mkdirSync(shots, { recursive: true });
    dir = mkdtempSync(path.join(os.tmpdir(), 'pg-e2e-'));
    db = openDb(path.join(dir, 'store.sqlite'));
    all = await seedStore(db, 1200);
    // pipeline results for a realistic spread of states
    const candidates = all.filter((s) => s.received_all && s.patches.length > 0);
    revised = all.find((s) => s.previous && s.received_all && all.some((o) => o.id === s.previous))!;
    perfSeries = candidates.find((s) => s.patches.some((p) => p.files.some((f) => f.startsWith('drivers/vhost/') || f.startsWith('drivers/net/virtio')))) ?? candidates[0];
    recordRun(db, perfSeries, 'failure', 0.021);
    candidates.filter((s) => s !== perfSeries).slice(0, 12).forEach((s, i) => recordRun(db, s, (['success', 'conflict', 'running', 'success'] as const)[i % 4], i % 2 ? -0.01 : 0.002));
    db.prepare(`INSERT INTO source_health (source, type, state, detail, failures, polls, messages, last_poll_at, last_ok_at, last_new_at)
      VALUES ('virt', 'public-inbox-git', 'ok', NULL, 0, 12, 1200, '2026-11-26T01:00:00Z', '2026-11-26T01:00:00Z', '2026-11-26T00:10:00Z'),
             ('kvm', 'public-inbox-http', 'quiet', 'nothing new since 2026-11-25T09:00:00Z (quiet_after 21600 s)', 0, 40, 3, '2026-11-26T01:00:00Z', '2026-11-26T01:00:00Z', '2026-11-25T09:00:00Z')`).run();
    db.prepare(`INSERT INTO outbox (message_id, series_id, version, channel, recipients, payload, state, verdict)
      VALUES (?, ?, ?, 'mail', '["virtualization@lists.linux-foundation.org"]', ?, 'dry-run', 'failure')`)
      .run(`<patchgate-${perfSeries.id}-v${perfSeries.version}@localhost>`, perfSeries.id, perfSeries.version,
        `Subject: Re: ${perfSeries.name}\n\nOn the perf gate: tcp_rr_cost_per_trans +2.1% [+1.7%, +2.5%], a regression.\n`);
    app = await createWebServer({ db, actionToken: 'maintainer-token', projects: loadProjects(path.join(repoRoot, 'config', 'projects.yaml')), pollMs: 200 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM, headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    db?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('queue filters from the form land in the URL, show what the API shows, and the links work', async () => {
    await page.goto(`${base}/`);
    await shot('queue');
    const total = Number(await page.textContent('#total'));
    expect(total).toBe(all.length);
    await page.selectOption('select[name=state]', 'superseded');
    await Promise.all([page.waitForURL(/state=superseded/), page.click('form.filters button[type=submit]')]);
    const states = await page.$$eval('#queue tbody tr', (trs) => trs.map((tr) => tr.getAttribute('data-state')));
    const api = (await (await page.request.get(`${base}/api/series?state=superseded`)).json()) as { series: Series[]; total: number };
    expect(states.length).toBe(Math.min(100, api.total));
    expect(api.total).toBeGreaterThan(0);
    expect(new Set(states)).toEqual(new Set(['superseded']));
    const ids = await page.$$eval('#queue tbody tr', (trs) => trs.map((tr) => tr.getAttribute('data-series')));
    expect(ids).toEqual(api.series.slice(0, 100).map((s) => s.id));
    await shot('queue-superseded');
    // sort by name through the column header, keeping the filter
    await Promise.all([page.waitForURL(/sort=name/), page.click('#queue thead a:text("series")')]);
    expect(page.url()).toContain('state=superseded');
    const names = await page.$$eval('#queue tbody a.series-link', (as) => as.map((a) => (a.textContent ?? '').toLowerCase()));
    expect(names).toEqual([...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    // a series link opens its page
    const first = page.locator('#queue tbody a.series-link').first();
    const name = (await first.textContent())!;
    await Promise.all([page.waitForURL(/\/series\//), first.click()]);
    expect(await page.textContent('h2')).toContain(name);
    // the project filter
    await page.goto(`${base}/?project=vhost-workqueue`);
    const projectRows = await page.$$eval('#queue tbody tr', (trs) => trs.length);
    const projectApi = (await (await page.request.get(`${base}/api/series?project=vhost-workqueue`)).json()) as { total: number };
    expect(projectRows).toBe(projectApi.total);
  });

  it('a series page shows its perf plot: every sample as a dot, medians, the verdict', async () => {
    await page.goto(`${base}/series/${encodeURIComponent(perfSeries.id)}`);
    const plot = page.locator('svg.perf-plot[data-metric="tcp_rr_cost_per_trans"]');
    await expect(plot.count()).resolves.toBe(1);
    expect(await plot.locator('circle.sample').count()).toBe(10);
    expect(await plot.locator('line.median').count()).toBe(2);
    expect(await plot.textContent()).toContain('regression');
    const box = await plot.boundingBox();
    expect(box!.width).toBeGreaterThan(300);
    expect(await page.locator('#replies details.reply[data-state="dry-run"]').count()).toBe(1);
    expect(await page.textContent('#tree')).toContain('net-next');
    await shot('series-perf');
  });

  it('a series with an earlier revision shows what changed side by side', async () => {
    await page.goto(`${base}/series/${encodeURIComponent(revised.id)}`);
    expect(await page.locator('#compare tbody tr').count()).toBeGreaterThan(0);
    const changes = await page.$$eval('#compare tbody tr', (trs) => trs.map((tr) => tr.getAttribute('data-change')));
    for (const c of changes) expect(['same', 'changed', 'renamed', 'added', 'removed']).toContain(c);
    await shot('series-revisions');
  });

  it('an action without the token is refused, in the page and through the API', async () => {
    await page.goto(`${base}/series/${encodeURIComponent(perfSeries.id)}`);
    const [resp] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/retest')), page.click('form[action$="/retest"] button')]);
    expect(resp.status()).toBe(401);
    expect(await page.textContent('#result')).toContain('a maintainer token is needed');
    const api = await page.request.post(`${base}/api/series/${encodeURIComponent(perfSeries.id)}/retest`);
    expect(api.status()).toBe(401);
  });

  it('approving a held reply: refused without the token, with it the outbox row becomes pending', async () => {
    const heldRow = () => db.prepare("SELECT id, state FROM outbox WHERE series_id = ? AND channel = 'mail'").get(perfSeries.id) as { id: number; state: string };
    const held = heldRow();
    expect(held.state).toBe('dry-run');
    configureOutbox({ smtp: { url: 'smtp://127.0.0.1:2525', from: 'patchgate <patchgate@localhost>' }, reply: replySchema.parse({ mode: 'send' }) });
    try {
      await page.goto(`${base}/series/${encodeURIComponent(perfSeries.id)}`);
      const form = page.locator(`form.approve[data-reply="${held.id}"]`);
      expect(await form.count()).toBe(1);
      await shot('series-held-reply');
      const [refused] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/approve')), form.locator('button').click()]);
      expect(refused.status()).toBe(401);
      expect(await page.textContent('#result')).toContain('a maintainer token is needed');
      expect(heldRow().state).toBe('dry-run');

      await page.goto(`${base}/series/${encodeURIComponent(perfSeries.id)}`);
      await form.locator('input[name=token]').fill('maintainer-token');
      const [approved] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/approve')), form.locator('button').click()]);
      expect(approved.status()).toBe(200);
      expect(await page.textContent('#result')).toContain(`reply ${held.id} is queued for sending`);
      expect(heldRow().state).toBe('pending');
      await Promise.all([page.waitForURL(/\/series\//), page.click('a:text("back")')]);
      expect(await page.locator(`#replies details.reply[data-reply="${held.id}"][data-state="pending"]`).count()).toBe(1);
      expect(await page.locator('form.approve').count()).toBe(0);
      await shot('series-reply-approved');
    } finally {
      configureOutbox(null);
    }
  });

  it('projects, workers and outbox pages render; the queue updates live when the store changes', async () => {
    await page.goto(`${base}/projects`);
    expect(await page.locator('section.project').count()).toBeGreaterThanOrEqual(8);
    await shot('projects');
    await page.goto(`${base}/workers`);
    expect(await page.textContent('#redis-state')).toContain('Redis is not configured');
    expect(await page.textContent('#alerts')).toContain('kvm is quiet');
    await shot('workers');
    await page.goto(`${base}/outbox`);
    expect(await page.locator('#outbox tbody tr').count()).toBe(1);
    await shot('outbox');

    const target = all.find((s) => s.received_all && s.patches.length > 0 && !db.prepare('SELECT 1 FROM runs WHERE series_id = ?').get(s.id) && !all.some((o) => o.previous === s.id))!;
    await page.goto(`${base}/?q=${encodeURIComponent(target.id)}`);
    const row = page.locator(`tr[data-series="${target.id}"]`);
    expect(await row.getAttribute('data-state')).toBe('new');
    await page.waitForTimeout(300); // the event stream has delivered its first version
    recordRun(db, target, 'conflict');
    await page.waitForSelector(`tr[data-series="${target.id}"][data-state="failed"]`, { timeout: 10_000 });
    expect(await page.locator(`tr[data-series="${target.id}"] [data-stage="apply"]`).getAttribute('data-status')).toBe('conflict');
  });
});
