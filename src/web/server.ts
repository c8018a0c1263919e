// The dashboard server: pages, the JSON API (contract: GET /api/series, GET /healthz), /metrics, live
// updates (/api/events, server-sent events) and the maintainers' actions (token required).
import { timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Queue } from 'bullmq';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import client from 'prom-client';
import type { Series } from '../series/types.js';
import type { Db } from '../store/db.js';
import { diffReader } from '../store/messages.js';
import { loadSeries } from '../store/series.js';
import { outboxPage, projectsPage, queuePage, seriesPage, workersPage, type SourceRow } from './pages.js';
import { ProjectIndex, projectSummary, type Project } from './projects.js';
import { distinctValues, outboxOf, outcomesOf, querySeries, seriesRow, SORT_KEYS, storeVersion, type SeriesFilter, type SortKey } from './queries.js';
import { mountBullBoard } from './bull-board.js';
import { readQueues, type QueueSource } from './queues.js';
import { compareRevisions } from './revisions.js';
import { registerMailSinkRoutes } from './mail-sink.js';
import { registerHeadsRoutes } from './history.js';
import { registerHeadsActions } from './heads-actions.js';
import type { HeadsEnqueuer } from '../heads/schedule.js';
import { mergeOf } from '../trees/merged.js';
import { approveHeldReply } from '../report/outbox.js';
import type { Settings } from '../settings/schema.js';

export interface WebOptions {
  db: Db;
  /** maintainers' actions need `Authorization: Bearer <token>` (or the token in the form); without one configured they are all refused */
  actionToken?: string;
  /** called for an authorised retest; returns what was queued */
  onRetest?: (seriesId: string, version: number) => Promise<string>;
  /** the projects of config/projects.yaml, compiled */
  projects?: Project[];
  /** bullmq's Redis, for the workers page (absent: the page says Redis is not configured) */
  queues?: QueueSource | null;
  /** how often /api/events looks for changes, ms (default 2000) */
  pollMs?: number;
  /** the configured trees' names (the tree action accepts only these; absent: any well-formed name) */
  trees?: string[];
  /** mount bull-board (read-only) at /queues/ over these queues */
  bullBoard?: Queue[];
  /** the heads queue, for the HEAD run and bisect actions (src/web/heads-actions.ts) */
  heads?: HeadsEnqueuer | null;
  /** the settings a held reply's approval is checked against (SMTP transport, reply mode); absent: those of
   *  this process's outbox sender, if one runs */
  outboxSettings?: Pick<Settings, 'smtp' | 'reply'>;
}

const num = (v: string | undefined) => (v && /^\d{1,7}$/.test(v) ? parseInt(v, 10) : undefined);

export function filterOf(q: Record<string, string | undefined>): SeriesFilter {
  const sort = SORT_KEYS.includes(q.sort as SortKey) ? (q.sort as SortKey) : undefined;
  const order = q.order === 'asc' || q.order === 'desc' ? q.order : undefined;
  return {
    tree: q.tree || undefined, list: q.list || undefined, state: q.state || undefined, project: q.project || undefined,
    submitter: q.submitter || undefined, age: q.age || undefined, q: q.q || undefined, sort, order,
    offset: num(q.offset), limit: num(q.limit),
  };
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

function webAsset(name: string): Buffer {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const f = path.join(dir, 'templates', 'web', name);
    if (existsSync(f)) return readFileSync(f);
    dir = path.dirname(dir);
  }
  throw new Error(`templates/web/${name} not found`);
}

