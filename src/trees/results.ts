// The results repository: a bare repository people fetch `patchgate/<series-id>/v<rev>` from.
// Borrowing the mirrors' objects (alternates) keeps each push down to the series' own commits:
// receive-pack advertises the alternates' refs, so git sends only what they lack.
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { git } from './git.js';

export interface ResultsRepoOptions {
  /** object directories of repositories whose objects the results repo may borrow (the mirrors) */
  borrowFrom?: string[];
}

/** Creates the bare results repository when missing; adds the mirrors as alternates. Returns its path. */
export async function ensureResultsRepo(dir: string, options: ResultsRepoOptions = {}): Promise<string> {
  const exists = await stat(path.join(dir, 'HEAD')).then(() => true, () => false);
  if (!exists) {
    await mkdir(dir, { recursive: true });
    await git(null, ['init', '--quiet', '--bare', dir]);
    await git(dir, ['config', 'gc.auto', '0']);
    // people fetch from it over dumb or smart http as well
    await git(dir, ['config', 'http.receivepack', 'false']);
  }
  if (options.borrowFrom?.length) {
    const file = path.join(dir, 'objects', 'info', 'alternates');
    const current = (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean);
    const wanted = options.borrowFrom.map((repo) => {
      const objects = path.resolve(repo, 'objects');
      return objects;
    });
    const all = [...new Set([...current, ...wanted])];
    if (all.length !== current.length) {
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, `${all.join('\n')}\n`);
    }
  }
  return dir;
}

/** The branches of the results repo under patchgate/, with their commits. */
export async function listResultBranches(dir: string): Promise<Map<string, string>> {
  const r = await git(dir, ['for-each-ref', '--format=%(refname:strip=2) %(objectname)', 'refs/heads/patchgate/']);
  return new Map(r.stdout.split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
}
