// Slow: Debian's linux-source-6.1, tinyconfig + config/kconfig/kvm-guest.config, through the kernel
// builder (sandbox, ccache, warm out dir at a fixed path). Run: `PATCHGATE_SLOW=1 nice -n 10 npx vitest
// run test/slow/build-kernel.test.ts`. PATCHGATE_SLOW_CLEAN=1 wipes the out dir and ccache first
// (a clean build, ~5 min on 2 cores); PATCHGATE_LINUX_TREE names an imported tree (default /tmp/linux-6.1,
// imported from /usr/src/linux-source-6.1.tar.xz when missing).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runBuild, type BuildResult } from '../../src/build/index.js';
import { buildPaths } from '../../src/build/kernel.js';
import { buildSettingsSchema } from '../../src/build/settings.js';

const TREE = process.env.PATCHGATE_LINUX_TREE ?? '/tmp/linux-6.1';
const ROOT = '/tmp/patchgate-slow';
const WT = path.join(ROOT, 'linux');
const TARBALL = '/usr/src/linux-source-6.1.tar.xz';
const ENV = { ...process.env, GIT_AUTHOR_NAME: 'Slow Test', GIT_AUTHOR_EMAIL: 'slow@example.org', GIT_COMMITTER_NAME: 'Slow Test', GIT_COMMITTER_EMAIL: 'slow@example.org' };

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', env: ENV, maxBuffer: 64 * 1024 * 1024 });
}

/** machine-facts.md: untar, drop Debian's top-level ignore block, add, commit, pack at once, gc.auto=0. */
function importTree(): void {
  const tmp = `${TREE}.import`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  execFileSync('tar', ['xf', TARBALL, '-C', tmp, '--strip-components=1']);
  const ignore = path.join(tmp, '.gitignore');
  writeFileSync(ignore, readFileSync(ignore, 'utf8').split('\n').filter((l) => l !== '/*' && l !== '!/debian/').join('\n'));
  git(tmp, 'init', '-q', '-b', 'master');
  git(tmp, 'add', '-A', '-f', '.');
  git(tmp, 'commit', '-q', '-m', 'Linux 6.1 (Debian linux-source-6.1)');
  git(tmp, 'config', 'gc.auto', '0');
  git(tmp, 'repack', '-adq');
  execFileSync('mv', [tmp, TREE]);
}

function edit(file: string, from: string, to: string): void {
  const p = path.join(WT, file);
  const text = readFileSync(p, 'utf8');
  if (!text.includes(from)) throw new Error(`${file}: text to replace not found`);
  writeFileSync(p, text.replace(from, to));
}

function commit(subject: string): string {
  git(WT, 'commit', '-q', '-a', '-m', subject);
  return git(WT, 'rev-parse', 'HEAD').trim();
}

const enabled = !!process.env.PATCHGATE_SLOW && (existsSync(TREE) || existsSync(TARBALL));

describe.skipIf(!enabled)('kernel builds on linux-source-6.1 (slow)', () => {
  let base: string;
  const patches: { msgid: string; commit: string }[] = [];
  let result: BuildResult;
  const settings = buildSettingsSchema.parse({
    work_dir: path.join(ROOT, 'build'),
    artifacts_dir: path.join(ROOT, 'artifacts'),
    nice: 10,
    configs: [{ name: 'kvm-guest', base: 'tinyconfig', fragments: ['kvm-guest'] }],
  });

  beforeAll(() => {
    if (!existsSync(path.join(TREE, '.git'))) importTree();
    mkdirSync(ROOT, { recursive: true });
    if (!existsSync(path.join(WT, '.git'))) {
      git(TREE, 'worktree', 'prune');
      git(TREE, 'worktree', 'add', '-q', '--detach', WT, 'HEAD');
    }
    base = git(TREE, 'rev-parse', 'HEAD').trim();
    git(WT, 'checkout', '-q', '--detach', base);
    git(WT, 'reset', '-q', '--hard', base);
    git(WT, 'clean', '-fdxq');
    git(WT, 'checkout', '-q', '-B', 'slow-series');
    if (process.env.PATCHGATE_SLOW_CLEAN) {
      const p = buildPaths(settings, 'slow', 'linux-6.1', 'kvm-guest');
      rmSync(p.root, { recursive: true, force: true });
      rmSync(p.ccache, { recursive: true, force: true });
    }
    // 1: an unused variable in tun.c; 2: unrelated (virtio_net.c comment); 3: removes the variable;
    // 4: breaks the build in tun.c
    edit('drivers/net/tun.c', 'static int tun_net_open(struct net_device *dev)\n{\n', 'static int tun_net_open(struct net_device *dev)\n{\n\tint pg_unused;\n');
    patches.push({ msgid: '<1@slow>', commit: commit('tun: add an unused variable') });
    edit('drivers/net/virtio_net.c', '/* FIXME: MTU in config. */', '/* FIXME: MTU in config (patchgate slow test). */');
    patches.push({ msgid: '<2@slow>', commit: commit('virtio_net: reword a comment') });
    edit('drivers/net/tun.c', '{\n\tint pg_unused;\n', '{\n');
    patches.push({ msgid: '<3@slow>', commit: commit('tun: remove the unused variable') });
    edit('drivers/net/tun.c', '\tnetif_tx_stop_all_queues(dev);\n\treturn 0;\n', '\tnetif_tx_stop_all_queues(dev);\n\treturn 0 +;\n');
    patches.push({ msgid: '<4@slow>', commit: commit('tun: break the build') });
  }, 600_000);

  it('builds the guest config, then each patch: exactly the new warning, nothing for the unrelated patch, the fix, the break', async () => {
    const t0 = Date.now();
    result = await runBuild({ seriesId: 'slow-kernel', version: 1, tree: { name: 'linux-6.1', dir: WT }, base, patches, settings, workerId: 'slow' });
    const cfg = result.configs[0];
    const timings = { base_ms: cfg.base.duration_ms, patches_ms: cfg.patches.map((p) => p.duration_ms), total_ms: Date.now() - t0 };
    process.stderr.write(`build timings: ${JSON.stringify(timings)}\n`);
    expect(cfg.config_mismatches).toEqual([]);
    expect(cfg.base.status).toBe('success');
    expect(existsSync(path.join(buildPaths(settings, 'slow', 'linux-6.1', 'kvm-guest').out, 'arch/x86/boot/bzImage'))).toBe(true);
    const [p1, p2, p3, p4] = cfg.patches;
    expect(p1.status).toBe('warning');
    expect(p1.new_warnings).toEqual([{ file: 'drivers/net/tun.c', line: 1027, message: "unused variable 'pg_unused' [-Wunused-variable]" }]);
    expect(p2.status).toBe('success');
    expect(p2.new_warnings).toEqual([]);
    expect(p3.status).toBe('success');
    expect(p3.fixed_warnings.map((w) => w.message)).toEqual(["unused variable 'pg_unused' [-Wunused-variable]"]);
    expect(p4.status).toBe('failure');
    expect(p4.errors[0]).toMatchObject({ file: 'drivers/net/tun.c', line: 1036 });
    expect(p4.errors[0].message).toMatch(/expected expression/);
  }, 3_600_000);
});
