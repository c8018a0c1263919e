// The kernel builder's code path on a small real C tree with a Kbuild-style Makefile: real make, gcc,
// ccache and git; per-patch builds in a warm out dir; new warnings by identity.
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBuild, toContractRows, type BuildResult } from '../../src/build/index.js';
import { buildKernelConfig } from '../../src/build/kernel.js';
import { buildSettingsSchema, type BuildSettings } from '../../src/build/settings.js';
import { TUN_C, commitPatch, createMiniTree, git, writeFragment } from './build-mini-tree.js';

let root: string;
let src: string;
let base: string;
let settings: BuildSettings;
const patches: { msgid: string; commit: string }[] = [];

const TUN_P1 = TUN_C.replace('#include "util.h"\n', '#include "util.h"\n\n/* three\n * new\n * lines */\n').replace(
  'int tun_close(int fd)\n{\n',
  'int tun_close(int fd)\n{\n\tint added_unused;\n\n',
);
const TUN_P3 = TUN_P1.replace('\tint added_unused;\n\n', '').replace('\tint old_unused;\n', '\tint old_unused;\n\tint swapped_unused;\n');

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'pg-build-'));
  chmodSync(root, 0o755);
  src = path.join(root, 'tree');
  base = createMiniTree(src);
  const frag = writeFragment(root, 'net', 'CONFIG_NET=y\nCONFIG_TUN=y\n');
  settings = buildSettingsSchema.parse({
    work_dir: path.join(root, 'work'),
    artifacts_dir: path.join(root, 'artifacts'),
    jobs: 2,
    configs: [{ name: 'mini', base: 'tinyconfig', fragments: [frag] }],
    sandbox: { allow_unsandboxed: true },
  });
  git(src, 'checkout', '-q', '-b', 'series');
  const add = (n: number, files: Record<string, string>, subject: string) => patches.push({ msgid: `<p${n}@test>`, commit: commitPatch(src, files, subject) });
  add(1, { 'drivers/net/tun.c': TUN_P1 }, 'tun: add a comment and an unused variable');
  add(2, { 'init/main.c': '#include "util.h"\n\nint main(void)\n{\n\treturn util_twice(1);\n}\n' }, 'init: unrelated change');
  add(3, { 'drivers/net/tun.c': TUN_P3 }, 'tun: swap one unused variable for another');
  add(4, { 'include/util.h': '#ifndef UTIL_H\n#define UTIL_H\nint util_twice(int x);\nstatic int util_helper(void) { return 0; }\n#endif\n' }, 'util: unused static helper in a header');
  add(5, { 'init/main.c': '#include "util.h"\n\nint main(void)\n{\n\treturn util_twice(1)\n}\n' }, 'init: break the build');
}, 60_000);

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

function ctx(over: Partial<BuildSettings> = {}) {
  return { seriesId: 'mini-series', version: 1, tree: { name: 'mini', dir: src }, base, patches, settings: { ...settings, ...over }, workerId: 'w0' };
}

