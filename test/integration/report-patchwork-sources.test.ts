// patchwork checks go to the patchwork source the series came from (patchwork_series / patchwork_patches,
// as the patchwork ingest records them), not to the first source with a token; a series that came by mail
// goes to the instance that knows its patches. Through the report stage's delivery pass, with two patchwork
// instances behind nock answering like patchwork 3.x's /api/1.3/.
import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { logger } from '../../src/log.js';
import { deliverOutbox } from '../../src/report/stage.js';
import { recordVerdict } from '../../src/report/verdict.js';
import { parseSettings } from '../../src/settings/load.js';
import { openDb, type Db } from '../../src/store/db.js';
import { storeMessages } from '../../src/store/messages.js';
import { saveOutcome } from '../../src/store/runs.js';
import { saveSeriesDocument } from '../../src/store/series.js';
import { cases, COVER, origin, P1, P2, series } from '../unit/report/cases.js';

const KERNEL = 'https://patchwork.kernel.example';
const OZLABS = 'https://patchwork.ozlabs.example';
const READONLY = 'https://patchwork.readonly.example';

const settings = parseSettings({
  smtp: { from: 'patchgate <bot@patchgate.example.org>' },
  reply: { mode: 'send', on: 'never' },
  sources: [
    // the first source with a token: where every check went before
    { name: 'pw-ozlabs', type: 'patchwork', url: `${OZLABS}/api/1.3/`, project: 'netdev', token: 'oz-token' },
    { name: 'pw-kernel', type: 'patchwork', url: `${KERNEL}/api/1.3/`, project: 'netdevbpf', token: 'kernel-token' },
    { name: 'pw-readonly', type: 'patchwork', url: `${READONLY}/api/1.3/`, project: 'netdev' },
  ],
});

function patchEntry(host: string, project: string, id: number, msgid: string) {
  return {
    id, url: `${host}/api/1.3/patches/${id}/`, web_url: `${host}/project/${project}/patch/${msgid.slice(1, -1)}/`,
    project: { id: 399, url: `${host}/api/1.3/projects/399/`, name: project, link_name: project, list_id: 'netdev.vger.kernel.org', list_email: 'netdev@vger.kernel.org' },
    msgid, date: '2026-03-01T12:00:00', name: 'virtio_net', commit_ref: null, pull_url: null, state: 'new', archived: false, hash: 'c0ffee',
    submitter: { id: 1, url: `${host}/api/1.3/people/1/`, name: 'Jane Hacker', email: 'jane@example.org' }, delegate: null,
    mbox: `${host}/project/${project}/patch/${msgid.slice(1, -1)}/mbox/`, series: [], check: 'pending', checks: `${host}/api/1.3/patches/${id}/checks/`, tags: {},
  };
}

/** Records every check a patchwork instance receives (with the token it came with). */
function checksAt(host: string, token: string): { patch: number; context: string; state: string; token: string }[] {
  const got: { patch: number; context: string; state: string; token: string }[] = [];
  nock(host).persist().post(/\/api\/1\.3\/patches\/\d+\/checks\/$/).reply(function (uri, body) {
    const auth = String(this.req.headers.authorization);
    if (auth !== `Token ${token}`) return [403, { detail: 'You do not have permission to perform this action.' }];
    const b = body as { context: string; state: string };
    got.push({ patch: Number(uri.split('/')[4]), context: b.context, state: b.state, token: auth });
    return [201, { id: got.length, url: `${host}${uri}${got.length}/`, user: { id: 77, username: 'patchgate' }, date: '2026-03-01T12:05:00', target_url: null, ...b }];
  });
  return got;
}

function recordPatchworkSeries(db: Db, source: string, host: string, ids: [number, number]): void {
  db.prepare(`INSERT INTO patchwork_series (source, series_id, project, name, version, url, web_url, mbox_url, cover_msgid)
      VALUES (?, 1001, 'netdevbpf', 'virtio-net', 2, ?, NULL, ?, ?)`).run(source, `${host}/api/1.3/series/1001/`, `${host}/series/1001/mbox/`, COVER);
  const patch = db.prepare(`INSERT INTO patchwork_patches (source, patch_id, series_id, msgid, url) VALUES (?, ?, 1001, ?, ?)`);
  patch.run(source, ids[0], P1, `${host}/api/1.3/patches/${ids[0]}/`);
  patch.run(source, ids[1], P2, `${host}/api/1.3/patches/${ids[1]}/`);
}

