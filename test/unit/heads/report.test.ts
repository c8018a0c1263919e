// The bisection report mail, golden-file tested (UPDATE_GOLDEN=1 regenerates, then review the diff),
// its threading to the culprit's original posting, and its outbox row.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { BisectResult } from '../../../src/heads/bisect.js';
import { buildBisectMail, findPosting, queueBisectMail, type BisectMailInput } from '../../../src/heads/report.js';
import { formatMailPreview } from '../../../src/report/mail.js';
import { settingsSchema } from '../../../src/settings/schema.js';
import { openDb } from '../../../src/store/db.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const goldenDir = path.join(repoRoot, 'test', 'fixtures', 'golden');

function golden(name: string, actual: string): void {
  const file = path.join(goldenDir, name);
  if (process.env.UPDATE_GOLDEN === '1') {
    writeFileSync(file, actual);
    return;
  }
  if (!existsSync(file)) throw new Error(`missing golden file ${name}: run with UPDATE_GOLDEN=1 and review it`);
  expect(actual).toBe(readFileSync(file, 'utf8'));
}

const GOOD = '1'.repeat(40);
const BAD = '2'.repeat(40);
const CULPRIT = '7c1d5e0f9a2b3c4d5e6f708192a3b4c5d6e7f809';
const rule = { direction: 'lower-is-better' as const, threshold: 0.003 };
const cmp = (change: number, low: number, high: number, p: number, n = 5, m = 4) => ({ n, m, change, low, high, p, verdict: change > 0.003 ? 'regression' as const : 'no-change' as const });

function result(): BisectResult {
  const steps = [
    { commit: 'a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9', change: 0.0004, low: -0.0011, high: 0.0019, cls: 'lacks-change' as const },
    { commit: 'b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9', change: 0.1012, low: 0.0987, high: 0.1040, cls: 'has-change' as const },
    { commit: CULPRIT, change: 0.0998, low: 0.0975, high: 0.1021, cls: 'has-change' as const },
  ];
  return {
    status: 'found', good: GOOD, bad: BAD, metric: 'tcp_rr_cost_per_trans',
    detected: { metric: 'tcp_rr_cost_per_trans', change: 0.1005, low: 0.0979, high: 0.1033, rule },
    culprit: { commit: CULPRIT, subject: 'virtio_net: account every transmitted packet', author: 'Perf Culprit <culprit@example.org>', via: [], merge: false },
    size: cmp(0.0998, 0.0975, 0.1021, 0.0159),
    steps: steps.map((s, i) => ({
      n: i + 1, commit: s.commit, subject: `step ${i + 1}`, depth: 0, candidates: 12 >> i, samples: [1, 2, 3, 4], retries: 0,
      comparison: cmp(s.change, s.low, s.high, 0.0159), class: s.cls, forced: false, ms: 60_000,
    })),
    skipped: [], candidates: [], reason: null,
    retries: 0, range: 12, bound: 4, summary: '', wallMs: 300_000,
  };
}

