// `patchgate start --web-only --config FILE`: a child process serving web.listen with real Redis (the full daemon would
// queue the stored series itself; here retest is what queues them).
// /healthz answers once ready; retest with the token queues a real bullmq flow, which the workers page shows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDb } from '../../src/store/db.js';
import { assembleStored, ingestInputs } from '../../src/ingest/ingest.js';
import { readMailInputs } from '../../src/ingest/inputs.js';
import { listSeries } from '../../src/store/series.js';
import { corpusDir, repoRoot } from '../helpers/archive.js';
import { cleanPrefix, ensureRedis, uniquePrefix } from '../helpers/redis.js';
import { freePort } from '../helpers/net.js';


describe('patchgate start (the dashboard daemon)', () => {
  let dir: string;
  let child: ChildProcess;
  let base: string;
  let redisUrl: string;
  let prefix: string;
  let seriesId: string;
  let stderr = '';

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pg-start-'));
    const store = path.join(dir, 'store.sqlite');
    const db = openDb(store);
    await ingestInputs(db, readMailInputs([path.join(corpusDir, 'patchwork', 'series', 'base-no-references.mbox')]));
    assembleStored(db, { sloppyTrailers: false });
    seriesId = listSeries(db)[0].id;
    db.close();
    redisUrl = await ensureRedis();
    prefix = uniquePrefix('web-start');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const config = path.join(dir, 'patchgate.yaml');
    writeFileSync(config, `store: { path: ${store} }\nredis: { url: "${redisUrl}", prefix: ${prefix} }\nweb: { listen: 127.0.0.1:${port}, token: env:PG_WEB_TOKEN }\n`
      + `projects_file: ${path.join(repoRoot, 'config', 'projects.yaml')}\n`);
    child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
      `const { main } = await import(${JSON.stringify(path.join(repoRoot, 'src', 'cli.ts'))}); process.exitCode = await main(['start', '--web-only', '--config', ${JSON.stringify(config)}]);`],
    { cwd: repoRoot, env: { ...process.env, PG_WEB_TOKEN: 'tok-123', REDIS_URL: redisUrl }, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    for (let i = 0; i < 300; i++) {
      const ok = await fetch(`${base}/healthz`).then((r) => r.status === 200, () => false);
      if (ok) return;
      if (child.exitCode !== null) throw new Error(`start exited ${child.exitCode}: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no /healthz after 30 s: ${stderr}`);
  }, 60_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    if (redisUrl && prefix) await cleanPrefix(redisUrl, prefix);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serves /healthz, the contract API and the pages from web.listen', async () => {
    const api = (await (await fetch(`${base}/api/series`)).json()) as { series: { id: string }[] };
    expect(api.series.map((s) => s.id)).toContain(seriesId);
    const html = await (await fetch(`${base}/projects`)).text();
    expect(html).toContain('vhost-net scalability');
    expect(stderr).toContain('dashboard at http://127.0.0.1:');
    expect(stderr).not.toContain('tok-123');
  });

  it('retest needs the token; with it a flow is queued in Redis and the workers page shows it', async () => {
    const url = `${base}/api/series/${encodeURIComponent(seriesId)}/retest`;
    expect((await fetch(url, { method: 'POST' })).status).toBe(401);
    const r = await fetch(url, { method: 'POST', headers: { authorization: 'Bearer tok-123' } });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { queued: string }).queued).toMatch(/^added /);
    const html = await (await fetch(`${base}/workers`)).text();
    expect(html).toContain('<table id="queues">');
    const applyRow = /<tr data-queue="apply"><td>apply<\/td><td>(\d+)<\/td>/.exec(html);
    expect(Number(applyRow?.[1])).toBe(1);
    // bull-board, read-only, beside the dashboard's own view
    expect(html).toContain('<a href="/queues/">bull-board</a>');
    const board = await fetch(`${base}/queues/`);
    expect(board.status).toBe(200);
    expect(await board.text()).toContain('patchgate queues');
    const state = (await (await fetch(`${base}/api/series/${encodeURIComponent(seriesId)}`)).json()) as { state: string };
    expect(state.state).toBe('queued');
  });
});
