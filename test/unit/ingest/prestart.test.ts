// Parser threads started before the CLI loads (bin/patchgate.js → prestart): only for `series` / `am` over a
// large input without --workers, and the pool then takes those threads instead of starting new ones.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { prestart } from '../../../src/prestart.js';
import { defaultParseThreads, dropWarmParseThreads, warmParseThreads } from '../../../src/ingest/parse-threads.js';
import { createParsePool } from '../../../src/ingest/parse-pool.js';
import { splitMbox } from '../../../src/ingest/mbox.js';
import { archiveGitDir, corpusDir } from '../../helpers/archive.js';

describe('prestart', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pg-prestart-'));
  const small = path.join(corpusDir, 'patchwork', 'series', 'revision-basic.mbox');
  const big = path.join(dir, 'big.sqlite');
  writeFileSync(big, Buffer.alloc(2 << 20));

  afterEach(async () => {
    await dropWarmParseThreads();
  });

  it('starts nothing for small inputs, other commands, --workers, or a big --store with a small input', () => {
    for (const argv of [
      ['series', '--json', small],
      ['export', '--config', 'x.yaml'],
      ['series', '--workers', '1', archiveGitDir()],
      ['am', '--workers=0', archiveGitDir()],
      ['series', '--store', big, small],
      ['series', '/no/such/path'],
      [],
    ]) {
      prestart(argv);
      expect(warmParseThreads(), argv.join(' ')).toBe(0);
    }
  });

  it('starts the default threads for a public-inbox directory or a big mbox, and a pool takes them', async () => {
    prestart(['series', '--json', '--store', path.join(dir, 's.sqlite'), archiveGitDir()]);
    expect(warmParseThreads()).toBe(defaultParseThreads());
    prestart(['am', big]); // already started: no more
    expect(warmParseThreads()).toBe(defaultParseThreads());
    const pool = await createParsePool();
    try {
      const raws = Array.from({ length: 40 }, () => splitMbox(readFileSync(small))).flat();
      const rows = await pool.prepareBatch(raws);
      expect(rows.length).toBe(raws.length);
      expect(pool.threads).toBe(defaultParseThreads());
      expect(warmParseThreads()).toBe(0);
    } finally {
      await pool.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
