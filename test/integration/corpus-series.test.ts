// The series engine against the real corpus, through the real CLI: `patchgate series --json FILE...`.
// Ground truth: shared/corpus/patchwork/EXPECTED.md (series/) and shared/corpus/b4/EXPECTED.md (A, D).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { splitMbox } from '../../src/ingest/mbox.js';
import { readEpoch } from '../../src/ingest/public-inbox-git.js';
import { parseMessage } from '../../src/mail/parse.js';
import type { ParsedMessage } from '../../src/mail/types.js';
import { assembleSeries } from '../../src/series/assemble.js';
import { patchId } from '../../src/series/patch-id.js';
import type { Series, SeriesDocument } from '../../src/series/types.js';
import { coreOf } from '../../src/store/messages.js';
import { archiveGitDir } from '../helpers/archive.js';
import { runCli } from '../helpers/cli.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const corpus = path.resolve(repoRoot, '..', 'shared', 'corpus');
const pwSeries = (f: string) => path.join(corpus, 'patchwork', 'series', f);
const b4 = (f: string) => path.join(corpus, 'b4', f);

const work = mkdtempSync(path.join(tmpdir(), 'patchgate-corpus-series-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let tmpCount = 0;

function tmpFile(content: string | Buffer): string {
  const f = path.join(work, `in-${tmpCount++}.mbox`);
  writeFileSync(f, content);
  return f;
}

async function seriesJson(paths: string[], extra: string[] = []): Promise<SeriesDocument> {
  const r = await runCli(['series', '--json', '--workers', '0', ...extra, ...paths]);
  expect(r.stderr, 'stderr').toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as SeriesDocument;
}

/** Each message of an mbox as its own file, in file order (to read "after each mail"). */
function splitToFiles(file: string): string[] {
  return splitMbox(readFileSync(file)).map((raw) => tmpFile(raw));
}

/** patchwork's `counts`: [covers, patches, comments]; pull requests are patches. */
function counts(doc: SeriesDocument): [number, number, number] {
  const k = doc.messages.map((m) => m.kind);
  return [
    k.filter((x) => x === 'cover').length,
    k.filter((x) => x === 'patch' || x === 'pull-request').length,
    k.filter((x) => x === 'comment').length,
  ];
}

const patchSplit = (doc: SeriesDocument) => doc.series.map((s) => s.patches.length);
const coverSplit = (doc: SeriesDocument) => doc.series.map((s) => (s.cover ? 1 : 0));

interface Case {
  file: string;
  counts: [number, number, number];
  patches: number[];
  covers?: number[];
  check?: (series: Series[], doc: SeriesDocument) => void;
}

// Every ASSERTED line of patchwork/EXPECTED.md series/ (counts and series split), plus OBSERVED facts.
const cases: Case[] = [
  { file: 'base-single-patch.mbox', counts: [0, 1, 0], patches: [1], check: ([s]) => {
    expect(s!.name).toBe('test: Add some lorem ipsum');
    expect([s!.version, s!.total, s!.received_all]).toEqual([1, 1, true]);
  } },
  { file: 'base-cover-letter.mbox', counts: [1, 2, 0], patches: [2], covers: [1], check: ([s]) => {
    expect(s!.received_all).toBe(true);
    expect(s!.cover).toBe('<1473632524-8585-1-git-send-email-stephenfinucane@gmail.com>');
    expect(s!.patches.map((p) => p.msgid)).toEqual([
      '<1473632524-8585-2-git-send-email-stephenfinucane@gmail.com>',
      '<1473632524-8585-3-git-send-email-stephenfinucane@gmail.com>',
    ]);
  } },
  { file: 'base-no-cover-letter.mbox', counts: [0, 2, 0], patches: [2] },
  { file: 'base-deep-threaded.mbox', counts: [1, 2, 0], patches: [2], covers: [1] },
  { file: 'base-out-of-order.mbox', counts: [1, 2, 0], patches: [2], covers: [1], check: ([s]) => {
    expect(s!.patches.map((p) => p.number)).toEqual([1, 2]);
  } },
  { file: 'base-different-versions.mbox', counts: [1, 4, 0], patches: [4], covers: [1], check: ([s]) => {
    expect(s!.version).toBe(3);
    expect(s!.name).toBe('net: dsa: Multi-CPU ground work (v3)');
    expect(s!.tags).toEqual(['net-next']);
    expect(s!.received_all).toBe(true);
  } },
  { file: 'bugs-multiple-references.mbox', counts: [1, 4, 0], patches: [4], covers: [1], check: ([s]) => {
    expect(s!.version).toBe(2);
    expect(s!.cover).toBe('<cover.1495511998.git.viresh.kumar@linaro.org>');
  } },
  { file: 'base-no-references.mbox', counts: [0, 2, 0], patches: [2], check: ([s]) => {
    expect(s!.version).toBe(2);
    expect(s!.tags).toEqual(['net']);
  } },
  { file: 'base-no-references-no-cover.mbox', counts: [1, 2, 0], patches: [2], covers: [1], check: ([s]) => {
    expect(s!.name).toBe('powerpc/dlpar: Correct display of hot-add/hot-remove CPUs and memory'); // folded subject
    expect(s!.patches[1]!.name).toBe('powerpc/hotplug/mm: Fix hot-add memory node assoc');
  } },
  { file: 'bugs-multiple-content-types.mbox', counts: [0, 1, 1], patches: [1], check: ([s], doc) => {
    expect(doc.comments).toEqual([{
      msgid: '<93fafdab-8fb3-0f2b-8f36-0cf297db3cd9@intel.com>',
      parent: '<20190820013652.147041-1-yuehaibing@huawei.com>',
      series: s!.id,
    }]);
    expect(s!.tags).toEqual(['-next']);
  } },
  { file: 'revision-basic.mbox', counts: [2, 4, 0], patches: [2, 2], covers: [1, 1], check: ([a, b]) => {
    expect([a!.name, b!.name]).toEqual(['A sample series', 'A sample series']);
    expect([a!.version, b!.version]).toEqual([1, 2]);
    expect(b!.previous).toBe(a!.id);
  } },
  { file: 'revision-threaded-to-single-patch.mbox', counts: [0, 2, 0], patches: [1, 1], check: ([a, b]) => {
    expect([a!.version, b!.version]).toEqual([1, 2]);
    expect(b!.previous).toBe(a!.id);
  } },
  { file: 'revision-threaded-to-cover.mbox', counts: [2, 4, 0], patches: [2, 2], covers: [1, 1], check: ([a, b]) => {
    expect([a!.version, b!.version]).toEqual([1, 2]);
    expect(b!.previous).toBe(a!.id);
  } },
  { file: 'revision-threaded-to-patch.mbox', counts: [2, 4, 0], patches: [2, 2], covers: [1, 1], check: ([a, b]) => {
    expect(b!.previous).toBe(a!.id);
    expect(b!.patches.map((p) => p.number)).toEqual([1, 2]);
  } },
  { file: 'revision-out-of-order.mbox', counts: [2, 4, 0], patches: [2, 2], covers: [1, 1], check: ([a, b]) => {
    expect(b!.cover).toBe('<1473633142-10432-1-git-send-email-stephenfinucane@gmail.com>');
    expect(b!.previous).toBe(a!.id);
  } },
  { file: 'revision-no-cover-letter.mbox', counts: [1, 4, 0], patches: [2, 2], covers: [1, 0], check: ([a, b]) => {
    expect(b!.version).toBe(2);
    expect(b!.previous).toBe(a!.id);
  } },
  { file: 'revision-unlabeled.mbox', counts: [2, 4, 0], patches: [2, 2], covers: [1, 1], check: ([a, b]) => {
    expect([a!.version, b!.version]).toEqual([1, 1]);
    expect(b!.previous).toBe(a!.id);
  } },
  { file: 'revision-unlabeled-noreferences.mbox', counts: [0, 4, 0], patches: [2, 2], check: ([a, b]) => {
    expect(a!.received_all && b!.received_all).toBe(true);
    expect(b!.previous).toBe(a!.id);
  } },
  { file: 'bugs-unnumbered.mbox', counts: [1, 2, 0], patches: [1, 1], covers: [1, 0], check: ([a, b]) => {
    expect(a!.received_all).toBe(false);
    expect(b!.total).toBe(1);
    expect(b!.patches[0]!.msgid).toBe('<1473632524-8585-3-git-send-email-stephenfinucane@gmail.com>');
    expect(b!.previous).toBeNull();
  } },
  { file: 'bugs-nocover-noversion.mbox', counts: [0, 4, 0], patches: [2, 2], check: ([a, b]) => {
    expect([a!.version, b!.version]).toEqual([1, 1]);
  } },
  { file: 'bugs-nocover.mbox', counts: [0, 4, 0], patches: [2, 2], check: ([a, b]) => {
    expect([a!.version, b!.version]).toEqual([1, 2]);
    expect(b!.previous).toBe(a!.id);
  } },
  { file: 'bugs-spamming.mbox', counts: [0, 3, 0], patches: [1, 1, 1], check: (all) => {
    for (const s of all) expect([s.version, s.total, s.received_all]).toEqual([2, 4, false]);
    expect(new Set(all.map((s) => s.id)).size).toBe(3);
  } },
  { file: 'bugs-mixed-versions.mbox', counts: [0, 2, 0], patches: [1, 1], check: ([a, b]) => {
    expect([a!.version, b!.version]).toEqual([1, 2]);
    expect(b!.name).toBeNull();
  } },
  { file: 'base-incomplete.mbox', counts: [1, 1, 0], patches: [1], covers: [1], check: ([s]) => {
    expect(s!.received_all).toBe(false);
  } },
  { file: 'base-extra-patches.mbox', counts: [1, 3, 0], patches: [3], covers: [1], check: ([s]) => {
    expect(s!.received_all).toBe(true);
    expect(s!.total).toBe(2);
    expect(s!.patches.map((p) => p.number)).toEqual([1, 2, 3]);
  } },
  { file: 'mercurial-cover-letter.mbox', counts: [1, 2, 0], patches: [2], covers: [1], check: ([s]) => {
    expect(s!.cover).toBe('<patchbomb.1485159385@nuevo>');
    expect(s!.name).toBe('Sample Mercurial patches');
  } },
  { file: 'mercurial-no-cover-letter.mbox', counts: [0, 2, 0], patches: [2] },
];

describe('patchwork series/ corpus', () => {
  for (const c of cases) {
    it(`${c.file}: counts ${JSON.stringify(c.counts)}, series ${JSON.stringify(c.patches)}`, async () => {
      const doc = await seriesJson([pwSeries(c.file)]);
      expect(counts(doc)).toEqual(c.counts);
      expect(patchSplit(doc)).toEqual(c.patches);
      if (c.covers) expect(coverSplit(doc)).toEqual(c.covers);
      // every message exactly once
      expect(new Set(doc.messages.map((m) => m.msgid)).size).toBe(doc.messages.length);
      expect(doc.messages).toHaveLength(splitMbox(readFileSync(pwSeries(c.file))).length);
      c.check?.(doc.series, doc);
    });
  }

  it('base-cover-letter: the name is the cover subject after each mail', async () => {
    const files = splitToFiles(pwSeries('base-cover-letter.mbox'));
    const ids = new Set<string>();
    for (let k = 1; k <= files.length; k++) {
      const doc = await seriesJson(files.slice(0, k));
      expect(doc.series).toHaveLength(1);
      expect(doc.series[0]!.name).toBe('A sample series');
      ids.add(doc.series[0]!.id);
    }
    expect(ids.size).toBe(1);
  });

  it("base-no-cover-letter: the name is patch 1's after each mail (differs from patchwork: name has no prefixes)", async () => {
    const files = splitToFiles(pwSeries('base-no-cover-letter.mbox'));
    for (let k = 1; k <= files.length; k++) {
      const doc = await seriesJson(files.slice(0, k));
      expect(doc.series).toHaveLength(1);
      expect(doc.series[0]!.name).toBe('test: Add some lorem ipsum');
    }
  });

  it('base-out-of-order: name null after 2/2, patch 1 name after 1/2, cover name after the cover; id stable', async () => {
    const files = splitToFiles(pwSeries('base-out-of-order.mbox'));
    const names: (string | null)[] = [];
    const ids = new Set<string>();
    for (let k = 1; k <= files.length; k++) {
      const doc = await seriesJson(files.slice(0, k));
      expect(doc.series).toHaveLength(1);
      names.push(doc.series[0]!.name);
      ids.add(doc.series[0]!.id);
    }
    expect(names).toEqual([null, 'test: Add some lorem ipsum', 'A sample series']);
    expect(ids.size).toBe(1);
  });

  it('differs from patchwork: name has no prefixes (base-no-references, revision-no-cover-letter, bugs-multiple-content-types)', async () => {
    expect((await seriesJson([pwSeries('base-no-references.mbox')])).series[0]!.name).toBe(
      'net: ieee802154: remove explicit set skb->sk',
    );
    expect((await seriesJson([pwSeries('revision-no-cover-letter.mbox')])).series[1]!.name).toBe('test: Add some lorem ipsum');
    expect((await seriesJson([pwSeries('bugs-multiple-content-types.mbox')])).series[0]!.name).toBe(
      'bpf: Use PTR_ERR_OR_ZERO in xsk_map_inc()',
    );
  });

  it('ids do not change when the same mail is read again', async () => {
    const once = await seriesJson([pwSeries('revision-out-of-order.mbox')]);
    const twice = await seriesJson([pwSeries('revision-out-of-order.mbox'), pwSeries('revision-out-of-order.mbox')]);
    expect(twice.series.map((s) => s.id)).toEqual(once.series.map((s) => s.id));
    expect(twice.messages).toHaveLength(once.messages.length);
  });
});

// ---------------------------------------------------------------------------------------------------
// Depends-on templates: series1 (dependency-base-patch.mbox) + a filled template, read as one input.

/** Python str.format: `{name}` → value, `{{` / `}}` → braces. */
function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{|\}\}|\{(\w+)\}/g, (m, name: string | undefined) => {
    if (m === '{{') return '{';
    if (m === '}}') return '}';
    const v = values[name!];
    if (v === undefined) throw new Error(`no value for {${name}}`);
    return v;
  });
}

