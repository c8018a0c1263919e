// Workers on another machine: a worker process with no store (its own directory and environment, a config
// without store:, and `var` a plain file there, so any attempt to open the default store throws) runs the
// real apply, build and gate stages from what Redis carries, and their outcomes land in the store of the
// owner, a separate process (`patchgate worker --queues report`). The owner is SIGKILLed while the remote
// apply runs: the outcomes wait in Redis, and the restarted owner stores them once and produces the verdict
// and the reply once; killed three times while 30 series flow, nothing is lost or run twice. Also: an outcome
// a crashed store-less attempt left in Redis is reused, not recomputed.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { assembleStored, ingestInputs } from '../../src/ingest/ingest.js';
import { readMailInputs } from '../../src/ingest/inputs.js';
import { connectionOptions, queueConfig } from '../../src/queue/config.js';
import { jobId, RESULTS_QUEUE, revisionKey, type Stage } from '../../src/queue/names.js';
import { createPipeline, type Pipeline } from '../../src/queue/pipeline.js';
import { createRegistry } from '../../src/queue/registry.js';
import { inputKey, outcomesKey, runTokenKey, type RevisionInput } from '../../src/queue/revision-input.js';
import { startWorkers, type WorkerHandle } from '../../src/queue/worker.js';
import type { Series } from '../../src/series/types.js';
import { parseSettings } from '../../src/settings/load.js';
import { openDb, type Db } from '../../src/store/db.js';
import { getRun, listOutcomes } from '../../src/store/runs.js';
import { createMiniTree, writeFragment } from './build-mini-tree.js';
import { createQueueEnv, exited, fakeSeries, repoRoot, storeSeries, waitFor, type QueueEnv } from '../helpers/queue-env.js';
import { readCounters } from '../helpers/test-stages.js';
import { cleanPrefix, ensureRedis, uniquePrefix } from '../helpers/redis.js';
import { makeSeries } from '../helpers/series-repo.js';

const TSX = pathToFileURL(path.join(repoRoot, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
const CLI = `const { main } = await import(${JSON.stringify(pathToFileURL(path.join(repoRoot, 'src', 'cli.ts')).href)}); process.exitCode = await main(process.argv.slice(1));`;

interface Child {
  proc: ChildProcess;
  stderr(): string;
}

const children: Child[] = [];

/** `patchgate worker ARGS` as its own process in CWD with exactly ENV (no inherited store paths). */
function cli(cwd: string, env: NodeJS.ProcessEnv, args: string[]): Child {
  const proc = spawn(process.execPath, ['--import', TSX, '--input-type=module', '-e', CLI, ...args], { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-8000);
    if (process.env.PATCHGATE_TEST_WORKER_LOG) process.stderr.write(d);
  });
  const c = { proc, stderr: () => err };
  children.push(c);
  return c;
}

/** The environment of a process on another machine: PATH and HOME, nothing of this test's. */
function bareEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, PATCHGATE_LOG_LEVEL: process.env.PATCHGATE_TEST_WORKER_LOG ?? 'silent', ...extra };
}

function alive(c: Child): void {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) throw new Error(`process ${c.proc.pid} exited (${c.proc.exitCode ?? c.proc.signalCode}):\n${c.stderr()}`);
}

/** Every file below DIR (relative paths). */
function filesBelow(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(path.relative(dir, path.join(e.parentPath, e.name)));
  return out;
}

let url: string;

beforeAll(async () => {
  url = await ensureRedis();
});

afterEach(() => {
  for (const c of children.splice(0)) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
});

