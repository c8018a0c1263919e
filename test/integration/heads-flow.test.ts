// The whole HEAD flow on a small real Kbuild-style C tree in git: HEAD runs build the tree's HEAD with the
// kernel builder (sandbox, warm out dir), "boot" the image (a guest runner that executes the built program,
// which prints its per-transaction cost; seeded noise of the instruction-counted metric's size), store every
// sample with its commit, detect the change between consecutive runs, bisect it to the commit that made it,
// and queue the report mail threaded to the culprit's posting in the store.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PairOptions, PairResult } from '../../src/gates/perf/guest-runner.js';
import { cellHealth } from '../../src/heads/flaky.js';
import { runHeadJob } from '../../src/heads/jobs.js';
import { bisectBetween, runHead } from '../../src/heads/run.js';
import { metricHistory, headRuns } from '../../src/heads/store.js';
import { settingsSchema } from '../../src/settings/schema.js';
import YAML from 'yaml';
import { runCli } from '../helpers/cli.js';
import { openDb, type Db } from '../../src/store/db.js';

const MAKEFILE = `O ?= .
CC ?= gcc
srctree := $(CURDIR)
objtree := $(abspath $(O))
OBJS := $(objtree)/init/main.o $(objtree)/drivers/net/virtio_net.o

bzImage: $(objtree)/arch/x86/boot/bzImage
$(objtree)/arch/x86/boot/bzImage: $(OBJS)
\t@mkdir -p $(dir $@)
\t@echo "  LD      vmlinux"
\t@$(CC) -o $@ $(OBJS)
$(objtree)/%.o: $(srctree)/%.c
\t@mkdir -p $(dir $@)
\t@echo "  CC      $*.o"
\t@$(CC) -Wall -O2 -c -o $@ $<
tinyconfig:
\t@mkdir -p $(objtree)
\t@echo 'CONFIG_NET=y' > $(objtree)/.config
olddefconfig:
\t@true
.PHONY: bzImage tinyconfig olddefconfig
`;

let tick = 0;
function git(dir: string, args: string[], author = 'Dev <dev@example.org>'): string {
  tick++;
  const [, name, email] = /^(.*) <(.*)>$/.exec(author)!;
  const date = `2026-03-01T00:${String(Math.floor(tick / 60) % 60).padStart(2, '0')}:${String(tick % 60).padStart(2, '0')}Z`;
  return execFileSync('git', ['-C', dir, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: name, GIT_AUTHOR_EMAIL: email, GIT_COMMITTER_NAME: 'Maint', GIT_COMMITTER_EMAIL: 'maint@example.org', GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date },
  }).trim();
}

function virtioNet(extra: number, note = ''): string {
  return `/* virtio_net ${note} */\nint transmit_cost(void) { return ${extra}; }\n`;
}

/** A guest runner that runs the built program: it prints the per-transaction cost of this "kernel". */
function fakePair(seed: number): (o: PairOptions) => Promise<PairResult> {
  let a = seed;
  const rnd = () => {
    a = (a * 1103515245 + 12345) % 2147483648;
    return a / 2147483648;
  };
  return async (o) => {
    const cost = Number(execFileSync(o.kernel, { encoding: 'utf8' }).trim());
    const busy = cost * o.transactions * (1 + (rnd() - 0.5) * 0.004);
    const client = { test: o.test, transactions: o.transactions, bytes: o.transactions, elapsed_ns: 1e9, trans_per_sec: 1500, throughput: 0, busy_ns: busy, busy_ns_per_trans: busy / o.transactions, busy_ns_per_kb: 0 };
    return { clients: [client], servers: [], clock: 'tsc', wallMs: 1, exitCode: 0, clientLog: '', serverLog: '' };
  };
}

