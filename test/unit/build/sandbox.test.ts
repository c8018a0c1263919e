// The sandbox's view of the file system (what a run sees) and its reading of a build log for what it
// stopped. The namespaces themselves are exercised in test/integration/build-sandbox*.test.ts.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gitMetadata, sandboxDenials, sandboxView } from '../../../src/build/sandbox.js';

let dir: string;
let repo: string;
let worktree: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'pg-sandbox-unit-'));
  repo = path.join(dir, 'repo');
  worktree = path.join(dir, 'wt');
  mkdirSync(repo);
  const git = (...args: string[]) => execFileSync('git', args, { env: { ...process.env, GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@example.org', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@example.org' } });
  git('-C', repo, 'init', '-q', '-b', 'main');
  writeFileSync(path.join(repo, 'Makefile'), 'all:\n');
  git('-C', repo, 'add', '-A');
  git('-C', repo, 'commit', '-q', '-m', 'base');
  git('-C', repo, 'worktree', 'add', '-q', '--detach', worktree);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sandboxView', () => {
  it('shows the working directory read-only by default and hides its .git', () => {
    const v = sandboxView({ cwd: repo, writable: [path.join(dir, 'out')] });
    expect(v).toEqual({ readable: [repo], writable: [path.join(dir, 'out')], hidden: [path.join(repo, '.git')] });
  });

  it("hides a worktree's .git file, and with git: true shows its git dir and the common dir instead", () => {
    expect(sandboxView({ cwd: worktree, writable: [] }).hidden).toEqual([path.join(worktree, '.git')]);
    const g = gitMetadata(worktree);
    expect(g.dotGit).toBe(path.join(worktree, '.git'));
    expect(g.dirs).toEqual([path.join(repo, '.git', 'worktrees', 'wt'), path.join(repo, '.git')]);
    const v = sandboxView({ cwd: worktree, writable: [], git: true });
    expect(v.hidden).toEqual([]);
    expect(v.readable).toEqual([worktree, path.join(repo, '.git', 'worktrees', 'wt'), path.join(repo, '.git')]);
  });

  it('takes explicit readable directories instead of the working directory', () => {
    const out = path.join(dir, 'tmp');
    expect(sandboxView({ cwd: out, readable: [repo], writable: [out] }).readable).toEqual([repo]);
  });
});

describe('sandboxDenials', () => {
  const view = { readable: ['/src/linux'], writable: ['/work/out', '/work/ccache'], hidden: [] };

  it('names network, read-only writes, discarded /tmp writes and hidden paths, once each', () => {
    const log = [
      '  CC      kernel/fork.o',
      'bash: connect: Network is unreachable',
      'bash: line 1: /dev/tcp/192.0.2.1/80: Network is unreachable',
      "touch: cannot touch '/src/linux/init/x': Read-only file system",
      'cat: /etc/patchgate/config.yaml: No such file or directory',
      'cat: /etc/patchgate/config.yaml: No such file or directory',
      'cat: /proc/1/environ: Permission denied',
      'patchgate-sandbox: discarded a write outside the build directories: /tmp/evil',
    ].join('\n');
    expect(sandboxDenials(log, view)).toEqual([
      'sandbox: network access blocked: bash: connect: Network is unreachable',
      'sandbox: network access blocked: bash: line 1: /dev/tcp/192.0.2.1/80: Network is unreachable',
      "sandbox: write outside the build directories blocked: touch: cannot touch '/src/linux/init/x': Read-only file system",
      'sandbox: access to a path hidden by the sandbox blocked: cat: /etc/patchgate/config.yaml: No such file or directory',
      'sandbox: access to a path hidden by the sandbox blocked: cat: /proc/1/environ: Permission denied',
      'sandbox: write outside the build directories discarded: /tmp/evil',
    ]);
  });

  it('leaves missing files inside the tree, the out dir and the toolchain to the compiler errors', () => {
    const log = [
      '/src/linux/drivers/net/tun.c:12:10: fatal error: linux/nope.h: No such file or directory',
      "make[2]: *** No rule to make target '/work/out/include/generated/x.h', needed by 'a.o'.",
      'sh: 1: /usr/bin/nonexistent-tool: not found',
      'cat: /usr/share/misc/none: No such file or directory',
      'cat: /work/out/.config.old: No such file or directory',
    ].join('\n');
    expect(sandboxDenials(log, view)).toEqual([]);
  });

  it('names the process limit from bash and stops after 10 lines', () => {
    expect(sandboxDenials('bash: fork: retry: Resource temporarily unavailable\n', view)).toEqual(['sandbox: process limit reached: bash: fork: retry: Resource temporarily unavailable']);
    const many = Array.from({ length: 30 }, (_, i) => `cat: /secret/${i}: No such file or directory`).join('\n');
    expect(sandboxDenials(many, view)).toHaveLength(10);
  });
});
