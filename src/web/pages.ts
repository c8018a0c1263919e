// Server-rendered pages of the maintainer dashboard.
import type { Series } from '../series/types.js';
import { esc, href, icon, page, seriesHref, status } from './html.js';
import { perfData, type ProjectSummary } from './projects.js';
import { SERIES_STATES, SORT_KEYS, type OutboxRow, type OutcomeRow, type SeriesFilter, type SeriesRow } from './queries.js';
import type { StoredMerge } from '../trees/merged.js';
import type { PatchPair } from './revisions.js';
import { distributionSvg, historySvg, timelineSvg } from './svg.js';

export interface QueueChoices {
  trees: string[];
  lists: string[];
  projects: { id: string; title: string }[];
}

export const AGES: { value: string; label: string }[] = [
  { value: '1d', label: 'last day' }, { value: '7d', label: 'last week' }, { value: '30d', label: 'last 30 days' },
  { value: '>30d', label: 'older than 30 days' }, { value: '>90d', label: 'older than 90 days' },
];

/** The filter part of the URL (no paging). */
export function filterParams(f: SeriesFilter): Record<string, string | undefined> {
  return { tree: f.tree, list: f.list, state: f.state, project: f.project, submitter: f.submitter, age: f.age, q: f.q, sort: f.sort, order: f.order };
}

/** The series name, else its first patch's (marked), else a placeholder. */
function displayName(s: Series): string {
  if (s.name) return esc(s.name);
  const first = [...s.patches].sort((a, b) => a.number - b.number)[0];
  return first ? `<i>${esc(first.name)}</i>` : '(no name yet)';
}

function when(iso: string | null | undefined): string {
  return esc((iso ?? '').slice(0, 16).replace('T', ' '));
}

