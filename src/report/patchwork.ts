// patchwork checks: one check per patch and context (apply and build per patch, every gate copied to
// every patch, as patchwork has no series-level checks), through the outbox like mail.
// API (patchwork 2.x, /api/1.2+): POST <api>/patches/<id>/checks/ with JSON { state, target_url, context,
// description }, `Authorization: Token <token>`; state is pending | success | warning | fail; the answer is
// 201 with the created check. A patch is found by `GET <api>/patches/?project=<p>&msgid=<id without <>>`
// unless ingest already recorded its id (table patchwork_patches).
// A check is a new row each time, and patchwork shows the newest per context: posting one twice after a
// crash only repeats it, so patchwork rows are at-least-once (unlike mail).
import { logger } from '../log.js';
import type { Db } from '../store/db.js';
import type { ReportContext } from './context.js';
import { renderPatchworkChecks, type PatchworkCheck } from './render.js';

const log = logger.child({ module: 'report', channel: 'patchwork' });

export interface PatchworkTarget {
  /** the API root, e.g. https://patchwork.kernel.org/api/1.3/ */
  apiUrl: string;
  project: string;
  token: string;
  /** the ingest source's name (patchwork_patches.source), if the series came from it */
  source?: string;
}

export class PatchworkError extends Error {
  constructor(message: string, public readonly status: number | null, public readonly body: string) {
    super(message);
    this.name = 'PatchworkError';
  }
}

function apiRoot(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

/** patchwork's check context is a slug. */
function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]+/g, '-');
}

