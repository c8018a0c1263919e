import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { corpusDir } from '../helpers/archive.js';

describe('patchgate CLI usage errors (contract: exit 2, one line on stderr)', () => {
  it('series without a path exits 2', async () => {
    const r = await runCli(['series', '--json']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('series with a missing file exits 2 naming it', async () => {
    const r = await runCli(['series', '--json', '/nonexistent/inbox.mbox']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('/nonexistent/inbox.mbox');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('an unknown command exits 2', async () => {
    const r = await runCli(['frobnicate']);
    expect(r.code).toBe(2);
  });

  it('reads standard input with -', async () => {
    const { readFileSync } = await import('node:fs');
    const mbox = readFileSync(path.join(corpusDir, 'patchwork', 'series', 'base-cover-letter.mbox'));
    const r = await runCli(['series', '--json', '--workers', '0', '-'], mbox);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.messages).toHaveLength(3);
    expect(doc.series).toHaveLength(1);
  });
});