export function queuePage(rows: SeriesRow[], total: number, f: SeriesFilter, c: QueueChoices, projectsOf: (id: string) => string[]): string {
  const opt = (v: string, cur: string | undefined, label = v) => `<option value="${esc(v)}"${v === (cur ?? '') ? ' selected' : ''}>${esc(label)}</option>`;
  const filters = `<form class="filters" method="get" action="/">
  <select name="tree" aria-label="tree">${opt('', f.tree, 'all trees')}${c.trees.map((t) => opt(t, f.tree)).join('')}</select>
  <select name="list" aria-label="list">${opt('', f.list, 'all lists')}${c.lists.map((t) => opt(t, f.list)).join('')}</select>
  <select name="state" aria-label="state">${opt('', f.state, 'all states')}${SERIES_STATES.map((s) => opt(s, f.state)).join('')}</select>
  <select name="project" aria-label="project">${opt('', f.project, 'all projects')}${c.projects.map((p) => opt(p.id, f.project, p.id)).join('')}</select>
  <select name="age" aria-label="age">${opt('', f.age, 'any age')}${AGES.map((a) => opt(a.value, f.age, a.label)).join('')}</select>
  <input name="submitter" value="${esc(f.submitter ?? '')}" placeholder="submitter address" aria-label="submitter">
  <input name="q" value="${esc(f.q ?? '')}" placeholder="name, submitter or id" aria-label="search">
  <select name="sort" aria-label="sort">${SORT_KEYS.map((k) => opt(k, f.sort ?? 'date', `by ${k}`)).join('')}</select>
  <select name="order" aria-label="order">${opt('', f.order, 'default order')}${opt('asc', f.order, 'ascending')}${opt('desc', f.order, 'descending')}</select>
  <button type="submit">filter</button> <a href="/">reset</a></form>`;
  const base = filterParams(f);
  const sortLink = (key: string, label: string) => {
    const cur = (f.sort ?? 'date') === key;
    const order = cur ? (f.order === 'asc' ? 'desc' : f.order === 'desc' ? 'asc' : key === 'date' ? 'asc' : 'desc') : undefined;
    return `<a href="${esc(href('/', { ...base, sort: key, order, offset: undefined }))}">${label}${cur ? ' ↕' : ''}</a>`;
  };
  const body = rows.map((r) => {
    const s = r.series;
    const gatesTitle = r.gates.map((g) => `${g.id} ${g.status}`).join(', ');
    const projects = projectsOf(s.id);
    return `<tr data-series="${esc(s.id)}" data-state="${esc(r.state)}">
<td>${status(r.state)}</td>
<td><a class="series-link" href="${seriesHref(s.id)}">${displayName(s)}</a>${s.rfc ? ' <span class="muted">RFC</span>' : ''}
 ${s.tags.map((t) => `<span class="muted">[${esc(t)}]</span>`).join(' ')}${projects.map((p) => ` <a class="muted" href="${esc(href('/', { project: p }))}">#${esc(p)}</a>`).join('')}</td>
<td>v${s.version}</td><td>${s.patches.length}/${s.total}</td>
<td class="verdicts">${icon('apply', r.apply)}${icon('build', r.build)}${icon('gate', r.gate, gatesTitle)}</td>
<td title="${r.acks} Acked-by, ${r.reviews} Reviewed-by">${r.acks + r.reviews ? `${r.acks}A ${r.reviews}R` : '<span class="muted">0</span>'}</td>
<td>${esc(r.tree ?? '')}</td><td class="muted" title="${esc(r.list ?? '')}">${esc((r.list ?? '').split('.')[0])}</td>
<td><a href="${esc(href('/', { submitter: s.submitter.email }))}">${esc(s.submitter.name || s.submitter.email)}</a></td><td class="muted">${when(r.firstDate)}</td></tr>`;
  }).join('\n');
  const offset = f.offset ?? 0, limit = f.limit ?? 100;
  const prev = offset > 0 ? `<a rel="prev" href="${esc(href('/', { ...base, offset: Math.max(0, offset - limit) || undefined }))}">previous page</a>` : '';
  const next = offset + limit < total ? `<a rel="next" href="${esc(href('/', { ...base, offset: offset + limit }))}">next page</a>` : '';
  return page('queue', `${filters}
<div id="queue-live" data-live>
<p class="muted"><span id="total">${total}</span> series${total ? `, ${offset + 1}–${Math.min(total, offset + limit)} shown` : ''}</p>
<table id="queue"><thead><tr><th>${sortLink('state', 'state')}</th><th>${sortLink('name', 'series')}</th><th>rev</th><th>n/m</th><th>apply build gate</th><th>trailers</th><th>tree</th><th>list</th><th>${sortLink('submitter', 'submitter')}</th><th>${sortLink('date', 'first seen')}</th></tr></thead>
<tbody>${body}</tbody></table>
<p class="pager">${prev} ${next}</p></div>`);
}

interface ApplyEntry { msgid: string; outcome: string; detail?: string }
interface BuildEntry { msgid: string; status: string; new_warnings?: { file: string; line: number; message: string }[]; errors?: { file: string; line: number; message: string }[] }
interface GateEntry { id: string; status: string; summary?: string; details?: { msgid?: string; status: string; message: string }[] }

function arr<T>(v: unknown): T[] {
  return Array.isArray(v) ? (v as T[]) : [];
}

function interdiffHtml(p: PatchPair): string {
  if (!p.interdiff) return p.note ? `<span class="muted">${esc(p.note)}</span>` : '';
  const lines = p.interdiff.map((l) => l.op === '…' ? '<span class="gap">…</span>'
    : `<span class="${l.op === '+' ? 'add' : l.op === '-' ? 'del' : 'ctx'}">${esc(l.op + l.text)}</span>`).join('\n');
  return `<details><summary>diff of the diffs</summary><pre class="interdiff">${lines}</pre></details>`;
}

export interface SeriesPageData {
  row: SeriesRow;
  revisions: Series[];
  /** the revision compared with (usually the previous one) and the comparison */
  compare: { older: Series; pairs: PatchPair[] } | null;
  outcomes: OutcomeRow[];
  outbox: OutboxRow[];
  run: { state: string; verdict: string | null; detail: string | null; branch: string | null; updated_at: string } | null;
  projects: string[];
  /** a maintainer marked it superseded */
  marked: boolean;
  /** the tree a maintainer set for it, if any */
  treeSet: string | null;
  /** trees the tree action offers */
  trees: string[];
  /** where its patches were found in a tree's branch (src/trees/merged.ts) */
  merge?: StoredMerge | null;
}

function mergeHtml(m: StoredMerge, s: Series): string {
  const name = new Map(s.patches.map((p) => [p.msgid, `${p.number}. ${p.name}`]));
  const items = m.commits.map((c) => `<li data-commit="${esc(c.commit)}" data-how="${esc(c.how)}">${c.commit ? `<code>${esc(c.commit.slice(0, 12))}</code> ` : ''}${esc(name.get(c.msgid) ?? c.msgid)} <span class="muted">(${esc(c.how)})</span></li>`).join('');
  return `<div id="merged" data-tree="${esc(m.tree)}" data-how="${esc(m.how)}"><p>merged in <b>${esc(m.tree)}</b>${m.branch ? ` (${esc(m.branch)})` : ''}${m.committed_at ? `, committed ${when(m.committed_at)}` : ''}, found ${when(m.detected_at)} by ${esc(m.how)}</p><ul>${items}</ul></div>`;
}

export function seriesPage(d: SeriesPageData): string {
  const { row, revisions, outcomes, outbox } = d;
  const s = row.series;
  const revs = revisions.map((r) => `<li>${r.id === s.id ? `<b>v${r.version}</b>` : `<a href="${seriesHref(r.id)}">v${r.version}</a>`}
  ${esc(r.name ?? '')} (${r.patches.length}/${r.total})${r.id !== s.id ? ` · <a href="${esc(href(seriesHref(s.id), { compare: r.id }))}">compare with this</a>` : ''}</li>`).join('');
  let compare = '';
  if (d.compare) {
    const o = d.compare.older;
    const cells = d.compare.pairs.map((p) => `<tr class="chg-${p.change}" data-change="${p.change}">
<td>${p.older ? `${p.older.number}. ${esc(p.older.name)}` : ''}</td><td>${p.newer ? `${p.newer.number}. ${esc(p.newer.name)}` : ''}</td>
<td>${esc(p.change)}</td><td>${interdiffHtml(p)}</td></tr>`).join('\n');
    const counts = (['changed', 'renamed', 'added', 'removed', 'same'] as const).map((k) => [k, d.compare!.pairs.filter((p) => p.change === k).length] as const)
      .filter(([, n]) => n).map(([k, n]) => `${n} ${k}`).join(', ');
    compare = `<h3>v${o.version} → v${s.version}</h3><p class="muted">${esc(counts)}</p>
<table id="compare"><thead><tr><th><a href="${seriesHref(o.id)}">v${o.version}</a></th><th>v${s.version}</th><th>change</th><th></th></tr></thead><tbody>${cells}</tbody></table>`;
  }
  const byStage = new Map(outcomes.map((o) => [o.stage, o]));
  const applyData = (byStage.get('apply')?.data ?? {}) as { apply?: unknown };
  const buildData = (byStage.get('build')?.data ?? {}) as { build?: unknown };
  const applied = new Map(arr<ApplyEntry>(applyData.apply).map((a) => [a.msgid, a]));
  const built = new Map(arr<BuildEntry>(buildData.build).map((b) => [b.msgid, b]));
  const gateOutcomes = outcomes.filter((o) => o.stage.startsWith('gate:'));
  const patches = s.patches.map((p) => {
    const a = applied.get(p.msgid), b = built.get(p.msgid);
    const gates = gateOutcomes.flatMap((g) => arr<{ msgid?: string; status: string; message: string }>((g.data as GateEntry).details)
      .filter((x) => x.msgid === p.msgid).map((x) => `${status(x.status)} ${esc(g.stage.slice(5))}: ${esc(x.message)}`));
    const bw = b ? [...(b.errors ?? []).map((e) => `error ${e.file}:${e.line} ${e.message}`), ...(b.new_warnings ?? []).map((w) => `warning ${w.file}:${w.line} ${w.message}`)] : [];
    return `<tr data-msgid="${esc(p.msgid)}"><td>${p.number}</td><td>${esc(p.name)}<div class="muted">${esc(p.author.name || p.author.email)}</div></td>
<td>${a ? `${icon('apply', a.outcome, a.detail ?? '')} ${esc(a.outcome)}` : icon('apply', null)}</td>
<td>${b ? `${icon('build', b.status)}${bw.length ? `<details><summary>${bw.length} new</summary><pre>${esc(bw.join('\n'))}</pre></details>` : ''}` : icon('build', null)}</td>
<td>${gates.join('<br>')}</td>
<td>${p.trailers.filter((t) => t.from !== p.msgid).map((t) => `${esc(t.name)}: ${esc(t.value)}`).join('<br>')}</td>
<td class="muted">${esc(p.files.join(' '))}</td></tr>`;
  }).join('\n');
  const outs = outcomes.map((o) => `<tr data-stage="${esc(o.stage)}"><td>${esc(o.stage)}</td><td>${status(o.status)}</td><td>${esc(o.summary ?? '')}</td><td class="muted">${when(o.updated_at)}</td>
<td><details><summary>log</summary><pre>${esc(JSON.stringify(o.data, null, 2))}</pre></details></td></tr>`).join('\n');
  const perf = gateOutcomes.filter((o) => o.stage === 'gate:perf').map((o) => {
    const pd = perfData(o.data);
    const names = [...new Set([...Object.keys(pd.metrics), ...Object.keys(pd.samples?.baseline ?? {})])].sort();
    const plots = names.map((m) => distributionSvg(m, pd.samples?.baseline[m] ?? [], pd.samples?.candidate[m] ?? [], pd.metrics[m])).filter(Boolean).join('\n');
    return `<div id="perf" class="plots">${plots || '<p class="muted">the perf gate stored no samples</p>'}</div>`;
  }).join('');
  // a reply held in the outbox (dry-run mail) can be approved for sending by a maintainer (form POST, no JavaScript)
  const approve = (m: OutboxRow) => m.state === 'dry-run' && m.channel === 'mail'
    ? `<form method="post" action="${esc(seriesHref(s.id))}/approve" class="filters approve" data-reply="${m.id}"><input type="hidden" name="reply" value="${m.id}"><input type="password" name="token" placeholder="maintainer token" aria-label="token for approving reply ${m.id}" autocomplete="off"><button type="submit">approve sending</button> <span class="muted">held: not sent until approved</span></form>`
    : '';
  const mails = outbox.map((m) => `<details class="reply" data-state="${esc(m.state)}" data-reply="${m.id}"><summary>v${m.version} ${esc(m.channel)} ${status(m.state)} ${esc(m.message_id)}${m.sent_at ? ` sent ${when(m.sent_at)}` : ''}</summary><pre>${esc(m.payload)}</pre></details>${approve(m)}`).join('\n');
  const run = d.run ? `<p>run: ${status(d.run.state)}${d.run.verdict ? ` verdict ${status(d.run.verdict)}` : ''}${d.run.detail ? ` <span class="muted">${esc(d.run.detail)}</span>` : ''}${d.run.branch ? ` · branch <code>${esc(d.run.branch)}</code>` : ''}</p>` : '<p class="muted">not run yet</p>';
  return page(s.name ?? s.id, `<h2>${displayName(s)} <span class="muted">v${s.version}</span> <span id="state">${status(row.state)}</span></h2>
<p>submitter ${esc(s.submitter.name)} &lt;${esc(s.submitter.email)}&gt; · id <code>${esc(s.id)}</code>${row.list ? ` · list ${esc(row.list)}` : ''}
${s.cover ? ` · cover <code>${esc(s.cover)}</code>` : ''}${s.base_commit ? ` · base-commit <code>${esc(s.base_commit)}</code>` : ''}
${d.projects.map((p) => ` <a href="${esc(href('/', { project: p }))}">#${esc(p)}</a>`).join('')}</p>
<div id="series-live" data-live>
<p id="tree">tree: ${row.tree ? `<b>${esc(row.tree)}</b> <span class="muted">(${esc(row.treeReason ?? '')})</span>` : '<span class="muted">not chosen yet</span>'}</p>
${run}
${d.merge ? mergeHtml(d.merge, s) : ''}
<h3>patches</h3><table id="patches"><thead><tr><th>#</th><th>name</th><th>apply</th><th>build</th><th>gates</th><th>collected trailers</th><th>files</th></tr></thead><tbody>${patches}</tbody></table>
${perf ? `<h3>performance</h3>${perf}` : ''}
<h3>outcomes</h3>${outs ? `<table id="outcomes"><tbody>${outs}</tbody></table>` : '<p class="muted">nothing run yet</p>'}
<h3>replies</h3><div id="replies">${mails || '<p class="muted">none</p>'}</div>
</div>
<h3>revisions</h3><ul id="revisions">${revs}</ul>
${compare}
<h3>actions</h3>
<form method="post" action="${esc(seriesHref(s.id))}/retest" class="filters"><input type="password" name="token" placeholder="maintainer token" aria-label="token" autocomplete="off"><button type="submit">retest v${s.version}</button></form>
<form method="post" action="${esc(seriesHref(s.id))}/tree" class="filters"><input type="password" name="token" placeholder="maintainer token" aria-label="token for tree" autocomplete="off">
<input name="tree" list="trees" value="${esc(d.treeSet ?? row.tree ?? '')}" aria-label="tree" placeholder="tree"><datalist id="trees">${d.trees.map((t) => `<option value="${esc(t)}">`).join('')}</datalist><button type="submit">set tree</button>${d.treeSet ? ` <span class="muted">set to ${esc(d.treeSet)}</span>` : ''}</form>
<form method="post" action="${esc(seriesHref(s.id))}/supersede" class="filters"><input type="password" name="token" placeholder="maintainer token" aria-label="token for supersede" autocomplete="off">${d.marked ? '<input type="hidden" name="undo" value="1"><button type="submit">unmark superseded</button>' : '<button type="submit">mark superseded</button>'}</form>`);
}

export function outboxPage(rows: OutboxRow[]): string {
  const body = rows.map((m) => `<tr><td>${when(m.created_at)}</td><td><a href="${seriesHref(m.series_id)}">v${m.version}</a></td><td>${esc(m.channel)}</td><td>${status(m.state)}</td><td>${esc(m.recipients)}</td>
<td><details><summary>${esc(m.message_id)}</summary><pre>${esc(m.payload)}</pre></details></td></tr>`).join('\n');
  return page('outbox', `<h2>outbox</h2><div id="outbox-live" data-live><table id="outbox"><thead><tr><th>created</th><th>series</th><th>channel</th><th>state</th><th>to</th><th>message</th></tr></thead><tbody>${body}</tbody></table></div>`);
}

export function projectsPage(summaries: ProjectSummary[]): string {
  const sections = summaries.map(({ project: p, series, states, metrics }) => {
    const recent = series.slice(-8).reverse().map((s) => `<li><a href="${seriesHref(s.id)}">${esc(s.name ?? s.id)}</a> v${s.version} ${status(s.state)} <span class="muted">${when(s.date)}</span></li>`).join('');
    const plots = Object.entries(metrics).map(([m, pts]) => pts.length ? historySvg(m, pts) : `<p class="muted">${esc(m)}: no perf results yet</p>`).join('\n');
    const criteria = [p.paths.length ? `paths ${p.paths.map((x) => `<code>${esc(x)}</code>`).join(' ')}` : '', p.subjects.length ? `subjects ${p.subjects.map((x) => `<code>${esc(x)}</code>`).join(' ')}` : ''].filter(Boolean).join(' · ');
    return `<section class="project" id="project-${esc(p.id)}"><h3>${esc(p.title)} <a class="muted" href="${esc(href('/', { project: p.id }))}">${series.length} series</a></h3>
${p.todo ? `<p class="muted">TODO: ${esc(p.todo)}</p>` : ''}<p class="muted">${criteria}</p>
<p>${Object.entries(states).map(([k, n]) => `${status(k)} ${n}`).join(' ')}</p>
${series.length ? timelineSvg(series.map((s) => s.date)) : ''}
<div class="plots">${plots}</div>
${recent ? `<ul>${recent}</ul>` : ''}</section>`;
  }).join('\n');
  return page('projects', `<h2>projects</h2><div id="projects-live" data-live>${sections || '<p class="muted">no projects configured (config/projects.yaml)</p>'}</div>`);
}

export interface SourceRow {
  source: string;
  type: string;
  state: string;
  detail: string | null;
  failures: number;
  polls: number;
  messages: number;
  last_poll_at: string | null;
  last_ok_at: string | null;
  last_new_at: string | null;
}

export interface QueueView {
  name: string;
  /** a stage's queue, or `results`: records of store-less workers waiting for the store owner's recorder */
  role?: 'stage' | 'results';
  counts: Record<string, number>;
  active: { id: string; name: string; progress: unknown; timestamp: number }[];
  workers: number;
  /** results queue: when the oldest waiting record was added (ms since the epoch), null when none waits */
  oldestWaiting?: number | null;
}

/** A record waiting this long although a recorder is connected: the store owner is not taking them. */
export const RESULTS_STUCK_MS = 5 * 60_000;

/** Why the results queue needs an operator, or null: records wait and no store owner takes them. */
export function resultsAlert(v: QueueView, now: number): string | null {
  const waiting = v.counts.waiting ?? 0;
  if (v.role !== 'results' || waiting === 0) return null;
  const since = v.oldestWaiting ? ` (the oldest since ${new Date(v.oldestWaiting).toISOString().slice(0, 19).replace('T', ' ')} UTC)` : '';
  const what = `${waiting} outcome record${waiting === 1 ? '' : 's'} of store-less workers wait${waiting === 1 ? 's' : ''} in the results queue${since}`;
  if (v.workers === 0) {
    return `${what}: no store owner is running to store them (start the daemon, \`patchgate run\`, or \`patchgate worker\` with the report queue)`;
  }
  if (v.oldestWaiting && now - v.oldestWaiting > RESULTS_STUCK_MS) {
    return `${what}: ${v.workers} recorder${v.workers === 1 ? ' is' : 's are'} connected but not taking them`;
  }
  return null;
}

export type QueuesState = { kind: 'none'; why: string } | { kind: 'down'; why: string } | { kind: 'ok'; queues: QueueView[] };

export function workersPage(q: QueuesState, sources: SourceRow[], bullBoard: string | null, now = Date.now()): string {
  let queues: string;
  if (q.kind !== 'ok') {
    queues = `<p id="redis-state" class="muted">${esc(q.why)}</p>`;
  } else {
    const kinds = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed'];
    const row = (v: QueueView) => `<tr data-queue="${esc(v.name)}"${v.role === 'results' ? ' class="results"' : ''}><td>${esc(v.name)}</td>${kinds.map((k) => `<td>${v.counts[k] ?? 0}</td>`).join('')}<td>${v.workers}</td>
<td>${v.active.map((j) => `${esc(j.id)}${typeof j.progress === 'number' ? ` ${j.progress}%` : ''} <span class="muted">since ${esc(new Date(j.timestamp).toISOString().slice(11, 19))}</span>`).join('<br>')}</td></tr>`;
    const stages = q.queues.filter((v) => v.role !== 'results');
    const results = q.queues.filter((v) => v.role === 'results');
    const alerts = results.map((v) => resultsAlert(v, now)).filter((a): a is string => a !== null);
    queues = `${alerts.length ? `<p class="alert" id="results-alert">${alerts.map(esc).join('<br>')}</p>` : ''}
<table id="queues"><thead><tr><th>queue</th>${kinds.map((k) => `<th>${k}</th>`).join('')}<th>workers</th><th>running</th></tr></thead><tbody>
${stages.map(row).join('\n')}${results.length ? `
<tr><th colspan="${kinds.length + 3}" class="muted">outcomes of store-less workers, stored by the store owner's recorder</th></tr>
${results.map(row).join('\n')}` : ''}</tbody></table>
${bullBoard ? `<p><a href="${esc(bullBoard)}">bull-board</a></p>` : ''}`;
  }
  const alerts = sources.filter((s) => s.state !== 'ok');
  const rows = sources.map((s) => `<tr data-source="${esc(s.source)}"><td>${esc(s.source)}</td><td>${esc(s.type)}</td><td>${status(s.state)}</td>
<td>${when(s.last_poll_at)}</td><td>${when(s.last_ok_at)}</td><td>${when(s.last_new_at)}</td><td>${s.polls}</td><td>${s.messages}</td><td>${s.failures}</td><td class="muted">${esc(s.detail ?? '')}</td></tr>`).join('\n');
  return page('workers', `<h2>workers and queues</h2><div id="workers-live" data-live>${queues}
<h3>sources</h3>${alerts.length ? `<p class="alert" id="alerts">${alerts.map((s) => `${esc(s.source)} is ${esc(s.state)}${s.detail ? `: ${esc(s.detail)}` : ''}`).join('<br>')}</p>` : ''}
${sources.length ? `<table id="sources"><thead><tr><th>source</th><th>type</th><th>state</th><th>last poll</th><th>last ok</th><th>last new</th><th>polls</th><th>messages</th><th>failures</th><th>detail</th></tr></thead><tbody>${rows}</tbody></table>` : '<p class="muted">no source has been polled yet</p>'}</div>`);
}
