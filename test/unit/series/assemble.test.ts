// Engine rules on hand-built messages: shapes the corpus does not have (cycles, undated mail, id
// stability under every arrival order). The corpus cases are in test/integration/corpus-series.test.ts.
import { describe, expect, it } from 'vitest';
import { assembleSeries } from '../../../src/series/assemble.js';
import type { SeriesDocument } from '../../../src/series/types.js';
import type { ParsedMessage } from '../../../src/mail/types.js';
import { msg } from './build-message.js';

const opts = { sloppyTrailers: false };

function kinds(doc: SeriesDocument): Record<string, string> {
  return Object.fromEntries(doc.messages.map((m) => [m.msgid, m.kind]));
}

function sizes(doc: SeriesDocument): number[] {
  return doc.series.map((s) => s.patches.length);
}

function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

const cover = msg({ id: 'c@x', subject: '[PATCH v2 0/3] widget: rework', date: '2024-01-01T10:00:00Z' });
const p1 = msg({ id: 'p1@x', subject: '[PATCH v2 1/3] widget: one', irt: 'c@x', refs: ['c@x'], date: '2024-01-01T10:00:01Z' });
const p2 = msg({ id: 'p2@x', subject: '[PATCH v2 2/3] widget: two', irt: 'c@x', refs: ['c@x'], date: '2024-01-01T10:00:02Z' });
const p3 = msg({ id: 'p3@x', subject: '[PATCH v2 3/3] widget: three', irt: 'c@x', refs: ['c@x'], date: '2024-01-01T10:00:03Z' });

describe('assembleSeries: grouping', () => {
  it('groups a shallow-threaded series the same way for every arrival order', () => {
    const docs = permutations([cover, p1, p2, p3]).map((order) => assembleSeries(order, opts));
    for (const doc of docs) {
      expect(doc.series).toHaveLength(1);
      const s = doc.series[0]!;
      expect(s.cover).toBe('<c@x>');
      expect(s.patches.map((p) => p.number)).toEqual([1, 2, 3]);
      expect(s.received_all).toBe(true);
      expect(s.name).toBe('widget: rework');
      expect(s.version).toBe(2);
    }
    expect(new Set(docs.map((d) => d.series[0]!.id)).size).toBe(1);
  });

  it('keeps the id when the cover letter arrives after its patches', () => {
    const early = assembleSeries([p2, p1], opts);
    const late = assembleSeries([p2, p1, cover, p3], opts);
    expect(early.series).toHaveLength(1);
    expect(early.series[0]!.cover).toBeNull();
    expect(early.series[0]!.name).toBe('widget: one');
    expect(late.series[0]!.cover).toBe('<c@x>');
    expect(late.series[0]!.id).toBe(early.series[0]!.id);
  });

  it('keeps the id of a deep-threaded series without cover when patch 1 arrives last', () => {
    const a = msg({ id: 'a1@x', subject: '[PATCH 1/2] a', date: '2024-01-01T10:00:00Z' });
    const b = msg({ id: 'a2@x', subject: '[PATCH 2/2] b', irt: 'a1@x', refs: ['a1@x'], date: '2024-01-01T10:00:01Z' });
    const early = assembleSeries([b], opts);
    const late = assembleSeries([b, a], opts);
    expect(sizes(late)).toEqual([2]);
    expect(late.series[0]!.id).toBe(early.series[0]!.id);
    expect(early.series[0]!.name).toBeNull();
    expect(late.series[0]!.name).toBe('a');
  });

  it('starts a new series when a slot is already filled (resend under the same cover)', () => {
    const again = msg({ id: 'p1b@x', subject: '[PATCH v2 1/3] widget: one', irt: 'c@x', refs: ['c@x'], date: '2024-01-01T10:05:00Z' });
    const doc = assembleSeries([cover, p1, p2, p3, again], opts);
    expect(sizes(doc)).toEqual([3, 1]);
    expect(doc.series[1]!.patches[0]!.msgid).toBe('<p1b@x>');
    expect(doc.series[1]!.cover).toBeNull();
  });

  it('groups unthreaded patches by sender, version and total only within the window', () => {
    const u = (id: string, n: number, date: string, from = 'Bob <bob@example.org>') =>
      msg({ id, subject: `[PATCH ${n}/2] thing ${n}`, from, date });
    const doc = assembleSeries(
      [
        u('u1@x', 1, '2024-01-01T10:00:00Z'),
        u('u2@x', 2, '2024-01-01T11:00:00Z'),
        u('w1@x', 1, '2024-01-02T10:00:00Z'),
        u('w2@x', 2, '2024-01-03T10:00:00Z'), // more than 12 h after w1
        u('z1@x', 1, '2024-01-02T10:00:00Z', 'Carol <carol@example.org>'),
      ],
      opts,
    );
    expect(doc.series.map((s) => s.patches.map((p) => p.msgid))).toEqual([['<u1@x>', '<u2@x>'], ['<w1@x>'], ['<z1@x>'], ['<w2@x>']]);
    const narrow = assembleSeries([u('u1@x', 1, '2024-01-01T10:00:00Z'), u('u2@x', 2, '2024-01-01T11:00:00Z')], {
      ...opts,
      groupWindowMs: 30 * 60 * 1000,
    });
    expect(sizes(narrow)).toEqual([1, 1]);
  });

  it('survives a References cycle between patches', () => {
    const a = msg({ id: 'y1@x', subject: '[PATCH 1/2] y', irt: 'y2@x', refs: ['y2@x'] });
    const b = msg({ id: 'y2@x', subject: '[PATCH 2/2] y', irt: 'y1@x', refs: ['y1@x'] });
    const doc = assembleSeries([a, b], opts);
    expect(doc.messages).toHaveLength(2);
    expect(doc.series.flatMap((s) => s.patches.map((p) => p.msgid)).sort()).toEqual(['<y1@x>', '<y2@x>']);
  });

  it('lists a repeated Message-ID once', () => {
    const doc = assembleSeries([p1, p1], opts);
    expect(doc.messages.map((m) => m.msgid)).toEqual(['<p1@x>']);
    expect(sizes(doc)).toEqual([1]);
  });
});

