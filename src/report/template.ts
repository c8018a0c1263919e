// A tiny, safe template format for reports (a strict subset of Mustache/Handlebars, no code):
//   {{ path }}            a value (escaped by the renderer's escape function), with filters: {{ x | pad:20 }}
//   {{{ path }}}          a value, never escaped
//   {{#if path}} .. {{else}} .. {{/if}}, {{#unless path}} .. {{/unless}}
//   {{#each path}} .. {{else}} .. {{/each}}   inside: this, @index, @number (1-based), @first, @last
//   {{! comment }}
// Paths are dotted own-property lookups (a.b.c), searched from the innermost scope outwards. A missing
// name is an error (a typo in a template must not send a mail with a hole in it). A line holding only a
// block tag is dropped whole, so templates stay readable as plain text.
// Filters: upper, lower, pad:N, lpad:N, indent:N, pct (0.123 -> +12.3%), plural:ONE/MANY.

type Node =
  | { type: 'text'; value: string }
  | { type: 'var'; path: string; filters: string[]; raw: boolean }
  | { type: 'if'; path: string; negate: boolean; then: Node[]; else: Node[] }
  | { type: 'each'; path: string; body: Node[]; else: Node[] };

export class TemplateError extends Error {
  constructor(message: string, public readonly template: string) {
    super(`${template}: ${message}`);
    this.name = 'TemplateError';
  }
}

const TAG = /\{\{\{\s*([^}]*?)\s*\}\}\}|\{\{\s*([^}]*?)\s*\}\}/g;

interface Token {
  kind: 'text' | 'tag' | 'raw';
  value: string;
}

/** Splits into tokens, removing lines that hold only a block tag (and whitespace). */
function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  // comments may span lines; a comment alone on its lines goes with its line break
  const text = src.replace(/^[ \t]*\{\{![\s\S]*?\}\}[ \t]*\n/gm, '').replace(/\{\{![\s\S]*?\}\}/g, '');
  const lines = text.split(/(?<=\n)/);
  for (const line of lines) {
    const trimmed = line.trim();
    const standalone = /^\{\{\s*([#/!]|else\b)[^}]*\}\}$/.test(trimmed);
    if (standalone) {
      const m = /^\{\{\s*([^}]*?)\s*\}\}$/.exec(trimmed)!;
      tokens.push({ kind: 'tag', value: m[1] });
      continue;
    }
    let last = 0;
    for (const m of line.matchAll(TAG)) {
      if (m.index! > last) tokens.push({ kind: 'text', value: line.slice(last, m.index) });
      if (m[1] !== undefined) tokens.push({ kind: 'raw', value: m[1] });
      else tokens.push({ kind: 'tag', value: m[2] });
      last = m.index! + m[0].length;
    }
    if (last < line.length) tokens.push({ kind: 'text', value: line.slice(last) });
  }
  return tokens;
}

export function parseTemplate(src: string, name = '<template>'): Node[] {
  const tokens = tokenize(src);
  let i = 0;
  function parseUntil(ends: string[]): { nodes: Node[]; end: string | null } {
    const nodes: Node[] = [];
    while (i < tokens.length) {
      const t = tokens[i++];
      if (t.kind === 'text') {
        nodes.push({ type: 'text', value: t.value });
        continue;
      }
      if (t.kind === 'raw') {
        const [path, ...filters] = t.value.split('|').map((s) => s.trim());
        nodes.push({ type: 'var', path, filters, raw: true });
        continue;
      }
      const v = t.value;
      if (v.startsWith('!')) continue;
      if (ends.includes(v)) return { nodes, end: v };
      const block = /^#(if|unless|each)\s+(\S+)$/.exec(v);
      if (block) {
        const kind = block[1];
        const close = `/${kind}`;
        const first = parseUntil(['else', close]);
        let other: Node[] = [];
        if (first.end === 'else') {
          const second = parseUntil([close]);
          if (second.end !== close) throw new TemplateError(`unclosed {{#${kind}}}`, name);
          other = second.nodes;
        } else if (first.end !== close) {
          throw new TemplateError(`unclosed {{#${kind}}}`, name);
        }
        if (kind === 'each') nodes.push({ type: 'each', path: block[2], body: first.nodes, else: other });
        else nodes.push({ type: 'if', path: block[2], negate: kind === 'unless', then: first.nodes, else: other });
        continue;
      }
      if (v.startsWith('#') || v.startsWith('/') || v === 'else') throw new TemplateError(`unexpected {{${v}}}`, name);
      const [path, ...filters] = v.split('|').map((s) => s.trim());
      nodes.push({ type: 'var', path, filters, raw: false });
    }
    return { nodes, end: null };
  }
  const { nodes, end } = parseUntil([]);
  if (end !== null) throw new TemplateError(`unexpected {{${end}}}`, name);
  return nodes;
}

type Scope = Record<string, unknown>;

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

function lookup(scopes: Scope[], path: string, name: string): unknown {
  if (path === 'this' || path === '.') return scopes[scopes.length - 1]['this'];
  const parts = path.split('.');
  if (parts.some((p) => FORBIDDEN.has(p) || p === '')) throw new TemplateError(`bad name ${path}`, name);
  let value: unknown = undefined;
  let found = false;
  for (let s = scopes.length - 1; s >= 0; s--) {
    const scope = scopes[s];
    const head = parts[0] === 'this' ? scope['this'] : scope;
    const key = parts[0] === 'this' ? parts[1] : parts[0];
    if (key === undefined) continue;
    if (head !== null && typeof head === 'object' && Object.hasOwn(head, key)) {
      value = (head as Scope)[key];
      found = true;
      break;
    }
  }
  if (!found) throw new TemplateError(`unknown name ${path}`, name);
  const rest = parts[0] === 'this' ? parts.slice(2) : parts.slice(1);
  for (const p of rest) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, p)) {
      throw new TemplateError(`unknown name ${path}`, name);
    }
    value = (value as Scope)[p];
  }
  return value;
}

