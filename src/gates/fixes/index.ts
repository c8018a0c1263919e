// Fixes: tags: well-formed (`Fixes: <12+ hex> ("subject")`) and naming a commit of the target tree,
// with the subject that commit has.
import { z } from 'zod';
import { git } from '../../trees/git.js';
import { combineGateStatus, commitMessage, patchMbox } from '../util.js';
import type { Gate, GateDetail, GateStatus } from '../types.js';

export const fixesSettingsSchema = z.object({
  /** status when the named commit is not in the tree */
  missing: z.enum(['failure', 'warning']).default('failure'),
  /** status when the quoted subject differs from the commit's */
  subject_mismatch: z.enum(['failure', 'warning']).default('warning'),
});
export type FixesSettings = z.infer<typeof fixesSettingsSchema>;

export interface FixesTag {
  raw: string;
  sha: string | null;
  subject: string | null;
  /** what is wrong with the form, or null */
  problem: string | null;
}

const WELL_FORMED = /^([0-9a-f]{12,40}) \("(.*)"\)$/;

/** Parses one `Fixes:` value. */
export function parseFixes(value: string): FixesTag {
  const raw = value.trim();
  const m = WELL_FORMED.exec(raw);
  if (m) return { raw, sha: m[1], subject: m[2], problem: null };
  const loose = /^([0-9a-fA-F]+)\b\s*(.*)$/.exec(raw);
  if (!loose) return { raw, sha: null, subject: null, problem: 'no commit id' };
  const [, id, rest] = loose;
  const subj = /^\("(.*)"\)$/.exec(rest.trim());
  let problem: string;
  if (/[A-F]/.test(id)) problem = 'the commit id must be lower-case hex';
  else if (id.length < 12) problem = `the commit id has ${id.length} characters, at least 12 are needed`;
  else if (!subj) problem = 'the subject must follow as ("subject")';
  else problem = 'malformed';
  return { raw, sha: id.toLowerCase(), subject: subj ? subj[1] : null, problem };
}

/** The Fixes: lines of a commit message. */
export function fixesTags(message: string): FixesTag[] {
  return [...message.matchAll(/^Fixes:\s*(.*)$/gim)].map((m) => parseFixes(m[1]));
}

export const fixesGate: Gate<FixesSettings> = {
  id: 'fixes',
  description: 'Fixes: tags well-formed and present in the target tree',
  settingsSchema: fixesSettingsSchema,
  appliesTo(ctx) {
    return ctx.patches.length > 0;
  },
  async run(ctx, s) {
    const details: GateDetail[] = [];
    const statuses: GateStatus[] = [];
    let tags = 0;
    const dir = ctx.tree?.dir ?? null;
    for (const patch of ctx.patches) {
      const mbox = await patchMbox(ctx, patch);
      const message = mbox ? commitMessage(mbox) : patch.trailers.filter((t) => t.from === patch.msgid && /^fixes$/i.test(t.name)).map((t) => `Fixes: ${t.value}`).join('\n');
      for (const tag of fixesTags(message)) {
        tags++;
        let status: GateStatus = 'success';
        let note = 'found in the tree';
        if (tag.problem) {
          status = 'failure';
          note = tag.problem;
        } else if (dir) {
          const r = await git(dir, ['rev-parse', '--verify', '-q', `${tag.sha}^{commit}`], { ok: [0, 1, 128] });
          if (r.code !== 0) {
            status = s.missing;
            note = `commit ${tag.sha} is not in ${ctx.tree!.name}`;
          } else {
            const subject = (await git(dir, ['log', '-1', '--format=%s', r.stdout.trim()])).stdout.trim();
            if (subject !== tag.subject) {
              status = s.subject_mismatch;
              note = `the commit's subject is "${subject}"`;
            }
          }
        } else {
          status = 'warning';
          note = 'well-formed; no checkout to look the commit up in';
        }
        statuses.push(status);
        details.push({ msgid: patch.msgid, status, message: `Fixes: ${tag.raw}: ${note}` });
      }
    }
    if (!tags) return { status: 'success', summary: 'no Fixes: tags', details: [] };
    const status = combineGateStatus(statuses);
    const bad = details.filter((d) => d.status !== 'success').length;
    return { status, summary: bad ? `${bad} of ${tags} Fixes: tags have problems` : `${tags} Fixes: tag(s) well-formed and found in the tree`, details };
  },
};
