// The pipeline's single call at the end of a series revision: the verdict and its reports are stored in
// one transaction (runs.verdict, the mail reply, the patchwork checks and the GitHub reports).
import type { Settings } from '../settings/schema.js';
import type { Db } from '../store/db.js';
import { loadReportContext, type ReportContext } from './context.js';
import { queueReport, type QueueResult } from './outbox.js';
import { queueGithubReport } from './github-stage.js';
import { queuePatchworkChecks } from './patchwork.js';
import type { Status } from './status.js';

export interface VerdictResult {
  verdict: Status;
  context: ReportContext;
  mail: QueueResult;
  patchworkChecks: number;
  /** GitHub reports queued (one per pull request the series came from) */
  githubReports: number;
}

/**
 * Builds the report context from the stored outcomes, records the verdict on the run and queues the
 * reports, atomically. Call it after the last outcome is stored (it may run inside the caller's own
 * transaction). Returns null when the series is not in the store.
 */
export function recordVerdict(db: Db, seriesId: string, version: number, settings: Settings, opts: { now?: Date } = {}): VerdictResult | null {
  return db.transaction((): VerdictResult | null => {
    const ctx = loadReportContext(db, seriesId, version, { dashboardUrl: settings.reply.dashboard_url ?? null });
    if (!ctx) return null;
    db.prepare(`UPDATE runs SET verdict = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE series_id = ? AND version = ?`)
      .run(ctx.verdict, seriesId, version);
    const mail = queueReport(db, ctx, settings, opts);
    const pwSources = settings.sources.filter((s) => s.type === 'patchwork');
    const patchworkChecks = pwSources.length > 0 && ctx.verdict !== 'pending'
      ? queuePatchworkChecks(db, ctx, { dryRun: settings.reply.mode !== 'send' })
      : 0;
    const githubReports = queueGithubReport(db, ctx, { dryRun: settings.reply.mode !== 'send' });
    return { verdict: ctx.verdict, context: ctx, mail, patchworkChecks, githubReports };
  })();
}
