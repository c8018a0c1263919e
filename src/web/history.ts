// The HEAD history pages: /heads (trees with HEAD runs) and /heads/:tree (per metric, the median and range of
// every HEAD run over time, each ISO week marked with its commits; the bisections; the cells' health).
// Registered by one line in server.ts: registerHeadsRoutes(app, db).
import type { FastifyInstance } from 'fastify';
import { cellHealth } from '../heads/flaky.js';
import { bisections, headRuns, metricHistory, type HistoryPoint } from '../heads/store.js';
import type { Db } from '../store/db.js';
import { esc, page } from './html.js';

const pct = (v: number | null) => (v === null ? '?' : `${v >= 0 ? '+' : ''}${(v * 100).toFixed(2)}%`);

/** Monday 00:00 UTC of T's ISO week. */
function weekStart(t: number): number {
  const d = new Date(t);
  const day = (d.getUTCDay() + 6) % 7;
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - day);
}

/** One metric over the HEAD runs: median with the min-max range per run, a line at each week's start. */
export function headHistorySvg(metric: string, points: HistoryPoint[]): string {
  if (points.length === 0) return '';
  const W = 640, H = 240, L = 70, R = 16, T = 24, B = 48;
  const ts = points.map((p) => Date.parse(p.at.endsWith('Z') ? p.at : `${p.at}Z`));
  let t0 = Math.min(...ts), t1 = Math.max(...ts);
  if (t1 === t0) {
    t0 -= 3.5 * 86400e3;
    t1 += 3.5 * 86400e3;
  }
  let lo = Math.min(...points.map((p) => p.min)), hi = Math.max(...points.map((p) => p.max));
  const pad = (hi - lo) * 0.1 || hi * 0.01 || 1;
  lo -= pad;
  hi += pad;
  const x = (t: number) => L + (W - L - R) * ((t - t0) / (t1 - t0));
  const y = (v: number) => T + (H - T - B) * (1 - (v - lo) / (hi - lo));
  const weeks: string[] = [];
  for (let w = weekStart(t0); w <= t1; w += 7 * 86400e3) {
    const commits = points.filter((_, i) => weekStart(ts[i]) === w).map((p) => p.commit.slice(0, 12));
    if (w < t0 && commits.length === 0) continue;
    const wx = x(Math.max(w, t0)).toFixed(1);
    weeks.push(`<g class="week"><line x1="${wx}" x2="${wx}" y1="${T}" y2="${H - B}" stroke="#ddd" stroke-dasharray="3,3"/>` +
      `<text x="${wx}" y="${H - B + 14}" font-size="10" fill="#777">${new Date(w).toISOString().slice(0, 10)}</text>` +
      `<title>week of ${new Date(w).toISOString().slice(0, 10)}: ${esc(commits.join(', ') || 'no run')}</title></g>`);
  }
  const marks = points.map((p, i) => {
    const cx = x(ts[i]).toFixed(1);
    return `<g class="point"><line x1="${cx}" x2="${cx}" y1="${y(p.max).toFixed(1)}" y2="${y(p.min).toFixed(1)}" stroke="#36c" stroke-width="1.5"/>` +
      `<circle cx="${cx}" cy="${y(p.median).toFixed(1)}" r="4" fill="#36c"><title>run ${p.run} ${esc(p.commit.slice(0, 12))}: median ${p.median.toFixed(1)} (${p.n} boots, ${p.min.toFixed(1)}..${p.max.toFixed(1)})</title></circle></g>`;
  }).join('');
  const labels = [lo + pad, hi - pad].map((v) => `<text x="${L - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" font-size="11" fill="#555">${v.toPrecision(5)}</text>`).join('');
  return `<svg class="head-history" data-metric="${esc(metric)}" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(metric)} over HEAD runs">
<rect width="${W}" height="${H}" fill="#fff"/><text x="${L}" y="14" font-size="13" font-weight="bold">${esc(metric)}</text>${weeks.join('')}${labels}${marks}</svg>`;
}

