// The queue layer's pure parts: job ids, stage ranges, the flow's shape, verdicts, skip rules.
import { describe, expect, it } from 'vitest';
import { encodeSeriesId, jobId, stagesUntil } from '../../../src/queue/names.js';
import { buildFlow } from '../../../src/queue/pipeline.js';
import { queueConfig } from '../../../src/queue/config.js';
import { worstStatus, jobDataSchema } from '../../../src/queue/schemas.js';
import { blockedBy, verdictOf } from '../../../src/queue/worker.js';
import { parseSettings } from '../../../src/settings/load.js';

const ok = (status: 'success' | 'warning' | 'failure' | 'conflict' | 'skipped' | 'pending', data: Record<string, unknown> = {}) => ({ status, summary: status, data });

describe('job ids', () => {
  it('are stage-series-vN, injective, without colons', () => {
    expect(jobId('apply', '20260101-tun-fix', 3)).toBe('apply-20260101-tun-fix-v3');
    const ids = ['a:b', 'a%3Ab', 'a/b', 'a b', "a'b"].map((s) => jobId('build', s, 1));
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).not.toContain(':');
    expect(decodeURIComponent(encodeSeriesId('x:y/z'))).toBe('x:y/z');
  });
});

describe('stagesUntil', () => {
  it('takes the contract names and stops at the named stage', () => {
    expect(stagesUntil()).toEqual(['apply', 'build', 'gate', 'report']);
    expect(stagesUntil('apply')).toEqual(['apply']);
    expect(stagesUntil('build')).toEqual(['apply', 'build']);
    expect(stagesUntil('gates')).toEqual(['apply', 'build', 'gate']);
  });
});

describe('buildFlow', () => {
  it('nests each stage under the next one, with deterministic ids and retry options', () => {
    const config = queueConfig(parseSettings({ queue: { attempts: 4, backoff_ms: 1000 } }));
    const flow = buildFlow(config, 's', 2, ['apply', 'build', 'gate']);
    expect(flow.queueName).toBe('gate');
    expect(flow.opts?.jobId).toBe('gate-s-v2');
    const build = flow.children![0];
    expect(build.opts?.jobId).toBe('build-s-v2');
    const apply = build.children![0];
    expect(apply.opts).toMatchObject({ jobId: 'apply-s-v2', attempts: 4, backoff: { type: 'exponential', delay: 1000 } });
    expect(apply.children).toBeUndefined();
    expect(apply.data).toEqual({ seriesId: 's', version: 2 });
  });
});

describe('job data', () => {
  it('holds ids only', () => {
    expect(jobDataSchema.safeParse({ seriesId: 's', version: 1 }).success).toBe(true);
    expect(jobDataSchema.safeParse({ seriesId: 's', version: 1, mbox: '...' }).success).toBe(false);
    expect(jobDataSchema.safeParse({ seriesId: '', version: 1 }).success).toBe(false);
    expect(jobDataSchema.safeParse({ seriesId: 's', version: 0 }).success).toBe(false);
  });
});

describe('verdicts and skips', () => {
  it('the verdict is the most severe status of the stages that ran', () => {
    expect(worstStatus(['success', 'warning'])).toBe('warning');
    expect(worstStatus(['success', 'conflict', 'warning'])).toBe('conflict');
    expect(worstStatus(['skipped', 'success'])).toBe('success');
    expect(worstStatus([])).toBe('skipped');
    expect(verdictOf({ apply: ok('success'), build: ok('skipped', { unavailable: true }), report: ok('warning') })).toBe('warning');
  });

  it('a conflict or failure upstream stops build and gates, never the report', () => {
    expect(blockedBy('build', { apply: ok('conflict') })).toMatch(/apply: conflict/);
    expect(blockedBy('build', { apply: ok('success') })).toBeNull();
    expect(blockedBy('gate', { apply: ok('success'), build: ok('failure') })).toMatch(/build: failure/);
    expect(blockedBy('gate', { apply: ok('warning'), build: ok('skipped', { unavailable: true }) })).toBeNull();
    expect(blockedBy('report', { apply: ok('conflict') })).toBeNull();
    expect(blockedBy('build', {})).toBe('apply did not run');
  });
});