describe('HEAD runs, change detection, bisection and report on a real C tree', () => {
  let dir: string;
  let upstream: string;
  let db: Db;
  let settings: ReturnType<typeof settingsSchema.parse>;
  const shas: string[] = [];
  let culprit = '';

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pg-heads-flow-'));
    chmodSync(dir, 0o755); // the build sandbox's user (nobody) must reach the tree
    upstream = path.join(dir, 'upstream');
    mkdirSync(path.join(upstream, 'scripts', 'kconfig'), { recursive: true });
    mkdirSync(path.join(upstream, 'init'), { recursive: true });
    mkdirSync(path.join(upstream, 'drivers', 'net'), { recursive: true });
    writeFileSync(path.join(upstream, 'Makefile'), MAKEFILE);
    writeFileSync(path.join(upstream, 'scripts', 'kconfig', 'merge_config.sh'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    writeFileSync(path.join(upstream, 'init', 'main.c'), '#include <stdio.h>\nint transmit_cost(void);\nint main(void) { printf("%d\\n", 1000 + transmit_cost()); return 0; }\n');
    writeFileSync(path.join(upstream, 'drivers', 'net', 'virtio_net.c'), virtioNet(0));
    git(upstream, ['init', '-q', '-b', 'main']);
    git(upstream, ['add', '-A']);
    git(upstream, ['commit', '-q', '-m', 'base']);
    db = openDb(path.join(dir, 'store.sqlite'));
    settings = settingsSchema.parse({
      store: { path: path.join(dir, 'store.sqlite') },
      smtp: { from: 'patchgate <bot@patchgate.example.org>' },
      trees: [{ name: 'mini', url: upstream, branch: 'main', lists: ['netdev@vger.kernel.org'] }],
      build: { sandbox: { allow_unsandboxed: true }, configs: [{ name: 'kvm-guest', base: 'tinyconfig', fragments: [], per_patch: false, targets: ['bzImage'] }] },
      gates: { perf: { accel: 'tcg', cells: [{ id: 'tcp_rr', test: 'TCP_RR', transactions: 1000, rule: { direction: 'lower-is-better', threshold: 0.003, require: 'not-regress' } }] } },
      heads: { work_dir: path.join(dir, 'heads'), boots: 5, step_boots: 4, cells: ['tcp_rr', 'vhost_rr'], trees: [{ tree: 'mini' }] },
    });
  });

  afterAll(() => {
    db?.close();
    if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true });
  });

  it('detects the change between two HEAD runs and bisects it to the commit that made it', async () => {
    const ctx = { db, settings, runPair: fakePair(5), accel: 'tcg' as const };
    const first = await runHead(ctx, 'mini', { trigger: 'schedule' });
    expect(first.status).toBe("success");
    expect(first.notRun).toEqual([{ cell: 'vhost_rr', reason: 'not a cell of gates.perf.cells' }]);
    expect(first.samples.tcp_rr_cost_per_trans.length).toBe(5);
    expect(first.changes).toEqual([]);

    for (let i = 0; i < 10; i++) {
      if (i === 6) {
        writeFileSync(path.join(upstream, 'drivers', 'net', 'virtio_net.c'), virtioNet(80, `v${i}`));
        git(upstream, ['commit', '-q', '-a', '-m', 'virtio_net: account every packet\n\nLink: https://lore.kernel.org/r/20260301.culprit@example.org'], 'Culprit <culprit@example.org>');
        culprit = git(upstream, ['rev-parse', 'HEAD']);
      } else {
        writeFileSync(path.join(upstream, `note-${i}.txt`), `${i}\n`);
        if (i % 3 === 0) writeFileSync(path.join(upstream, 'init', 'main.c'), `/* ${i} */\n#include <stdio.h>\nint transmit_cost(void);\nint main(void) { printf("%d\\n", 1000 + transmit_cost()); return 0; }\n`);
        git(upstream, ['add', '-A']);
        git(upstream, ['commit', '-q', '-m', `harmless ${i}`]);
      }
      shas.push(git(upstream, ['rev-parse', 'HEAD']));
    }
    // the culprit's posting is in the store: the report is threaded to it
    db.prepare(`INSERT INTO messages (msgid, hash, source, kind, subject, sender, raw, parsed) VALUES (?, 'h', 'test', 'patch', ?, ?, x'00', ?)`)
      .run('20260301.culprit@example.org', '[PATCH net-next] virtio_net: account every packet', 'Culprit <culprit@example.org>', JSON.stringify({ references: [] }));

    const job = await runHeadJob(ctx, { tree: 'mini', trigger: 'schedule' });
    expect(job.run.commit).toBe(shas[9]);
    expect(job.run.changes.map((c) => [c.metric, c.verdict])).toEqual([['tcp_rr_cost_per_trans', 'regression']]);
    expect(job.run.changes[0].change).toBeCloseTo(0.08, 2);
    expect(job.bisections).toHaveLength(1);
    expect(job.bisections[0].culprit).toBe(culprit);
    const b = db.prepare('SELECT * FROM bisections').get() as { state: string; culprit: string; change: number; steps: number; bound: number; range_size: number; retries: number };
    expect(b).toMatchObject({ state: 'found', culprit, range_size: 10, bound: 4 });
    expect(b.change).toBeCloseTo(0.08, 2);
    expect(b.steps).toBeLessThanOrEqual(b.bound + b.retries);

    const mail = db.prepare(`SELECT state, payload FROM outbox WHERE series_id = 'heads:mini'`).get() as { state: string; payload: string };
    expect(mail.state).toBe('dry-run');
    const p = JSON.parse(mail.payload) as { subject: string; inReplyTo: string; to: { email: string }[]; cc: { email: string }[]; text: string };
    expect(p.inReplyTo).toBe('20260301.culprit@example.org');
    expect(p.subject).toBe(`Re: [REGRESSION] mini: tcp_rr_cost_per_trans +${(b.change * 100).toFixed(2)}% at ${culprit.slice(0, 12)} ("virtio_net: account every packet")`);
    expect(p.to.map((x) => x.email)).toEqual(['netdev@vger.kernel.org']);
    expect(p.cc.map((x) => x.email)).toEqual(['culprit@example.org', 'maint@example.org']);

    // history: every sample kept with its commit, a point per run
    const h = metricHistory(db, 'mini');
    expect(h.tcp_rr_cost_per_trans.map((x) => x.commit)).toEqual([first.commit, shas[9]]);
    expect(db.prepare('SELECT count(*) FROM head_samples').pluck().get()).toBe(10);
    expect(headRuns(db, 'mini').map((r) => r.status)).toEqual(['success', 'success']);
    expect(cellHealth(db, 'mini').map((c) => [c.cell, c.state])).toEqual([['tcp_rr', 'passing']]);

    // the CLI reads the same history
    const config = path.join(dir, 'patchgate.yaml');
    writeFileSync(config, YAML.stringify({ store: { path: path.join(dir, 'store.sqlite') }, trees: [{ name: 'mini', url: upstream, branch: 'main' }] }));
    const cli = await runCli(['heads', 'history', '--config', config, '--tree', 'mini', '--json']);
    expect(cli.code).toBe(0);
    const doc = JSON.parse(cli.stdout) as { history: Record<string, { commit: string }[]>; bisections: { culprit: string }[] };
    expect(doc.history.tcp_rr_cost_per_trans.map((x) => x.commit)).toEqual([first.commit, shas[9]]);
    expect(doc.bisections.map((x) => x.culprit)).toEqual([culprit]);
    const text = await runCli(['heads', 'history', '--config', config, '--tree', 'mini']);
    expect(text.stdout).toContain(`bisection 1 tcp_rr_cost_per_trans found ${culprit.slice(0, 12)} virtio_net: account every packet`);
  }, 120_000);

  it('a commit that does not build (a real compile error) is skipped; the culprit is still named, and reported on GitHub where configured', async () => {
    // after the first test: 8 more commits, the 4th does not compile (the first step lands on it), the next fixes it,
    // the 6th adds more per-packet cost
    const from = git(upstream, ['rev-parse', 'HEAD']);
    const more: string[] = [];
    let costly = '';
    let broken = '';
    for (let i = 0; i < 8; i++) {
      if (i === 3) {
        writeFileSync(path.join(upstream, 'init', 'main.c'), '#include <stdio.h>\nint transmit_cost(void);\nint main(void) { printf("%d\\n", 1000 + transmit_cost()) return 0; }\n');
        git(upstream, ['commit', '-q', '-a', '-m', 'init: reorder the start (breaks the build)']);
        broken = git(upstream, ['rev-parse', 'HEAD']);
      } else if (i === 4) {
        writeFileSync(path.join(upstream, 'init', 'main.c'), '#include <stdio.h>\nint transmit_cost(void);\nint main(void) { printf("%d\\n", 1000 + transmit_cost()); return 0; }\n');
        git(upstream, ['commit', '-q', '-a', '-m', 'init: fix the build']);
      } else if (i === 5) {
        writeFileSync(path.join(upstream, 'drivers', 'net', 'virtio_net.c'), virtioNet(160, 'more'));
        git(upstream, ['commit', '-q', '-a', '-m', 'virtio_net: count every byte too'], 'Second <second@example.org>');
        costly = git(upstream, ['rev-parse', 'HEAD']);
      } else {
        writeFileSync(path.join(upstream, `later-${i}.txt`), `${i}\n`);
        git(upstream, ['add', '-A']);
        git(upstream, ['commit', '-q', '-m', `later ${i}`]);
      }
      more.push(git(upstream, ['rev-parse', 'HEAD']));
    }
    const requests: [string, Record<string, unknown>][] = [];
    const gh = {
      async request(route: string, params: Record<string, unknown> = {}) {
        requests.push([route, params]);
        if (route.startsWith('GET ')) return { status: 200, data: [] };
        return { status: 201, data: route.includes('/comments') ? { id: 501 } : { number: 77 } };
      },
    };
    const withGithub = settingsSchema.parse({
      ...JSON.parse(JSON.stringify(settings)),
      reply: { mode: 'send', lists: [] },
      heads: { ...settings.heads, trees: [{ tree: 'mini', github: { repo: 'example/mini' } }] },
    });
    const ctx = { db, settings: withGithub, runPair: fakePair(13), accel: 'tcg' as const, github: async (repo: string) => (expect(repo).toBe('example/mini'), gh) };
    const b = await bisectBetween(ctx, 'mini', { good: from, bad: more[7], metric: 'tcp_rr_cost_per_trans' });
    expect(b.result.status).toBe('found');
    expect(b.result.culprit?.commit).toBe(costly);
    expect(b.result.skipped.map((x) => x.commit)).toEqual([broken]);
    expect(b.result.skipped[0].reason).toMatch(/does not build/);
    expect(b.result.steps.map((x) => x.commit)).not.toContain(broken);
    expect(b.result.steps.length).toBeLessThanOrEqual(b.result.bound + b.result.retries + b.result.skipped.length);
    const row = db.prepare('SELECT state, culprit, data FROM bisections WHERE id = ?').get(b.bisectionId) as { state: string; culprit: string; data: string };
    expect(row.state).toBe('found');
    const data = JSON.parse(row.data) as { skipped: { commit: string }[]; github: { repo: string; issue: number; comment: number; action: string } };
    expect(data.skipped.map((x) => x.commit)).toEqual([broken]);
    expect(data.github).toMatchObject({ repo: 'example/mini', issue: 77, issueAction: 'created', comment: 501, action: 'created' });
    expect(requests.map(([r]) => r)).toEqual([
      'GET /repos/{owner}/{repo}/issues', 'POST /repos/{owner}/{repo}/issues',
      'GET /repos/{owner}/{repo}/issues/{issue_number}/comments', 'POST /repos/{owner}/{repo}/issues/{issue_number}/comments',
    ]);
    expect(requests[3][1]).toMatchObject({ owner: 'example', repo: 'mini', issue_number: 77 });
    expect(String(requests[3][1].body)).toContain(costly.slice(0, 12));
    expect(String(requests[3][1].body)).toContain('Skipped: do not build');
    const mail = JSON.parse((db.prepare('SELECT payload FROM outbox WHERE message_id = ?').pluck().get(b.outbox!.messageId) as string)) as { text: string };
    expect(mail.text).toContain(`Skipped (1, like git bisect skip):\n  ${broken.slice(0, 12)} init: reorder the start (breaks the build)`);
  }, 180_000);

  it('a boot that fails once is retried and counted; one that fails twice fails the cell', async () => {
    let calls = 0;
    const good = fakePair(9);
    const flaky = async (o: PairOptions) => {
      calls++;
      if (calls === 1) throw new Error('guest pair failed (exit 124): timeout');
      return good(o);
    };
    const r = await runHead({ db, settings, runPair: flaky, accel: 'tcg' }, 'mini', { trigger: 'cli' });
    expect(r.status).toBe('success');
    expect(r.samples.tcp_rr_cost_per_trans.length).toBe(5);
    expect(cellHealth(db, 'mini')[0]).toMatchObject({ cell: 'tcp_rr', state: 'flaky' });
    const dead = await runHead({ db, settings, runPair: async () => { throw new Error('no console'); }, accel: 'tcg' }, 'mini', { trigger: 'cli' });
    expect(dead.status).toBe('failure');
    expect(dead.note).toMatch(/every cell failed twice/);
  }, 120_000);
});