async function call(target: PatchworkTarget, method: string, url: string, body?: unknown): Promise<unknown> {
  const res = await fetch(url, {
    method,
    headers: {
      Accept: 'application/json',
      Authorization: `Token ${target.token}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new PatchworkError(`${method} ${url}: HTTP ${res.status}`, res.status, text.slice(0, 500));
  return text ? JSON.parse(text) : null;
}

/** The patchwork patch id of a message: from the store (ingest recorded it) or asked by msgid. */
export async function findPatchId(db: Db | null, target: PatchworkTarget, msgid: string): Promise<number | null> {
  if (db) {
    const row = db.prepare('SELECT patch_id FROM patchwork_patches WHERE msgid = ? AND (? IS NULL OR source = ?) ORDER BY patch_id DESC LIMIT 1')
      .get(msgid, target.source ?? null, target.source ?? null) as { patch_id: number } | undefined;
    if (row) return row.patch_id;
  }
  const bare = msgid.replace(/^<|>$/g, '');
  const url = `${apiRoot(target.apiUrl)}patches/?project=${encodeURIComponent(target.project)}&msgid=${encodeURIComponent(bare)}`;
  const list = await call(target, 'GET', url);
  if (!Array.isArray(list) || list.length === 0) return null;
  const id = (list[0] as { id?: unknown }).id;
  return typeof id === 'number' ? id : null;
}

export interface PostedCheck {
  id: number;
  url: string;
}

/** Posts one check; retries network errors and 5xx answers (not 4xx: those are permanent). */
export async function postCheck(target: PatchworkTarget, patchId: number, check: Omit<PatchworkCheck, 'msgid'>,
  opts: { retries?: number; delayMs?: number } = {}): Promise<PostedCheck> {
  const retries = opts.retries ?? 3;
  const url = `${apiRoot(target.apiUrl)}patches/${patchId}/checks/`;
  const body = {
    state: check.state, context: slug(check.context), description: check.description,
    ...(check.target_url ? { target_url: check.target_url } : {}),
  };
  for (let attempt = 1; ; attempt++) {
    try {
      const data = (await call(target, 'POST', url, body)) as { id: number; url: string };
      return { id: data.id, url: data.url };
    } catch (err) {
      const status = err instanceof PatchworkError ? err.status : null;
      const permanent = status !== null && status >= 400 && status < 500 && status !== 429;
      if (permanent || attempt > retries) throw err;
      await new Promise((r) => setTimeout(r, (opts.delayMs ?? 1000) * 2 ** (attempt - 1)));
    }
  }
}

/** Writes one outbox row per check (channel patchwork); the same state of a check is queued once. */
export function queuePatchworkChecks(db: Db, ctx: ReportContext, opts: { dryRun: boolean }): number {
  const insert = db.prepare(`INSERT INTO outbox (message_id, series_id, version, channel, recipients, payload, state, verdict)
      VALUES (?, ?, ?, 'patchwork', '[]', ?, ?, ?) ON CONFLICT (message_id) DO NOTHING`);
  let queued = 0;
  db.transaction(() => {
    for (const c of renderPatchworkChecks(ctx)) {
      const key = `pw:${ctx.series.id}:v${ctx.series.version}:${c.msgid}:${c.context}:${c.state}:${c.description}`;
      queued += insert.run(key, ctx.series.id, ctx.series.version, JSON.stringify(c), opts.dryRun ? 'dry-run' : 'pending', ctx.verdict).changes;
    }
  })();
  return queued;
}

/**
 * Where a patch's checks go: the patchwork source ingest recorded it from (patchwork_patches), with its
 * patch id; for a patch no patchwork source delivered (the series came by mail), the first source with a
 * token whose instance knows the msgid. A source is matched by name (a target without a name matches any).
 */
export async function routeCheck(db: Db, targets: PatchworkTarget[], msgid: string):
  Promise<{ target: PatchworkTarget; patchId: number } | { skip: string }> {
  const known = db.prepare('SELECT source, patch_id FROM patchwork_patches WHERE msgid = ? ORDER BY patch_id DESC')
    .all(msgid) as { source: string; patch_id: number }[];
  if (known.length > 0) {
    for (const k of known) {
      const target = targets.find((t) => t.source === undefined || t.source === k.source);
      if (target) return { target, patchId: k.patch_id };
    }
    return { skip: `${msgid} came from patchwork source ${[...new Set(known.map((k) => k.source))].join(', ')}, which has no token configured` };
  }
  for (const target of targets) {
    const patchId = await findPatchId(null, target, msgid);
    if (patchId !== null) return { target, patchId };
  }
  return { skip: `patchwork does not know ${msgid}` };
}

/**
 * Posts the pending patchwork rows, each to the patchwork source its patch came from (routeCheck). A patch
 * no source knows is `skipped`; 4xx answers are `failed`.
 */
export async function sendPatchworkOutbox(db: Db, targets: PatchworkTarget | PatchworkTarget[], opts: { retries?: number; delayMs?: number } = {}):
  Promise<{ sent: number; failed: number; skipped: number }> {
  const list = Array.isArray(targets) ? targets : [targets];
  const rows = db.prepare(`SELECT id, payload FROM outbox WHERE channel = 'patchwork' AND state = 'pending' ORDER BY id`).all() as { id: number; payload: string }[];
  const done = db.prepare(`UPDATE outbox SET state = ?, result = ?, attempts = attempts + 1, sent_at = ? WHERE id = ?`);
  const summary = { sent: 0, failed: 0, skipped: 0 };
  const routes = new Map<string, Awaited<ReturnType<typeof routeCheck>>>();
  for (const row of rows) {
    const check = JSON.parse(row.payload) as PatchworkCheck;
    try {
      if (!routes.has(check.msgid)) routes.set(check.msgid, await routeCheck(db, list, check.msgid));
      const route = routes.get(check.msgid)!;
      if ('skip' in route) {
        done.run('skipped', JSON.stringify({ reason: route.skip }), null, row.id);
        summary.skipped++;
        continue;
      }
      const posted = await postCheck(route.target, route.patchId, check, opts);
      done.run('sent', JSON.stringify({ source: route.target.source ?? null, patch: route.patchId, check: posted }), new Date().toISOString(), row.id);
      summary.sent++;
    } catch (err) {
      const e = err as Error & { status?: number | null; body?: string };
      done.run('failed', JSON.stringify({ error: e.message, status: e.status ?? null, body: e.body ?? null }), null, row.id);
      summary.failed++;
      log.error({ err: e.message, msgid: check.msgid, context: check.context }, 'patchwork check not posted');
    }
  }
  return summary;
}
