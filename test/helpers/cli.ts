// Runs the real CLI entry (src/cli.ts main) in process, capturing what it prints.
import { PassThrough, Readable } from 'node:stream';
import { main } from '../../src/cli.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(args: string[], stdin: string | Buffer = ''): Promise<CliResult> {
  const out = new PassThrough();
  const err = new PassThrough();
  const outChunks: Buffer[] = [];
  const errChunks: Buffer[] = [];
  out.on('data', (d: Buffer) => outChunks.push(d));
  err.on('data', (d: Buffer) => errChunks.push(d));
  const code = await main(args, { stdout: out, stderr: err, stdin: Readable.from([Buffer.from(stdin)]) });
  return { code, stdout: Buffer.concat(outChunks).toString('utf8'), stderr: Buffer.concat(errChunks).toString('utf8') };
}

/** `patchgate series --json PATHS` parsed. */
export async function seriesJson(paths: string[], extra: string[] = []): Promise<import('../../src/series/types.js').SeriesDocument> {
  const r = await runCli(['series', '--json', '--workers', '0', ...extra, ...paths]);
  if (r.code !== 0) throw new Error(`patchgate series exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}
