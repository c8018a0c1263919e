// `patchgate run` end to end on real git and a real Redis: series made with git format-patch against a
// local tree, a collected Reviewed-by, a conflict, --until, a v2 superseding v1 in the same mail.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { runCli } from '../helpers/cli.js';
import { cleanPrefix, ensureRedis, uniquePrefix } from '../helpers/redis.js';
import { git, makeSeries as makeSeriesIn, type Edit } from '../helpers/series-repo.js';

function makeSeries(repo: string, name: string, prefixArg: string, commits: Edit[], base = 'main'): string {
  return makeSeriesIn(repo, dir, name, prefixArg, commits, base);
}

let dir: string;
let url: string;
let prefix: string;

function msgidOf(mbox: string, subjectPart: string): string {
  const msgs = mbox.split(/^(?=From [0-9a-f]{40} )/m);
  const m = msgs.find((x) => x.includes(subjectPart))!;
  return /^Message-Id: (<[^>]+>)/im.exec(m)![1];
}

/** The real CLI in process (test/helpers/cli.ts), with this file's field names. */
async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await runCli(args);
  return { code: r.code, out: r.stdout, err: r.stderr };
}

let config: string;
let mailGood: string;
let mailConflict: string;
let mailRevisions: string;

beforeAll(async () => {
  url = await ensureRedis();
  prefix = uniquePrefix('run');
  dir = mkdtempSync(path.join(os.tmpdir(), 'patchgate-run-'));
  const repo = path.join(dir, 'net-next');
  mkdirSync(path.join(repo, 'drivers', 'net'), { recursive: true });
  git(dir, 'init', '-q', repo);
  writeFileSync(path.join(repo, 'drivers', 'net', 'tun.c'), 'one\ntwo\nthree\nfour\nfive\n');
  writeFileSync(path.join(repo, 'MAINTAINERS'), 'NETWORKING DRIVERS\nL:\tnetdev@vger.kernel.org\nF:\tdrivers/net/\n');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'base');

  const good = makeSeries(repo, 'good', 'PATCH net-next', [
    { file: 'drivers/net/tun.c', from: 'two\n', to: 'two (tun)\n', msg: 'tun: rename two' },
    { file: 'drivers/net/tun.c', from: 'four\n', to: 'four (tun)\n', msg: 'tun: rename four' },
  ]);
  const p1 = msgidOf(good, 'Subject: [PATCH net-next 1/2] tun: rename two');
  const review = [
    'From reviewer Thu Jan  1 00:00:00 1970',
    'From: Rev Iewer <rev@example.org>',
    'To: netdev@vger.kernel.org',
    'Subject: Re: [PATCH net-next 1/2] tun: rename two',
    'Date: Thu, 26 Nov 2026 02:00:00 +0000',
    'Message-Id: <review-1@example.org>',
    `In-Reply-To: ${p1}`,
    `References: ${p1}`,
    '',
    '> -two',
    '',
    'Reviewed-by: Rev Iewer <rev@example.org>',
    '',
  ].join('\n');
  mailGood = path.join(dir, 'good.mbox');
  writeFileSync(mailGood, `${good}\n${review}`);

  // written against a tree where `three` was already changed: does not apply to main
  git(repo, 'checkout', '-q', '-B', 'elsewhere', 'main');
  writeFileSync(path.join(repo, 'drivers', 'net', 'tun.c'), 'one\ntwo\nthree (elsewhere)\nfour\nfive\n');
  git(repo, 'commit', '-qam', 'elsewhere');
  mailConflict = path.join(dir, 'conflict.mbox');
  writeFileSync(mailConflict, makeSeries(repo, 'clash', 'PATCH net-next', [
    { file: 'drivers/net/tun.c', from: 'three (elsewhere)\n', to: 'three (clash)\n', msg: 'tun: clash with three' },
  ], 'elsewhere'));

  const v1 = makeSeries(repo, 'rev1', 'PATCH net-next', [{ file: 'drivers/net/tun.c', from: 'five\n', to: 'five (v1)\n', msg: 'tun: touch five' }]);
  const v2 = makeSeries(repo, 'rev2', 'PATCH net-next v2', [{ file: 'drivers/net/tun.c', from: 'five\n', to: 'five (v2)\n', msg: 'tun: touch five' }]);
  mailRevisions = path.join(dir, 'revisions.mbox');
  writeFileSync(mailRevisions, `${v1}\n${v2}`);

  config = path.join(dir, 'patchgate.yaml');
  writeFileSync(config, YAML.stringify({
    store: { path: path.join(dir, 'store.sqlite') },
    redis: { url, prefix },
    work_dir: path.join(dir, 'work'),
    trees: [{ name: 'net-next', url: repo, branch: 'main', tokens: ['net-next'], lists: ['netdev@vger.kernel.org'] }],
    queue: { attempts: 2, backoff_ms: 100 },
  }));
});

