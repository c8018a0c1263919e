// Merged series: after a tree's mirror is fetched, the tree's revisions not merged yet are looked for in the
// new commits of its branch. A revision is merged when every patch of it is there, found the way applying
// finds a patch "already in the tree" (apply.ts recentHistory: patch-id --stable, else the subject) with the
// author's address confirming a subject match. The merge (commits, how, when) goes to series_merges, which
// makes the queue state `merged` (migration 11); a superseded revision stays superseded. recordMerges is also
// how the patchwork source records a revision whose patches patchwork lists as accepted (how 'patchwork accepted').
import { logger } from '../log.js';
import type { Series, SeriesPatch } from '../series/types.js';
import type { Db } from '../store/db.js';
import { diffReader } from '../store/messages.js';
import { bareSubject, patchFiles, patchId, recentHistory, type History } from './apply.js';
import type { TreeConfig } from './config.js';
import { git } from './git.js';

const log = logger.child({ module: 'trees/merged' });

/** How a patch was found merged: in a tree's branch (patch-id, subject+author) or by patchwork's state. */
export type MergeHow = 'patch-id' | 'subject+author' | 'patchwork accepted';

export interface MergedPatch {
  msgid: string;
  /** the commit holding the patch ('' when patchwork accepted it without naming one) */
  commit: string;
  how: MergeHow;
}

export interface SeriesMerge {
  seriesId: string;
  version: number;
  tree: string;
  branch: string;
  head: string;
  commits: MergedPatch[];
  /** patch-id, subject+author, or mixed when the patches were found both ways */
  how: MergeHow | 'mixed';
  /** committer date of the newest of the commits (ISO) */
  committedAt: string | null;
}

/** A merge to record: a SeriesMerge, or one known without a branch (patchwork accepted: no branch, no head). */
export type MergeRecord = Omit<SeriesMerge, 'branch' | 'head'> & { branch: string | null; head: string | null };

export interface DetectMergedOptions {
  /** commits of the branch searched for a revision never searched for before (default 2000) */
  historyDepth?: number;
}

export interface DetectMergedResult {
  tree: string;
  /** the branch tip looked at, null when the mirror has no such branch */
  head: string | null;
  /** revisions looked for */
  checked: number;
  merged: SeriesMerge[];
}

interface Candidate {
  series: Series;
  /** searched before, at the last scan's head: only the commits since then are new to it */
  seen: boolean;
}