describe('a worker without the store', { timeout: 300_000 }, () => {
  let dir: string;
  let prefix: string;
  let db: Db;
  let pipeline: Pipeline;
  let results: Queue;

  afterAll(async () => {
    await pipeline?.close();
    await results?.close();
    db?.close();
    await cleanPrefix(url, prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs apply, build and gate from Redis; the killed and restarted store owner records them and reports once', async () => {
    prefix = uniquePrefix('remote');
    dir = mkdtempSync(path.join(os.tmpdir(), 'patchgate-remote-'));
    chmodSync(dir, 0o755);
    // shared "artifacts": the tree the series is for
    const tree = path.join(dir, 'tree');
    createMiniTree(tree);
    const mbox = path.join(dir, 'series.mbox');
    writeFileSync(mbox, makeSeries(tree, dir, 'tun', 'PATCH net-next', [
      { file: 'drivers/net/tun.c', from: '\treturn fd - 1;\n', to: '\treturn fd - 2;\n', msg: 'tun: close one lower' },
    ]));
    const trees = [{ name: 'net-next', url: tree, branch: 'main', tokens: ['net-next'], lists: ['netdev@vger.kernel.org'] }];
    const queue = { attempts: 2, backoff_ms: 200, lock_duration_ms: 4000, stalled_interval_ms: 1000 };

    // the store owner's machine
    const ownerDir = path.join(dir, 'owner');
    mkdirSync(ownerDir);
    const storePath = path.join(ownerDir, 'store.sqlite');
    const ownerSettings = { store: { path: storePath }, redis: { url, prefix }, work_dir: path.join(ownerDir, 'work'), trees, reply: { mode: 'dry-run', on: 'always' }, queue };
    const ownerConfig = path.join(ownerDir, 'patchgate.yaml');
    writeFileSync(ownerConfig, YAML.stringify(ownerSettings));

    // the worker's machine: its own directory, a config without store:, and `var` a plain file, so that opening
    // the default store (var/patchgate.sqlite) cannot succeed there
    const remoteDir = path.join(dir, 'remote');
    mkdirSync(remoteDir);
    writeFileSync(path.join(remoteDir, 'var'), 'not a directory\n');
    const fragment = writeFragment(remoteDir, 'net', 'CONFIG_NET=y\nCONFIG_TUN=y\n');
    const remoteSettings = {
      redis: { url, prefix }, work_dir: path.join(remoteDir, 'work'), trees, queue,
      build: { work_dir: path.join(remoteDir, 'build'), artifacts_dir: path.join(remoteDir, 'artifacts'), jobs: 2, ccache: false,
        configs: [{ name: 'mini', base: 'tinyconfig', fragments: [fragment] }], sandbox: { allow_unsandboxed: true } },
      gates: { perf: { enabled: false } },
    };
    const remoteConfig = path.join(remoteDir, 'patchgate.yaml');
    writeFileSync(remoteConfig, YAML.stringify(remoteSettings));
    const remoteEnv = bareEnv();
    expect(readFileSync(remoteConfig, 'utf8')).not.toContain(ownerDir);
    expect(JSON.stringify(remoteEnv)).not.toContain(ownerDir);

    // there, a process that needs the store cannot start: the report queue opens it, and that throws
    const refused = cli(remoteDir, remoteEnv, ['worker', '--config', remoteConfig, '--queues', 'report']);
    expect((await exited(refused.proc)).code).not.toBe(0);
    expect(refused.stderr()).toMatch(/EEXIST|ENOTDIR|not a directory|file already exists/i);

    // the owner's mail → store → series
    db = openDb(storePath);
    await ingestInputs(db, readMailInputs([mbox]));
    const series = assembleStored(db, { sloppyTrailers: false }).series.find((s) => s.received_all) as Series;
    expect(series.patches).toHaveLength(1);

    const remote = cli(remoteDir, remoteEnv, ['worker', '--config', remoteConfig, '--queues', 'apply,build,gate']);
    let owner = cli(repoRoot, bareEnv(), ['worker', '--config', ownerConfig, '--queues', 'report']);
    // this process only queues (as the daemon's ingest side would); the owner process records
    pipeline = createPipeline({ config: queueConfig(parseSettings(ownerSettings)), db, record: false });
    results = new Queue(RESULTS_QUEUE, { connection: connectionOptions(url), prefix });
    const count = async (q: Queue) => (alive(remote), alive(owner), await q.getWorkersCount());
    await waitFor('remote workers', async () => (await count(pipeline.queues.apply)) >= 1 && (await count(pipeline.queues.gate)) >= 1, 90_000, 200);
    await waitFor('owner workers', async () => (await count(pipeline.queues.report)) >= 1 && (await count(results)) >= 1, 90_000, 200);

    expect(await pipeline.enqueueSeries(series)).toBe('added');
    // the input travels through Redis: the series document and the raw patch mail, as the store holds them
    const redis = new Redis(url, { maxRetriesPerRequest: null });
    const rev = revisionKey(series.id, series.version);
    const input = JSON.parse((await redis.get(inputKey(prefix, rev)))!) as RevisionInput;
    expect(input.series).toEqual(series);
    const raw = db.prepare('SELECT raw FROM messages WHERE msgid = ?').pluck().get(series.patches[0].msgid) as Buffer;
    expect(Buffer.from(input.messages[series.patches[0].msgid].raw!, 'base64').equals(raw)).toBe(true);
    expect(await redis.get(runTokenKey(prefix, rev))).toBe(input.token);

    // kill the store owner while the remote worker applies
    const state = (stage: Stage) => pipeline.queues[stage].getJobState(jobId(stage, series.id, series.version));
    await waitFor('the remote apply to run', async () => (alive(remote), (await state('apply')) === 'active'), 120_000, 20);
    owner.proc.kill('SIGKILL');
    expect((await exited(owner.proc)).signal).toBe('SIGKILL');

    // apply, build and gate finish meanwhile; their outcomes wait in Redis, the store has none of them
    await waitFor('the remote gate to finish', async () => (alive(remote), (await state('gate')) === 'completed'), 180_000, 200);
    expect(listOutcomes(db, series.id, series.version)).toEqual([]);
    expect(getRun(db, series.id, series.version)?.state).not.toBe('done');
    const waiting = await results.getJobs(['waiting']);
    expect(waiting.map((j) => j.id).filter((id) => id!.startsWith('outcome-')).sort())
      .toEqual(['apply', 'build', 'gate'].map((s) => `outcome-${s}-${rev}-${input.token}`).sort());
    expect(await state('report')).toBe('waiting');

    // the owner again: it records what waited and runs the report
    owner = cli(repoRoot, bareEnv(), ['worker', '--config', ownerConfig, '--queues', 'report']);
    await waitFor('the verdict', () => (alive(owner), getRun(db, series.id, series.version)?.state === 'done'), 120_000, 200);
    const run = getRun(db, series.id, series.version)!;
    const byStage = Object.fromEntries(listOutcomes(db, series.id, series.version).map((o) => [o.stage, o]));
    expect(Object.keys(byStage).filter((s) => !s.startsWith('gate:')).sort()).toEqual(['apply', 'build', 'gate', 'report']);
    expect(run.tree).toBe('net-next');
    expect(run.branch).toBe(`patchgate/${series.id}/v1`);
    expect((byStage.apply.data.apply as { outcome: string }[]).map((a) => a.outcome)).toEqual(['applied']);
    expect(byStage.build.status).toBe('success');
    expect((byStage.build.data.build as { msgid: string; status: string }[]).map((b) => [b.msgid, b.status])).toEqual([[series.patches[0].msgid, 'success']]);
    const gates = byStage.gate.data.gates as { id: string; status: string; summary: string }[];
    expect(gates.find((g) => g.id === 'signoff')?.status).toBe('success');
    expect(gates.find((g) => g.id === 'perf')?.summary).toMatch(/disabled/);
    expect(byStage['gate:signoff']?.status).toBe('success');
    expect(run.verdict).toMatch(/^(success|warning)$/);
    // the verdict and its reply once
    expect(byStage.report.data.reply).toMatchObject({ to: ['jo@example.org'], sent: false });
    expect(db.prepare(`SELECT count(*) FROM outbox WHERE series_id = ? AND version = ? AND channel = 'mail'`).pluck().get(series.id, series.version)).toBe(1);
    for (const stage of ['apply', 'build', 'gate', 'report'] as const) {
      const job = await pipeline.queues[stage].getJob(jobId(stage, series.id, series.version));
      expect(job?.attemptsStarted, `${stage} attempts`).toBe(1);
    }
    // every record of the run stored once
    const done = await waitFor('records stored', async () => {
      const jobs = await results.getJobs(['completed']);
      return jobs.filter((j) => j.id!.startsWith('outcome-')).length === 3 ? jobs : null;
    }, 30_000);
    expect(done.filter((j) => j.id!.startsWith('outcome-')).map((j) => [j.id, j.attemptsStarted, j.returnvalue]).sort())
      .toEqual(['apply', 'build', 'gate'].map((s) => [`outcome-${s}-${rev}-${input.token}`, 1, 'recorded']).sort());

    // the worker's machine never held a store
    alive(remote);
    expect(filesBelow(remoteDir).filter((f) => /sqlite|\.db$/.test(f))).toEqual([]);
    expect(readFileSync(path.join(remoteDir, 'var'), 'utf8')).toBe('not a directory\n');
    remote.proc.kill('SIGTERM');
    expect((await exited(remote.proc)).code).toBe(0);
    redis.disconnect();
  });
});

describe('the store owner killed again and again while outcomes arrive', { timeout: 300_000 }, () => {
  let env: QueueEnv;
  let pipeline: Pipeline;

  afterAll(async () => {
    await pipeline?.close();
    await env?.cleanup();
  });

  it('every remote stage runs once, every outcome and verdict reaches the store once', async () => {
    env = await createQueueEnv('remote-kill', { concurrency: { apply: 2, build: 2, gate: 2, report: 4 } });
    const N = 30;
    const ids = Array.from({ length: N }, (_, i) => `rk-${String(i).padStart(2, '0')}`);
    storeSeries(env.db, ids.map((id) => fakeSeries(id)));
    const remoteDir = path.join(env.dir, 'remote');
    mkdirSync(remoteDir);
    writeFileSync(path.join(remoteDir, 'var'), 'not a directory\n');
    const remoteConfig = path.join(remoteDir, 'patchgate.yaml');
    writeFileSync(remoteConfig, YAML.stringify({ redis: { url: env.url, prefix: env.prefix }, work_dir: path.join(remoteDir, 'work'), queue: env.settings.queue }));
    const stagesEnv = { PATCHGATE_STAGE_MODULES: path.join(repoRoot, 'test', 'helpers', 'test-stages.ts'), PATCHGATE_TEST_COUNTERS: env.counters, REDIS_URL: env.url };
    const remote = cli(remoteDir, bareEnv({ ...stagesEnv, PATCHGATE_TEST_SLEEP: 'apply:300,build:300,gate:300' }), ['worker', '--config', remoteConfig, '--queues', 'apply,build,gate']);
    const ownerArgs = ['worker', '--config', env.configFile, '--queues', 'report'];
    let owner = cli(repoRoot, bareEnv({ ...stagesEnv, PATCHGATE_TEST_SLEEP: 'report:5' }), ownerArgs);
    pipeline = createPipeline({ config: queueConfig(parseSettings(env.settings)), db: env.db, record: false });
    const results = new Queue(RESULTS_QUEUE, { connection: connectionOptions(env.url), prefix: env.prefix });
    try {
      await waitFor('workers', async () => (alive(remote), alive(owner), (await pipeline.queues.gate.getWorkersCount()) >= 1 && (await results.getWorkersCount()) >= 1), 90_000, 200);
      for (const id of ids) expect(await pipeline.enqueue(id, 1)).toBe('added');
      const done = env.db.prepare(`SELECT count(*) FROM runs WHERE state = 'done'`).pluck();
      let kills = 0;
      while ((done.get() as number) < N) {
        if (kills < 3) {
          // once the owner records, let it work a little, then kill it; outcomes pile up until it is back
          await waitFor('the owner', async () => (alive(owner), (await results.getWorkersCount()) >= 1), 90_000, 100);
          await new Promise((r) => setTimeout(r, 500));
          if ((done.get() as number) >= N) break;
          owner.proc.kill('SIGKILL');
          await exited(owner.proc);
          kills++;
          await new Promise((r) => setTimeout(r, 1500));
          owner = cli(repoRoot, bareEnv({ ...stagesEnv, PATCHGATE_TEST_SLEEP: 'report:5' }), ownerArgs);
        }
        alive(remote);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(kills).toBeGreaterThanOrEqual(2);
      const c = await readCounters(env.url, env.counters);
      for (const id of ids) {
        for (const stage of ['apply', 'build', 'gate']) {
          expect(c.start[`${stage}|${id}|v1`], `${stage} ${id} started`).toBe(1);
          expect(c.finish[`${stage}|${id}|v1`], `${stage} ${id} finished`).toBe(1);
        }
        expect(c.finish[`report|${id}|v1`], `report ${id}`).toBeGreaterThanOrEqual(1);
      }
      expect(new Set(c.events.filter((e) => e.stage !== 'report').map((e) => e.pid))).toEqual(new Set([remote.proc.pid]));
      expect(env.db.prepare(`SELECT count(*) FROM outcomes`).pluck().get()).toBe(N * 4);
      expect(env.db.prepare(`SELECT count(*) FROM runs WHERE verdict = 'success'`).pluck().get()).toBe(N);
      expect(await results.getJobCounts('failed')).toEqual({ failed: 0 });
      expect(filesBelow(remoteDir).filter((f) => /sqlite/.test(f))).toEqual([]);
    } finally {
      await results.close();
    }
  });
});

describe('an outcome a crashed store-less attempt left in Redis', { timeout: 120_000 }, () => {
  let dir: string;
  let prefix: string;
  let db: Db;
  let pipeline: Pipeline;
  let workers: WorkerHandle | null = null;

  afterAll(async () => {
    await workers?.close();
    await pipeline?.close();
    db?.close();
    await cleanPrefix(url, prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  it('is reused by the next attempt (the stage does not run again) and reaches the store', async () => {
    prefix = uniquePrefix('reuse');
    dir = mkdtempSync(path.join(os.tmpdir(), 'patchgate-reuse-'));
    const settings = parseSettings({ store: { path: path.join(dir, 'store.sqlite') }, redis: { url, prefix }, work_dir: path.join(dir, 'work'), queue: { attempts: 2, backoff_ms: 100 } });
    const config = queueConfig(settings);
    db = openDb(settings.store.path);
    storeSeries(db, [fakeSeries('crashed')]);
    pipeline = createPipeline({ config, db });
    await pipeline.ready();
    expect(await pipeline.enqueue('crashed', 1, { until: 'build' })).toBe('added');

    // what an attempt that finished apply and died before bullmq heard of it left behind
    const redis = new Redis(url, { maxRetriesPerRequest: null });
    const rev = revisionKey('crashed', 1);
    const token = (await redis.get(runTokenKey(prefix, rev)))!;
    const left = { status: 'success', summary: 'applied before the crash', data: { tree: { name: 'net-next', reason: 'before the crash' }, apply: [], branch: 'patchgate/crashed/v1' } };
    await redis.hset(outcomesKey(prefix, rev), 'apply', JSON.stringify({ run: token, outcome: left }));
    // and one of an earlier run of the revision, which must not be taken for this run's
    await redis.hset(outcomesKey(prefix, rev), 'build', JSON.stringify({ run: 'earlier', outcome: { status: 'failure', summary: 'stale', data: {} } }));

    const ran: Stage[] = [];
    const registry = createRegistry();
    for (const stage of ['apply', 'build'] as const) {
      registry.set(stage, async (ctx) => {
        ran.push(stage);
        return { status: 'success', summary: `${stage} ran on ${ctx.series.id}`, data: stage === 'apply' ? { tree: null, apply: [], branch: null } : { build: [] } };
      });
    }
    // no store given to these workers
    workers = await startWorkers({ config, stages: ['apply', 'build'], registry, settings });
    await workers.ready();
    await waitFor('run done', () => getRun(db, 'crashed', 1)?.state === 'done');
    expect(ran).toEqual(['build']);
    const byStage = Object.fromEntries(listOutcomes(db, 'crashed', 1).map((o) => [o.stage, o]));
    expect(byStage.apply).toMatchObject({ status: 'success', summary: 'applied before the crash' });
    expect(byStage.build).toMatchObject({ status: 'success', summary: 'build ran on crashed' });
    expect(getRun(db, 'crashed', 1)).toMatchObject({ verdict: 'success', tree: 'net-next', branch: 'patchgate/crashed/v1', last_stage: 'build' });
    redis.disconnect();
  });

  it('a report worker cannot start without the store', async () => {
    const settings = parseSettings({ redis: { url, prefix } });
    await expect(startWorkers({ config: queueConfig(settings), stages: ['report'], registry: createRegistry(), settings })).rejects.toThrow(/runs where the store is/);
    expect(existsSync(path.join(dir, 'var'))).toBe(false);
  });
});
