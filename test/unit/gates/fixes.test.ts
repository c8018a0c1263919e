import { describe, expect, it } from 'vitest';
import { fixesGate, fixesSettingsSchema, parseFixes } from '../../../src/gates/fixes/index.js';
import { TUN_C, commit, createRepo, formatPatch, gateContext, gatePatch } from './gate-repo.js';

const settings = fixesSettingsSchema.parse({});

describe('parseFixes', () => {
  it('accepts 12+ lower-case hex and ("subject")', () => {
    expect(parseFixes('0123456789ab ("net: fix it")')).toEqual({ raw: '0123456789ab ("net: fix it")', sha: '0123456789ab', subject: 'net: fix it', problem: null });
  });
  it('names what is wrong', () => {
    expect(parseFixes('01234567 ("short")').problem).toMatch(/8 characters/);
    expect(parseFixes('0123456789ab net: no parens').problem).toMatch(/\("subject"\)/);
    expect(parseFixes('0123456789AB ("upper")').problem).toMatch(/lower-case/);
    expect(parseFixes('https://example.org/bug').problem).toBe('no commit id');
  });
});

describe('fixes gate on a real repository', () => {
  const dir = createRepo();
  const buggy = commit(dir, { 'drivers/net/tun.c': `${TUN_C}/* bug */\n` }, 'tun: introduce a bug\n\nSigned-off-by: Ada Author <ada@example.org>');
  const short = buggy.slice(0, 12);
  const mk = (n: number, trailer: string) => {
    const sha = commit(dir, { 'drivers/net/tun.c': `${TUN_C}/* fix ${n} */\n` }, `tun: fix ${n}\n\nBody.\n\n${trailer}\nSigned-off-by: Ada Author <ada@example.org>`);
    return gatePatch(n, formatPatch(dir, sha), sha);
  };
  const good = mk(1, `Fixes: ${short} ("tun: introduce a bug")`);
  const wrongSubject = mk(2, `Fixes: ${short} ("tun: something else")`);
  const unknown = mk(3, 'Fixes: 0123456789abcdef ("tun: never existed")');
  const malformed = mk(4, `Fixes: ${buggy.slice(0, 8)} ("tun: introduce a bug")`);
  const none = mk(5, 'Link: https://example.org/x');

  it('passes a well-formed tag naming a commit of the tree with its subject', async () => {
    const r = await fixesGate.run(gateContext(dir, [good]), settings);
    expect(r.status).toBe('success');
    expect(r.details).toEqual([{ msgid: good.msgid, status: 'success', message: `Fixes: ${short} ("tun: introduce a bug"): found in the tree` }]);
  });

  it('warns on a subject that differs from the commit', async () => {
    const r = await fixesGate.run(gateContext(dir, [wrongSubject]), settings);
    expect(r.status).toBe('warning');
    expect(r.details[0].message).toContain('"tun: introduce a bug"');
  });

  it('fails a commit the tree does not have, and a malformed tag', async () => {
    const r = await fixesGate.run(gateContext(dir, [unknown, malformed]), settings);
    expect(r.details.map((d) => d.status)).toEqual(['failure', 'failure']);
    expect(r.details[0].message).toContain('is not in net-next');
    expect(r.details[1].message).toMatch(/at least 12/);
    expect(r.summary).toBe('2 of 2 Fixes: tags have problems');
  });

  it('a series without Fixes: tags passes', async () => {
    expect((await fixesGate.run(gateContext(dir, [none]), settings)).summary).toBe('no Fixes: tags');
  });
});
