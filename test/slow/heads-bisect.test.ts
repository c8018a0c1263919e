// Slow: a real tree (the imported linux-source-6.1 plus twelve commits this test makes, one of which adds a
// per-packet cost of 780 barrier() iterations in virtio_net's start_xmit, about +10% of TCP_RR's per-transaction
// guest cost), a HEAD run before and after the commits, change detection between them, and the bisection,
// which must name exactly that commit, with its measured size, in at most ceil(log2(12)) steps plus retries.
//
// Run: `PATCHGATE_SLOW=1 nice -n 5 npx vitest run test/slow/heads-bisect.test.ts` (root: the build sandbox and
// the guests' network namespace). Fixed paths below var/heads/slow keep the out dir warm between runs; the first
// run builds the kernel from scratch (~5 min on 2 cores), later ones incrementally. PATCHGATE_HEADS_REUSE=1
// keeps the per-commit images of an earlier run (the commits are made with fixed dates: same SHAs).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { bisectChange, runHead, type HeadRunResult, type BisectionOutcome } from '../../src/heads/run.js';
import { getBisection, metricHistory } from '../../src/heads/store.js';
import { settingsSchema } from '../../src/settings/schema.js';
import { openDb, type Db } from '../../src/store/db.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SOURCE = path.join(repoRoot, 'var', 'linux-source-6.1');
const ROOT = path.join(repoRoot, 'var', 'heads', 'slow');
const UPSTREAM = path.join(ROOT, 'upstream');
const BASE = 'a1ef26c2d4ea';
const enabled = !!process.env.PATCHGATE_SLOW && existsSync(path.join(SOURCE, '.git')) && process.getuid?.() === 0 && existsSync('/bin/busybox');

let tick = 0;
function git(dir: string, args: string[], author = 'Heads Test <heads@example.org>'): string {
  const [, name, email] = /^(.*) <(.*)>$/.exec(author)!;
  const date = `2026-11-0${1 + Math.floor(tick / 10)}T0${tick % 10}:00:00Z`;
  return execFileSync('git', ['-C', dir, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: name, GIT_AUTHOR_EMAIL: email, GIT_COMMITTER_NAME: 'Net Maintainer', GIT_COMMITTER_EMAIL: 'maint@example.org', GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date },
  });
}

function commit(subject: string, author?: string): string {
  tick++;
  git(UPSTREAM, ['commit', '-q', '-a', '-m', `${subject}\n\nA commit made by patchgate's HEAD bisection test.\n\nSigned-off-by: ${author ?? 'Heads Test <heads@example.org>'}`], author);
  return git(UPSTREAM, ['rev-parse', 'HEAD']).trim();
}

function appendComment(file: string, text: string): void {
  appendFileSync(path.join(UPSTREAM, file), file.endsWith('.rst') ? `\n.. ${text}\n` : `\n/* ${text} */\n`);
}

/** perf-kernels.sh's sized cost: N barrier() iterations per transmitted packet. */
function addTransmitCost(n: number): void {
  const file = path.join(UPSTREAM, 'drivers/net/virtio_net.c');
  const s = readFileSync(file, 'utf8');
  const anchor = 'static netdev_tx_t start_xmit(struct sk_buff *skb, struct net_device *dev)\n{\n';
  if (!s.includes(anchor)) throw new Error('start_xmit not found in virtio_net.c');
  const helper = `static noinline void heads_extra_cost(void)\n{\n\tunsigned int i;\n\n\tfor (i = 0; i < ${n}; i++)\n\t\tbarrier();\n}\n\n`;
  writeFileSync(file, s.replace(anchor, `${helper}${anchor}\theads_extra_cost();\n`));
}

