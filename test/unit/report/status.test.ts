import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { combineStatus, STATUSES, type Status } from '../../../src/report/status.js';

const status = fc.constantFrom<Status>(...STATUSES);

describe('combineStatus', () => {
  it('is skipped for nothing and for only skipped', () => {
    expect(combineStatus([])).toBe('skipped');
    expect(combineStatus(['skipped', 'skipped'])).toBe('skipped');
  });
  it('ranks success < warning < pending < conflict < failure', () => {
    expect(combineStatus(['success', 'skipped'])).toBe('success');
    expect(combineStatus(['success', 'warning'])).toBe('warning');
    expect(combineStatus(['warning', 'pending'])).toBe('pending');
    expect(combineStatus(['pending', 'conflict'])).toBe('conflict');
    expect(combineStatus(['conflict', 'failure'])).toBe('failure');
  });
  it('failure sticks: whatever comes before or after', () => {
    fc.assert(fc.property(fc.array(status), fc.array(status), (a, b) => {
      expect(combineStatus([...a, 'failure', ...b])).toBe('failure');
    }));
  });
  it('does not depend on order and is idempotent', () => {
    fc.assert(fc.property(fc.array(status), (a) => {
      const c = combineStatus(a);
      expect(combineStatus([...a].reverse())).toBe(c);
      expect(combineStatus([c, c])).toBe(c);
      expect(combineStatus([...a, c])).toBe(c);
    }));
  });
});
