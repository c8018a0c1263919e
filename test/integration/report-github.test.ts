// GitHub reporting from the report stage, end to end: a pull request stored by the ingest's own code
// (storePullRevision on the recorded PR's format-patch output), outcomes stored as the pipeline stores them,
// the verdict recorded and delivered through the GitHub App installation (app JWT → GET
// /repos/{owner}/{repo}/installation → installation access token) by probot's ProbotOctokit. GitHub's REST
// API is a small stateful fake behind nock answering with real-shaped bodies: issue comments
// (list/create/update) and check runs (list for a ref/create/update).
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import nock from 'nock';
import { ProbotOctokit } from 'probot';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assembleStored } from '../../src/ingest/ingest.js';
import { storePullRevision, type PullRequestInfo } from '../../src/ingest/source-github.js';
import { logger } from '../../src/log.js';
import type { StageContext } from '../../src/queue/registry.js';
import { installationClients } from '../../src/report/github-stage.js';
import { GITHUB_MARKER } from '../../src/report/render.js';
import { deliverOutbox, reportStage } from '../../src/report/stage.js';
import { recordVerdict } from '../../src/report/verdict.js';
import type { Series } from '../../src/series/types.js';
import { parseSettings } from '../../src/settings/load.js';
import type { Settings } from '../../src/settings/schema.js';
import { openDb, type Db } from '../../src/store/db.js';
import { saveOutcome } from '../../src/store/runs.js';
import { loadSeries } from '../../src/store/series.js';

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const fixtures = path.join(repoRoot, 'test', 'fixtures', 'github');
const API = 'https://ghe.example.org/api/v3';
const REPO = 'patchgate-test/linux';
const INSTALLATION = 55000001;
const APP_ID = 12345;

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });

function prInfo(event: string): PullRequestInfo {
  const p = JSON.parse(readFileSync(path.join(fixtures, `${event}.json`), 'utf8'));
  const pr = p.pull_request;
  return {
    repo: p.repository.full_name, number: pr.number, title: pr.title, body: pr.body, htmlUrl: pr.html_url, author: pr.user.login,
    headSha: pr.head.sha, baseSha: pr.base.sha, baseRef: pr.base.ref, updatedAt: pr.updated_at,
  };
}

/** GitHub's side: what the fake API holds, and every call it answered. */
interface FakeGithub {
  comments: { id: number; body: string; user: string }[];
  checkRuns: { id: number; name: string; head_sha: string; status: string; conclusion: string | null; external_id: string; output: { title: string; summary: string }; details_url: string | null }[];
  calls: string[];
}

function user(login: string) {
  return { login, id: login.length, node_id: 'U_x', type: login.endsWith('[bot]') ? 'Bot' : 'User', site_admin: false };
}

function commentJson(c: FakeGithub['comments'][number], pull: number) {
  return {
    url: `${API}/repos/${REPO}/issues/comments/${c.id}`, html_url: `https://github.com/${REPO}/pull/${pull}#issuecomment-${c.id}`,
    issue_url: `${API}/repos/${REPO}/issues/${pull}`, id: c.id, node_id: `IC_${c.id}`, user: user(c.user),
    created_at: '2026-03-01T12:00:00Z', updated_at: '2026-03-01T12:00:00Z', author_association: 'NONE', body: c.body,
    reactions: { url: '', total_count: 0 }, performed_via_github_app: null,
  };
}

function checkRunJson(r: FakeGithub['checkRuns'][number]) {
  return {
    id: r.id, name: r.name, node_id: `CR_${r.id}`, head_sha: r.head_sha, external_id: r.external_id,
    url: `${API}/repos/${REPO}/check-runs/${r.id}`, html_url: `https://github.com/${REPO}/runs/${r.id}`, details_url: r.details_url,
    status: r.status, conclusion: r.conclusion, started_at: '2026-03-01T12:00:00Z', completed_at: r.conclusion ? '2026-03-01T12:10:00Z' : null,
    output: { ...r.output, text: null, annotations_count: 0, annotations_url: `${API}/repos/${REPO}/check-runs/${r.id}/annotations` },
    check_suite: { id: 9000 }, app: { id: APP_ID, slug: 'patchgate', name: 'patchgate' }, pull_requests: [],
  };
}

function jwtIssuer(auth: string): number {
  const token = auth.replace(/^bearer /i, '');
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')).iss as number;
}

