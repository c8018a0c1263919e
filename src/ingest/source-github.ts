// GitHub pull requests as a probot app: pull_request opened / synchronize / reopened becomes a series,
// each commit a patch (from the PR's format-patch view), the PR body the cover letter. Every new head is
// a new revision (a force-push included); the same head again (reopened, a redelivery) stores nothing.
// Deliveries are verified against X-Hub-Signature-256 before anything is read; refused ones are logged.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { Probot, ProbotOctokit, type ApplicationFunction } from 'probot';
import type { Logger } from '../log.js';
import { resolveSecret } from '../settings/load.js';
import { sourceSchema, type Settings } from '../settings/schema.js';
import type { Db } from '../store/db.js';
import { ingestInputs, type IngestOptions } from './ingest.js';
import type { RawInput } from './inputs.js';
import { splitMbox } from './mbox.js';
import { recordPoll } from './source-health.js';
import type { SourceDefinition, SourceOf } from './source-kit.js';
import { githubCommandsApp, type GithubCommandsAppOptions } from '../report/commands.js';

type GithubSource = SourceOf<'github'>;

export const GITHUB_WEBHOOK_PATH = '/api/github/webhooks';
const ACTIONS = ['pull_request.opened', 'pull_request.synchronize', 'pull_request.reopened'] as const;

export interface PullRequestInfo {
  repo: string;
  number: number;
  title: string;
  body: string | null;
  htmlUrl: string;
  author: string;
  headSha: string;
  baseSha: string;
  baseRef: string;
  updatedAt: string;
}

export interface PullRevision {
  revision: number;
  coverMsgid: string;
  patchMsgids: string[];
  /** messages newly stored (0 for a head already seen) */
  inserted: number;
  duplicate: boolean;
}

function msgidFor(pr: PullRequestInfo, revision: number, n: number): string {
  const [owner, name] = pr.repo.split('/');
  return `<pr${pr.number}-v${revision}-${n}.${pr.headSha.slice(0, 12)}.${name}.${owner}@github.patchgate.invalid>`;
}

function rfc2822(iso: string): string {
  return new Date(iso).toUTCString().replace(/GMT$/, '+0000');
}

/** Header text safe for a header line (no newlines; non-ASCII as RFC 2047 UTF-8). */
function headerText(s: string): string {
  const flat = s.replace(/\s*[\r\n]+\s*/g, ' ').trim();
  return /^[\x20-\x7e]*$/.test(flat) ? flat : `=?UTF-8?B?${Buffer.from(flat, 'utf8').toString('base64')}?=`;
}

function splitHeaders(raw: string): { headers: string; body: string } {
  const i = raw.search(/\r?\n\r?\n/);
  if (i === -1) return { headers: raw, body: '' };
  const m = /\r?\n\r?\n/.exec(raw.slice(i))!;
  return { headers: raw.slice(0, i), body: raw.slice(i + m[0].length) };
}

function headerValue(headers: string, name: string): string | null {
  const re = new RegExp(`^${name}:[ \\t]*((?:.*)(?:\\r?\\n[ \\t].*)*)`, 'im');
  const m = re.exec(headers);
  return m ? m[1].replace(/\r?\n[ \t]+/g, ' ').trim() : null;
}

/**
 * The mail of one revision of a pull request: a cover letter (the PR title and body) and one patch per
 * commit of the PR's format-patch output, threaded to the cover, with stable Message-IDs.
 */
export function pullRequestMail(pr: PullRequestInfo, revision: number, formatPatch: Buffer): { cover: Buffer; patches: Buffer[]; msgids: string[] } {
  const commits = splitMbox(formatPatch).map((b) => b.toString('utf8'));
  const total = commits.length;
  const v = revision > 1 ? `v${revision} ` : '';
  const coverId = msgidFor(pr, revision, 0);
  const listAddr = `${pr.repo} <${pr.repo.replace('/', '.')}@github.patchgate.invalid>`;
  const common = (msgid: string, extra: string[]) => [
    `Message-ID: ${msgid}`,
    `To: ${listAddr}`,
    `X-Patchgate-Github: ${pr.repo}#${pr.number}`,
    `X-Patchgate-Github-Head: ${pr.headSha}`,
    ...extra,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=UTF-8',
    'Content-Transfer-Encoding: 8bit',
  ];
  const coverBody = [
    (pr.body ?? '').replace(/\r\n/g, '\n').trim(),
    '',
    `Pull request: ${pr.htmlUrl}`,
    `Head: ${pr.headSha}`,
    '',
    `base-commit: ${pr.baseSha}`,
    '',
  ].join('\n');
  const cover = [
    `From: ${headerText(pr.author)} <${pr.author}@users.noreply.github.com>`,
    `Date: ${rfc2822(pr.updatedAt)}`,
    `Subject: [PATCH ${v}0/${total}] ${headerText(pr.title)}`,
    ...common(coverId, []),
    '',
    coverBody,
  ].join('\n');
  const msgids = [coverId];
  const patches = commits.map((text, i) => {
    const { headers, body } = splitHeaders(text);
    const subject = (headerValue(headers, 'Subject') ?? '').replace(/^\[PATCH[^\]]*\]\s*/i, '');
    const from = headerValue(headers, 'From') ?? `${pr.author} <${pr.author}@users.noreply.github.com>`;
    const date = headerValue(headers, 'Date') ?? rfc2822(pr.updatedAt);
    const id = msgidFor(pr, revision, i + 1);
    msgids.push(id);
    return Buffer.from([
      `From: ${from}`,
      `Date: ${date}`,
      `Subject: [PATCH ${v}${i + 1}/${total}] ${subject}`,
      ...common(id, [`In-Reply-To: ${coverId}`, `References: ${coverId}`]),
      '',
      body,
    ].join('\n'), 'utf8');
  });
  return { cover: Buffer.from(cover, 'utf8'), patches, msgids };
}

