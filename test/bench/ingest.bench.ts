// `npm run bench -- ingest`: messages/s and peak RSS of patchgate's full ingest path
// (read from the public-inbox git archive, parse on every core, classify, thread, store in SQLite)
// against mailparser's bare simpleParser over the same messages, in one run. Each side runs in its own
// process so that peak RSS is its own.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { archiveGitDir } from '../helpers/archive.js';

const self = fileURLToPath(import.meta.url);
const args = process.argv.slice(2);

interface Result {
  label: string;
  messages: number;
  seconds: number;
  maxRssMb: number;
  /** CPU seconds (user + system) of the measured work: what the host's load does not change */
  cpuSeconds: number;
  series?: number;
  /** 1-minute load average when the phase started and when it ended */
  load: [number, number];
  /** mailparser phase: which reader patchgate's parser starts each body with (fast path or mailparser) */
  readers?: Record<string, number>;
  /** mailparser phase: content types of the messages patchgate hands to mailparser */
  fallbackTypes?: Record<string, number>;
}

function load1(): number {
  return os.loadavg()[0];
}

/**
 * patchgate's own command, compiled (npm run build), as a user runs it: `patchgate series --json --store S ARCHIVE`,
 * output to /dev/null. A preload prints the process's peak RSS (all threads) when it exits.
 */
async function phasePatchgate(gitDir: string): Promise<Result> {
  const { repoRoot } = await import('../helpers/archive.js');
  if (!existsSync(path.join(repoRoot, 'dist', 'src', 'cli.js'))) spawnSync('npm', ['run', 'build', '--silent'], { cwd: repoRoot, stdio: 'inherit' });
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pg-bench-'));
  const preload = path.join(tmp, 'rss.cjs');
  writeFileSync(preload, "process.on('exit', () => { const u = process.resourceUsage(); process.stderr.write('PG-MAXRSS ' + u.maxRSS + ' PG-CPU ' + (u.userCPUTime + u.systemCPUTime) + '\\n'); });\n");
  const args = ['--require', preload, path.join(repoRoot, 'bin', 'patchgate.js'), 'series', '--json', '--store', path.join(tmp, 'store.sqlite'), gitDir];
  const l0 = load1();
  const t0 = process.hrtime.bigint();
  const out = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (out.status !== 0) throw new Error(`patchgate series failed: ${out.stderr}`);
  const doc = JSON.parse(out.stdout) as { messages: unknown[]; series: unknown[] };
  const kb = Number(/PG-MAXRSS (\d+)/.exec(out.stderr)?.[1] ?? NaN);
  const cpuUs = Number(/PG-CPU (\d+)/.exec(out.stderr)?.[1] ?? NaN);
  rmSync(tmp, { recursive: true, force: true });
  return { label: 'patchgate series --json --store (compiled CLI, whole process)', messages: doc.messages.length, seconds, maxRssMb: kb / 1024, cpuSeconds: cpuUs / 1e6, series: doc.series.length, load: [l0, load1()] };
}

async function phaseMailparser(gitDir: string): Promise<Result> {
  const { simpleParser } = await import('mailparser');
  const { readEpoch } = await import('../../src/ingest/public-inbox-git.js');
  const raws: Buffer[] = [];
  for await (const m of readEpoch(gitDir)) {
    raws.push(m.raw);
  }
  const l0 = load1();
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  for (const r of raws) await simpleParser(r, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  const load: [number, number] = [l0, load1()];
  const maxRssMb = process.resourceUsage().maxRSS / 1024;
  // not timed: how many of these messages patchgate's parser reads on its fast path
  const { bodyReader } = await import('../../src/mail/parse.js');
  const readers: Record<string, number> = {};
  const fallbackTypes: Record<string, number> = {};
  for (const r of raws) {
    const { reader, contentType } = bodyReader(r);
    readers[reader] = (readers[reader] ?? 0) + 1;
    if (reader === 'mailparser') fallbackTypes[contentType] = (fallbackTypes[contentType] ?? 0) + 1;
  }
  return { label: 'mailparser simpleParser alone (1 thread, blobs preloaded)', messages: raws.length, seconds, maxRssMb, cpuSeconds: (c.user + c.system) / 1e6, load, readers, fallbackTypes };
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
    const out = spawnSync(process.execPath, ['--import', 'tsx', self, '--phase', p, '--git-dir', gitDir], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (out.status !== 0) throw new Error(`phase ${p} failed:\n${out.stderr}`);
    return JSON.parse(out.stdout.trim().split('\n').pop()!) as Result;
  };
  const base = run('mailparser');
  const pg = run('patchgate');
  const rate = (r: Result) => r.messages / r.seconds;
  const perCpu = (r: Result) => r.messages / r.cpuSeconds;
  const line = (r: Result) =>
    `${r.label.padEnd(62)} ${String(r.messages).padStart(6)} msgs  ${r.seconds.toFixed(2).padStart(7)} s  ${rate(r).toFixed(0).padStart(6)} msg/s  ${perCpu(r).toFixed(0).padStart(6)} msg/CPU-s  ` +
    `${r.cpuSeconds.toFixed(2)} CPU-s  peak RSS ${r.maxRssMb.toFixed(0)} MB  load ${r.load[0].toFixed(1)}->${r.load[1].toFixed(1)}`;
  process.stdout.write(`ingest benchmark on ${os.availableParallelism()} cores, archive ${gitDir}\n`);
  process.stdout.write(line(base) + '\n');
  process.stdout.write(line(pg) + (pg.series !== undefined ? `  (${pg.series} series)` : '') + '\n');
  const counts = (o: Record<string, number> | undefined) => Object.entries(o ?? {}).map(([k, n]) => `${n} ${k}`).join(', ') || 'none';
  process.stdout.write(`patchgate's parser: body read by ${counts(base.readers)}; mailparser fallbacks by content type: ${counts(base.fallbackTypes)}\n`);
  process.stdout.write(`ratio patchgate/mailparser: ${(rate(pg) / rate(base)).toFixed(2)}x throughput (wall), ${(perCpu(pg) / perCpu(base)).toFixed(2)}x per CPU-second, ${(pg.maxRssMb / base.maxRssMb).toFixed(2)}x peak RSS\n`);
  process.stdout.write(`load average now ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} (wall-clock rates fall with the host's load; per CPU-second they do not)\n`);
  process.stdout.write(`targets: >= 3000 msg/s end to end: ${rate(pg) >= 3000 ? 'met' : 'NOT met'}; peak RSS < 400 MB: ${pg.maxRssMb < 400 ? 'met' : 'NOT met'}\n`);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
