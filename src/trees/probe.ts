// TreeProbe backed by the trees' mirrors: commit containment with merge-base --is-ancestor, the
// tree's own MAINTAINERS from its branch, file existence, patch-ids of recent history.
import type { TreeConfig } from './config.js';
import { git } from './git.js';
import { parseMaintainers, type MaintainersSection } from './maintainers.js';
import type { TreeProbe } from './select.js';

export interface GitProbeOptions {
  /** the mirror (or any repository holding the branch) of a tree */
  repoFor: (tree: TreeConfig) => string;
  /** commits of the branch searched for prerequisite patch-ids (default 1000) */
  historyDepth?: number;
}

async function tip(repo: string, branch: string): Promise<string | null> {
  const r = await git(repo, ['rev-parse', '--verify', '-q', `refs/heads/${branch}^{commit}`], { ok: [0, 1, 128] });
  return r.code === 0 ? r.stdout.trim() : null;
}

export function gitProbe(options: GitProbeOptions): TreeProbe {
  const maintainersCache = new Map<string, MaintainersSection[] | null>();
  const patchIdCache = new Map<string, Set<string>>();
  const depth = options.historyDepth ?? 1000;

  return {
    async contains(tree, commit) {
      const repo = options.repoFor(tree);
      if (!/^[0-9a-f]{7,40}$/i.test(commit)) return false;
      const resolved = await git(repo, ['rev-parse', '--verify', '-q', `${commit}^{commit}`], { ok: [0, 1, 128] });
      if (resolved.code !== 0) return false;
      const r = await git(repo, ['merge-base', '--is-ancestor', resolved.stdout.trim(), `refs/heads/${tree.branch}`], { ok: [0, 1, 128] });
      return r.code === 0;
    },

    async maintainers(tree) {
      const file = tree.maintainers.file;
      if (!file) return null;
      const repo = options.repoFor(tree);
      const head = await tip(repo, tree.branch);
      if (!head) return null;
      const key = `${repo}\0${head}\0${file}`;
      if (!maintainersCache.has(key)) {
        const text = await git(repo, ['cat-file', 'blob', `${head}:${file}`], { ok: [0, 128] });
        let sections: MaintainersSection[] | null = null;
        if (text.code === 0) {
          const dirs = await git(repo, ['ls-tree', '-r', '-d', '--name-only', '-z', head]);
          const set = new Set(dirs.stdout.split('\0').filter(Boolean));
          sections = parseMaintainers(text.stdout, { isDirectory: (p) => set.has(p) });
        }
        maintainersCache.set(key, sections);
      }
      return maintainersCache.get(key) ?? null;
    },

    async existingFiles(tree, files) {
      const repo = options.repoFor(tree);
      const head = await tip(repo, tree.branch);
      if (!head || !files.length) return null;
      const r = await git(repo, ['ls-tree', '-r', '--name-only', '-z', '--full-tree', head, '--', ...files]);
      return new Set(r.stdout.split('\0').filter(Boolean));
    },

    async patchIdsPresent(tree, ids) {
      const repo = options.repoFor(tree);
      const head = await tip(repo, tree.branch);
      if (!head) return new Set();
      const key = `${repo}\0${head}`;
      let known = patchIdCache.get(key);
      if (!known) {
        const log = await git(repo, ['log', '-n', String(depth), '-p', '--no-merges', '--format=commit %H', head]);
        const ids2 = await git(repo, ['patch-id', '--stable'], { input: log.stdout });
        known = new Set(ids2.stdout.split('\n').map((l) => l.split(' ')[0]).filter(Boolean));
        patchIdCache.set(key, known);
      }
      return new Set(ids.filter((id) => known.has(id)));
    },
  };
}
