import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTrees, parseTrees, TreesConfigError } from '../../../src/trees/config.js';

const repoRoot = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');
const scratch = mkdtempSync(path.join(tmpdir(), 'patchgate-trees-config-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('config/trees.yaml', () => {
  it('carries net, net-next, kvm, vhost and qemu with their real URLs and branches', async () => {
    const { trees, elsewhere } = await loadTrees(path.join(repoRoot, 'config', 'trees.yaml'));
    const byName = new Map(trees.map((t) => [t.name, t]));
    expect(byName.get('net')).toMatchObject({
      url: 'https://git.kernel.org/pub/scm/linux/kernel/git/netdev/net.git', branch: 'main', tokens: ['net'], fixes: true, builder: 'kernel',
    });
    expect(byName.get('net-next')).toMatchObject({
      url: 'https://git.kernel.org/pub/scm/linux/kernel/git/netdev/net-next.git', branch: 'main', tokens: ['net-next'],
    });
    expect(byName.get('kvm')).toMatchObject({ url: 'https://git.kernel.org/pub/scm/virt/kvm/kvm.git', branch: 'next' });
    expect(byName.get('vhost')).toMatchObject({ url: 'https://git.kernel.org/pub/scm/linux/kernel/git/mst/vhost.git', branch: 'linux-next' });
    expect(byName.get('qemu')).toMatchObject({ url: 'https://gitlab.com/qemu-project/qemu.git', branch: 'master', builder: 'qemu' });
    expect(byName.get('net')!.lists).toEqual(['netdev@vger.kernel.org']);
    expect(byName.get('kvm')!.lists).toEqual(['kvm@vger.kernel.org']);
    expect(byName.get('vhost')!.lists).toContain('virtualization@lists.linux.dev');
    expect(byName.get('qemu')!.lists).toEqual(['qemu-devel@nongnu.org']);
    expect(elsewhere).toContain('bpf-next');
  });

  it('gives defaults to the short entries of the main config', () => {
    const { trees } = parseTrees({ trees: [{ name: 'net-next', url: '/srv/git/net-next.git', branch: 'main', tokens: ['Net-Next'], lists: ['NetDev@vger.kernel.org'] }] });
    expect(trees[0]).toMatchObject({ tokens: ['net-next'], lists: ['netdev@vger.kernel.org'], builder: 'kernel', fixes: false, paths: [], gates: [] });
    expect(trees[0].maintainers).toEqual({ file: 'MAINTAINERS', urls: [], sections: [] });
  });

  it('reports every problem with its path', async () => {
    const file = path.join(scratch, 'bad.yaml');
    writeFileSync(file, 'trees:\n  - { name: net, url: a, tokens: [net] }\n  - { name: net, url: b, tokens: [net], builder: rust }\n');
    const err = await loadTrees(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TreesConfigError);
    const problems = (err as TreesConfigError).problems.join('\n');
    expect(problems).toMatch(/trees\.1\.builder/);
    expect(problems).not.toMatch(/duplicate/); // refinements run once the shapes parse
    writeFileSync(file, 'trees:\n  - { name: net, url: a, tokens: [net] }\n  - { name: net, url: b }\n  - { name: net2, url: c, tokens: [x, NET] }\n');
    const dup = (await loadTrees(file).catch((e: unknown) => e)) as TreesConfigError;
    expect(dup.problems).toEqual(['trees.1.name: duplicate tree name net', 'trees.2.tokens.1: token net already names tree net']);
  });

  it('says when the file cannot be read or is not YAML', async () => {
    await expect(loadTrees(path.join(scratch, 'missing.yaml'))).rejects.toThrow(/cannot read/);
    const file = path.join(scratch, 'notyaml.yaml');
    writeFileSync(file, 'trees: [\n');
    await expect(loadTrees(file)).rejects.toThrow(/not YAML/);
  });
});
