// A bisection's comment on GitHub through the project's GitHub client (installationClients: probot's
// ProbotOctokit as the App, then as the repository's installation) against a loopback GitHub that keeps
// issues and comments and records every request: the tracking issue is opened once (POST
// /repos/{owner}/{repo}/issues), each bisection gets one comment (POST .../issues/{n}/comments) found again by
// its hidden marker and edited in place (PATCH .../issues/comments/{id}), never duplicated.
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProbotOctokit } from 'probot';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BisectResult } from '../../src/heads/bisect.js';
import { bisectionMarker, renderBisectComment, reportBisectionToGithub, treeIssueMarker } from '../../src/heads/github.js';
import { bisectView } from '../../src/heads/report.js';
import { installationClients } from '../../src/report/github-stage.js';
import { settingsSchema } from '../../src/settings/schema.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const OWNER = 'patchgate-test';
const REPO = 'linux';
const INSTALLATION = 4242;
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });

interface Call {
  method: string;
  path: string;
  query: Record<string, string>;
  body: Record<string, unknown> | null;
  auth: string;
}

/** GitHub's side: issues with their comments, and every request. */
function fakeGithub() {
  const issues: { number: number; title: string; body: string; labels: string[]; pull_request?: unknown }[] = [];
  const comments: { id: number; issue: number; body: string }[] = [];
  const calls: Call[] = [];
  let nextComment = 9001;
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const u = new URL(req.url!, 'http://x');
      const call: Call = { method: req.method!, path: u.pathname, query: Object.fromEntries(u.searchParams), body: raw ? JSON.parse(raw) : null, auth: String(req.headers.authorization ?? '') };
      const send = (code: number, data: unknown) => {
        res.writeHead(code, { 'content-type': 'application/json' });
        res.end(JSON.stringify(data));
      };
      // the App's own calls are not part of what we assert on
      if (call.path === `/repos/${OWNER}/${REPO}/installation`) return send(200, { id: INSTALLATION, account: { login: OWNER }, app_id: 12345 });
      if (call.path === `/app/installations/${INSTALLATION}/access_tokens`) return send(201, { token: 'ghs_loopback', expires_at: '2099-01-01T00:00:00Z' });
      calls.push(call);
      if (call.auth !== 'token ghs_loopback') return send(401, { message: 'Bad credentials' });
      const base = `/repos/${OWNER}/${REPO}/issues`;
      let m: RegExpExecArray | null;
      if (call.method === 'GET' && call.path === base) {
        const page = Number(call.query.page ?? 1), per = Number(call.query.per_page ?? 30);
        const list = issues.filter((i) => !call.query.labels || i.labels.includes(call.query.labels));
        return send(200, list.slice((page - 1) * per, page * per).map((i) => ({ ...i, labels: i.labels.map((name) => ({ name })) })));
      }
      if (call.method === 'POST' && call.path === base) {
        const b = call.body as { title: string; body: string; labels?: string[] };
        const issue = { number: issues.length + 100, title: b.title, body: b.body, labels: b.labels ?? [] };
        issues.push(issue);
        return send(201, { ...issue, labels: issue.labels.map((name) => ({ name })) });
      }
      if (call.method === 'GET' && (m = new RegExp(`^${base}/(\\d+)$`).exec(call.path))) {
        const i = issues.find((x) => x.number === Number(m![1]));
        return i ? send(200, i) : send(404, { message: 'Not Found' });
      }
      if ((m = new RegExp(`^${base}/(\\d+)/comments$`).exec(call.path))) {
        const n = Number(m[1]);
        if (call.method === 'GET') {
          const page = Number(call.query.page ?? 1), per = Number(call.query.per_page ?? 30);
          return send(200, comments.filter((c) => c.issue === n).slice((page - 1) * per, page * per).map((c) => ({ id: c.id, body: c.body })));
        }
        const c = { id: nextComment++, issue: n, body: (call.body as { body: string }).body };
        comments.push(c);
        return send(201, { id: c.id, body: c.body });
      }
      if (call.method === 'PATCH' && (m = new RegExp(`^${base}/comments/(\\d+)$`).exec(call.path))) {
        const c = comments.find((x) => x.id === Number(m![1]));
        if (!c) return send(404, { message: 'Not Found' });
        c.body = (call.body as { body: string }).body;
        return send(200, { id: c.id, body: c.body });
      }
      send(404, { message: `no route ${call.method} ${call.path}` });
    });
  });
  return { server, issues, comments, calls };
}

