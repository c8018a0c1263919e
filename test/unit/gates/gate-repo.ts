// Real git repositories and real patches (git format-patch) for the gate tests. Not a test file.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { logger } from '../../../src/log.js';
import { sandboxSettingsSchema } from '../../../src/build/sandbox.js';
import type { GateContext, GatePatch } from '../../../src/gates/types.js';
import type { Person } from '../../../src/mail/types.js';

export const AUTHOR: Person = { name: 'Ada Author', email: 'ada@example.org' };

export function git(dir: string, args: string[], author: Person = AUTHOR): string {
  return execFileSync('git', ['-C', dir, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: author.name, GIT_AUTHOR_EMAIL: author.email, GIT_COMMITTER_NAME: author.name, GIT_COMMITTER_EMAIL: author.email, GIT_AUTHOR_DATE: '2026-11-20T10:00:00Z', GIT_COMMITTER_DATE: '2026-11-20T10:00:00Z' },
  });
}

export function tempDir(prefix: string): string {
  const d = mkdtempSync(path.join(tmpdir(), prefix));
  chmodSync(d, 0o755);
  return d;
}

export function write(dir: string, file: string, text: string): void {
  mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
  writeFileSync(path.join(dir, file), text);
}

export const TUN_C = '// SPDX-License-Identifier: GPL-2.0-or-later\n#include <linux/module.h>\n\nstatic int tun_net_open(int dev)\n{\n\treturn dev;\n}\n';

/** A repository with one base commit; returns its path. */
export function createRepo(files: Record<string, string> = { 'drivers/net/tun.c': TUN_C }): string {
  const dir = tempDir('pg-gate-');
  for (const [f, t] of Object.entries(files)) write(dir, f, t);
  git(dir, ['init', '-q', '-b', 'master']);
  git(dir, ['add', '-A']);
  git(dir, ['commit', '-q', '-m', 'net: initial import']);
  return dir;
}

/** Commits FILES with MESSAGE (full commit message) as AUTHOR; returns the sha. */
export function commit(dir: string, files: Record<string, string>, message: string, author: Person = AUTHOR): string {
  for (const [f, t] of Object.entries(files)) write(dir, f, t);
  git(dir, ['add', '-A']);
  git(dir, ['commit', '-q', '-m', message], author);
  return git(dir, ['rev-parse', 'HEAD']).trim();
}

/** `git format-patch` of one commit, with To/Cc headers. */
export function formatPatch(dir: string, sha: string, opts: { to?: string[]; cc?: string[] } = {}): string {
  const args = ['format-patch', '-1', '--stdout', ...(opts.to ?? []).map((a) => `--to=${a}`), ...(opts.cc ?? []).map((a) => `--cc=${a}`), sha];
  return git(dir, args);
}

export function gatePatch(number: number, mbox: string | null, commitSha: string | null, author: Person = AUTHOR, files: string[] = ['drivers/net/tun.c']): GatePatch {
  return { msgid: `<${number}@gate.test>`, number, name: `patch ${number}`, author, mbox, commit: commitSha, files, trailers: [] };
}

export function gateContext(dir: string | null, patches: GatePatch[], over: Partial<GateContext['series']> = {}, lists: string[] = ['netdev@vger.kernel.org']): GateContext {
  return {
    seriesId: 'gate-test',
    version: 1,
    series: { name: 'test series', total: patches.length, received_all: true, cover: null, submitter: AUTHOR, tags: [], ...over },
    patches,
    tree: dir ? { name: 'net-next', dir, lists } : null,
    workDir: tempDir('pg-gatework-'),
    sandbox: sandboxSettingsSchema.parse({ allow_unsandboxed: true }),
    log: logger,
  };
}

const KERNEL_FILES = ['scripts/checkpatch.pl', 'scripts/spelling.txt', 'scripts/const_structs.checkpatch', 'scripts/get_maintainer.pl', 'MAINTAINERS'];
const CACHE = '/tmp/patchgate-kernel-scripts-6.1';

/**
 * The kernel's checkpatch.pl, get_maintainer.pl and MAINTAINERS from linux-source-6.1: from an
 * imported tree (PATCHGATE_LINUX_TREE or /tmp/linux-6.1), else extracted once from the Debian tarball.
 * Returns null when neither is on this machine.
 */
export function kernelScripts(): string | null {
  const tree = process.env.PATCHGATE_LINUX_TREE ?? '/tmp/linux-6.1';
  if (KERNEL_FILES.every((f) => existsSync(path.join(tree, f)))) return tree;
  if (KERNEL_FILES.every((f) => existsSync(path.join(CACHE, f)))) return CACHE;
  const tarball = '/usr/src/linux-source-6.1.tar.xz';
  if (!existsSync(tarball)) return null;
  mkdirSync(CACHE, { recursive: true });
  execFileSync('tar', ['xf', tarball, '-C', CACHE, '--strip-components=1', ...KERNEL_FILES.map((f) => `linux-source-6.1/${f}`)]);
  return CACHE;
}

/** Copies the kernel scripts into a repository (before its first commit). */
export function kernelFiles(from: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of KERNEL_FILES) out[f] = readFileSync(path.join(from, f), 'utf8');
  // what checkpatch.pl and get_maintainer.pl look for to accept a directory as a kernel tree
  for (const f of ['COPYING', 'CREDITS', 'Kbuild', 'Makefile', 'README']) out[f] = `${f}\n`;
  for (const d of ['Documentation', 'arch', 'include', 'fs', 'init', 'ipc', 'kernel', 'lib']) out[`${d}/.keep`] = '';
  return out;
}
