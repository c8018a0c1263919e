// Command line entry: `patchgate <command>`. Each command lives in src/commands/ and registers itself here.
import { Command, CommanderError } from 'commander';
import { InputError } from './ingest/inputs.js';
import { SettingsError } from './settings/errors.js';
import { registerSeries, registerAm, registerExport } from './commands/series.js';

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
}

/** A usage error or unreadable input: exit 2 with a one-line message (contract.md). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type Registrar = (program: Command, io: CliIo) => void;

const registrars: Registrar[] = [registerSeries, registerAm, registerExport];

/** Lets later-loaded command modules add themselves (run, worker, ingest, start ...). */
export function addCommand(r: Registrar): void {
  registrars.push(r);
}

export function buildProgram(io: CliIo): Command {
  const program = new Command('patchgate')
    .description('Kernel patch workflow bot: series from mail, apply, build, gates, reports')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });
  for (const r of registrars) r(program, io);
  return program;
}

/** The commands defined in this file's own modules: they need none of the optional ones loaded. */
const CORE_COMMANDS = new Set(['series', 'am', 'export']);

/**
 * Loads the command modules the arguments need: only the named command's module (the daemon's and the
 * workers' modules pull in probot, fastify and bullmq: ~100 MB and a second that `series` does not need),
 * or all of them for help and unknown commands.
 */
async function loadOptionalCommands(argv: string[] = []): Promise<void> {
  const wanted = argv.find((a) => !a.startsWith('-'));
  // Commands owned by other parts of the tree; each module exports register<Name>(program, io).
  const optional: [string, string][] = [
    ['./commands/run.js', 'registerRun'],
    ['./commands/worker.js', 'registerWorker'],
    ['./commands/ingest.js', 'registerIngest'],
    ['./commands/start.js', 'registerStart'],
    ['./commands/demo.js', 'registerDemo'],
    ['./commands/heads.js', 'registerHeads'],
    ['./commands/gate.js', 'registerGate'],
    ['./commands/outbox.js', 'registerOutbox'],
  ];
  const named = optional.filter(([mod]) => mod === `./commands/${wanted}.js`);
  const load = wanted && CORE_COMMANDS.has(wanted) ? [] : named.length ? named : optional;
  for (const [mod, name] of load) {
    try {
      const m = (await import(mod)) as Record<string, unknown>;
      const fn = m[name];
      if (typeof fn === 'function' && !registrars.includes(fn as Registrar)) registrars.push(fn as Registrar);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ERR_MODULE_NOT_FOUND' || !String((err as Error).message).includes(mod.slice(2, -3))) throw err;
    }
  }
}

/** Runs the CLI; resolves to the exit code. */
export async function main(argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }): Promise<number> {
  await loadOptionalCommands(argv);
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' && process.exitCode !== 0 ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return 2; // commander already printed its one-line message
    }
    if (err instanceof UsageError || err instanceof InputError || err instanceof SettingsError) {
      io.stderr.write(`patchgate: ${err.message.split('\n').join('\n  ')}\n`);
      return 2;
    }
    throw err;
  }
}
