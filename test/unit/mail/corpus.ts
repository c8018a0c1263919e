// Helpers for the mail tests: where the shared corpus lives, and an mbox splitter.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const corpusDir = path.resolve(repoRoot, '..', 'shared', 'corpus');
export const patchworkDir = path.join(corpusDir, 'patchwork');

export function corpusFile(...parts: string[]): Buffer {
  return fs.readFileSync(path.join(patchworkDir, ...parts));
}

export function corpusFiles(sub: string): string[] {
  return fs
    .readdirSync(path.join(patchworkDir, sub))
    .filter((f) => f.endsWith('.mbox'))
    .sort();
}

/** Splits an mbox (mboxo/mboxrd, `From ` lines after a blank line) into raw messages. */
export function splitMbox(buf: Buffer): Buffer[] {
  const text = buf.toString('latin1');
  const starts: number[] = [];
  const re = /^From [^\n]*\n/gm;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    if (m.index === 0 || text.slice(Math.max(0, m.index - 2), m.index) === '\n\n' || text[m.index - 1] === '\n') {
      if (m.index === 0 || text[m.index - 2] === '\n' || m.index === 1) starts.push(m.index);
    }
  }
  if (!starts.length || starts[0] !== 0) starts.unshift(0);
  const out: Buffer[] = [];
  for (let i = 0; i < starts.length; i++) {
    const end = i + 1 < starts.length ? starts[i + 1] : text.length;
    out.push(Buffer.from(text.slice(starts[i], end), 'latin1'));
  }
  return out;
}

/** A minimal RFC 822 message for synthetic cases. */
export function makeMail(body: string, headers: Record<string, string> = {}): string {
  const h: Record<string, string> = {
    'Message-Id': '<test-1@example.com>',
    From: 'Test Author <test-author@example.com>',
    Subject: 'Test subject',
    'List-Id': '<test.example.com>',
    'Content-Type': 'text/plain; charset="us-ascii"',
    'Content-Transfer-Encoding': '7bit',
    ...headers,
  };
  return (
    Object.entries(h)
      .filter(([, v]) => v !== '')
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n') +
    '\n\n' +
    body
  );
}
