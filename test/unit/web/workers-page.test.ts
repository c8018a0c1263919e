// The workers page's results queue: records of store-less workers waiting for the store owner's recorder.
import { describe, expect, it } from 'vitest';
import { RESULTS_STUCK_MS, resultsAlert, workersPage, type QueueView } from '../../../src/web/pages.js';

const now = Date.parse('2026-11-26T04:00:00Z');
const counts = (waiting: number) => ({ waiting, active: 0, delayed: 0, prioritized: 0, 'waiting-children': 0, completed: 7, failed: 0 });
const stage = (name: string, waiting = 0): QueueView => ({ name, role: 'stage', counts: counts(waiting), active: [], workers: 1 });
const results = (waiting: number, workers: number, ageMs: number | null): QueueView => ({
  name: 'results', role: 'results', counts: counts(waiting), active: [], workers, oldestWaiting: ageMs === null ? null : now - ageMs,
});

describe('workers page: the results queue', () => {
  it('records waiting with no recorder connected: no store owner runs', () => {
    expect(resultsAlert(results(3, 0, 1000), now)).toBe('3 outcome records of store-less workers wait in the results queue '
      + '(the oldest since 2026-11-26 03:59:59 UTC): no store owner is running to store them '
      + '(start the daemon, `patchgate run`, or `patchgate worker` with the report queue)');
  });

  it('a recorder connected: a record waiting briefly is no alert, one waiting past the limit is', () => {
    expect(resultsAlert(results(1, 1, 2000), now)).toBeNull();
    expect(resultsAlert(results(1, 2, RESULTS_STUCK_MS + 1000), now)).toMatch(/^1 outcome record of store-less workers waits .*: 2 recorders are connected but not taking them$/);
  });

  it('nothing waiting, or a stage queue with a backlog: no alert', () => {
    expect(resultsAlert(results(0, 0, null), now)).toBeNull();
    expect(resultsAlert(stage('build', 40), now)).toBeNull();
  });

  it('the page lists the stage queues, then the results queue, with the alert above', () => {
    const html = workersPage({ kind: 'ok', queues: [stage('apply'), stage('build', 2), stage('gate'), stage('report'), results(2, 0, 60_000)] }, [], null, now);
    expect(html).toMatch(/<p class="alert" id="results-alert">2 outcome records .* no store owner is running/);
    expect(html).toContain('<tr data-queue="build"><td>build</td><td>2</td>');
    expect(html).toContain('<tr data-queue="results" class="results"><td>results</td><td>2</td>');
    expect(html.indexOf('data-queue="report"')).toBeLessThan(html.indexOf('data-queue="results"'));
    expect(html.indexOf('id="results-alert"')).toBeLessThan(html.indexOf('<table id="queues">'));
    const quiet = workersPage({ kind: 'ok', queues: [stage('apply'), results(0, 1, null)] }, [], null, now);
    expect(quiet).not.toContain('results-alert');
    expect(quiet).toContain('<tr data-queue="results" class="results"><td>results</td><td>0</td>');
  });
});