/** Installs the fake API on nock (persisting interceptors: it answers as long as the test runs). */
function fakeGithub(pull: number): FakeGithub {
  const gh: FakeGithub = { comments: [{ id: 900, body: 'Thanks, will look at it.', user: 'maintainer' }], checkRuns: [], calls: [] };
  let nextId = 1000;
  const scope = nock(API).persist();
  const installationAuth = (h: string | string[] | undefined) => h === 'token ghs_installationtoken1';
  scope.get(`/repos/${REPO}/installation`).reply(function () {
    gh.calls.push('GET installation');
    expect(jwtIssuer(String(this.req.headers.authorization))).toBe(APP_ID);
    return [200, {
      id: INSTALLATION, account: { login: 'patchgate-test', id: 150000001, type: 'Organization' }, app_id: APP_ID, app_slug: 'patchgate',
      target_id: 150000001, target_type: 'Organization', repository_selection: 'selected',
      access_tokens_url: `${API}/app/installations/${INSTALLATION}/access_tokens`, repositories_url: `${API}/installation/repositories`,
      html_url: `https://github.com/organizations/patchgate-test/settings/installations/${INSTALLATION}`,
      permissions: { checks: 'write', pull_requests: 'write', issues: 'write', contents: 'read', metadata: 'read' },
      events: ['pull_request'], created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z', single_file_name: null, suspended_at: null,
    }];
  });
  scope.post(`/app/installations/${INSTALLATION}/access_tokens`).reply(function () {
    gh.calls.push('POST access_tokens');
    expect(jwtIssuer(String(this.req.headers.authorization))).toBe(APP_ID);
    return [201, { token: 'ghs_installationtoken1', expires_at: '2099-01-01T00:00:00Z', permissions: { checks: 'write', pull_requests: 'write', issues: 'write' }, repository_selection: 'selected' }];
  });
  scope.get(`/repos/${REPO}/issues/${pull}/comments`).query(true).reply(function (uri) {
    gh.calls.push('GET comments');
    if (!installationAuth(this.req.headers.authorization)) return [401, { message: 'Bad credentials' }];
    const page = Number(new URL(uri, API).searchParams.get('page') ?? '1');
    return [200, page === 1 ? gh.comments.map((c) => commentJson(c, pull)) : []];
  });
  scope.post(`/repos/${REPO}/issues/${pull}/comments`).reply(function (_uri, body) {
    gh.calls.push('POST comment');
    if (!installationAuth(this.req.headers.authorization)) return [401, { message: 'Bad credentials' }];
    const c = { id: nextId++, body: (body as { body: string }).body, user: 'patchgate[bot]' };
    gh.comments.push(c);
    return [201, commentJson(c, pull)];
  });
  scope.patch(/\/repos\/patchgate-test\/linux\/issues\/comments\/\d+$/).reply(function (uri, body) {
    gh.calls.push('PATCH comment');
    const c = gh.comments.find((x) => x.id === Number(uri.split('/').pop()));
    if (!c) return [404, { message: 'Not Found' }];
    c.body = (body as { body: string }).body;
    return [200, commentJson(c, pull)];
  });
  scope.get(/\/repos\/patchgate-test\/linux\/commits\/[0-9a-f]{40}\/check-runs/).query(true).reply(function (uri) {
    gh.calls.push('GET check-runs');
    if (!installationAuth(this.req.headers.authorization)) return [401, { message: 'Bad credentials' }];
    const url = new URL(uri, API);
    const sha = url.pathname.split('/')[url.pathname.split('/').length - 2];
    const runs = gh.checkRuns.filter((r) => r.head_sha === sha && (!url.searchParams.get('check_name') || r.name === url.searchParams.get('check_name')));
    return [200, { total_count: runs.length, check_runs: runs.map(checkRunJson) }];
  });
  scope.post(`/repos/${REPO}/check-runs`).reply(function (_uri, body) {
    gh.calls.push('POST check-run');
    const b = body as Record<string, unknown>;
    const r = {
      id: nextId++, name: String(b.name), head_sha: String(b.head_sha), status: String(b.status), conclusion: (b.conclusion as string) ?? null,
      external_id: String(b.external_id), output: b.output as { title: string; summary: string }, details_url: (b.details_url as string) ?? null,
    };
    gh.checkRuns.push(r);
    return [201, checkRunJson(r)];
  });
  scope.patch(/\/repos\/patchgate-test\/linux\/check-runs\/\d+$/).reply(function (uri, body) {
    gh.calls.push('PATCH check-run');
    const r = gh.checkRuns.find((x) => x.id === Number(uri.split('/').pop()));
    if (!r) return [404, { message: 'Not Found' }];
    const b = body as Record<string, unknown>;
    Object.assign(r, { status: b.status, conclusion: b.conclusion ?? null, output: b.output, external_id: b.external_id });
    return [200, checkRunJson(r)];
  });
  return gh;
}

