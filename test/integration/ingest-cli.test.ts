// `patchgate ingest`: --once over configured sources (exit codes, per-source lines), --source, and the
// daemon as a real process: following sources, the "source went quiet" warning (log + source_health),
// recovery, SIGTERM.
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { splitMbox } from '../../src/ingest/mbox.js';
import { runCli } from '../helpers/cli.js';
import { appendToEpoch, archiveMessages, cloneArchive, removeDir, repoRoot, tempDir, toMboxrd } from './ingest-support.js';

const corpus = path.resolve(repoRoot, '..', 'shared', 'corpus');
let tmp: string;
let first: Buffer[];

beforeAll(async () => {
  tmp = tempDir('ingest-cli');
  first = await archiveMessages(cloneArchive(tmp), 0, 120);
});
afterAll(() => removeDir(tmp));

function yamlConfig(dir: string, sources: string[]): string {
  const file = path.join(dir, 'patchgate.yaml');
  writeFileSync(file, [
    `store: { path: ${path.join(dir, 'store.sqlite')} }`,
    `work_dir: ${path.join(dir, 'work')}`,
    'sources:',
    ...sources.map((s) => `  - ${s}`),
    '',
  ].join('\n'));
  return file;
}

function maildir(dir: string, raws: Buffer[]): string {
  const md = path.join(dir, 'Maildir');
  for (const sub of ['new', 'cur', 'tmp']) mkdirSync(path.join(md, sub), { recursive: true });
  raws.forEach((raw, i) => writeFileSync(path.join(md, 'new', `${1_700_000_000 + i}.M${i}P1.host`), raw));
  return md;
}

