// GitHub pull requests through probot: signed webhook deliveries (recorded payloads) posted to the real
// webhook endpoint on loopback, GitHub's API answered by nock. A PR becomes a series, a force-push a new
// revision; unsigned and wrongly signed deliveries are refused with a logged reason and store nothing.
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import nock from 'nock';
import { pino } from 'pino';
import { ProbotOctokit } from 'probot';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assembleStored } from '../../src/ingest/ingest.js';
import { createGithubProbot, githubWebhookHandler, GITHUB_WEBHOOK_PATH } from '../../src/ingest/source-github.js';
import { getSourceHealth } from '../../src/ingest/source-health.js';
import type { SourceOf } from '../../src/ingest/source-kit.js';
import { openDb, type Db } from '../../src/store/db.js';
import { repoRoot, settingsFor, tempDir, removeDir } from './ingest-support.js';
import type { CommandResult } from '../../src/report/commands.js';

const fixtures = path.join(repoRoot, 'test', 'fixtures', 'github');
const SECRET = 'patchgate-test-webhook-secret';
const API = 'https://api.github.com';

const logLines: Record<string, unknown>[] = [];
const log = pino({ level: 'info' }, new Writable({
  write(chunk, _enc, cb) {
    for (const line of chunk.toString().split('\n').filter(Boolean)) logLines.push(JSON.parse(line) as Record<string, unknown>);
    cb();
  },
}));

let dir: string;
let db: Db;
let server: http.Server;
let url: string;
const commandResults: CommandResult[] = [];

function payload(name: string): string {
  return readFileSync(path.join(fixtures, `${name}.json`), 'utf8');
}

function sign(body: string, secret = SECRET): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

async function deliver(body: string, headers: Record<string, string>): Promise<number> {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-github-event': 'pull_request', ...headers } });
  await res.text();
  return res.status;
}

function count(): number {
  return db.prepare('SELECT count(*) FROM messages').pluck().get() as number;
}

function mockInstallationToken(): void {
  nock(API).post('/app/installations/55000001/access_tokens')
    .reply(201, { token: 'ghs_testinstallationtoken', expires_at: '2099-01-01T00:00:00Z', permissions: { pull_requests: 'read', contents: 'read' }, repository_selection: 'all' });
}