const base = readFileSync(pwSeries('dependency-base-patch.mbox'), 'utf8');
const template = (name: string) => readFileSync(pwSeries(`dependency-${name}.mbox.template`), 'utf8');
const baseCover = '<20240610210912.161735-1-ahassick@iol.unh.edu>';
const basePatch1 = '<20240610210912.161735-3-ahassick@iol.unh.edu>';
const ownCover = '<20240611160854.192806-1-ahassick@iol.unh.edu>';
const bare = (msgid: string) => msgid.slice(1, -1);

async function baseSeriesId(): Promise<string> {
  const doc = await seriesJson([pwSeries('dependency-base-patch.mbox')]);
  expect(doc.series).toHaveLength(1);
  return doc.series[0]!.id;
}

async function withTemplate(name: string, values: Record<string, string>, prefix = base): Promise<SeriesDocument> {
  return seriesJson([tmpFile(prefix + '\n' + fill(template(name), values))]);
}

/** Adds a List-Id header to every message of an mbox text. */
function onList(mbox: string, list: string): string {
  return mbox.replace(/^(Message-ID: .*)$/gim, `$1\nList-Id: <${list}>`);
}

describe('patchwork Depends-on templates', () => {
  it('dependency-one-cover: a series URL, a patch URL or a patch msgid of series1 in the cover → depends on series1', async () => {
    const s1 = await baseSeriesId();
    const tokens = [
      `http://test/project/test/list/?series=${s1}`,
      `https://patchwork.example.org/series/${s1}/`,
      `http://test/project/test/patch/${bare(basePatch1)}/`,
      basePatch1,
    ];
    for (const token of tokens) {
      const doc = await withTemplate('one-cover', { depends_token: token });
      expect(doc.series, token).toHaveLength(2);
      const [a, b] = doc.series;
      expect(a!.id, 'series1 keeps its id when later mail arrives').toBe(s1);
      expect(b!.depends_on, token).toEqual([s1]);
      expect(a!.depends_on).toEqual([]);
    }
  });

  it('dependency-one-first-patch: series1 patch or cover msgid → dependency; its own cover → none; garbage → none', async () => {
    const s1 = await baseSeriesId();
    for (const token of [basePatch1, baseCover]) {
      const doc = await withTemplate('one-first-patch', { depends_token: token });
      expect(doc.series[1]!.depends_on, token).toEqual([s1]);
    }
    for (const token of [ownCover, 'http://test/project/test/list/', 'not a reference at all', 'http://test/project/test/patch/12345/']) {
      const doc = await withTemplate('one-first-patch', { depends_token: token });
      expect(doc.series).toHaveLength(2);
      expect(doc.series[1]!.depends_on, token).toEqual([]);
    }
  });

  it('dependency-one-first-patch: a series of another project (other List-Id) → no dependency', async () => {
    const prefix = onList(base, 'project-a.example.com');
    const tmpl = onList(template('one-first-patch'), 'project-b.example.com');
    const doc = await seriesJson([tmpFile(prefix + '\n' + fill(tmpl, { depends_token: basePatch1 }))]);
    expect(doc.series).toHaveLength(2);
    expect(doc.series[1]!.depends_on).toEqual([]);
    // same list → the dependency holds
    const same = await seriesJson([tmpFile(prefix + '\n' + fill(onList(template('one-first-patch'), 'project-a.example.com'), { depends_token: basePatch1 }))]);
    expect(same.series[1]!.depends_on).toEqual([same.series[0]!.id]);
  });

  for (const name of ['multi', 'multi-2']) {
    it(`dependency-${name}: depends on series1 and series2, in that order`, async () => {
      const s1 = await baseSeriesId();
      const series2 = fill(template('one-cover'), { depends_token: baseCover });
      const two = await seriesJson([tmpFile(base + '\n' + series2)]);
      const s2 = two.series[1]!.id;
      const doc = await withTemplate(
        name,
        { depends_token_1: `http://test/project/test/list/?series=${s1}`, depends_token_2: ownCover },
        base + '\n' + series2 + '\n',
      );
      expect(doc.series.map((s) => s.id)).toEqual([s1, s2, doc.series[2]!.id]);
      const [a, b, c] = doc.series;
      expect(c!.depends_on).toEqual([s1, s2]);
      expect(b!.depends_on).toEqual([s1]);
      expect(a!.depends_on).toEqual([]);
      // dependents, as patchwork counts them
      const dependents = (id: string) => doc.series.filter((s) => s.depends_on.includes(id)).length;
      expect([dependents(s1), dependents(s2)]).toEqual([2, 1]);
    });
  }
});

