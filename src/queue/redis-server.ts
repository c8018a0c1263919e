// The embedded default: when the configured Redis is on loopback and does not answer, start Debian's
// redis-server there with scripts/redis.sh (AOF on, noeviction). Remote Redis is never started.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { Logger } from '../log.js';

export async function redisAnswers(url: string, timeoutMs = 1500): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: timeoutMs, retryStrategy: () => null, enableOfflineQueue: false });
  r.on('error', () => {});
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<redis url>';
  }
}

function findScript(): string | null {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'scripts', 'redis.sh');
    if (existsSync(candidate) && existsSync(path.join(dir, 'package.json'))) return candidate;
    dir = path.dirname(dir);
  }
  return null;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** Makes sure Redis answers at URL, starting the embedded one (data in DIR) when URL is local. */
export async function ensureRedisServer(url: string, log: Logger, dir = 'var/redis'): Promise<void> {
  if (await redisAnswers(url)) return;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`redis.url is not a URL: ${redactUrl(url)}`);
  }
  const script = findScript();
  if (!LOOPBACK.has(u.hostname) || u.password || !script) {
    throw new Error(`Redis at ${redactUrl(url)} does not answer`);
  }
  const port = u.port || '6379';
  log.info({ port, dir }, 'Redis does not answer: starting the embedded redis-server (scripts/redis.sh)');
  const r = spawnSync('sh', [script, 'start', port, dir], { encoding: 'utf8' });
  if (r.status !== 0 || !(await redisAnswers(url))) {
    throw new Error(`Redis at ${redactUrl(url)} does not answer and scripts/redis.sh could not start it: ${(r.stderr || r.stdout || '').trim().split('\n').pop()}`);
  }
}