describe('assembleSeries: cover letters', () => {
  it('lets an unnumbered patch join a 0/1 cover of its sender, but not a 0/2 cover or a stranger', () => {
    const c1 = msg({ id: 'k1@x', subject: '[PATCH v4 0/1] mm: balloon fix' });
    const lone = msg({ id: 'k2@x', subject: '[PATCH v4] virtio-balloon: switch back', irt: 'k1@x', refs: ['k1@x'] });
    expect(sizes(assembleSeries([c1, lone], opts))).toEqual([1]);
    const stranger = msg({ id: 'k3@x', subject: '[PATCH v4] other', from: 'Eve <eve@example.org>', irt: 'k1@x', refs: ['k1@x'] });
    expect(sizes(assembleSeries([c1, stranger], opts))).toEqual([0, 1]);
    const c2 = msg({ id: 'k4@x', subject: '[PATCH v4 0/2] mm: balloon fix' });
    const orphan = msg({ id: 'k5@x', subject: '[PATCH v4] orphan', irt: 'k4@x', refs: ['k4@x'] });
    expect(sizes(assembleSeries([c2, orphan], opts))).toEqual([0, 1]);
  });

  it('gives a mislabelled cover letter (forgotten version, wrong total) to the patches that answer it', () => {
    const c = msg({ id: 'm0@x', subject: '[PATCH 00/18] Allow architectures to override __READ_ONCE()', date: '2024-01-01T10:00:00Z' });
    const ps = [1, 2, 3].map((n) =>
      msg({ id: `m${n}@x`, subject: `[PATCH v3 0${n}/19] part ${n}`, irt: 'm0@x', refs: ['m0@x'], date: `2024-01-01T10:00:0${n}Z` }),
    );
    const doc = assembleSeries([c, ...ps], opts);
    expect(doc.series).toHaveLength(1);
    const s = doc.series[0]!;
    expect([s.cover, s.name, s.version, s.total, s.patches.length]).toEqual(['<m0@x>', 'Allow architectures to override __READ_ONCE()', 3, 19, 3]);
    // an explicit other version on the cover: not adopted
    const v2cover = msg({ id: 'm0@x', subject: '[PATCH v2 00/18] Allow architectures to override __READ_ONCE()' });
    expect(sizes(assembleSeries([v2cover, ...ps], opts))).toEqual([0, 3]);
  });

  it('takes a naked root as the cover of numbered patches of the same author', () => {
    const root = msg({ id: 'n0@x', subject: 'widget rework', kind: 'other' });
    const a = msg({ id: 'n1@x', subject: '[PATCH 1/2] widget: a', irt: 'n0@x', refs: ['n0@x'] });
    const b = msg({ id: 'n2@x', subject: '[PATCH 2/2] widget: b', irt: 'n0@x', refs: ['n0@x'] });
    const doc = assembleSeries([root, a, b], opts);
    expect(kinds(doc)['<n0@x>']).toBe('cover');
    expect(doc.series.map((s) => [s.cover, s.name, s.patches.length, s.received_all])).toEqual([['<n0@x>', 'widget rework', 2, true]]);
  });
});

