// The dashboard server: pages, the JSON API (contract: GET /api/series, GET /healthz) and /metrics.
import Fastify, { type FastifyInstance } from 'fastify';
import client from 'prom-client';
import type { Series } from '../series/types.js';
import type { Db } from '../store/db.js';
import { loadSeries } from '../store/series.js';
import { outboxPage, queuePage, seriesPage } from './pages.js';
import { outboxOf, outcomesOf, querySeries, type SeriesFilter } from './queries.js';

export interface WebOptions {
  db: Db;
  /** maintainers' actions need `Authorization: Bearer <token>`; without a token configured they are all refused */
  actionToken?: string;
  /** called for an authorised retest; returns what was queued */
  onRetest?: (seriesId: string, version: number) => Promise<string>;
}

function filterOf(q: Record<string, string | undefined>): SeriesFilter {
  const num = (v: string | undefined) => (v && /^\d+$/.test(v) ? parseInt(v, 10) : undefined);
  return { tree: q.tree || undefined, state: q.state || undefined, q: q.q || undefined, offset: num(q.offset), limit: num(q.limit) };
}

/** Every revision of the series that S belongs to, oldest first (following `previous` both ways). */
export function revisionsOf(db: Db, s: Series): Series[] {
  const chain: Series[] = [s];
  const seen = new Set([s.id]);
  let cur: Series | null = s;
  while (cur?.previous && !seen.has(cur.previous)) {
    cur = loadSeries(db, cur.previous);
    if (!cur) break;
    seen.add(cur.id);
    chain.unshift(cur);
  }
  const next = db.prepare("SELECT doc FROM series WHERE json_extract(doc, '$.previous') = ?").pluck();
  let tail = s;
  for (;;) {
    const docs = next.all(tail.id) as string[];
    const later = docs.map((d) => JSON.parse(d) as Series).find((x) => !seen.has(x.id));
    if (!later) break;
    seen.add(later.id);
    chain.push(later);
    tail = later;
  }
  return chain;
}

export function treesIn(db: Db): string[] {
  return db.prepare('SELECT DISTINCT tree FROM runs WHERE tree IS NOT NULL ORDER BY tree').pluck().all() as string[];
}

export async function createWebServer(opts: WebOptions): Promise<FastifyInstance> {
  const { db } = opts;
  const app = Fastify({ logger: false });
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const seriesGauge = new client.Gauge({
    name: 'patchgate_series',
    help: 'series in the store',
    registers: [registry],
    collect() {
      this.set(db.prepare('SELECT count(*) FROM series').pluck().get() as number);
    },
  });
  void seriesGauge;
  const messagesGauge = new client.Gauge({
    name: 'patchgate_messages',
    help: 'messages in the store by kind',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      for (const r of db.prepare('SELECT kind, count(*) AS n FROM messages GROUP BY kind').all() as { kind: string; n: number }[]) this.set({ kind: r.kind }, r.n);
    },
  });
  void messagesGauge;

  app.get('/healthz', async () => ({ ok: true }));
  app.get('/metrics', async (_req, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });

  app.get('/api/series', async (req) => {
    const { rows, total } = querySeries(db, filterOf(req.query as Record<string, string>));
    return { series: rows.map((r) => r.series), total };
  });
  app.get('/api/series/:id', async (req, reply) => {
    const { id } = req.params as { id: string };
    const s = loadSeries(db, id);
    if (!s) return reply.code(404).send({ error: `no series ${id}` });
    return { series: s, outcomes: outcomesOf(db, s.id, s.version), revisions: revisionsOf(db, s).map((r) => ({ id: r.id, version: r.version })) };
  });
  app.post('/api/series/:id/retest', async (req, reply) => {
    const auth = req.headers.authorization ?? '';
    if (!opts.actionToken || auth !== `Bearer ${opts.actionToken}`) return reply.code(401).send({ error: 'a maintainer token is needed for this action' });
    const { id } = req.params as { id: string };
    const s = loadSeries(db, id);
    if (!s) return reply.code(404).send({ error: `no series ${id}` });
    if (!opts.onRetest) return reply.code(503).send({ error: 'no pipeline is attached to this server' });
    return { queued: await opts.onRetest(s.id, s.version) };
  });

  app.get('/', async (req, reply) => {
    const f = filterOf(req.query as Record<string, string>);
    f.limit = f.limit ?? 100;
    const { rows, total } = querySeries(db, f);
    reply.type('text/html; charset=utf-8');
    return queuePage(rows, total, f, treesIn(db));
  });
  app.get('/series/:id', async (req, reply) => {
    const { id } = req.params as { id: string };
    const s = loadSeries(db, id);
    if (!s) return reply.code(404).type('text/plain').send(`no series ${id}\n`);
    const row = querySeries(db, { q: s.id }).rows.find((r) => r.series.id === s.id)!;
    reply.type('text/html; charset=utf-8');
    return seriesPage(row, revisionsOf(db, s), outcomesOf(db, s.id, s.version), outboxOf(db, s.id));
  });
  app.get('/outbox', async (_req, reply) => {
    reply.type('text/html; charset=utf-8');
    return outboxPage(outboxOf(db));
  });
  return app;
}

/** `host:port` → fastify listen options. */
export function parseListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  if (i < 0) throw new Error(`web.listen must be host:port, not ${listen}`);
  return { host: listen.slice(0, i).replace(/^\[|\]$/g, ''), port: parseInt(listen.slice(i + 1), 10) };
}
