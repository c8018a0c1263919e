// Helpers for the ingest integration tests: the shared archive, public-inbox epochs built with
// git fast-import from real messages, and a throw-away store and configuration.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { catFileBatch } from '../../src/ingest/public-inbox-git.js';
import { parseSettings } from '../../src/settings/load.js';
import type { Settings } from '../../src/settings/schema.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const archiveBundle = path.resolve(repoRoot, '..', 'shared', 'corpus', 'archive', 'virtualization-2019-2020.bundle');

export function tempDir(name: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `patchgate-${name}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A bare clone of the shared archive (10,000 messages, one per commit). */
export function cloneArchive(into: string): string {
  const dir = path.join(into, 'archive.git');
  if (!existsSync(dir)) execFileSync('git', ['clone', '--quiet', '--bare', archiveBundle, dir]);
  return dir;
}

/** Commits of a git dir, oldest first. */
export function commitsOf(gitDir: string): string[] {
  const out = spawnSync('git', ['--git-dir', gitDir, 'rev-list', '--reverse', 'HEAD'], { encoding: 'utf8' });
  if (out.status !== 0) return [];
  return out.stdout.split('\n').filter(Boolean);
}

/** The raw messages (`m` blobs) of commits FROM..TO (0-based, TO exclusive) of the archive clone. */
export async function archiveMessages(archive: string, from: number, to: number): Promise<Buffer[]> {
  const commits = commitsOf(archive).slice(from, to);
  const blobs = await catFileBatch(archive, commits.map((c) => `${c}:m`));
  return blobs.filter((b): b is Buffer => b !== null);
}

/**
 * Appends one commit per message (blob `m`, as public-inbox writes them) to the epoch at GITDIR,
 * creating the bare repository when it does not exist yet.
 */
export function appendToEpoch(gitDir: string, raws: Buffer[], startTime = 1_600_000_000): void {
  if (!existsSync(path.join(gitDir, 'HEAD'))) {
    mkdirSync(path.dirname(gitDir), { recursive: true });
    execFileSync('git', ['init', '--quiet', '--bare', '-b', 'master', gitDir]);
  }
  const hasHead = spawnSync('git', ['--git-dir', gitDir, 'rev-parse', '--verify', '-q', 'refs/heads/master']).status === 0;
  const parts: Buffer[] = [];
  raws.forEach((raw, i) => {
    parts.push(Buffer.from(`blob\nmark :${2 * i + 1}\ndata ${raw.length}\n`), raw, Buffer.from('\n'));
    const from = i === 0 ? (hasHead ? 'from refs/heads/master^0\n' : '') : `from :${2 * i}\n`;
    parts.push(Buffer.from(
      `commit refs/heads/master\nmark :${2 * i + 2}\ncommitter patchgate test <test@patchgate.test> ${startTime + i} +0000\n` +
      `data 1\nm${from ? '\n' + from : '\n'}M 100644 :${2 * i + 1} m\n\n`,
    ));
  });
  const r = spawnSync('git', ['--git-dir', gitDir, 'fast-import', '--quiet'], { input: Buffer.concat(parts) });
  if (r.status !== 0) throw new Error(`git fast-import: ${r.stderr.toString()}`);
}

/** Adds a deletion commit (blob `d` instead of `m`), as public-inbox-purge does. */
export function appendDeletion(gitDir: string, raw: Buffer): void {
  const stream = Buffer.concat([
    Buffer.from(`blob\nmark :1\ndata ${raw.length}\n`), raw, Buffer.from('\n'),
    Buffer.from('commit refs/heads/master\nmark :2\ncommitter patchgate test <test@patchgate.test> 1700000000 +0000\ndata 1\nd\nfrom refs/heads/master^0\nD m\nM 100644 :1 d\n\n'),
  ]);
  const r = spawnSync('git', ['--git-dir', gitDir, 'fast-import', '--quiet'], { input: stream });
  if (r.status !== 0) throw new Error(`git fast-import: ${r.stderr.toString()}`);
}

/** Messages as one mboxrd file (From_ lines quoted with one more `>`). */
export function toMboxrd(raws: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const raw of raws) {
    const text = raw.toString('latin1').replace(/^(>*From )/gm, '>$1');
    parts.push(Buffer.from(`From mboxrd@z Thu Jan  1 00:00:00 1970\n${text}${text.endsWith('\n') ? '' : '\n'}\n`, 'latin1'));
  }
  return Buffer.concat(parts);
}

export function settingsFor(workDir: string, sources: unknown[], extra: Record<string, unknown> = {}): Settings {
  return parseSettings({ store: { path: path.join(workDir, 'store.sqlite') }, work_dir: path.join(workDir, 'work'), sources, ...extra });
}
