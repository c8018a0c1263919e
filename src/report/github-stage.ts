// GitHub reporting from the report stage: a series that came from a pull request (github_pulls, written
// by src/ingest/source-github.ts) gets patchgate's PR comment (hidden marker, edited in place) and one
// check run per stage on the revision's head commit, through the GitHub App installation of the repository.
//
// Like mail and patchwork, a report is an outbox row (channel `github`) written with the verdict, then
// delivered by sendGithubOutbox. Delivery is idempotent (the comment is found by its marker, a check run by
// its name on the head commit), so a row retried after a crash edits what the first attempt created.
// The comment shows the PR's newest revision only: a report for an older head posts its check runs (they
// belong to that commit) but leaves the comment alone, and a report that a newer one already replaced is
// skipped.
//
// Authentication: probot's ProbotOctokit as the app (app_id + private_key, JWT), then as the repository's
// installation (GET /repos/{owner}/{repo}/installation, then an installation access token); `github.api_url`
// points it at GitHub Enterprise or a test server.
import { readFileSync } from 'node:fs';
import { Probot, ProbotOctokit } from 'probot';
import { logger, type Logger } from '../log.js';
import { resolveSecret } from '../settings/load.js';
import type { Settings } from '../settings/schema.js';
import type { Db } from '../store/db.js';
import type { ReportContext } from './context.js';
import { PROCESS_TOKEN, recoverOutbox } from './outbox.js';
import { checkRunsFor, upsertCheckRun, upsertPullComment, type CheckRunSpec, type GithubClient, type PullTarget } from './github.js';
import { renderGithubComment } from './render.js';

export interface PullRow {
  source: string;
  repo: string;
  number: number;
  revision: number;
  head_sha: string;
}

export interface GithubPayload {
  /** `owner/name#number`: one comment per key */
  key: string;
  source: string;
  /** the PR revision this report is for (github_pulls.revision) */
  revision: number;
  target: PullTarget;
  comment: string;
  checkRuns: CheckRunSpec[];
}

/** The pull request revisions a series is (its cover letter or first patch is the PR's mail). */
export function pullsForSeries(db: Db, ctx: Pick<ReportContext, 'series'>): PullRow[] {
  const first = ctx.series.patches[0]?.msgid ?? null;
  return db.prepare(`SELECT source, repo, number, revision, head_sha FROM github_pulls
      WHERE cover_msgid = ? OR EXISTS (SELECT 1 FROM json_each(patch_msgids) WHERE value = ?) ORDER BY source, repo, number, revision`)
    .all(ctx.series.cover ?? '', first ?? '') as PullRow[];
}

/**
 * Writes one `github` outbox row per pull request the series came from (none for a series from mail). The
 * same verdict of a revision is queued once. Call it inside the verdict's transaction (recordVerdict).
 */
export function queueGithubReport(db: Db, ctx: ReportContext, opts: { dryRun: boolean }): number {
  if (ctx.verdict === 'pending') return 0;
  const pulls = pullsForSeries(db, ctx);
  if (pulls.length === 0) return 0;
  const insert = db.prepare(`INSERT INTO outbox (message_id, series_id, version, channel, recipients, payload, state, verdict)
      VALUES (?, ?, ?, 'github', ?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING`);
  const comment = renderGithubComment(ctx);
  const checkRuns = checkRunsFor(ctx);
  let queued = 0;
  db.transaction(() => {
    for (const p of pulls) {
      const [owner, repo] = p.repo.split('/');
      const key = `${p.repo}#${p.number}`;
      const payload: GithubPayload = {
        key, source: p.source, revision: p.revision, target: { owner, repo, pull: p.number, headSha: p.head_sha }, comment, checkRuns,
      };
      const id = `gh:${p.source}:${key}@${p.head_sha}:${ctx.series.id}:v${ctx.series.version}:${ctx.verdict}`;
      queued += insert.run(id, ctx.series.id, ctx.series.version, JSON.stringify([key]), JSON.stringify(payload), opts.dryRun ? 'dry-run' : 'pending', ctx.verdict).changes;
    }
  })();
  return queued;
}

/** A client authenticated as the GitHub App's installation on a repository (`owner/name`). */
export type InstallationClients = (repo: string) => Promise<GithubClient>;

export interface GithubAuthOptions {
  /** octokit class (tests turn retries and throttling off) */
  Octokit?: typeof ProbotOctokit;
  log?: Logger;
  env?: NodeJS.ProcessEnv;
}

/** Whether `github:` holds what reporting needs (app_id and private_key). */
export function githubReportingConfigured(settings: Settings): boolean {
  return !!settings.github && settings.github.app_id !== undefined && !!settings.github.private_key;
}

/**
 * Installation clients from `github:` (app_id, private_key as PEM, file path or env:NAME, api_url): the
 * installation of each repository is looked up once, and probot caches its access token until it expires.
 */
export function installationClients(settings: Settings, opts: GithubAuthOptions = {}): InstallationClients {
  const gh = settings.github;
  if (!gh || gh.app_id === undefined || !gh.private_key) throw new Error('GitHub reporting needs github.app_id and github.private_key');
  const keyValue = resolveSecret(gh.private_key, opts.env)!;
  const privateKey = keyValue.includes('-----BEGIN') ? keyValue : readFileSync(keyValue, 'utf8');
  const log = (opts.log ?? logger).child({ component: 'github-report' });
  const probot = new Probot({
    appId: String(gh.app_id), privateKey, baseUrl: gh.api_url, log, Octokit: opts.Octokit ?? ProbotOctokit,
  });
  const installations = new Map<string, Promise<number>>();
  return async (fullName: string) => {
    let id = installations.get(fullName);
    if (!id) {
      const [owner, repo] = fullName.split('/');
      id = (async () => {
        const app = await probot.auth();
        const res = await app.request('GET /repos/{owner}/{repo}/installation', { owner, repo });
        return (res.data as { id: number }).id;
      })();
      installations.set(fullName, id);
      id.catch(() => installations.delete(fullName));
    }
    return (await probot.auth(await id)) as unknown as GithubClient;
  };
}

