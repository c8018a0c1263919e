// checkpatch.pl --strict from the tree itself, on each patch's mail, in the sandbox (the script comes
// from the checkout, which holds the series: untrusted).
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { combineGateStatus, patchMbox, runTreeTool } from '../util.js';
import type { Gate, GateDetail, GateStatus } from '../types.js';

export const checkpatchSettingsSchema = z.object({
  strict: z.boolean().default(true),
  /** checkpatch message types to ignore (--ignore) */
  ignore: z.array(z.string()).default([]),
  max_line_length: z.number().int().positive().optional(),
  /** CHECK-level findings (from --strict) make a warning; false keeps them out of the status */
  checks_warn: z.boolean().default(true),
  timeout_s: z.number().positive().default(120),
});
export type CheckpatchSettings = z.infer<typeof checkpatchSettingsSchema>;

export interface CheckpatchIssue {
  level: 'ERROR' | 'WARNING' | 'CHECK';
  type: string | null;
  message: string;
  file: string | null;
  line: number | null;
}

export interface CheckpatchReport {
  issues: CheckpatchIssue[];
  errors: number;
  warnings: number;
  checks: number;
  /** false when the `total:` line is missing (checkpatch did not finish) */
  complete: boolean;
}

/** Parses checkpatch.pl output (with or without --show-types). */
export function parseCheckpatch(output: string): CheckpatchReport {
  const issues: CheckpatchIssue[] = [];
  const lines = output.split('\n');
  let errors = 0;
  let warnings = 0;
  let checks = 0;
  let complete = false;
  for (let i = 0; i < lines.length; i++) {
    const m = /^(ERROR|WARNING|CHECK):(?:([A-Z0-9_]+):)?\s*(.*)$/.exec(lines[i]);
    if (m) {
      const issue: CheckpatchIssue = { level: m[1] as CheckpatchIssue['level'], type: m[2] ?? null, message: m[3].trim(), file: null, line: null };
      for (let j = i + 1; j < Math.min(lines.length, i + 4); j++) {
        const f = /^#\d+: FILE: (.+?):(\d+):/.exec(lines[j]);
        if (f) {
          issue.file = f[1];
          issue.line = Number(f[2]);
          break;
        }
        if (lines[j] === '') break;
      }
      issues.push(issue);
      continue;
    }
    const t = /^total: (\d+) errors?, (\d+) warnings?, (?:(\d+) checks?, )?\d+ lines? checked/.exec(lines[i]);
    if (t) {
      errors = Number(t[1]);
      warnings = Number(t[2]);
      checks = Number(t[3] ?? 0);
      complete = true;
    }
  }
  return { issues, errors, warnings, checks, complete };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export const checkpatchGate: Gate<CheckpatchSettings> = {
  id: 'checkpatch',
  description: "checkpatch.pl --strict from the tree's own scripts/",
  settingsSchema: checkpatchSettingsSchema,
  appliesTo(ctx) {
    return !!ctx.tree?.dir && existsSync(path.join(ctx.tree.dir, 'scripts/checkpatch.pl')) && ctx.patches.length > 0;
  },
  async run(ctx, s) {
    const details: GateDetail[] = [];
    const statuses: GateStatus[] = [];
    let errors = 0;
    let warnings = 0;
    let checks = 0;
    let flagged = 0;
    for (const patch of ctx.patches) {
      const mbox = await patchMbox(ctx, patch);
      if (!mbox) {
        details.push({ msgid: patch.msgid, status: 'skipped', message: 'no patch text' });
        continue;
      }
      const file = path.join(ctx.workDir, `${patch.number}.patch`);
      await writeFile(file, mbox);
      const args = ['scripts/checkpatch.pl', '--show-types', '--no-color', ...(s.strict ? ['--strict'] : [])];
      if (s.ignore.length) args.push('--ignore', s.ignore.join(','));
      if (s.max_line_length) args.push(`--max-line-length=${s.max_line_length}`);
      args.push(file);
      const run = await runTreeTool(ctx, `checkpatch-${patch.number}`, 'perl', args, s.timeout_s * 1000);
      const report = parseCheckpatch(run.output);
      if (!report.complete) {
        const why = run.timedOut ? `timed out after ${s.timeout_s} s` : `exited with ${run.code}: ${run.output.trim().split('\n').slice(-1)[0] ?? ''}`;
        details.push({ msgid: patch.msgid, status: 'skipped', message: `checkpatch did not finish (${why})` });
        statuses.push('skipped');
        continue;
      }
      errors += report.errors;
      warnings += report.warnings;
      checks += report.checks;
      const status: GateStatus = report.errors ? 'failure' : report.warnings || (s.checks_warn && report.checks) ? 'warning' : 'success';
      if (status !== 'success') flagged++;
      statuses.push(status);
      const counts = `${plural(report.errors, 'error')}, ${plural(report.warnings, 'warning')}, ${plural(report.checks, 'check')}`;
      details.push({ msgid: patch.msgid, status, message: `${counts}${report.issues.length ? `: ${report.issues.slice(0, 5).map((i) => `${i.level}:${i.type ?? ''}: ${i.message}${i.file ? ` (${i.file}:${i.line})` : ''}`).join('; ')}` : ''}` });
    }
    const status = combineGateStatus(statuses);
    const summary = `checkpatch --strict: ${plural(errors, 'error')}, ${plural(warnings, 'warning')}, ${plural(checks, 'check')}${flagged ? ` in ${flagged} of ${ctx.patches.length} patches` : ''}`;
    return { status, summary, details };
  },
};