// ---------------------------------------------------------------------------------------------------
// b4: naked cover letters (D) and partial rerolls (A).

/** The trailer lines of each message of a b4 `-ref-*.txt` git-am mbox, without my own sign-off. */
function refTrailers(file: string): string[][] {
  return splitMbox(readFileSync(file)).map((raw) => {
    const text = raw.toString('utf8');
    const body = text.slice(text.indexOf('\n\n') + 2);
    const message = body.split(/\n(?:---\n|diff --git )/)[0]!;
    return message
      .split('\n')
      .filter((l) => /^[A-Za-z][\w-]*: \S/.test(l))
      .filter((l) => !l.startsWith('Signed-off-by: Test Override'));
  });
}

const trailerLines = (s: Series) => s.patches.map((p) => p.trailers.map((t) => `${t.name}: ${t.value}`));

describe('b4 corpus', () => {
  it('naked-cover-single: a root without [PATCH 0/N] from the same author is the cover letter', async () => {
    const doc = await seriesJson([b4('naked-cover-single.mbox')]);
    expect(doc.series).toHaveLength(1);
    const s = doc.series[0]!;
    expect(s.cover).toBe('<20221025-widget-v1-0-author@example.org>');
    expect(s.name).toBe('do a thing to the widget subsystem');
    expect(s.patches.map((p) => p.msgid)).toEqual(['<20221025-widget-v1-1-author@example.org>']);
    expect(s.received_all).toBe(true);
    expect(counts(doc)).toEqual([1, 1, 0]);
  });

  it('naked-cover-bugreport: a bug report from someone else is not the cover letter', async () => {
    const doc = await seriesJson([b4('naked-cover-bugreport.mbox')]);
    expect(doc.series).toHaveLength(1);
    const s = doc.series[0]!;
    expect(s.cover).toBeNull();
    expect(s.name).toBe('widget: fix data corruption under load');
    const report = doc.messages.find((m) => m.msgid === '<20221025-bugreport-widget@example.com>')!;
    expect(report.kind).toBe('other');
    expect(counts(doc)).toEqual([0, 1, 0]);
  });

  it('partial reroll: [PATCH v3 2/2] alone makes a complete v3, patch 1 and the cover carried from v2', async () => {
    const doc = await seriesJson([b4('trailers-followup-partial-reroll.mbox')]);
    expect(doc.series.map((s) => s.version)).toEqual([2, 3]);
    const [v2, v3] = doc.series;
    expect(v2!.received_all).toBe(true);
    expect(v3!.received_all).toBe(true);
    expect(v3!.previous).toBe(v2!.id);
    expect(v3!.cover).toBe('<cover-message@example.com>');
    expect(v3!.name).toBe('Simple cover');
    expect(v3!.patches.map((p) => [p.number, p.msgid])).toEqual([
      [1, '<patch-1-message@example.com>'],
      [2, '<patch-v3-2-message@example.com>'],
    ]);
    expect(v3!.id).not.toBe(v2!.id);
    // trailers as in b4's reference output (without my sign-off): cover-letter trailers carried to v3,
    // the v2-2/2 follow-up not
    expect(trailerLines(v3!)).toEqual(refTrailers(b4('trailers-followup-partial-reroll-ref-defaults.txt')));
    expect(trailerLines(v3!)[1]).not.toContain('Reviewed-by: Followup Reviewer1 <followup-reviewer1@example.com>');
    expect(trailerLines(v2!)[1]).toContain('Reviewed-by: Followup Reviewer1 <followup-reviewer1@example.com>');
    // the follow-ups are comments on v2
    expect(doc.comments.map((c) => [c.msgid, c.parent, c.series])).toEqual([
      ['<fwup-message-1@example.com>', '<patch-2-message@example.com>', v2!.id],
      ['<fwup-message-2@example.com>', '<cover-message@example.com>', v2!.id],
    ]);
  });

  for (const source of ['single', 'with-cover']) {
    it(`trailers-followup-${source}: patch trailers as in b4's reference output`, async () => {
      const doc = await seriesJson([b4(`trailers-followup-${source}.mbox`)]);
      expect(doc.series).toHaveLength(1);
      expect(trailerLines(doc.series[0]!)).toEqual(refTrailers(b4(`trailers-followup-${source}-ref-defaults.txt`)));
    });
  }
});

