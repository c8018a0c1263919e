// Tree selection against real git trees built in temp dirs: each kernel tree carries the real 6.1
// MAINTAINERS excerpt; config/trees.yaml is the real config with URLs pointed at the local trees.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ParsedMessage } from '../../src/mail/types.js';
import { loadTrees, type TreesFile } from '../../src/trees/config.js';
import { fetchTreeMirrors, treeMirrorPath } from '../../src/trees/mirror.js';
import { gitProbe } from '../../src/trees/probe.js';
import { selectionInputFromSeries, selectTree, treesForToken, type SelectionInput, type TreeProbe } from '../../src/trees/select.js';
import { commit, numbered, repoRoot, sh, tempDir, initRepo } from './trees-git.js';

const MAINTAINERS = readFileSync(path.join(repoRoot, 'test', 'fixtures', 'maintainers-excerpt', 'MAINTAINERS'), 'utf8');

let scratch: ReturnType<typeof tempDir>;
let config: TreesFile;
let probe: TreeProbe;
const sha: Record<string, string> = {};

function input(partial: Partial<SelectionInput>): SelectionInput {
  return { tags: [], baseCommit: null, prerequisitePatchIds: [], fixes: [], files: [], listIds: [], to: [], cc: [], ...partial };
}

beforeAll(async () => {
  scratch = tempDir();
  const src = path.join(scratch.dir, 'src');
  const base = initRepo(path.join(src, 'linux'));
  sha.base = commit(base, 'Linux 6.1', {
    MAINTAINERS,
    'drivers/net/tun.c': numbered('tun', 60),
    'drivers/net/virtio_net.c': numbered('virtnet', 60),
    'drivers/vhost/net.c': numbered('vhost_net', 60),
    'drivers/vhost/vsock.c': numbered('vsock', 30),
    'drivers/virtio/virtio_ring.c': numbered('vring', 30),
    'arch/x86/kvm/x86.c': numbered('kvm', 30),
    'net/core/dev.c': numbered('dev', 30),
    'include/uapi/linux/vhost.h': numbered('uapi', 10),
  });
  const clone = (name: string) => {
    const dir = path.join(src, name);
    sh(src, ['clone', '-q', base, dir]);
    return dir;
  };
  const net = clone('net');
  sha.netFix = commit(net, 'tun: fix a leak in tun_get_user', { 'drivers/net/tun.c': numbered('tun', 60, { 20: '\tfixed();' }) });
  const netNext = clone('net-next');
  sha.netNextFeature = commit(netNext, 'tun: add a feature', { 'drivers/net/tun.c': numbered('tun', 60, { 40: '\tfeature();' }) });
  const kvm = clone('kvm');
  sh(kvm, ['branch', '-q', '-m', 'main', 'next']);
  sha.kvmNext = commit(kvm, 'KVM: x86: something for next', { 'arch/x86/kvm/x86.c': numbered('kvm', 30, { 3: '\tnext();' }) });
  sh(kvm, ['checkout', '-q', '-b', 'queue']);
  sha.kvmQueue = commit(kvm, 'KVM: x86: something queued', { 'arch/x86/kvm/x86.c': numbered('kvm', 30, { 3: '\tnext();', 9: '\tqueued();' }) });
  const vhost = clone('vhost');
  sh(vhost, ['branch', '-q', '-m', 'main', 'linux-next']);
  sha.vhost = commit(vhost, 'vhost: net: something', { 'drivers/vhost/net.c': numbered('vhost_net', 60, { 7: '\tx();' }) });
  const qemu = initRepo(path.join(src, 'qemu'), 'master');
  commit(qemu, 'QEMU 8.2', { 'hw/net/virtio-net.c': numbered('vn', 40), 'net/net.c': numbered('qnet', 40), 'hw/virtio/vhost.c': numbered('vh', 40) });

  const real = await loadTrees(path.join(repoRoot, 'config', 'trees.yaml'));
  const local: Record<string, string> = { net, 'net-next': netNext, kvm, 'kvm-queue': kvm, vhost, qemu };
  config = {
    elsewhere: real.elsewhere,
    // the MAINTAINERS T: lines name the real URLs: keep them as spellings of the local trees
    trees: real.trees.map((t) => ({ ...t, url: local[t.name], maintainers: { ...t.maintainers, urls: [t.url] } })),
  };
  const mirrors = path.join(scratch.dir, 'mirrors');
  await fetchTreeMirrors(mirrors, config.trees);
  probe = gitProbe({ repoFor: (t) => treeMirrorPath(mirrors, t) });
});

afterAll(() => scratch?.cleanup());

