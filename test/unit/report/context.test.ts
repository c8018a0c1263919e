import { describe, expect, it } from 'vitest';
import { makeReportContext } from '../../../src/report/context.js';
import { COVER, P1, P2, V1_COVER, cases, contextFor, run, series } from './cases.js';

describe('report context', () => {
  it('carries tree and reason, apply and build per patch, gates with metrics', () => {
    const ctx = contextFor('perf-regression');
    expect(ctx.tree).toEqual({ name: 'net-next', reason: 'subject tag [net-next]' });
    expect(ctx.apply.map((a) => [a.number, a.outcome])).toEqual([[1, 'applied'], [2, 'applied']]);
    expect(ctx.build.patches.map((b) => [b.number, b.status])).toEqual([[1, 'success'], [2, 'success']]);
    const perf = ctx.gates.find((g) => g.id === 'perf')!;
    expect(perf.status).toBe('failure');
    expect(perf.metrics.find((m) => m.name === 'tcp_rr')).toEqual({ name: 'tcp_rr', change: 0.023, low: 0.019, high: 0.027, verdict: 'regression' });
    expect(ctx.stages).toEqual({ apply: 'success', build: 'success', gates: 'failure' });
    expect(ctx.verdict).toBe('failure');
    expect(ctx.reason).toMatch(/^perf: tcp_rr per-transaction cost up 2.3%/);
    expect(ctx.links.dashboard).toBe('https://patchgate.example.org/series/virtio-net-tx-napi-batching');
    expect(ctx.links.logs).toMatch(/build\.log$/);
  });

  it('a conflict skips the build and names the patch', () => {
    const ctx = contextFor('conflict');
    expect(ctx.stages.build).toBe('skipped');
    expect(ctx.verdict).toBe('conflict');
    expect(ctx.reason).toBe('patch 2/2 does not apply to net-next');
  });

  it('without outcomes the verdict is pending', () => {
    const ctx = makeReportContext({ series, run: null, outcomes: [], origin: null });
    expect(ctx.verdict).toBe('pending');
    expect(ctx.tree).toBeNull();
    expect(ctx.links.dashboard).toBeNull();
  });

  it('threads to the cover letter with its own chain', () => {
    const ctx = contextFor('success');
    expect(ctx.thread.msgid).toBe(COVER);
    expect(ctx.thread.references).toEqual([V1_COVER]);
    expect(ctx.thread.subject).toBe('[PATCH net-next v2 0/2] virtio_net: batch tx completions under NAPI');
  });

  it('without a cover letter it threads to patch 1', () => {
    const noCover = { ...series, cover: null };
    const ctx = makeReportContext({ series: noCover, run, outcomes: cases.success, origin: null });
    expect(ctx.thread.msgid).toBe(P1);
    expect(ctx.thread.subject).toBe(series.patches[0].subject);
  });

  it('accepts bare arrays and patchwork spellings in stored data', () => {
    const ctx = makeReportContext({
      series, run, origin: null,
      outcomes: [
        { stage: 'apply', status: 'success', summary: null, data: [{ msgid: P1, outcome: 'applied' }, { msgid: P2, outcome: 'applied-3way' }] },
        { stage: 'build', status: 'fail', summary: null, data: [{ msgid: P1, status: 'pass' }, { msgid: P2, status: 'fail' }] },
      ],
    });
    expect(ctx.build.patches.map((b) => b.status)).toEqual(['success', 'failure']);
    expect(ctx.verdict).toBe('failure');
  });
});

describe('long tool output', () => {
  it('a conflict detail is cut to 12 lines in the mail', async () => {
    const { buildReplyMail } = await import('../../../src/report/mail.js');
    const detail = Array.from({ length: 40 }, (_, i) => `error: line ${i}`).join('\n');
    const ctx = makeReportContext({
      series, run, origin: null,
      outcomes: [{ stage: 'apply', status: 'conflict', summary: null, data: { apply: [{ msgid: P1, outcome: 'conflict', files: [], detail }] } }],
    });
    const text = buildReplyMail(ctx, { from: 'bot@example.org', cc: [] }).text;
    expect(text).toContain('error: line 11\n');
    expect(text).not.toContain('error: line 12\n');
    expect(text).toContain('[... 28 more lines]');
  });
});
