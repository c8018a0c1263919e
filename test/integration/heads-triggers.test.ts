// The manual triggers of HEAD runs and bisections besides the schedule, on real Redis: the dashboard's
// token-authenticated actions and the `patchgate: head-run` / `patchgate: bisect` mail commands add their
// job to the heads queue (the schedule's queue, the same job name and data), and the heads worker's
// processor (headJobProcessor) takes them: one code path whatever started the job.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { headJobProcessor } from '../../src/heads/jobs.js';
import { headsEnqueuer, headsQueue, startHeadsWorker, type HeadJobData } from '../../src/heads/schedule.js';
import { saveChange, startHeadRun } from '../../src/heads/store.js';
import { parseMessage } from '../../src/mail/parse.js';
import type { ParsedMessage } from '../../src/mail/types.js';
import { executeCommandActions, processCommands } from '../../src/report/commands.js';
import type { SeriesDocument } from '../../src/series/types.js';
import { settingsSchema } from '../../src/settings/schema.js';
import { openDb, type Db } from '../../src/store/db.js';
import { createWebServer } from '../../src/web/server.js';
import { cleanPrefix, ensureRedis, uniquePrefix } from '../helpers/redis.js';

const TOKEN = 'maintainer-token-0123456789';

describe('HEAD run and bisection triggers: dashboard and mail commands', () => {
  let url: string;
  let prefix: string;
  let db: Db;
  let dir: string;
  const q = () => headsQueue(url, prefix);

  async function jobs(): Promise<Job<HeadJobData>[]> {
    const queue = q();
    try {
      return (await queue.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed'])).sort((a, b) => Number(a.timestamp) - Number(b.timestamp));
    } finally {
      await queue.close();
    }
  }

  beforeAll(async () => {
    url = await ensureRedis();
    dir = mkdtempSync(path.join(os.tmpdir(), 'pg-heads-triggers-'));
    db = openDb(path.join(dir, 'store.sqlite'));
  });
  afterAll(async () => {
    if (prefix) await cleanPrefix(url, prefix);
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    if (prefix) await cleanPrefix(url, prefix);
    prefix = uniquePrefix('heads-trig');
  });

  it('dashboard: refused without the token (nothing queued); with it a HEAD run and a bisection of a detected change are queued', async () => {
    const app = await createWebServer({ db, actionToken: TOKEN, trees: ['mini'], heads: headsEnqueuer(url, prefix) });
    try {
      for (const headers of [{}, { authorization: 'Bearer wrong-token-0123456789x' }, { authorization: `Basic ${TOKEN}` }]) {
        const r = await app.inject({ method: 'POST', url: '/api/heads/mini/run', headers });
        expect(r.statusCode).toBe(401);
      }
      const formNoToken = await app.inject({ method: 'POST', url: '/heads/mini/run', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'token=' });
      expect(formNoToken.statusCode).toBe(401);
      expect(await jobs()).toEqual([]);

      const auth = { authorization: `Bearer ${TOKEN}` };
      expect((await app.inject({ method: 'POST', url: '/api/heads/linux-next/run', headers: auth })).statusCode).toBe(400);
      expect((await app.inject({ method: 'POST', url: '/api/heads/changes/999/bisect', headers: auth })).statusCode).toBe(404);

      const run = await app.inject({ method: 'POST', url: '/api/heads/mini/run', headers: auth });
      expect(run.statusCode).toBe(200);
      const runJob = (await jobs())[0];
      expect(run.json()).toEqual({ queued: runJob.id, tree: 'mini' });
      expect([runJob.name, runJob.data]).toEqual(['head-run', { tree: 'mini', trigger: 'web' }]);

      // the form (no JavaScript): the token as a field
      const form = await app.inject({ method: 'POST', url: '/heads/mini/run', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `token=${TOKEN}` });
      expect(form.statusCode).toBe(200);
      expect(form.body).toMatch(/<p id="result">queued: \d+, tree: mini<\/p>/);

      // a detected change between two runs: bisect it, once however often the button is pressed
      const a = startHeadRun(db, { tree: 'mini', commit: '1'.repeat(40), branch: 'main', trigger: 'schedule', accel: 'tcg' });
      const b = startHeadRun(db, { tree: 'mini', commit: '2'.repeat(40), branch: 'main', trigger: 'schedule', accel: 'tcg' });
      const change = saveChange(db, { tree: 'mini', metric: 'tcp_rr_cost_per_trans', fromRun: a, toRun: b, comparison: { n: 5, m: 5, change: 0.08, low: 0.07, high: 0.09, p: 0.008, verdict: 'regression' } });
      // the tree's page offers both actions (forms with the token field)
      const page = (await app.inject({ method: 'GET', url: '/heads/mini' })).body;
      expect(page).toContain('<form method="post" action="/heads/mini/run"><input type="password" name="token"');
      expect(page).toContain(`<td>${change}</td><td>tcp_rr_cost_per_trans</td><td>regression</td><td>+8.00%</td><td><code>222222222222</code></td><td><form method="post" action="/heads/changes/${change}/bisect">`);
      expect((await app.inject({ method: 'POST', url: `/api/heads/changes/${change}/bisect` })).statusCode).toBe(401);
      const bis = await app.inject({ method: 'POST', url: `/api/heads/changes/${change}/bisect`, headers: auth });
      expect(bis.json()).toEqual({ queued: `bisect-change-${change}`, tree: 'mini', metric: 'tcp_rr_cost_per_trans' });
      await app.inject({ method: 'POST', url: `/api/heads/changes/${change}/bisect`, headers: auth });
      const all = await jobs();
      expect(all.map((j) => [j.name, j.data])).toEqual([
        ['head-run', { tree: 'mini', trigger: 'web' }],
        ['head-run', { tree: 'mini', trigger: 'web' }],
        ['bisect', { tree: 'mini', trigger: 'web', bisect: { changeId: change } }],
      ]);
    } finally {
      await app.close();
    }
  });

  it('without a heads queue attached the authorised action answers 503', async () => {
    const app = await createWebServer({ db, actionToken: TOKEN, trees: ['mini'] });
    try {
      const r = await app.inject({ method: 'POST', url: '/api/heads/mini/run', headers: { authorization: `Bearer ${TOKEN}` } });
      expect(r.statusCode).toBe(503);
    } finally {
      await app.close();
    }
  });

  it('mail: head-run and bisect from a tree\'s maintainer are queued, outside a series thread too; others are refused', async () => {
    const settings = settingsSchema.parse({
      smtp: { from: 'patchgate <bot@patchgate.example.org>' },
      trees: [{ name: 'mini', url: '/nonexistent', branch: 'main' }, { name: 'other', url: '/nonexistent', branch: 'main' }],
      commands: { maintainers: ['boss@example.org'], trees: { mini: ['maint@example.org'] } },
    });
    const messages: ParsedMessage[] = [];
    const reply = async (id: string, from: string, body: string) => {
      const raw = Buffer.from([`From: ${from}`, 'To: netdev@vger.kernel.org', 'Subject: Re: [REGRESSION] mini: tcp_rr_cost_per_trans +8.00%',
        `Message-ID: <${id}@example.org>`, 'In-Reply-To: <patchgate.bisect.mini.abc@patchgate.example.org>', '', body, ''].join('\n'));
      messages.push(await parseMessage(raw));
    };
    await reply('r1', 'Maint <maint@example.org>', 'Please run it again.\n\npatchgate: head-run mini\npatchgate: bisect mini v1.0..abc1234 tcp_rr_cost_per_trans\n> patchgate: head-run other\n');
    await reply('r2', 'Maint <maint@example.org>', 'patchgate: head-run other\npatchgate: bisect mini a..b..c\npatchgate: bisect 1234567..89abcde\npatchgate: retest\n');
    await reply('r3', 'Eve <eve@example.org>', 'patchgate: head-run mini\n');
    const doc: SeriesDocument = { messages: [], series: [], comments: messages.map((m) => ({ msgid: m.msgid, parent: 'patchgate.bisect.mini.abc@patchgate.example.org', series: null })) };
    const result = await processCommands(db, doc, new Map(messages.map((m) => [m.msgid, m])), settings);
    expect(result.records.map((r) => [r.sender, r.command, r.argument, r.state, r.reason])).toEqual([
      ['maint@example.org', 'head-run', 'mini', 'accepted', 'a HEAD run of mini is queued'],
      ['maint@example.org', 'bisect', 'mini v1.0..abc1234 tcp_rr_cost_per_trans', 'accepted', 'a bisection of mini v1.0..abc1234 (tcp_rr_cost_per_trans) is queued'],
      ['maint@example.org', 'head-run', 'other', 'refused', 'maint@example.org is not a maintainer of other nor in commands.maintainers'],
      ['maint@example.org', 'bisect', 'mini a..b..c', 'refused', 'bisect needs a range <good>..<bad> of commit ids or names'],
      ['maint@example.org', 'bisect', '1234567..89abcde', 'refused', 'bisect needs a tree: patchgate: bisect <tree> <good>..<bad> [metric]'],
      ['maint@example.org', 'retest', null, 'refused', 'not in a series thread'],
      ['eve@example.org', 'head-run', 'mini', 'refused', 'eve@example.org is not a maintainer of mini nor in commands.maintainers'],
    ]);
    expect(result.actions.map((a) => a.type)).toEqual(['head-run', 'bisect']);
    // each message is answered (dry-run by default), threaded to it; the maintainer's under the tree's heads id
    const answers = db.prepare(`SELECT series_id, state, payload FROM outbox WHERE channel = 'mail' AND verdict IS NULL ORDER BY id`).all() as { series_id: string; state: string; payload: string }[];
    expect(answers.map((a) => [a.series_id, a.state, (JSON.parse(a.payload) as { inReplyTo: string }).inReplyTo])).toEqual([
      ['heads:mini', 'dry-run', '<r1@example.org>'], ['', 'dry-run', '<r2@example.org>'], ['', 'dry-run', '<r3@example.org>'],
    ]);

    const pipeline = { enqueue: async () => 'added' as const, cancel: async () => {} };
    const heads = headsEnqueuer(url, prefix);
    const done = await executeCommandActions(db, result.actions, pipeline, { heads });
    expect(done.map((d) => [d.seriesId, d.result])).toEqual([['heads:mini', 'added'], ['heads:mini', 'added']]);
    // the same mail's commands again (e.g. a retry of the executor): the job ids are the same, nothing more is queued
    await executeCommandActions(db, result.actions, pipeline, { heads });
    const all = await jobs();
    expect(all.map((j) => [j.id, j.name, j.data])).toEqual([
      [done[0].job, 'head-run', { tree: 'mini', trigger: 'mail' }],
      [done[1].job, 'bisect', { tree: 'mini', trigger: 'mail', bisect: { good: 'v1.0', bad: 'abc1234', metric: 'tcp_rr_cost_per_trans' } }],
    ]);
    // the message was read once: processing the same mail again records and queues nothing
    expect((await processCommands(db, doc, new Map(messages.map((m) => [m.msgid, m])), settings)).records).toEqual([]);
    // without a heads queue the actions are reported as not queued
    expect((await executeCommandActions(db, result.actions, pipeline)).map((d) => d.result)).toEqual(['not-queued', 'not-queued']);
  });

  it('the heads worker runs the triggered jobs with the same processor as the scheduled ones', async () => {
    const settings = settingsSchema.parse({ trees: [], heads: { work_dir: path.join(dir, 'heads') } });
    const heads = headsEnqueuer(url, prefix);
    const runId = await heads.headRun('nowhere', 'web');
    const bisId = await heads.bisect('nowhere', 'mail', { changeId: 424242 });
    const failed = new Map<string, string>();
    const w = startHeadsWorker(url, prefix, headJobProcessor({ db, settings }));
    w.on('failed', (job, err) => job && failed.set(job.id!, err.message));
    try {
      const deadline = Date.now() + 30_000;
      while (failed.size < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    } finally {
      await w.close();
    }
    // the HEAD run looked the tree up (runHead), the bisection its change (bisectChange): the real job code ran
    expect(failed.get(runId)).toBe('unknown tree nowhere');
    expect(failed.get(bisId)).toBe('no detected change 424242');
  });
});
