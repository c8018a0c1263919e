import { describe, expect, it } from 'vitest';
import { buildReplyMail, composeRaw, replyMessageId } from '../../../src/report/mail.js';
import { COVER, V1_COVER, contextFor, origin } from './cases.js';

describe('reply mail', () => {
  it('Message-ID is deterministic per (series, revision, verdict)', () => {
    const a = replyMessageId('s1', 2, 'failure', 'bot@example.org');
    expect(a).toBe(replyMessageId('s1', 2, 'failure', 'bot@example.org'));
    expect(a).toMatch(/^<patchgate\.s1\.v2\.[0-9a-f]{12}@example\.org>$/);
    expect(replyMessageId('s1', 2, 'success', 'bot@example.org')).not.toBe(a);
    expect(replyMessageId('s1', 3, 'failure', 'bot@example.org')).not.toBe(a);
    expect(replyMessageId('s2', 2, 'failure', 'bot@example.org')).not.toBe(a);
    expect(replyMessageId('a b<c>@d', 1, 'failure', 'bot@example.org')).toMatch(/^<patchgate\.a-b-c-d\.v1\.[0-9a-f]{12}@example\.org>$/);
  });

  it('threads, addresses and marks the reply', () => {
    const m = buildReplyMail(contextFor('conflict'), { from: 'patchgate <bot@patchgate.example.org>', cc: [] });
    expect(m.inReplyTo).toBe(COVER);
    expect(m.references).toEqual([V1_COVER, COVER]);
    expect(m.subject).toBe('Re: [PATCH net-next v2 0/2] virtio_net: batch tx completions under NAPI');
    expect(m.to).toEqual([{ name: 'Jane Hacker', email: 'jane@example.org' }]);
    expect(m.cc).toEqual([]);
    expect(m.headers).toEqual({
      'Auto-Submitted': 'auto-generated', 'X-Patchgate-Series': 'virtio-net-tx-napi-batching',
      'X-Patchgate-Version': '2', 'X-Patchgate-Verdict': 'conflict',
    });
  });

  it('does not stack Re: on a subject that has one', () => {
    const ctx = contextFor('conflict', { origin: { subject: { ...origin().subject, raw: 'Re: [PATCH] x' } } });
    expect(buildReplyMail(ctx, { from: 'bot@example.org', cc: [] }).subject).toBe('Re: [PATCH] x');
  });

  it('composes a single text/plain part with CRLF and lines within 72', async () => {
    const m = buildReplyMail(contextFor('build-failure'), { from: 'patchgate <bot@patchgate.example.org>', cc: ['netdev@vger.kernel.org'] });
    const raw = (await composeRaw(m, new Date('2026-03-01T13:00:00Z'))).toString();
    expect(raw).toMatch(/^Content-Type: text\/plain; charset=utf-8\r$/m);
    expect(raw).not.toMatch(/multipart|text\/html/i);
    expect(raw).toMatch(/^Content-Transfer-Encoding: 7bit\r$/m);
    expect(raw).toContain(`In-Reply-To: ${COVER}\r\n`);
    expect(raw).toContain('Cc: netdev@vger.kernel.org\r\n');
    const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
    for (const line of body.split('\r\n')) if (line.length > 72) expect(line.trim()).not.toMatch(/ /);
  });
});
