// The same commands as pull request comments: issue_comment.created deliveries received by a Probot with
// githubCommandsApp loaded, the PR stored by the ingest's own storePullRevision (recorded format-patch
// output), GitHub's API behind nock (installation token, the answer comment).
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import nock from 'nock';
import { pino } from 'pino';
import { Probot, ProbotOctokit } from 'probot';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assembleStored } from '../../src/ingest/ingest.js';
import { storePullRevision, type PullRequestInfo } from '../../src/ingest/source-github.js';
import { GITHUB_COMMAND_MARKER, githubCommandsApp, treeOverride, type CommandResult } from '../../src/report/commands.js';
import type { Series } from '../../src/series/types.js';
import { parseSettings } from '../../src/settings/load.js';
import { openDb, type Db } from '../../src/store/db.js';

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const fixtures = path.join(repoRoot, 'test', 'fixtures', 'github');
const API = 'https://api.github.com';
const REPO = 'patchgate-test/linux';
const INSTALLATION = 55000001;
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
const quietOctokit = ProbotOctokit.defaults((o: Record<string, unknown>) => ({
  ...o, retry: { enabled: false }, throttle: { ...(o.throttle as object), enabled: false },
})) as typeof ProbotOctokit;

function prInfo(event: string): PullRequestInfo {
  const p = JSON.parse(readFileSync(path.join(fixtures, `${event}.json`), 'utf8'));
  const pr = p.pull_request;
  return {
    repo: p.repository.full_name, number: pr.number, title: pr.title, body: pr.body, htmlUrl: pr.html_url, author: pr.user.login,
    headSha: pr.head.sha, baseSha: pr.base.sha, baseRef: pr.base.ref, updatedAt: pr.updated_at,
  };
}

let commentSeq = 2_000_000_000;

/** An issue_comment.created delivery on PR 7, shaped like GitHub's (repository and installation from the recorded PR event). */
function commentEvent(body: string, opts: { login?: string; association?: string; type?: 'User' | 'Bot'; app?: boolean; id?: number } = {}) {
  const recorded = JSON.parse(readFileSync(path.join(fixtures, 'pull_request.opened.json'), 'utf8'));
  const id = opts.id ?? ++commentSeq;
  const login = opts.login ?? 'netmaint';
  return {
    id: `delivery-${id}`,
    name: 'issue_comment' as const,
    payload: {
      action: 'created',
      issue: {
        url: `${API}/repos/${REPO}/issues/7`, html_url: `https://github.com/${REPO}/pull/7`, id: 2300000007, node_id: 'PR_kwDOLfBcAc5', number: 7,
        title: recorded.pull_request.title, user: recorded.pull_request.user, labels: [], state: 'open', locked: false, comments: 1,
        created_at: '2026-03-01T12:00:00Z', updated_at: '2026-03-01T13:00:00Z', author_association: 'CONTRIBUTOR', body: recorded.pull_request.body,
        pull_request: { url: `${API}/repos/${REPO}/pulls/7`, html_url: `https://github.com/${REPO}/pull/7`, diff_url: `https://github.com/${REPO}/pull/7.diff`, patch_url: `https://github.com/${REPO}/pull/7.patch`, merged_at: null },
      },
      comment: {
        url: `${API}/repos/${REPO}/issues/comments/${id}`, html_url: `https://github.com/${REPO}/pull/7#issuecomment-${id}`,
        issue_url: `${API}/repos/${REPO}/issues/7`, id, node_id: `IC_${id}`,
        user: { login, id: 160000000 + login.length, node_id: 'U_x', type: opts.type ?? 'User', site_admin: false },
        created_at: '2026-03-01T13:00:00Z', updated_at: '2026-03-01T13:00:00Z', author_association: opts.association ?? 'COLLABORATOR', body,
        reactions: { url: '', total_count: 0 }, performed_via_github_app: opts.app ? { id: 12345, slug: 'patchgate', name: 'patchgate' } : null,
      },
      repository: recorded.repository,
      sender: { login, id: 160000000 + login.length, type: opts.type ?? 'User' },
      installation: { id: INSTALLATION, node_id: recorded.installation.node_id },
    },
  };
}

