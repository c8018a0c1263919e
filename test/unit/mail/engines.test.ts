// The fast path (single-part mail and common multipart shapes decoded here) and mailparser's
// simpleParser must give the same ParsedMessage, on every corpus file and on the first 500
// messages of the real archive.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMessage } from '../../../src/mail/parse.js';
import { splitHeaders, parseContentType, headerBytesToText, unfold } from '../../../src/mail/mime.js';
import { readMultipart } from '../../../src/mail/multipart.js';
import { corpusDir, patchworkDir, splitMbox } from './corpus.js';

const ARCHIVE_MESSAGES = 500;

/** Whether the fast path decodes this message itself (else it goes to mailparser either way). */
function fastPathReads(raw: Buffer): boolean {
  const split = splitHeaders(raw);
  const h = split.headers.find((x) => x.name === 'content-type');
  const ct = parseContentType(h ? unfold(headerBytesToText(h.raw)) : undefined);
  if (!ct.type.startsWith('multipart/')) return true;
  return readMultipart(raw, split.bodyStart, ct) !== null;
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
    let fast = 0;
    let multipart = 0;
    for (const [label, raw] of messages) {
      if (fastPathReads(raw)) fast++;
      if (raw.includes('multipart/')) multipart++;
      await expectSameResult(raw, label);
    }
    // the fast path really read most of them, multipart ones included
    expect(fast).toBeGreaterThan(messages.length * 0.9);
    expect(multipart).toBeGreaterThanOrEqual(4);
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
      let fastMultipart = 0;
      for (let i = 0; i < blobs.length; i++) {
        if (blobs[i].includes('Content-Type: multipart/') && fastPathReads(blobs[i])) fastMultipart++;
        await expectSameResult(blobs[i], `archive message ${i}`);
        const k = (await parseMessage(blobs[i])).kind;
        kinds.set(k, (kinds.get(k) ?? 0) + 1);
      }
      // a real list archive: mostly patches and review comments, no rejects
      expect(kinds.get('rejected') ?? 0).toBe(0);
      expect(kinds.get('patch') ?? 0).toBeGreaterThan(100);
      expect(kinds.get('comment') ?? 0).toBeGreaterThan(100);
      expect(fastMultipart).toBeGreaterThan(10);
    }, 120_000);
  });
});
