// `patchgate worker --config FILE [--queues apply,build,gate,report]`: stage workers as their own process
// against redis.url (or REDIS_URL). Workers on several machines share Redis and nothing else but artifacts:
// apply, build and gate never open the store (their input and outcomes travel through Redis); the report
// queue runs where the store is, so a worker given it opens store.path and also runs the recorder.
// SIGTERM / SIGINT close the workers gracefully: running jobs finish, nothing new is taken.
import type { Command } from 'commander';
import { UsageError, type CliIo } from '../cli.js';
import { logger } from '../log.js';
import { queueConfig } from '../queue/config.js';
import { isStage, STAGES, type Stage } from '../queue/names.js';
import { closeRegistry, loadStageRegistry } from '../queue/registry.js';
import { ownsStore, startWorkers, type WorkerHandle } from '../queue/worker.js';
import { startRecorder, type Recorder } from '../queue/recorder.js';
import { loadSettings } from '../settings/load.js';
import { openDb, type Db } from '../store/db.js';

export function parseQueues(list: string): Stage[] {
  const names = list.split(',').map((s) => s.trim()).filter(Boolean).map((s) => (s === 'gates' ? 'gate' : s));
  const bad = names.filter((n) => !isStage(n));
  if (bad.length || names.length === 0) throw new UsageError(`--queues: unknown queue ${bad.join(', ') || '(none)'}; use ${STAGES.join(',')}`);
  return [...new Set(names)] as Stage[];
}

export interface WorkerProcessOptions {
  config: string;
  queues: Stage[];
  /** extra stage modules (besides PATCHGATE_STAGE_MODULES) */
  modules?: string[];
}

/** Runs workers until SIGTERM/SIGINT; resolves after a graceful close. */
export async function runWorkerProcess(opts: WorkerProcessOptions): Promise<void> {
  const settings = loadSettings(opts.config);
  const config = queueConfig(settings);
  // only the stages that run where the store is need it (and then this process records the others' outcomes)
  const db: Db | undefined = opts.queues.some(ownsStore) ? openDb(settings.store.path) : undefined;
  const registry = await loadStageRegistry({ modules: opts.modules });
  const log = logger.child({ component: 'worker' });
  let handle: WorkerHandle | null = null;
  let recorder: Recorder | null = null;
  try {
    if (db) recorder = await startRecorder({ config, db, log });
    handle = await startWorkers({ config, stages: opts.queues, registry, settings, db });
    await handle.ready();
    await recorder?.ready();
    log.info({ queues: opts.queues, worker: handle.workerId, stages: [...registry.keys()], store: db ? settings.store.path : null }, 'workers ready');
    await new Promise<void>((resolve) => {
      let signals = 0;
      const stop = (sig: NodeJS.Signals) => {
        signals++;
        if (signals === 1) {
          log.info({ signal: sig }, 'closing workers: running jobs finish first (signal again to abort them)');
          resolve();
        } else {
          log.warn({ signal: sig }, 'aborting running jobs: they return to the queue');
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
          void handle?.abort();
        }
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
  } finally {
    await handle?.close();
    await recorder?.close();
    await closeRegistry(registry);
    db?.close();
    log.info('workers closed');
  }
}

export function registerWorker(program: Command, _io: CliIo): void {
  program
    .command('worker')
    .description('run pipeline workers for some stage queues until SIGTERM')
    .requiredOption('--config <file>', 'configuration file')
    .option('--queues <list>', `comma-separated queues (${STAGES.join(',')})`, STAGES.join(','))
    .option('--stage-module <file>', 'load another stage module (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .action(async (opts: { config: string; queues: string; stageModule?: string[] }) => {
      await runWorkerProcess({ config: opts.config, queues: parseQueues(opts.queues), modules: opts.stageModule });
    });
}

/** Entry of workers/<stage>.worker.ts: `node workers/apply.worker.js --config FILE` (or PATCHGATE_CONFIG). */
export async function bootStageWorker(stages: Stage[], argv: string[] = process.argv.slice(2)): Promise<void> {
  const i = argv.indexOf('--config');
  const config = i >= 0 ? argv[i + 1] : process.env.PATCHGATE_CONFIG;
  if (!config) {
    process.stderr.write('usage: node workers/<stage>.worker.js --config FILE (or PATCHGATE_CONFIG=FILE)\n');
    process.exitCode = 2;
    return;
  }
  try {
    await runWorkerProcess({ config, queues: stages });
  } catch (err) {
    process.stderr.write(`patchgate worker: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