function mockPatch(file: string): nock.Scope {
  return nock(API)
    .get('/repos/patchgate-test/linux/pulls/7')
    .matchHeader('accept', /application\/vnd\.github\.(v3\.)?patch/)
    .reply(200, readFileSync(path.join(fixtures, file), 'utf8'), { 'content-type': 'text/plain; charset=utf-8' });
}

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
  dir = tempDir('github');
  db = openDb(path.join(dir, 'store.sqlite'));
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const settings = settingsFor(dir, [{ name: 'gh', type: 'github', repos: ['patchgate-test/linux'] }], {
    github: { app_id: 12345, private_key: privateKey, webhook_secret: SECRET, api_url: API },
  });
  const probot = await createGithubProbot({
    db, settings, source: settings.sources[0] as SourceOf<'github'>, log,
    Octokit: ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } }),
    onCommands: (r) => { commandResults.push(r); },
  });
  const handler = githubWebhookHandler(probot, log);
  server = http.createServer((req, res) => {
    if (req.url === GITHUB_WEBHOOK_PATH) void handler(req, res);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${GITHUB_WEBHOOK_PATH}`;
});

afterEach(() => {
  expect(nock.pendingMocks()).toEqual([]);
  nock.cleanAll();
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  db.close();
  removeDir(dir);
  nock.enableNetConnect();
});

describe('GitHub pull requests through probot', () => {
  it('refuses an unsigned delivery and one signed with another secret, with a logged reason, storing nothing', async () => {
    const body = payload('pull_request.opened');
    logLines.length = 0;
    expect(await deliver(body, { 'x-github-delivery': 'd-unsigned' })).toBe(401);
    expect(await deliver(body, { 'x-github-delivery': 'd-badsig', 'x-hub-signature-256': sign(body, 'not-the-secret') })).toBe(401);
    // a valid signature over different bytes: the payload was tampered with
    const tampered = body.replace('tun: harden', 'tun: HARDEN');
    expect(await deliver(tampered, { 'x-github-delivery': 'd-tampered', 'x-hub-signature-256': sign(body) })).toBe(401);
    expect(count()).toBe(0);
    const refused = logLines.filter((l) => l.msg === 'webhook delivery refused');
    expect(refused.map((l) => [l.delivery, l.reason])).toEqual([
      ['d-unsigned', 'no X-Hub-Signature-256 header: unsigned delivery'],
      ['d-badsig', 'signature does not match the payload and the webhook secret'],
      ['d-tampered', 'signature does not match the payload and the webhook secret'],
    ]);
    expect(JSON.stringify(logLines)).not.toContain(SECRET);
  });

  it('a PR becomes a series; a force-push a new revision; the same head again stores nothing', async () => {
    mockInstallationToken();
    const patch1 = mockPatch('pr-7-head1.patch');
    const opened = payload('pull_request.opened');
    expect(await deliver(opened, { 'x-github-delivery': 'd-1', 'x-hub-signature-256': sign(opened) })).toBe(200);
    expect(patch1.isDone()).toBe(true);
    expect(count()).toBe(3); // cover letter + 2 commits

    let doc = assembleStored(db, { sloppyTrailers: false });
    expect(doc.series).toHaveLength(1);
    const v1 = doc.series[0];
    expect(v1.name).toBe('tun: harden the receive and send paths');
    expect(v1.version).toBe(1);
    expect(v1.received_all).toBe(true);
    expect(v1.base_commit).toBe('d523288b296fe8fac6f9d9077523beff1fc92de0');
    expect(v1.patches.map((p) => p.name)).toEqual(['tun: check the NAPI budget before receiving', 'tun: reject oversized frames in tun_get_user']);
    expect(v1.patches[0].author).toEqual({ name: 'Jane Developer', email: 'jane@example.org' });
    expect(v1.patches[0].files).toEqual(['drivers/net/tun.c']);

    // a redelivery of the same event: same head, nothing new, no API call
    expect(await deliver(opened, { 'x-github-delivery': 'd-1-again', 'x-hub-signature-256': sign(opened) })).toBe(200);
    expect(count()).toBe(3);

    // force-push: a new head, a new revision (the installation token is cached by probot)
    const patch2 = mockPatch('pr-7-head2.patch');
    const sync = payload('pull_request.synchronize');
    expect(await deliver(sync, { 'x-github-delivery': 'd-2', 'x-hub-signature-256': sign(sync) })).toBe(200);
    expect(patch2.isDone()).toBe(true);
    expect(count()).toBe(6);
    doc = assembleStored(db, { sloppyTrailers: false });
    const v2 = doc.series.find((s) => s.version === 2)!;
    expect(v2).toBeDefined();
    expect(v2.previous).toBe(v1.id);
    expect(v2.patches[1].name).toBe('tun: reject oversized frames in tun_get_user');

    // reopened at the same head: nothing new
    const reopened = payload('pull_request.reopened');
    expect(await deliver(reopened, { 'x-github-delivery': 'd-3', 'x-hub-signature-256': sign(reopened) })).toBe(200);
    expect(count()).toBe(6);

    const rows = db.prepare('SELECT revision, head_sha, delivery FROM github_pulls ORDER BY revision').all();
    expect(rows).toEqual([
      { revision: 1, head_sha: '077799e91b21ca84dc6801c8a0f2d523feb4c8f3', delivery: 'd-1' },
      { revision: 2, head_sha: 'ce4593d9f94ad6cd3309e843b40c10fb5560973e', delivery: 'd-2' },
    ]);
    expect(getSourceHealth(db, 'gh')?.messages).toBe(6);
  });
  it('commands in a PR comment reach the daemon through the same signed webhook (retest of the PR\'s series)', async () => {
    const recorded = JSON.parse(payload('pull_request.opened'));
    const comment = JSON.stringify({
      action: 'created',
      issue: { number: 7, title: recorded.pull_request.title, state: 'open', pull_request: { url: recorded.pull_request.url } },
      comment: { id: 4100000001, body: 'Looks plausible.\n\npatchgate: retest\n', user: { login: 'netmaint', type: 'User' }, author_association: 'COLLABORATOR', performed_via_github_app: null },
      repository: recorded.repository, sender: { login: 'netmaint', type: 'User' }, installation: recorded.installation,
    });
    expect(await deliver(comment, { 'x-github-event': 'issue_comment', 'x-github-delivery': 'c-1', 'x-hub-signature-256': sign(comment, 'another secret') })).toBe(401);
    expect(commandResults).toEqual([]);
    expect(await deliver(comment, { 'x-github-event': 'issue_comment', 'x-github-delivery': 'c-2', 'x-hub-signature-256': sign(comment) })).toBe(200);
    const newest = assembleStored(db, { sloppyTrailers: false }).series.filter((x) => x.name === 'tun: harden the receive and send paths').sort((a, b) => b.version - a.version)[0];
    expect(commandResults).toHaveLength(1);
    expect(commandResults[0].actions.map((a) => [a.type, a.seriesId])).toEqual([['retest', newest.id]]);
    expect(db.prepare("SELECT sender, state FROM commands WHERE sender = 'github:netmaint'").all()).toEqual([{ sender: 'github:netmaint', state: 'accepted' }]);
  });
});
