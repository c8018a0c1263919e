import { describe, expect, it } from 'vitest';
import { expandMatrix, loadMatrix } from '../../../../src/gates/perf/matrix.js';
import { runMatrixCell, transactionsFor } from '../../../../src/gates/perf/matrix-run.js';
import path from 'node:path';
import { repoRoot } from '../../../helpers/archive.js';

const cells = new Map(expandMatrix(loadMatrix(path.join(repoRoot, 'config', 'matrix.yaml'))).map((c) => [c.id, c]));
const opts = { baselineKernel: '/k0', candidateKernel: '/k1', initrd: '/rd', topologyInitrd: '/rd2', workDir: '/tmp/pg-matrix-run', plan: { looks: [5], alpha: 0.05 }, accel: 'tcg' as const };

describe('matrix cell runs', () => {
  it('TCP_CRR cells run a tenth of the transactions (a connection each), at least 200; the others all of them', () => {
    expect(transactionsFor('TCP_CRR', 2000)).toBe(200);
    expect(transactionsFor('TCP_CRR', 4000)).toBe(400);
    expect(transactionsFor('TCP_CRR', 500)).toBe(200);
    expect(transactionsFor('TCP_RR', 2000)).toBe(2000);
    expect(transactionsFor('TCP_STREAM', 4000)).toBe(4000);
  });

  it('a ring cell without the two trees is not run, with the reason, and nothing is booted', async () => {
    expect(await runMatrixCell(cells.get('ring_ptr_ring')!, opts)).toEqual({ notRun: 'no base and candidate trees given (--base-tree, --candidate-tree)' });
  });
});
