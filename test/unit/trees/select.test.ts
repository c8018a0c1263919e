// The pure helpers of selection. Selection itself runs against real git trees in
// test/integration/trees-select.test.ts.
import { describe, expect, it } from 'vitest';
import { redactUrl } from '../../../src/trees/errors.js';
import { listIdAddress, normalizeGitUrl } from '../../../src/trees/select.js';

describe('listIdAddress', () => {
  it('turns List-Id values into list addresses', () => {
    expect(listIdAddress('<netdev.vger.kernel.org>')).toBe('netdev@vger.kernel.org');
    expect(listIdAddress('Kernel-based VM <kvm.vger.kernel.org>')).toBe('kvm@vger.kernel.org');
    expect(listIdAddress('<qemu-devel.nongnu.org>')).toBe('qemu-devel@nongnu.org');
    expect(listIdAddress('<virtualization.lists.linux.dev>')).toBe('virtualization@lists.linux.dev');
    expect(listIdAddress('no list here')).toBeNull();
  });
});

describe('normalizeGitUrl', () => {
  it('treats git://, https:// and ssh spellings of one repository alike', () => {
    const want = 'git.kernel.org/pub/scm/linux/kernel/git/netdev/net';
    expect(normalizeGitUrl('git://git.kernel.org/pub/scm/linux/kernel/git/netdev/net.git')).toBe(want);
    expect(normalizeGitUrl('https://git.kernel.org/pub/scm/linux/kernel/git/netdev/net.git/')).toBe(want);
    expect(normalizeGitUrl('ssh://git@git.kernel.org/pub/scm/linux/kernel/git/netdev/net.git')).toBe(want);
    expect(normalizeGitUrl('git@git.kernel.org:pub/scm/linux/kernel/git/netdev/net.git')).toBe(want);
    expect(normalizeGitUrl('https://git.kernel.org/pub/scm/linux/kernel/git/netdev/net-next.git')).not.toBe(want);
  });
});

describe('redactUrl', () => {
  it('hides credentials in URLs', () => {
    expect(redactUrl('fatal: could not read from https://bot:s3cret@git.example.org/x.git')).toBe('fatal: could not read from https://***@git.example.org/x.git');
    expect(redactUrl('https://git.kernel.org/pub/scm/x.git')).toBe('https://git.kernel.org/pub/scm/x.git');
  });
});
