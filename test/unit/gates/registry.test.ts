import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { combineGateStatus, gates, runGates } from '../../../src/gates/registry.js';
import type { Gate } from '../../../src/gates/types.js';
import { TUN_C, commit, createRepo, formatPatch, gateContext, gatePatch } from './gate-repo.js';

describe('gate registry', () => {
  it('holds the static gates, each with id, appliesTo, settings schema and run', () => {
    for (const id of ['checkpatch', 'signoff', 'fixes', 'series-format', 'maintainers-cc']) {
      const g = gates.get(id);
      expect(g?.id).toBe(id);
      expect(typeof g?.appliesTo).toBe('function');
      expect(typeof g?.run).toBe('function');
      expect(g?.settingsSchema.parse({})).toBeTypeOf('object');
    }
  });

  it('combines statuses with failure sticking', () => {
    expect(combineGateStatus(['success', 'warning', 'failure', 'success'])).toBe('failure');
    expect(combineGateStatus(['skipped', 'success'])).toBe('success');
    expect(combineGateStatus([])).toBe('skipped');
  });

  it('runs the gates that apply, with their settings, and skips disabled ones', async () => {
    const dir = createRepo();
    const sha = commit(dir, { 'drivers/net/tun.c': `${TUN_C}/* x */\n` }, 'tun: x\n\nFixes: 0123456789ab ("tun: nothing")');
    const ctx = gateContext(dir, [gatePatch(1, formatPatch(dir, sha), sha)]);
    const out = await runGates(ctx, { settings: { fixes: { missing: 'warning' }, 'series-format': { enabled: false } } });
    const byId = new Map(out.map((o) => [o.id, o]));
    expect(byId.has('series-format')).toBe(false);
    expect(byId.get('signoff')?.status).toBe('failure'); // no Signed-off-by at all
    expect(byId.get('fixes')?.status).toBe('warning'); // missing commit, lowered to a warning by the settings
    expect(byId.get('checkpatch')?.status).toBe('skipped'); // no scripts/checkpatch.pl in this tree
  });

  it('reports a gate that crashes as skipped and runs the others', async () => {
    const boom: Gate<{ x: number }> = {
      id: 'boom', description: 'throws', settingsSchema: z.object({ x: z.number().default(1) }),
      appliesTo: () => true,
      run: async () => { throw new Error('tool missing\nmore'); },
    };
    const ok: Gate<unknown> = { id: 'ok', description: 'ok', settingsSchema: z.object({}), appliesTo: () => true, run: async () => ({ status: 'success', summary: 'fine', details: [] }) };
    const registry = new Map<string, Gate<unknown>>([['boom', boom as Gate<unknown>], ['ok', ok]]);
    const out = await runGates(gateContext(null, []), { registry });
    expect(out).toEqual([
      { id: 'boom', status: 'skipped', summary: 'boom: could not run (tool missing)', details: [] },
      { id: 'ok', status: 'success', summary: 'fine', details: [] },
    ]);
  });
});
