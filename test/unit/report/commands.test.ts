// Command lines and sender checks (pure parts of src/report/commands.ts).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../../src/mail/parse.js';
import { buildCommandReply, parseCommands, senderMismatch, type CommandRecord } from '../../../src/report/commands.js';
import { formatMailPreview } from '../../../src/report/mail.js';

const goldenFile = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'golden', 'mail-command-answer.txt');

describe('parseCommands', () => {
  it('reads unquoted `patchgate:` lines at the start of a line, any case, with their argument', () => {
    const body = [
      'On Mon, Jane wrote:',
      '> patchgate: superseded',
      '>> patchgate: retest',
      '  > patchgate: tree net',
      '',
      'Thanks.',
      'patchgate: retest',
      'Patchgate:   tree   net-next  ',
      'PATCHGATE: skip perf',
      'I said patchgate: retest earlier', // not at the start of the line
      'patchgate:',                       // no command
      'patchgate: base 0123abcd extra',
    ].join('\n');
    expect(parseCommands(body)).toEqual([
      { line: 7, command: 'retest', argument: null },
      { line: 8, command: 'tree', argument: 'net-next' },
      { line: 9, command: 'skip', argument: 'perf' },
      { line: 12, command: 'base', argument: '0123abcd extra' },
    ]);
  });

  it('CRLF bodies and a body with no command', () => {
    expect(parseCommands('hi\r\npatchgate: retest\r\n')).toEqual([{ line: 2, command: 'retest', argument: null }]);
    expect(parseCommands('Reviewed-by: A <a@b.org>\n')).toEqual([]);
  });
});

async function mail(headers: string[]) {
  const raw = Buffer.from([...headers, 'Subject: Re: [PATCH] x', 'Message-ID: <m@example.org>', '', 'patchgate: retest', ''].join('\n'));
  return { raw, msg: await parseMessage(raw) };
}

describe('senderMismatch', () => {
  const lists = new Set(['vger.kernel.org']);

  it('accepts a matching envelope, the same domain, a list bounce address, or no delivery headers at all', async () => {
    for (const h of [[], ['Return-Path: <maint@example.org>'], ['Return-Path: <maint+x@mail.example.org>'],
      ['Return-Path: <netdev+bounces-1-maint=example.org@vger.kernel.org>', 'Sender: netdev@vger.kernel.org'],
      ['Authentication-Results: mx; dkim=pass header.d=example.org; dmarc=pass']]) {
      const { raw, msg } = await mail(['From: M <maint@example.org>', ...h]);
      expect(senderMismatch(msg, raw, lists)).toBeNull();
    }
  });

  it('refuses another envelope, another Sender, a DMARC failure and a bounce', async () => {
    const cases: [string[], string][] = [
      [['Return-Path: <x@evil.example>'], 'envelope sender x@evil.example does not match From maint@example.org'],
      [['Sender: Someone <x@evil.example>'], 'Sender x@evil.example does not match From maint@example.org'],
      [['Authentication-Results: mx; dmarc=fail (p=reject) header.from=example.org'], 'Authentication-Results: dmarc=fail for example.org'],
      [['Return-Path: <>'], 'envelope sender is empty (a bounce)'],
    ];
    for (const [h, why] of cases) {
      const { raw, msg } = await mail(['From: M <maint@example.org>', ...h]);
      expect(senderMismatch(msg, raw, lists)).toBe(why);
    }
  });
});

describe('the answer to a command message (golden: test/fixtures/golden/mail-command-answer.txt)', () => {
  it('quotes each command line with its acknowledgement or refusal, threaded to the command, automated', async () => {
    const raw = Buffer.from([
      'From: Net Maintainer <maint@example.org>', 'To: Jane Dev <jane@example.org>', 'Cc: netdev@vger.kernel.org',
      'Subject: Re: [PATCH net-next 0/2] net: frob improvements', 'Message-ID: <cmd-1@example.org>',
      'In-Reply-To: <cover.1700000120.git.jane@example.org>', 'References: <cover.1700000120.git.jane@example.org>', '',
      'patchgate: retest', 'patchgate: tree linux-next', '',
    ].join('\n'));
    const msg = await parseMessage(raw);
    const base = { msgid: msg.msgid, seriesId: 'net-frob-improvements', version: 1, sender: 'maint@example.org' };
    const records: CommandRecord[] = [
      { ...base, line: 1, command: 'retest', argument: null, state: 'accepted', reason: 'net-frob-improvements v1 queued for a new run' },
      { ...base, line: 2, command: 'tree', argument: 'linux-next', state: 'refused', reason: 'unknown tree linux-next (configured: net-next, net)' },
    ];
    const mail = buildCommandReply(msg, records, 'patchgate <bot@patchgate.example.org>');
    const preview = formatMailPreview(mail);
    if (process.env.UPDATE_GOLDEN === '1' || !existsSync(goldenFile)) {
      if (process.env.UPDATE_GOLDEN !== '1') throw new Error('missing golden file: run with UPDATE_GOLDEN=1 and review it');
      writeFileSync(goldenFile, preview);
    }
    expect(preview).toBe(readFileSync(goldenFile, 'utf8'));
    expect(mail.inReplyTo).toBe('<cmd-1@example.org>');
    expect(mail.references).toEqual(['<cover.1700000120.git.jane@example.org>', '<cmd-1@example.org>']);
    expect(mail.to).toEqual([{ name: 'Net Maintainer', email: 'maint@example.org' }]);
    expect(mail.cc).toEqual([]);
    // nothing in it reads as a command: patchgate would never act on it anyway (its own mail)
    expect(parseCommands(mail.text)).toEqual([]);
    for (const line of mail.text.split('\n')) expect(line.length).toBeLessThanOrEqual(72);
  });
});
