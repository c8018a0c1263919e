// Server-rendered pages of the maintainer dashboard.
import type { Series } from '../series/types.js';
import { esc, href, page, status } from './html.js';
import { SERIES_STATES, type OutboxRow, type OutcomeRow, type SeriesFilter, type SeriesRow } from './queries.js';

export function queuePage(rows: SeriesRow[], total: number, f: SeriesFilter, trees: string[]): string {
  const opt = (v: string, cur: string | undefined, label = v) => `<option value="${esc(v)}"${v === (cur ?? '') ? ' selected' : ''}>${esc(label)}</option>`;
  const filters = `<form class="filters" method="get" action="/">
  <select name="tree" aria-label="tree">${opt('', f.tree, 'all trees')}${trees.map((t) => opt(t, f.tree)).join('')}</select>
  <select name="state" aria-label="state">${opt('', f.state, 'all states')}${SERIES_STATES.map((s) => opt(s, f.state)).join('')}</select>
  <input name="q" value="${esc(f.q ?? '')}" placeholder="name, submitter or id" aria-label="search">
  <button type="submit">filter</button></form>`;
  const body = rows.map((r) => {
    const s = r.series;
    const n = `${s.patches.length}/${s.total}`;
    return `<tr data-series="${esc(s.id)}">
<td>${status(r.state)}</td>
<td><a href="/series/${encodeURIComponent(s.id)}">${esc(s.name ?? '(no name yet)')}</a>${s.rfc ? ' <span class="muted">RFC</span>' : ''}
 ${s.tags.map((t) => `<span class="muted">[${esc(t)}]</span>`).join(' ')}</td>
<td>v${s.version}</td><td>${esc(n)}</td>
<td>${esc(r.tree ?? '')}</td><td>${r.verdict ? status(r.verdict) : ''}</td>
<td>${r.acks} ack, ${r.reviews} rev</td>
<td>${esc(s.submitter.name || s.submitter.email)}</td><td class="muted">${esc((r.firstDate ?? '').slice(0, 16).replace('T', ' '))}</td></tr>`;
  }).join('\n');
  const next = (f.offset ?? 0) + (f.limit ?? 100);
  const more = next < total ? `<p><a href="${esc(href('/', { tree: f.tree, state: f.state, q: f.q, offset: next }))}">next page</a></p>` : '';
  return page('queue', `${filters}<p class="muted">${total} series</p>
<table id="queue"><thead><tr><th>state</th><th>series</th><th>rev</th><th>n/m</th><th>tree</th><th>verdict</th><th>trailers</th><th>submitter</th><th>first seen</th></tr></thead>
<tbody>${body}</tbody></table>${more}`);
}

export function seriesPage(row: SeriesRow, revisions: Series[], outcomes: OutcomeRow[], outbox: OutboxRow[]): string {
  const s = row.series;
  const revs = revisions.map((r) => `<li>${r.id === s.id ? `<b>v${r.version}</b>` : `<a href="/series/${encodeURIComponent(r.id)}">v${r.version}</a>`}
  ${esc(r.name ?? '')} (${r.patches.length}/${r.total})</li>`).join('');
  const patches = s.patches.map((p) => `<tr><td>${p.number}</td><td>${esc(p.name)}</td><td>${esc(p.author.name || p.author.email)}</td>
<td>${p.trailers.filter((t) => t.from !== p.msgid).map((t) => `${esc(t.name)}: ${esc(t.value)}`).join('<br>')}</td>
<td class="muted">${esc(p.files.join(' '))}</td></tr>`).join('\n');
  const outs = outcomes.map((o) => `<tr><td>${esc(o.stage)}</td><td>${status(o.status)}</td><td>${esc(o.summary ?? '')}</td>
<td><details><summary>details</summary><pre>${esc(JSON.stringify(o.data, null, 2))}</pre></details></td></tr>`).join('\n');
  const mails = outbox.map((m) => `<details><summary>${esc(m.channel)} ${status(m.state)} ${esc(m.message_id)}</summary><pre>${esc(m.payload)}</pre></details>`).join('\n');
  return page(s.name ?? s.id, `<h2>${esc(s.name ?? '(no name yet)')} <span class="muted">v${s.version}</span> ${status(row.state)}</h2>
<p>submitter ${esc(s.submitter.name)} &lt;${esc(s.submitter.email)}&gt; · id <code>${esc(s.id)}</code>
${s.cover ? ` · cover <code>${esc(s.cover)}</code>` : ''}${s.base_commit ? ` · base-commit <code>${esc(s.base_commit)}</code>` : ''}</p>
<p>tree: ${row.tree ? `<b>${esc(row.tree)}</b> (${esc(row.treeReason ?? '')})` : '<span class="muted">not chosen yet</span>'}</p>
<h3>revisions</h3><ul id="revisions">${revs}</ul>
<h3>patches</h3><table id="patches"><thead><tr><th>#</th><th>name</th><th>author</th><th>collected trailers</th><th>files</th></tr></thead><tbody>${patches}</tbody></table>
<h3>outcomes</h3>${outs ? `<table id="outcomes"><tbody>${outs}</tbody></table>` : '<p class="muted">nothing run yet</p>'}
<h3>replies</h3>${mails || '<p class="muted">none</p>'}`);
}

export function outboxPage(rows: OutboxRow[]): string {
  const body = rows.map((m) => `<tr><td>${esc(m.created_at)}</td><td>${esc(m.channel)}</td><td>${status(m.state)}</td><td>${esc(m.recipients)}</td>
<td><details><summary>${esc(m.message_id)}</summary><pre>${esc(m.payload)}</pre></details></td></tr>`).join('\n');
  return page('outbox', `<h2>outbox</h2><table id="outbox"><thead><tr><th>created</th><th>channel</th><th>state</th><th>to</th><th>message</th></tr></thead><tbody>${body}</tbody></table>`);
}
