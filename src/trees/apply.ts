// Applying a series: `git am --3way` one patch at a time on the chosen base. Every patch gets an
// outcome (applied, applied through 3-way, conflict with files and the failing hunk, already in the
// tree, skipped after an earlier failure); the result is pushed as `patchgate/<series-id>/v<rev>`.
// Conflicts are outcomes; only infrastructure faults throw (PatchApplyError, CheckoutError).
import { logger } from '../log.js';
import { resetCheckout, resolveCommit } from './checkout.js';
import { GitCommandError, PatchApplyError } from './errors.js';
import { git } from './git.js';

export type ApplyOutcome = 'applied' | 'applied-3way' | 'conflict' | 'already-applied' | 'skipped';

export interface TrailerLine {
  /** `Reviewed-by` */
  name: string;
  /** `A B <a@b.org>` */
  value: string;
}

export interface PatchToApply {
  msgid: string;
  /** a git-am-ready mbox holding this one patch (renderAm's output for it) */
  mbox: string;
  /** the patch's subject (prefixes are ignored when comparing with history) */
  subject: string;
  /** trailers to add to this patch's commit beyond those already in the mbox */
  trailers?: TrailerLine[];
}

export interface PatchApplyResult {
  msgid: string;
  outcome: ApplyOutcome;
  /** files the patch touches; for a conflict, the files that failed */
  files: string[];
  /** one line for reports: how it applied, or git's error and the failing hunk */
  detail: string;
  /** the applied commit (applied, applied-3way), the commit already holding it (already-applied when known) */
  commit: string | null;
  /** for a conflict: the hunk of the patch that failed, as in the mail, when git named one */
  hunk: string | null;
}

export interface Committer {
  name: string;
  email: string;
}

export interface ApplySeriesOptions {
  /** a checkout (checkout.ts) nobody else uses right now; it is reset to baseRef first */
  checkoutDir: string;
  /** commit or ref to apply on, resolvable in the checkout (e.g. `refs/heads/main` of the mirror) */
  baseRef: string;
  patches: PatchToApply[];
  /** trailers added to every patch's commit (git interpret-trailers, if different from those present) */
  trailers?: TrailerLine[];
  /** a repository (path or URL) the result is pushed to; with `branch` */
  resultsRepo?: string;
  /** `patchgate/<series-id>/v<rev>` (resultBranch()) */
  branch?: string;
  /** also push when a patch conflicted (the branch then holds the patches before it); default false */
  pushPartial?: boolean;
  committer?: Committer;
  /** commits of the base searched for an already-applied patch (default 1000) */
  historyDepth?: number;
  signal?: AbortSignal;
}

export type SeriesApplyStatus = 'success' | 'conflict';

export interface ApplySeriesResult {
  baseSha: string;
  /** the checkout's HEAD after the run */
  head: string;
  patches: PatchApplyResult[];
  /** the pushed branch, or null when nothing was pushed */
  branch: string | null;
  /** success when no patch conflicted */
  status: SeriesApplyStatus;
}

const log = logger.child({ module: 'trees/apply' });

const DEFAULT_COMMITTER: Committer = { name: 'patchgate', email: 'patchgate@localhost' };

/** `patchgate/<series-id>/v<rev>`, with characters git refuses in a ref name replaced by `-`. */
export function resultBranch(seriesId: string, revision: number): string {
  const id = seriesId
    .replace(/[^A-Za-z0-9._@+-]/g, '-')
    .replace(/\.\.+/g, '-')
    .replace(/^[.-]+|[.-]+$/g, '')
    .replace(/\.lock$/i, '-lock');
  return `patchgate/${id || 'series'}/v${revision}`;
}

/** Paths a patch touches, from its `diff --git a/X b/Y` lines (new names for renames). */
export function patchFiles(mbox: string): string[] {
  const files: string[] = [];
  for (const m of mbox.matchAll(/^diff --git (?:"?a\/(.+?)"?) "?b\/(.+?)"?$/gm)) {
    if (!files.includes(m[2])) files.push(m[2]);
  }
  return files;
}

/** The subject without `Re:` and `[...]` prefixes, whitespace folded. */
export function bareSubject(subject: string): string {
  let s = subject.replace(/\s+/g, ' ').trim();
  for (;;) {
    const next = s.replace(/^(re|aw|fwd?):\s*/i, '').replace(/^\[[^\]]*\]\s*/, '');
    if (next === s) return s;
    s = next;
  }
}

/**
 * The hunk of `file` in the patch whose old-side range covers `line` (git's "patch failed: file:line"
 * names the hunk's start line), as written in the mail.
 */