describe('subject tokens', () => {
  it('an exact token decides alone', async () => {
    const s = await selectTree(input({ tags: ['net-next'], files: ['drivers/vhost/net.c'], listIds: ['<kvm.vger.kernel.org>'] }), config, probe);
    expect(s).toMatchObject({ name: 'net-next', reason: 'marked for net-next', marked: true });
    expect(s.candidates.map((c) => c.name)).toEqual(['net-next']);
  });

  it('[PATCH bpf-next/net] never picks net: bpf-next is a tree patchgate does not carry', async () => {
    const s = await selectTree(input({ tags: ['bpf-next/net'], files: ['drivers/net/tun.c'], listIds: ['<netdev.vger.kernel.org>'] }), config, probe);
    expect(s.name).toBeNull();
    expect(s.reason).toBe('marked for bpf-next, a tree patchgate does not carry');
    expect(s.candidates).toEqual([]);
  });

  it('without an `elsewhere` list, bpf-next/net still names no tree, and other signals decide', async () => {
    expect(treesForToken('bpf-next/net', config.trees)).toEqual([]);
    const s = await selectTree(input({ tags: ['bpf-next/net'], files: ['drivers/net/tun.c'] }), config.trees, probe);
    expect(s.candidates.some((c) => c.signal === 'token')).toBe(false);
    expect(s.candidates.map((c) => c.reason)).not.toContain('marked for net');
    expect(s.marked).toBe(false);
  });

  it('tokens are whole words: substrings and look-alikes name nothing; a/b keeps its tree part', async () => {
    expect(treesForToken('netdev', config.trees)).toEqual([]);
    expect(treesForToken('net-next-2.6', config.trees)).toEqual([]);
    expect(treesForToken('nett', config.trees)).toEqual([]);
    expect(treesForToken('NET', config.trees).map((t) => t.name)).toEqual(['net']);
    expect(treesForToken('net-next/vhost', config.trees).map((t) => t.name)).toEqual(['net-next']);
    const s = await selectTree(input({ tags: ['netdev'] }), config, probe);
    expect(s.name).toBeNull();
  });
});

describe('base-commit', () => {
  it('picks the only tree that has it', async () => {
    const s = await selectTree(input({ baseCommit: sha.kvmQueue, files: ['arch/x86/kvm/x86.c'] }), config, probe);
    expect(s.name).toBe('kvm-queue');
    expect(s.reason).toBe(`base-commit ${sha.kvmQueue.slice(0, 12)} is in kvm-queue/queue`);
  });

  it('orders several trees holding it by the config, and says kvm/next', async () => {
    const s = await selectTree(input({ baseCommit: sha.kvmNext }), config, probe);
    expect(s.candidates.slice(0, 2)).toEqual([
      { name: 'kvm', signal: 'base-commit', reason: `base-commit ${sha.kvmNext.slice(0, 12)} is in kvm/next` },
      { name: 'kvm-queue', signal: 'base-commit', reason: `base-commit ${sha.kvmNext.slice(0, 12)} is in kvm-queue/queue` },
    ]);
  });

  it('an abbreviated base works; an unknown one is noted and the next signals decide', async () => {
    expect((await selectTree(input({ baseCommit: sha.netNextFeature.slice(0, 12) }), config, probe)).name).toBe('net-next');
    const s = await selectTree(input({ baseCommit: 'deadbeefdeadbeefdeadbeefdeadbeefdeadbeef', listIds: ['<netdev.vger.kernel.org>'] }), config, probe);
    expect(s.notes).toContain('base-commit deadbeefdead is in none of the trees');
    expect(s.reason).toBe('sent to netdev@vger.kernel.org');
  });
});

describe('Fixes:', () => {
  it('a Fixes: commit only net has picks net', async () => {
    const s = await selectTree(input({ fixes: [`${sha.netFix.slice(0, 12)} ("tun: fix a leak in tun_get_user")`], files: ['drivers/net/tun.c'] }), config, probe);
    expect(s.name).toBe('net');
    expect(s.reason).toBe(`Fixes: ${sha.netFix.slice(0, 12)} is in net`);
  });

  it('a Fixes: commit every tree has goes to the tree that takes fixes, then the others in order', async () => {
    const s = await selectTree(input({ fixes: [`${sha.base.slice(0, 12)} ("Linux 6.1")`] }), config, probe);
    expect(s.candidates.filter((c) => c.signal === 'fixes').map((c) => c.name)).toEqual(['net', 'net-next', 'kvm', 'kvm-queue', 'vhost']);
  });
});

