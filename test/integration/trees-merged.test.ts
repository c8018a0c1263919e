// Merged series on real git: series made with git format-patch, applied upstream with `git am` (verbatim, with
// a maintainer's edited subject, with an edited diff), the tree's mirror fetched by the daemon's schedule, the
// revisions found whole in the branch become `merged` with their commits; a partial merge does not; a
// superseded revision stays superseded; /api/series?state=merged and the queue page agree.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assembleStored, ingestInputs } from '../../src/ingest/ingest.js';
import { readMailInputs } from '../../src/ingest/inputs.js';
import type { Series } from '../../src/series/types.js';
import { openDb, type Db } from '../../src/store/db.js';
import { finishRun, markRunning, queueRun, saveOutcome } from '../../src/store/runs.js';
import { listSeries } from '../../src/store/series.js';
import { parseTrees, type TreeConfig } from '../../src/trees/config.js';
import { detectMerged, detectMergedInMirror, mergeOf, recordMerges, type DetectMergedResult } from '../../src/trees/merged.js';
import { fetchMirror, scheduleMirrorFetch } from '../../src/trees/mirror.js';
import { createWebServer } from '../../src/web/server.js';
import { git, makeSeries as makeSeriesIn, type Edit } from '../helpers/series-repo.js';

const TEN = 'one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\n';

let dir: string;
let upstream: string;
let dev: string;
let root: string;
let db: Db;
let trees: TreeConfig[];

/**
 * makeSeries with Message-Ids unique to NAME: format-patch derives them from the commit and the second (the
 * cover letter's from the second alone), so series made in one second would share them.
 */
function makeSeries(repo: string, outDir: string, name: string, prefixArg: string, commits: Edit[], base = 'main'): string {
  return makeSeriesIn(repo, outDir, name, prefixArg, commits, base).replace(/<([^<>\s@]*\.git\.)/g, `<$1${name}.`);
}

/** The patch files (no cover letter) makeSeries wrote for NAME. */
function patchFilesOf(name: string): string[] {
  const d = path.join(dir, `patches-${name}`);
  return readdirSync(d).filter((f) => !f.startsWith('0000-')).sort().map((f) => path.join(d, f));
}

/** The maintainer applies mails upstream with git am (their own committer identity). */
function am(files: string[]): void {
  execFileSync('git', ['-C', upstream, '-c', 'user.name=Mae Maintainer', '-c', 'user.email=mae@kernel.org', 'am', '-q', ...files], { encoding: 'utf8' });
}

function edited(file: string, from: string, to: string): string {
  const text = readFileSync(file, 'utf8');
  expect(text).toContain(from);
  const out = path.join(dir, `edited-${path.basename(file)}`);
  writeFileSync(out, text.replace(from, to));
  return out;
}

const byName = (name: string): Series => {
  const s = listSeries(db).find((x) => x.name === name);
  if (!s) throw new Error(`no series ${name}: ${listSeries(db).map((x) => x.name).join(', ')}`);
  return s;
};
const stateOf = (s: Series) => db.prepare('SELECT state FROM series_queue WHERE series_id = ?').pluck().get(s.id) as string;
const upstreamLog = (n: number) => execFileSync('git', ['-C', upstream, 'log', `-${n}`, '--format=%H %s'], { encoding: 'utf8' }).trim().split('\n').map((l) => [l.slice(0, 40), l.slice(41)]) as [string, string][];

/** What the pipeline writes for a revision it applied on net-next and finished. */
function ranOnNetNext(s: Series): void {
  queueRun(db, s.id, s.version, 'report');
  markRunning(db, s.id, s.version);
  saveOutcome(db, s.id, s.version, 'apply', { status: 'success', summary: 'applied', data: { tree: { name: 'net-next', reason: 'marked for net-next' }, branch: null } });
  finishRun(db, s.id, s.version, 'success');
}

