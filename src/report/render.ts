// Renderers: a report context becomes a plain-text mail body, a GitHub comment or patchwork check
// descriptions, through the templates in templates/ (mail/<name>.txt + <name>.subject.txt,
// github/<name>.md, patchwork/<name>.txt).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ReportContext } from './context.js';
import type { Status } from './status.js';
import { parseTemplate, renderNodes } from './template.js';
import { wrapText } from './wrap.js';

function findTemplatesDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'templates');
    if (existsSync(path.join(candidate, 'mail'))) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error('templates/ directory not found');
}

let defaultDir: string | null = null;
const cache = new Map<string, ReturnType<typeof parseTemplate>>();

/** The templates directory: PATCHGATE_TEMPLATES, else templates/ at the repository root. */
export function templatesDir(): string {
  if (process.env.PATCHGATE_TEMPLATES) return process.env.PATCHGATE_TEMPLATES;
  defaultDir ??= findTemplatesDir();
  return defaultDir;
}

function template(rel: string, dir = templatesDir()): ReturnType<typeof parseTemplate> {
  const file = path.join(dir, rel);
  let nodes = cache.get(file);
  if (!nodes) {
    nodes = parseTemplate(readFileSync(file, 'utf8'), rel);
    cache.set(file, nodes);
  }
  return nodes;
}

function pct(v: number | null): string {
  if (v === null) return '?';
  const s = (v * 100).toFixed(1);
  return v > 0 ? `+${s}%` : `${s}%`;
}

function loc(i: { file: string; line: number }): string {
  return i.line > 0 ? `${i.file}:${i.line}` : i.file || '?';
}

/** Tool output shown in a report is cut to this many lines (the log has the rest). */
const MAX_DETAIL_LINES = 12;

function clip(text: string, max: number): string {
  const lines = text.replace(/\s+$/, '').split('\n');
  if (lines.length <= max) return lines.join('\n');
  return [...lines.slice(0, max), `[... ${lines.length - max} more lines]`].join('\n');
}

/** The commands that reproduce a failed build: the stored ones, else a generic recipe. */
export function reproduceLines(ctx: ReportContext): string[] {
  if (ctx.build.reproduce.length > 0) return ctx.build.reproduce;
  const built = ctx.build.status === 'failure' || ctx.build.status === 'warning';
  if (!built) return [];
  const lines: string[] = [];
  const base = ctx.series.base_commit ?? ctx.branch;
  if (base) lines.push(`git checkout ${base}`);
  lines.push(`b4 shazam ${ctx.thread.msgid}`);
  if (ctx.build.config) lines.push(`# config: ${ctx.build.config}`);
  lines.push('make olddefconfig && make -j$(nproc)');
  return lines;
}

/** Plain data for the templates: the context plus preformatted strings. */
export function reportView(ctx: ReportContext): Record<string, unknown> {
  const total = ctx.series.total;
  const label = (n: number): string => (n > 0 ? `[${n}/${total}]` : '[?]');
  const firstName = ctx.series.submitter.name.trim().split(/\s+/)[0] ?? '';
  return {
    ...ctx,
    subject: ctx.thread.subject,
    greeting: firstName ? `Hi ${firstName},` : 'Hello,',
    verdict_upper: ctx.verdict.toUpperCase(),
    version: ctx.series.version,
    total,
    base: ctx.series.base_commit,
    apply: ctx.apply.map((a) => ({ ...a, label: label(a.number), detail: clip(a.detail, MAX_DETAIL_LINES) })),
    build_rows: ctx.build.patches.map((b) => ({
      ...b,
      label: label(b.number),
      errors: b.errors.map((e) => ({ ...e, loc: loc(e) })),
      new_warnings: b.new_warnings.map((w) => ({ ...w, loc: loc(w) })),
    })),
    apply_problems: ctx.apply.filter((a) => a.detail).flatMap((a) => clip(a.detail, MAX_DETAIL_LINES).split('\n').map((l) => `${label(a.number)} ${l}`)),
    build_problems: ctx.build.patches.flatMap((b) => [
      ...b.errors.map((e) => `${label(b.number)} ${loc(e)}: error: ${e.message}`),
      ...b.new_warnings.map((w) => `${label(b.number)} ${loc(w)}: warning: ${w.message}`),
    ]),
    reproduce: reproduceLines(ctx),
    gates: ctx.gates.map((g) => ({
      ...g,
      metrics: g.metrics.map((m) => ({ ...m, range: `[${pct(m.low)}, ${pct(m.high)}]` })),
      findings: g.findings.map((f) => {
        const p = f.msgid ? ctx.series.patches.find((x) => x.msgid === f.msgid) : undefined;
        return { ...f, where: p ? label(p.number) : f.msgid && f.msgid === ctx.series.cover ? '[0/' + total + ']' : '' };
      }),
    })),
    metrics: ctx.gates.flatMap((g) => g.metrics.map((m) => ({ gate: g.id, ...m, range: `[${pct(m.low)}, ${pct(m.high)}]` }))),
    stages: {
      ...ctx.stages,
      apply_icon: icon(ctx.stages.apply), build_icon: icon(ctx.stages.build), gates_icon: icon(ctx.stages.gates),
    },
  };
}

function icon(s: Status): string {
  switch (s) {
    case 'success': return ':white_check_mark:';
    case 'warning': return ':warning:';
    case 'failure': return ':x:';
    case 'conflict': return ':x:';
    case 'pending': return ':hourglass:';
    case 'skipped': return ':heavy_minus_sign:';
  }
}

export interface RenderedMail {
  subject: string;
  text: string;
}

