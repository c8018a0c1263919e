// `patchgate run` end to end with the report stage: real git, real Redis, a real SMTP server on loopback.
// A series that does not apply gets one threaded reply; running the same mail again sends nothing more.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { runCli } from '../helpers/cli.js';
import { cleanPrefix, ensureRedis, uniquePrefix } from '../helpers/redis.js';
import { git } from '../helpers/series-repo.js';
import { startSmtpSink, type SmtpSink } from '../unit/report/helpers/smtp-sink.js';

let dir: string;
let redisUrl: string;
let prefix: string;
let sink: SmtpSink;
let config: string;
let mail: string;
let cover: string;

/** The real CLI in process (test/helpers/cli.ts), with this file's field names. */
async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await runCli(args);
  return { code: r.code, out: r.stdout, err: r.stderr };
}

beforeAll(async () => {
  redisUrl = await ensureRedis();
  prefix = uniquePrefix('report-run');
  sink = await startSmtpSink();
  dir = mkdtempSync(path.join(os.tmpdir(), 'patchgate-report-run-'));
  const repo = path.join(dir, 'net-next');
  mkdirSync(path.join(repo, 'drivers', 'net'), { recursive: true });
  git(dir, 'init', '-q', repo);
  writeFileSync(path.join(repo, 'drivers', 'net', 'tun.c'), 'one\ntwo\nthree\nfour\nfive\n');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'base');
  // written against a tree where `three` was already changed: patch 2 does not apply to main
  git(repo, 'checkout', '-q', '-B', 'elsewhere', 'main');
  writeFileSync(path.join(repo, 'drivers', 'net', 'tun.c'), 'one\ntwo\nthree (elsewhere)\nfour\nfive\n');
  git(repo, 'commit', '-qam', 'elsewhere');
  for (const [from, to, msg] of [['one\n', 'one (tun)\n', 'tun: touch one'], ['three (elsewhere)\n', 'three (clash)\n', 'tun: clash with three']]) {
    const f = path.join(repo, 'drivers', 'net', 'tun.c');
    writeFileSync(f, readFileSync(f, 'utf8').replace(from, to));
    git(repo, 'commit', '-qam', `${msg}\n\nSigned-off-by: Jo Dev <jo@example.org>`);
  }
  const out = path.join(dir, 'patches');
  git(repo, 'format-patch', '-q', '--thread', '--cover-letter', '--subject-prefix=PATCH net-next', '--to=netdev@vger.kernel.org', '-2', '-o', out);
  git(repo, 'checkout', '-q', 'main');
  const text = readdirSync(out).sort().map((p) => readFileSync(path.join(out, p), 'utf8')
    .replace('*** SUBJECT HERE ***', 'tun: two small changes').replace('*** BLURB HERE ***', 'Two changes.')).join('\n');
  cover = /^Message-Id: (<[^>]+>)/im.exec(text)![1];
  mail = path.join(dir, 'series.mbox');
  writeFileSync(mail, text);
  config = path.join(dir, 'patchgate.yaml');
  writeFileSync(config, YAML.stringify({
    store: { path: path.join(dir, 'store.sqlite') },
    redis: { url: redisUrl, prefix },
    work_dir: path.join(dir, 'work'),
    trees: [{ name: 'net-next', url: repo, branch: 'main', tokens: ['net-next'], lists: ['netdev@vger.kernel.org'] }],
    smtp: { url: sink.url, from: 'patchgate <bot@patchgate.example.org>' },
    reply: { mode: 'send', lists: ['netdev@vger.kernel.org'], cc_list: true },
  }));
});

afterAll(async () => {
  await cleanPrefix(redisUrl, prefix);
  await sink.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('patchgate run with replies', { timeout: 120_000 }, () => {
  it('a conflict gets one threaded reply, reported as `reply` with sent: true', async () => {
    const { code, out } = await run(['run', '--config', config, '--json', mail]);
    expect(code).toBe(0);
    const s = (JSON.parse(out) as { series: Record<string, any>[] }).series[0];
    expect(s.apply.map((a: { outcome: string }) => a.outcome)).toEqual([expect.stringMatching(/^applied/), 'conflict']);
    expect(s.reply).toMatchObject({ to: ['jo@example.org', 'netdev@vger.kernel.org'], sent: true });
    expect(sink.messages).toHaveLength(1);
    const reply = await simpleParser(sink.messages[0].raw);
    expect(reply.messageId).toBe(s.reply.msgid);
    expect(reply.inReplyTo).toBe(cover);
    expect(reply.subject).toBe('Re: [PATCH net-next 0/2] tun: two small changes');
    expect(reply.headers.get('x-patchgate-verdict')).toBe('conflict');
    expect(reply.text).toContain('CONFLICT: patch 2/2 does not apply to net-next');
  });

  it('the same mail again: the revision is not answered twice', async () => {
    const { code, out } = await run(['run', '--config', config, '--json', mail]);
    expect(code).toBe(0);
    const s = (JSON.parse(out) as { series: Record<string, any>[] }).series[0];
    expect(s.reply).toMatchObject({ sent: true });
    expect(sink.messages).toHaveLength(1);
  });
});
