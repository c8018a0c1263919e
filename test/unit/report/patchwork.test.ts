// patchwork checks against nock with responses shaped like patchwork 3.x's /api/1.3/ answers.
import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { findPatchId, postCheck, queuePatchworkChecks, sendPatchworkOutbox, type PatchworkTarget } from '../../../src/report/patchwork.js';
import { openDb, type Db } from '../../../src/store/db.js';
import { P1, P2, contextFor } from './cases.js';

const HOST = 'https://patchwork.example.org';
const API = `${HOST}/api/1.3/`;
const target: PatchworkTarget = { apiUrl: API, project: 'netdevbpf', token: 'pw-secret-token', source: 'pw' };

function patchListEntry(id: number, msgid: string) {
  return {
    id, url: `${API}patches/${id}/`, web_url: `https://patchwork.example.org/project/netdevbpf/patch/${msgid.slice(1, -1)}/`,
    project: { id: 399, url: `${API}projects/399/`, name: 'Netdev + BPF', link_name: 'netdevbpf', list_id: 'netdev.vger.kernel.org',
      list_email: 'netdev@vger.kernel.org', web_url: '', scm_url: '', webscm_url: '', list_archive_url: 'https://lore.kernel.org/netdev', list_archive_url_format: 'https://lore.kernel.org/netdev/{}', commit_url_format: '' },
    msgid, list_archive_url: `https://lore.kernel.org/netdev/${msgid.slice(1, -1)}/`, date: '2026-03-01T12:00:00', name: '[net-next,v2,1/2] virtio_net: count completed tx buffers',
    commit_ref: null, pull_url: null, state: 'new', archived: false, hash: 'c0ffee', submitter: { id: 1, url: `${API}people/1/`, name: 'Jane Hacker', email: 'jane@example.org' },
    delegate: null, mbox: `https://patchwork.example.org/project/netdevbpf/patch/${msgid.slice(1, -1)}/mbox/`, series: [], comments: `${API}patches/${id}/comments/`,
    check: 'pending', checks: `${API}patches/${id}/checks/`, tags: {}, related: [],
  };
}

function checkResponse(id: number, patchId: number, body: Record<string, unknown>) {
  return {
    id, url: `${API}patches/${patchId}/checks/${id}/`,
    user: { id: 77, url: `${API}users/77/`, username: 'patchgate', first_name: '', last_name: '', email: 'bot@patchgate.example.org' },
    date: '2026-03-01T12:05:00.123456', target_url: null, ...body,
  };
}

describe('patchwork checks', () => {
  let db: Db;
  beforeAll(() => {
    nock.disableNetConnect();
  });
  afterAll(() => {
    nock.enableNetConnect();
  });
  beforeEach(() => {
    db = openDb(':memory:');
  });
  afterEach(() => {
    nock.cleanAll();
    db.close();
  });

  it('finds a patch by msgid (without brackets), with the token', async () => {
    nock('https://patchwork.example.org', { reqheaders: { authorization: 'Token pw-secret-token' } })
      .get('/api/1.3/patches/').query({ project: 'netdevbpf', msgid: P1.slice(1, -1) })
      .reply(200, [patchListEntry(13000001, P1)]);
    expect(await findPatchId(null, target, P1)).toBe(13000001);
  });

  it('uses the id ingest recorded instead of asking', async () => {
    db.prepare("INSERT INTO patchwork_patches (source, patch_id, series_id, msgid, url) VALUES ('pw', 42, 7, ?, ?)").run(P1, `${API}patches/42/`);
    expect(await findPatchId(db, target, P1)).toBe(42);
  });

  it('posts state, context, description and target_url; retries a 502, not a 403', async () => {
    const bodies: unknown[] = [];
    nock(HOST).post('/api/1.3/patches/13000001/checks/').reply(502, 'Bad Gateway');
    nock(HOST).post('/api/1.3/patches/13000001/checks/', (b) => (bodies.push(b), true))
      .reply(201, (_uri, b) => checkResponse(555, 13000001, b as Record<string, unknown>));
    const posted = await postCheck(target, 13000001, {
      context: 'patchgate-build', state: 'fail', description: 'failed: 1 error', target_url: 'https://ci.example.org/x',
    }, { delayMs: 1 });
    expect(posted).toEqual({ id: 555, url: `${API}patches/13000001/checks/555/` });
    expect(bodies).toEqual([{ state: 'fail', context: 'patchgate-build', description: 'failed: 1 error', target_url: 'https://ci.example.org/x' }]);

    nock(HOST).post('/api/1.3/patches/13000001/checks/').reply(403, { detail: 'You do not have permission to perform this action.' });
    await expect(postCheck(target, 13000001, { context: 'patchgate-build', state: 'fail', description: 'x', target_url: null }, { delayMs: 1 }))
      .rejects.toMatchObject({ status: 403 });
  });

  it('a series verdict becomes one check per patch and context through the outbox, each posted once', async () => {
    const ctx = contextFor('build-failure');
    expect(queuePatchworkChecks(db, ctx, { dryRun: false })).toBe(6);
    expect(queuePatchworkChecks(db, ctx, { dryRun: false })).toBe(0);
    const posted: { patch: string; body: Record<string, unknown> }[] = [];
    nock(HOST).get('/api/1.3/patches/').query({ project: 'netdevbpf', msgid: P1.slice(1, -1) }).reply(200, [patchListEntry(101, P1)]);
    nock(HOST).get('/api/1.3/patches/').query({ project: 'netdevbpf', msgid: P2.slice(1, -1) }).reply(200, [patchListEntry(102, P2)]);
    nock(HOST).persist().post(/\/api\/1\.3\/patches\/(101|102)\/checks\//)
      .reply(201, (uri, b) => {
        posted.push({ patch: uri.split('/')[4], body: b as Record<string, unknown> });
        return checkResponse(posted.length, Number(uri.split('/')[4]), b as Record<string, unknown>);
      });
    expect(await sendPatchworkOutbox(db, target, { delayMs: 1 })).toEqual({ sent: 6, failed: 0, skipped: 0 });
    expect(posted.map((p) => [p.patch, p.body.context, p.body.state])).toEqual([
      ['101', 'patchgate-apply', 'success'], ['101', 'patchgate-build', 'warning'], ['101', 'patchgate-checkpatch', 'success'],
      ['102', 'patchgate-apply', 'success'], ['102', 'patchgate-build', 'fail'], ['102', 'patchgate-checkpatch', 'warning'],
    ]);
    // the skipped perf gate posts nothing: patchwork has no skipped state
    expect(posted.some((p) => p.body.context === 'patchgate-perf')).toBe(false);
    expect(await sendPatchworkOutbox(db, target)).toEqual({ sent: 0, failed: 0, skipped: 0 });
  });

  it('dry-run rows are never posted; an unknown patch is skipped', async () => {
    queuePatchworkChecks(db, contextFor('conflict'), { dryRun: true });
    expect(await sendPatchworkOutbox(db, target)).toEqual({ sent: 0, failed: 0, skipped: 0 });
    db.prepare("UPDATE outbox SET state = 'pending'").run();
    nock(HOST).get('/api/1.3/patches/').query(true).times(2).reply(200, []);
    expect(await sendPatchworkOutbox(db, target)).toEqual({ sent: 0, failed: 0, skipped: 2 });
  });
});
