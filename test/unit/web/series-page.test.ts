// The series page's merged section and the held-reply approval form, rendered from plain data.
import { describe, expect, it } from 'vitest';
import type { Series } from '../../../src/series/types.js';
import { queuePage, seriesPage, type SeriesPageData } from '../../../src/web/pages.js';
import type { OutboxRow, SeriesRow } from '../../../src/web/queries.js';

const series: Series = {
  id: 'abc123', name: 'tun: <fixes>', version: 2, total: 2, received_all: true, rfc: false, tags: [], submitter: { name: 'Jo', email: 'jo@example.org' },
  cover: null, base_commit: null, depends_on: [], previous: null,
  patches: [1, 2].map((n) => ({ msgid: `<p${n}@x>`, number: n, name: `tun: fix ${n}`, subject: `[PATCH v2 ${n}/2] tun: fix ${n}`, author: { name: 'Jo', email: 'jo@example.org' }, pull_url: null, files: ['tun.c'], trailers: [] })),
};

const row = (state: SeriesRow['state']): SeriesRow => ({
  id: series.id, doc: JSON.stringify(series), series, state, tree: 'net-next', treeReason: 'marked', verdict: 'success', list: null, firstDate: null,
  patches: 2, acks: 0, reviews: 0, apply: 'success', build: null, gate: null, gates: [],
});

const reply = (id: number, state: string, channel = 'mail'): OutboxRow => ({
  id, message_id: `<r${id}@patchgate>`, series_id: series.id, version: 2, channel, state, recipients: '[]', payload: 'body', verdict: 'failure', created_at: '2026-11-26T01:00:00Z', sent_at: null,
});

const data = (over: Partial<SeriesPageData>): SeriesPageData => ({
  row: row('passed'), revisions: [series], compare: null, outcomes: [], outbox: [], run: null, projects: [], marked: false, treeSet: null, trees: [], ...over,
});

describe('series page', () => {
  it('a merged revision names the tree, each patch\'s commit and how it was found', () => {
    const html = seriesPage(data({
      row: row('merged'),
      merge: {
        series_id: series.id, version: 2, tree: 'net-next', branch: 'main', head: 'f'.repeat(40), how: 'mixed', committed_at: '2026-11-25T10:00:00.000Z', detected_at: '2026-11-26T03:00:00.000Z',
        commits: [{ msgid: '<p1@x>', commit: 'a'.repeat(40), how: 'patch-id' }, { msgid: '<p2@x>', commit: 'b'.repeat(40), how: 'subject+author' }],
      },
    }));
    expect(html).toContain('<span id="state"><span class="st st-merged">merged</span></span>');
    expect(html).toContain('<div id="merged" data-tree="net-next" data-how="mixed"><p>merged in <b>net-next</b> (main), committed 2026-11-25 10:00, found 2026-11-26 03:00 by mixed</p>');
    expect(html).toContain(`<li data-commit="${'a'.repeat(40)}" data-how="patch-id"><code>aaaaaaaaaaaa</code> 1. tun: fix 1 <span class="muted">(patch-id)</span></li>`);
    expect(html).toContain(`<li data-commit="${'b'.repeat(40)}" data-how="subject+author"><code>bbbbbbbbbbbb</code> 2. tun: fix 2 <span class="muted">(subject+author)</span></li>`);
    expect(seriesPage(data({}))).not.toContain('id="merged"');
  });

  it('offers approval for held mail replies only, each form naming its outbox row', () => {
    const html = seriesPage(data({ outbox: [reply(7, 'dry-run'), reply(8, 'pending'), reply(9, 'dry-run', 'github'), reply(10, 'sent')] }));
    const forms = [...html.matchAll(/<form method="post" action="([^"]+)" class="filters approve" data-reply="(\d+)"><input type="hidden" name="reply" value="(\d+)">/g)];
    expect(forms.map((f) => [f[1], f[2], f[3]])).toEqual([['/series/abc123/approve', '7', '7']]);
  });

  it('the queue\'s state filter offers merged', () => {
    const html = queuePage([row('merged')], 1, { state: 'merged' }, { trees: [], lists: [], projects: [] }, () => []);
    expect(html).toContain('<option value="merged" selected>merged</option>');
    expect(html).toContain('data-state="merged"');
  });
});