describe.skipIf(!enabled)('HEAD runs and bisection on linux-source-6.1 (slow)', () => {
  let db: Db;
  const commits: { sha: string; subject: string }[] = [];
  let culprit = '';
  const CULPRIT_SUBJECT = 'virtio_net: account every transmitted packet';
  const settings = settingsSchema.parse({
    store: { path: ':memory:' },
    smtp: { url: 'smtp://127.0.0.1:2525', from: 'patchgate <bot@patchgate.example.org>' },
    trees: [{ name: 'linux-6.1', url: UPSTREAM, branch: 'main', lists: ['netdev@vger.kernel.org'] }],
    build: { nice: 5, configs: [{ name: 'kvm-guest', base: 'tinyconfig', fragments: ['kvm-guest', 'perf-guest'], per_patch: false, targets: ['bzImage'] }] },
    gates: { perf: { accel: 'tcg', cells: [{ id: 'tcp_rr', test: 'TCP_RR', transactions: 4000, rule: { direction: 'lower-is-better', threshold: 0.003, require: 'not-regress' } }] } },
    heads: { work_dir: ROOT, boots: 5, step_boots: 4, max_retries: 2, config: 'kvm-guest', cells: ['tcp_rr'], trees: [{ tree: 'linux-6.1' }] },
  });
  const timings: Record<string, number> = {};
  let before: HeadRunResult;
  let after: HeadRunResult;
  let outcome: BisectionOutcome;

  beforeAll(() => {
    if (!existsSync(path.join(UPSTREAM, '.git'))) {
      execFileSync('git', ['clone', '-q', '--shared', SOURCE, UPSTREAM]);
      execFileSync('git', ['-C', UPSTREAM, 'config', 'gc.auto', '0']);
    }
    git(UPSTREAM, ['checkout', '-q', '-B', 'main', BASE]);
    git(UPSTREAM, ['reset', '-q', '--hard', BASE]);
    if (!process.env.PATCHGATE_HEADS_REUSE) rmSync(path.join(ROOT, 'perf'), { recursive: true, force: true });
    db = openDb(':memory:');
  }, 300_000);

  function makeCommits(): void {
    const harmless: [string, string][] = [
      ['drivers/net/tun.c', 'tun: note the queue limit in a comment'],
      ['Documentation/networking/tuntap.rst', 'Documentation: tuntap: a note on multiqueue'],
      ['drivers/net/virtio_net.c', 'virtio_net: comment the receive path'],
      ['drivers/net/tun.c', 'tun: comment the flow cache'],
      ['Documentation/networking/tuntap.rst', 'Documentation: tuntap: spelling'],
      ['drivers/net/tun.c', 'tun: comment the XDP path'],
    ];
    for (const [file, subject] of harmless) {
      appendComment(file, subject);
      commits.push({ sha: commit(subject), subject });
    }
    addTransmitCost(780);
    culprit = commit(CULPRIT_SUBJECT, 'Perf Culprit <culprit@example.org>');
    commits.push({ sha: culprit, subject: CULPRIT_SUBJECT });
    const more: [string, string][] = [
      ['drivers/net/tun.c', 'tun: comment the ioctl paths'],
      ['drivers/net/virtio_net.c', 'virtio_net: comment the transmit path'],
      ['Documentation/networking/tuntap.rst', 'Documentation: tuntap: one more note'],
      ['drivers/net/tun.c', 'tun: comment the sndbuf handling'],
      ['drivers/net/virtio_net.c', 'virtio_net: comment the control queue'],
    ];
    for (const [file, subject] of more) {
      appendComment(file, subject);
      commits.push({ sha: commit(subject), subject });
    }
  }

  it('a HEAD run before the commits, one after: the change is detected with the gate statistics', async () => {
    let t = Date.now();
    before = await runHead({ db, settings }, 'linux-6.1', { trigger: 'schedule' });
    timings.run_before_ms = Date.now() - t;
    timings.run_before_build_ms = before.buildMs;
    expect(before.status).toBe('success');
    expect(before.commit.startsWith(BASE)).toBe(true);
    expect(before.samples.tcp_rr_cost_per_trans).toHaveLength(5);
    expect(before.previous).toBeNull();

    makeCommits();
    expect(commits).toHaveLength(12);
    t = Date.now();
    after = await runHead({ db, settings }, 'linux-6.1', { trigger: 'schedule' });
    timings.run_after_ms = Date.now() - t;
    timings.run_after_build_ms = after.buildMs;
    expect(after.commit).toBe(commits[11].sha);
    expect(after.previous?.runId).toBe(before.runId);
    expect(after.changes.map((c) => [c.metric, c.verdict])).toEqual([['tcp_rr_cost_per_trans', 'regression']]);
    const c = after.changes[0];
    process.stderr.write(`detected: ${JSON.stringify(c)}\n`);
    // N=780 is about +10% of the per-transaction cost
    expect(c.change).toBeGreaterThan(0.05);
    expect(c.change).toBeLessThan(0.2);
    const history = metricHistory(db, 'linux-6.1');
    expect(history.tcp_rr_cost_per_trans.map((p) => p.commit)).toEqual([before.commit, after.commit]);
  }, 3_600_000);

  it('the bisection names exactly the commit that added the cost, with its size, in a bounded number of steps', async () => {
    expect(after?.changes.length).toBe(1);
    const t = Date.now();
    outcome = await bisectChange({ db, settings }, after.changes[0].id, {
      onStep: (s) => process.stderr.write(`step ${s.n}: ${s.commit.slice(0, 12)} ${s.class} ${(s.comparison.change * 100).toFixed(2)}% [${(s.comparison.low * 100).toFixed(2)}, ${(s.comparison.high * 100).toFixed(2)}] retries ${s.retries} ${s.ms} ms\n`),
    });
    timings.bisect_ms = Date.now() - t;
    timings.bisect_build_ms = outcome.timings.buildMs;
    timings.bisect_boot_ms = outcome.timings.bootMs;
    const r = outcome.result;
    process.stderr.write(`bisection: ${r.summary}\ntimings: ${JSON.stringify(timings)}\n`);
    expect(r.status).toBe('found');
    expect(r.culprit?.commit).toBe(culprit);
    expect(r.culprit?.subject).toBe(CULPRIT_SUBJECT);
    expect(r.size!.change).toBeGreaterThan(0.05);
    expect(r.size!.change).toBeLessThan(0.2);
    expect(r.size!.verdict).toBe('regression');
    expect(r.range).toBe(12);
    expect(r.bound).toBe(Math.ceil(Math.log2(12)));
    expect(r.steps.length).toBeLessThanOrEqual(r.bound + r.retries);
    // every step before the culprit lacks the change, every one from it on has it
    const index = new Map(commits.map((c, i) => [c.sha, i]));
    for (const s of r.steps) expect(s.class).toBe(index.get(s.commit)! >= 6 ? 'has-change' : 'lacks-change');
    const row = getBisection(db, outcome.bisectionId)!;
    expect(row).toMatchObject({ state: 'found', culprit, steps: r.steps.length, range_size: 12 });
    // the report: to the list, Cc the culprit's author and the committer, dry-run (reply.mode is dry-run)
    expect(outcome.outbox?.state).toBe('dry-run');
    const mail = JSON.parse(db.prepare('SELECT payload FROM outbox WHERE id = ?').pluck().get(outcome.outbox!.id) as string) as { to: { email: string }[]; cc: { email: string }[]; subject: string; text: string };
    expect(mail.to.map((p) => p.email)).toEqual(['netdev@vger.kernel.org']);
    expect(mail.cc.map((p) => p.email)).toEqual(['culprit@example.org', 'maint@example.org']);
    expect(mail.subject).toContain(culprit.slice(0, 12));
    expect(mail.text).toContain(`commit ${culprit}`);
  }, 3_600_000);
});
