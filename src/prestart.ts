// What the command line starts before its own modules load (bin/patchgate.js runs this first). `series` and
// `am` over a large input (a public-inbox or maildir directory, a big mbox) get their parser threads started
// here: a thread loads the mail parser (~150 ms) while the main thread loads the CLI, instead of after it.
// Measured with `npm run bench -- ingest`. Small inputs are parsed in process and start no thread.
import { statSync } from 'node:fs';
import { prestartParseThreads } from './ingest/parse-threads.js';

/** inputs at least this big go to the parser threads (a few hundred messages) */
const LARGE_INPUT = 1 << 20;

function isLargeInput(arg: string): boolean {
  try {
    const st = statSync(arg);
    return st.isDirectory() || st.size >= LARGE_INPUT;
  } catch {
    return false;
  }
}

export function prestart(argv: string[]): void {
  const at = argv.findIndex((a) => !a.startsWith('-'));
  if (at < 0 || (argv[at] !== 'series' && argv[at] !== 'am')) return;
  const rest = argv.slice(at + 1);
  // --workers chooses the threads itself; the pool starts them
  if (rest.some((a) => a === '--workers' || a.startsWith('--workers='))) return;
  const inputs = rest.filter((a, i) => !a.startsWith('-') && rest[i - 1] !== '--store');
  if (inputs.some(isLargeInput)) prestartParseThreads();
}