describe('patchgate ingest --once', () => {
  it('reads every configured source once, then nothing new; --source picks one', async () => {
    const dir = tempDir('ingest-once');
    appendToEpoch(path.join(dir, 'inbox', 'git', '0.git'), first.slice(0, 60));
    const md = maildir(dir, first.slice(60, 80));
    const config = yamlConfig(dir, [
      `{ name: virt, type: public-inbox-git, path: ${path.join(dir, 'inbox')} }`,
      `{ name: box, type: mbox, path: ${path.join(corpus, 'b4', 'trailers-thread-with-followups.mbox')} }`,
      `{ name: md, type: maildir, path: ${md} }`,
    ]);
    const r1 = await runCli(['ingest', '--config', config, '--once', '--workers', '0']);
    expect(r1.stderr).toBe('');
    expect(r1.code).toBe(0);
    expect(r1.stdout.split('\n').filter(Boolean)).toEqual(['virt: 60 new, 0 known (ok)', 'box: 6 new, 0 known (ok)', 'md: 20 new, 0 known (ok)']);

    const r2 = await runCli(['ingest', '--config', config, '--once', '--workers', '0']);
    expect(r2.stdout.split('\n').filter(Boolean)).toEqual(['virt: 0 new, 0 known (ok)', 'box: 0 new, 0 known (ok)', 'md: 0 new, 0 known (ok)']);

    // new mail in two of them; --source reads only the one named
    appendToEpoch(path.join(dir, 'inbox', 'git', '0.git'), first.slice(80, 90), 1_700_000_000);
    writeFileSync(path.join(md, 'new', '1800000000.M1P1.host'), first[90]);
    const r3 = await runCli(['ingest', '--config', config, '--once', '--source', 'md', '--workers', '0']);
    expect(r3.stdout).toBe('md: 1 new, 0 known (ok)\n');
    const r4 = await runCli(['ingest', '--config', config, '--once', '--workers', '0']);
    expect(r4.stdout.split('\n').filter(Boolean)).toEqual(['virt: 10 new, 0 known (ok)', 'box: 0 new, 0 known (ok)', 'md: 0 new, 0 known (ok)']);

    // the store has the series assembled
    const exp = await runCli(['export', '--config', config, '--json']);
    expect(exp.code).toBe(0);
    const doc = JSON.parse(exp.stdout) as { messages: unknown[]; series: unknown[] };
    expect(doc.messages).toHaveLength(97);
    expect(doc.series.length).toBeGreaterThan(0);
    removeDir(dir);
  });

  it('an mbox that grows is read from where it stopped', async () => {
    const dir = tempDir('ingest-mbox');
    const box = path.join(dir, 'inbox.mbox');
    writeFileSync(box, toMboxrd(first.slice(0, 5)));
    const config = yamlConfig(dir, [`{ name: box, type: mbox, path: ${box} }`]);
    expect((await runCli(['ingest', '--config', config, '--once', '--workers', '0'])).stdout).toBe('box: 5 new, 0 known (ok)\n');
    appendFileSync(box, toMboxrd(first.slice(5, 8)));
    expect((await runCli(['ingest', '--config', config, '--once', '--workers', '0'])).stdout).toBe('box: 3 new, 0 known (ok)\n');
    // replaced by another file (a new first message): read again from the start, only the unknown one is new
    writeFileSync(box, toMboxrd([first[9], ...first.slice(5, 8)]));
    expect((await runCli(['ingest', '--config', config, '--once', '--workers', '0'])).stdout).toBe('box: 1 new, 3 known (ok)\n');
    expect(splitMbox(readFileSync(box))).toHaveLength(4);
    removeDir(dir);
  });

  it('usage errors exit 2; a failing source is reported, recorded as failing, and the pass still exits 0', async () => {
    const dir = tempDir('ingest-errors');
    const config = yamlConfig(dir, [`{ name: gone, type: mbox, path: ${path.join(dir, 'missing.mbox')} }`]);
    const unknown = await runCli(['ingest', '--config', config, '--once', '--source', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe('patchgate: no source named nope in the configuration (sources: gone)\n');
    const noConfig = await runCli(['ingest', '--config', path.join(dir, 'none.yaml'), '--once']);
    expect(noConfig.code).toBe(2);
    const failing = await runCli(['ingest', '--config', config, '--once', '--workers', '0']);
    expect(failing.code).toBe(0);
    expect(failing.stdout).toMatch(/^gone: failed: .*missing\.mbox: no such file \(failing\)\n$/);
    const db = new Database(path.join(dir, 'store.sqlite'), { readonly: true });
    expect(db.prepare('SELECT state, failures FROM source_health WHERE source = ?').get('gone')).toEqual({ state: 'failing', failures: 1 });
    db.close();
    removeDir(dir);
  });
});

describe('patchgate ingest (daemon)', () => {
  it('follows a source, warns when it goes quiet, recovers, and stops cleanly on SIGTERM', async () => {
    const dir = tempDir('ingest-daemon');
    const box = path.join(dir, 'inbox.mbox');
    writeFileSync(box, toMboxrd(first.slice(0, 3)));
    const config = yamlConfig(dir, [`{ name: box, type: mbox, path: ${box}, interval: 0.2, quiet_after: 1s }`]);
    const script = `const { main } = await import(${JSON.stringify(path.join(repoRoot, 'src', 'cli.ts'))}); process.exitCode = await main(process.argv.slice(1));`;
    const env = { ...process.env, PATCHGATE_LOG_LEVEL: 'info' };
    delete env.VITEST;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, 'ingest', '--config', config, '--workers', '0'],
      { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: Record<string, unknown>[] = [];
    let buf = '';
    child.stderr.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try { lines.push(JSON.parse(line) as Record<string, unknown>); } catch { /* not a log line */ }
      }
    });
    const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
    const waitFor = async (cond: () => boolean, ms: number) => {
      const end = Date.now() + ms;
      while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      return cond();
    };
    const health = () => {
      const db = new Database(path.join(dir, 'store.sqlite'), { readonly: true, fileMustExist: true });
      try { return db.prepare('SELECT state, detail, messages FROM source_health WHERE source = ?').get('box') as { state: string; detail: string | null; messages: number } | undefined; } finally { db.close(); }
    };
    try {
      expect(await waitFor(() => lines.some((l) => l.msg === 'poll done' && l.inserted === 3), 30_000)).toBe(true);
      // nothing new for longer than quiet_after: one warning, and the state in source_health
      expect(await waitFor(() => lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('source went quiet')), 10_000)).toBe(true);
      expect(lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('source went quiet'))).toHaveLength(1);
      const quiet = lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('source went quiet'))!;
      expect(quiet.level).toBe(40);
      expect(quiet.source).toBe('box');
      expect(health()?.state).toBe('quiet');
      expect(health()?.detail).toMatch(/^nothing new since .* \(quiet_after 1 s\)$/);

      // new mail: ingested within an interval or two, the source is back
      appendFileSync(box, toMboxrd(first.slice(3, 5)));
      expect(await waitFor(() => lines.some((l) => l.msg === 'source is back'), 10_000)).toBe(true);
      expect(health()).toMatchObject({ state: 'ok', messages: 5 });

      child.kill('SIGTERM');
      const { code } = await exited;
      expect(code).toBe(0);
      expect(lines.some((l) => l.msg === 'shutting down' && l.signal === 'SIGTERM')).toBe(true);
      expect(lines.some((l) => l.msg === 'stopped following sources')).toBe(true);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      removeDir(dir);
    }
  }, 60_000);
});
