// Series format: a cover letter when a series has more than 2 patches, at most 15 patches on lists
// that ask for it (netdev), and every patch received.
import { z } from 'zod';
import type { Gate, GateDetail, GateStatus } from '../types.js';
import { combineGateStatus } from '../util.js';

export const seriesFormatSettingsSchema = z.object({
  /** a series with more patches than this needs a cover letter */
  cover_letter_above: z.number().int().nonnegative().default(2),
  missing_cover: z.enum(['failure', 'warning']).default('failure'),
  max_patches: z.number().int().positive().default(15),
  /** lists whose rules cap the series length; the cap applies when the tree takes patches on one of them */
  max_patches_lists: z.array(z.string()).default(['netdev@vger.kernel.org']),
});
export type SeriesFormatSettings = z.infer<typeof seriesFormatSettingsSchema>;

export const seriesFormatGate: Gate<SeriesFormatSettings> = {
  id: 'series-format',
  description: 'cover letter above 2 patches, at most 15 patches where the list asks, complete series',
  settingsSchema: seriesFormatSettingsSchema,
  appliesTo() {
    return true;
  },
  async run(ctx, s) {
    const details: GateDetail[] = [];
    const total = Math.max(ctx.series.total, ctx.patches.length);
    if (total > s.cover_letter_above && !ctx.series.cover) {
      details.push({ status: s.missing_cover, message: `a series of ${total} patches needs a cover letter (more than ${s.cover_letter_above} patches)` });
    }
    const capped = (ctx.tree?.lists ?? []).map((l) => l.toLowerCase()).filter((l) => s.max_patches_lists.map((x) => x.toLowerCase()).includes(l));
    if (capped.length && total > s.max_patches) {
      details.push({ status: 'failure', message: `${total} patches: ${capped.join(', ')} takes at most ${s.max_patches} patches per series` });
    }
    if (!ctx.series.received_all) {
      details.push({ status: 'warning', message: `only ${ctx.patches.length} of ${ctx.series.total} patches received` });
    }
    const status: GateStatus = details.length ? combineGateStatus(details.map((d) => d.status)) : 'success';
    return { status, summary: details.length ? details.map((d) => d.message).join('; ') : `series of ${total} patch${total === 1 ? '' : 'es'}${ctx.series.cover ? ' with a cover letter' : ''}: format ok`, details };
  },
};