export function findHunk(mbox: string, file: string, line: number): string | null {
  const lines = mbox.split('\n');
  let inFile = false;
  let best: { start: number; text: string[] } | null = null;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    const diff = /^diff --git "?a\/(.+?)"? "?b\/(.+?)"?$/.exec(l);
    if (diff) {
      inFile = diff[1] === file || diff[2] === file;
      continue;
    }
    if (!inFile) continue;
    const header = /^@@ -(\d+)(?:,(\d+))? \+\d+(?:,(\d+))? @@/.exec(l);
    if (!header) continue;
    // the hunk is exactly as long as its header says: old-side and new-side line counts
    let oldLeft = header[2] === undefined ? 1 : Number(header[2]);
    let newLeft = header[3] === undefined ? 1 : Number(header[3]);
    const text = [l];
    let j = i + 1;
    for (; j < lines.length && (oldLeft > 0 || newLeft > 0); j++) {
      const body = lines[j];
      text.push(body);
      if (body.startsWith('-')) oldLeft--;
      else if (body.startsWith('+')) newLeft--;
      else if (body.startsWith('\\')) continue;
      else {
        oldLeft--;
        newLeft--;
      }
    }
    if (lines[j]?.startsWith('\\')) text.push(lines[j]);
    const start = Number(header[1]);
    if (!best || Math.abs(start - line) < Math.abs(best.start - line)) best = { start, text };
    i = j - 1;
  }
  return best ? best.text.join('\n') : null;
}

interface Conflict {
  files: string[];
  detail: string;
  hunk: string | null;
}

const INFRA = [
  /Unable to create '.*\.lock'/,
  /unable to write (new )?(index|sha1|object|file)/i,
  /No space left on device/,
  /not a git repository/,
  /cannot lock ref/,
  /Out of memory/,
  /Permission denied/,
  /fatal: (bad object|loose object .* is corrupt|packed object .* is corrupt)/,
];

/** Turns git am's output into the failing files, one line of detail and the failing hunk. */
export function describeConflict(output: string, mbox: string): Conflict {
  const files: string[] = [];
  const notes: string[] = [];
  const push = (f: string) => {
    if (!files.includes(f)) files.push(f);
  };
  let hunk: string | null = null;
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^error: patch failed: (.+):(\d+)$/.exec(line))) {
      push(m[1]);
      notes.push(line);
      hunk ??= findHunk(mbox, m[1], Number(m[2]));
    } else if ((m = /^CONFLICT \([^)]*\): (?:Merge conflict in )?(\S+)/.exec(line))) {
      // `Merge conflict in F`, or `F deleted in HEAD and modified in ...` (modify/delete)
      push(m[1]);
      notes.push(line);
    } else if ((m = /^error: (.+): (does not exist in index|already exists in (?:index|working directory)|does not match index|No such file or directory)$/.exec(line))) {
      push(m[1]);
      notes.push(line);
    } else if ((m = /^error: sha1 information is lacking or useless \((.+)\)\.$/.exec(line))) {
      push(m[1]);
      notes.push(line);
    } else if (/^(error: )?(Patch is empty|Patch format detection failed|corrupt patch at line \d+|error: .*(malformed|corrupt) patch)/i.test(line)) {
      notes.push(line);
    }
  }
  if (!notes.length) {
    const first = output.split('\n').find((l) => /^(error|fatal):/.test(l.trim()));
    if (first) notes.push(first.trim());
  }
  const header = hunk ? (hunk as string).split('\n')[0] : null;
  const detail = [...new Set(notes)].join('; ') + (header ? ` (hunk ${header})` : '');
  return { files, detail: detail || 'git am failed', hunk };
}

/** What the base's history holds: the already-in-the-tree lookup (also used by merged.ts). */
export interface History {
  /** bare subject → commit */
  subjects: Map<string, string>;
  /** patch-id → commit, for commits whose file set equals one of the series' patches */
  patchIds: Map<string, string>;
}

/** The last `depth` commits of `baseSha` (any `git log` revision, e.g. `old..new`), indexed by subject and patch-id. */
export async function recentHistory(dir: string, baseSha: string, depth: number, fileSets: string[][]): Promise<History> {
  const out = await git(dir, ['log', '-n', String(depth), '--no-merges', '--format=%x01%H%x00%s', '--name-only', baseSha]);
  const subjects = new Map<string, string>();
  const wanted = new Set(fileSets.filter((f) => f.length).map((f) => [...f].sort().join('\0')));
  const same: string[] = [];
  for (const chunk of out.stdout.split('\x01')) {
    if (!chunk) continue;
    const nl = chunk.indexOf('\n');
    const head = nl < 0 ? chunk : chunk.slice(0, nl);
    const [sha, subject] = head.split('\0');
    if (!subjects.has(bareSubject(subject ?? ''))) subjects.set(bareSubject(subject ?? ''), sha);
    const files = (nl < 0 ? '' : chunk.slice(nl + 1)).split('\n').filter(Boolean);
    if (files.length && files.length < 1000 && wanted.has([...files].sort().join('\0'))) same.push(sha);
  }
  const patchIds = new Map<string, string>();
  if (same.length) {
    const diffs = await git(dir, ['diff-tree', '--root', '-p', '--stdin'], { input: `${same.join('\n')}\n` });
    const ids = await git(dir, ['patch-id', '--stable'], { input: diffs.stdout });
    for (const l of ids.stdout.split('\n')) {
      const [id, sha] = l.split(' ');
      if (id && sha && !patchIds.has(id)) patchIds.set(id, sha);
    }
  }
  return { subjects, patchIds };
}

