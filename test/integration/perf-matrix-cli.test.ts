// `patchgate gate matrix` through the real CLI entry: the default matrix on this host, every cell listed as
// runnable or not run with its reason; selection by a series' paths and projects; usage errors exit 2.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { expandMatrix, loadMatrix } from '../../src/gates/perf/matrix.js';
import { repoRoot } from '../helpers/archive.js';
import { runCli } from '../helpers/cli.js';

const config = path.join(repoRoot, 'config', 'default.yaml');
const matrixFile = path.join(repoRoot, 'config', 'matrix.yaml');
const cells = expandMatrix(loadMatrix(matrixFile));

describe('patchgate gate matrix', () => {
  it('lists every cell of config/matrix.yaml with what this host can do', async () => {
    const r = await runCli(['gate', 'matrix', '--config', config, '--matrix', matrixFile]);
    expect(r.code).toBe(0);
    for (const c of cells) expect(r.stdout).toMatch(new RegExp(`^${c.id}\\s+${c.kind}\\s+(to-run|not-run)\\s+\\S`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`${cells.length} cells: 0 run, \\d+ runnable, \\d+ not run`));
    const vhostLine = r.stdout.split('\n').find((l) => l.startsWith('g2h_tcp_rr_1_vhost_on'))!;
    if (existsSync('/dev/vhost-net')) expect(vhostLine).not.toMatch(/no \/dev\/vhost-net/);
    else expect(vhostLine).toMatch(/not run: no \/dev\/vhost-net on this host/);
    expect(r.stdout).toMatch(/hotplug_windows_vhost_off\s+functional\s+not-run\s+not run: (no Windows image|no \/dev)/);
  });

  it('a series touching drivers/vhost: the vhost workqueue cells are selected, the multiqueue ones are not (JSON)', async () => {
    const r = await runCli(['gate', 'matrix', '--config', config, '--matrix', matrixFile, '--paths', 'drivers/vhost/net.c', '--json']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { cells: { id: string; state: string; reason?: string; selectedBy?: string }[]; host: { vhostNet: boolean } };
    expect(doc.cells).toHaveLength(cells.length);
    const by = new Map(doc.cells.map((c) => [c.id, c]));
    expect(by.get('multi_tcp_rr_1_2pairs')!.selectedBy).toBe('touches drivers/vhost/net.c');
    expect(by.get('mq_tcp_rr_1_vhost_off_q2')).toMatchObject({ state: 'not-run', reason: 'not selected: no touched path or project of the series selects it' });
    expect(by.get('g2g_tcp_rr_1')!.selectedBy).toBe('every series');
    expect(doc.host.vhostNet).toBe(existsSync('/dev/vhost-net'));
  });

  it('--markdown prints the listing as a table for MATRIX.md: one row per cell, and the counts', async () => {
    const r = await runCli(['gate', 'matrix', '--config', config, '--matrix', matrixFile, '--markdown']);
    expect(r.code).toBe(0);
    const rows = r.stdout.split('\n').filter((l) => /^\| [a-z0-9_]+ \| (perf|functional|ring) \| (to-run|not run) \| \S/.test(l));
    expect(rows).toHaveLength(cells.length);
    expect(r.stdout).toMatch(new RegExp(`^${cells.length} cells: 0 run \\(none\\), \\d+ not run, \\d+ runnable\\.$`, 'm'));
    if (!existsSync('/dev/vhost-net')) expect(r.stdout).toContain(`- ${cells.filter((c) => c.vhost).length} x no /dev/vhost-net on this host`);
  });

  it('a project selects its cells without any path', async () => {
    const r = await runCli(['gate', 'matrix', '--config', config, '--matrix', matrixFile, '--projects', 'mq-default', '--json']);
    const doc = JSON.parse(r.stdout) as { cells: { id: string; selectedBy?: string }[] };
    expect(doc.cells.find((c) => c.id === 'mq_tcp_stream_16k_vhost_off_q4')!.selectedBy).toBe('project mq-default');
  });

  it('usage errors exit 2 with one line', async () => {
    const bad = await runCli(['gate', 'matrix', '--config', config, '--matrix', '/nonexistent/matrix.yaml']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/matrix\.yaml not found/);
    const only = await runCli(['gate', 'matrix', '--config', config, '--matrix', matrixFile, '--run', '--only', 'no_such_cell']);
    expect(only.code).toBe(2);
    expect(only.stderr).toMatch(/--only: no cell no_such_cell/);
    const runs = await runCli(['gate', 'calibrate', '--config', config, '--runs', '0']);
    expect(runs.code).toBe(2);
    expect(runs.stderr).toMatch(/--runs 0: a positive integer/);
    const ring = await runCli(['gate', 'ring', '--base', '/nonexistent', '--candidate', '/nonexistent']);
    expect(ring.code).toBe(2);
    expect(ring.stderr).toMatch(/no tools\/virtio\/ringtest in this tree/);
  });
});