function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (v !== null && typeof v === 'object') return Object.keys(v).length > 0;
  return Boolean(v);
}

function toText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

function applyFilter(value: unknown, filter: string, name: string): unknown {
  const [fn, arg] = filter.split(':').map((s) => s.trim());
  const n = arg === undefined ? NaN : Number(arg);
  switch (fn) {
    case 'upper':
      return toText(value).toUpperCase();
    case 'lower':
      return toText(value).toLowerCase();
    case 'pad':
      return toText(value).padEnd(n);
    case 'lpad':
      return toText(value).padStart(n);
    case 'indent': {
      const pad = ' '.repeat(n);
      return toText(value).split('\n').map((l) => (l === '' ? l : pad + l)).join('\n');
    }
    case 'pct': {
      if (typeof value !== 'number') return toText(value);
      const s = (value * 100).toFixed(1);
      return value > 0 ? `+${s}%` : `${s}%`;
    }
    case 'plural': {
      // plural:patch/patches
      const [one, many] = (arg ?? '').split('/');
      return value === 1 ? one : many ?? `${one}s`;
    }
    default:
      throw new TemplateError(`unknown filter ${fn}`, name);
  }
}

export interface RenderOptions {
  /** escapes {{ }} values (not {{{ }}}); identity for plain text */
  escape?: (s: string) => string;
  name?: string;
}

export function renderNodes(nodes: Node[], data: Scope, opts: RenderOptions = {}): string {
  const name = opts.name ?? '<template>';
  const escape = opts.escape ?? ((s: string) => s);
  let out = '';
  function walk(list: Node[], scopes: Scope[]): void {
    for (const node of list) {
      switch (node.type) {
        case 'text':
          out += node.value;
          break;
        case 'var': {
          let v = lookup(scopes, node.path, name);
          for (const f of node.filters) v = applyFilter(v, f, name);
          out += node.raw ? toText(v) : escape(toText(v));
          break;
        }
        case 'if': {
          const t = truthy(lookup(scopes, node.path, name));
          walk(t !== node.negate ? node.then : node.else, scopes);
          break;
        }
        case 'each': {
          const v = lookup(scopes, node.path, name);
          const items = Array.isArray(v) ? v : [];
          if (items.length === 0) walk(node.else, scopes);
          items.forEach((item, index) => {
            const scope: Scope = {
              this: item, '@index': index, '@number': index + 1,
              '@first': index === 0, '@last': index === items.length - 1,
            };
            if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
              for (const k of Object.keys(item)) if (!FORBIDDEN.has(k)) scope[k] = (item as Scope)[k];
            }
            walk(node.body, [...scopes, scope]);
          });
          break;
        }
      }
    }
  }
  walk(nodes, [{ this: data, ...data }]);
  return out;
}

export function renderTemplate(src: string, data: Scope, opts: RenderOptions = {}): string {
  return renderNodes(parseTemplate(src, opts.name), data, opts);
}
