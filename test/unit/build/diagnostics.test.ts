import { describe, expect, it } from 'vitest';
import { formatDiagnostic, parseBuildLog, uniqueDiagnostics } from '../../../src/build/diagnostics.js';

// Output of gcc 12 on Debian 12 (LC_ALL=C) under Kbuild with O=, as make --output-sync=target prints it.
const KBUILD_LOG = [
  '  SYNC    include/config/auto.conf.cmd',
  '  HOSTCC  scripts/basic/fixdep',
  '  CC      drivers/net/tun.o',
  '/tmp/linux-6.1/drivers/net/tun.c: In function \'tun_get_user\':',
  '/tmp/linux-6.1/drivers/net/tun.c:1725:13: warning: unused variable \'pg_unused\' [-Wunused-variable]',
  ' 1725 |         int pg_unused;',
  '      |             ^~~~~~~~~',
  '  CC      net/core/dev.o',
  'In file included from /tmp/linux-6.1/net/core/dev.c:90:',
  '/tmp/linux-6.1/include/linux/skbuff.h:33:5: warning: \u2018x\u2019 is used uninitialized [-Wuninitialized]',
  '/tmp/linux-6.1/net/core/dev.c:12:1: error: expected \';\' before \'}\' token',
  '/tmp/linux-6.1/net/core/dev.c:40:7: error: unused variable \'y\' [-Werror=unused-variable]',
  'make[3]: *** [/tmp/linux-6.1/scripts/Makefile.build:250: net/core/dev.o] Error 1',
  '  LD      vmlinux.o',
  'vmlinux.o: warning: objtool: foo()+0x12: call to bar() leaves .noinstr.text section',
  '  AS      arch/x86/entry/entry_64.o',
  '/tmp/linux-6.1/arch/x86/entry/entry_64.S:55: Warning: something odd',
  'ld: vmlinux.o: in function `tun_chr_open\':',
  'tun.c:(.text+0x1a2): undefined reference to `tun_missing\'',
  'make[1]: *** [Makefile:1250: vmlinux] Error 2',
].join('\n');

describe('parseBuildLog', () => {
  const parsed = parseBuildLog(KBUILD_LOG, { srcDir: '/tmp/linux-6.1', outDir: '/var/build/out' });

  it('reads file, line, column, severity, flag and message of gcc diagnostics, relative to the tree', () => {
    expect(parsed.diagnostics[0]).toEqual({
      file: 'drivers/net/tun.c', line: 1725, column: 13, severity: 'warning', flag: '-Wunused-variable',
      message: "unused variable 'pg_unused'", unit: 'drivers/net/tun.o',
    });
  });

  it('attributes header diagnostics to the object being compiled and turns curly quotes into ASCII', () => {
    const d = parsed.diagnostics.find((x) => x.file === 'include/linux/skbuff.h');
    expect(d).toMatchObject({ line: 33, column: 5, unit: 'net/core/dev.o', message: "'x' is used uninitialized", flag: '-Wuninitialized' });
  });

  it('takes errors, and -Werror= warnings as errors with the plain flag', () => {
    const errs = parsed.diagnostics.filter((d) => d.severity === 'error');
    expect(errs.map((e) => [e.file, e.line, e.flag])).toEqual([
      ['net/core/dev.c', 12, null],
      ['net/core/dev.c', 40, '-Wunused-variable'],
      ['tun.c', 0, null],
    ]);
    expect(errs[2].message).toBe("undefined reference to `tun_missing'");
  });

  it('keeps link-stage warnings without a line and without an object', () => {
    const d = parsed.diagnostics.find((x) => x.file === 'vmlinux.o');
    expect(d).toMatchObject({ line: 0, severity: 'warning', unit: null });
    expect(d?.message).toMatch(/^objtool: foo\(\)/);
  });

  it('lists compiled objects (host tools too) and make failures', () => {
    expect(parsed.units).toEqual(['scripts/basic/fixdep', 'drivers/net/tun.o', 'net/core/dev.o', 'arch/x86/entry/entry_64.o']);
    expect(parsed.makeErrors).toHaveLength(2);
  });

  it('does not mistake source excerpt and context lines for diagnostics', () => {
    expect(parsed.diagnostics).toHaveLength(6);
  });

  it('reads clang output', () => {
    const clang = parseBuildLog(
      "drivers/net/tun.c:10:7: warning: variable 'n' set but not used [-Wunused-but-set-variable]\n    int n = 0;\n        ^\n1 warning generated.\n",
    );
    expect(clang.diagnostics).toEqual([
      { file: 'drivers/net/tun.c', line: 10, column: 7, severity: 'warning', flag: '-Wunused-but-set-variable', message: "variable 'n' set but not used", unit: null },
    ]);
  });

  it('collapses one header warning printed by many objects', () => {
    const log = ['  CC      a.o', 'include/x.h:3:1: warning: w [-Wfoo]', '  CC      b.o', 'include/x.h:3:1: warning: w [-Wfoo]'].join('\n');
    const all = parseBuildLog(log).diagnostics;
    expect(all).toHaveLength(2);
    expect(uniqueDiagnostics(all)).toHaveLength(1);
    expect(formatDiagnostic(all[0])).toBe('include/x.h:3:1: warning: w [-Wfoo]');
  });
});