describe('per-patch kernel-style builds on a small C tree', () => {
  let first: BuildResult;

  it('builds every patch in order and reports new warnings by identity', async () => {
    first = await runBuild(ctx());
    expect(first.builder).toBe('kernel');
    const cfg = first.configs[0];
    expect(cfg.config_mismatches).toEqual([]);
    expect(cfg.base.status).toBe('success');
    const [p1, p2, p3, p4, p5] = cfg.patches;
    // patch 1 shifted the old warning by 4 lines: it is not new; only its own unused variable is
    expect(p1.status).toBe('warning');
    expect(p1.new_warnings).toEqual([{ file: 'drivers/net/tun.c', line: 16, message: "unused variable 'added_unused' [-Wunused-variable]" }]);
    expect(p1.fixed_warnings).toEqual([]);
    // an unrelated patch adds nothing, although tun.c still warns
    expect(p2.status).toBe('success');
    expect(p2.new_warnings).toEqual([]);
    // a warning swapped for another: same count, 1 new + 1 fixed
    expect(p3.status).toBe('warning');
    expect(p3.new_warnings.map((w) => w.message)).toEqual(["unused variable 'swapped_unused' [-Wunused-variable]"]);
    expect(p3.fixed_warnings.map((w) => w.message)).toEqual(["unused variable 'added_unused' [-Wunused-variable]"]);
    // a header warning printed by every object that includes it is one new warning
    expect(p4.status).toBe('warning');
    expect(p4.new_warnings).toEqual([{ file: 'include/util.h', line: 4, message: "'util_helper' defined but not used [-Wunused-function]" }]);
    // a broken build names the file, line and message
    expect(p5.status).toBe('failure');
    expect(p5.errors.length).toBeGreaterThan(0);
    expect(p5.errors[0]).toMatchObject({ file: 'init/main.c', line: 5 });
    expect(p5.errors[0].message).toMatch(/expected ';'/);
    // the checkout is back where it was
    expect(git(src, 'rev-parse', 'HEAD').trim()).toBe(patches[4].commit);
    expect(git(src, 'symbolic-ref', '--short', 'HEAD').trim()).toBe('series');
    // logs and .config are kept as artifacts
    expect(existsSync(path.join(cfg.artifacts!, 'config'))).toBe(true);
    expect(readFileSync(p1.log!, 'utf8')).toContain('drivers/net/tun.o');
  }, 120_000);

  it('gives the same verdicts again in the warm out dir, recompiling only what changed', async () => {
    const again = await runBuild(ctx());
    const strip = (r: BuildResult) => r.configs[0].patches.map((p) => ({ s: p.status, n: p.new_warnings, f: p.fixed_warnings, e: p.errors }));
    expect(strip(again)).toEqual(strip(first));
    // no new configuration, and patch 2 (init/main.c) recompiled only init/main.o
    const logs = readdirSync(path.dirname(again.configs[0].base.log!));
    expect(logs.some((f) => f.includes('config-'))).toBe(false);
    const p2Log = readFileSync(again.configs[0].patches[1].log!, 'utf8');
    expect(p2Log).toContain('  CC      init/main.o');
    expect(p2Log).not.toMatch(/CC\s+(lib\/util|net\/core|drivers\/net\/tun)\.o/);
  }, 120_000);

  it('maps to the contract rows', () => {
    const rows = toContractRows(first, [...patches.map((p) => p.msgid), '<not-built@test>']);
    expect(rows.map((r) => r.status)).toEqual(['warning', 'success', 'warning', 'warning', 'failure', 'skipped']);
    expect(Object.keys(rows[0]).sort()).toEqual(['errors', 'msgid', 'new_warnings', 'status']);
  });

  it('builds only the series head when per_patch is off', async () => {
    const r = await runBuild(ctx({ configs: [{ ...settings.configs[0], per_patch: false }] }));
    const statuses = r.configs[0].patches.map((p) => p.status);
    expect(statuses).toEqual(['skipped', 'skipped', 'skipped', 'skipped', 'failure']);
    expect(r.configs[0].patches[0].detail).toMatch(/head/);
  }, 120_000);

  it('reports fragment options that the final .config dropped', async () => {
    const frag = writeFragment(root, 'tun-only', 'CONFIG_TUN=y\n');
    const r = await buildKernelConfig({ ...ctx(), patches: [] }, { name: 'mini-nonet', base: 'tinyconfig', fragments: [frag], per_patch: true, targets: [], strict_config: false });
    expect(r.config_mismatches).toEqual([{ option: 'CONFIG_TUN', wanted: 'y', got: 'n', fragment: frag }]);
    const strict = await buildKernelConfig({ ...ctx(), patches: [] }, { name: 'mini-nonet', base: 'tinyconfig', fragments: [frag], per_patch: true, targets: [], strict_config: true });
    expect(strict.status).toBe('failure');
    expect(strict.base.errors[0].message).toContain('CONFIG_TUN=y');
  }, 120_000);
});
