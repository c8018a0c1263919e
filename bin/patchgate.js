#!/usr/bin/env node
// Entry point for `npx patchgate`: runs the compiled CLI (npm run build makes dist/).
import { main } from '../dist/src/cli.js';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`patchgate: ${err && err.message ? err.message : String(err)}\n`); process.exitCode = 1; },
);
