import { describe, expect, it } from 'vitest';
import { renderTemplate, TemplateError } from '../../../src/report/template.js';

describe('template', () => {
  it('substitutes dotted names and filters', () => {
    expect(renderTemplate('{{a.b|upper}}-{{n|lpad:4}}|{{s|pad:5}}|', { a: { b: 'x' }, n: 7, s: 'ab' })).toBe('X-   7|ab   |');
    expect(renderTemplate('{{v|pct}} {{w|pct}}', { v: 0.0234, w: -0.1 })).toBe('+2.3% -10.0%');
    expect(renderTemplate('{{n}} {{n|plural:patch/patches}}', { n: 1 })).toBe('1 patch');
    expect(renderTemplate('{{n}} {{n|plural:patch/patches}}', { n: 3 })).toBe('3 patches');
  });

  it('drops lines that hold only a block tag and keeps inline blocks', () => {
    const src = 'head\n{{#each xs}}\n- {{@number}} {{name}}{{#if @last}} (last){{/if}}\n{{else}}\nnone\n{{/each}}\ntail\n';
    expect(renderTemplate(src, { xs: [{ name: 'a' }, { name: 'b' }] })).toBe('head\n- 1 a\n- 2 b (last)\ntail\n');
    expect(renderTemplate(src, { xs: [] })).toBe('head\nnone\ntail\n');
  });

  it('looks names up from the inner scope outwards, and this', () => {
    expect(renderTemplate('{{#each xs}}{{this}}{{sep}}{{/each}}', { xs: ['a', 'b'], sep: ';' })).toBe('a;b;');
  });

  it('if / unless / else', () => {
    expect(renderTemplate('{{#if a}}yes{{else}}no{{/if}}{{#unless a}}!{{/unless}}', { a: [] })).toBe('no!');
    expect(renderTemplate('{{#if a}}yes{{else}}no{{/if}}', { a: 'x' })).toBe('yes');
  });

  it('comments vanish, also across lines', () => {
    expect(renderTemplate('{{! one\n two }}\na{{! x }}b\n', {})).toBe('ab\n');
  });

  it('escapes {{ }} values but not {{{ }}}', () => {
    const escape = (s: string) => s.replace(/</g, '&lt;');
    expect(renderTemplate('{{x}} {{{x}}}', { x: '<b>' }, { escape })).toBe('&lt;b> <b>');
  });

  it('a missing name is an error, not a hole in the mail', () => {
    expect(() => renderTemplate('Hi {{nmae}}', { name: 'x' })).toThrow(TemplateError);
    expect(() => renderTemplate('{{a.b.c}}', { a: { b: {} } })).toThrow(/unknown name a.b.c/);
  });

  it('cannot reach prototypes or run code', () => {
    expect(() => renderTemplate('{{constructor}}', {})).toThrow(TemplateError);
    expect(() => renderTemplate('{{a.__proto__}}', { a: {} })).toThrow(TemplateError);
    expect(() => renderTemplate('{{toString}}', {})).toThrow(TemplateError);
    expect(renderTemplate('{{x}}', { x: '{{y}}', y: 'no' })).toBe('{{y}}');
  });

  it('rejects unbalanced blocks and unknown filters', () => {
    expect(() => renderTemplate('{{#if a}}x', { a: 1 })).toThrow(/unclosed/);
    expect(() => renderTemplate('x{{/if}}', {})).toThrow(/unexpected/);
    expect(() => renderTemplate('{{a|shout}}', { a: 1 })).toThrow(/unknown filter/);
  });
});