export function headsTreePage(db: Db, tree: string): string {
  const history = metricHistory(db, tree);
  const runs = headRuns(db, tree, 50);
  const bis = bisections(db, tree, 20);
  const health = cellHealth(db, tree);
  const plots = Object.entries(history).map(([m, pts]) => `<section>${headHistorySvg(m, pts)}</section>`).join('');
  const runRows = runs.map((r) => `<tr><td>${r.id}</td><td><code>${esc(r.commit_id.slice(0, 12))}</code></td><td>${esc(r.trigger)}</td><td>${esc(r.status)}</td><td>${esc(r.started_at)}</td><td>${esc(r.note ?? '')}</td></tr>`).join('');
  const candidatesOf = (data: string) => {
    try {
      const c = (JSON.parse(data) as { candidates?: { commit: string }[] }).candidates ?? [];
      return c.length ? `one of ${c.length}: <code>${esc(c[0].commit.slice(0, 12))}</code>..<code>${esc(c[c.length - 1].commit.slice(0, 12))}</code> (skipped commits)` : '';
    } catch {
      return '';
    }
  };
  // the maintainers' actions (src/web/heads-actions.ts): a HEAD run now, a bisection of a detected change
  const tokenField = '<input type="password" name="token" placeholder="maintainer token" required>';
  const changes = db.prepare(`SELECT c.id, c.metric, c.verdict, c.change, r.commit_id FROM head_changes c JOIN head_runs r ON r.id = c.to_run
      WHERE c.tree = ? AND c.verdict IN ('regression', 'improvement') ORDER BY c.id DESC LIMIT 20`).all(tree) as { id: number; metric: string; verdict: string; change: number; commit_id: string }[];
  const changeRows = changes.map((c) => `<tr><td>${c.id}</td><td>${esc(c.metric)}</td><td>${esc(c.verdict)}</td><td>${esc(pct(c.change))}</td><td><code>${esc(c.commit_id.slice(0, 12))}</code></td>` +
    `<td><form method="post" action="/heads/changes/${c.id}/bisect">${tokenField}<button>bisect</button></form></td></tr>`).join('');
  const bisRows = bis.map((b) => `<tr><td>${b.id}</td><td>${esc(b.metric)}</td><td>${esc(b.state)}</td><td>${b.culprit ? `<code>${esc(b.culprit.slice(0, 12))}</code> ${esc(b.subject ?? '')}` : candidatesOf(b.data)}</td><td>${esc(pct(b.change))}</td><td>${b.steps ?? ''} / ${b.bound ?? ''}</td></tr>`).join('');
  const cellRows = health.map((c) => `<tr class="cell-${esc(c.state)}"><td>${esc(c.cell)}</td><td>${esc(c.state)}</td><td>${esc(c.streak.outcome)} × ${c.streak.length}</td><td>${esc(c.outcomes.map((o) => (o.outcome === 'pass' ? '✓' : o.outcome === 'fail' ? '✗' : '↻')).join(''))}</td></tr>`).join('');
  return page(`HEAD ${tree}`, `<h2>HEAD runs of ${esc(tree)}</h2>
${plots || '<p class="muted">no HEAD runs yet</p>'}
<form method="post" action="/heads/${encodeURIComponent(tree)}/run">${tokenField}<button>run HEAD now</button></form>
${changeRows ? `<h3>Detected changes</h3><table><thead><tr><th>#</th><th>metric</th><th>verdict</th><th>change</th><th>at</th><th></th></tr></thead><tbody>${changeRows}</tbody></table>` : ''}
<h3>Bisections</h3><table><thead><tr><th>#</th><th>metric</th><th>state</th><th>culprit</th><th>size</th><th>steps / budget</th></tr></thead><tbody>${bisRows}</tbody></table>
<h3>Cells</h3><table><thead><tr><th>cell</th><th>state</th><th>streak</th><th>runs</th></tr></thead><tbody>${cellRows}</tbody></table>
<h3>Runs</h3><table><thead><tr><th>#</th><th>commit</th><th>trigger</th><th>status</th><th>started</th><th>note</th></tr></thead><tbody>${runRows}</tbody></table>`, { live: false });
}

export function headsIndexPage(db: Db): string {
  const trees = db.prepare(`SELECT tree, count(*) AS runs, max(started_at) AS last FROM head_runs GROUP BY tree ORDER BY tree`).all() as { tree: string; runs: number; last: string }[];
  const rows = trees.map((t) => `<tr><td><a href="/heads/${encodeURIComponent(t.tree)}">${esc(t.tree)}</a></td><td>${t.runs}</td><td>${esc(t.last)}</td></tr>`).join('');
  return page('HEAD runs', `<h2>HEAD runs</h2><table><thead><tr><th>tree</th><th>runs</th><th>last</th></tr></thead><tbody>${rows}</tbody></table>`, { live: false });
}

export function registerHeadsRoutes(app: FastifyInstance, db: Db): void {
  app.get('/heads', async (_req, reply) => {
    reply.type('text/html; charset=utf-8');
    return headsIndexPage(db);
  });
  app.get('/heads/:tree', async (req, reply) => {
    reply.type('text/html; charset=utf-8');
    return headsTreePage(db, (req.params as { tree: string }).tree);
  });
}
