import { describe, expect, it } from 'vitest';
import { headsSettingsFrom } from '../../../src/heads/settings.js';
import { parseSettings } from '../../../src/settings/load.js';

describe('heads settings', () => {
  it('defaults to a weekly schedule per tree and checks cron syntax at load time', () => {
    const s = parseSettings({ heads: { trees: [{ tree: 'net-next' }, { tree: 'kvm', schedule: '30 4 * * 0', tz: 'Europe/Berlin' }] } });
    const h = headsSettingsFrom(s as Record<string, unknown>);
    expect(h.trees.map((t) => [t.tree, t.schedule, t.enabled, t.bisect])).toEqual([['net-next', '0 3 * * 1', true, true], ['kvm', '30 4 * * 0', true, true]]);
    expect(h).toMatchObject({ boots: 5, step_boots: 4, max_retries: 2, cells: ['tcp_rr'], work_dir: 'var/heads' });
    expect(() => parseSettings({ heads: { trees: [{ tree: 'x', schedule: 'weekly' }] } })).toThrow(/heads\.trees\.0\.schedule/);
    expect(headsSettingsFrom(parseSettings({}) as Record<string, unknown>).trees).toEqual([]);
  });
});
