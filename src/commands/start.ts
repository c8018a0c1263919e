// `patchgate start --config FILE`: the daemon's dashboard and API at web.listen.
import type { Command } from 'commander';
import type { CliIo } from '../cli.js';
import { logger } from '../log.js';
import { loadSettings, resolveSecret } from '../settings/load.js';
import { openDb } from '../store/db.js';
import { createWebServer, parseListen } from '../web/server.js';

export function registerStart(program: Command, io: CliIo): void {
  program
    .command('start')
    .description('serve the dashboard and /api/ at web.listen')
    .requiredOption('--config <file>', 'configuration file')
    .action(async (opts: { config: string }) => {
      const settings = loadSettings(opts.config);
      const db = openDb(settings.store.path);
      const token = settings.web.token;
      const app = await createWebServer({ db, actionToken: resolveSecret(token) });
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
