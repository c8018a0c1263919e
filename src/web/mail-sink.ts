// Pages for the local SMTP sink's mail (src/demo/mail-sink.ts): what patchgate sent, as received.
//   GET /mail          the list, newest first
//   GET /mail/:id      one message: headers, text, link to its series; ?raw=1 gives the bytes
//   GET /api/mail      the list as JSON
import type { FastifyInstance } from 'fastify';
import { simpleParser } from 'mailparser';
import { getSinkMail, headerOf, listSinkMail } from '../demo/sink-store.js';
import type { Db } from '../store/db.js';
import { esc, page, seriesHref, status } from './html.js';

export function registerMailSinkRoutes(app: FastifyInstance, db: Db): void {
  app.get('/api/mail', async () => ({ mail: listSinkMail(db) }));
  app.get('/mail', async (_req, reply) => {
    const rows = listSinkMail(db);
    const body = rows.length === 0
      ? '<p class="muted">No mail received by a local SMTP sink (the main job starts one; see README.md).</p>'
      : `<table class="list"><thead><tr><th>#</th><th>received</th><th>verdict</th><th>subject</th><th>to</th><th>Message-ID</th></tr></thead><tbody>
${rows.map((m) => `<tr><td>${m.id}</td><td>${esc(m.received_at)}</td><td>${m.verdict ? status(m.verdict) : ''}</td>
<td><a href="/mail/${m.id}">${esc(m.subject)}</a></td><td>${esc(m.rcpt_to.join(', '))}</td><td><code>${esc(m.message_id ?? '')}</code></td></tr>`).join('\n')}
</tbody></table>`;
    reply.type('text/html; charset=utf-8');
    return page('mail received', `<h2>Mail received by the local SMTP sink</h2>
<p class="muted">Replies patchgate delivered over SMTP to the loopback sink: no real list receives them.</p>
<div id="mail-list" data-live>${body}</div>`);
  });
  app.get('/mail/:id', async (req, reply) => {
    const id = Number((req.params as { id: string }).id);
    const m = Number.isInteger(id) ? getSinkMail(db, id) : null;
    if (!m) return reply.code(404).type('text/plain').send('no such mail\n');
    if ((req.query as { raw?: string }).raw) return reply.type('message/rfc822').send(m.raw);
    const parsed = await simpleParser(m.raw);
    const series = headerOf(m.raw, 'X-Patchgate-Series');
    const shown = ['From', 'To', 'Cc', 'Subject', 'Date', 'Message-ID', 'In-Reply-To', 'References', 'X-Patchgate-Series', 'X-Patchgate-Version', 'X-Patchgate-Verdict'];
    const headers = shown.map((h) => [h, headerOf(m.raw, h)] as const).filter(([, v]) => v !== null);
    reply.type('text/html; charset=utf-8');
    return page(m.subject || `mail ${m.id}`, `<h2>${esc(m.subject)}</h2>
<p>${m.verdict ? `verdict ${status(m.verdict)} · ` : ''}${series ? `series <a href="${seriesHref(series)}">${esc(series)}</a> · ` : ''}envelope ${esc(m.mail_from)} → ${esc(m.rcpt_to.join(', '))} · received ${esc(m.received_at)} · <a href="/mail/${m.id}?raw=1">raw</a></p>
<table class="kv">${headers.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>
<pre class="mail">${esc(parsed.text ?? '')}</pre>`, { live: false });
  });
}
