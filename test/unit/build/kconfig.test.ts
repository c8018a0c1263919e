import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkFragments, fragmentPath, parseKconfig } from '../../../src/build/kconfig.js';

describe('kconfig fragments', () => {
  it('parses set, module, string and unset options', () => {
    const m = parseKconfig('CONFIG_A=y\nCONFIG_B=m\nCONFIG_C="x y"\n# CONFIG_D is not set\n# a comment\n');
    expect([...m]).toEqual([['CONFIG_A', 'y'], ['CONFIG_B', 'm'], ['CONFIG_C', '"x y"'], ['CONFIG_D', 'n']]);
  });

  it('reports what the final .config dropped or changed, and accepts an absent option asked to be off', () => {
    const final = 'CONFIG_NET=y\nCONFIG_TUN=m\n# CONFIG_SLOB is not set\n';
    const frag = 'CONFIG_NET=y\nCONFIG_TUN=y\nCONFIG_VHOST_NET=y\n# CONFIG_SLOB is not set\n# CONFIG_FOO is not set\n';
    expect(checkFragments(final, [{ name: 'f', text: frag }])).toEqual([
      { option: 'CONFIG_TUN', wanted: 'y', got: 'm', fragment: 'f' },
      { option: 'CONFIG_VHOST_NET', wanted: 'y', got: 'n', fragment: 'f' },
    ]);
  });

  it('the kvm-guest fragment asks for the guest options and lists their dependencies', () => {
    const text = readFileSync(fragmentPath('kvm-guest'), 'utf8');
    const opts = parseKconfig(text);
    for (const o of ['VIRTIO_PCI', 'VIRTIO_NET', 'TUN', 'MACVTAP', 'VHOST_NET', 'SERIAL_8250_CONSOLE', 'BLK_DEV_INITRD', 'DEVTMPFS', 'KVM_GUEST', 'SLUB']) {
      expect(opts.get(`CONFIG_${o}`), o).toBe('y');
    }
    // dependencies that tinyconfig leaves off and merge_config.sh would not turn on by itself
    for (const o of ['PCI', 'VIRTIO_MENU', 'NET', 'INET', 'NETDEVICES', 'NET_CORE', 'MACVLAN', 'VHOST_MENU', 'EVENTFD', 'TTY', 'SERIAL_8250', 'HYPERVISOR_GUEST', 'PARAVIRT', '64BIT']) {
      expect(opts.get(`CONFIG_${o}`), o).toBe('y');
    }
    expect(opts.get('CONFIG_SLOB')).toBe('n');
  });
});