// ---------------------------------------------------------------------------------------------------
// Every mail of the corpus: nothing crashes, nothing is dropped, the document is consistent.

function checkConsistent(doc: SeriesDocument): void {
  // each message once; a different copy of a Message-ID seen before is listed again as `other` saying so
  const firsts = doc.messages.filter((m) => !(m.kind === 'other' && m.reason?.startsWith('duplicate Message-ID')));
  const kinds = new Map(firsts.map((m) => [m.msgid, m.kind]));
  expect(kinds.size, 'each message once').toBe(firsts.length);
  for (const m of doc.messages) if (m.kind === 'other' || m.kind === 'rejected') expect(m.reason, m.msgid).toBeTruthy();
  const ids = new Set(doc.series.map((s) => s.id));
  expect(ids.size, 'unique series ids').toBe(doc.series.length);
  for (const s of doc.series) {
    if (s.cover) expect(kinds.get(s.cover)).toBe('cover');
    for (const p of s.patches) expect(['patch', 'pull-request']).toContain(kinds.get(p.msgid));
    expect(s.patches.map((p) => p.number)).toEqual([...s.patches.map((p) => p.number)].sort((a, b) => a - b));
    if (s.previous) expect(ids.has(s.previous) && s.previous !== s.id).toBe(true);
    for (const d of s.depends_on) expect(ids.has(d) && d !== s.id).toBe(true);
  }
  const inSeries = new Set(doc.series.flatMap((s) => [...(s.cover ? [s.cover] : []), ...s.patches.map((p) => p.msgid)]));
  for (const m of doc.messages) {
    if (m.kind === 'patch' || m.kind === 'pull-request' || m.kind === 'cover') expect(inSeries.has(m.msgid), m.msgid).toBe(true);
  }
  expect(doc.comments.map((c) => c.msgid)).toEqual(doc.messages.filter((m) => m.kind === 'comment').map((m) => m.msgid));
  for (const c of doc.comments) if (c.series) expect(ids.has(c.series)).toBe(true);
}

