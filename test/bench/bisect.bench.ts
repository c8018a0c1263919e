// `npm run bench -- bisect [--reuse-images] [--at N]`: wall time of a bisection over 16 commits on this machine.
// The tree: the imported linux-source-6.1 (var/linux-source-6.1) plus 16 commits made here on the branch `bench`
// of var/heads/slow/upstream (fixed dates: the same SHAs every time), commit N (default 11 of 16) adding 780
// barrier() iterations per transmitted packet in virtio_net (about +10% TCP_RR cost). Shares the warm out dir
// of test/slow/heads-bisect.test.ts (do not run both at once). Needs root (sandbox, guest netns).
// Baseline, measured in the same run: one HEAD measurement (build of one commit + 5 boots); the bisection's
// wall time is printed as a ratio of it, with its steps, retries, builds and the build/boot split.
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bisectBetween } from '../../src/heads/run.js';
import { buildCommitImage, bootSamples } from '../../src/heads/measure.js';
import { buildSettingsFrom } from '../../src/build/settings.js';
import { buildInitramfs } from '../../src/gates/perf/initramfs.js';
import { settingsSchema } from '../../src/settings/schema.js';
import { openDb } from '../../src/store/db.js';
import { repoRoot } from '../helpers/archive.js';

const args = process.argv.slice(2);
const at = args.includes('--at') ? Number(args[args.indexOf('--at') + 1]) : 11;
const ROOT = path.join(repoRoot, 'var', 'heads', 'slow');
const UPSTREAM = path.join(ROOT, 'upstream');
const SOURCE = path.join(repoRoot, 'var', 'linux-source-6.1');
const BASE = 'a1ef26c2d4ea';

let tick = 0;
function git(dir: string, a: string[], author = 'Bench <bench@example.org>'): string {
  const [, name, email] = /^(.*) <(.*)>$/.exec(author)!;
  const date = `2026-10-${String(1 + tick).padStart(2, '0')}T12:00:00Z`;
  return execFileSync('git', ['-C', dir, ...a], { encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: name, GIT_AUTHOR_EMAIL: email, GIT_COMMITTER_NAME: 'Net Maintainer', GIT_COMMITTER_EMAIL: 'maint@example.org', GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date } });
}

if (!existsSync(path.join(UPSTREAM, '.git'))) {
  execFileSync('git', ['clone', '-q', '--shared', SOURCE, UPSTREAM]);
  execFileSync('git', ['-C', UPSTREAM, 'config', 'gc.auto', '0']);
}
git(UPSTREAM, ['checkout', '-q', '-B', 'bench', BASE]);
git(UPSTREAM, ['reset', '-q', '--hard', BASE]);
const files = ['drivers/net/tun.c', 'drivers/net/virtio_net.c', 'Documentation/networking/tuntap.rst', 'drivers/net/tun.c'];
const shas: string[] = [];
for (let i = 1; i <= 16; i++) {
  tick++;
  let subject: string;
  if (i === at) {
    const f = path.join(UPSTREAM, 'drivers/net/virtio_net.c');
    const anchor = 'static netdev_tx_t start_xmit(struct sk_buff *skb, struct net_device *dev)\n{\n';
    const helper = 'static noinline void bench_extra_cost(void)\n{\n\tunsigned int i;\n\n\tfor (i = 0; i < 780; i++)\n\t\tbarrier();\n}\n\n';
    writeFileSync(f, readFileSync(f, 'utf8').replace(anchor, `${helper}${anchor}\tbench_extra_cost();\n`));
    subject = 'virtio_net: account every transmitted packet';
  } else {
    const f = files[i % files.length];
    appendFileSync(path.join(UPSTREAM, f), f.endsWith('.rst') ? `\n.. bench note ${i}\n` : `\n/* bench note ${i} */\n`);
    subject = `${f.split('/').pop()}: bench note ${i}`;
  }
  git(UPSTREAM, ['commit', '-q', '-a', '-m', subject], i === at ? 'Perf Culprit <culprit@example.org>' : undefined);
  shas.push(git(UPSTREAM, ['rev-parse', 'HEAD']).trim());
}

