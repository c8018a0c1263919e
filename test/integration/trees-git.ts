// Real git repositories in temp dirs for the trees tests (no chdir: every call names its directory).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

const ENV = {
  ...process.env,
  LC_ALL: 'C',
  GIT_AUTHOR_NAME: 'Ada Author',
  GIT_AUTHOR_EMAIL: 'ada@example.org',
  GIT_COMMITTER_NAME: 'Ada Author',
  GIT_COMMITTER_EMAIL: 'ada@example.org',
  GIT_CONFIG_NOSYSTEM: '1',
  HOME: tmpdir(),
};

let clock = 1_700_000_000;

/** git -C dir ...; returns trimmed stdout. Dates advance one minute per call so commits are distinct and stable. */
export function sh(dir: string, args: string[], input?: string): string {
  clock += 60;
  const date = `${clock} +0000`;
  return execFileSync('git', ['-C', dir, ...args], {
    env: { ...ENV, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date },
    input,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
    maxBuffer: 256 * 1024 * 1024,
  }).trim();
}

export function tempDir(prefix = 'patchgate-trees-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function initRepo(dir: string, branch = 'main'): string {
  mkdirSync(dir, { recursive: true });
  execFileSync('git', ['init', '-q', '-b', branch, dir], { env: ENV });
  return dir;
}

export function write(dir: string, file: string, content: string): void {
  mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
  writeFileSync(path.join(dir, file), content);
}

export function read(dir: string, file: string): string {
  return readFileSync(path.join(dir, file), 'utf8');
}

/** Writes the files and commits them; returns the new commit. */
export function commit(dir: string, message: string, files: Record<string, string>): string {
  for (const [file, content] of Object.entries(files)) write(dir, file, content);
  sh(dir, ['add', '-A', '--', ...Object.keys(files)]);
  sh(dir, ['commit', '-q', '-m', message]);
  return sh(dir, ['rev-parse', 'HEAD']);
}

/** `git format-patch --stdout -1 rev`: one git-am-ready mbox. */
export function formatPatch(dir: string, rev: string): string {
  return `${sh(dir, ['format-patch', '--stdout', '-1', rev])}\n`;
}

/** A C-ish source of numbered lines, easy to change one line of. */
export function numbered(prefix: string, count: number, changes: Record<number, string> = {}): string {
  const lines: string[] = [];
  for (let i = 1; i <= count; i++) lines.push(changes[i] ?? `\t${prefix}_line_${i}();`);
  return `${lines.join('\n')}\n`;
}
