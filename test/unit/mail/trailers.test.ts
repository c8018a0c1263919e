import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  emailMatches,
  findTrailers,
  formatTrailer,
  isValidFixes,
  parseTrailers,
  splitBody,
  trailerEmail,
  trailerName,
} from '../../../src/mail/trailers.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const corpus = path.resolve(repoRoot, '..', 'shared', 'corpus', 'b4');

/** The body of a one-message sample file (everything after the header block). */
function sampleBody(name: string): string {
  const raw = readFileSync(path.join(corpus, name), 'utf8');
  return raw.slice(raw.indexOf('\n\n') + 2);
}

const shape = (ts: ReturnType<typeof parseTrailers>) => ts.map((t) => [t.type, t.name, t.value, t.extinfo]);

describe('parseTrailers (b4 test_parse_trailers)', () => {
  it('trailers-test-simple.txt', () => {
    expect(shape(parseTrailers(sampleBody('trailers-test-simple.txt')))).toEqual([
      ['person', 'Reported-by', '"Doe, Jane" <jane@example.com>', null],
      ['person', 'Reviewed-by', 'Bogus Bupkes <bogus@example.com>', null],
      ['utility', 'Fixes', 'abcdef01234567890', null],
      ['utility', 'Link', 'https://msgid.link/some@msgid.here', null],
    ]);
  });

  it('trailers-test-extinfo.txt: extinfo lines, hash comments, wrapped address', () => {
    expect(shape(parseTrailers(sampleBody('trailers-test-extinfo.txt')))).toEqual([
      ['person', 'Reported-by', 'Some, One <somewhere@example.com>', null],
      ['person', 'Reviewed-by', 'Bogus Bupkes <bogus@example.com>', '[for the parts that are bogus]'],
      ['utility', 'Fixes', 'abcdef01234567890', null],
      ['person', 'Tested-by', 'Some Person <bogus2@example.com>', '           [this person visually indented theirs]'],
      ['utility', 'Link', 'https://msgid.link/some@msgid.here', '  # initial submission'],
      ['person', 'Signed-off-by', 'Wrapped Persontrailer <broken@example.com>', null],
    ]);
  });

  it('gives the same result for the commit message alone (above ---)', () => {
    const body = sampleBody('trailers-test-extinfo.txt');
    const message = body.slice(0, body.indexOf('\n---\n') + 1);
    expect(parseTrailers(message)).toEqual(parseTrailers(body));
  });

  it('only takes the last paragraph of the message', () => {
    const msg = 'Subject line text\n\nReported-by: A B <a@b.org>\nis not a trailer block\n\nText.\n\nAcked-by: C D <c@d.org>\n';
    expect(parseTrailers(msg).map((t) => t.name)).toEqual(['Acked-by']);
  });

  it('ignores quoted lines and text below the signature marker', () => {
    const { trailers } = findTrailers('> Reviewed-by: Q <q@x.org>\n\nAcked-by: A <a@x.org>\n-- \nTested-by: S <s@x.org>\n', { followup: true });
    expect(trailers.map((t) => t.value)).toEqual(['A <a@x.org>']);
  });

  it('cleans Outlook mailto junk', () => {
    const { trailers } = findTrailers('Reviewed-by: HTML Junker <html-junker@example.com<mailto:html-junker@example.com>>\n', { followup: true });
    expect(trailers[0]!.value).toBe('HTML Junker <html-junker@example.com>');
  });

  it('follow-up rules: person trailers need an address, URLs only in link trailers', () => {
    const { trailers } = findTrailers([
      'Reviewed-by: Nobody',
      'Note: see https://example.org/x',
      'Closes: https://example.org/bug/1234',
      'Fixes: abcdef012345 ("subj")',
      'Tested-by: T <t@example.org>',
    ].join('\n'), { followup: true });
    expect(trailers.map((t) => t.name)).toEqual(['Closes', 'Fixes', 'Tested-by']);
  });

  it('re-joins a Fixes subject wrapped over two lines', () => {
    const ts = parseTrailers('Fix it.\n\nFixes: abcdef012345 ("net: do a\nthing")\nSigned-off-by: A <a@b.org>\n');
    expect(ts.map((t) => t.value)).toEqual(['abcdef012345 ("net: do a thing")', 'A <a@b.org>']);
  });
});

describe('address parsing (b4 test_trailer_addr_parsing)', () => {
  const one = (v: string) => findTrailers(`Reviewed-by: ${v}\n`, { followup: true }).trailers[0]!;
  it.each([
    ['Jane "JD" Doe <jd@example.com>', 'Jane "JD" Doe', 'jd@example.com'],
    ['"Doe, Jane" <jane@example.com>', '"Doe, Jane"', 'jane@example.com'],
    ['Some, One <somewhere@example.com>', 'Some, One', 'somewhere@example.com'],
    ['Developer Foo (EXAMPLECORP) <dev@example.com>', 'Developer Foo (EXAMPLECORP)', 'dev@example.com'],
    ['Followup Tester1 [corporate] <t1@example.com>', 'Followup Tester1 [corporate]', 't1@example.com'],
  ])('%s', (value, name, email) => {
    const t = one(value);
    expect(t.type).toBe('person');
    expect(t.value).toBe(value);
    expect(trailerName(t)).toBe(name);
    expect(trailerEmail(t)).toBe(email);
  });

  it('bare address', () => {
    const t = one('bare-address@example.org');
    expect(trailerEmail(t)).toBe('bare-address@example.org');
    expect(trailerName(t)).toBe('');
  });

  it('utility trailers have no address', () => {
    expect(trailerEmail({ name: 'Link', value: 'https://msgid.link/some@msgid.here' })).toBeNull();
  });
});

describe('isValidFixes (b4 test_fixes_trailer_format_validation)', () => {
  it.each([
    ['abcdef012345 ("subj")', true],
    ['a'.repeat(64), true],
    ['abcdef012345', true],
    ['?', false],
    ['some description with no hash', false],
    ['abcdefg12345 ("not hex")', false],
  ])('%s -> %s', (value, ok) => {
    expect(isValidFixes(value)).toBe(ok);
  });
});

describe('emailMatches', () => {
  it.each([
    ['a@example.com', 'A@Example.com', true],
    ['a+kernel@example.com', 'a@example.com', true],
    ['foo@linux.intel.com', 'foo@intel.com', true],
    ['mismatched-reviewer1@example.net', 'mismatched-reviewer1@example.com', false],
    ['foo@a.b.intel.com', 'foo@intel.com', false],
  ])('%s ~ %s = %s', (a, b, ok) => {
    expect(emailMatches(a, b)).toBe(ok);
  });
});

describe('splitBody / formatTrailer', () => {
  it('splits message, trailers, basement and signature', () => {
    const parts = splitBody(sampleBody('trailers-test-simple.txt').replace('\n--\n', '\n-- \n'));
    expect(parts.message).toBe('This is a simple trailer parsing test.');
    expect(parts.trailers).toHaveLength(4);
    expect(parts.basement.startsWith('\ndiff --git a/b4/junk.py')).toBe(true);
    expect(parts.signature).toBe('2.wong.fu');
  });

  it('keeps hash comments on the line and bracket extinfo below', () => {
    expect(formatTrailer({ name: 'Link', value: 'https://x', extinfo: '  # bug' })).toBe('Link: https://x  # bug');
    expect(formatTrailer({ name: 'Acked-by', value: 'A <a@b.org>', extinfo: '[for x]' })).toBe('Acked-by: A <a@b.org>\n[for x]');
  });
});
