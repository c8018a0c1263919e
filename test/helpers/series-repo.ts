// Real series for pipeline tests: commits on a branch of a small git tree, sent with git format-patch.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=Jo Dev', '-c', 'user.email=jo@example.org', '-c', 'init.defaultBranch=main', ...args], { cwd, encoding: 'utf8' });
}

export interface Edit {
  file: string;
  from: string;
  to: string;
  msg: string;
}

/** format-patch output (with a cover letter above one patch) of the commits EDITS makes on a branch NAME from BASE, as one mbox. */
export function makeSeries(repo: string, outDir: string, name: string, prefixArg: string, commits: Edit[], base = 'main'): string {
  git(repo, 'checkout', '-q', '-B', name, base);
  for (const c of commits) {
    const f = path.join(repo, c.file);
    writeFileSync(f, readFileSync(f, 'utf8').replace(c.from, c.to));
    git(repo, 'commit', '-qam', `${c.msg}\n\nSigned-off-by: Jo Dev <jo@example.org>`);
  }
  const out = path.join(outDir, `patches-${name}`);
  git(repo, 'format-patch', '-q', '--thread', `--subject-prefix=${prefixArg}`, ...(commits.length > 1 ? ['--cover-letter'] : []), `-${commits.length}`, '-o', out);
  git(repo, 'checkout', '-q', 'main');
  return readdirSync(out).sort().map((p) => readFileSync(path.join(out, p), 'utf8')
    .replace('*** SUBJECT HERE ***', `${name} series`).replace('*** BLURB HERE ***', 'blurb')).join('\n');
}
