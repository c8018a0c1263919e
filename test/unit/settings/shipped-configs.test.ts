// The configuration files the project ships load and validate: the embedded default, the main job's, and the
// real lists (lore's kvm, netdev, qemu-devel and virtualization inboxes; patchwork.kernel.org's netdevbpf).
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { archiveRawUrl } from '../../../src/report/outbox.js';
import { archiveLookup, effectivePolicy } from '../../../src/report/policy.js';
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

  it('upstream.yaml looks a reply of unknown outcome up in the lore inbox its list is read from', () => {
    const s = loadSettings(cfg('upstream.yaml'), { PATCHWORK_TOKEN: 'secret' });
    const inboxOf: Record<string, string> = {
      'kvm@vger.kernel.org': 'kvm', 'netdev@vger.kernel.org': 'netdev',
      'qemu-devel@nongnu.org': 'qemu-devel', 'virtualization@lists.linux.dev': 'virtualization',
    };
    expect(Object.keys(s.reply.per_list).sort()).toEqual(Object.keys(inboxOf).sort());
    const read = new Set(s.sources.flatMap((x) => (x.type === 'public-inbox-http' ? [x.url.replace(/\/+$/, '')] : [])));
    for (const [list, inbox] of Object.entries(inboxOf)) {
      const lookup = archiveLookup(s.reply, list.toUpperCase());
      expect(lookup, list).not.toBeNull();
      expect(lookup!.url).toBe(`https://lore.kernel.org/${inbox}`);
      // the archive is the inbox a source of this file reads the list from
      expect(read.has(lookup!.url), list).toBe(true);
      expect(lookup!.graceMs).toBe(30 * 60_000);
      expect(lookup!.recheckMs).toBe(2 * 60_000);
      expect(archiveRawUrl(lookup!.url, '<20241126.1234-1-a@b.example>')).toBe(`https://lore.kernel.org/${inbox}/20241126.1234-1-a@b.example/raw`);
      // an archive entry does not enable sending
      expect(effectivePolicy(s.reply, list).send).toBe(false);
    }
    expect(archiveLookup(s.reply, 'linux-kernel@vger.kernel.org')).toBeNull();
  });

  it('the embedded default and the main job configuration load, and the default never sends', () => {
    expect(loadSettings(cfg('default.yaml'), {}).reply.mode).toBe('dry-run');
    const demo = loadSettings(cfg('demo.yaml'), {});
    for (const s of demo.sources) if ('url' in s && s.url) expect(new URL(s.url).hostname).toBe('127.0.0.1');
    expect(new URL(demo.smtp.url).hostname).toBe('127.0.0.1');
  });
});
