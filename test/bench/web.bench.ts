// `npm run bench -- web [--duration S] [--connections N] [--series N] [--messages N]`: response time of the
// dashboard with 10,000 series and 100,000 messages in the store. The rows are real corpus series and mail
// (the patchwork revision cases and the start of the virtualization archive, through the series engine)
// cloned under new ids and dates directly in SQL; a share of them carry pipeline results and perf samples.
// The server runs in a child process; autocannon loads it over loopback, one route after the other, with
// the server's static CSS route as the baseline measured in the same run. Prints p50 / p99 and ratios.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDb, type Db } from '../../src/store/db.js';
import type { Series } from '../../src/series/types.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : def);
const self = fileURLToPath(import.meta.url);
const repoRoot = path.resolve(path.dirname(self), '..', '..');

// ---------------------------------------------------------------------------------------------------------
// the server side (child process): `--serve DB`
async function serve(dbFile: string): Promise<void> {
  const { createWebServer } = await import('../../src/web/server.js');
  const { loadProjects } = await import('../../src/web/projects.js');
  const db = openDb(dbFile);
  const app = await createWebServer({ db, actionToken: 'bench', projects: loadProjects(path.join(repoRoot, 'config', 'projects.yaml')) });
  await app.listen({ host: '127.0.0.1', port: 0 });
  process.stdout.write(`port ${(app.server.address() as { port: number }).port}\n`);
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
}