describe('assembleSeries: partial rerolls', () => {
  const v2c = msg({ id: 'r0@x', subject: '[PATCH v2 0/3] thing', date: '2024-01-01T10:00:00Z' });
  const v2 = [1, 2, 3].map((n) => msg({ id: `r${n}@x`, subject: `[PATCH v2 ${n}/3] thing ${n}`, irt: 'r0@x', refs: ['r0@x'], date: '2024-01-01T10:00:00Z' }));

  it('carries the missing patches forward when the reroll answers the same-numbered patch', () => {
    const v3 = msg({ id: 'r3b@x', subject: '[PATCH v3 3/3] thing 3', irt: 'r3@x', refs: ['r0@x', 'r3@x'], date: '2024-01-02T10:00:00Z' });
    const doc = assembleSeries([v2c, ...v2, v3], opts);
    const [a, b] = doc.series;
    expect(b!.patches.map((p) => p.msgid)).toEqual(['<r1@x>', '<r2@x>', '<r3b@x>']);
    expect([b!.received_all, b!.cover, b!.previous]).toEqual([true, '<r0@x>', a!.id]);
  });

  it('does not when the reroll answers another patch number', () => {
    const v3 = msg({ id: 'r3b@x', subject: '[PATCH v3 3/3] thing 3', irt: 'r2@x', refs: ['r0@x', 'r2@x'], date: '2024-01-02T10:00:00Z' });
    const doc = assembleSeries([v2c, ...v2, v3], opts);
    expect(doc.series[1]!.patches.map((p) => p.msgid)).toEqual(['<r3b@x>']);
    expect([doc.series[1]!.received_all, doc.series[1]!.cover]).toEqual([false, null]);
    expect(doc.series[1]!.previous).toBe(doc.series[0]!.id); // still the next revision, by thread
  });
});

describe('assembleSeries: ids', () => {
  it('gives distinct, order-independent ids to series answering the same missing message', () => {
    const a = msg({ id: 'q1@x', subject: '[PATCH 1/1] fix one', irt: 'report@x', refs: ['report@x'] });
    const b = msg({ id: 'q2@x', subject: '[PATCH 1/1] fix two', from: 'Bob <bob@example.org>', irt: 'report@x', refs: ['report@x'] });
    const one = assembleSeries([a, b], opts);
    const two = assembleSeries([b, a], opts);
    expect(one.series).toHaveLength(2);
    expect(new Set(one.series.map((s) => s.id)).size).toBe(2);
    const idOf = (doc: SeriesDocument, m: string) => doc.series.find((s) => s.patches[0]!.msgid === m)!.id;
    expect(idOf(two, '<q1@x>')).toBe(idOf(one, '<q1@x>'));
    expect(idOf(two, '<q2@x>')).toBe(idOf(one, '<q2@x>'));
  });
});

