#!/usr/bin/env node
// Entry point for `npx patchgate`: runs the compiled CLI (npm run build makes dist/). prestart.js comes
// first, before the CLI's modules load: it starts the parser threads of a large `series` or `am` run.
import { prestart } from '../dist/src/prestart.js';

prestart(process.argv.slice(2));
const { main } = await import('../dist/src/cli.js');
main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`patchgate: ${err && err.message ? err.message : String(err)}\n`); process.exitCode = 1; },
);
