// checkpatch.pl from linux-source-6.1 on real patches in a real repository (skipped when this
// machine has neither the tarball nor an imported tree).
import { describe, expect, it } from 'vitest';
import { checkpatchGate, checkpatchSettingsSchema, parseCheckpatch } from '../../../src/gates/checkpatch/index.js';
import { TUN_C, commit, createRepo, formatPatch, gateContext, gatePatch, kernelFiles, kernelScripts } from './gate-repo.js';

// checkpatch.pl 6.1 output, --show-types
const OUTPUT = `WARNING:LONG_LINE: line length of 104 exceeds 100 columns
#25: FILE: drivers/net/tun.c:7:
+\treturn dev + 1; /* xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx */

ERROR:MISSING_SIGN_OFF: Missing Signed-off-by: line(s)

total: 1 errors, 1 warnings, 0 checks, 8 lines checked
`;

describe('parseCheckpatch', () => {
  it('reads level, type, message, place and totals', () => {
    const r = parseCheckpatch(OUTPUT);
    expect(r).toMatchObject({ errors: 1, warnings: 1, checks: 0, complete: true });
    expect(r.issues).toEqual([
      { level: 'WARNING', type: 'LONG_LINE', message: 'line length of 104 exceeds 100 columns', file: 'drivers/net/tun.c', line: 7 },
      { level: 'ERROR', type: 'MISSING_SIGN_OFF', message: 'Missing Signed-off-by: line(s)', file: null, line: null },
    ]);
  });
  it('marks output without a total line incomplete', () => {
    expect(parseCheckpatch('Can\'t locate foo.pm\n').complete).toBe(false);
  });
});

const scripts = kernelScripts();

describe.skipIf(!scripts)('checkpatch gate with the kernel\'s checkpatch.pl', () => {
  const settings = checkpatchSettingsSchema.parse({});
  const dir = createRepo({ ...kernelFiles(scripts!), 'drivers/net/tun.c': TUN_C });
  const clean = commit(dir, { 'drivers/net/tun.c': TUN_C.replace('\treturn dev;\n', '\treturn dev + 1;\n') }, 'tun: return one more\n\nMake tun_net_open return one more than it did.\n\nSigned-off-by: Ada Author <ada@example.org>');
  const dirty = commit(dir, { 'drivers/net/tun.c': TUN_C.replace('\treturn dev;\n', '\treturn dev + 2;  \n') }, 'tun: return two more\n\nMake tun_net_open return two more.');
  const check = commit(dir, { 'drivers/net/tun.c': TUN_C.replace('\treturn dev;\n', '\treturn dev+3;\n') }, 'tun: three more\n\nReturn three more.\n\nSigned-off-by: Ada Author <ada@example.org>');

  it('passes a clean patch, fails one with trailing whitespace and no sign-off, warns on --strict checks', async () => {
    const ctx = gateContext(dir, [gatePatch(1, formatPatch(dir, clean), clean), gatePatch(2, formatPatch(dir, dirty), dirty), gatePatch(3, formatPatch(dir, check), check)]);
    expect(checkpatchGate.appliesTo(ctx)).toBe(true);
    const r = await checkpatchGate.run(ctx, settings);
    expect(r.details.map((d) => d.status)).toEqual(['success', 'failure', 'warning']);
    expect(r.details[1].message).toContain('ERROR:TRAILING_WHITESPACE');
    expect(r.details[1].message).toContain('MISSING_SIGN_OFF');
    expect(r.details[2].message).toContain('CHECK:SPACING');
    expect(r.status).toBe('failure');
    expect(r.summary).toMatch(/^checkpatch --strict: \d+ errors?, \d+ warnings?, \d+ checks? in 2 of 3 patches$/);
  }, 60_000);

  it('honours ignored types', async () => {
    const ctx = gateContext(dir, [gatePatch(3, null, check)]);
    const r = await checkpatchGate.run(ctx, checkpatchSettingsSchema.parse({ ignore: ['SPACING'] }));
    expect(r.status).toBe('success');
  }, 60_000);
});
