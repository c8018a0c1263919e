// `patchgate demo --config config/demo.yaml [--quick] [--fresh] [--keep] [--json]`: the main job's
// process (scripts/main-job.sh prepares the tree, Redis and the public-inbox first): the local SMTP
// sink, the dashboard and the daemon in one process group, progress until the expected verdicts and
// their replies are in, a summary. Exit 0 only when every series ended as demo.expect says.
import type { Command } from 'commander';
import { UsageError, type CliIo } from '../cli.js';
import { runDemo } from '../demo/run-demo.js';
import { loadSettings } from '../settings/load.js';

export function registerDemo(program: Command, io: CliIo): void {
  program
    .command('demo')
    .description('run the main job: the bundled series from the local public-inbox to replies in the local SMTP sink')
    .requiredOption('--config <file>', 'configuration file (config/demo.yaml)')
    .option('--quick', 'skip the perf gate (the perf regression series then cannot show its regression)')
    .option('--fresh', 'start from an empty store, queue and sink (tree, builds and ccache are kept)')
    .option('--keep', 'keep the dashboard and the SMTP sink up after the summary, until Ctrl-C')
    .option('--timeout <minutes>', 'give up after this many minutes', '120')
    .option('--json', 'print the summary as JSON on stdout (progress goes to stderr)')
    .action(async (opts: { config: string; quick?: boolean; fresh?: boolean; keep?: boolean; timeout: string; json?: boolean }) => {
      const minutes = Number(opts.timeout);
      if (!(minutes > 0)) throw new UsageError(`--timeout: not a positive number of minutes: ${opts.timeout}`);
      const settings = loadSettings(opts.config);
      const out = opts.json ? io.stderr : io.stdout;
      const tty = !!(out as NodeJS.WriteStream).isTTY && !process.env.CI;
      const result = await runDemo({
        settings, quick: !!opts.quick, fresh: !!opts.fresh, keep: !!opts.keep, timeoutMs: minutes * 60_000, bars: tty, out,
      });
      if (opts.json) io.stdout.write(JSON.stringify(result, null, 2) + '\n');
      if (!result.ok) process.exitCode = 1;
    });
}
