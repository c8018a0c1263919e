// The recorder's store side (applyRecord): what a worker without the store reports is stored idempotently,
// only for the run it belongs to, and the flow's last record ends the run with its verdict.
import { describe, expect, it } from 'vitest';
import { applyRecord } from '../../../src/queue/recorder.js';
import { recordSchema, type RecordData } from '../../../src/queue/schemas.js';
import { openDb } from '../../../src/store/db.js';
import { cancelRun, getRun, listOutcomes, queueRun } from '../../../src/store/runs.js';

const apply = { status: 'success' as const, summary: '1 applied on net-next', data: { tree: { name: 'net-next', reason: 'marked for net-next' }, apply: [], branch: 'patchgate/s/v1' } };
const build = { status: 'warning' as const, summary: '1 new warning', data: { build: [] } };

function rec(over: Partial<RecordData>): RecordData {
  return recordSchema.parse({ kind: 'outcome', seriesId: 's', version: 1, run: 'r1', stage: 'apply', outcomes: { apply }, finish: null, ...over });
}

describe('applyRecord', () => {
  it('stores the outcomes and, with the last record, the verdict; storing again changes nothing', () => {
    const db = openDb(':memory:');
    queueRun(db, 's', 1, 'build');
    expect(applyRecord(db, rec({ kind: 'running', outcomes: {} }), 'r1')).toBe('recorded');
    expect(getRun(db, 's', 1)?.state).toBe('running');
    expect(applyRecord(db, rec({}), 'r1')).toBe('recorded');
    expect(getRun(db, 's', 1)).toMatchObject({ state: 'running', tree: 'net-next', branch: 'patchgate/s/v1', verdict: null });
    const last = rec({ stage: 'build', outcomes: { apply, build }, finish: { verdict: 'warning', detail: null } });
    expect(applyRecord(db, last, 'r1')).toBe('recorded');
    expect(applyRecord(db, last, 'r1')).toBe('recorded');
    expect(applyRecord(db, rec({}), 'r1')).toBe('recorded'); // a late duplicate of an earlier record
    expect(getRun(db, 's', 1)).toMatchObject({ state: 'done', verdict: 'warning' });
    expect(listOutcomes(db, 's', 1).map((o) => [o.stage, o.status, o.summary])).toEqual([['apply', 'success', apply.summary], ['build', 'warning', build.summary]]);
  });

  it('drops a record of an earlier run of the revision, and one for a revision the store does not run', () => {
    const db = openDb(':memory:');
    queueRun(db, 's', 1, 'apply');
    expect(applyRecord(db, rec({ run: 'old', finish: { verdict: 'success', detail: null } }), 'r2')).toBe('stale');
    expect(getRun(db, 's', 1)?.state).toBe('queued');
    expect(listOutcomes(db, 's', 1)).toEqual([]);
    expect(applyRecord(db, rec({ seriesId: 'unknown' }), null)).toBe('no-run');
    expect(listOutcomes(db, 'unknown', 1)).toEqual([]);
    // without a current token (expired) the record is taken
    expect(applyRecord(db, rec({ finish: { verdict: 'success', detail: null } }), null)).toBe('recorded');
    expect(getRun(db, 's', 1)).toMatchObject({ state: 'done', verdict: 'success' });
  });

  it('never turns a cancelled run into a finished one', () => {
    const db = openDb(':memory:');
    queueRun(db, 's', 1, 'apply');
    cancelRun(db, 's', 1, 'superseded by s v2');
    expect(applyRecord(db, rec({ finish: { verdict: 'success', detail: null } }), 'r1')).toBe('recorded');
    expect(getRun(db, 's', 1)).toMatchObject({ state: 'cancelled', detail: 'superseded by s v2' });
  });
});
