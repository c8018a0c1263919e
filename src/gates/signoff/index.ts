// Signed-off-by of the patch author and of the submitter (the person who mailed it), per patch.
import { z } from 'zod';
import type { Person } from '../../mail/types.js';
import { combineGateStatus, commitMessage, patchMbox } from '../util.js';
import type { Gate, GateContext, GateDetail, GatePatch, GateStatus } from '../types.js';

export const signoffSettingsSchema = z.object({
  /** a sign-off whose name matches but whose address differs: `warning` (default) or accepted */
  name_only_match: z.enum(['warning', 'success']).default('warning'),
});
export type SignoffSettings = z.infer<typeof signoffSettingsSchema>;

/** `Name <a@b>` or a bare address. */
export function parsePerson(value: string): Person {
  const m = /^(.*?)\s*<([^>]+)>/.exec(value.trim());
  if (m) return { name: m[1].replace(/^"|"$/g, '').trim(), email: m[2].trim().toLowerCase() };
  return { name: '', email: value.trim().toLowerCase() };
}

/** The patch's own Signed-off-by lines: from its commit message when we have the mail, else its own trailers. */
export async function ownSignoffs(ctx: GateContext, patch: GatePatch): Promise<Person[]> {
  const mbox = await patchMbox(ctx, patch);
  if (mbox) {
    return [...commitMessage(mbox).matchAll(/^Signed-off-by:\s*(.+)$/gim)].map((m) => parsePerson(m[1]));
  }
  return patch.trailers.filter((t) => t.from === patch.msgid && t.name.toLowerCase() === 'signed-off-by').map((t) => parsePerson(t.value));
}

function normName(s: string): string {
  return s.toLowerCase().replace(/\s+/g, ' ').trim();
}

/** 'email' when an address matches, 'name' when only the name does, null when none. */
export function findSignoff(who: Person, signoffs: Person[]): 'email' | 'name' | null {
  if (signoffs.some((s) => s.email && s.email === who.email.toLowerCase())) return 'email';
  if (who.name && signoffs.some((s) => s.name && normName(s.name) === normName(who.name))) return 'name';
  return null;
}

export const signoffGate: Gate<SignoffSettings> = {
  id: 'signoff',
  description: 'Signed-off-by of the author and the submitter',
  settingsSchema: signoffSettingsSchema,
  appliesTo(ctx) {
    return ctx.patches.length > 0;
  },
  async run(ctx, s) {
    const details: GateDetail[] = [];
    const statuses: GateStatus[] = [];
    let missing = 0;
    for (const patch of ctx.patches) {
      const sobs = await ownSignoffs(ctx, patch);
      const problems: string[] = [];
      let status: GateStatus = 'success';
      const people: [string, Person][] = [['author', patch.author]];
      if (ctx.series.submitter.email.toLowerCase() !== patch.author.email.toLowerCase()) people.push(['submitter', ctx.series.submitter]);
      for (const [role, who] of people) {
        const found = findSignoff(who, sobs);
        if (!found) {
          problems.push(`no Signed-off-by from the ${role} ${who.name ? `${who.name} <${who.email}>` : who.email}`);
          status = 'failure';
          missing++;
        } else if (found === 'name' && s.name_only_match === 'warning') {
          problems.push(`the ${role}'s Signed-off-by has another address than ${who.email}`);
          if (status === 'success') status = 'warning';
        }
      }
      statuses.push(status);
      details.push({ msgid: patch.msgid, status, message: problems.length ? problems.join('; ') : `signed off by ${people.map(([r]) => r).join(' and ')}` });
    }
    const status = combineGateStatus(statuses);
    const bad = details.filter((d) => d.status === 'failure').length;
    const summary = status === 'success' ? `all ${ctx.patches.length} patches signed off by author and submitter`
      : bad ? `${missing} missing Signed-off-by in ${bad} of ${ctx.patches.length} patches` : 'Signed-off-by addresses differ from the author or submitter';
    return { status, summary, details };
  },
};