describe('patchwork checks to the source the series came from', () => {
  let db: Db;
  beforeAll(() => nock.disableNetConnect());
  afterAll(() => nock.enableNetConnect());
  beforeEach(() => {
    db = openDb(':memory:');
    storeMessages(db, [{ raw: Buffer.from('x'), parsed: origin(), source: 'test' }]);
    saveSeriesDocument(db, { messages: [], series: [series], comments: [] }, new Map([[series.id, '2026-03-01T12:00:00Z']]));
    db.prepare("INSERT INTO runs (series_id, version, state) VALUES (?, 2, 'running')").run(series.id);
    for (const o of cases.success) {
      if (o.stage.startsWith('gate:')) continue;
      const gates = cases.success.filter((g) => g.stage.startsWith('gate:')).map((g) => ({ ...(g.data as object), id: g.stage.slice(5), status: g.status, summary: g.summary }));
      saveOutcome(db, series.id, 2, o.stage, { status: o.status, summary: o.summary ?? '', data: o.stage === 'gate' ? { gates } : (o.data as Record<string, unknown>) });
    }
  });
  afterEach(() => {
    nock.cleanAll();
    db.close();
  });

  it('a series patchwork delivered: every check to its own instance and patch ids, no lookup, none elsewhere', async () => {
    recordPatchworkSeries(db, 'pw-kernel', KERNEL, [13000001, 13000002]);
    const kernel = checksAt(KERNEL, 'kernel-token');
    const ozlabs = checksAt(OZLABS, 'oz-token');
    const queued = recordVerdict(db, series.id, 2, settings)!.patchworkChecks;
    expect(queued).toBeGreaterThan(0);
    const out = await deliverOutbox(db, settings, logger);
    expect(out.patchwork).toEqual({ sent: queued, failed: 0, skipped: 0 });
    expect(ozlabs).toEqual([]);
    expect(new Set(kernel.map((c) => c.patch))).toEqual(new Set([13000001, 13000002]));
    expect(kernel.filter((c) => c.patch === 13000001).map((c) => c.context)).toContain('patchgate-apply');
    expect(kernel.every((c) => c.token === 'Token kernel-token')).toBe(true);
    const results = (db.prepare(`SELECT result FROM outbox WHERE channel = 'patchwork'`).pluck().all() as string[]).map((r) => JSON.parse(r));
    expect(new Set(results.map((r) => r.source))).toEqual(new Set(['pw-kernel']));
  });

  it('a series that came by mail: the instance that knows its patches gets the checks', async () => {
    nock(OZLABS).persist().get('/api/1.3/patches/').query(true).reply(200, []);
    nock(KERNEL).get('/api/1.3/patches/').query({ project: 'netdevbpf', msgid: P1.slice(1, -1) }).reply(200, [patchEntry(KERNEL, 'netdevbpf', 501, P1)]);
    nock(KERNEL).get('/api/1.3/patches/').query({ project: 'netdevbpf', msgid: P2.slice(1, -1) }).reply(200, [patchEntry(KERNEL, 'netdevbpf', 502, P2)]);
    const kernel = checksAt(KERNEL, 'kernel-token');
    const ozlabs = checksAt(OZLABS, 'oz-token');
    const queued = recordVerdict(db, series.id, 2, settings)!.patchworkChecks;
    expect((await deliverOutbox(db, settings, logger)).patchwork).toEqual({ sent: queued, failed: 0, skipped: 0 });
    expect(ozlabs).toEqual([]);
    expect(new Set(kernel.map((c) => c.patch))).toEqual(new Set([501, 502]));
  });

  it('a series from a source without a token: skipped with the reason, nothing posted anywhere', async () => {
    recordPatchworkSeries(db, 'pw-readonly', READONLY, [7, 8]);
    const ozlabs = checksAt(OZLABS, 'oz-token');
    const kernel = checksAt(KERNEL, 'kernel-token');
    const queued = recordVerdict(db, series.id, 2, settings)!.patchworkChecks;
    expect((await deliverOutbox(db, settings, logger)).patchwork).toEqual({ sent: 0, failed: 0, skipped: queued });
    expect([...ozlabs, ...kernel]).toEqual([]);
    const reasons = new Set((db.prepare(`SELECT result FROM outbox WHERE channel = 'patchwork'`).pluck().all() as string[]).map((r) => JSON.parse(r).reason));
    expect(reasons).toEqual(new Set([`${P1} came from patchwork source pw-readonly, which has no token configured`,
      `${P2} came from patchwork source pw-readonly, which has no token configured`]));
  });
});