describe('the whole corpus', () => {
  const dirs: [string, RegExp][] = [
    [path.join(corpus, 'patchwork', 'mail'), /\.mbox$/],
    [path.join(corpus, 'patchwork', 'fuzz'), /\.mbox$/],
    [path.join(corpus, 'patchwork', 'historic'), /\.mbox$/],
    [path.join(corpus, 'patchwork', 'series'), /\.mbox$/],
    [path.join(corpus, 'b4'), /\.mbox$/],
  ];
  for (const [dir, re] of dirs) {
    it(`${path.relative(corpus, dir)}: every file, one at a time and all together`, async () => {
      const files = readdirSync(dir).filter((f) => re.test(f)).sort().map((f) => path.join(dir, f));
      expect(files.length).toBeGreaterThan(0);
      for (const f of files) checkConsistent(await seriesJson([f]));
      checkConsistent(await seriesJson(files));
    });
  }
});

// ---------------------------------------------------------------------------------------------------
// The real archive (10,000 messages of the virtualization list): consistency and id stability when
// more mail arrives, on real threading habits (cross-posted series, rerolls, out-of-order delivery).

describe('virtualization archive', () => {
  it('assembles consistently, and no series id or membership changes when later mail arrives', async () => {
    const messages: ParsedMessage[] = [];
    for await (const m of readEpoch(archiveGitDir())) messages.push(await parseMessage(m.raw));
    expect(messages.length).toBe(10_000);
    const full = assembleSeries(messages, { sloppyTrailers: false });
    checkConsistent(full);
    expect(full.messages).toHaveLength(new Set(messages.map((m) => `${m.msgid}\n${m.hash}`)).size);
    const seriesOfPatch = new Map<string, string>();
    for (const s of full.series) for (const p of s.patches) if (!seriesOfPatch.has(p.msgid)) seriesOfPatch.set(p.msgid, s.id);
    for (const cut of [2_500, 5_000, 7_500]) {
      const early = assembleSeries(messages.slice(0, cut), { sloppyTrailers: false });
      for (const s of early.series) for (const p of s.patches) expect(seriesOfPatch.get(p.msgid), `${p.msgid} after ${cut}`).toBe(s.id);
    }
    // the same mail read twice gives the same document
    expect(assembleSeries([...messages, ...messages], { sloppyTrailers: false })).toEqual(full);
  }, 120_000);
});