const quietOctokit = ProbotOctokit.defaults((o: Record<string, unknown>) => ({
  ...o, retry: { enabled: false }, throttle: { ...(o.throttle as object), enabled: false },
})) as typeof ProbotOctokit;

const GOOD = '1'.repeat(40);
const BAD = '2'.repeat(40);
const CULPRIT = '7c1d5e0f9a2b3c4d5e6f708192a3b4c5d6e7f809';
const rule = { direction: 'lower-is-better' as const, threshold: 0.003 };
const cmp = (change: number, low: number, high: number) => ({ n: 5, m: 4, change, low, high, p: 0.0159, verdict: 'regression' as const });

function result(size = 0.0998): BisectResult {
  return {
    status: 'found', good: GOOD, bad: BAD, metric: 'tcp_rr_cost_per_trans',
    detected: { metric: 'tcp_rr_cost_per_trans', change: 0.1005, low: 0.0979, high: 0.1033, rule },
    culprit: { commit: CULPRIT, subject: 'virtio_net: account every *transmitted* packet', author: 'Perf Culprit <culprit@example.org>', via: [], merge: false },
    size: cmp(size, size - 0.0023, size + 0.0023),
    steps: [{ n: 1, commit: CULPRIT, subject: 's', depth: 0, candidates: 12, samples: [1, 2, 3, 4], retries: 0, comparison: cmp(size, size - 0.0023, size + 0.0023), class: 'has-change', forced: false, ms: 1 }],
    skipped: [{ commit: 'e'.repeat(40), subject: 'virtio_net: split the transmit path', depth: 0, reason: 'eeeeeeeeeeee does not build: error: expected \';\'', ms: 1 }],
    candidates: [], reason: null, retries: 0, range: 12, bound: 4, summary: '', wallMs: 1,
  };
}

function body(r: BisectResult): string {
  const view = bisectView({ bisectionId: 1, tree: 'net-next', branch: 'main', lists: [], from: 'bot@patchgate.example.org', result: r, author: null, goodBoots: 5, dashboard: 'https://patchgate.example.org/heads/net-next' });
  return renderBisectComment(view, bisectionMarker('net-next', r));
}