describe('assembleSeries: comments', () => {
  it('attaches replies at any depth to the patch they answer, and keeps replies to unknown mail', () => {
    const r1 = msg({ id: 'r1@x', subject: 'Re: [PATCH v2 2/3] widget: two', irt: 'p2@x', refs: ['c@x', 'p2@x'] });
    // reply to a reply whose References were cut to the direct parent
    const r2 = msg({ id: 'r2@x', subject: 'Re: [PATCH v2 2/3] widget: two', irt: 'r1@x', refs: ['r1@x'] });
    const lost = msg({ id: 'r3@x', subject: 'Re: something', irt: 'gone@x', refs: ['gone-root@x', 'gone@x'] });
    const toLost = msg({ id: 'r4@x', subject: 'Re: something', irt: 'r3@x', refs: ['r3@x'] });
    const noParent = msg({ id: 'r5@x', subject: 'Re: hello', kind: 'comment' });
    const doc = assembleSeries([cover, p1, p2, p3, r1, r2, lost, toLost, noParent], opts);
    const id = doc.series[0]!.id;
    expect(doc.comments).toEqual([
      { msgid: '<r1@x>', parent: '<p2@x>', series: id },
      { msgid: '<r2@x>', parent: '<p2@x>', series: id },
      { msgid: '<r3@x>', parent: '<gone@x>', series: null },
      { msgid: '<r4@x>', parent: '<r3@x>', series: null },
    ]);
    expect(kinds(doc)['<r5@x>']).toBe('other');
    expect(doc.messages).toHaveLength(9);
  });

  it('treats a Re: carrying a diff as a comment, not a patch', () => {
    const fixup = msg({ id: 'f@x', subject: 'Re: [PATCH v2 1/3] widget: one', irt: 'p1@x', refs: ['c@x', 'p1@x'], kind: 'patch' });
    const doc = assembleSeries([cover, p1, p2, p3, fixup], opts);
    expect(kinds(doc)['<f@x>']).toBe('comment');
    expect(sizes(doc)).toEqual([3]);
  });
});

describe('assembleSeries: trailers', () => {
  it('puts own trailers first, then follow-up trailers, then cover-letter follow-up trailers', () => {
    const patch = msg({
      id: 't1@x',
      subject: '[PATCH 1/1] t',
      irt: 'tc@x',
      refs: ['tc@x'],
      trailers: [['Signed-off-by', 'Alice Dev <alice@example.org>']],
    });
    const tc = msg({ id: 'tc@x', subject: '[PATCH 0/1] t cover' });
    const onPatch = msg({
      id: 'f1@x',
      subject: 'Re: [PATCH 1/1] t',
      from: 'Rev One <rev1@example.org>',
      irt: 't1@x',
      refs: ['tc@x', 't1@x'],
      trailers: [['Reviewed-by', 'Rev One <rev1@example.org>']],
    });
    const onCover = msg({
      id: 'f2@x',
      subject: 'Re: [PATCH 0/1] t cover',
      from: 'Rev Two <rev2@example.org>',
      irt: 'tc@x',
      refs: ['tc@x'],
      trailers: [['Acked-by', 'Rev Two <rev2@example.org>']],
    });
    const doc = assembleSeries([tc, patch, onCover, onPatch], opts);
    expect(doc.series[0]!.patches[0]!.trailers).toEqual([
      { name: 'Signed-off-by', value: 'Alice Dev <alice@example.org>', from: '<t1@x>' },
      { name: 'Reviewed-by', value: 'Rev One <rev1@example.org>', from: '<f1@x>' },
      { name: 'Acked-by', value: 'Rev Two <rev2@example.org>', from: '<f2@x>' },
    ]);
  });
});

describe('assembleSeries: people', () => {
  it("takes a patch's author from its in-body From:, the submitter from the mail's From:", () => {
    const p = { ...msg({ id: 'ib@x', subject: '[PATCH] fix', from: 'Maintainer <maint@example.org>' }), inBodyFrom: { name: 'Real Author', email: 'author@example.org' } };
    const s = assembleSeries([p], opts).series[0]!;
    expect(s.submitter).toEqual({ name: 'Maintainer', email: 'maint@example.org' });
    expect(s.patches[0]!.author).toEqual({ name: 'Real Author', email: 'author@example.org' });
    expect(assembleSeries([msg({ id: 'ib2@x', subject: '[PATCH] fix' })], opts).series[0]!.patches[0]!.author.email).toBe('alice@example.org');
  });
});

