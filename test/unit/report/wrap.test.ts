import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { wrapText } from '../../../src/report/wrap.js';

describe('wrapText', () => {
  it('leaves short lines and the signature separator alone', () => {
    expect(wrapText('a  b\n-- \nsig   \n')).toBe('a  b\n-- \nsig\n');
  });

  it('breaks at spaces, keeps the indentation and quote marker', () => {
    const long = `    ${'word '.repeat(30).trim()}`;
    const out = wrapText(long).split('\n');
    expect(out.length).toBeGreaterThan(1);
    for (const l of out) expect(l.length).toBeLessThanOrEqual(72);
    expect(out[0].startsWith('    word')).toBe(true);
    expect(out[1].startsWith('      word')).toBe(true);
    const quoted = wrapText(`> ${'quoted text '.repeat(10)}`).split('\n');
    expect(quoted.every((l) => l.startsWith('> '))).toBe(true);
  });

  it('keeps column alignment inside the first piece', () => {
    const line = `  perf         failure  ${'x'.repeat(20)} ${'y'.repeat(30)}`;
    expect(wrapText(line).split('\n')[0]).toBe(`  perf         failure  ${'x'.repeat(20)}`);
  });

  it('never breaks a word: a long URL stays whole on its own line', () => {
    const url = `https://example.org/${'a'.repeat(80)}`;
    expect(wrapText(`Logs: ${url} more`).split('\n')).toEqual(['Logs:', `  ${url}`, '  more']);
  });

  it('every line fits in 72 columns and no word is lost (words up to 60 chars)', () => {
    const word = fc.stringMatching(/^[a-z0-9.:/_-]{1,60}$/);
    fc.assert(fc.property(fc.array(word, { maxLength: 60 }), fc.integer({ min: 0, max: 8 }), (words, indent) => {
      const line = ' '.repeat(indent) + words.join(' ');
      const out = wrapText(line);
      for (const l of out.split('\n')) expect(l.length).toBeLessThanOrEqual(72);
      expect(out.split(/\s+/).filter(Boolean)).toEqual(words);
    }));
  });
});
