// `npm run bench -- build`: on the imported linux-source-6.1 tree, through the kernel builder (sandbox,
// ccache, the out dir at a fixed path), the clean build of the guest config (empty out dir, a cold
// bench-private ccache) versus the incremental per-patch build of a one-file series (a change to
// drivers/net/tun.c) with the out dir and ccache that clean build left warm. One run, both measured in
// it; prints both times, the ratio and the load average around each phase.
//
// Options: --config NAME (a config of the default settings, default kvm-guest), --keep (leave the
// scratch directory for a look at the logs). PATCHGATE_LINUX_TREE / PATCHGATE_LINUX_TARBALL as in the
// apply bench. Takes 5-30 minutes on 2 shared cores.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// the library logs at info; keep the bench's output to its numbers (imports below read the level)
process.env.PATCHGATE_LOG_LEVEL ??= 'warn';
const { buildKernelConfig, buildPaths } = await import('../../src/build/kernel.js');
const { buildSettingsSchema } = await import('../../src/build/settings.js');
const { probeNamespaces } = await import('../../src/build/sandbox.js');

const repoRoot = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const TARBALL = process.env.PATCHGATE_LINUX_TARBALL ?? '/usr/src/linux-source-6.1.tar.xz';
const TREE = process.env.PATCHGATE_LINUX_TREE ?? path.join(repoRoot, 'var', 'linux-source-6.1');
const IDENT = { GIT_AUTHOR_NAME: 'Bench', GIT_AUTHOR_EMAIL: 'bench@example.org', GIT_COMMITTER_NAME: 'Bench', GIT_COMMITTER_EMAIL: 'bench@example.org' };

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C', ...IDENT }, maxBuffer: 64 * 1024 * 1024 }).trim();
}

function load(): string {
  return os.loadavg().map((l) => l.toFixed(2)).join(' ');
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

async function main(): Promise<void> {
  if (!existsSync(path.join(TREE, '.git')) && !existsSync(TARBALL)) {
    process.stderr.write(`bench build: ${TREE} is not imported and ${TARBALL} is absent (apt-get install linux-source-6.1)\n`);
    process.exit(2);
  }
  const base = execFileSync(path.join(repoRoot, 'scripts', 'import-linux-source.sh'), [TREE, TARBALL], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'patchgate-bench-build-'));
  // the sandbox user (nobody) reads the tree and writes the out dir below it
  chmodSync(scratch, 0o755);
  const wt = path.join(scratch, 'linux');
  const defaults = buildSettingsSchema.parse({});
  const configName = arg('--config') ?? defaults.configs[0].name;
  const cfg = defaults.configs.find((c) => c.name === configName);
  if (!cfg) throw new Error(`no config ${configName} in the default settings (have ${defaults.configs.map((c) => c.name).join(', ')})`);
  // a bench-private work dir: its out dir and ccache start empty (cold)
  const settings = buildSettingsSchema.parse({ work_dir: path.join(scratch, 'build'), artifacts_dir: path.join(scratch, 'artifacts'), nice: 10, configs: [cfg] });
  const paths = buildPaths(settings, 'bench', 'linux-6.1', cfg.name);
  try {
    git(TREE, 'worktree', 'add', '-q', '--detach', wt, base);
    // the one-file series: tun.c returns -ENODEV instead of -EPERM when the carrier goes up without queues
    const tun = path.join(wt, 'drivers/net/tun.c');
    const text = readFileSync(tun, 'utf8');
    const from = '\t\tif (!tun->numqueues)\n\t\t\treturn -EPERM;\n';
    if (text.indexOf(from) < 0 || text.indexOf(from) !== text.lastIndexOf(from)) throw new Error('tun.c: the text to change is not there exactly once');
    writeFileSync(tun, text.replace(from, '\t\tif (!tun->numqueues)\n\t\t\treturn -ENODEV;\n'));
    git(wt, 'commit', '-q', '-a', '-m', 'tun: return -ENODEV when carrier goes up without queues');
    const patch = git(wt, 'rev-parse', 'HEAD');
    git(wt, 'checkout', '-q', '--detach', base);
    const ctx = { version: 1, tree: { name: 'linux-6.1', dir: wt }, base, settings, workerId: 'bench' };

    out(`build bench: linux-source-6.1 at ${base.slice(0, 12)}, config ${cfg.name} (${cfg.base} + ${cfg.fragments.join(', ') || 'no fragments'}), make -j${settings.jobs ?? os.availableParallelism()} under nice ${settings.nice}, ccache ${settings.ccache ? 'on' : 'off'}`);
    out(`  out dir ${paths.out} (empty: ${!existsSync(paths.out)}), ccache ${paths.ccache} (empty: ${!existsSync(paths.ccache)})`);

    const load0 = load();
    const t0 = Date.now();
    const clean = await buildKernelConfig({ ...ctx, seriesId: 'bench-clean', patches: [] }, cfg);
    const cleanMs = Date.now() - t0;
    const load1 = load();
    if (clean.base.status !== 'success') throw new Error(`clean build failed: ${JSON.stringify(clean.base.errors)} (log ${clean.base.log})`);
    const image = path.join(paths.out, 'arch/x86/boot/bzImage');
    if (!existsSync(image)) throw new Error('clean build made no bzImage');

    const t1 = Date.now();
    const incr = await buildKernelConfig({ ...ctx, seriesId: 'bench-incremental', patches: [{ msgid: '<1@bench>', commit: patch }] }, cfg);
    const jobMs = Date.now() - t1;
    const load2 = load();
    const p = incr.patches[0];
    if (incr.base.status !== 'success' || !p || p.status === 'failure' || p.status === 'skipped') throw new Error(`incremental build failed: ${JSON.stringify(incr)}`);
    const recompiled = readFileSync(p.log ?? '', 'utf8').split('\n').filter((l) => /^\s+CC\s/.test(l)).map((l) => l.trim().replace(/^CC\s+/, ''));

    out(`  clean build (configure + make, cold out dir and ccache):     ${secs(cleanMs)}   load before ${load0}, after ${load1}`);
    out(`  incremental per-patch build (tun.c patch, warm):            ${secs(p.duration_ms)}   recompiled: ${recompiled.join(', ') || '(none)'}`);
    out(`  whole incremental job (warm base make check + the patch):   ${secs(jobMs)}   load after ${load2}`);
    out(`  ratio clean / per-patch: ${(cleanMs / p.duration_ms).toFixed(1)}x   clean / whole job: ${(cleanMs / jobMs).toFixed(1)}x`);
    out(`  patch status ${p.status}, new warnings ${p.new_warnings.length}; sandbox: ${probeNamespaces().reason}`);
    // a legitimate kernel build must not trip the sandbox: anything here is a false report (or a missing path)
    const denials = [...(clean.base.sandbox_denials ?? []), ...(incr.base.sandbox_denials ?? []), ...(p.sandbox_denials ?? [])];
    out(`  sandbox denials in the three builds: ${denials.length}${denials.length ? `\n    ${denials.join('\n    ')}` : ''}`);
  } finally {
    try {
      git(TREE, 'worktree', 'remove', '--force', wt);
    } catch {
      /* never added */
    }
    if (process.argv.includes('--keep')) out(`  kept ${scratch}`);
    else rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench build: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
