import { describe, expect, it } from 'vitest';
import { findProseCut, stripFooters } from '../../../src/mail/footer.js';
import { parsePullRequest } from '../../../src/mail/pull-request.js';

describe('stripFooters', () => {
  it('cuts at a "-- " signature and at a mailing-list footer', () => {
    expect(stripFooters('hello\n-- \nsig\n')).toBe('hello');
    expect(stripFooters('hello\n_______________________________________________\nLinuxppc-dev mailing list\nLinuxppc-dev@lists.ozlabs.org\n')).toBe('hello');
  });

  it('keeps "---", "--" inside text and underline rules that are not footers', () => {
    expect(stripFooters('a\n---\nUpdate: test update\n')).toBe('a\n---\nUpdate: test update');
    expect(stripFooters('Results\n______________\n| a | b |\n')).toBe('Results\n______________\n| a | b |');
  });

  it('findProseCut honours its range', () => {
    const lines = ['a', '-- ', 'b', '-- '];
    expect(findProseCut(lines, 2)).toBe(3);
    expect(findProseCut(lines, 0, 1)).toBe(1);
  });
});

describe('parsePullRequest', () => {
  it('git request-pull output, old and new (>= 2.14.3) wording', () => {
    const old = 'The following changes since commit abc:\n\n  foo (2010-01-01)\n\nare available in the git repository at:\n  git://x.org/a.git next\n';
    expect(parsePullRequest(old)).toBe('git://x.org/a.git next');
    const neu = 'The following changes since commit abc:\n\n  foo\n\nare available in the Git repository at:\n\n  git://x.org/a.git tags/for-linus \n\nfor you to fetch';
    expect(parsePullRequest(neu)).toBe('git://x.org/a.git tags/for-linus');
    expect(parsePullRequest('please pull git://x.org/a.git')).toBeNull();
  });
});