describe('assembleSeries: revisions and dependencies', () => {
  it('links an unthreaded reroll with renamed patches and a changed total by submitter and name', () => {
    const v1a = msg({ id: 'v1a@x', subject: '[PATCH 1/2] net: fix a', date: '2024-01-01T10:00:00Z' });
    const v1b = msg({ id: 'v1b@x', subject: '[PATCH 2/2] net: fix b', irt: 'v1a@x', refs: ['v1a@x'], date: '2024-01-01T10:00:01Z' });
    const v2a = msg({ id: 'v2a@x', subject: '[PATCH v2 1/3] net: fix a differently', date: '2024-01-05T10:00:00Z' });
    const v2b = msg({ id: 'v2b@x', subject: '[PATCH v2 2/3] net: fix b', irt: 'v2a@x', refs: ['v2a@x'], date: '2024-01-05T10:00:01Z' });
    const other = msg({ id: 'o@x', subject: '[PATCH v2 1/1] net: fix b', from: 'Eve <eve@example.org>', date: '2024-01-06T10:00:00Z' });
    const doc = assembleSeries([v1a, v1b, v2a, v2b, other], opts);
    expect(doc.series.map((s) => s.version)).toEqual([1, 2, 2]);
    expect(doc.series[1]!.previous).toBe(doc.series[0]!.id);
    expect(doc.series[0]!.previous).toBeNull();
    expect(doc.series[2]!.previous).toBeNull(); // another submitter
  });

  it('links cover letters whose names differ only by a trailing (vN) and case', () => {
    const a = msg({ id: 'g0@x', subject: '[PATCH net-next v2 0/1] net: dsa: Multi-CPU ground work (v2)', date: '2024-01-01T10:00:00Z' });
    const a1 = msg({ id: 'g1@x', subject: '[PATCH net-next v2 1/1] net: dsa: one', irt: 'g0@x', refs: ['g0@x'], date: '2024-01-01T10:00:00Z' });
    const b = msg({ id: 'h0@x', subject: '[PATCH net-next v3 0/1] net: DSA: Multi-CPU ground work (v3)', date: '2024-01-03T10:00:00Z' });
    const b1 = msg({ id: 'h1@x', subject: '[PATCH net-next v3 1/1] net: dsa: renamed', irt: 'h0@x', refs: ['h0@x'], date: '2024-01-03T10:00:00Z' });
    const doc = assembleSeries([a, a1, b, b1], opts);
    expect(doc.series[1]!.previous).toBe(doc.series[0]!.id);
  });

  it('resolves Depends-on / Based-on / prerequisite references, skipping itself and what it cannot resolve', () => {
    const base = msg({ id: 'b1@x', subject: '[PATCH 1/1] base', baseCommit: 'abc123' });
    const dep = msg({
      id: 'd1@x',
      subject: '[PATCH 1/1] dep',
      dependsOn: ['https://patchwork.kernel.org/project/netdevbpf/list/', 'garbage', '<d1@x>', 'https://lore.kernel.org/all/b1@x/'],
      basedOn: ['<b1@x>', '<unknown@x>'],
    });
    const doc = assembleSeries([base, dep], opts);
    const [s1, s2] = doc.series;
    expect(s1!.base_commit).toBe('abc123');
    expect(s2!.depends_on).toEqual([s1!.id]);
  });
});

describe('assembleSeries: scale', () => {
  it('assembles thousands of messages without scanning the whole set per message', () => {
    const all: ParsedMessage[] = [];
    for (let k = 0; k < 1500; k++) {
      const c = `s${k}c@x`;
      const date = new Date(Date.UTC(2024, 0, 1) + k * 60_000).toISOString();
      all.push(msg({ id: c, subject: `[PATCH 0/2] series ${k}`, date }));
      all.push(msg({ id: `s${k}p1@x`, subject: `[PATCH 1/2] series ${k} one`, irt: c, refs: [c], date }));
      all.push(msg({ id: `s${k}p2@x`, subject: `[PATCH 2/2] series ${k} two`, irt: c, refs: [c], date }));
      all.push(msg({ id: `s${k}r@x`, subject: `Re: [PATCH 1/2] series ${k} one`, irt: `s${k}p1@x`, refs: [c, `s${k}p1@x`], date }));
    }
    const doc = assembleSeries(all, opts);
    expect(doc.series).toHaveLength(1500);
    expect(doc.series.every((s) => s.received_all && s.patches.length === 2)).toBe(true);
    expect(doc.comments).toHaveLength(1500);
    expect(new Set(doc.series.map((s) => s.id)).size).toBe(1500);
  });
});