function input(over: Partial<BisectMailInput> = {}): BisectMailInput {
  return {
    bisectionId: 3, tree: 'net-next', branch: 'main', lists: ['netdev@vger.kernel.org'], from: 'patchgate <bot@patchgate.example.org>',
    result: result(), author: { name: 'Perf Culprit', email: 'culprit@example.org' }, committer: { name: 'Net Maintainer', email: 'maint@example.org' },
    goodBoots: 5, fromRun: 41, toRun: 42, posting: null, ...over,
  };
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('bisection report mail', () => {
  it('golden: a regression threaded to the culprit\'s posting', () => {
    const mail = buildBisectMail(input({ posting: { msgid: '<20261101.culprit@example.org>', references: ['<cover.20261101@example.org>'] } }));
    golden('mail-bisect-regression.txt', formatMailPreview(mail));
    for (const line of mail.text.split('\n')) if (line.length > 72) expect(line.trim()).not.toMatch(/ /);
    expect(mail.inReplyTo).toBe('<20261101.culprit@example.org>');
    expect(mail.references).toEqual(['<cover.20261101@example.org>', '<20261101.culprit@example.org>']);
    expect(mail.subject.startsWith('Re: [REGRESSION] net-next:')).toBe(true);
  });

  it('golden: an improvement found through a merge, no posting known', () => {
    const r = result();
    r.detected = { ...r.detected, change: -0.052, low: -0.055, high: -0.049 };
    r.size = { ...cmp(-0.051, -0.054, -0.048, 0.0159), verdict: 'improvement' };
    r.culprit = { ...r.culprit!, via: ['9'.repeat(40)], subject: 'virtio_net: batch transmit notifications' };
    r.retries = 1;
    r.steps = r.steps.map((s) => ({ ...s, comparison: { ...s.comparison, change: -s.comparison.change / 2, low: -s.comparison.high / 2, high: -s.comparison.low / 2 } }));
    const mail = buildBisectMail(input({ result: r, committer: { name: 'Perf Culprit', email: 'culprit@example.org' } }));
    golden('mail-bisect-improvement.txt', formatMailPreview(mail));
    expect(mail.inReplyTo).toBe('');
    expect(mail.cc.map((p) => p.email)).toEqual(['culprit@example.org']);
  });

  it('golden: commits that do not build leave two candidates (ambiguous), Cc their authors', () => {
    const r = result();
    const broken = 'e'.repeat(40);
    r.status = 'ambiguous';
    r.culprit = null;
    r.skipped = [{ commit: broken, subject: 'virtio_net: split the transmit path', depth: 0, reason: `${broken.slice(0, 12)} does not build: drivers/net/virtio_net.c:812:3: error: expected ';' before 'return'`, ms: 40_000 }];
    r.candidates = [
      { commit: broken, subject: 'virtio_net: split the transmit path', author: 'Split Author <split@example.org>', skipped: true },
      { commit: CULPRIT, subject: 'virtio_net: account every transmitted packet', author: 'Perf Culprit <culprit@example.org>', skipped: false },
    ];
    r.reason = `${broken.slice(0, 12)} does not build, so the change cannot be placed among the 2 commits ${broken.slice(0, 12)}..${CULPRIT.slice(0, 12)} (${CULPRIT.slice(0, 12)} has it: +9.98%)`;
    const mail = buildBisectMail(input({ result: r, others: [{ name: 'Split Author', email: 'split@example.org' }, { name: 'Perf Culprit', email: 'culprit@example.org' }] }));
    golden('mail-bisect-ambiguous.txt', formatMailPreview(mail));
    expect(mail.subject).toBe(`[REGRESSION] net-next: tcp_rr_cost_per_trans +9.98% in one of 2 commits ${broken.slice(0, 12)}..${CULPRIT.slice(0, 12)}`);
    expect(mail.cc.map((p) => p.email)).toEqual(['culprit@example.org', 'maint@example.org', 'split@example.org']);
    expect(mail.text).toContain('Why: eeeeeeeeeeee does not build');
    expect(mail.headers['X-Patchgate-Culprit']).toBeUndefined();
  });

  it('the same bisection gives the same Message-ID; another culprit another', () => {
    const a = buildBisectMail(input());
    expect(buildBisectMail(input()).messageId).toBe(a.messageId);
    const r = result();
    r.culprit = { ...r.culprit!, commit: '3'.repeat(40) };
    expect(buildBisectMail(input({ result: r })).messageId).not.toBe(a.messageId);
  });

  it('finds the original posting by a Link: trailer, else by subject and author; queues dry-run or pending', async () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'pg-heads-report-'));
    dirs.push(d);
    const g = (...a: string[]) => execFileSync('git', ['-C', d, ...a], { encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 'Perf Culprit', GIT_AUTHOR_EMAIL: 'culprit@example.org', GIT_COMMITTER_NAME: 'M', GIT_COMMITTER_EMAIL: 'm@example.org' } }).trim();
    g('init', '-q', '-b', 'main');
    writeFileSync(path.join(d, 'f'), '1');
    g('add', '-A');
    g('commit', '-q', '-m', 'virtio_net: one\n\nLink: https://lore.kernel.org/r/20261101.one@example.org');
    const one = g('rev-parse', 'HEAD');
    writeFileSync(path.join(d, 'f'), '2');
    g('commit', '-q', '-a', '-m', 'virtio_net: two');
    const two = g('rev-parse', 'HEAD');
    writeFileSync(path.join(d, 'f'), '3');
    g('commit', '-q', '-a', '-m', 'virtio_net: three');
    const three = g('rev-parse', 'HEAD');
    const db = openDb(':memory:');
    const ins = db.prepare(`INSERT INTO messages (msgid, hash, source, kind, subject, sender, raw, parsed) VALUES (?, ?, 'test', 'patch', ?, ?, x'00', ?)`);
    ins.run('20261101.one@example.org', 'h1', '[PATCH net-next] virtio_net: one (v0)', 'Perf Culprit <culprit@example.org>', JSON.stringify({ references: ['c1@example.org'] }));
    ins.run('20261102.two@example.org', 'h2', '[PATCH net-next 2/3] virtio_net: two', 'Perf Culprit <culprit@example.org>', JSON.stringify({ references: ['c2@example.org'] }));
    ins.run('20261103.three@example.org', 'h3', '[PATCH net-next 3/3] virtio_net: three', 'Someone Else <else@example.org>', JSON.stringify({}));
    expect(await findPosting(db, d, one)).toEqual({ msgid: '20261101.one@example.org', references: ['c1@example.org'] });
    expect(await findPosting(db, d, two)).toEqual({ msgid: '20261102.two@example.org', references: ['c2@example.org'] });
    expect(await findPosting(db, d, three)).toBeNull();

    const dry = settingsSchema.parse({});
    const row = queueBisectMail(db, buildBisectMail(input()), dry, 'net-next', 3)!;
    expect(row).toMatchObject({ state: 'dry-run', series_id: 'heads:net-next', version: 3, channel: 'mail', list: 'netdev@vger.kernel.org' });
    expect(JSON.parse(row.recipients)).toEqual(['netdev@vger.kernel.org', 'culprit@example.org', 'maint@example.org']);
    expect(queueBisectMail(db, buildBisectMail(input()), dry, 'net-next', 3)).toBeNull();
    const send = settingsSchema.parse({ reply: { mode: 'send', lists: ['netdev@vger.kernel.org'] } });
    const r = result();
    r.culprit = { ...r.culprit!, commit: '4'.repeat(40) };
    expect(queueBisectMail(db, buildBisectMail(input({ result: r })), send, 'net-next', 4)?.state).toBe('pending');
  });
});
