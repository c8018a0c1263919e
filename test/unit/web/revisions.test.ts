import { describe, expect, it } from 'vitest';
import type { Series, SeriesPatch } from '../../../src/series/types.js';
import { compareRevisions, lineDiff, normalizeDiff } from '../../../src/web/revisions.js';

const patch = (number: number, name: string, files: string[]): SeriesPatch => ({
  msgid: `<${name.replace(/\W+/g, '-')}-${number}@x>`, number, name, subject: `[PATCH] ${name}`, author: { name: 'A', email: 'a@x' }, pull_url: null, files, trailers: [],
});
const series = (version: number, patches: SeriesPatch[]): Series => ({
  id: `s${version}`, name: 'vhost: rework', version, total: patches.length, received_all: true, rfc: false, tags: [], submitter: { name: 'A', email: 'a@x' },
  cover: null, base_commit: null, depends_on: [], previous: null, patches,
});
const diff = (body: string, start = 10) => `diff --git a/drivers/vhost/net.c b/drivers/vhost/net.c
index 1111111..2222222 100644
--- a/drivers/vhost/net.c
+++ b/drivers/vhost/net.c
@@ -${start},6 +${start},7 @@ static void handle_tx(struct vhost_net *net)
 	int err;
${body}
 	return;
`;

describe('revision comparison', () => {
  it('ignores hunk line numbers and index lines: a rebased but identical patch is the same', () => {
    expect(normalizeDiff(diff('+\tfoo();', 10))).toEqual(normalizeDiff(diff('+\tfoo();', 250).replace('1111111..2222222', 'aaaaaaa..bbbbbbb')));
  });

  it('pairs patches by name, then by files (renamed), and reports added and removed ones', () => {
    const v2 = series(2, [patch(1, 'vhost: add worker', ['drivers/vhost/vhost.c']), patch(2, 'vhost-net: use worker', ['drivers/vhost/net.c']), patch(3, 'vhost: old cleanup', ['drivers/vhost/scsi.c'])]);
    const v3 = series(3, [patch(1, 'vhost: add worker', ['drivers/vhost/vhost.c']), patch(2, 'vhost_net: switch to the worker', ['drivers/vhost/net.c']), patch(3, 'vhost: document worker', ['Documentation/vhost.rst'])]);
    const diffs = new Map([
      [v2.patches[0].msgid, diff('+\tfoo();')], [v3.patches[0].msgid, diff('+\tfoo();', 40)],
      [v2.patches[1].msgid, diff('+\tbar(1);')], [v3.patches[1].msgid, diff('+\tbar(2);')],
    ]);
    const pairs = compareRevisions(v2, v3, (m) => diffs.get(m) ?? null);
    expect(pairs.map((p) => [p.change, p.older?.number ?? null, p.newer?.number ?? null])).toEqual([
      ['same', 1, 1], ['renamed', 2, 2], ['added', null, 3], ['removed', 3, null],
    ]);
    const inter = pairs[1].interdiff!;
    expect(inter.filter((l) => l.op === '-').map((l) => l.text)).toEqual(['+\tbar(1);']);
    expect(inter.filter((l) => l.op === '+').map((l) => l.text)).toEqual(['+\tbar(2);']);
  });

  it('line diff keeps context around changes and shortens long unchanged runs', () => {
    const a = Array.from({ length: 40 }, (_, i) => `line ${i}`);
    const b = [...a];
    b[20] = 'changed';
    const d = lineDiff(a, b, 2)!;
    expect(d.map((l) => l.op).join('')).toBe('…  -+  …');
    // the common head and tail are trimmed before the table is sized: only the changed middle counts
    expect(lineDiff(a, b, 2, 4)).not.toBeNull();
    expect(lineDiff(a, b, 2, 3)).toBeNull();
  });
});
