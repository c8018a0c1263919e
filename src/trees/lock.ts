// A lock file beside a mirror or checkout: created with O_EXCL, holding `pid@host`. A lock whose
// holder was a process on this host that no longer exists is taken over.
import { open, readFile, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { LockTimeoutError } from './errors.js';

export interface Lock {
  file: string;
  release(): Promise<void>;
}

export interface LockOptions {
  /** how long to wait for another holder, ms (default 10 minutes) */
  waitMs?: number;
  pollMs?: number;
  signal?: AbortSignal;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function takeOverIfStale(file: string): Promise<string> {
  const holder = (await readFile(file, 'utf8').catch(() => '')).trim();
  const m = /^(\d+)@(.+)$/.exec(holder);
  if (m && m[2] === hostname() && !alive(Number(m[1]))) {
    await rm(file, { force: true });
  }
  return holder;
}

export async function acquireLock(file: string, options: LockOptions = {}): Promise<Lock> {
  const deadline = Date.now() + (options.waitMs ?? 10 * 60_000);
  const me = `${process.pid}@${hostname()}`;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(`${me}\n`);
      await handle.close();
      let released = false;
      return {
        file,
        async release() {
          if (released) return;
          released = true;
          const holder = (await readFile(file, 'utf8').catch(() => '')).trim();
          if (holder === me) await rm(file, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = await takeOverIfStale(file);
    if (Date.now() > deadline) throw new LockTimeoutError(file, holder);
    await sleep(options.pollMs ?? 200, undefined, { signal: options.signal });
  }
}

export async function withLock<T>(file: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const lock = await acquireLock(file, options);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