/** `git patch-id --stable` of a patch (mail, mbox or bare diff), null when it holds no diff. */
export async function patchId(dir: string, mbox: string): Promise<string | null> {
  const r = await git(dir, ['patch-id', '--stable'], { input: mbox });
  return r.stdout.split(' ')[0]?.trim() || null;
}

async function head(dir: string): Promise<string> {
  return (await git(dir, ['rev-parse', 'HEAD'])).stdout.trim();
}

async function oneLine(dir: string, sha: string): Promise<string> {
  return (await git(dir, ['log', '-1', '--format=%h ("%s")', sha])).stdout.trim();
}

function committerEnv(c: Committer): Record<string, string> {
  return { GIT_COMMITTER_NAME: c.name, GIT_COMMITTER_EMAIL: c.email };
}

/** Adds trailers to HEAD's message (interpret-trailers, `addIfDifferent`), keeping dates so reruns give the same commit. */
async function addTrailers(dir: string, trailers: TrailerLine[], committer: Committer): Promise<void> {
  if (!trailers.length) return;
  const message = (await git(dir, ['log', '-1', '--format=%B', 'HEAD'])).stdout;
  const args = ['interpret-trailers', '--if-exists', 'addIfDifferent'];
  for (const t of trailers) args.push('--trailer', `${t.name}: ${t.value}`);
  const updated = (await git(dir, args, { input: message })).stdout;
  if (updated.trim() === message.trim()) return;
  const date = (await git(dir, ['log', '-1', '--format=%cd', '--date=raw', 'HEAD'])).stdout.trim();
  await git(dir, ['commit', '--amend', '--quiet', '--no-verify', '--allow-empty', '--cleanup=verbatim', '-F', '-'], {
    input: updated,
    env: { ...committerEnv(committer), GIT_COMMITTER_DATE: date },
  });
}

function isInfra(output: string): boolean {
  return INFRA.some((re) => re.test(output));
}

/**
 * Applies the series on `baseRef` in the checkout, one `git am --3way` per patch, and pushes the
 * result. Stops at the first conflict: later patches are `skipped`. An already-applied patch (same
 * patch-id as a recent commit of the base, or git's "No changes -- Patch already applied", or a
 * recent commit with the same subject when the patch no longer applies) does not stop the series.
 */
