// A realistic dashboard store for browser tests and the web benchmark: real mail from the corpus (the
// patchwork revision cases and the start of the virtualization archive), assembled by the series engine,
// with pipeline results written through the pipeline's own store functions.
import path from 'node:path';
import type { Db } from '../../src/store/db.js';
import { assembleStored, ingestInputs } from '../../src/ingest/ingest.js';
import { readMailInputs, type RawInput } from '../../src/ingest/inputs.js';
import { readEpoch } from '../../src/ingest/public-inbox-git.js';
import { finishRun, markRunning, queueRun, saveOutcome } from '../../src/store/runs.js';
import { listSeries } from '../../src/store/series.js';
import type { Series } from '../../src/series/types.js';
import { archiveGitDir, corpusDir } from '../helpers/archive.js';

async function* archiveHead(limit: number): AsyncGenerator<RawInput> {
  let n = 0;
  for await (const m of readEpoch(archiveGitDir())) {
    if (n++ >= limit) return;
    yield { raw: m.raw, source: 'virt' };
  }
}

/** A perf gate result as the gate stores it: metrics with intervals, and every boot's sample. */
export function perfOutcomeData(shift: number, seed = 1): Record<string, unknown> {
  let x = seed * 9301 + 49297;
  const rnd = () => ((x = (x * 9301 + 49297) % 233280) / 233280);
  const draw = (base: number, n: number, k = 1) => Array.from({ length: n }, () => Math.round(base * k * (1 + (rnd() - 0.5) * 0.01) * 10) / 10);
  const rrBase = draw(51_230, 5), rrCand = draw(51_230, 5, 1 + shift);
  const stBase = draw(2_410, 5), stCand = draw(2_410, 5, 1 + shift / 4);
  const verdict = shift > 0.005 ? 'regression' : shift < -0.005 ? 'improvement' : 'unchanged';
  return {
    id: 'perf', status: verdict === 'regression' ? 'failure' : 'success',
    summary: `tcp_rr_cost_per_trans ${(shift * 100).toFixed(1)}%`,
    metrics: {
      tcp_rr_cost_per_trans: { change: shift, low: shift - 0.004, high: shift + 0.004, p: 0.0079, verdict },
      tcp_stream_cost_per_kb: { change: shift / 4, low: shift / 4 - 0.01, high: shift / 4 + 0.01, p: 0.42, verdict: 'unchanged' },
    },
    samples: {
      baseline: { tcp_rr_cost_per_trans: rrBase, tcp_stream_cost_per_kb: stBase },
      candidate: { tcp_rr_cost_per_trans: rrCand, tcp_stream_cost_per_kb: stCand },
    },
  };
}

/** Walks one revision through the pipeline's store writes up to VERDICT. */
export function recordRun(db: Db, s: Series, verdict: 'success' | 'failure' | 'conflict' | 'running', perfShift?: number): void {
  queueRun(db, s.id, s.version, 'report');
  markRunning(db, s.id, s.version);
  const apply = verdict === 'conflict' ? 'conflict' : 'success';
  saveOutcome(db, s.id, s.version, 'apply', {
    status: apply, summary: apply === 'success' ? 'applied to net-next' : 'patch 1 does not apply',
    data: {
      tree: { name: 'net-next', reason: 'net-next in the subject prefix' }, branch: `patchgate/${s.id}/v${s.version}`,
      apply: s.patches.map((p, i) => ({ msgid: p.msgid, outcome: apply === 'conflict' && i === 0 ? 'conflict' : 'applied', files: p.files, detail: '' })),
    },
  });
  if (verdict === 'conflict') {
    finishRun(db, s.id, s.version, 'conflict');
    return;
  }
  saveOutcome(db, s.id, s.version, 'build', {
    status: verdict === 'failure' ? 'failure' : 'success', summary: verdict === 'failure' ? '1 error' : 'built',
    data: { build: s.patches.map((p, i) => ({ msgid: p.msgid, status: verdict === 'failure' && i === 0 ? 'failure' : 'success', new_warnings: [],
      errors: verdict === 'failure' && i === 0 ? [{ file: p.files[0] ?? 'drivers/net/virtio_net.c', line: 42, message: "error: 'vi' undeclared" }] : [] })) },
  });
  if (verdict === 'running') return;
  if (perfShift !== undefined) {
    const data = perfOutcomeData(perfShift, s.patches.length + s.version);
    saveOutcome(db, s.id, s.version, 'gate:perf', { status: String(data.status), summary: String(data.summary), data });
  }
  saveOutcome(db, s.id, s.version, 'gate:checkpatch', { status: 'success', summary: 'no issues', data: { id: 'checkpatch', status: 'success', details: [] } });
  saveOutcome(db, s.id, s.version, 'gate', { status: verdict, summary: verdict, data: {} });
  finishRun(db, s.id, s.version, verdict);
}

/** Corpus mail (patchwork revision cases + the first ARCHIVE messages of the virtualization list) in DB. */
export async function seedStore(db: Db, archive = 600): Promise<Series[]> {
  const series = (f: string) => path.join(corpusDir, 'patchwork', 'series', f);
  await ingestInputs(db, readMailInputs([series('revision-basic.mbox'), series('base-no-references.mbox'), series('bugs-mixed-versions.mbox')]));
  if (archive > 0) await ingestInputs(db, archiveHead(archive));
  assembleStored(db, { sloppyTrailers: false });
  return listSeries(db);
}