// ---------------------------------------------------------------------------------------------------------
// the store
function mulberry(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function buildStore(db: Db, nSeries: number, nMessages: number): Promise<{ perfId: string }> {
  const { seedStore, perfOutcomeData } = await import('../e2e/seed.js');
  const seeded = await seedStore(db, 1500);
  const templates = seeded.filter((s) => s.patches.length > 0);
  const clones = Math.max(0, nSeries - seeded.length);
  const rnd = mulberry(42);
  const t0 = Date.parse('2019-04-01T00:00:00Z'), span = Date.parse('2026-11-20T00:00:00Z') - t0;
  const copyMsg = db.prepare(`INSERT OR IGNORE INTO messages (msgid, hash, source, kind, reason, date, subject, sender, raw, parsed)
      SELECT @to, hash || @k, source, kind, reason, @date, subject, sender, raw, json_set(parsed, '$.msgid', @to, '$.date', @date)
      FROM messages WHERE msgid = @from ORDER BY seq LIMIT 1`);
  const insSeries = db.prepare(`INSERT INTO series (id, version, name, submitter, received_all, first_date, doc)
      VALUES (@id, @version, @name, @submitter, @received_all, @first_date, @doc)`);
  const insRun = db.prepare(`INSERT INTO runs (series_id, version, state, tree, tree_reason, branch, verdict, last_stage)
      VALUES (?, ?, ?, ?, ?, ?, ?, 'report')`);
  const insOutcome = db.prepare('INSERT INTO outcomes (series_id, version, stage, status, summary, data) VALUES (?, ?, ?, ?, ?, ?)');
  const trees = ['net-next', 'net', 'vhost', 'kvm', 'qemu'];
  let perfId = '';
  const t1 = Date.now();
  db.transaction(() => {
    let prev: Series | null = null;
    for (let k = 0; k < clones; k++) {
      const tpl = templates[k % templates.length];
      const mid = (m: string) => m.replace(/@/, `.b${k}@`);
      // one in three is the next revision of the one before it
      const revise = prev !== null && rnd() < 0.33;
      const version: number = revise ? prev!.version + 1 : tpl.version;
      const date = new Date(t0 + (span * k) / clones + rnd() * 3600e3).toISOString();
      const s: Series = {
        ...tpl, id: `b${k.toString(16).padStart(6, '0')}${tpl.id.slice(0, 8)}`, version, previous: revise ? prev!.id : null,
        cover: tpl.cover ? mid(tpl.cover) : null,
        patches: tpl.patches.map((p) => ({ ...p, msgid: mid(p.msgid), trailers: p.trailers.map((t) => ({ ...t, from: mid(t.from) })) })),
      };
      for (const m of [tpl.cover, ...tpl.patches.map((p) => p.msgid)]) if (m) copyMsg.run({ to: mid(m), from: m, k: String(k), date });
      insSeries.run({ id: s.id, version: s.version, name: s.name, submitter: s.submitter.email, received_all: s.received_all ? 1 : 0, first_date: date, doc: JSON.stringify(s) });
      // pipeline results for 70%
      const r = rnd();
      if (r < 0.7 && s.received_all) {
        const verdict = r < 0.45 ? 'success' : r < 0.55 ? 'warning' : r < 0.63 ? 'failure' : 'conflict';
        const tree = trees[k % trees.length];
        insRun.run(s.id, s.version, 'done', tree, `${tree} in the subject prefix`, `patchgate/${s.id}/v${s.version}`, verdict);
        insOutcome.run(s.id, s.version, 'apply', verdict === 'conflict' ? 'conflict' : 'success', `applied to ${tree}`,
          JSON.stringify({ tree: { name: tree, reason: 'prefix' }, apply: s.patches.map((p) => ({ msgid: p.msgid, outcome: 'applied', files: p.files, detail: '' })) }));
        if (verdict !== 'conflict') {
          insOutcome.run(s.id, s.version, 'build', verdict === 'failure' ? 'failure' : verdict, 'built',
            JSON.stringify({ build: s.patches.map((p) => ({ msgid: p.msgid, status: 'success', new_warnings: [], errors: [] })) }));
          insOutcome.run(s.id, s.version, 'gate', verdict, verdict, '{}');
          insOutcome.run(s.id, s.version, 'gate:checkpatch', 'success', 'no issues', '{"details":[]}');
          if (k % 10 === 0) {
            const d = perfOutcomeData((rnd() - 0.5) * 0.04, k);
            insOutcome.run(s.id, s.version, 'gate:perf', String(d.status), String(d.summary), JSON.stringify(d));
            perfId ||= s.id;
          }
        }
      }
      prev = s;
    }
  })();
  const have = db.prepare('SELECT count(*) FROM messages').pluck().get() as number;
  // the rest of the mail: replies and reviews, cloned from the archive's comments
  db.prepare(`CREATE TEMP TABLE tpl AS SELECT row_number() OVER (ORDER BY seq) - 1 AS rn, * FROM messages WHERE kind IN ('comment', 'other')`).run();
  const nt = db.prepare('SELECT count(*) FROM temp.tpl').pluck().get() as number;
  db.prepare(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < @count)
      INSERT INTO messages (msgid, hash, source, kind, reason, date, subject, sender, raw, parsed)
      SELECT '<bench-' || i || '.' || substr(t.msgid, 2), t.hash || '-' || i, t.source, t.kind, t.reason, t.date, t.subject, t.sender, t.raw, t.parsed
      FROM n JOIN temp.tpl t ON t.rn = n.i % @nt`).run({ count: Math.max(0, nMessages - have), nt });
  process.stdout.write(`store: ${db.prepare('SELECT count(*) FROM series').pluck().get()} series, ${db.prepare('SELECT count(*) FROM messages').pluck().get()} messages, `
    + `${db.prepare('SELECT count(*) FROM runs').pluck().get()} runs, ${db.prepare('SELECT count(*) FROM outcomes').pluck().get()} outcomes `
    + `(generated in ${((Date.now() - t1) / 1000).toFixed(1)} s)\n`);
  process.stdout.write(`states: ${(db.prepare('SELECT state, count(*) AS n FROM series_queue GROUP BY state ORDER BY n DESC').all() as { state: string; n: number }[]).map((r) => `${r.state} ${r.n}`).join(', ')}\n`);
  return { perfId };
}

// ---------------------------------------------------------------------------------------------------------
async function startServer(dbFile: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', self, '--serve', dbFile], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      const m = /port (\d+)/.exec(buf);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { child, port };
}

interface Measured {
  name: string;
  /** one request at a time: exact response times, ms */
  seq: { p50: number; p99: number; n: number };
  /** autocannon with N connections */
  rps: number;
  p50: number;
  p99: number;
  bytes: number;
  errors: number;
}

function pct(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Requests one after the other on a keep-alive connection for MS milliseconds: p50 and p99 in ms. */
async function sequential(url: string, ms: number): Promise<{ p50: number; p99: number; n: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const times: number[] = [];
  const end = Date.now() + ms;
  while (Date.now() < end || times.length < 20) {
    const t0 = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      http.get(url, { agent }, (res) => {
        res.on('data', () => {});
        res.on('end', () => resolve());
      }).on('error', reject);
    });
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  agent.destroy();
  times.sort((x, y) => x - y);
  return { p50: pct(times, 0.5), p99: pct(times, 0.99), n: times.length };
}

async function main(): Promise<void> {
  if (args[0] === '--serve') return serve(args[1]);
  const duration = opt('--duration', 6), connections = opt('--connections', 8);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pg-web-bench-'));
  // --store FILE: keep (or reuse) the generated store there
  const keep = args.includes('--store') ? path.resolve(args[args.indexOf('--store') + 1]) : null;
  const dbFile = keep ?? path.join(dir, 'store.sqlite');
  let child: ChildProcess | null = null;
  try {
    const reuse = keep !== null && existsSync(keep);
    const db = openDb(dbFile);
    const perfId = reuse
      ? (db.prepare("SELECT series_id FROM outcomes WHERE stage = 'gate:perf' ORDER BY series_id LIMIT 1").pluck().get() as string)
      : (await buildStore(db, opt('--series', 10_000), opt('--messages', 100_000))).perfId;
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    const server = await startServer(dbFile);
    child = server.child;
    const base = `http://127.0.0.1:${server.port}`;
    const routes: [string, string][] = [
      ['static file (baseline)', '/static/dashboard.css'],
      ['queue page', '/'],
      ['queue page, state filter', '/?state=needs-ack'],
      ['queue page, sort by name, page 20', '/?sort=name&offset=2000'],
      ['queue page, project filter', '/?project=vhost-workqueue'],
      ['API /api/series?limit=100', '/api/series?limit=100'],
      ['API, state + tree filter', '/api/series?state=failed&tree=net-next&limit=100'],
      ['API, search', '/api/series?q=virtio&limit=100'],
      ['series page with perf plots', `/series/${encodeURIComponent(perfId)}`],
      ['projects page (11 projects, history plots)', '/projects'],
      ['workers page (Redis not configured)', '/workers'],
    ];
    const { default: autocannon } = await import('autocannon');
    // warm up every route (the first queue request builds the project index)
    for (const [, p] of routes) await fetch(base + p).then((r) => r.arrayBuffer());
    const results: Measured[] = [];
    for (const [name, p] of routes) {
      const seq = await sequential(base + p, (duration * 1000) / 2);
      const r = await autocannon({ url: base + p, connections, duration });
      results.push({ name, seq, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, bytes: r.throughput.average / Math.max(1, r.requests.average), errors: r.errors + r.non2xx });
    }
    const [st] = results;
    const f = (v: number, w = 7) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)).padStart(w);
    process.stdout.write(`\nloopback; one request at a time (exact), then autocannon with ${connections} connections (ms resolution); ${duration} s per route\n`);
    process.stdout.write(`${'route'.padEnd(44)} ${'p50'.padStart(7)} ${'p99'.padStart(7)} ${'x static'.padStart(9)} | ${'req/s'.padStart(7)} ${'p50'.padStart(6)} ${'p99'.padStart(6)} ${'static/x'.padStart(9)} ${'KB'.padStart(6)} err\n`);
    for (const r of results) {
      process.stdout.write(`${r.name.padEnd(44)} ${f(r.seq.p50)} ${f(r.seq.p99)} ${(r.seq.p50 / st.seq.p50).toFixed(1).padStart(8)}x | ${r.rps.toFixed(0).padStart(7)} ${f(r.p50, 6)} ${f(r.p99, 6)} ${(st.rps / Math.max(r.rps, 1e-9)).toFixed(1).padStart(8)}x ${(r.bytes / 1024).toFixed(1).padStart(6)} ${r.errors}\n`);
    }
  } finally {
    child?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`web bench: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