/** Renders templates/mail/NAME.txt and NAME.subject.txt; the body is wrapped at 72 columns. */
export function renderMail(ctx: ReportContext, name = 'report', dir?: string): RenderedMail {
  const view = reportView(ctx);
  let subject = renderNodes(template(`mail/${name}.subject.txt`, dir), view, { name }).trim().replace(/\s+/g, ' ');
  // never "Re: Re: ..."
  subject = subject.replace(/^(Re:\s*)+(?=re:)/i, '');
  const body = renderNodes(template(`mail/${name}.txt`, dir), view, { name });
  const text = wrapText(body.replace(/\n{3,}/g, '\n\n').replace(/^\n+/, '').replace(/\n*$/, '\n'));
  return { subject, text };
}

/** Escapes text for GitHub markdown: no markup, no mentions, no HTML, no table breaks. */
export function escapeMarkdown(s: string): string {
  return s
    .replace(/[\\`*_[\]<>|~]/g, (c) => `\\${c}`)
    .replace(/@(?=\w)/g, '@\u200b')
    .replace(/\r?\n/g, ' ');
}

/** The hidden marker that finds patchgate's comment on a pull request. */
export const GITHUB_MARKER = '<!-- patchgate:report -->';

export function renderGithubComment(ctx: ReportContext, name = 'report', dir?: string): string {
  const base = reportView(ctx);
  // text inside code fences is raw: only a fence of its own could break out
  const fenced = (lines: unknown): string[] => (lines as string[]).map((l) => l.replace(/`{3,}/g, (m) => m.split('').join('\u200b')));
  const view = {
    ...base, marker: GITHUB_MARKER,
    apply_problems: fenced(base.apply_problems), build_problems: fenced(base.build_problems), reproduce: fenced(base.reproduce),
    gate_findings: fenced((base.gates as { id: string; findings: { where: string; message: string }[] }[])
      .flatMap((g) => g.findings.map((f) => `${g.id}: ${f.where ? `${f.where} ` : ''}${f.message}`))),
  };
  const body = renderNodes(template(`github/${name}.md`, dir), view, { name, escape: escapeMarkdown });
  return body.replace(/\n{3,}/g, '\n\n').replace(/\n*$/, '\n');
}

export type PatchworkState = 'pending' | 'success' | 'warning' | 'fail';

export interface PatchworkCheck {
  /** the patch (by msgid) this check is posted on */
  msgid: string;
  context: string;
  state: PatchworkState;
  description: string;
  target_url: string | null;
}

/** patchwork has no skipped state: a skipped stage posts no check. */
export function patchworkState(s: Status): PatchworkState | null {
  switch (s) {
    case 'success': return 'success';
    case 'warning': return 'warning';
    case 'failure':
    case 'conflict': return 'fail';
    case 'pending': return 'pending';
    case 'skipped': return null;
  }
}

function describe(status: Status, summary: string, dir?: string): string {
  const words: Record<Status, string> = {
    success: 'passed', warning: 'warning', failure: 'failed', conflict: 'does not apply', pending: 'pending', skipped: 'skipped',
  };
  const out = renderNodes(template('patchwork/check.txt', dir), { status_word: words[status], summary }, { name: 'check' });
  // patchwork shows descriptions on one line; keep them short
  const line = out.trim().replace(/\s+/g, ' ');
  return line.length > 250 ? `${line.slice(0, 247)}...` : line;
}

/**
 * One check per patch and context: apply and build per patch; a gate whose findings all name their
 * patch per patch, any other gate result copied to every patch (patchwork has no series-level checks). Contexts are `patchgate-apply`, `patchgate-build`,
 * `patchgate-<gate>`.
 */
export function renderPatchworkChecks(ctx: ReportContext, dir?: string): PatchworkCheck[] {
  const checks: PatchworkCheck[] = [];
  const target = ctx.links.dashboard;
  for (const patch of ctx.series.patches) {
    const a = ctx.apply.find((x) => x.msgid === patch.msgid);
    if (a) {
      const state = patchworkState(a.status);
      const summary = a.outcome === 'conflict' ? `${a.outcome}${ctx.tree ? ` on ${ctx.tree.name}` : ''}${a.detail ? `: ${a.detail.split('\n')[0]}` : ''}`
        : `${a.outcome}${ctx.tree ? ` on ${ctx.tree.name}` : ''}`;
      if (state) checks.push({ msgid: patch.msgid, context: 'patchgate-apply', state, description: describe(a.status, summary, dir), target_url: target });
    }
    const b = ctx.build.patches.find((x) => x.msgid === patch.msgid);
    if (b) {
      const state = patchworkState(b.status);
      const first = b.errors[0] ?? b.new_warnings[0];
      const summary = [
        b.errors.length ? `${b.errors.length} error${b.errors.length === 1 ? '' : 's'}` : '',
        b.new_warnings.length ? `${b.new_warnings.length} new warning${b.new_warnings.length === 1 ? '' : 's'}` : '',
      ].filter(Boolean).join(', ') || (ctx.build.config ? `built ${ctx.build.config}` : 'built');
      const text = first ? `${summary}; ${loc(first)}: ${first.message}` : summary;
      if (state) checks.push({ msgid: patch.msgid, context: 'patchgate-build', state, description: describe(b.status, text, dir), target_url: b.log_url ?? target });
    }
    for (const g of ctx.gates) {
      // findings that name their patch are posted on that patch; a series-wide result on every patch
      const own = g.per_patch?.[patch.msgid];
      const status = own ?? g.status;
      const state = patchworkState(status);
      const first = g.findings.find((f) => f.msgid === patch.msgid);
      const summary = own === undefined ? g.summary : first ? first.message : `no findings in this patch (series: ${g.summary})`;
      if (state) checks.push({ msgid: patch.msgid, context: `patchgate-${g.id}`, state, description: describe(status, summary, dir), target_url: g.url ?? target });
    }
  }
  return checks;
}
