// `patchgate start --config FILE`: the daemon's dashboard and API at web.listen.
import { headsEnqueuer } from '../heads/schedule.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Queue } from 'bullmq';
import type { Command } from 'commander';
import type { CliIo } from '../cli.js';
import { logger } from '../log.js';
import { loadSettings, resolveSecret } from '../settings/load.js';
import { queueConfig } from '../queue/config.js';
import { createPipeline, type Pipeline } from '../queue/pipeline.js';
import { ensureRedisServer, redisAnswers } from '../queue/redis-server.js';
import { startDaemon } from '../main.js';
import { openDb } from '../store/db.js';
import { resetRun } from '../store/runs.js';
import { loadTrees } from '../trees/config.js';
import { loadProjects, type Project } from '../web/projects.js';
import { queueSource } from '../web/queues.js';
import { createWebServer, parseListen } from '../web/server.js';

/** `projects_file:` in the config (default config/projects.yaml); none is fine: the projects page says so. */
function projectsOf(settings: Record<string, unknown>, configFile: string): Project[] {
  const given = typeof settings.projects_file === 'string' ? settings.projects_file : null;
  const candidates = given ? [given, path.resolve(path.dirname(configFile), given)] : ['config/projects.yaml'];
  const file = candidates.find((f) => existsSync(f));
  if (!file) {
    if (given) throw new Error(`projects_file ${given} not found`);
    return [];
  }
  return loadProjects(file);
}

/** The configured trees' names (inline, else trees_file); none: the tree action takes any well-formed name. */
async function treeNames(settings: { trees: { name: string }[]; trees_file?: string }): Promise<string[] | undefined> {
  const names = settings.trees.map((t) => t.name);
  if (names.length === 0 && settings.trees_file) {
    try {
      names.push(...(await loadTrees(settings.trees_file)).trees.map((t) => t.name));
    } catch (err) {
      logger.warn({ err }, 'trees_file unreadable: the tree action accepts any tree name');
    }
  }
  return names.length ? names : undefined;
}

export function registerStart(program: Command, io: CliIo): void {
  program
    .command('start')
    .description('serve the dashboard and /api/ at web.listen')
    .requiredOption('--config <file>', 'configuration file')
    .option('--web-only', 'serve the dashboard only: no sources followed, no workers')
    .option('--no-workers', 'run no apply, build or gate workers here (patchgate worker elsewhere); the report stage and the outcome recorder still run where the store is')
    .action(async (opts: { config: string; webOnly?: boolean; workers: boolean }) => {
      const settings = loadSettings(opts.config);
      const db = openDb(settings.store.path);
      const token = settings.web.token;
      const queues = queueSource(settings.redis.url, settings.redis.prefix);
      // retest needs the pipeline's queues: attached when Redis answers at start (the pages work without it)
      let pipeline: Pipeline | null = null;
      let bullBoard: Queue[] | undefined;
      // the embedded default: a loopback Redis without password is started by the project when it is not up
      if (!opts.webOnly) await ensureRedisServer(settings.redis.url, logger).catch((err: Error) => logger.warn({ err: err.message }, 'could not start Redis'));
      if (await redisAnswers(settings.redis.url)) {
        pipeline = createPipeline({ config: queueConfig(settings), db, log: logger });
        bullBoard = (await queues.queues()) ?? undefined;
      } else {
        logger.warn('Redis does not answer: the dashboard runs without retest and queue views');
      }
      const app = await createWebServer({
        db, actionToken: resolveSecret(token), projects: projectsOf(settings as Record<string, unknown>, opts.config), queues, bullBoard, trees: await treeNames(settings), outboxSettings: settings,
        heads: pipeline ? headsEnqueuer(settings.redis.url, settings.redis.prefix) : null,
        onRetest: pipeline
          ? async (seriesId, version) => {
            resetRun(db, seriesId, version);
            return `${await pipeline!.enqueue(seriesId, version)} ${seriesId} v${version}`;
          }
          : undefined,
      });
      // the daemon: sources followed, complete series queued, workers, mail commands, the outbox, GitHub webhooks
      const daemon = pipeline && !opts.webOnly ? await startDaemon({ db, settings, pipeline, app, workers: opts.workers }) : null;
      app.addHook('onClose', async () => {
        await daemon?.close();
        await pipeline?.close();
      });
      const { host, port } = parseListen(settings.web.listen);
      await app.listen({ host, port });
      io.stderr.write(`patchgate: dashboard at http://${settings.web.listen}/\n`);
      logger.info({ listen: settings.web.listen }, 'dashboard ready');
      await new Promise<void>((resolve) => {
        const stop = () => {
          app.close().then(() => {
            db.close();
            resolve();
          }, resolve);
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
    });
}
