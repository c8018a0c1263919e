import { describe, expect, it } from 'vitest';
import type { Series } from '../../../src/series/types.js';
import { compileProjects, globToRegExp, matchesProject, perfData } from '../../../src/web/projects.js';
import { parseAge } from '../../../src/web/queries.js';
import { distributionSvg, median, niceTicks } from '../../../src/web/svg.js';

describe('plots', () => {
  it('median is the middle value, not the mean', () => {
    expect(median([1, 2, 100])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('ticks are round and cover the range', () => {
    expect(niceTicks(0.3, 9.7)).toEqual([2, 4, 6, 8]);
    expect(niceTicks(51_000, 52_600)).toEqual([51_000, 51_500, 52_000, 52_500]);
  });

  it('draws each sample once and each side\'s median at its value (higher value, higher on the page)', () => {
    const svg = distributionSvg('m', [10, 11, 12], [20, 21, 22, 23], { change: 0.8, low: 0.7, high: 0.9, p: 0.03, verdict: 'regression' });
    expect(svg.match(/class="sample"/g)).toHaveLength(7);
    const y = [...svg.matchAll(/class="median"[^>]* y1="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(y[1]).toBeLessThan(y[0]);
    expect(svg).toContain('median candidate 21.5');
    expect(svg).toContain('+80.00% [+70.00%, +90.00%] p=0.030 regression');
    expect(distributionSvg('m', [], [])).toBe('');
  });

  it('escapes metric names', () => {
    expect(distributionSvg('<x>', [1], [2])).not.toContain('<x>');
  });
});

describe('projects', () => {
  const s = (name: string, files: string[]): Series => ({
    id: 'x', name, version: 1, total: 1, received_all: true, rfc: false, tags: [], submitter: { name: '', email: '' }, cover: null,
    base_commit: null, depends_on: [], previous: null,
    patches: [{ msgid: '<a@b>', number: 1, name, subject: name, author: { name: '', email: '' }, pull_url: null, files, trailers: [] }],
  });

  it('globs: * stays in a directory, ** crosses them', () => {
    expect(globToRegExp('drivers/vhost/*.c').test('drivers/vhost/net.c')).toBe(true);
    expect(globToRegExp('drivers/vhost/*.c').test('drivers/vhost/x/net.c')).toBe(false);
    expect(globToRegExp('tools/virtio/**').test('tools/virtio/ringtest/main.c')).toBe(true);
    expect(globToRegExp('net/bridge/**').test('net/bridge_x.c')).toBe(false);
  });

  it('every criterion a project gives must match', () => {
    const [wq] = compileProjects([{ id: 'wq', title: 't', paths: ['drivers/vhost/**'], subjects: ['workqueue'], metrics: [] }]);
    expect(matchesProject(wq, s('vhost: use a workqueue for the tx path', ['drivers/vhost/net.c']))).toBe(true);
    expect(matchesProject(wq, s('vhost: fix a leak', ['drivers/vhost/net.c']))).toBe(false);
    expect(matchesProject(wq, s('net: workqueue rename', ['net/core/dev.c']))).toBe(false);
  });

  it('perf data is read whether the stage keeps it at the top or under details', () => {
    const samples = { baseline: { m: [1] }, candidate: { m: [2] } };
    expect(perfData({ metrics: { m: { change: 1 } }, samples }).samples).toEqual(samples);
    expect(perfData({ details: { metrics: { m: { change: 1 } }, samples } }).metrics).toEqual({ m: { change: 1 } });
    expect(perfData({ details: [] }).samples).toBeNull();
  });

  it('age filters: within, and older than', () => {
    const now = Date.parse('2026-11-26T00:00:00Z');
    expect(parseAge('7d', now)).toEqual({ op: '>=', iso: '2026-11-19T00:00:00.000Z' });
    expect(parseAge('>2w', now)).toEqual({ op: '<', iso: '2026-11-12T00:00:00.000Z' });
    expect(parseAge('soon', now)).toBeNull();
  });
});