/** One tick of the daemon's schedule (main.ts wires detectMergedInMirror the same way). */
async function scheduledFetch(): Promise<DetectMergedResult[]> {
  const stop = new AbortController();
  let results: DetectMergedResult[] = [];
  await scheduleMirrorFetch(root, trees, 2, stop.signal, async (mirror, served) => {
    results = await detectMergedInMirror(db, mirror, served);
    stop.abort();
  });
  return results;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'patchgate-merged-'));
  upstream = path.join(dir, 'net-next');
  mkdirSync(upstream);
  git(dir, 'init', '-q', upstream);
  for (const f of ['a.c', 'b.c', 'c.c', 'd.c']) writeFileSync(path.join(upstream, f), TEN);
  git(upstream, 'add', '-A');
  git(upstream, 'commit', '-qm', 'base');
  dev = path.join(dir, 'dev');
  git(dir, 'clone', '-q', upstream, dev);

  const mail = [
    makeSeries(dev, dir, 'alpha', 'PATCH net-next', [
      { file: 'a.c', from: 'two\n', to: 'two (alpha)\n', msg: 'a: alpha two' },
      { file: 'a.c', from: 'six\n', to: 'six (alpha)\n', msg: 'a: alpha six' },
    ]),
    makeSeries(dev, dir, 'bravo', 'PATCH net-next', [
      { file: 'b.c', from: 'two\n', to: 'two (bravo)\n', msg: 'b: bravo two' },
      { file: 'b.c', from: 'six\n', to: 'six (bravo)\n', msg: 'b: bravo six' },
    ]),
    makeSeries(dev, dir, 'charlie', 'PATCH net-next', [
      { file: 'c.c', from: 'two\n', to: 'two (charlie)\n', msg: 'c: charlie two' },
      { file: 'c.c', from: 'five\n', to: 'five (charlie)\n', msg: 'c: charlie five' },
      { file: 'c.c', from: 'eight\n', to: 'eight (charlie)\n', msg: 'c: charlie eight' },
    ]),
    makeSeries(dev, dir, 'delta', 'PATCH net-next', [
      { file: 'd.c', from: 'two\n', to: 'two (delta)\n', msg: 'd: delta two' },
      { file: 'd.c', from: 'six\n', to: 'six (delta v1)\n', msg: 'd: delta six' },
    ]),
    makeSeries(dev, dir, 'delta2', 'PATCH net-next v2', [
      { file: 'd.c', from: 'two\n', to: 'two (delta)\n', msg: 'd: delta two' },
      { file: 'd.c', from: 'six\n', to: 'six (delta v2)\n', msg: 'd: delta six' },
    ]),
  ].join('\n');
  writeFileSync(path.join(dir, 'series.mbox'), mail);
  db = openDb(path.join(dir, 'store.sqlite'));
  await ingestInputs(db, readMailInputs([path.join(dir, 'series.mbox')]));
  assembleStored(db, { sloppyTrailers: false });
  trees = parseTrees({ trees: [{ name: 'net-next', url: upstream, branch: 'main' }] }).trees;
  root = path.join(dir, 'mirrors');
}, 60_000);

