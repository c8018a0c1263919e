import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { expandMatrix, loadMatrix, probeHost, runMatrix, type CellReport } from '../../../../src/gates/perf/matrix.js';
import { coveredByPerfGate, matrixGateEntry, matrixSettingsFrom, matrixStatus, seriesScope } from '../../../../src/gates/perf/matrix-stage.js';
import { perfSettingsFrom } from '../../../../src/gates/perf/settings.js';
import type { StageContext } from '../../../../src/queue/registry.js';
import type { Series } from '../../../../src/series/types.js';
import { loadProjects } from '../../../../src/web/projects.js';
import { repoRoot } from '../../../helpers/archive.js';

const cfg = loadMatrix(path.join(repoRoot, 'config', 'matrix.yaml'));
const cells = expandMatrix(cfg);
const projects = loadProjects(path.join(repoRoot, 'config', 'projects.yaml'));

/** The parts of a series that select cells: its name and the files its patches touch. */
function series(name: string, files: string[][]): Series {
  return { name, patches: files.map((f, i) => ({ name: `${name} ${i + 1}`, files: f })) } as unknown as Series;
}

describe('the matrix in the gate stage', () => {
  it('a vhost series selects the cells of its paths and projects (config/projects.yaml), not the others', async () => {
    const s = series('vhost: use a workqueue per device', [['drivers/vhost/vhost.c', 'drivers/vhost/vhost.h'], ['drivers/vhost/net.c']]);
    const scope = seriesScope(s, projects);
    expect(scope.paths).toEqual(['drivers/vhost/vhost.c', 'drivers/vhost/vhost.h', 'drivers/vhost/net.c']);
    expect(scope.projects).toContain('vhost-workqueue');
    expect(scope.projects).not.toContain('tun-queues');
    const reports = await runMatrix(cells, scope, probeHost(cfg), cfg);
    const state = (id: string) => reports.find((r) => r.id === id)!;
    expect(state('multi_tcp_rr_1_4pairs').selectedBy).toBe('project vhost-workqueue');
    expect(state('g2h_tcp_rr_1_vhost_off').state).toBe('to-run');
    expect(state('mq_tcp_rr_1_vhost_off_q2')).toMatchObject({ state: 'not-run', reason: expect.stringMatching(/not selected/) });
    expect(state('filter_vlan_filter_vhost_off').reason).toMatch(/not selected/);
  });

  it('the guest-to-guest cells of gates.perf are left to the perf gate entry; other sizes and topologies are not', () => {
    const perf = perfSettingsFrom({});
    const byId = new Map(cells.map((c) => [c.id, c]));
    expect(coveredByPerfGate(byId.get('g2g_tcp_rr_1')!, perf)).toBe('tcp_rr');
    expect(coveredByPerfGate(byId.get('g2g_tcp_stream_16k')!, perf)).toBe('tcp_stream');
    expect(coveredByPerfGate(byId.get('g2g_small_tcp_rr_64')!, perf)).toBeNull();
    expect(coveredByPerfGate(byId.get('g2g_small_tcp_stream_1k')!, perf)).toBeNull();
    expect(coveredByPerfGate(byId.get('g2h_tcp_rr_1_vhost_off')!, perf)).toBeNull();
  });

  it('its status is the worst verdict of the cells run; cells not run do not count', () => {
    const r = (id: string, verdict?: string): CellReport => (verdict ? { id, kind: 'perf', state: 'run', verdict } : { id, kind: 'perf', state: 'not-run', reason: 'x' });
    expect(matrixStatus([r('a', 'success: ok'), r('b')])).toBe('success');
    expect(matrixStatus([r('a', 'success: ok'), r('b', 'warning: noisy')])).toBe('warning');
    expect(matrixStatus([r('a', 'warning: noisy'), r('b', 'failure: regression +6%')])).toBe('failure');
    expect(matrixStatus([r('b')])).toBe('skipped');
  });

  it('is off unless configured, and skipped without the build\'s kernel images', async () => {
    expect(matrixSettingsFrom({})).toMatchObject({ enabled: false, looks: [5, 8], cell_budget_s: 300 });
    const ctx = {
      settings: { work_dir: '/tmp/pg-matrix-stage', gates: {} }, options: {}, previous: {}, series: series('x', [['a.c']]),
      seriesId: 's', version: 1, workerId: 'w', log: { info: () => undefined }, updateProgress: async () => undefined,
    } as unknown as StageContext;
    expect(await matrixGateEntry(ctx)).toBeNull();
    const on = { ...ctx, settings: { work_dir: '/tmp/pg-matrix-stage', gates: { matrix: { enabled: true, file: path.join(repoRoot, 'config', 'matrix.yaml') } } } } as unknown as StageContext;
    expect(await matrixGateEntry(on)).toMatchObject({ id: 'matrix', status: 'skipped', summary: expect.stringMatching(/no kvm-guest base and head kernel images/) });
    expect(await matrixGateEntry({ ...on, options: { perf: false } } as StageContext)).toMatchObject({ status: 'skipped', summary: 'test matrix not run (--no-perf)' });
  });
});
