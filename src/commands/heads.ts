// `patchgate heads ...`: HEAD runs of the trees, their schedules, history and bisections.
//   heads run      --config F --tree T [--commit C] [--no-bisect] [--queue] [--json]   a HEAD run now
//   heads schedule --config F [--list]                                                 sync schedules into Redis
//   heads worker   --config F                                                          run scheduled HEAD runs
//   heads bisect   --config F --tree T --good G --bad B --metric M [--json]             bisect a change
//   heads history  --config F --tree T [--json]                                        the metric history
import type { Command } from 'commander';
import type { CliIo } from '../cli.js';
import { runHeadJob } from '../heads/jobs.js';
import { bisectBetween } from '../heads/run.js';
import { headJobProcessor } from '../heads/jobs.js';
import { headsQueue, listSchedules, startHeadsWorker, syncSchedules, triggerHeadRun } from '../heads/schedule.js';
import { headsSettingsFrom } from '../heads/settings.js';
import { bisections, headRuns, metricHistory } from '../heads/store.js';
import { logger } from '../log.js';
import { ensureRedisServer } from '../queue/redis-server.js';
import { loadSettings } from '../settings/load.js';
import { openDb } from '../store/db.js';
import { githubReportingConfigured, installationClients, type InstallationClients } from '../report/github-stage.js';
import type { Settings } from '../settings/schema.js';

/** The GitHub App's clients when `github:` configures the App (bisections reported where a tree asks for it). */
function githubClients(settings: Settings): InstallationClients | null {
  return githubReportingConfigured(settings) ? installationClients(settings) : null;
}

function out(io: CliIo, json: boolean | undefined, value: unknown, text: string): void {
  io.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
}

export function registerHeads(program: Command, io: CliIo): void {
  const heads = program.command('heads').description('scheduled test runs on each tree\'s HEAD, metric history, bisection');

  heads.command('run')
    .description('run the HEAD test of a tree now (and bisect what changed)')
    .requiredOption('--config <file>', 'configuration file')
    .requiredOption('--tree <name>', 'tree')
    .option('--commit <rev>', 'measure this commit instead of the branch HEAD')
    .option('--no-bisect', 'do not bisect a detected change')
    .option('--queue', 'add the run to the heads queue instead of running it here')
    .option('--json', 'JSON output')
    .action(async (o: { config: string; tree: string; commit?: string; bisect: boolean; queue?: boolean; json?: boolean }) => {
      const settings = loadSettings(o.config);
      if (o.queue) {
        await ensureRedisServer(settings.redis.url, logger);
        const q = headsQueue(settings.redis.url, settings.redis.prefix);
        try {
          const id = await triggerHeadRun(q, o.tree, 'cli', o.commit);
          out(io, o.json, { queued: id }, `queued HEAD run of ${o.tree}: job ${id}`);
        } finally {
          await q.close();
        }
        return;
      }
      const db = openDb(settings.store.path);
      try {
        const r = await runHeadJob({ db, settings, github: githubClients(settings) }, { tree: o.tree, trigger: 'cli', commit: o.commit }, { bisect: o.bisect });
        const lines = [`run ${r.run.runId} ${o.tree} ${r.run.commit.slice(0, 12)} ${r.run.status}${r.run.note ? ` (${r.run.note})` : ''}`,
          ...r.run.changes.map((c) => `  ${c.metric} ${c.verdict} ${(c.change * 100).toFixed(2)}%`),
          ...r.bisections.map((b) => `  bisection ${b.id}: ${b.summary}`)];
        out(io, o.json, r, lines.join('\n'));
      } finally {
        db.close();
      }
    });

  heads.command('schedule')
    .description('make Redis hold the configured schedules (repeatable jobs), and list them')
    .requiredOption('--config <file>', 'configuration file')
    .option('--list', 'only list what Redis holds')
    .option('--json', 'JSON output')
    .action(async (o: { config: string; list?: boolean; json?: boolean }) => {
      const settings = loadSettings(o.config);
      await ensureRedisServer(settings.redis.url, logger);
      const q = headsQueue(settings.redis.url, settings.redis.prefix);
      try {
        if (!o.list) await syncSchedules(q, headsSettingsFrom(settings as Record<string, unknown>));
        const list = await listSchedules(q);
        out(io, o.json, list, list.map((s) => `${s.tree}\t${s.pattern}${s.tz ? ` ${s.tz}` : ''}\tnext ${s.next ?? '-'}`).join('\n') || 'no schedules');
      } finally {
        await q.close();
      }
    });

  heads.command('worker')
    .description('sync the schedules and run HEAD runs as they come due (until SIGINT/SIGTERM)')
    .requiredOption('--config <file>', 'configuration file')
    .action(async (o: { config: string }) => {
      const settings = loadSettings(o.config);
      await ensureRedisServer(settings.redis.url, logger);
      const q = headsQueue(settings.redis.url, settings.redis.prefix);
      await syncSchedules(q, headsSettingsFrom(settings as Record<string, unknown>));
      await q.close();
      const db = openDb(settings.store.path);
      const ac = new AbortController();
      const w = startHeadsWorker(settings.redis.url, settings.redis.prefix, headJobProcessor({ db, settings, signal: ac.signal, github: githubClients(settings) }));
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      ac.abort();
      await w.close();
      db.close();
    });

  heads.command('bisect')
    .description('bisect a metric change between two commits of a tree')
    .requiredOption('--config <file>', 'configuration file')
    .requiredOption('--tree <name>', 'tree')
    .requiredOption('--good <rev>', 'a commit without the change')
    .requiredOption('--bad <rev>', 'a commit with the change')
    .option('--metric <name>', 'metric (default: the first configured cell\'s cost)')
    .option('--json', 'JSON output')
    .action(async (o: { config: string; tree: string; good: string; bad: string; metric?: string; json?: boolean }) => {
      const settings = loadSettings(o.config);
      const db = openDb(settings.store.path);
      try {
        const hs = headsSettingsFrom(settings as Record<string, unknown>);
        const metric = o.metric ?? `${hs.cells[0]}_cost_per_trans`;
        const b = await bisectBetween({ db, settings, github: githubClients(settings) }, o.tree, { good: o.good, bad: o.bad, metric });
        out(io, o.json, { id: b.bisectionId, ...b.result, outbox: b.outbox, timings: b.timings }, `bisection ${b.bisectionId}: ${b.result.summary}`);
      } finally {
        db.close();
      }
    });

  heads.command('history')
    .description('the metric history of a tree over its HEAD runs, and its bisections')
    .requiredOption('--config <file>', 'configuration file')
    .requiredOption('--tree <name>', 'tree')
    .option('--json', 'JSON output')
    .action((o: { config: string; tree: string; json?: boolean }) => {
      const settings = loadSettings(o.config);
      const db = openDb(settings.store.path);
      try {
        const history = metricHistory(db, o.tree);
        const runs = headRuns(db, o.tree);
        const bis = bisections(db, o.tree);
        const lines: string[] = [];
        for (const [metric, points] of Object.entries(history)) {
          lines.push(metric);
          for (const p of points) lines.push(`  run ${p.run} ${p.commit.slice(0, 12)} ${p.at} median ${p.median.toFixed(1)} (n=${p.n})`);
        }
        for (const b of bis) lines.push(`bisection ${b.id} ${b.metric} ${b.state}${b.culprit ? ` ${b.culprit.slice(0, 12)} ${b.subject}` : ''}`);
        out(io, o.json, { history, runs, bisections: bis }, lines.join('\n') || `no HEAD runs of ${o.tree}`);
      } finally {
        db.close();
      }
    });
}
