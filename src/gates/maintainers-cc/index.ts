// Maintainers left out of Cc: the tree's own scripts/get_maintainer.pl (in the sandbox, time-capped)
// on each patch, compared with the mail's From, To and Cc.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { Gate, GateDetail, GateStatus } from '../types.js';
import { addresses, combineGateStatus, mailHeaders, patchMbox, runTreeTool } from '../util.js';

export const maintainersCcSettingsSchema = z.object({
  /** status when a maintainer is not on the mail */
  missing: z.enum(['failure', 'warning']).default('warning'),
  /** also require the section's mailing lists (not the catch-all linux-kernel list) */
  lists: z.boolean().default(true),
  /** also require reviewers (R:) */
  reviewers: z.boolean().default(false),
  /** get_maintainer.pl time limit per patch, seconds */
  timeout_s: z.number().positive().default(30),
  /** addresses never required */
  ignore: z.array(z.string()).default(['linux-kernel@vger.kernel.org']),
});
export type MaintainersCcSettings = z.infer<typeof maintainersCcSettingsSchema>;

export interface MaintainerEntry {
  email: string;
  /** `maintainer`, `reviewer`, `supporter`, `odd fixer`, `open list`, `moderated list` ... */
  role: string;
  section: string | null;
  list: boolean;
}

/** Parses get_maintainer.pl output with role statistics (`Name <a@b> (maintainer:SECTION)`). */
export function parseGetMaintainer(output: string): MaintainerEntry[] {
  const out: MaintainerEntry[] = [];
  for (const line of output.split('\n')) {
    const m = /^(.*?)\s*\(([^:)]+)(?::([^)]*))?\)\s*$/.exec(line.trim());
    if (!m) continue;
    const [email] = addresses([m[1]]);
    if (!email) continue;
    const role = m[2].trim().toLowerCase();
    out.push({ email, role, section: m[3]?.trim() ?? null, list: role.endsWith('list') });
  }
  return out;
}

export const maintainersCcGate: Gate<MaintainersCcSettings> = {
  id: 'maintainers-cc',
  description: "maintainers from the tree's get_maintainer.pl are on Cc",
  settingsSchema: maintainersCcSettingsSchema,
  appliesTo(ctx) {
    return !!ctx.tree?.dir && existsSync(path.join(ctx.tree.dir, 'scripts/get_maintainer.pl')) && existsSync(path.join(ctx.tree.dir, 'MAINTAINERS')) && ctx.patches.length > 0;
  },
  async run(ctx, s) {
    const details: GateDetail[] = [];
    const statuses: GateStatus[] = [];
    const ignore = new Set(s.ignore.map((a) => a.toLowerCase()));
    let missingTotal = 0;
    for (const patch of ctx.patches) {
      const mbox = await patchMbox(ctx, patch);
      if (!mbox || !patch.mbox) {
        // without the mail there are no recipients to compare
        details.push({ msgid: patch.msgid, status: 'skipped', message: 'no mail headers to compare' });
        statuses.push('skipped');
        continue;
      }
      const file = path.join(ctx.workDir, `${patch.number}.patch`);
      await writeFile(file, mbox);
      const run = await runTreeTool(ctx, `get-maintainer-${patch.number}`, 'perl', ['scripts/get_maintainer.pl', '--no-git', '--no-git-fallback', '--rolestats', file], s.timeout_s * 1000);
      if (run.timedOut || run.code !== 0) {
        details.push({ msgid: patch.msgid, status: 'skipped', message: run.timedOut ? `get_maintainer.pl took longer than ${s.timeout_s} s` : `get_maintainer.pl exited with ${run.code}` });
        statuses.push('skipped');
        continue;
      }
      const headers = mailHeaders(mbox);
      const on = new Set(addresses([...(headers.get('from') ?? []), ...(headers.get('to') ?? []), ...(headers.get('cc') ?? [])]));
      on.add(patch.author.email.toLowerCase());
      on.add(ctx.series.submitter.email.toLowerCase());
      const wanted = parseGetMaintainer(run.output).filter((e) => {
        if (ignore.has(e.email)) return false;
        if (e.list) return s.lists && e.section !== null;
        if (e.role === 'reviewer') return s.reviewers;
        return true;
      });
      const missing = wanted.filter((e) => !on.has(e.email));
      missingTotal += missing.length;
      const status: GateStatus = missing.length ? s.missing : 'success';
      statuses.push(status);
      details.push({
        msgid: patch.msgid,
        status,
        message: missing.length ? `not on Cc: ${missing.map((e) => `${e.email} (${e.role}${e.section ? `:${e.section}` : ''})`).join(', ')}` : `all ${wanted.length} maintainers/lists on the mail`,
      });
    }
    const status = combineGateStatus(statuses);
    const bad = details.filter((d) => d.status === 'failure' || d.status === 'warning').length;
    return { status, summary: missingTotal ? `${missingTotal} maintainer address(es) missing from Cc on ${bad} patch(es)` : status === 'skipped' ? 'get_maintainer.pl could not be compared' : 'maintainers are on Cc', details };
  },
};
