// Real Redis for integration tests: REDIS_URL when it answers, else a private redis-server on a free
// loopback port in a temp dir, killed when the test process exits. Each test takes a unique queue prefix
// (uniquePrefix) and removes its keys afterwards (cleanPrefix).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { redisAnswers } from '../../src/queue/redis-server.js';
import { freePort } from './net.js';

let started: Promise<string> | null = null;
let child: ChildProcess | null = null;
let tmpDir: string | null = null;

const answers = (url: string): Promise<boolean> => redisAnswers(url, 1000);


function stop(): void {
  if (child && child.exitCode === null) child.kill('SIGTERM');
  if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
  child = null;
  tmpDir = null;
}

async function startPrivate(): Promise<string> {
  const port = await freePort();
  tmpDir = mkdtempSync(path.join(os.tmpdir(), 'patchgate-redis-'));
  // a watchdog shell owns redis-server and stops it (and removes its dir) once this process is gone,
  // however it ends: vitest may kill its fork without running exit handlers
  const watchdog = `redis-server "$@" & r=$!
trap 'kill $r 2>/dev/null' TERM INT
while kill -0 ${process.pid} 2>/dev/null && kill -0 $r 2>/dev/null; do sleep 0.5; done
kill $r 2>/dev/null; wait $r; rm -rf '${tmpDir}'`;
  child = spawn('sh', ['-c', watchdog, 'redis-watchdog',
    '--bind', '127.0.0.1', '--port', String(port), '--dir', tmpDir,
    '--appendonly', 'yes', '--maxmemory-policy', 'noeviction', '--save', '', '--daemonize', 'no',
  ], { stdio: 'ignore', detached: true });
  child.unref();
  process.once('exit', stop);
  const url = `redis://127.0.0.1:${port}`;
  const spawnError = new Promise<never>((_, reject) => {
    child!.once('error', (e) => reject(new Error(`cannot start redis-server: ${e.message}`)));
    child!.once('exit', () => reject(new Error('redis-server exited at once (is it installed? apt-get install redis-server)')));
  });
  spawnError.catch(() => {});
  for (let i = 0; i < 100; i++) {
    if (await Promise.race([answers(url), spawnError])) return url;
    await new Promise((r) => setTimeout(r, 50));
  }
  stop();
  throw new Error('private redis-server did not answer');
}

/** A Redis URL that answers PING: REDIS_URL, else a private server started once per test process. */
export function ensureRedis(): Promise<string> {
  started ??= (async () => {
    const env = process.env.REDIS_URL;
    if (env && (await answers(env))) return env;
    return startPrivate();
  })();
  return started;
}

/** A queue prefix no other test uses. */
export function uniquePrefix(name = 'test'): string {
  return `pgtest-${name}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Deletes every key under PREFIX (bullmq keys are `<prefix>:<queue>:...`). */
export async function cleanPrefix(url: string, prefix: string): Promise<number> {
  const r = new Redis(url, { maxRetriesPerRequest: null });
  let n = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) n += await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
  return n;
}