function tokenMatches(expected: string | undefined, given: string | undefined): boolean {
  if (!expected || !given) return false;
  const a = Buffer.from(expected), b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

function bearer(req: FastifyRequest): string | undefined {
  const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
  return m?.[1];
}

export async function createWebServer(opts: WebOptions): Promise<FastifyInstance> {
  const { db } = opts;
  const app = Fastify({ logger: false, forceCloseConnections: true });
  const projects = new ProjectIndex(db, opts.projects ?? []);
  const css = webAsset('dashboard.css');
  const diffOf = diffReader(db);
  const runOf = db.prepare('SELECT state, verdict, detail, branch, updated_at FROM runs WHERE series_id = ? AND version = ?');

  const bullBoard = opts.bullBoard?.length ? await mountBullBoard(app, opts.bullBoard) : null;
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  new client.Gauge({
    name: 'patchgate_series', help: 'series in the store', registers: [registry],
    collect() {
      this.set(db.prepare('SELECT count(*) FROM series').pluck().get() as number);
    },
  });
  new client.Gauge({
    name: 'patchgate_series_by_state', help: 'series in the store by queue state', labelNames: ['state'], registers: [registry],
    collect() {
      for (const r of db.prepare('SELECT state, count(*) AS n FROM series_queue GROUP BY state').all() as { state: string; n: number }[]) this.set({ state: r.state }, r.n);
    },
  });
  new client.Gauge({
    name: 'patchgate_messages', help: 'messages in the store by kind', labelNames: ['kind'], registers: [registry],
    collect() {
      for (const r of db.prepare('SELECT kind, count(*) AS n FROM messages GROUP BY kind').all() as { kind: string; n: number }[]) this.set({ kind: r.kind }, r.n);
    },
  });
  new client.Gauge({
    name: 'patchgate_source_failing', help: 'sources not ok (1) by name', labelNames: ['source', 'state'], registers: [registry],
    collect() {
      this.reset();
      for (const r of db.prepare('SELECT source, state FROM source_health').all() as { source: string; state: string }[]) this.set({ source: r.source, state: r.state }, r.state === 'ok' ? 0 : 1);
    },
  });
  const httpDuration = new client.Histogram({
    name: 'patchgate_http_request_seconds', help: 'dashboard response time', labelNames: ['route'], registers: [registry],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  });
  app.addHook('onResponse', async (req, reply) => {
    httpDuration.observe({ route: req.routeOptions.url ?? 'unknown' }, reply.elapsedTime / 1000);
  });

  app.get('/healthz', async () => ({ ok: true }));
  app.get('/metrics', async (_req, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });
  app.get('/static/dashboard.css', async (_req, reply) => {
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=300');
    return css;
  });

  // --- JSON API -------------------------------------------------------------------------------------
  app.get('/api/series', async (req, reply) => {
    const f = filterOf(req.query as Record<string, string>);
    if (f.project) projects.refresh();
    const { rows, total } = querySeries(db, f);
    // the stored documents are the export's series objects: joined as stored, not parsed and re-serialised
    const queue = rows.map((r) => ({
      id: r.id, state: r.state, tree: r.tree, list: r.list, apply: r.apply, build: r.build, gate: r.gate,
      acks: r.acks, reviews: r.reviews,
    }));
    reply.type('application/json; charset=utf-8');
    return `{"series":[${rows.map((r) => r.doc).join(',')}],"total":${total},"queue":${JSON.stringify(queue)}}`;
  });
  app.get('/api/series/:id', async (req, reply) => {
    const { id } = req.params as { id: string };
    const row = seriesRow(db, id);
    if (!row) return reply.code(404).send({ error: `no series ${id}` });
    const s = row.series;
    return {
      series: s, state: row.state, tree: row.tree ? { name: row.tree, reason: row.treeReason } : null,
      outcomes: outcomesOf(db, s.id, s.version),
      revisions: revisionsOf(db, s).map((r) => ({ id: r.id, version: r.version })),
      outbox: outboxOf(db, s.id).map((m) => ({ message_id: m.message_id, version: m.version, channel: m.channel, state: m.state, sent_at: m.sent_at })),
      merged: mergeOf(db, s.id),
    };
  });
  app.get('/api/version', async () => ({ version: storeVersion(db) }));

  // live updates: one timer for all listeners, running only while someone listens
  const listeners = new Set<(v: string) => void>();
  let timer: NodeJS.Timeout | null = null;
  let last = '';
  const tick = () => {
    const v = storeVersion(db);
    if (v !== last) {
      last = v;
      for (const l of listeners) l(v);
    }
  };
  app.get('/api/events', (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const send = (v: string) => res.write(`event: version\ndata: ${v}\n\n`);
    send(storeVersion(db));
    listeners.add(send);
    if (!timer) {
      last = storeVersion(db);
      timer = setInterval(tick, opts.pollMs ?? 2000);
      timer.unref();
    }
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    ping.unref();
    req.raw.on('close', () => {
      clearInterval(ping);
      listeners.delete(send);
      if (listeners.size === 0 && timer) {
        clearInterval(timer);
        timer = null;
      }
    });
  });
  app.addHook('onClose', async () => {
    if (timer) clearInterval(timer);
    timer = null;
    listeners.clear();
    await opts.queues?.close();
  });

  // --- actions (maintainers only) ----------------------------------------------------------------------
  // Marks and the tree go to series_overrides, where the mail commands put theirs (`patchgate: superseded`,
  // `patchgate: tree X`): tree selection honours the tree, the queue state the superseded mark.
  type Action = 'retest' | 'supersede' | 'unsupersede' | 'tree' | 'approve';
  const WHO = { msgid: 'dashboard', sender: 'a maintainer on the dashboard' };
  const setOverride = db.prepare(`INSERT INTO series_overrides (series_id, key, value, msgid, sender) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (series_id, key) DO UPDATE SET value = excluded.value, msgid = excluded.msgid, sender = excluded.sender,
        created_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')`);
  const dropOverride = db.prepare('DELETE FROM series_overrides WHERE series_id = ? AND key = ?');
  const act = async (action: Action, id: string, token: string | undefined, arg?: string): Promise<{ code: number; body: Record<string, string> }> => {
    if (!tokenMatches(opts.actionToken, token)) return { code: 401, body: { error: 'a maintainer token is needed for this action' } };
    const s = loadSeries(db, id);
    if (!s) return { code: 404, body: { error: `no series ${id}` } };
    switch (action) {
      case 'approve': {
        // a reply held in the outbox (dry-run) of this series goes out: src/report/outbox.ts decides whether it may
        const row = /^\d{1,12}$/.test(arg ?? '') ? (db.prepare('SELECT id FROM outbox WHERE id = ? AND series_id = ?').get(Number(arg), s.id) as { id: number } | undefined) : undefined;
        if (!row) return { code: 404, body: { error: `no reply ${String(arg ?? '').slice(0, 20)} of series ${id} in the outbox` } };
        const r = approveHeldReply(db, row.id, WHO.sender, opts.outboxSettings);
        return r.ok ? { code: 200, body: { approved: `reply ${row.id} is queued for sending` } } : { code: 409, body: { error: r.reason } };
      }
      case 'supersede':
        setOverride.run(s.id, 'superseded', 'yes', WHO.msgid, WHO.sender);
        return { code: 200, body: { marked: 'superseded' } };
      case 'unsupersede':
        dropOverride.run(s.id, 'superseded');
        return { code: 200, body: { unmarked: 'superseded' } };
      case 'tree': {
        const tree = (arg ?? '').trim();
        if (!/^[\w.+-]{1,64}$/.test(tree) || (opts.trees && !opts.trees.includes(tree))) {
          return { code: 400, body: { error: `not a configured tree: ${tree.slice(0, 64)}` } };
        }
        setOverride.run(s.id, 'tree', tree, WHO.msgid, WHO.sender);
        return { code: 200, body: { tree: `${tree} (applies from the next run: retest)` } };
      }
      default:
        if (!opts.onRetest) return { code: 503, body: { error: 'no pipeline is attached to this server' } };
        return { code: 200, body: { queued: await opts.onRetest(s.id, s.version) } };
    }
  };
  const apiAction = (action: Action) => async (req: FastifyRequest, reply: FastifyReply) => {
    const body = (req.body ?? {}) as Record<string, string>;
    const r = await act(action, (req.params as { id: string }).id, bearer(req), action === 'approve' ? String(body.reply ?? '') : body.tree);
    return reply.code(r.code).send(r.body);
  };
  app.post('/api/series/:id/retest', apiAction('retest'));
  app.post('/api/series/:id/supersede', apiAction('supersede'));
  app.delete('/api/series/:id/supersede', apiAction('unsupersede'));
  app.post('/api/series/:id/tree', apiAction('tree'));
  app.post('/api/series/:id/approve', apiAction('approve')); // { "reply": <outbox id> }
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  // the same actions from the pages' forms (no JavaScript): the token is a form field
  app.post('/series/:id/:action', async (req, reply) => {
    const { id, action } = req.params as { id: string; action: string };
    const form = (req.body ?? {}) as Record<string, string>;
    const kind: Action | null = action === 'retest' ? 'retest' : action === 'tree' ? 'tree' : action === 'approve' ? 'approve'
      : action === 'supersede' ? (form.undo ? 'unsupersede' : 'supersede') : null;
    if (!kind) return reply.code(404).type('text/plain').send('no such action\n');
    const r = await act(kind, id, bearer(req) ?? form.token, kind === 'approve' ? form.reply : form.tree);
    const msg = r.code === 200 ? Object.entries(r.body).map(([k, v]) => `${k}: ${v}`).join(', ') : r.body.error;
    reply.code(r.code).type('text/html; charset=utf-8');
    return `<!doctype html><meta charset="utf-8"><title>${action}</title><p id="result">${msg.replace(/[&<>"']/g, '')}</p><p><a href="/series/${encodeURIComponent(id)}">back</a></p>`;
  });

  // --- pages -------------------------------------------------------------------------------------------
  app.get('/', async (req, reply) => {
    const f = filterOf(req.query as Record<string, string>);
    f.limit = Math.min(f.limit ?? 100, 500);
    projects.refresh();
    const { rows, total } = querySeries(db, f);
    const v = distinctValues(db);
    reply.type('text/html; charset=utf-8');
    return queuePage(rows, total, f, { ...v, projects: projects.projects }, (id) => projects.projectsOf(id));
  });
  app.get('/series/:id', async (req, reply) => {
    const { id } = req.params as { id: string };
    const row = seriesRow(db, id);
    if (!row) return reply.code(404).type('text/plain').send(`no series ${id}\n`);
    const s = row.series;
    projects.refresh();
    const revisions = revisionsOf(db, s);
    const compareId = (req.query as { compare?: string }).compare;
    const idx = revisions.findIndex((r) => r.id === s.id);
    const older = (compareId && revisions.find((r) => r.id === compareId && r.id !== s.id)) || (idx > 0 ? revisions[idx - 1] : null);
    const compare = older ? { older, pairs: compareRevisions(older, s, diffOf) } : null;
    const run = (runOf.get(s.id, s.version) as { state: string; verdict: string | null; detail: string | null; branch: string | null; updated_at: string } | undefined) ?? null;
    reply.type('text/html; charset=utf-8');
    const marked = db.prepare("SELECT 1 FROM series_overrides WHERE series_id = ? AND key = 'superseded'").get(s.id) !== undefined;
    const treeSet = (db.prepare("SELECT value FROM series_overrides WHERE series_id = ? AND key = 'tree'").pluck().get(s.id) as string | undefined) ?? null;
    return seriesPage({ row, revisions, compare, outcomes: outcomesOf(db, s.id, s.version), outbox: outboxOf(db, s.id), run, projects: projects.projectsOf(s.id), marked, treeSet, trees: opts.trees ?? distinctValues(db).trees, merge: mergeOf(db, s.id) });
  });
  app.get('/outbox', async (_req, reply) => {
    reply.type('text/html; charset=utf-8');
    return outboxPage(outboxOf(db));
  });
  app.get('/projects', async (_req, reply) => {
    projects.refresh();
    reply.type('text/html; charset=utf-8');
    return projectsPage(projects.projects.map((p) => projectSummary(db, p)));
  });
  registerHeadsRoutes(app, db);
  registerHeadsActions(app, { db, token: opts.actionToken, heads: opts.heads, trees: opts.trees });
  app.get('/workers', async (_req, reply) => {
    const q = await readQueues(opts.queues ?? null);
    const sources = db.prepare('SELECT * FROM source_health ORDER BY source').all() as SourceRow[];
    reply.type('text/html; charset=utf-8');
    return workersPage(q, sources, bullBoard);
  });
  registerMailSinkRoutes(app, db); // /mail: what a local SMTP sink received (src/demo/mail-sink.ts)
  return app;
}

/** `host:port` → fastify listen options. */
export function parseListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  if (i < 0) throw new Error(`web.listen must be host:port, not ${listen}`);
  return { host: listen.slice(0, i).replace(/^\[|\]$/g, ''), port: parseInt(listen.slice(i + 1), 10) };
}
