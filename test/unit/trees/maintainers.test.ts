import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { filePatternMatches, matchSections, parseMaintainers } from '../../../src/trees/maintainers.js';

const repoRoot = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');
const text = readFileSync(path.join(repoRoot, 'test', 'fixtures', 'maintainers-excerpt', 'MAINTAINERS'), 'utf8');
const sections = parseMaintainers(text);
const names = (file: string) => matchSections(sections, file).map((m) => m.section.name);

describe('parseMaintainers on the 6.1 excerpt', () => {
  it('finds every section after the Maintainers List header, none from the preamble', () => {
    expect(sections.map((s) => s.name)).toEqual([
      'ARM/Mediatek SoC support',
      'BPF JIT for X86 64-BIT',
      'BPF [NETWORKING] (tc BPF, sock_addr)',
      'KERNEL VIRTUAL MACHINE (KVM)',
      'KERNEL VIRTUAL MACHINE FOR X86 (KVM/x86)',
      'MEDIATEK ETHERNET DRIVER',
      'NETWORKING DRIVERS',
      'NETWORKING DRIVERS (WIRELESS)',
      'NETWORKING [GENERAL]',
      'NETWORKING [IPv4/IPv6]',
      'TUN/TAP driver',
      'VIRTIO AND VHOST VSOCK DRIVER',
      'VIRTIO CORE AND NET DRIVERS',
      'VIRTIO HOST (VHOST)',
    ]);
  });

  it('reads lists without their comments, T: without the SCM type, X: and N:', () => {
    const mtk = sections.find((s) => s.name === 'ARM/Mediatek SoC support')!;
    expect(mtk.lists).toEqual(['linux-arm-kernel@lists.infradead.org', 'linux-mediatek@lists.infradead.org']);
    expect(mtk.regexes).toEqual(['mtk', 'mt[678]']);
    const vhost = sections.find((s) => s.name === 'VIRTIO HOST (VHOST)')!;
    expect(vhost.trees).toEqual(['git://git.kernel.org/pub/scm/linux/kernel/git/mst/vhost.git']);
    expect(vhost.lists).toEqual(['kvm@vger.kernel.org', 'virtualization@lists.linux-foundation.org', 'netdev@vger.kernel.org']);
    const jit = sections.find((s) => s.name === 'BPF JIT for X86 64-BIT')!;
    expect(jit.excludes).toEqual(['arch/x86/net/bpf_jit_comp32.c']);
    expect(sections.find((s) => s.name === 'NETWORKING DRIVERS')!.trees).toHaveLength(2);
  });
});

describe('F: patterns (get_maintainer.pl file_match_pattern)', () => {
  it('a trailing slash takes everything below', () => {
    expect(filePatternMatches('drivers/net/tun.c', 'drivers/net/')).toBe(true);
    expect(filePatternMatches('drivers/net/ethernet/intel/e1000/e1000_main.c', 'drivers/net/')).toBe(true);
    expect(filePatternMatches('drivers/netdevsim/x.c', 'drivers/net/')).toBe(false);
  });
  it('a glob without trailing slash stays in its directory', () => {
    expect(filePatternMatches('virt/kvm/kvm_main.c', 'virt/kvm/*')).toBe(true);
    expect(filePatternMatches('virt/kvm/sub/x.c', 'virt/kvm/*')).toBe(false);
    expect(filePatternMatches('include/linux/if_tun.h', 'include/linux/if_*')).toBe(true);
    expect(filePatternMatches('arch/x86/net/bpf_jit_comp.c', 'arch/*/net/*')).toBe(true);
  });
  it('dots are literal and ? is one character', () => {
    expect(filePatternMatches('drivers/net/virtio_net.c', 'drivers/net/virtio_net.c')).toBe(true);
    expect(filePatternMatches('drivers/net/virtio_netXc', 'drivers/net/virtio_net.c')).toBe(false);
    expect(filePatternMatches('include/linux/vmx1.h', 'include/linux/vmx?.h')).toBe(true);
  });
  it('a directory named without slash takes everything below when the tree says it is a directory', () => {
    const parsed = parseMaintainers('FOO\nF:\tdrivers/foo\n', { isDirectory: (p) => p === 'drivers/foo' });
    expect(parsed[0].files).toEqual(['drivers/foo/']);
    expect(matchSections(parsed, 'drivers/foo/bar/baz.c')).toHaveLength(1);
    const plain = parseMaintainers('FOO\nF:\tdrivers/foo\n');
    expect(matchSections(plain, 'drivers/foo/bar/baz.c')).toHaveLength(0);
  });
});

describe('matchSections on real files', () => {
  it('drivers/net/tun.c is NETWORKING DRIVERS in 6.1 (its TUN/TAP section does not list tun.c)', () => {
    expect(names('drivers/net/tun.c')).toEqual(['NETWORKING DRIVERS']);
  });
  it('the more specific section comes first', () => {
    expect(names('drivers/net/virtio_net.c')).toEqual(['VIRTIO CORE AND NET DRIVERS', 'NETWORKING DRIVERS']);
    expect(names('drivers/net/wireless/ath/ath9k/main.c')).toEqual(['NETWORKING DRIVERS (WIRELESS)', 'NETWORKING DRIVERS']);
    expect(names('drivers/vhost/vsock.c')).toEqual(['VIRTIO AND VHOST VSOCK DRIVER', 'VIRTIO HOST (VHOST)']);
    expect(names('arch/x86/kvm/x86.c')).toEqual(['KERNEL VIRTUAL MACHINE FOR X86 (KVM/x86)']);
    expect(names('include/uapi/linux/vhost.h')).toEqual(['VIRTIO HOST (VHOST)']);
  });
  it('X: excludes a file from its section before F: is tried', () => {
    expect(names('arch/x86/net/bpf_jit_comp.c')).toContain('BPF JIT for X86 64-BIT');
    expect(names('arch/x86/net/bpf_jit_comp32.c')).not.toContain('BPF JIT for X86 64-BIT');
    expect(names('arch/x86/net/bpf_jit_comp32.c')).toEqual(['NETWORKING [IPv4/IPv6]']);
  });
  it('N: is a regex on the path, ranked after every F: match', () => {
    const file = 'drivers/net/ethernet/mediatek/mtk_eth_soc.c';
    const matches = matchSections(sections, file);
    expect(matches.map((m) => [m.section.name, m.via])).toEqual([
      ['MEDIATEK ETHERNET DRIVER', 'F'],
      ['NETWORKING DRIVERS', 'F'],
      ['ARM/Mediatek SoC support', 'N'],
    ]);
    expect(names('drivers/soc/mt7986-foo.c')).toEqual(['ARM/Mediatek SoC support']);
    expect(names('drivers/net/ethernet/intel/e1000/e1000_main.c')).not.toContain('ARM/Mediatek SoC support');
  });
  it('a file nobody in the excerpt maintains matches nothing', () => {
    expect(names('fs/ext4/inode.c')).toEqual([]);
  });
});