afterAll(() => {
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('merged series', { timeout: 60_000 }, () => {
  it('the series are assembled as expected (v2 supersedes v1)', () => {
    expect(byName('delta2 series').previous).toBe(byName('delta series').id);
    expect(byName('charlie series').patches).toHaveLength(3);
  });

  it('nothing is merged while the branch holds none of the series', async () => {
    for (const n of ['alpha', 'bravo', 'charlie', 'delta']) ranOnNetNext(byName(`${n} series`));
    const [r] = await scheduledFetch();
    expect(r.tree).toBe('net-next');
    expect(r.checked).toBe(3); // alpha, bravo, charlie: delta v1 is superseded, v2 has not run
    expect(r.merged).toEqual([]);
    expect(stateOf(byName('alpha series'))).toBe('needs-ack');
  });

  it('applied upstream with git am (verbatim; edited subject; edited diff; 2 of 3) → merged with its commits, a partial merge is not', async () => {
    ranOnNetNext(byName('delta2 series')); // after the last scan: searched in the whole recent history
    const alpha = patchFilesOf('alpha');
    const bravo = patchFilesOf('bravo');
    const charlie = patchFilesOf('charlie');
    const delta2 = patchFilesOf('delta2');
    am(alpha);
    // the maintainer reworded one subject (same diff: patch-id) and fixed up the other's diff (same subject and author)
    am([edited(bravo[0], 'Subject: [PATCH net-next 1/2] b: bravo two', 'Subject: [PATCH net-next 1/2] b: bravo: two, reworded'),
      edited(bravo[1], '+six (bravo)', '+six (bravo, fixed up)')]);
    am(charlie.slice(0, 2));
    am(delta2);
    const log = upstreamLog(8).reverse();
    expect(log.map(([, s]) => s)).toEqual(['a: alpha two', 'a: alpha six', 'b: bravo: two, reworded', 'b: bravo six', 'c: charlie two', 'c: charlie five', 'd: delta two', 'd: delta six']);
    const commit = (subject: string) => log.find(([, s]) => s === subject)![0];

    const [r] = await scheduledFetch();
    expect(r.head).toBe(commit('d: delta six'));
    const found = new Map(r.merged.map((m) => [m.seriesId, m]));
    const a = byName('alpha series'), b = byName('bravo series'), c = byName('charlie series'), d1 = byName('delta series'), d2 = byName('delta2 series');
    expect([...found.keys()].sort()).toEqual([a.id, b.id, d2.id].sort());

    expect(found.get(a.id)!.commits).toEqual([
      { msgid: a.patches[0].msgid, commit: commit('a: alpha two'), how: 'patch-id' },
      { msgid: a.patches[1].msgid, commit: commit('a: alpha six'), how: 'patch-id' },
    ]);
    expect(found.get(a.id)!.how).toBe('patch-id');
    expect(found.get(b.id)!.commits.map((x) => [x.commit, x.how])).toEqual([[commit('b: bravo: two, reworded'), 'patch-id'], [commit('b: bravo six'), 'subject+author']]);
    expect(found.get(b.id)!.how).toBe('mixed');
    expect(found.get(d2.id)!.commits.map((x) => x.commit)).toEqual([commit('d: delta two'), commit('d: delta six')]);

    // recorded in the store: the queue state, the commits, when and how
    expect(stateOf(a)).toBe('merged');
    expect(stateOf(b)).toBe('merged');
    expect(stateOf(d2)).toBe('merged');
    expect(stateOf(c)).toBe('needs-ack');
    expect(stateOf(d1)).toBe('superseded');
    const stored = mergeOf(db, a.id)!;
    expect(stored).toMatchObject({ tree: 'net-next', branch: 'main', head: r.head, how: 'patch-id', version: 1 });
    expect(stored.commits.map((x) => x.commit)).toEqual([commit('a: alpha two'), commit('a: alpha six')]);
    const committed = execFileSync('git', ['-C', upstream, 'show', '-s', '--format=%cI', commit('a: alpha six')], { encoding: 'utf8' }).trim();
    expect(stored.committed_at).toBe(new Date(committed).toISOString());
    expect(Date.parse(stored.detected_at)).toBeGreaterThan(Date.now() - 60_000);
    expect(mergeOf(db, c.id)).toBeNull();
    expect(mergeOf(db, d1.id)).toBeNull();
  });

  it('the third patch landing later completes the partial merge; a scan at an unchanged head finds nothing new', async () => {
    const c = byName('charlie series');
    const idle = await detectMerged(db, (await fetchMirror(root, upstream)).dir, trees[0]);
    expect(idle.checked).toBe(0); // same head, nothing new to search
    am(patchFilesOf('charlie').slice(2));
    const [r] = await scheduledFetch();
    expect(r.checked).toBe(1);
    expect(r.merged.map((m) => m.seriesId)).toEqual([c.id]);
    const log = upstreamLog(20);
    const commit = (subject: string) => log.find(([, x]) => x === subject)![0];
    // patches 1 and 2 landed before the last scan (with delta v2 after them), patch 3 since
    expect(r.merged[0].commits.map((x) => x.commit)).toEqual([commit('c: charlie two'), commit('c: charlie five'), commit('c: charlie eight')]);
    expect(log[0][0]).toBe(commit('c: charlie eight'));
    expect(stateOf(c)).toBe('merged');
  });

  it('a subject alone is not enough: another author\'s commit with the same subject does not merge a series', async () => {
    const other = makeSeries(dev, dir, 'echo', 'PATCH net-next', [
      { file: 'a.c', from: 'nine\n', to: 'nine (echo)\n', msg: 'a: echo nine' },
      { file: 'a.c', from: 'ten\n', to: 'ten (echo)\n', msg: 'a: echo ten' },
    ], 'main');
    writeFileSync(path.join(dir, 'echo.mbox'), other);
    await ingestInputs(db, readMailInputs([path.join(dir, 'echo.mbox')]));
    assembleStored(db, { sloppyTrailers: false });
    const e = byName('echo series');
    ranOnNetNext(e);
    // someone else writes both changes differently under the same subjects
    for (const [from, to, msg] of [['nine\n', 'nine (other)\n', 'a: echo nine'], ['ten\n', 'ten (other)\n', 'a: echo ten']]) {
      writeFileSync(path.join(upstream, 'a.c'), readFileSync(path.join(upstream, 'a.c'), 'utf8').replace(from, to));
      execFileSync('git', ['-C', upstream, '-c', 'user.name=Else Where', '-c', 'user.email=else@example.net', 'commit', '-qam', msg]);
    }
    const [r] = await scheduledFetch();
    expect(r.merged).toEqual([]);
    expect(stateOf(e)).toBe('needs-ack');
  });

  it('/api/series?state=merged and the queue page agree', async () => {
    const app = await createWebServer({ db, actionToken: 'sekrit' });
    try {
      const api = (await app.inject({ method: 'GET', url: '/api/series?state=merged' })).json() as { series: Series[]; total: number; queue: { id: string; state: string }[] };
      const expected = ['alpha series', 'bravo series', 'charlie series', 'delta2 series'].map((n) => byName(n).id).sort();
      expect(api.series.map((s) => s.id).sort()).toEqual(expected);
      expect(api.total).toBe(4);
      expect(new Set(api.queue.map((q) => q.state))).toEqual(new Set(['merged']));
      const html = (await app.inject({ method: 'GET', url: '/?state=merged' })).body;
      const rows = [...html.matchAll(/<tr data-series="([^"]+)" data-state="([^"]+)"/g)].map((m) => ({ id: m[1], state: m[2] }));
      expect(rows.map((x) => x.id)).toEqual(api.series.map((s) => s.id));
      expect(rows.every((x) => x.state === 'merged')).toBe(true);
      expect(html).toContain('<option value="merged" selected>merged</option>');
      // the series page names the commits; the superseded v1 stays superseded
      const a = byName('alpha series');
      const page = (await app.inject({ method: 'GET', url: `/series/${encodeURIComponent(a.id)}` })).body;
      expect(page).toContain('<span class="st st-merged">merged</span>');
      for (const m of mergeOf(db, a.id)!.commits) expect(page).toContain(`data-commit="${m.commit}"`);
      const one = (await app.inject({ method: 'GET', url: `/api/series/${encodeURIComponent(a.id)}` })).json() as { state: string; merged: { commits: unknown[] } };
      expect(one.state).toBe('merged');
      expect(one.merged.commits).toHaveLength(2);
      const v1 = (await app.inject({ method: 'GET', url: '/api/series?state=superseded' })).json() as { series: Series[] };
      expect(v1.series.map((s) => s.id)).toEqual([byName('delta series').id]);
    } finally {
      await app.close();
    }
  });
  it('a revision patchwork marked accepted gets its commits when the branch has them', async () => {
    const mail = makeSeries(dev, dir, 'foxtrot', 'PATCH net-next', [
      { file: 'd.c', from: 'ten\n', to: 'ten (foxtrot)\n', msg: 'd: foxtrot ten' },
      { file: 'b.c', from: 'ten\n', to: 'ten (foxtrot)\n', msg: 'b: foxtrot ten' },
    ], 'main');
    writeFileSync(path.join(dir, 'foxtrot.mbox'), mail);
    await ingestInputs(db, readMailInputs([path.join(dir, 'foxtrot.mbox')]));
    assembleStored(db, { sloppyTrailers: false });
    const f = byName('foxtrot series');
    ranOnNetNext(f);
    // patchwork said accepted before the commits reached the mirror: merged, no commits known
    expect(recordMerges(db, [{ seriesId: f.id, version: f.version, tree: 'net-next', branch: null, head: null, how: 'patchwork accepted',
      committedAt: null, commits: f.patches.map((p) => ({ msgid: p.msgid, commit: '', how: 'patchwork accepted' as const })) }])).toEqual([f.id]);
    expect(stateOf(f)).toBe('merged');
    expect(mergeOf(db, f.id)).toMatchObject({ how: 'patchwork accepted', head: null });

    am(patchFilesOf('foxtrot'));
    const [r] = await scheduledFetch();
    expect(r.merged.map((m) => m.seriesId)).toEqual([f.id]);
    const log = upstreamLog(2).reverse();
    const stored = mergeOf(db, f.id)!;
    expect(stored).toMatchObject({ how: 'patch-id', branch: 'main', head: log[1][0] });
    expect(stored.commits.map((x) => x.commit)).toEqual(log.map(([c]) => c));
    expect(stateOf(f)).toBe('merged');
    // a second patchwork record does not replace the commits
    expect(recordMerges(db, [{ seriesId: f.id, version: f.version, tree: 'net-next', branch: null, head: null, how: 'patchwork accepted',
      committedAt: null, commits: [] }])).toEqual([]);
    expect(mergeOf(db, f.id)!.how).toBe('patch-id');
  });
});
