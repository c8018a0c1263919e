// The pipeline's report stage (src/queue/registry.ts loads it): records the verdict with its reports in
// one transaction, then delivers what is due. Delivery problems never change the series' outcome: the rows
// stay in the outbox for the next pass (startOutboxSender).
import type { Logger } from '../log.js';
import { logger } from '../log.js';
import type { StageContext, StageRegistry } from '../queue/registry.js';
import type { StageOutcome } from '../queue/schemas.js';
import { UnrecoverableError } from 'bullmq';
import { resolveSecret } from '../settings/load.js';
import type { Settings } from '../settings/schema.js';
import type { Db } from '../store/db.js';
import { configureOutbox, createMailTransport, hasDueMail, replySummary, sendOutbox, type SendSummary } from './outbox.js';
import { defaultInstallationClients, hasPendingGithub, sendGithubOutbox, type GithubSendSummary, type InstallationClients } from './github-stage.js';
import { sendPatchworkOutbox, type PatchworkTarget } from './patchwork.js';
import { recordVerdict } from './verdict.js';

/** The patchwork sources checks can be posted to: those with a token, in configuration order. */
export function patchworkTargets(settings: Settings, env: NodeJS.ProcessEnv = process.env): PatchworkTarget[] {
  const out: PatchworkTarget[] = [];
  for (const s of settings.sources) {
    if (s.type !== 'patchwork' || !s.token) continue;
    const token = resolveSecret(s.token, env);
    if (token) out.push({ apiUrl: s.url, project: s.project, token, source: s.name });
  }
  return out;
}

/** The first patchwork source with a token (kept for callers of the single-target form). */
export function patchworkTarget(settings: Settings, env: NodeJS.ProcessEnv = process.env): PatchworkTarget | null {
  return patchworkTargets(settings, env)[0] ?? null;
}

export interface DeliverySummary {
  mail: SendSummary | null;
  patchwork: { sent: number; failed: number; skipped: number } | null;
  github: GithubSendSummary | null;
}

/**
 * One delivery pass over the outbox: mail that is due, then patchwork checks, then GitHub comments and check
 * runs (through the app installation: `opts.github`, else built from `github:`). Never throws.
 */
export async function deliverOutbox(db: Db, settings: Settings, log: Logger = logger,
  opts: { github?: InstallationClients | null } = {}): Promise<DeliverySummary> {
  const out: DeliverySummary = { mail: null, patchwork: null, github: null };
  if (hasDueMail(db)) {
    try {
      const transport = createMailTransport(settings);
      try {
        out.mail = await sendOutbox(db, transport, { reply: settings.reply });
      } finally {
        transport.close();
      }
    } catch (err) {
      log.error({ err: (err as Error).message }, 'mail delivery pass failed');
    }
  }
  try {
    // each check goes to the patchwork source its patch came from (routeCheck)
    const targets = patchworkTargets(settings);
    if (targets.length > 0) out.patchwork = await sendPatchworkOutbox(db, targets);
  } catch (err) {
    log.error({ err: (err as Error).message }, 'patchwork delivery pass failed');
  }
  try {
    if (hasPendingGithub(db)) {
      const clients = opts.github === undefined ? defaultInstallationClients(settings) : opts.github;
      if (clients) out.github = await sendGithubOutbox(db, clients, { log });
      else log.warn('GitHub reports are pending but github.app_id / github.private_key are not configured');
    }
  } catch (err) {
    log.error({ err: (err as Error).message }, 'GitHub delivery pass failed');
  }
  return out;
}

export async function reportStage(ctx: StageContext): Promise<StageOutcome> {
  const { db, settings, seriesId, version, log } = ctx;
  // the verdict and its outbox rows are written in one transaction of the store: run where it is
  if (!db) throw new UnrecoverableError('the report stage runs where the store is, and this worker has none');
  const result = recordVerdict(db, seriesId, version, settings);
  if (!result) return { status: 'skipped', summary: 'series not in the store', data: { reply: null } };
  const { decision } = result.mail;
  log.info({ verdict: result.verdict, decision: decision.action, reason: decision.reason }, 'verdict recorded');
  await deliverOutbox(db, settings, log);
  const reply = replySummary(db, seriesId, version);
  const summary = reply
    ? `reply ${reply.sent ? 'sent' : 'queued'} (${decision.reason})`
    : `no reply: ${decision.reason}`;
  return {
    status: result.verdict === 'skipped' ? 'skipped' : 'success',
    summary,
    data: { reply, verdict: result.verdict, reason: result.context.reason, decision, patchwork_checks: result.patchworkChecks, github_reports: result.githubReports },
  };
}

export function registerStages(registry: StageRegistry): void {
  registry.set('report', reportStage);
}

/** A background sender for the daemon: a delivery pass every INTERVAL (quiet hours, retries). */
export function startOutboxSender(db: Db, settings: Settings, opts: { intervalMs?: number; log?: Logger } = {}): { stop(): Promise<void> } {
  const log = opts.log ?? logger.child({ component: 'outbox-sender' });
  configureOutbox(settings); // approveHeldReply (the dashboard's action) checks these
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const timer = setInterval(() => {
    if (stopped) return;
    running = running.then(() => deliverOutbox(db, settings, log));
  }, opts.intervalMs ?? 60_000);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