describe('commands as pull request comments', () => {
  let db: Db;
  let posted: { body: string; auth: string }[];
  let results: CommandResult[];
  let series1: Series;
  beforeAll(() => nock.disableNetConnect());
  afterAll(() => nock.enableNetConnect());
  beforeEach(async () => {
    db = openDb(':memory:');
    posted = [];
    results = [];
    await storePullRevision(db, 'gh', prInfo('pull_request.opened'), readFileSync(path.join(fixtures, 'pr-7-head1.patch')));
    series1 = assembleStored(db, { sloppyTrailers: false }).series[0];
    nock(API).persist().post(`/app/installations/${INSTALLATION}/access_tokens`)
      .reply(201, { token: 'ghs_commandstoken', expires_at: '2099-01-01T00:00:00Z', permissions: { issues: 'write', pull_requests: 'write' }, repository_selection: 'selected' });
    nock(API).persist().post(`/repos/${REPO}/issues/7/comments`).reply(function (_uri, body) {
      posted.push({ body: (body as { body: string }).body, auth: String(this.req.headers.authorization) });
      return [201, { id: 3_000_000 + posted.length, body: (body as { body: string }).body, user: { login: 'patchgate[bot]', type: 'Bot' } }];
    });
  });
  afterEach(() => {
    nock.cleanAll();
    db.close();
  });

  async function probot(commands: Record<string, unknown> = {}, reply: Record<string, unknown> = { mode: 'send' }): Promise<Probot> {
    const settings = parseSettings({
      smtp: { from: 'patchgate <bot@patchgate.example.org>' }, reply, commands,
      trees: [{ name: 'net-next', url: 'https://git.example.org/net-next.git', tokens: ['net-next'] }, { name: 'net', url: 'https://git.example.org/net.git', tokens: ['net'] }],
    });
    const p = new Probot({ appId: 12345, privateKey, secret: 'x', baseUrl: API, Octokit: quietOctokit, log: pino({ level: 'silent' }) });
    await p.load(githubCommandsApp({ db, settings, onResult: (r) => { results.push(r); } }));
    return p;
  }

  it('a collaborator\'s unquoted commands act on the PR\'s series and are answered; a redelivery does nothing', async () => {
    const p = await probot();
    const event = commentEvent('Thanks!\n\n> patchgate: superseded\n\npatchgate: retest\npatchgate: tree net\n');
    await p.receive(event);
    expect(results).toHaveLength(1);
    expect(results[0].actions.map((a) => [a.type, a.seriesId])).toEqual([['retest', series1.id], ['tree', series1.id]]);
    expect(treeOverride(db, series1.id)?.tree).toBe('net');
    expect(posted).toHaveLength(1);
    expect(posted[0].auth).toBe('token ghs_commandstoken');
    expect(posted[0].body).toBe([
      GITHUB_COMMAND_MARKER,
      '> patchgate: retest', '', `**Accepted**: ${series1.id} v1 queued for a new run`, '',
      '> patchgate: tree net', '', `**Accepted**: ${series1.id} will be tested on net`, '',
    ].join('\n'));
    // GitHub redelivers the same event: nothing twice
    await p.receive({ ...event, id: 'redelivery' });
    expect(results).toHaveLength(1);
    expect(posted).toHaveLength(1);
  });

  it('anyone else is refused with the reason, in the answer and the table; github_users lets a login in', async () => {
    const p = await probot({ github_users: ['Trusted-Reviewer'] });
    await p.receive(commentEvent('patchgate: retest', { login: 'drive-by', association: 'NONE' }));
    expect(results[0].actions).toEqual([]);
    expect(posted[0].body).toContain('**Refused**: drive-by (none) may not command patchgate here: not in commands.github\\_users, and NONE is not in commands.github\\_associations');
    expect(db.prepare('SELECT sender, state FROM commands').all()).toEqual([{ sender: 'github:drive-by', state: 'refused' }]);
    await p.receive(commentEvent('patchgate: retest', { login: 'trusted-reviewer', association: 'CONTRIBUTOR' }));
    expect(results[1].actions).toMatchObject([{ type: 'retest', seriesId: series1.id }]);
  });

  it('bots, apps and patchgate\'s own answers are never acted on; dry-run answers nothing', async () => {
    const p = await probot();
    await p.receive(commentEvent(`${GITHUB_COMMAND_MARKER}\n> patchgate: retest\n\npatchgate: retest`, { login: 'patchgate[bot]', type: 'Bot', app: true }));
    await p.receive(commentEvent('patchgate: retest', { login: 'other-ci[bot]', type: 'Bot', association: 'NONE' }));
    expect(results).toEqual([]);
    expect(posted).toEqual([]);
    const dry = await probot({}, {});
    await dry.receive(commentEvent('patchgate: retest'));
    expect(results[0].actions).toHaveLength(1);
    expect(posted).toEqual([]);
  });

  it('after a force-push the commands act on the newest revision', async () => {
    await storePullRevision(db, 'gh', prInfo('pull_request.synchronize'), readFileSync(path.join(fixtures, 'pr-7-head2.patch')));
    const doc = assembleStored(db, { sloppyTrailers: false });
    const v2 = doc.series.find((s) => s.id !== series1.id)!;
    const p = await probot();
    await p.receive(commentEvent('patchgate: retest'));
    expect(results[0].actions).toMatchObject([{ type: 'retest', seriesId: v2.id, version: v2.version }]);
  });
});