describe('bisections on GitHub (loopback GitHub, the App\'s installation client)', () => {
  let gh: ReturnType<typeof fakeGithub>;
  let client: Awaited<ReturnType<ReturnType<typeof installationClients>>>;

  beforeAll(async () => {
    gh = fakeGithub();
    await new Promise<void>((r) => gh.server.listen(0, '127.0.0.1', r));
    const port = (gh.server.address() as AddressInfo).port;
    const settings = settingsSchema.parse({ github: { app_id: 12345, private_key: privateKey, api_url: `http://127.0.0.1:${port}` } });
    client = await installationClients(settings, { Octokit: quietOctokit })(`${OWNER}/${REPO}`);
  });
  afterAll(() => new Promise<void>((r) => gh.server.close(() => r())));
  beforeEach(() => {
    gh.calls.length = 0;
  });

  it('golden: the comment carries the marker, the culprit and the skipped commits, user text escaped', () => {
    const text = body(result());
    const file = path.join(repoRoot, 'test', 'fixtures', 'golden', 'github-bisect.md');
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, text);
    if (!existsSync(file)) throw new Error('missing golden file github-bisect.md: run with UPDATE_GOLDEN=1 and review it');
    expect(text).toBe(readFileSync(file, 'utf8'));
    expect(text.startsWith(bisectionMarker('net-next', result()))).toBe(true);
    expect(text).toContain('\\*transmitted\\*');
  });

  it('opens the tracking issue once, comments once per bisection, edits the comment in place when it reports again', async () => {
    const target = { repo: `${OWNER}/${REPO}`, label: 'patchgate-heads' };
    const marker = bisectionMarker('net-next', result());
    const first = await reportBisectionToGithub(client, target, 'net-next', body(result()), marker);
    expect(first).toEqual({ repo: `${OWNER}/${REPO}`, issue: 100, issueAction: 'created', comment: 9001, action: 'created' });
    expect(gh.calls.map((c) => [c.method, c.path, c.query])).toEqual([
      ['GET', `/repos/${OWNER}/${REPO}/issues`, { state: 'all', labels: 'patchgate-heads', per_page: '100', page: '1' }],
      ['POST', `/repos/${OWNER}/${REPO}/issues`, {}],
      ['GET', `/repos/${OWNER}/${REPO}/issues/100/comments`, { per_page: '100', page: '1' }],
      ['POST', `/repos/${OWNER}/${REPO}/issues/100/comments`, {}],
    ]);
    expect(gh.calls[1].body).toEqual({
      title: 'patchgate: changes found on the HEAD of net-next', labels: ['patchgate-heads'],
      body: `${treeIssueMarker('net-next')}\npatchgate runs the test matrix on the HEAD of **net-next** on a schedule; each change it finds is bisected, and the result is a comment on this issue.\n`,
    });
    expect(gh.calls[3].body).toEqual({ body: body(result()) });

    // the same bisection again, same text: found by the markers, nothing written
    gh.calls.length = 0;
    const same = await reportBisectionToGithub(client, target, 'net-next', body(result()), marker);
    expect(same).toMatchObject({ issue: 100, issueAction: 'found', comment: 9001, action: 'unchanged' });
    expect(gh.calls.map((c) => c.method)).toEqual(['GET', 'GET']);

    // the same bisection with a new measurement, the issue known from the store: the comment is edited in place
    gh.calls.length = 0;
    const edited = await reportBisectionToGithub(client, target, 'net-next', body(result(0.1011)), marker, 100);
    expect(edited).toMatchObject({ issue: 100, issueAction: 'found', comment: 9001, action: 'updated' });
    expect(gh.calls.map((c) => [c.method, c.path])).toEqual([
      ['GET', `/repos/${OWNER}/${REPO}/issues/100`],
      ['GET', `/repos/${OWNER}/${REPO}/issues/100/comments`],
      ['PATCH', `/repos/${OWNER}/${REPO}/issues/comments/9001`],
    ]);
    expect(gh.calls[2].body).toEqual({ body: body(result(0.1011)) });
    expect(gh.comments.filter((c) => c.body.includes(marker))).toHaveLength(1);
    expect(gh.comments[0].body).toContain('+10.11%');

    // another bisection: a second comment on the same issue, no second issue
    gh.calls.length = 0;
    const other = { ...result(), good: BAD, bad: '3'.repeat(40) };
    const second = await reportBisectionToGithub(client, target, 'net-next', body(other), bisectionMarker('net-next', other));
    expect(second).toMatchObject({ issue: 100, issueAction: 'found', comment: 9002, action: 'created' });
    expect(gh.issues).toHaveLength(1);
    expect(gh.comments.map((c) => c.issue)).toEqual([100, 100]);
    expect(gh.calls.filter((c) => c.method !== 'GET').map((c) => [c.method, c.path])).toEqual([['POST', `/repos/${OWNER}/${REPO}/issues/100/comments`]]);
  });

  it('a configured issue is commented on directly; a body without the marker is refused before any request', async () => {
    const target = { repo: `${OWNER}/${REPO}`, issue: 7, label: 'patchgate-heads' };
    const marker = bisectionMarker('net', result());
    const r = await reportBisectionToGithub(client, target, 'net', body(result()).replace(bisectionMarker('net-next', result()), marker), marker);
    expect(r).toMatchObject({ issue: 7, issueAction: 'configured', action: 'created' });
    expect(gh.calls.map((c) => [c.method, c.path])).toEqual([
      ['GET', `/repos/${OWNER}/${REPO}/issues/7/comments`],
      ['POST', `/repos/${OWNER}/${REPO}/issues/7/comments`],
    ]);
    gh.calls.length = 0;
    await expect(reportBisectionToGithub(client, target, 'net', 'no marker here', marker)).rejects.toThrow(/marker/);
    expect(gh.calls).toEqual([]);
  });
});
