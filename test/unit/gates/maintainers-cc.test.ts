// get_maintainer.pl and MAINTAINERS from linux-source-6.1 on real patches (skipped without them).
import { describe, expect, it } from 'vitest';
import { maintainersCcGate, maintainersCcSettingsSchema, parseGetMaintainer } from '../../../src/gates/maintainers-cc/index.js';
import { TUN_C, commit, createRepo, formatPatch, gateContext, gatePatch, kernelFiles, kernelScripts } from './gate-repo.js';

describe('parseGetMaintainer', () => {
  it('reads addresses with roles and sections', () => {
    const out = '"David S. Miller" <davem@davemloft.net> (maintainer:NETWORKING DRIVERS)\nnetdev@vger.kernel.org (open list:NETWORKING DRIVERS)\nlinux-kernel@vger.kernel.org (open list)\n';
    expect(parseGetMaintainer(out)).toEqual([
      { email: 'davem@davemloft.net', role: 'maintainer', section: 'NETWORKING DRIVERS', list: false },
      { email: 'netdev@vger.kernel.org', role: 'open list', section: 'NETWORKING DRIVERS', list: true },
      { email: 'linux-kernel@vger.kernel.org', role: 'open list', section: null, list: true },
    ]);
  });
});

const scripts = kernelScripts();
const NET_DRIVERS = ['davem@davemloft.net', 'edumazet@google.com', 'kuba@kernel.org', 'pabeni@redhat.com'];

describe.skipIf(!scripts)("maintainers-cc gate with the kernel's get_maintainer.pl", () => {
  const settings = maintainersCcSettingsSchema.parse({});
  const dir = createRepo({ ...kernelFiles(scripts!), 'drivers/net/tun.c': TUN_C });
  const sha = commit(dir, { 'drivers/net/tun.c': TUN_C.replace('\treturn dev;\n', '\treturn dev + 1;\n') }, 'tun: one more\n\nSigned-off-by: Ada Author <ada@example.org>');

  it('passes when the networking drivers maintainers and netdev are on the mail', async () => {
    const mbox = formatPatch(dir, sha, { to: ['netdev@vger.kernel.org'], cc: NET_DRIVERS });
    const r = await maintainersCcGate.run(gateContext(dir, [gatePatch(1, mbox, sha)]), settings);
    expect(r.status).toBe('success');
    expect(r.summary).toBe('maintainers are on Cc');
  }, 60_000);

  it('names the maintainers and lists left out', async () => {
    const mbox = formatPatch(dir, sha, { to: ['davem@davemloft.net'], cc: ['kuba@kernel.org'] });
    const r = await maintainersCcGate.run(gateContext(dir, [gatePatch(1, mbox, sha)]), settings);
    expect(r.status).toBe('warning');
    expect(r.details[0].message).toContain('edumazet@google.com (maintainer:NETWORKING DRIVERS)');
    expect(r.details[0].message).toContain('pabeni@redhat.com');
    expect(r.details[0].message).toContain('netdev@vger.kernel.org (open list:NETWORKING DRIVERS)');
    expect(r.details[0].message).not.toContain('linux-kernel@vger.kernel.org');
    expect(r.summary).toBe('3 maintainer address(es) missing from Cc on 1 patch(es)');
  }, 60_000);
});
