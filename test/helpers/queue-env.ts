// A private pipeline environment for one queue test: real Redis under a unique prefix, a SQLite store and
// a config file in a temp dir, synthetic series in the store, worker child processes running the real
// entries under tsx (node --import tsx workers/<stage>.worker.ts, or src/cli.ts worker --queues ...).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import type { Stage } from '../../src/queue/names.js';
import type { Series } from '../../src/series/types.js';
import { openDb, type Db } from '../../src/store/db.js';
import { saveSeriesDocument } from '../../src/store/series.js';
import { cleanPrefix, ensureRedis, uniquePrefix } from './redis.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface QueueEnv {
  dir: string;
  url: string;
  prefix: string;
  counters: string;
  configFile: string;
  storePath: string;
  db: Db;
  settings: Record<string, unknown>;
  children: ChildProcess[];
  spawnStageWorker(stage: Stage, env?: Record<string, string>): ChildProcess;
  spawnCliWorker(queues: string, env?: Record<string, string>): ChildProcess;
  /** Throws (with the tail of its stderr) if a worker process exited that nobody stopped. */
  checkChildren(): void;
  cleanup(): Promise<void>;
}

export async function createQueueEnv(name: string, queue: Record<string, unknown> = {}): Promise<QueueEnv> {
  const url = await ensureRedis();
  const prefix = uniquePrefix(name);
  const counters = `${prefix}:counters`;
  const dir = mkdtempSync(path.join(os.tmpdir(), `patchgate-${name}-`));
  const storePath = path.join(dir, 'store.sqlite');
  const settings = {
    store: { path: storePath },
    redis: { url, prefix },
    work_dir: path.join(dir, 'work'),
    queue: { attempts: 3, backoff_ms: 200, lock_duration_ms: 2000, stalled_interval_ms: 1000, ...queue },
  };
  const configFile = path.join(dir, 'patchgate.yaml');
  writeFileSync(configFile, YAML.stringify(settings));
  const db = openDb(storePath);
  const children: ChildProcess[] = [];

  function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      ...process.env,
      REDIS_URL: url,
      PATCHGATE_STAGE_MODULES: path.join(repoRoot, 'test', 'helpers', 'test-stages.ts'),
      PATCHGATE_TEST_COUNTERS: counters,
      PATCHGATE_LOG_LEVEL: process.env.PATCHGATE_TEST_WORKER_LOG ?? 'silent',
      ...extra,
    };
  }
  const stderrTail = new Map<ChildProcess, string>();
  const expectedExit = new Set<ChildProcess>();
  function track(c: ChildProcess): ChildProcess {
    children.push(c);
    stderrTail.set(c, '');
    c.stderr?.on('data', (d: Buffer) => {
      stderrTail.set(c, (stderrTail.get(c)! + d.toString()).slice(-4000));
      if (process.env.PATCHGATE_TEST_WORKER_LOG) process.stderr.write(d);
    });
    const kill = c.kill.bind(c);
    c.kill = (sig?: NodeJS.Signals | number) => { expectedExit.add(c); return kill(sig); };
    return c;
  }

  return {
    dir, url, prefix, counters, configFile, storePath, db, settings, children,
    spawnStageWorker(stage, env) {
      return track(spawn(process.execPath, ['--import', 'tsx', path.join('workers', `${stage}.worker.ts`), '--config', configFile],
        { cwd: repoRoot, env: childEnv(env), stdio: ['ignore', 'ignore', 'pipe'] }));
    },
    spawnCliWorker(queues, env) {
      const script = `const { main } = await import(${JSON.stringify(path.join(repoRoot, 'src', 'cli.ts'))}); process.exitCode = await main(process.argv.slice(1));`;
      return track(spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, 'worker', '--config', configFile, '--queues', queues],
        { cwd: repoRoot, env: childEnv(env), stdio: ['ignore', 'ignore', 'pipe'] }));
    },
    checkChildren() {
      for (const c of children) {
        if (expectedExit.has(c) || (c.exitCode === null && c.signalCode === null)) continue;
        throw new Error(`worker process ${c.pid} exited (${c.exitCode ?? c.signalCode}):\n${stderrTail.get(c)}`);
      }
    },
    async cleanup() {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      db.close();
      await cleanPrefix(url, prefix);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A synthetic series revision (the queue tests do not look inside it). */
export function fakeSeries(id: string, version = 1, previous: string | null = null): Series {
  return {
    id, name: `test series ${id}`, version, total: 1, received_all: true, rfc: false, tags: [],
    submitter: { name: 'A U Thor', email: 'author@example.org' }, cover: null, base_commit: null,
    depends_on: [], previous,
    patches: [{ msgid: `<${id}.1@example.org>`, number: 1, name: `patch of ${id}`, subject: `[PATCH] patch of ${id}`,
      author: { name: 'A U Thor', email: 'author@example.org' }, pull_url: null, files: ['drivers/net/tun.c'], trailers: [] }],
  };
}

export function storeSeries(db: Db, series: Series[]): void {
  saveSeriesDocument(db, { messages: [], series, comments: [] }, new Map());
}

export async function waitFor<T>(what: string, probe: () => T | Promise<T>, timeoutMs = 60_000, everyMs = 100): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v as NonNullable<T>;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function exited(c: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve({ code: c.exitCode, signal: c.signalCode });
  return new Promise((resolve) => c.once('exit', (code, signal) => resolve({ code, signal })));
}
