// The maintainers' HEAD actions on the dashboard (token required, like the series actions in server.ts):
//   POST /api/heads/:tree/run              a HEAD run of the tree now
//   POST /api/heads/changes/:id/bisect     bisect a detected change (a head_changes row)
// and the same from the pages' forms (no JavaScript, the token a form field): POST /heads/:tree/run,
// POST /heads/changes/:id/bisect. Both add a job to the heads queue, the one the schedule adds to
// (src/heads/schedule.ts): the worker runs it like a scheduled run. Registered by one line in server.ts.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { HeadsEnqueuer } from '../heads/schedule.js';
import type { Db } from '../store/db.js';

export interface HeadsActionsOptions {
  db: Db;
  /** the maintainers' token (web.token); without one every action is refused */
  token?: string;
  /** the heads queue (absent: the actions answer 503) */
  heads?: HeadsEnqueuer | null;
  /** the configured trees (absent: any well-formed name) */
  trees?: string[];
}

type Result = { code: number; body: Record<string, string> };

function tokenMatches(expected: string | undefined, given: string | undefined): boolean {
  if (!expected || !given) return false;
  const a = Buffer.from(expected), b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

function bearer(req: FastifyRequest): string | undefined {
  return /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
}

export function registerHeadsActions(app: FastifyInstance, o: HeadsActionsOptions): void {
  const changeOf = o.db.prepare('SELECT id, tree, metric, verdict FROM head_changes WHERE id = ?');

  async function headRun(tree: string, token: string | undefined): Promise<Result> {
    if (!tokenMatches(o.token, token)) return { code: 401, body: { error: 'a maintainer token is needed for this action' } };
    if (!/^[\w.+-]{1,64}$/.test(tree) || (o.trees && !o.trees.includes(tree))) return { code: 400, body: { error: `not a configured tree: ${tree.slice(0, 64)}` } };
    if (!o.heads) return { code: 503, body: { error: 'no heads queue is attached to this server' } };
    return { code: 200, body: { queued: await o.heads.headRun(tree, 'web'), tree } };
  }

  async function bisectChange(id: string, token: string | undefined): Promise<Result> {
    if (!tokenMatches(o.token, token)) return { code: 401, body: { error: 'a maintainer token is needed for this action' } };
    const row = /^\d{1,9}$/.test(id) ? (changeOf.get(Number(id)) as { id: number; tree: string; metric: string; verdict: string } | undefined) : undefined;
    if (!row) return { code: 404, body: { error: `no detected change ${id.slice(0, 16)}` } };
    if (!o.heads) return { code: 503, body: { error: 'no heads queue is attached to this server' } };
    const queued = await o.heads.bisect(row.tree, 'web', { changeId: row.id });
    return { code: 200, body: { queued, tree: row.tree, metric: row.metric } };
  }

  app.post('/api/heads/:tree/run', async (req, reply) => {
    const r = await headRun((req.params as { tree: string }).tree, bearer(req));
    return reply.code(r.code).send(r.body);
  });
  app.post('/api/heads/changes/:id/bisect', async (req, reply) => {
    const r = await bisectChange((req.params as { id: string }).id, bearer(req));
    return reply.code(r.code).send(r.body);
  });

  const html = (title: string, r: Result, back: string) => {
    const msg = r.code === 200 ? Object.entries(r.body).map(([k, v]) => `${k}: ${v}`).join(', ') : r.body.error;
    return `<!doctype html><meta charset="utf-8"><title>${title}</title><p id="result">${msg.replace(/[&<>"']/g, '')}</p><p><a href="${back}">back</a></p>`;
  };
  app.post('/heads/:tree/run', async (req, reply) => {
    const { tree } = req.params as { tree: string };
    const form = (req.body ?? {}) as Record<string, string>;
    const r = await headRun(tree, bearer(req) ?? form.token);
    return reply.code(r.code).type('text/html; charset=utf-8').send(html('HEAD run', r, `/heads/${encodeURIComponent(tree)}`));
  });
  app.post('/heads/changes/:id/bisect', async (req, reply) => {
    const { id } = req.params as { id: string };
    const form = (req.body ?? {}) as Record<string, string>;
    const r = await bisectChange(id, bearer(req) ?? form.token);
    return reply.code(r.code).type('text/html; charset=utf-8').send(html('bisect', r, r.body.tree ? `/heads/${encodeURIComponent(r.body.tree)}` : '/heads'));
  });
}
