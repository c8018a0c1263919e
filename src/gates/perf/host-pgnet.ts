// pgnet on the host: the same C source as the guests' tool, built for the host, for the guest-to-host
// topology (the server side runs on the host, inside the private network namespace) and for tests that
// exercise the traffic tool without booting a guest.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClientResult, ServerResult } from './guest-runner.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The guest sources (pgnet.c, init.sh, run-pair.sh): beside this file in src/, found back from dist/. */
export function guestSourceDir(): string {
  const candidates = [path.join(here, 'guest'), path.resolve(here, '..', '..', '..', '..', 'src', 'gates', 'perf', 'guest')];
  for (const d of candidates) if (existsSync(path.join(d, 'pgnet.c'))) return d;
  throw new Error(`cannot find the guest sources (pgnet.c) in ${candidates.join(' or ')}`);
}

/** Builds (or reuses) OUT_DIR/pgnet-<hash of the source>, statically linked like the guests' copy. */
export function buildHostPgnet(outDir: string): string {
  const src = path.join(guestSourceDir(), 'pgnet.c');
  const key = createHash('sha256').update(readFileSync(src)).digest('hex').slice(0, 12);
  mkdirSync(outDir, { recursive: true });
  const out = path.join(outDir, `pgnet-${key}`);
  if (existsSync(out)) return out;
  const tmp = `${out}.${process.pid}.tmp`;
  execFileSync('gcc', ['-O2', '-static', '-o', tmp, src], { stdio: 'pipe' });
  renameSync(tmp, out);
  return out;
}

/** Parses one `PGNET {...}` client line (null when the text has none). */
export function parseClientLine(text: string): ClientResult | null {
  const m = /^PGNET (\{.*\})\s*$/m.exec(text);
  return m ? (JSON.parse(m[1]) as ClientResult) : null;
}

/** Every `PGNET-SERVER {...}` line with traffic in it (the warm-up and probe connections carry none). */
export function parseServerLines(text: string): (ServerResult & { test: number })[] {
  const out: (ServerResult & { test: number })[] = [];
  for (const m of text.matchAll(/^PGNET-SERVER (\{.*\})\s*$/gm)) {
    const v = JSON.parse(m[1]) as ServerResult & { test: number };
    if (v.transactions > 0 || v.bytes > 0) out.push(v);
  }
  return out;
}

export interface HostServer {
  proc: ChildProcess;
  /** stdout so far */
  output(): string;
  /** resolves once the server printed PGNET-READY */
  ready: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts `pgnet -s -p PORT`, optionally wrapped (e.g. `['nsenter', '--net=/proc/PID/ns/net', '--']` to enter
 * a namespace). The caller stops it.
 */
export function startHostServer(pgnet: string, port: number, wrap: string[] = []): HostServer {
  const [cmd, ...args] = [...wrap, pgnet, '-s', '-p', String(port)];
  // its own process group: pgnet forks a UDP echo child, and stop() ends both
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  let err = '';
  const ready = new Promise<void>((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('PGNET-READY')) resolve();
    });
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    proc.on('error', reject);
    proc.on('close', (code) => reject(new Error(`pgnet server exited (${code}): ${err.trim()}`)));
  });
  ready.catch(() => undefined);
  return {
    proc,
    output: () => out,
    ready,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('close', () => resolve());
        try {
          process.kill(-proc.pid!, 'SIGTERM');
        } catch {
          proc.kill('SIGTERM');
        }
      }),
  };
}
