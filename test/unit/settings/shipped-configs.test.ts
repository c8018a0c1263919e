// The configuration files the project ships load and validate: the embedded default, the main job's, and the
// real lists (lore's kvm, netdev, qemu-devel and virtualization inboxes; patchwork.kernel.org's netdevbpf).
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../../src/settings/load.js';
import { repoRoot } from '../../helpers/archive.js';

const cfg = (f: string) => path.join(repoRoot, 'config', f);

describe('shipped configuration files', () => {
  it('upstream.yaml follows the real lists and patchwork, and replies only to the outbox', () => {
    const s = loadSettings(cfg('upstream.yaml'), { PATCHWORK_TOKEN: 'secret' });
    expect(s.sources.map((x) => [x.name, x.type])).toEqual([
      ['kvm', 'public-inbox-http'], ['netdev', 'public-inbox-http'], ['qemu-devel', 'public-inbox-http'],
      ['virtualization', 'public-inbox-http'], ['netdevbpf', 'patchwork'],
    ]);
    expect(s.reply.mode).toBe('dry-run');
  });

  it('the embedded default and the main job configuration load, and the default never sends', () => {
    expect(loadSettings(cfg('default.yaml'), {}).reply.mode).toBe('dry-run');
    const demo = loadSettings(cfg('demo.yaml'), {});
    for (const s of demo.sources) if ('url' in s && s.url) expect(new URL(s.url).hostname).toBe('127.0.0.1');
    expect(new URL(demo.smtp.url).hostname).toBe('127.0.0.1');
  });
});