const MAX_ATTEMPTS = 5;

export interface GithubSendSummary {
  sent: number;
  failed: number;
  skipped: number;
  retry: number;
}

function httpStatus(err: unknown): number | null {
  const s = (err as { status?: unknown }).status;
  return typeof s === 'number' ? s : null;
}

/**
 * Delivers the pending `github` rows in order: the comment (unless a newer revision of the PR exists) and
 * every check run. A 4xx answer (but 429) fails the row; other faults leave it pending for the next pass,
 * up to MAX_ATTEMPTS.
 */
export async function sendGithubOutbox(db: Db, clients: InstallationClients, opts: { log?: Logger } = {}): Promise<GithubSendSummary> {
  const log = (opts.log ?? logger).child({ module: 'report', channel: 'github' });
  // rows a dead sender left `sending` go back to pending (delivery is idempotent: resending edits in place)
  recoverOutbox(db);
  const rows = db.prepare(`SELECT id, series_id, version, payload, attempts FROM outbox WHERE channel = 'github' AND state = 'pending' ORDER BY id`)
    .all() as { id: number; series_id: string; version: number; payload: string; attempts: number }[];
  // one sender per pull request at a time: two could both miss the comment and each create one
  const claim = db.prepare(`UPDATE outbox SET state = 'sending', claimed_by = ? WHERE id = ? AND state = 'pending'
      AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.channel = 'github' AND o.state = 'sending' AND json_extract(o.payload, '$.key') = ?)`);
  const set = db.prepare(`UPDATE outbox SET state = ?, result = ?, attempts = attempts + 1, sent_at = ?, claimed_by = NULL WHERE id = ?`);
  const newerSent = db.prepare(`SELECT id FROM outbox WHERE channel = 'github' AND id > ? AND state = 'sent'
      AND json_extract(payload, '$.key') = ? AND json_extract(payload, '$.revision') >= ? LIMIT 1`).pluck();
  const latest = db.prepare('SELECT max(revision) FROM github_pulls WHERE source = ? AND repo = ? AND number = ?').pluck();
  const summary: GithubSendSummary = { sent: 0, failed: 0, skipped: 0, retry: 0 };
  for (const row of rows) {
    const p = JSON.parse(row.payload) as GithubPayload;
    const rlog = log.child({ series: row.series_id, rev: row.version, pr: p.key });
    if (claim.run(PROCESS_TOKEN, row.id, p.key).changes !== 1) continue; // another sender has it, or this PR
    const newer = newerSent.get(row.id, p.key, p.revision) as number | undefined;
    if (newer !== undefined) {
      set.run('skipped', JSON.stringify({ reason: `a newer report (outbox ${newer}) is already on ${p.key}` }), null, row.id);
      summary.skipped++;
      continue;
    }
    try {
      const gh = await clients(`${p.target.owner}/${p.target.repo}`);
      const newest = (latest.get(p.source, `${p.target.owner}/${p.target.repo}`, p.target.pull) as number | null) ?? p.revision;
      const comment = newest > p.revision
        ? { id: null, action: `left alone: revision ${newest} of the pull request is newer` }
        : await upsertPullComment(gh, p.target, p.comment);
      const checkRuns: { name: string; id: number; action: string }[] = [];
      for (const spec of p.checkRuns) checkRuns.push({ name: spec.name, ...(await upsertCheckRun(gh, p.target, spec)) });
      set.run('sent', JSON.stringify({ comment, checkRuns }), new Date().toISOString(), row.id);
      summary.sent++;
      rlog.info({ comment, checkRuns: checkRuns.length }, 'GitHub report delivered');
    } catch (err) {
      const status = httpStatus(err);
      const permanent = status !== null && status >= 400 && status < 500 && status !== 429;
      const result = JSON.stringify({ error: (err as Error).message, status });
      if (permanent || row.attempts + 1 >= MAX_ATTEMPTS) {
        set.run('failed', result, null, row.id);
        summary.failed++;
        rlog.error({ err: (err as Error).message, status }, 'GitHub report not delivered');
      } else {
        db.prepare(`UPDATE outbox SET state = 'pending', claimed_by = NULL, attempts = attempts + 1, result = ? WHERE id = ?`).run(result, row.id);
        summary.retry++;
        rlog.warn({ err: (err as Error).message, status }, 'GitHub report not delivered: will retry');
      }
    }
  }
  return summary;
}

const cached = new WeakMap<object, InstallationClients>();

/** The installation clients for SETTINGS, built once per settings object (null when `github:` lacks the app). */
export function defaultInstallationClients(settings: Settings): InstallationClients | null {
  if (!githubReportingConfigured(settings)) return null;
  let c = cached.get(settings.github!);
  if (!c) {
    c = installationClients(settings);
    cached.set(settings.github!, c);
  }
  return c;
}

/** Whether a GitHub report waits (or a dead sender's claim needs recovering). */
export function hasPendingGithub(db: Db): boolean {
  return db.prepare(`SELECT 1 FROM outbox WHERE channel = 'github' AND state IN ('pending', 'sending') LIMIT 1`).get() !== undefined;
}