export async function applySeries(options: ApplySeriesOptions): Promise<ApplySeriesResult> {
  const { checkoutDir: dir, patches } = options;
  const committer = options.committer ?? DEFAULT_COMMITTER;
  const baseSha = await resolveCommit(dir, options.baseRef);
  await resetCheckout(dir, baseSha);
  const history = await recentHistory(dir, baseSha, options.historyDepth ?? 1000, patches.map((p) => patchFiles(p.mbox)));

  const results: PatchApplyResult[] = [];
  let failed: { index: number; msgid: string } | null = null;
  for (const [index, patch] of patches.entries()) {
    options.signal?.throwIfAborted();
    const files = patchFiles(patch.mbox);
    if (failed) {
      results.push({
        msgid: patch.msgid,
        outcome: 'skipped',
        files,
        detail: `not tried: patch ${failed.index + 1} ${failed.msgid} did not apply`,
        commit: null,
        hunk: null,
      });
      continue;
    }
    const id = files.length ? await patchId(dir, patch.mbox) : null;
    const sameChange = id ? history.patchIds.get(id) : undefined;
    if (sameChange) {
      results.push({
        msgid: patch.msgid,
        outcome: 'already-applied',
        files,
        detail: `same change (patch-id ${id!.slice(0, 12)}) as ${await oneLine(dir, sameChange)} in the base`,
        commit: sameChange,
        hunk: null,
      });
      continue;
    }

    const before = await head(dir);
    let am;
    try {
      am = await git(dir, ['am', '--3way', '--committer-date-is-author-date', '--no-gpg-sign'], {
        input: patch.mbox,
        env: committerEnv(committer),
        ok: [0, 1, 128],
        signal: options.signal,
      });
    } catch (err) {
      if (err instanceof GitCommandError) throw new PatchApplyError(patch.msgid, err.stderr, baseSha);
      throw err;
    }
    const output = `${am.stdout}\n${am.stderr}`;
    if (am.code === 0) {
      const after = await head(dir);
      if (after === before || /No changes -- Patch already applied/.test(output)) {
        results.push({ msgid: patch.msgid, outcome: 'already-applied', files, detail: 'git am: no changes, the patch is already applied', commit: null, hunk: null });
        continue;
      }
      await addTrailers(dir, [...(patch.trailers ?? []), ...(options.trailers ?? [])], committer);
      const commit = await head(dir);
      const threeWay = /Falling back to patching base and 3-way merge/.test(output);
      results.push({
        msgid: patch.msgid,
        outcome: threeWay ? 'applied-3way' : 'applied',
        files,
        detail: threeWay ? 'applied with a 3-way merge (the patch does not apply as is)' : 'applied cleanly',
        commit,
        hunk: null,
      });
      continue;
    }

    await git(dir, ['am', '--abort'], { ok: [0, 1, 128] });
    if (isInfra(output)) throw new PatchApplyError(patch.msgid, output.trim(), baseSha);
    const sameSubject = history.subjects.get(bareSubject(patch.subject));
    if (sameSubject) {
      await resetCheckout(dir, before);
      results.push({
        msgid: patch.msgid,
        outcome: 'already-applied',
        files,
        detail: `${await oneLine(dir, sameSubject)} in the base has the same subject and the patch no longer applies`,
        commit: sameSubject,
        hunk: null,
      });
      continue;
    }
    // git am --3way does not say which hunk failed; a plain `git apply --check` on the same base does
    const check = await git(dir, ['apply', '--check', '--verbose'], { input: patch.mbox, ok: [0, 1, 128] });
    const conflict = describeConflict(`${check.stderr}\n${output}`, patch.mbox);
    results.push({
      msgid: patch.msgid,
      outcome: 'conflict',
      files: conflict.files.length ? conflict.files : files,
      detail: conflict.detail,
      commit: null,
      hunk: conflict.hunk,
    });
    failed = { index, msgid: patch.msgid };
    await resetCheckout(dir, before);
  }

  const headSha = await head(dir);
  const status: SeriesApplyStatus = failed ? 'conflict' : 'success';
  let branch: string | null = null;
  if (options.resultsRepo && options.branch && (!failed || options.pushPartial)) {
    try {
      await git(dir, ['push', '--quiet', '--force', '--no-verify', options.resultsRepo, `${headSha}:refs/heads/${options.branch}`]);
    } catch (err) {
      if (err instanceof GitCommandError) throw new PatchApplyError(patches[0]?.msgid ?? '', err.stderr, baseSha);
      throw err;
    }
    branch = options.branch;
  }
  log.info({ dir, base: baseSha, head: headSha, branch, outcomes: results.map((r) => r.outcome) }, 'series applied');
  return { baseSha, head: headSha, patches: results, branch, status };
}

export interface CandidateAttempt<T extends { name: string; reason: string }> {
  /** the candidate whose result was kept, its reason saying when others were tried first */
  tree: (T & { reason: string }) | null;
  result: ApplySeriesResult | null;
  tried: Array<{ name: string; status: SeriesApplyStatus }>;
}

/**
 * Tries the candidates in order and keeps the first on which the series applies without conflict;
 * when none does, the first candidate's result. The kept candidate's reason says what was tried.
 */
export async function applyToFirstCandidate<T extends { name: string; reason: string }>(
  candidates: T[],
  attempt: (candidate: T) => Promise<ApplySeriesResult>,
): Promise<CandidateAttempt<T>> {
  const tried: Array<{ name: string; status: SeriesApplyStatus }> = [];
  let first: { candidate: T; result: ApplySeriesResult } | null = null;
  for (const candidate of candidates) {
    const result = await attempt(candidate);
    tried.push({ name: candidate.name, status: result.status });
    first ??= { candidate, result };
    if (result.status === 'success') {
      const reason =
        candidates.length === 1
          ? candidate.reason
          : tried.length === 1
            ? `${candidate.reason}; first of ${candidates.map((c) => c.name).join(', ')} that applies`
            : `${candidate.reason}; ${tried.slice(0, -1).map((t) => t.name).join(', ')} conflicted, ${candidate.name} applies`;
      return { tree: { ...candidate, reason }, result, tried };
    }
  }
  if (!first) return { tree: null, result: null, tried };
  const reason = candidates.length > 1 ? `${first.candidate.reason}; applies to none of ${candidates.map((c) => c.name).join(', ')}` : first.candidate.reason;
  return { tree: { ...first.candidate, reason }, result: first.result, tried };
}
