// GitHub comment (found by its hidden marker, edited in place) and check runs, through ProbotOctokit
// against nock with responses shaped like the REST API's.
import nock from 'nock';
import { ProbotOctokit } from 'probot';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checkRunsFor, reportToGithub, upsertPullComment, type PullTarget } from '../../../src/report/github.js';
import { GITHUB_MARKER, renderGithubComment } from '../../../src/report/render.js';
import { contextFor } from './cases.js';

const API = 'https://api.github.example.org';
const t: PullTarget = { owner: 'kvm-net', repo: 'linux', pull: 17, headSha: 'a'.repeat(40) };

function octokit() {
  return new ProbotOctokit({ auth: { token: 'ghs_installation_token' }, baseUrl: API, retry: { enabled: false }, throttle: { enabled: false } });
}

function comment(id: number, body: string, login = 'patchgate[bot]') {
  return {
    url: `${API}/repos/kvm-net/linux/issues/comments/${id}`, html_url: `https://github.com/kvm-net/linux/pull/17#issuecomment-${id}`,
    issue_url: `${API}/repos/kvm-net/linux/issues/17`, id, node_id: 'IC_kwDOA', user: { login, id: 1, type: login.endsWith('[bot]') ? 'Bot' : 'User' },
    created_at: '2026-03-01T12:00:00Z', updated_at: '2026-03-01T12:00:00Z', author_association: 'NONE', body,
  };
}

describe('GitHub report', () => {
  beforeAll(() => nock.disableNetConnect());
  afterAll(() => nock.enableNetConnect());
  afterEach(() => {
    expect(nock.pendingMocks()).toEqual([]);
    nock.cleanAll();
  });

  it('the first verdict creates the comment; a second verdict edits the same comment', async () => {
    const gh = octokit();
    let stored: { id: number; body: string } | null = null;
    const human = comment(900, 'LGTM, thanks', 'maintainer');
    nock(API).get('/repos/kvm-net/linux/issues/17/comments').query({ per_page: 100, page: 1 })
      .matchHeader('authorization', 'token ghs_installation_token')
      .reply(200, [human]);
    nock(API).post('/repos/kvm-net/linux/issues/17/comments', (b) => {
      stored = { id: 1001, body: b.body };
      return b.body.startsWith(GITHUB_MARKER);
    }).reply(201, () => comment(1001, stored!.body));
    const first = await upsertPullComment(gh, t, renderGithubComment(contextFor('build-failure')));
    expect(first).toEqual({ id: 1001, action: 'created' });
    expect(stored!.body).toContain('FAILURE: the build fails at patch 2/2');

    nock(API).get('/repos/kvm-net/linux/issues/17/comments').query({ per_page: 100, page: 1 })
      .reply(200, () => [human, comment(stored!.id, stored!.body)]);
    nock(API).patch('/repos/kvm-net/linux/issues/comments/1001', (b) => {
      stored = { id: 1001, body: b.body };
      return true;
    }).reply(200, () => comment(1001, stored!.body));
    const second = await upsertPullComment(gh, t, renderGithubComment(contextFor('success')));
    expect(second).toEqual({ id: 1001, action: 'updated' });
    expect(stored!.body).toContain('SUCCESS');
    expect(stored!.body).not.toContain('FAILURE');

    // the same verdict again: no write at all
    nock(API).get('/repos/kvm-net/linux/issues/17/comments').query({ per_page: 100, page: 1 })
      .reply(200, () => [human, comment(stored!.id, stored!.body)]);
    expect(await upsertPullComment(gh, t, renderGithubComment(contextFor('success')))).toEqual({ id: 1001, action: 'unchanged' });
  });

  it('check runs: one per stage, conclusions from the statuses', () => {
    const runs = checkRunsFor(contextFor('build-failure'));
    expect(runs.map((r) => [r.name, r.status, r.conclusion])).toEqual([
      ['patchgate/apply', 'completed', 'success'],
      ['patchgate/build', 'completed', 'failure'],
      ['patchgate/checkpatch', 'completed', 'neutral'],
      ['patchgate/perf', 'completed', 'skipped'],
    ]);
    expect(runs[1].summary).toContain('`drivers/net/virtio_net.c:1733`');
    expect(runs[3].summary).toBe('why: the build failed');
    expect(checkRunsFor(contextFor('gate-skipped')).find((r) => r.name === 'patchgate/perf')?.conclusion).toBe('neutral');
  });

  it('reports comment and check runs: created on the head commit, then updated in place', async () => {
    const gh = octokit();
    const created: Record<string, unknown>[] = [];
    const updated: { id: string; body: Record<string, unknown> }[] = [];
    nock(API).get('/repos/kvm-net/linux/issues/17/comments').query(true).reply(200, []);
    nock(API).post('/repos/kvm-net/linux/issues/17/comments').reply(201, (_u, b) => comment(1, (b as { body: string }).body));
    nock(API).get(`/repos/kvm-net/linux/commits/${t.headSha}/check-runs`).query(true).times(4).reply(200, { total_count: 0, check_runs: [] });
    nock(API).post('/repos/kvm-net/linux/check-runs').times(4).reply(201, (_u, b) => {
      created.push(b as Record<string, unknown>);
      return { id: 5000 + created.length, name: (b as { name: string }).name, head_sha: t.headSha, status: 'completed' };
    });
    const r1 = await reportToGithub(gh, t, contextFor('perf-regression'));
    expect(r1).toEqual({ comment: { id: 1, action: 'created' }, checkRuns: 4 });
    expect(created.map((c) => [c.name, c.head_sha, c.conclusion])).toEqual([
      ['patchgate/apply', t.headSha, 'success'], ['patchgate/build', t.headSha, 'success'],
      ['patchgate/checkpatch', t.headSha, 'success'], ['patchgate/perf', t.headSha, 'failure'],
    ]);
    expect((created[3].output as { summary: string }).summary).toContain('tcp_rr: 2.3% [1.9%, 2.7%] regression');

    nock(API).get('/repos/kvm-net/linux/issues/17/comments').query(true).reply(200, [comment(1, 'old\n' + GITHUB_MARKER)]);
    nock(API).patch('/repos/kvm-net/linux/issues/comments/1').reply(200, (_u, b) => comment(1, (b as { body: string }).body));
    for (const [i, c] of created.entries()) {
      nock(API).get(`/repos/kvm-net/linux/commits/${t.headSha}/check-runs`).query((q) => q.check_name === c.name)
        .reply(200, { total_count: 1, check_runs: [{ id: 5001 + i, name: c.name, head_sha: t.headSha }] });
      nock(API).patch(`/repos/kvm-net/linux/check-runs/${5001 + i}`).reply(200, (u, b) => {
        updated.push({ id: u.split('/').pop()!, body: b as Record<string, unknown> });
        return { id: 5001 + i };
      });
    }
    const r2 = await reportToGithub(gh, t, contextFor('success'));
    expect(r2.comment).toEqual({ id: 1, action: 'updated' });
    expect(updated.map((u) => [u.id, u.body.conclusion])).toEqual([['5001', 'success'], ['5002', 'success'], ['5003', 'success'], ['5004', 'success']]);
  });
});
