// The fast path (single-part mail decoded here) and mailparser's simpleParser must give the same
// ParsedMessage, on every corpus file and on the first 500 messages of the real archive.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMessage } from '../../../src/mail/parse.js';
import { splitHeaders, parseContentType, headerBytesToText } from '../../../src/mail/mime.js';
import { corpusDir, patchworkDir, splitMbox } from './corpus.js';

const ARCHIVE_MESSAGES = 500;

function isSinglePart(raw: Buffer): boolean {
  const ct = splitHeaders(raw).headers.find((h) => h.name === 'content-type');
  return !parseContentType(ct ? headerBytesToText(ct.raw) : undefined).type.startsWith('multipart/');
}

async function expectSameResult(raw: Buffer, label: string): Promise<void> {
  const fast = await parseMessage(raw, { engine: 'fast' });
  const slow = await parseMessage(raw, { engine: 'mailparser' });
  expect(fast, label).toEqual(slow);
}

function corpusMessages(): [string, Buffer][] {
  const out: [string, Buffer][] = [];
  for (const sub of ['mail', 'fuzz', 'historic']) {
    for (const f of fs.readdirSync(path.join(patchworkDir, sub)).sort()) out.push([`${sub}/${f}`, fs.readFileSync(path.join(patchworkDir, sub, f))]);
  }
  for (const dir of [path.join(patchworkDir, 'series'), path.join(corpusDir, 'b4')]) {
    for (const f of fs.readdirSync(dir).sort()) {
      if (!f.endsWith('.mbox')) continue;
      splitMbox(fs.readFileSync(path.join(dir, f))).forEach((m, i) => out.push([`${path.basename(dir)}/${f}#${i}`, m]));
    }
  }
  return out;
}

describe('fast path == simpleParser path', () => {
  it('on every corpus message (patchwork mail, fuzz, historic, series; b4)', async () => {
    const messages = corpusMessages();
    expect(messages.length).toBeGreaterThan(100);
    let single = 0;
    for (const [label, raw] of messages) {
      if (isSinglePart(raw)) single++;
      await expectSameResult(raw, label);
    }
    // most of the corpus is single-part, so the fast path was really exercised
    expect(single).toBeGreaterThan(messages.length / 2);
  });

  describe('on the real archive', () => {
    let gitDir = '/tmp/virt.git';
    let tmp: string | null = null;
    const blobs: Buffer[] = [];

    beforeAll(() => {
      if (!fs.existsSync(path.join(gitDir, 'HEAD'))) {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'patchgate-virt-'));
        gitDir = path.join(tmp, 'virt.git');
        execFileSync('git', ['clone', '-q', '--bare', path.join(corpusDir, 'archive', 'virtualization-2019-2020.bundle'), gitDir]);
      }
      const commits = execFileSync('git', ['--git-dir', gitDir, 'rev-list', '--reverse', 'master'], { maxBuffer: 64 << 20 })
        .toString()
        .split('\n')
        .filter(Boolean)
        .slice(0, ARCHIVE_MESSAGES);
      const out = execFileSync('git', ['--git-dir', gitDir, 'cat-file', '--batch'], {
        input: commits.map((c) => `${c}:m`).join('\n') + '\n',
        maxBuffer: 1 << 30,
      });
      let pos = 0;
      while (pos < out.length) {
        const nl = out.indexOf(10, pos);
        const size = Number(out.toString('latin1', pos, nl).split(' ')[2]);
        blobs.push(out.subarray(nl + 1, nl + 1 + size));
        pos = nl + 1 + size + 1;
      }
    }, 120_000);

    afterAll(() => {
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    it(`first ${ARCHIVE_MESSAGES} messages`, async () => {
      expect(blobs).toHaveLength(ARCHIVE_MESSAGES);
      const kinds = new Map<string, number>();
      for (let i = 0; i < blobs.length; i++) {
        await expectSameResult(blobs[i], `archive message ${i}`);
        const k = (await parseMessage(blobs[i])).kind;
        kinds.set(k, (kinds.get(k) ?? 0) + 1);
      }
      // a real list archive: mostly patches and review comments, no rejects
      expect(kinds.get('rejected') ?? 0).toBe(0);
      expect(kinds.get('patch') ?? 0).toBeGreaterThan(100);
      expect(kinds.get('comment') ?? 0).toBeGreaterThan(100);
    }, 120_000);
  });
});
