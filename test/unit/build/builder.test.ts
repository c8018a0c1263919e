import { describe, expect, it } from 'vitest';
import { combineBuildStatus, runBuild, toContractRows, type Builder, type BuildContext, type BuildResult } from '../../../src/build/builder.js';
import { buildSettingsSchema } from '../../../src/build/settings.js';

function ctx(over: Partial<BuildContext['tree']> = {}): BuildContext {
  return { seriesId: 's', version: 1, tree: { name: 't', dir: '/nonexistent', ...over }, base: 'b', patches: [], settings: buildSettingsSchema.parse({}), workerId: 'w' };
}

function fake(id: 'kernel' | 'qemu', applies: boolean): Builder & { calls: number } {
  const b = {
    id, calls: 0,
    appliesTo: () => applies,
    async build(): Promise<BuildResult> {
      b.calls++;
      return { builder: id, status: 'success', summary: id, configs: [] };
    },
  };
  return b;
}

describe('runBuild', () => {
  it('uses the first builder that applies', async () => {
    const k = fake('kernel', false);
    const q = fake('qemu', true);
    expect((await runBuild(ctx(), [k, q])).builder).toBe('qemu');
    expect(k.calls).toBe(0);
  });
  it("follows the tree's builder setting, and skips when that builder does not apply", async () => {
    const k = fake('kernel', true);
    const q = fake('qemu', false);
    expect((await runBuild(ctx({ builder: 'kernel' }), [q, k])).builder).toBe('kernel');
    const r = await runBuild(ctx({ builder: 'qemu' }), [q, k]);
    expect(r.status).toBe('skipped');
    expect(r.summary).toContain('qemu asked for');
  });
});

describe('toContractRows', () => {
  it('merges configs per patch: worst status, union of warnings and errors', () => {
    const w = (m: string) => ({ file: 'a.c', line: 1, message: m });
    const patch = (msgid: string, status: 'success' | 'warning' | 'failure', nw: string[], err: string[] = []) => ({ msgid, commit: 'c', status, new_warnings: nw.map(w), fixed_warnings: [], errors: err.map(w), duration_ms: 1 });
    const cfg = (name: string, patches: ReturnType<typeof patch>[]) => ({ config: name, status: combineBuildStatus(patches.map((p) => p.status)), base: { status: 'success' as const, duration_ms: 1, errors: [] }, patches, config_mismatches: [], artifacts: null });
    const result: BuildResult = {
      builder: 'kernel', status: 'failure', summary: '',
      configs: [cfg('tiny', [patch('<1>', 'warning', ['x']), patch('<2>', 'success', [])]), cfg('allmod', [patch('<1>', 'warning', ['x', 'y']), patch('<2>', 'failure', [], ['boom'])])],
    };
    expect(toContractRows(result, ['<1>', '<2>', '<3>'])).toEqual([
      { msgid: '<1>', status: 'warning', new_warnings: [w('x'), w('y')], errors: [] },
      { msgid: '<2>', status: 'failure', new_warnings: [], errors: [w('boom')] },
      { msgid: '<3>', status: 'skipped', new_warnings: [], errors: [] },
    ]);
  });
});