// ---------------------------------------------------------------------------------------------------
// prerequisite-patch-id, as real `git format-patch --base` writes it (no corpus file carries one).

describe('prerequisite-patch-id (git format-patch --base)', () => {
  it('matches `git patch-id --stable` and resolves to the series carrying the prerequisite patches', async () => {
    const repo = path.join(work, 'prereq-repo');
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', repo, ...args], {
        encoding: 'utf8',
        env: { ...process.env, GIT_AUTHOR_DATE: '2024-01-01T10:00:00Z', GIT_COMMITTER_DATE: '2024-01-01T10:00:00Z' },
      });
    execFileSync('git', ['init', '-q', '-b', 'main', repo]);
    git('config', 'user.name', 'Alice Dev');
    git('config', 'user.email', 'alice@example.org');
    const commit = (file: string, content: string, msg: string) => {
      writeFileSync(path.join(repo, file), content);
      git('add', file);
      git('commit', '-q', '-m', msg);
      return git('rev-parse', 'HEAD').trim();
    };
    const base = commit('a.c', 'int a;\n\nint b;\n', 'base');
    commit('a.c', 'int a;\n\nint b = 1;\n', 'a: set b');
    writeFileSync(path.join(repo, 'z.c'), 'int z;\n'); // a second file in the same patch: per-file hashes are summed
    git('add', 'z.c');
    const p2 = commit('b.c', 'int c;\n', 'b: add c');
    commit('a.c', 'int a = 2;\n\nint b = 1;\n', 'a: set a');
    const prereqs = git('format-patch', '--stdout', '--thread', '--cover-letter', `${base}..${p2}`);
    const dependent = git('format-patch', '--stdout', '--thread', `--base=${base}`, `${p2}..HEAD`);
    expect(dependent).toMatch(/^prerequisite-patch-id: [0-9a-f]{40}$/m);
    // our patch-id of each prerequisite mail's diff is git's own
    for (const raw of splitMbox(Buffer.from(prereqs)).slice(1)) {
      const parsed = await parseMessage(raw);
      const gitId = execFileSync('git', ['patch-id', '--stable'], { input: raw, encoding: 'utf8' }).split(' ')[0];
      expect(patchId(parsed.diff!)).toBe(gitId);
    }
    const doc = await seriesJson([tmpFile(prereqs + '\n' + dependent)]);
    expect(doc.series.map((s) => s.patches.length)).toEqual([2, 1]);
    expect(doc.series[1]!.base_commit).toBe(base);
    expect(doc.series[1]!.depends_on).toEqual([doc.series[0]!.id]);
    // without the prerequisites there is nothing to resolve
    expect((await seriesJson([tmpFile(dependent)])).series[0]!.depends_on).toEqual([]);
    // core copies hold no diff text: the engine asks for the diffs it needs, and gets the same document
    const all = await Promise.all(splitMbox(Buffer.from(prereqs + '\n' + dependent)).map((r) => parseMessage(r)));
    const full = assembleSeries(all, { sloppyTrailers: false });
    expect(full.series[1]!.depends_on).toEqual([full.series[0]!.id]);
    const diffs = new Map(all.map((m) => [m.msgid, m.diff]));
    const cores = all.map(coreOf);
    expect(cores.some((c) => 'diff' in c)).toBe(false);
    expect(cores.filter((c) => c.hasDiff).length).toBe(3);
    expect(assembleSeries(cores, { sloppyTrailers: false, diffOf: (id) => diffs.get(id) ?? null })).toEqual(full);
    expect(assembleSeries(cores, { sloppyTrailers: false }).series[1]!.depends_on).toEqual([]);
  });
});
