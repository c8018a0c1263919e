// The real public-inbox archive from shared/corpus, cloned once (bare) for tests and benchmarks.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const corpusDir = path.resolve(repoRoot, '..', 'shared', 'corpus');
export const archiveBundle = path.join(corpusDir, 'archive', 'virtualization-2019-2020.bundle');

/** A bare clone of the archive bundle under var/ (made once, reused). */
export function archiveGitDir(): string {
  const dir = path.join(repoRoot, 'var', 'corpus', 'virt.git');
  if (!existsSync(path.join(dir, 'HEAD'))) {
    mkdirSync(path.dirname(dir), { recursive: true });
    execFileSync('git', ['clone', '-q', '--bare', archiveBundle, dir], { stdio: 'pipe' });
  }
  return dir;
}