function settingsFor(reply: Record<string, unknown> = { mode: 'send' }): Settings {
  return parseSettings({
    smtp: { from: 'patchgate <bot@patchgate.example.org>' }, reply,
    sources: [{ name: 'gh', type: 'github', repos: [REPO] }],
    github: { app_id: APP_ID, private_key: privateKey, webhook_secret: 'x', api_url: API },
  });
}

/** Outcomes as the pipeline stores them: BUILD says how patch N fares. */
function storeOutcomes(db: Db, s: Series, build: 'failure' | 'success' | 'conflict'): void {
  db.prepare(`INSERT INTO runs (series_id, version, state) VALUES (?, ?, 'running') ON CONFLICT DO NOTHING`).run(s.id, s.version);
  saveOutcome(db, s.id, s.version, 'apply', {
    status: build === 'conflict' ? 'conflict' : 'success', summary: '',
    data: { tree: { name: 'net-next', reason: 'marked for net-next' }, branch: null,
      apply: s.patches.map((p, i) => ({ msgid: p.msgid, outcome: build === 'conflict' && i === 0 ? 'conflict' : 'applied', files: p.files, detail: '' })) },
  });
  if (build === 'conflict') {
    db.prepare(`DELETE FROM outcomes WHERE series_id = ? AND version = ? AND stage = 'build'`).run(s.id, s.version);
    return;
  }
  saveOutcome(db, s.id, s.version, 'build', {
    status: build, summary: '',
    data: { config: 'x86_64 defconfig', build: s.patches.map((p, i) => ({
      msgid: p.msgid, status: build === 'failure' && i === s.patches.length - 1 ? 'failure' : 'success', new_warnings: [],
      errors: build === 'failure' && i === s.patches.length - 1 ? [{ file: 'drivers/net/tun.c', line: 1733, message: "'len' undeclared (first use in this function)" }] : [],
    })) },
  });
}

// probot layers its own throttle options over an options object: the function form has the last word.
// (The stage's own client, in the first test, keeps probot's throttling: writes are spaced as on GitHub.)
const quietOctokit = ProbotOctokit.defaults((o: Record<string, unknown>) => ({
  ...o, retry: { enabled: false }, throttle: { ...(o.throttle as object), enabled: false },
})) as typeof ProbotOctokit;

function stageContext(db: Db, settings: Settings, s: Series): StageContext {
  return {
    stage: 'report', seriesId: s.id, version: s.version, series: s, previous: {}, signal: new AbortController().signal, log: logger,
    updateProgress: async () => {}, saveState: async () => {}, resume: null, settings, db, workerId: 'test', options: { perf: true },
  };
}