describe('paths against the tree’s MAINTAINERS', () => {
  it('drivers/net/tun.c is NETWORKING DRIVERS: net-next, then net', async () => {
    const s = await selectTree(input({ files: ['drivers/net/tun.c'] }), config, probe);
    expect(s.candidates.slice(0, 2)).toEqual([
      { name: 'net-next', signal: 'paths', reason: 'paths drivers/net/tun.c are NETWORKING DRIVERS (net-next)' },
      { name: 'net', signal: 'paths', reason: 'paths drivers/net/tun.c are NETWORKING DRIVERS (net)' },
    ]);
  });

  it('with a Fixes: tag (commit unknown) the fixes tree goes first', async () => {
    const s = await selectTree(input({ files: ['drivers/net/tun.c'], fixes: ['0123456789ab ("old")'] }), config, probe);
    expect(s.name).toBe('net');
  });

  it('drivers/vhost/net.c is VHOST (T: names vhost.git) before the trees whose lists it names', async () => {
    const s = await selectTree(input({ files: ['drivers/vhost/net.c', 'include/uapi/linux/vhost.h'] }), config, probe);
    expect(s.candidates[0]).toEqual({
      name: 'vhost', signal: 'paths', reason: 'paths drivers/vhost/net.c, include/uapi/linux/vhost.h are VIRTIO HOST (VHOST) (vhost)',
    });
    expect(s.candidates.slice(1).map((c) => c.name)).toEqual(['net-next', 'net', 'kvm', 'kvm-queue']);
    expect(s.candidates[1].reason).toMatch(/which lists netdev@vger.kernel.org/);
  });

  it('arch/x86/kvm is KVM/x86; virtio_ring is VIRTIO CORE (a section vhost owns by config)', async () => {
    expect((await selectTree(input({ files: ['arch/x86/kvm/x86.c'] }), config, probe)).reason).toBe(
      'paths arch/x86/kvm/x86.c are KERNEL VIRTUAL MACHINE FOR X86 (KVM/x86) (kvm)',
    );
    expect((await selectTree(input({ files: ['drivers/virtio/virtio_ring.c'] }), config, probe)).reason).toBe(
      'paths drivers/virtio/virtio_ring.c are VIRTIO CORE AND NET DRIVERS (vhost)',
    );
  });

  it('QEMU paths go to qemu; a kernel net/ file does not, since qemu has no such file', async () => {
    const q = await selectTree(input({ files: ['hw/net/virtio-net.c', 'net/net.c'] }), config, probe);
    expect(q.candidates[0]).toEqual({ name: 'qemu', signal: 'paths', reason: 'paths hw/net/virtio-net.c, net/net.c are hw/net/ (trees.yaml); net/ (trees.yaml) (qemu)' });
    const k = await selectTree(input({ files: ['net/core/dev.c'] }), config, probe);
    expect(k.candidates.map((c) => c.name)).not.toContain('qemu');
    expect(k.reason).toBe('paths net/core/dev.c are NETWORKING [GENERAL] (net-next)');
  });
});

describe('the list the mail came from', () => {
  it('List-Id first, then To and Cc', async () => {
    const s = await selectTree(input({ listIds: ['Kernel-based VM <kvm.vger.kernel.org>'], to: ['qemu-devel@nongnu.org'], cc: ['netdev@vger.kernel.org'] }), config, probe);
    expect(s.candidates.map((c) => [c.name, c.reason])).toEqual([
      ['kvm', 'sent to kvm@vger.kernel.org'],
      ['kvm-queue', 'sent to kvm@vger.kernel.org'],
      ['qemu', 'sent to qemu-devel@nongnu.org'],
      ['net-next', 'sent to netdev@vger.kernel.org'],
      ['net', 'sent to netdev@vger.kernel.org'],
    ]);
  });

  it('stronger signals come first and the list only adds fallbacks', async () => {
    const s = await selectTree(input({ files: ['drivers/vhost/net.c'], listIds: ['<qemu-devel.nongnu.org>'] }), config, probe);
    expect(s.name).toBe('vhost');
    expect(s.candidates.at(-1)).toEqual({ name: 'qemu', signal: 'list', reason: 'sent to qemu-devel@nongnu.org' });
  });

  it('nothing at all gives no tree', async () => {
    const s = await selectTree(input({ to: ['someone@example.org'] }), config, probe);
    expect(s).toMatchObject({ name: null, candidates: [] });
  });
});

describe('selectionInputFromSeries', () => {
  it('gathers tags, base, Fixes:, files and addresses from parsed messages', () => {
    const message = {
      subject: { tags: ['net'] },
      files: ['drivers/net/tun.c'],
      trailers: [{ name: 'Fixes', value: `${sha.netFix.slice(0, 12)} ("tun: fix")`, type: 'utility', extinfo: null }],
      deps: { baseCommit: sha.base, prerequisitePatchIds: [], prerequisiteMessageIds: [], dependsOn: [], basedOn: [] },
      listId: '<netdev.vger.kernel.org>',
      to: [{ name: '', email: 'NetDev@vger.kernel.org' }],
      cc: [],
    } as unknown as ParsedMessage;
    expect(selectionInputFromSeries(null, [message])).toEqual({
      tags: ['net'], baseCommit: sha.base, prerequisitePatchIds: [], fixes: [`${sha.netFix.slice(0, 12)} ("tun: fix")`],
      files: ['drivers/net/tun.c'], listIds: ['<netdev.vger.kernel.org>'], to: ['netdev@vger.kernel.org'], cc: [],
    });
  });
});
