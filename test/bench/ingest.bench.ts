// `npm run bench -- ingest [--limit N]`: messages/s and peak RSS of patchgate's full ingest path
// (read from the public-inbox git archive, parse on every core, classify, thread, store in SQLite)
// against mailparser's bare simpleParser over the same messages, in one run. Each side runs in its own
// process so that peak RSS is its own.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { archiveGitDir } from '../helpers/archive.js';

const self = fileURLToPath(import.meta.url);
const args = process.argv.slice(2);
const limit = Number(args[args.indexOf('--limit') + 1]) || 0;

interface Result {
  label: string;
  messages: number;
  seconds: number;
  maxRssMb: number;
  series?: number;
}

async function phasePatchgate(gitDir: string): Promise<Result> {
  const { openDb } = await import('../../src/store/db.js');
  const { ingestInputs, assembleStored } = await import('../../src/ingest/ingest.js');
  const { readMailInputs } = await import('../../src/ingest/inputs.js');
  const { createParsePool } = await import('../../src/ingest/parse-pool.js');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pg-bench-'));
  const t0 = process.hrtime.bigint();
  const db = openDb(path.join(tmp, 'store.sqlite'));
  const pool = await createParsePool({});
  let n = 0;
  async function* limited() {
    for await (const m of readMailInputs([gitDir])) {
      if (limit && n >= limit) return;
      n++;
      yield m;
    }
  }
  const stats = await ingestInputs(db, limited(), { parseBatch: pool.parseBatch });
  await pool.close();
  const doc = assembleStored(db, { sloppyTrailers: false });
  db.close();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  rmSync(tmp, { recursive: true, force: true });
  return { label: `patchgate full path (${pool.threads || 'in-process'} parser threads)`, messages: stats.read, seconds, maxRssMb: process.resourceUsage().maxRSS / 1024, series: doc.series.length };
}

async function phaseMailparser(gitDir: string): Promise<Result> {
  const { simpleParser } = await import('mailparser');
  const { readEpoch } = await import('../../src/ingest/public-inbox-git.js');
  const raws: Buffer[] = [];
  for await (const m of readEpoch(gitDir)) {
    if (limit && raws.length >= limit) break;
    raws.push(m.raw);
  }
  const t0 = process.hrtime.bigint();
  for (const r of raws) await simpleParser(r, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { label: 'mailparser simpleParser alone (1 thread, blobs preloaded)', messages: raws.length, seconds, maxRssMb: process.resourceUsage().maxRSS / 1024 };
}

async function main(): Promise<void> {
  const phase = args[args.indexOf('--phase') + 1];
  if (args.includes('--phase')) {
    const gitDir = args[args.indexOf('--git-dir') + 1];
    const r = phase === 'patchgate' ? await phasePatchgate(gitDir) : await phaseMailparser(gitDir);
    process.stdout.write(JSON.stringify(r) + '\n');
    return;
  }
  const gitDir = archiveGitDir();
  const run = (p: string): Result => {
    const out = spawnSync(process.execPath, ['--import', 'tsx', self, '--phase', p, '--git-dir', gitDir, ...(limit ? ['--limit', String(limit)] : [])], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (out.status !== 0) throw new Error(`phase ${p} failed:\n${out.stderr}`);
    return JSON.parse(out.stdout.trim().split('\n').pop()!) as Result;
  };
  const base = run('mailparser');
  const pg = run('patchgate');
  const rate = (r: Result) => r.messages / r.seconds;
  const line = (r: Result) => `${r.label.padEnd(62)} ${String(r.messages).padStart(6)} msgs  ${r.seconds.toFixed(2).padStart(7)} s  ${rate(r).toFixed(0).padStart(6)} msg/s  peak RSS ${r.maxRssMb.toFixed(0)} MB`;
  process.stdout.write(`ingest benchmark on ${os.availableParallelism()} cores, archive ${gitDir}\n`);
  process.stdout.write(line(base) + '\n');
  process.stdout.write(line(pg) + (pg.series !== undefined ? `  (${pg.series} series)` : '') + '\n');
  process.stdout.write(`ratio patchgate/mailparser: ${(rate(pg) / rate(base)).toFixed(2)}x throughput, ${(pg.maxRssMb / base.maxRssMb).toFixed(2)}x peak RSS\n`);
  process.stdout.write(`targets: >= 3000 msg/s end to end: ${rate(pg) >= 3000 ? 'met' : 'NOT met'}; peak RSS < 400 MB: ${pg.maxRssMb < 400 ? 'met' : 'NOT met'}\n`);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