describe('GitHub reports from the report stage', () => {
  let db: Db;
  beforeAll(() => nock.disableNetConnect());
  afterAll(() => nock.enableNetConnect());
  beforeEach(() => {
    db = openDb(':memory:');
  });
  afterEach(() => {
    nock.cleanAll();
    db.close();
  });

  async function storePull(event: string, patchFile: string): Promise<Series> {
    await storePullRevision(db, 'gh', prInfo(event), readFileSync(path.join(fixtures, patchFile)));
    const doc = assembleStored(db, { sloppyTrailers: false });
    const head = prInfo(event).headSha;
    const row = db.prepare('SELECT cover_msgid FROM github_pulls WHERE head_sha = ?').pluck().get(head) as string;
    return doc.series.find((s) => s.cover === row)!;
  }

  it('creates the comment and a check run per stage, then a second verdict edits the same comment and check runs', async () => {
    const gh = fakeGithub(7);
    const settings = settingsFor();
    const clients = installationClients(settings, { Octokit: quietOctokit });
    const s1 = await storePull('pull_request.opened', 'pr-7-head1.patch');
    expect(s1.patches).toHaveLength(2);

    storeOutcomes(db, s1, 'failure');
    expect(recordVerdict(db, s1.id, s1.version, settings)?.githubReports).toBe(1);
    const first = await deliverOutbox(db, settings, logger, { github: clients });
    expect(first.github).toEqual({ sent: 1, failed: 0, skipped: 0, retry: 0 });
    expect(gh.calls.slice(0, 4)).toEqual(['GET installation', 'POST access_tokens', 'GET comments', 'POST comment']);
    const ours = gh.comments.filter((c) => c.user === 'patchgate[bot]');
    expect(ours).toHaveLength(1);
    expect(ours[0].body.startsWith(GITHUB_MARKER)).toBe(true);
    expect(ours[0].body).toContain('FAILURE');
    expect(ours[0].body).toContain("'len' undeclared");
    const head1 = prInfo('pull_request.opened').headSha;
    expect(gh.checkRuns.map((r) => [r.name, r.head_sha, r.status, r.conclusion])).toEqual([
      ['patchgate/apply', head1, 'completed', 'success'],
      ['patchgate/build', head1, 'completed', 'failure'],
    ]);
    expect(gh.checkRuns[1].output.summary).toContain('`drivers/net/tun.c:1733`');
    expect(gh.checkRuns[1].external_id).toBe(`${s1.id}/v${s1.version}`);

    // a second verdict (the build fixed by a retest), through the report stage itself: same comment, same check runs
    storeOutcomes(db, s1, 'success');
    const calls = gh.calls.length;
    const out = await reportStage(stageContext(db, settings, s1));
    expect(out.data.github_reports).toBe(1);
    // the stage built its own installation client from github: (app JWT, installation, token)
    expect(gh.calls.slice(calls)).toEqual(['GET installation', 'POST access_tokens', 'GET comments', 'PATCH comment',
      'GET check-runs', 'PATCH check-run', 'GET check-runs', 'PATCH check-run']);
    expect(gh.comments.filter((c) => c.user === 'patchgate[bot]')).toEqual([{ ...ours[0], body: expect.stringContaining('SUCCESS') }]);
    expect(gh.comments.find((c) => c.id === ours[0].id)!.body).not.toContain('FAILURE');
    expect(gh.comments.find((c) => c.id === 900)!.body).toBe('Thanks, will look at it.');
    expect(gh.checkRuns.map((r) => [r.name, r.conclusion])).toEqual([['patchgate/apply', 'success'], ['patchgate/build', 'success']]);

    // nothing pending: a delivery pass makes no call; the outbox records both reports as sent
    const before = gh.calls.length;
    expect((await deliverOutbox(db, settings, logger, { github: clients })).github).toBeNull();
    expect(gh.calls.length).toBe(before);
    expect(db.prepare(`SELECT verdict, state FROM outbox WHERE channel = 'github' ORDER BY id`).all())
      .toEqual([{ verdict: 'failure', state: 'sent' }, { verdict: 'success', state: 'sent' }]);
  });

  it('a force-push: the new revision takes the comment; a late verdict of the old head only touches its check runs', async () => {
    const gh = fakeGithub(7);
    const settings = settingsFor();
    const clients = installationClients(settings, { Octokit: quietOctokit });
    const s1 = await storePull('pull_request.opened', 'pr-7-head1.patch');
    storeOutcomes(db, s1, 'failure');
    recordVerdict(db, s1.id, s1.version, settings);
    await deliverOutbox(db, settings, logger, { github: clients });

    const s2 = await storePull('pull_request.synchronize', 'pr-7-head2.patch');
    expect(s2.id).not.toBe(s1.id);
    storeOutcomes(db, s2, 'success');
    recordVerdict(db, s2.id, s2.version, settings);
    expect((await deliverOutbox(db, settings, logger, { github: clients })).github).toMatchObject({ sent: 1 });
    const head2 = prInfo('pull_request.synchronize').headSha;
    const ours = gh.comments.filter((c) => c.user === 'patchgate[bot]');
    expect(ours).toHaveLength(1);
    expect(ours[0].body).toContain('SUCCESS');
    expect(gh.checkRuns.filter((r) => r.head_sha === head2).map((r) => r.conclusion)).toEqual(['success', 'success']);
    // the installation token was fetched once for the whole test
    expect(gh.calls.filter((c) => c === 'POST access_tokens')).toHaveLength(1);

    // the old head's verdict changes late (a conflict on a retest): its check runs follow, the comment stays v2's
    storeOutcomes(db, s1, 'conflict');
    recordVerdict(db, s1.id, s1.version, settings);
    expect((await deliverOutbox(db, settings, logger, { github: clients })).github).toMatchObject({ sent: 1 });
    expect(gh.comments.filter((c) => c.user === 'patchgate[bot]')).toEqual(ours);
    expect(ours[0].body).toContain('SUCCESS');
    const head1 = prInfo('pull_request.opened').headSha;
    expect(gh.checkRuns.filter((r) => r.head_sha === head1).map((r) => [r.name, r.conclusion])).toEqual([['patchgate/apply', 'failure'], ['patchgate/build', 'skipped']]);
    const result = JSON.parse(db.prepare(`SELECT result FROM outbox WHERE channel = 'github' ORDER BY id DESC LIMIT 1`).pluck().get() as string);
    expect(result.comment.action).toBe('left alone: revision 2 of the pull request is newer');
  });

  it('a sender that died mid-delivery: the row is recovered and delivered again, editing what it had created', async () => {
    const gh = fakeGithub(7);
    const settings = settingsFor();
    const clients = installationClients(settings, { Octokit: quietOctokit });
    const s1 = await storePull('pull_request.opened', 'pr-7-head1.patch');
    storeOutcomes(db, s1, 'failure');
    recordVerdict(db, s1.id, s1.version, settings);
    // the dead sender had created the comment and one check run, then died (its claim names a gone pid)
    await deliverOutbox(db, settings, logger, { github: clients });
    db.prepare(`UPDATE outbox SET state = 'sending', claimed_by = '999999999@' || ? || '#dead' WHERE channel = 'github'`).run((await import('node:os')).hostname());
    gh.checkRuns.pop();
    const created = gh.calls.filter((c) => c.startsWith('POST comment')).length;
    expect((await deliverOutbox(db, settings, logger, { github: clients })).github).toMatchObject({ sent: 1 });
    expect(gh.calls.filter((c) => c.startsWith('POST comment')).length).toBe(created);
    expect(gh.comments.filter((c) => c.user === 'patchgate[bot]')).toHaveLength(1);
    expect(gh.checkRuns.map((r) => r.name)).toEqual(['patchgate/apply', 'patchgate/build']);
  });

  it('two senders at once (two report workers): one comment, not two', async () => {
    const gh = fakeGithub(7);
    const settings = settingsFor();
    const clients = installationClients(settings, { Octokit: quietOctokit });
    const s1 = await storePull('pull_request.opened', 'pr-7-head1.patch');
    storeOutcomes(db, s1, 'failure');
    recordVerdict(db, s1.id, s1.version, settings);
    storeOutcomes(db, s1, 'success');
    recordVerdict(db, s1.id, s1.version, settings);
    const [a, b] = await Promise.all([
      deliverOutbox(db, settings, logger, { github: clients }), deliverOutbox(db, settings, logger, { github: clients }),
    ]);
    expect((a.github?.sent ?? 0) + (b.github?.sent ?? 0)).toBeGreaterThanOrEqual(1);
    await deliverOutbox(db, settings, logger, { github: clients });
    expect(gh.comments.filter((c) => c.user === 'patchgate[bot]')).toHaveLength(1);
    expect(gh.comments.filter((c) => c.user === 'patchgate[bot]')[0].body).toContain('SUCCESS');
    expect(gh.checkRuns).toHaveLength(2);
    expect(db.prepare(`SELECT state FROM outbox WHERE channel = 'github' ORDER BY id`).pluck().all()).toEqual(['sent', 'sent']);
  });

  it('dry-run (the default) records the report and calls nothing; a series from mail queues no GitHub report', async () => {
    const settings = settingsFor({});
    const s1 = await storePull('pull_request.opened', 'pr-7-head1.patch');
    storeOutcomes(db, s1, 'failure');
    expect(recordVerdict(db, s1.id, s1.version, settings)?.githubReports).toBe(1);
    // no interceptor: any HTTP call would fail the delivery
    expect((await deliverOutbox(db, settings, logger)).github).toBeNull();
    expect(db.prepare(`SELECT state FROM outbox WHERE channel = 'github'`).pluck().all()).toEqual(['dry-run']);

    db.prepare('DELETE FROM github_pulls').run();
    storeOutcomes(db, s1, 'success');
    expect(recordVerdict(db, s1.id, s1.version, settingsFor())?.githubReports).toBe(0);
  });

  it('a 403 from GitHub fails the row with its status; a 502 leaves it for the next pass', async () => {
    const settings = settingsFor();
    const s1 = await storePull('pull_request.opened', 'pr-7-head1.patch');
    storeOutcomes(db, s1, 'failure');
    recordVerdict(db, s1.id, s1.version, settings);
    const broken = (status: number) => async () => ({
      request: async () => { throw Object.assign(new Error(`HTTP ${status}`), { status }); },
    });
    expect((await deliverOutbox(db, settings, logger, { github: broken(502) })).github).toEqual({ sent: 0, failed: 0, skipped: 0, retry: 1 });
    expect(db.prepare(`SELECT state, attempts FROM outbox WHERE channel = 'github'`).get()).toEqual({ state: 'pending', attempts: 1 });
    expect((await deliverOutbox(db, settings, logger, { github: broken(403) })).github).toEqual({ sent: 0, failed: 1, skipped: 0, retry: 0 });
    expect(JSON.parse(db.prepare(`SELECT result FROM outbox WHERE channel = 'github'`).pluck().get() as string)).toMatchObject({ status: 403 });
  });
});
