// `patchgate series` over the whole real archive (10,000 messages of the virtualization list), twice.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { runCli } from '../helpers/cli.js';
import { archiveGitDir } from '../helpers/archive.js';

describe('patchgate series over the real public-inbox archive', () => {
  it('accounts for every message, and a second run over the same store changes nothing', async () => {
    const gitDir = archiveGitDir();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pg-archive-'));
    const store = path.join(dir, 'store.sqlite');
    try {
      const first = await runCli(['series', '--json', '--store', store, gitDir]);
      expect(first.code, first.stderr).toBe(0);
      const doc = JSON.parse(first.stdout) as { messages: { msgid: string; kind: string; reason: string | null }[]; series: { id: string; patches: { msgid: string }[] }[] };
      expect(doc.messages.length).toBe(10_000);
      const kinds = new Set(['patch', 'cover', 'comment', 'pull-request', 'other', 'rejected']);
      for (const m of doc.messages) {
        expect(kinds.has(m.kind)).toBe(true);
        if (m.kind === 'other' || m.kind === 'rejected') expect(m.reason, m.msgid).toBeTruthy();
      }
      expect(doc.series.length).toBeGreaterThan(500);
      const db = new Database(store, { readonly: true });
      const counts = () => db.prepare("SELECT (SELECT count(*) FROM messages) AS m, (SELECT count(*) FROM series) AS s, (SELECT max(updated_at) FROM series) AS u").get();
      const before = counts();
      const second = await runCli(['series', '--json', '--store', store, gitDir]);
      expect(second.code, second.stderr).toBe(0);
      expect(second.stdout).toBe(first.stdout);
      expect(counts()).toEqual(before);
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
