import { describe, expect, it } from 'vitest';
import { signoffGate, signoffSettingsSchema } from '../../../src/gates/signoff/index.js';
import { AUTHOR, TUN_C, commit, createRepo, formatPatch, gateContext, gatePatch } from './gate-repo.js';

const settings = signoffSettingsSchema.parse({});
const SUBMITTER = { name: 'Sam Submitter', email: 'sam@example.net' };

describe('signoff gate on real patches', () => {
  const dir = createRepo();
  const signed = commit(dir, { 'drivers/net/tun.c': `${TUN_C}/* a */\n` }, 'tun: one\n\nBody.\n\nSigned-off-by: Ada Author <ada@example.org>');
  const unsigned = commit(dir, { 'drivers/net/tun.c': `${TUN_C}/* b */\n` }, 'tun: two\n\nBody.\n\nReviewed-by: Sam Submitter <sam@example.net>');
  const both = commit(dir, { 'drivers/net/tun.c': `${TUN_C}/* c */\n` }, 'tun: three\n\nBody.\n\nSigned-off-by: Ada Author <ada@example.org>\nSigned-off-by: Sam Submitter <sam@example.net>');
  const otherAddr = commit(dir, { 'drivers/net/tun.c': `${TUN_C}/* d */\n` }, 'tun: four\n\nBody.\n\nSigned-off-by: Ada Author <ada@work.example.com>');

  it('passes when the author signed off and is the submitter', async () => {
    const r = await signoffGate.run(gateContext(dir, [gatePatch(1, formatPatch(dir, signed), signed)]), settings);
    expect(r.status).toBe('success');
  });

  it('fails a patch without the author sign-off (a Reviewed-by is not one)', async () => {
    const r = await signoffGate.run(gateContext(dir, [gatePatch(1, formatPatch(dir, signed), signed), gatePatch(2, formatPatch(dir, unsigned), unsigned)]), settings);
    expect(r.status).toBe('failure');
    expect(r.details.map((d) => d.status)).toEqual(['success', 'failure']);
    expect(r.details[1].message).toContain('no Signed-off-by from the author Ada Author <ada@example.org>');
    expect(r.summary).toMatch(/1 of 2 patches/);
  });

  it('wants the submitter too when someone else mailed the patch', async () => {
    const r = await signoffGate.run(gateContext(dir, [gatePatch(1, formatPatch(dir, signed), signed)], { submitter: SUBMITTER }), settings);
    expect(r.status).toBe('failure');
    expect(r.details[0].message).toContain('submitter Sam Submitter');
    const ok = await signoffGate.run(gateContext(dir, [gatePatch(3, formatPatch(dir, both), both)], { submitter: SUBMITTER }), settings);
    expect(ok.status).toBe('success');
  });

  it('warns when only the name matches, and reads the commit when there is no mail', async () => {
    const r = await signoffGate.run(gateContext(dir, [gatePatch(4, null, otherAddr)]), settings);
    expect(r.status).toBe('warning');
    expect(r.details[0].message).toContain('another address');
    expect(AUTHOR.email).toBe('ada@example.org');
  });
});
