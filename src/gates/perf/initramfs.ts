// Builds the perf guests' initramfs: Debian's busybox-static, the project's static pgnet, and /init.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The C and shell sources live beside this file in src/; from dist/ they are found back in src/. */
function guestDir(): string {
  const candidates = [path.join(here, 'guest'), path.resolve(here, '..', '..', '..', '..', 'src', 'gates', 'perf', 'guest')];
  for (const d of candidates) if (existsSync(path.join(d, 'pgnet.c'))) return d;
  throw new Error(`cannot find the guest sources (pgnet.c) in ${candidates.join(' or ')}`);
}

export interface InitramfsResult {
  path: string;
  /** hash of the inputs: the same inputs give the same file, rebuilt only when they change */
  key: string;
}

export interface InitramfsOptions {
  /** the /init script (default: guest/init.sh, the perf guests'); it sources /prologue.sh (guest/prologue.sh) */
  init?: string;
  /** names the image: OUT_DIR/initramfs[-NAME]-<key>.cpio.gz */
  name?: string;
}

/**
 * Builds (or reuses) OUT_DIR/initramfs[-NAME]-<key>.cpio.gz: busybox, pgnet, /prologue.sh and the /init script.
 * Needs busybox-static, gcc with static libc, cpio, gzip.
 */
export function buildInitramfs(outDir: string, busybox = '/bin/busybox', opts: InitramfsOptions = {}): InitramfsResult {
  const src = guestDir();
  const pgnetC = readFileSync(path.join(src, 'pgnet.c'));
  const prologue = readFileSync(path.join(src, 'prologue.sh'));
  const init = readFileSync(opts.init ?? path.join(src, 'init.sh'));
  if (!existsSync(busybox)) throw new Error(`${busybox} not found: install Debian's busybox-static`);
  const bb = statSync(busybox);
  const key = createHash('sha256').update(pgnetC).update(prologue).update(init).update(`${busybox}:${bb.size}:${bb.mtimeMs}`).digest('hex').slice(0, 16);
  mkdirSync(outDir, { recursive: true });
  const out = path.join(outDir, `initramfs${opts.name ? `-${opts.name}` : ''}-${key}.cpio.gz`);
  if (existsSync(out)) return { path: out, key };
  const root = mkdtempSync(path.join(os.tmpdir(), 'pg-initramfs-'));
  try {
    for (const d of ['bin', 'dev', 'proc', 'sys', 'tmp', 'etc']) mkdirSync(path.join(root, d));
    copyFileSync(busybox, path.join(root, 'bin', 'busybox'));
    chmodSync(path.join(root, 'bin', 'busybox'), 0o755);
    execFileSync('gcc', ['-O2', '-static', '-o', path.join(root, 'bin', 'pgnet'), path.join(src, 'pgnet.c')], { stdio: 'pipe' });
    writeFileSync(path.join(root, 'prologue.sh'), prologue, { mode: 0o644 });
    writeFileSync(path.join(root, 'init'), init, { mode: 0o755 });
    const tmp = `${out}.tmp`;
    execFileSync('sh', ['-c', `cd "${root}" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -9n > "${tmp}"`], { stdio: 'pipe' });
    execFileSync('mv', [tmp, out]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return { path: out, key };
}