async function branchHead(dir: string, branch: string): Promise<string | null> {
  const r = await git(dir, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`], { ok: [0, 1] });
  return r.code === 0 ? r.stdout.trim() : null;
}

async function isAncestor(dir: string, older: string, newer: string): Promise<boolean> {
  return (await git(dir, ['merge-base', '--is-ancestor', older, newer], { ok: [0, 1, 128] })).code === 0;
}

/**
 * Revisions whose last run chose this tree, complete, not superseded, and not merged already, except those
 * patchwork marked accepted (no commits known yet): their commits are still looked for.
 */
function candidates(db: Db, tree: string, lastScan: string | null): Candidate[] {
  const rows = db.prepare(`SELECT s.doc, r.updated_at FROM series s
      JOIN runs r ON r.series_id = s.id AND r.version = s.version
      JOIN series_queue q ON q.series_id = s.id
      WHERE r.tree = ? AND s.received_all = 1 AND q.state != 'superseded'
        AND (q.state != 'merged' OR EXISTS (SELECT 1 FROM series_merges m WHERE m.series_id = s.id AND m.head IS NULL))
      ORDER BY s.first_date, s.id`).all(tree) as { doc: string; updated_at: string }[];
  return rows.map((r) => ({ series: JSON.parse(r.doc) as Series, seen: lastScan !== null && r.updated_at <= lastScan }));
}

/** Where a patch is in the history: its patch-id, else its subject with the commit's author having its address. */
async function findPatch(dir: string, p: SeriesPatch, history: History, idOf: (msgid: string) => Promise<string | null>): Promise<MergedPatch | null> {
  const id = await idOf(p.msgid);
  const byId = id ? history.patchIds.get(id) : undefined;
  if (byId) return { msgid: p.msgid, commit: byId, how: 'patch-id' };
  const bySubject = history.subjects.get(bareSubject(p.subject));
  if (!bySubject) return null;
  const author = (await git(dir, ['log', '-1', '--format=%ae', bySubject])).stdout.trim().toLowerCase();
  return author && author === p.author.email.toLowerCase() ? { msgid: p.msgid, commit: bySubject, how: 'subject+author' } : null;
}

const inOrder = (s: Series) => [...s.patches].sort((a, b) => a.number - b.number);

/** Every patch of the revision in the history, or null as soon as one is not there. */
async function findSeries(dir: string, s: Series, history: History, idOf: (msgid: string) => Promise<string | null>): Promise<MergedPatch[] | null> {
  const found: MergedPatch[] = [];
  for (const p of inOrder(s)) {
    const m = await findPatch(dir, p, history, idOf);
    if (!m) return null;
    found.push(m);
  }
  return found.length ? found : null;
}

async function newestCommitDate(dir: string, commits: string[]): Promise<string | null> {
  const out = (await git(dir, ['show', '-s', '--format=%cI', ...new Set(commits)])).stdout.split('\n').filter(Boolean);
  const dates = out.map((d) => new Date(d)).filter((d) => !Number.isNaN(d.getTime())).sort((a, b) => b.getTime() - a.getTime());
  return dates[0]?.toISOString() ?? null;
}

/**
 * Looks for the tree's unmerged revisions in its branch in the mirror `dir` and records those found whole.
 * Revisions searched at the last scan are looked for in the commits since its head (when the branch only moved
 * forward), others in the last `historyDepth` commits. Nothing is searched when neither the head nor the
 * candidates changed.
 */
export async function detectMerged(db: Db, dir: string, tree: Pick<TreeConfig, 'name' | 'branch'>, options: DetectMergedOptions = {}): Promise<DetectMergedResult> {
  const depth = options.historyDepth ?? 2000;
  const head = await branchHead(dir, tree.branch);
  if (!head) {
    log.warn({ tree: tree.name, branch: tree.branch, dir }, 'no such branch in the mirror: merged series not looked for');
    return { tree: tree.name, head: null, checked: 0, merged: [] };
  }
  const last = (db.prepare('SELECT head, scanned_at FROM tree_merge_scans WHERE tree = ?').get(tree.name) as { head: string; scanned_at: string } | undefined) ?? null;
  const scannedAt = (db.prepare("SELECT strftime('%Y-%m-%dT%H:%M:%fZ','now')").pluck().get() as string);
  const all = candidates(db, tree.name, last?.scanned_at ?? null);
  const forward = last !== null && (last.head === head || (await isAncestor(dir, last.head, head)));

  const diffOf = diffReader(db);
  const ids = new Map<string, Promise<string | null>>();
  const idOf = (msgid: string) => {
    let id = ids.get(msgid);
    if (!id) {
      const diff = diffOf(msgid);
      ids.set(msgid, (id = diff && patchFiles(diff).length ? patchId(dir, diff) : Promise.resolve(null)));
    }
    return id;
  };
  const historyOf = (range: string, list: Series[]) =>
    recentHistory(dir, range, depth, list.flatMap((s) => s.patches.map((p) => patchFiles(diffOf(p.msgid) ?? ''))));

  // searched at the last scan and the branch only moved on: only a revision with a patch among the new commits can
  // have become whole (its other patches may have landed before); the others are searched in the recent history
  const fresh = all.filter((c) => !c.seen || !forward).map((c) => c.series);
  const seen = forward && last!.head !== head ? all.filter((c) => c.seen).map((c) => c.series) : [];
  const touched: Series[] = [];
  if (seen.length) {
    const news = await historyOf(`${last!.head}..${head}`, seen);
    for (const s of seen) {
      for (const p of s.patches) {
        if (await findPatch(dir, p, news, idOf)) {
          touched.push(s);
          break;
        }
      }
    }
  }
  const search = [...fresh, ...touched];
  const merged: SeriesMerge[] = [];
  if (search.length) {
    const history = await historyOf(head, search);
    for (const s of search) {
      const commits = await findSeries(dir, s, history, idOf);
      if (!commits) continue;
      const kinds = new Set(commits.map((c) => c.how));
      merged.push({
        seriesId: s.id, version: s.version, tree: tree.name, branch: tree.branch, head, commits,
        how: kinds.size > 1 ? 'mixed' : commits[0].how,
        committedAt: await newestCommitDate(dir, commits.map((c) => c.commit)),
      });
    }
  }

  const scan = db.prepare(`INSERT INTO tree_merge_scans (tree, head, scanned_at) VALUES (?, ?, ?)
      ON CONFLICT (tree) DO UPDATE SET head = excluded.head, scanned_at = excluded.scanned_at`);
  db.transaction(() => {
    recordMerges(db, merged);
    scan.run(tree.name, head, scannedAt);
  })();
  if (merged.length) log.info({ tree: tree.name, head, merged: merged.map((m) => `${m.seriesId} v${m.version} (${m.how})`) }, 'merged series found');
  return { tree: tree.name, head, checked: fresh.length + seen.length, merged };
}

/**
 * Stores merges in series_merges (the queue state turns `merged`), in one transaction (a savepoint inside the
 * caller's). A revision already recorded keeps its record, except that the commits found in a branch replace a
 * record without them (patchwork's `accepted`). Returns the revisions newly recorded or completed.
 */
export function recordMerges(db: Db, merges: MergeRecord[]): string[] {
  const insert = db.prepare(`INSERT INTO series_merges (series_id, version, tree, branch, head, commits, how, committed_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (series_id) DO UPDATE SET tree = excluded.tree, branch = excluded.branch,
        head = excluded.head, commits = excluded.commits, how = excluded.how, committed_at = excluded.committed_at
      WHERE series_merges.head IS NULL AND excluded.head IS NOT NULL`);
  const added: string[] = [];
  db.transaction(() => {
    for (const m of merges) {
      if (insert.run(m.seriesId, m.version, m.tree, m.branch, m.head, JSON.stringify(m.commits), m.how, m.committedAt).changes) added.push(m.seriesId);
    }
  })();
  return added;
}

/** After a fetch of the mirror `dir`: every tree served by it. A failure for one tree is logged, not thrown. */
export async function detectMergedInMirror(db: Db, dir: string, trees: Pick<TreeConfig, 'name' | 'branch'>[], options: DetectMergedOptions = {}): Promise<DetectMergedResult[]> {
  const results: DetectMergedResult[] = [];
  for (const t of trees) {
    try {
      results.push(await detectMerged(db, dir, t, options));
    } catch (err) {
      log.warn({ tree: t.name, err: (err as Error).message }, 'looking for merged series failed; next try after the next fetch');
    }
  }
  return results;
}

export interface StoredMerge {
  series_id: string;
  version: number;
  tree: string;
  branch: string | null;
  head: string | null;
  commits: MergedPatch[];
  how: string;
  committed_at: string | null;
  detected_at: string;
}

/** The recorded merge of a revision, or null. */
export function mergeOf(db: Db, seriesId: string): StoredMerge | null {
  const r = db.prepare('SELECT * FROM series_merges WHERE series_id = ?').get(seriesId) as (Omit<StoredMerge, 'commits'> & { commits: string }) | undefined;
  return r ? { ...r, commits: JSON.parse(r.commits) as MergedPatch[] } : null;
}
