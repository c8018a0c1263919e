import { describe, expect, it } from 'vitest';
import { botReason, decideReply, effectivePolicy, inQuietHours, quietHoursEnd, type PolicyInput } from '../../../src/report/policy.js';
import { replySchema } from '../../../src/settings/schema.js';
import { contextFor } from './cases.js';

const LIST = 'netdev@vger.kernel.org';

function input(over: Omit<Partial<PolicyInput>, 'reply'> & { reply?: unknown } = {}): PolicyInput {
  const { reply, ...rest } = over;
  return {
    verdict: 'failure',
    thread: contextFor('build-failure').thread,
    list: LIST,
    reply: replySchema.parse(reply ?? { mode: 'send', lists: [LIST] }),
    ownAddress: 'bot@patchgate.example.org',
    now: new Date('2026-03-01T12:00:00Z'),
    previousVerdict: null,
    recent: { list: 0, submitter: 0 },
    ...rest,
  };
}

describe('reply policy', () => {
  it('dry-run is the default: nothing is sent without mode send AND the list named', () => {
    const d1 = decideReply(input({ reply: {} }));
    expect(d1).toMatchObject({ action: 'queue', state: 'dry-run' });
    const d2 = decideReply(input({ reply: { mode: 'send', lists: ['kvm@vger.kernel.org'] } }));
    expect(d2).toMatchObject({ action: 'queue', state: 'dry-run' });
    expect(d2.reason).toContain('not in reply.lists');
    const d3 = decideReply(input({ reply: { mode: 'dry-run', lists: [LIST] } }));
    expect(d3).toMatchObject({ action: 'queue', state: 'dry-run' });
    expect(decideReply(input({ list: null, reply: { mode: 'send', lists: [LIST] } }))).toMatchObject({ state: 'dry-run' });
    expect(decideReply(input())).toMatchObject({ action: 'queue', state: 'pending', notBefore: null });
  });

  it('on failure only (the default) answers failure and conflict, not success or warning', () => {
    expect(decideReply(input({ verdict: 'conflict' }))).toMatchObject({ action: 'queue' });
    expect(decideReply(input({ verdict: 'success' }))).toMatchObject({ action: 'none' });
    expect(decideReply(input({ verdict: 'warning' }))).toMatchObject({ action: 'none' });
  });

  it('always / never, per list', () => {
    const reply = { mode: 'send', lists: [LIST, 'kvm@vger.kernel.org'], on: 'always', per_list: { 'kvm@vger.kernel.org': { on: 'never' } } };
    expect(decideReply(input({ verdict: 'success', reply }))).toMatchObject({ action: 'queue', state: 'pending' });
    expect(decideReply(input({ verdict: 'failure', reply, list: 'kvm@vger.kernel.org' }))).toMatchObject({ action: 'none' });
  });

  it('never answers a verdict that is not final, nor one where nothing was tested', () => {
    expect(decideReply(input({ verdict: 'pending', reply: { mode: 'send', lists: [LIST], on: 'always' } }))).toMatchObject({ action: 'none' });
    expect(decideReply(input({ verdict: 'skipped', reply: { mode: 'send', lists: [LIST], on: 'always' } }))).toMatchObject({ action: 'none', reason: 'nothing was tested' });
    expect(decideReply(input({ incomplete: ['build: infrastructure: disk full'] }))).toMatchObject({ action: 'none' });
  });

  it('one reply per verdict change per revision', () => {
    expect(decideReply(input({ previousVerdict: 'failure' }))).toMatchObject({ action: 'none' });
    expect(decideReply(input({ verdict: 'conflict', previousVerdict: 'failure' }))).toMatchObject({ action: 'queue' });
  });

  it("never answers patchgate's own mail or other bots'", () => {
    const t = contextFor('build-failure').thread;
    expect(decideReply(input({ thread: { ...t, headers: { 'x-patchgate-verdict': 'failure' } } }))).toMatchObject({ action: 'skip' });
    expect(decideReply(input({ thread: { ...t, headers: { 'auto-submitted': 'auto-generated' } } }))).toMatchObject({ action: 'skip' });
    expect(decideReply(input({ thread: { ...t, headers: { 'auto-submitted': 'no' } } }))).toMatchObject({ action: 'queue' });
    expect(decideReply(input({ thread: { ...t, from: { name: 'kernel test robot', email: 'lkp@intel.com' } } }))).toMatchObject({ action: 'skip' });
    expect(decideReply(input({ thread: { ...t, from: { name: '', email: 'patchwork-bot+netdevbpf@kernel.org' } } }))).toMatchObject({ action: 'skip' });
    expect(decideReply(input({ thread: { ...t, from: { name: '', email: 'bot@patchgate.example.org' } } }))).toMatchObject({ action: 'skip' });
    expect(decideReply(input({ thread: { ...t, from: { name: '', email: 'ci@corp.example' } }, reply: { mode: 'send', lists: [LIST], bots: ['ci@*.example'] } })))
      .toMatchObject({ action: 'skip' });
    expect(botReason(t, ['lkp@intel.com'])).toBeNull();
  });

  it('rate limits per list and per submitter (0 = no limit)', () => {
    const reply = { mode: 'send', lists: [LIST], rate_limit: { per_list: 3, per_submitter: 2 } };
    expect(decideReply(input({ reply, recent: { list: 2, submitter: 1 } }))).toMatchObject({ action: 'queue' });
    const l = decideReply(input({ reply, recent: { list: 3, submitter: 0 } }));
    expect(l).toMatchObject({ action: 'skip' });
    expect(l.reason).toMatch(/rate limit: 3 replies on netdev/);
    expect(decideReply(input({ reply, recent: { list: 0, submitter: 2 } }))).toMatchObject({ action: 'skip' });
    const unlimited = { mode: 'send', lists: [LIST], rate_limit: { per_list: 0, per_submitter: 0 } };
    expect(decideReply(input({ reply: unlimited, recent: { list: 999, submitter: 999 } }))).toMatchObject({ action: 'queue' });
    const perList = { mode: 'send', lists: [LIST], rate_limit: { per_list: 100 }, per_list: { [LIST]: { rate_limit: { per_list: 1 } } } };
    expect(decideReply(input({ reply: perList, recent: { list: 1, submitter: 0 } }))).toMatchObject({ action: 'skip' });
  });

  it('quiet hours hold a reply until they end, in the configured time zone, across midnight', () => {
    const q = { start: '22:00', end: '07:00', tz: 'Europe/Berlin' };
    // 12:00 UTC = 13:00 in Berlin (CET): outside
    expect(inQuietHours(new Date('2026-03-01T12:00:00Z'), q)).toBe(false);
    // 22:30 UTC = 23:30 Berlin: inside; ends 07:00 Berlin = 06:00 UTC
    expect(inQuietHours(new Date('2026-03-01T22:30:00Z'), q)).toBe(true);
    expect(quietHoursEnd(new Date('2026-03-01T22:30:10Z'), q).toISOString()).toBe('2026-03-02T06:00:00.000Z');
    const d = decideReply(input({ now: new Date('2026-03-01T22:30:00Z'), reply: { mode: 'send', lists: [LIST], quiet_hours: q } }));
    expect(d).toMatchObject({ action: 'queue', state: 'pending' });
    expect(d.action === 'queue' && d.notBefore?.toISOString()).toBe('2026-03-02T06:00:00.000Z');
    // a list can switch quiet hours off
    const off = { mode: 'send', lists: [LIST], quiet_hours: q, per_list: { [LIST]: { quiet_hours: null } } };
    expect(decideReply(input({ now: new Date('2026-03-01T22:30:00Z'), reply: off }))).toMatchObject({ notBefore: null });
  });

  it('Cc the list only when the config says so', () => {
    expect(decideReply(input())).toMatchObject({ cc: [] });
    expect(decideReply(input({ reply: { mode: 'send', lists: [LIST], cc_list: true } }))).toMatchObject({ cc: [LIST] });
    expect(effectivePolicy(replySchema.parse({ cc_list: true, per_list: { [LIST]: { cc_list: false } } }), LIST).cc_list).toBe(false);
  });
});