afterAll(async () => {
  await cleanPrefix(url, prefix);
  rmSync(dir, { recursive: true, force: true });
});

describe('patchgate run', { timeout: 120_000 }, () => {
  it('selects the tree, applies the series with its collected trailers, pushes the branch', async () => {
    const { code, out, err } = await run(['run', '--config', config, '--json', mailGood]);
    expect(err).toBe('');
    expect(code).toBe(0);
    const doc = JSON.parse(out) as { series: Record<string, any>[] };
    expect(doc.series).toHaveLength(1);
    const s = doc.series[0];
    expect(s.tree).toEqual({ name: 'net-next', reason: 'marked for net-next' });
    expect(s.apply.map((a: any) => [a.outcome, a.files])).toEqual([['applied', ['drivers/net/tun.c']], ['applied', ['drivers/net/tun.c']]]);
    expect(s.branch).toBe(`patchgate/${s.id}/v1`);
    expect(s.state).toBe('done');
    // honest about the stages this tree does not have yet
    for (const [stage, field] of [['build', 'build'], ['gate', 'gates']] as const) {
      if (s.notes.some((n: string) => n.startsWith(`${stage}: no ${stage} stage is installed`))) expect(s[field]).toEqual([]);
    }
    const results = path.join(dir, 'work', 'results.git');
    const log = execFileSync('git', ['-C', results, 'log', '--format=%s%n%b%x00', s.branch], { encoding: 'utf8' }).split('\0').map((x) => x.trim()).filter(Boolean);
    expect(log[0]).toMatch(/^tun: rename four/);
    expect(log[1]).toMatch(/^tun: rename two/);
    expect(log[1]).toContain('Reviewed-by: Rev Iewer <rev@example.org>');
    expect(log[0]).not.toContain('Reviewed-by');
    const file = execFileSync('git', ['-C', results, 'show', `${s.branch}:drivers/net/tun.c`], { encoding: 'utf8' });
    expect(file).toBe('one\ntwo (tun)\nthree\nfour (tun)\nfive\n');
  });

  it('a conflict is reported per patch with the file, and stops the later stages', async () => {
    const { code, out } = await run(['run', '--config', config, '--json', mailConflict]);
    expect(code).toBe(0);
    const s = (JSON.parse(out) as { series: Record<string, any>[] }).series[0];
    expect(s.tree.name).toBe('net-next');
    expect(s.apply).toHaveLength(1);
    expect(s.apply[0].outcome).toBe('conflict');
    expect(s.apply[0].files).toEqual(['drivers/net/tun.c']);
    expect(s.branch).toBeNull();
    expect(s.verdict).toBe('conflict');
    expect(s.build).toEqual([]);
  });

  it('--until apply runs only apply; v2 in the same mail supersedes v1', async () => {
    const { code, out } = await run(['run', '--config', config, '--json', '--until', 'apply', mailRevisions]);
    expect(code).toBe(0);
    const series = (JSON.parse(out) as { series: Record<string, any>[] }).series;
    expect(series.map((s) => [s.version, s.state])).toEqual([[1, 'superseded'], [2, 'done']]);
    expect(series[0].apply).toEqual([]);
    const v2 = series[1];
    expect(v2.apply.map((a: any) => a.outcome)).toEqual(['applied']);
    expect(v2.branch).toBe(`patchgate/${v2.id}/v2`);
    expect(v2.notes.filter((n: string) => /^(build|gate|report):/.test(n))).toEqual([]); // not part of this run
  });

  it('usage errors exit 2', async () => {
    expect((await run(['run', '--config', config, '--json', path.join(dir, 'missing.mbox')])).code).toBe(2);
    expect((await run(['run', '--config', config, '--until', 'deploy', mailGood])).code).toBe(2);
  });
});