async function* fromList(items: RawInput[]): AsyncGenerator<RawInput> {
  yield* items;
}

/**
 * Stores the revision of PR at its head (unless that head was seen): messages first (stable ids: a
 * repeat stores nothing), then the github_pulls row that records the revision.
 */
export async function storePullRevision(db: Db, sourceName: string, pr: PullRequestInfo, formatPatch: Buffer, ingest: IngestOptions = {}, delivery?: string): Promise<PullRevision> {
  const seen = db.prepare('SELECT revision, cover_msgid, patch_msgids FROM github_pulls WHERE source = ? AND repo = ? AND number = ? AND head_sha = ?')
    .get(sourceName, pr.repo, pr.number, pr.headSha) as { revision: number; cover_msgid: string; patch_msgids: string } | undefined;
  if (seen) return { revision: seen.revision, coverMsgid: seen.cover_msgid, patchMsgids: JSON.parse(seen.patch_msgids) as string[], inserted: 0, duplicate: true };
  const last = db.prepare('SELECT max(revision) FROM github_pulls WHERE source = ? AND repo = ? AND number = ?').pluck()
    .get(sourceName, pr.repo, pr.number) as number | null;
  const revision = (last ?? 0) + 1;
  const mail = pullRequestMail(pr, revision, formatPatch);
  const from = `${sourceName}:${pr.repo}#${pr.number}@${pr.headSha}`;
  const inputs = [mail.cover, ...mail.patches].map((raw, i) => ({ raw, source: `${from}/${i}` }));
  const stats = await ingestInputs(db, fromList(inputs), ingest);
  db.prepare(`INSERT OR IGNORE INTO github_pulls (source, repo, number, revision, head_sha, base_sha, cover_msgid, patch_msgids, delivery)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    .run(sourceName, pr.repo, pr.number, revision, pr.headSha, pr.baseSha, mail.msgids[0], JSON.stringify(mail.msgids.slice(1)), delivery ?? null);
  return { revision, coverMsgid: mail.msgids[0], patchMsgids: mail.msgids.slice(1), inserted: stats.inserted, duplicate: false };
}

interface PullRequestPayload {
  number: number;
  pull_request: {
    number: number; title: string; body: string | null; html_url: string; updated_at: string;
    user: { login: string } | null;
    head: { sha: string }; base: { sha: string; ref: string };
  };
  repository: { full_name: string; name: string; owner: { login: string } };
}

export interface GithubAppOptions {
  db: Db;
  source: GithubSource;
  log: Logger;
  ingest?: IngestOptions;
  /** called after each handled delivery (tests, the dashboard) */
  onRevision?: (pr: PullRequestInfo, rev: PullRevision) => void;
  quietAfterMs?: number;
}

/** The probot app: PR events → series in the store. */
export function githubApp(opts: GithubAppOptions): ApplicationFunction {
  return (app) => {
    app.on([...ACTIONS], async (context) => {
      const payload = context.payload as unknown as PullRequestPayload;
      const repo = payload.repository.full_name;
      const log = opts.log.child({ source: opts.source.name, repo, pr: payload.number, delivery: context.id, event: `${context.name}.${(context.payload as { action?: string }).action}` });
      if (opts.source.repos.length > 0 && !opts.source.repos.includes(repo)) {
        log.info('pull request of a repository this source does not follow: ignored');
        return;
      }
      const p = payload.pull_request;
      const pr: PullRequestInfo = {
        repo, number: p.number, title: p.title, body: p.body, htmlUrl: p.html_url, author: p.user?.login ?? 'ghost',
        headSha: p.head.sha, baseSha: p.base.sha, baseRef: p.base.ref, updatedAt: p.updated_at,
      };
      const seen = opts.db.prepare('SELECT 1 FROM github_pulls WHERE source = ? AND repo = ? AND number = ? AND head_sha = ?').get(opts.source.name, repo, pr.number, pr.headSha);
      let rev: PullRevision;
      if (seen) {
        rev = await storePullRevision(opts.db, opts.source.name, pr, Buffer.alloc(0), opts.ingest, context.id);
      } else {
        // the PR as `git format-patch` output: one message per commit, in order
        const res = await context.octokit.request('GET /repos/{owner}/{repo}/pulls/{pull_number}', {
          owner: payload.repository.owner.login, repo: payload.repository.name, pull_number: pr.number,
          mediaType: { format: 'patch' },
        });
        const data: unknown = res.data;
        const patch = typeof data === 'string' ? Buffer.from(data, 'utf8')
          : data instanceof ArrayBuffer ? Buffer.from(data)
          : ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
          : null;
        if (!patch) throw new Error(`GET pulls/${pr.number} (patch): unexpected response body`);
        rev = await storePullRevision(opts.db, opts.source.name, pr, patch, opts.ingest, context.id);
      }
      recordPoll(opts.db, opts.source.name, 'github', { ok: true, inserted: rev.inserted }, opts.quietAfterMs ?? 24 * 3600_000);
      log.info({ revision: rev.revision, patches: rev.patchMsgids.length, inserted: rev.inserted, duplicate: rev.duplicate }, rev.duplicate ? 'head already seen' : 'pull request revision stored');
      opts.onRevision?.(pr, rev);
    });
  };
}

export interface GithubProbotOptions {
  db: Db;
  settings: Settings;
  source: GithubSource;
  log: Logger;
  ingest?: IngestOptions;
  onRevision?: GithubAppOptions['onRevision'];
  /**
   * maintainers' commands in pull request comments (`patchgate: retest` ...): when given, the commands app is
   * loaded beside the ingest's and this receives what it accepted (the daemon executes the actions)
   */
  onCommands?: GithubCommandsAppOptions['onResult'];
  /** octokit class (tests turn retries and throttling off) */
  Octokit?: typeof ProbotOctokit;
}

/** A Probot configured from `github:` (app_id, private_key file or PEM, webhook_secret, api_url), with the app loaded. */
export async function createGithubProbot(opts: GithubProbotOptions): Promise<Probot> {
  const gh = opts.settings.github;
  if (!gh) throw new Error('the github source needs the github: section (app_id, private_key, webhook_secret)');
  const secret = resolveSecret(gh.webhook_secret);
  if (!secret) throw new Error('github.webhook_secret is required: unsigned deliveries are never accepted');
  const keyValue = resolveSecret(gh.private_key);
  const privateKey = keyValue && !keyValue.includes('-----BEGIN') ? readFileSync(keyValue, 'utf8') : keyValue;
  const probot = new Probot({
    appId: gh.app_id !== undefined ? String(gh.app_id) : undefined,
    privateKey,
    secret,
    baseUrl: gh.api_url,
    log: opts.log.child({ component: 'probot' }),
    Octokit: opts.Octokit ?? ProbotOctokit,
  });
  await probot.load(githubApp({ db: opts.db, source: opts.source, log: opts.log, ingest: opts.ingest, onRevision: opts.onRevision }));
  if (opts.onCommands) await probot.load(githubCommandsApp({ db: opts.db, settings: opts.settings, log: opts.log, onResult: opts.onCommands }));
  return probot;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * The webhook endpoint (POST /api/github/webhooks): verifies X-Hub-Signature-256 before anything else and
 * refuses, with a logged reason, what is unsigned or wrongly signed. Mount it on the web server.
 */
export function githubWebhookHandler(probot: Probot, log: Logger): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    const refuse = (status: number, reason: string, extra: Record<string, unknown> = {}) => {
      log.warn({ status, reason, delivery: req.headers['x-github-delivery'], event: req.headers['x-github-event'], ...extra }, 'webhook delivery refused');
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: reason }));
    };
    if (req.method !== 'POST') return refuse(405, 'only POST');
    const body = await readBody(req);
    const id = req.headers['x-github-delivery'];
    const name = req.headers['x-github-event'];
    const signature = req.headers['x-hub-signature-256'];
    if (typeof signature !== 'string' || !signature) return refuse(401, 'no X-Hub-Signature-256 header: unsigned delivery');
    if (typeof id !== 'string' || typeof name !== 'string') return refuse(400, 'X-GitHub-Delivery or X-GitHub-Event header missing');
    const valid = await probot.webhooks.verify(body, signature).catch(() => false);
    if (!valid) return refuse(401, 'signature does not match the payload and the webhook secret');
    let payload: unknown;
    try {
      payload = JSON.parse(body);
    } catch {
      return refuse(400, 'payload is not JSON');
    }
    try {
      await probot.receive({ id, name, payload } as Parameters<Probot['receive']>[0]);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    } catch (err) {
      log.error({ err: (err as Error).message, delivery: id }, 'webhook handler failed');
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'handler failed' }));
    }
  };
}

export const githubSource: SourceDefinition<'github'> = {
  type: 'github',
  schema: sourceSchema.options.find((o) => o.shape.type.value === 'github')!,
  defaultInterval: 3600,
  // pull requests arrive by webhook (githubWebhookHandler on the web server): a poll has nothing to fetch
  async poll() {
    return { read: 0, inserted: 0, known: 0, note: 'pull requests arrive by webhook' };
  },
};