const settings = settingsSchema.parse({
  store: { path: ':memory:' },
  trees: [{ name: 'linux-6.1', url: UPSTREAM, branch: 'bench', lists: ['netdev@vger.kernel.org'] }],
  build: { nice: 5, configs: [{ name: 'kvm-guest', base: 'tinyconfig', fragments: ['kvm-guest', 'perf-guest'], per_patch: false, targets: ['bzImage'] }] },
  gates: { perf: { accel: 'tcg', cells: [{ id: 'tcp_rr', test: 'TCP_RR', transactions: 4000, rule: { direction: 'lower-is-better', threshold: 0.003, require: 'not-regress' } }] } },
  heads: { work_dir: ROOT, boots: 5, step_boots: 4, max_retries: 2, config: 'kvm-guest', cells: ['tcp_rr'] },
});
if (!args.includes('--reuse-images')) rmSync(path.join(ROOT, 'perf', 'linux-6.1', 'images'), { recursive: true, force: true });
const db = openDb(':memory:');
const good = git(UPSTREAM, ['rev-parse', BASE]).trim();

// baseline: one measurement of one commit (the good end's parent state: the first commit), build + 5 boots
const build = buildSettingsFrom(settings as Record<string, unknown>);
const mo = {
  repo: path.join(ROOT, 'trees', 'linux-6.1'), tree: 'linux-6.1', build: { ...build, work_dir: path.join(ROOT, 'build'), artifacts_dir: path.join(ROOT, 'artifacts') },
  config: build.configs[0], initrd: buildInitramfs(path.join(ROOT, 'initramfs')).path, accel: 'tcg' as const,
  cells: [{ id: 'tcp_rr', test: 'TCP_RR' as const, transactions: 4000 }], workDir: path.join(ROOT, 'perf', 'bench-baseline'), reuseImages: false,
};
// the checkout must hold the bench branch: bisectBetween fetches it; fetch once here for the baseline
execFileSync('git', ['-C', mo.repo, 'fetch', '-q', 'origin', '+refs/heads/bench:refs/remotes/origin/bench']);
let t = Date.now();
const img = await buildCommitImage(mo, shas[0]);
await bootSamples(mo, shas[0], img.image!, 5);
const baselineMs = Date.now() - t;
rmSync(mo.workDir, { recursive: true, force: true });

t = Date.now();
const b = await bisectBetween({ db, settings }, 'linux-6.1', { good, bad: shas[15], metric: 'tcp_rr_cost_per_trans' }, {
  onStep: (s) => process.stdout.write(`  step ${s.n}: ${s.commit.slice(0, 12)} ${s.class} ${(s.comparison.change * 100).toFixed(2)}% retries ${s.retries} ${(s.ms / 1000).toFixed(1)} s\n`),
});
const wall = Date.now() - t;
const r = b.result;
const ok = r.culprit?.commit === shas[at - 1];
process.stdout.write([
  `bisect over 16 commits (culprit ${at} of 16): ${ok ? 'found the culprit' : `WRONG: ${r.culprit?.commit ?? 'none'}`}`,
  `  ${r.summary}`,
  `  wall ${(wall / 1000).toFixed(1)} s (both ends 5 boots each, steps ${r.steps.length}, retries ${r.retries}, bound ${r.bound})`,
  `  builds ${b.timings.builds}: ${(b.timings.buildMs / 1000).toFixed(1)} s; boots: ${(b.timings.bootMs / 1000).toFixed(1)} s`,
  `  baseline: one commit built + 5 boots ${(baselineMs / 1000).toFixed(1)} s; bisection / baseline = ${(wall / baselineMs).toFixed(2)}`,
  '',
].join('\n'));
process.exitCode = ok ? 0 : 1;
