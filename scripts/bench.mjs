#!/usr/bin/env node
// `npm run bench -- NAME [args]`: runs test/bench/NAME.bench.ts with tsx. Without NAME, lists them.
import { spawnSync } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, 'test', 'bench');
const [name, ...args] = process.argv.slice(2);
const all = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.bench.ts')).map((f) => f.replace(/\.bench\.ts$/, '')) : [];
if (!name) {
  process.stdout.write(`benchmarks: ${all.join(', ') || '(none)'}\nusage: npm run bench -- NAME\n`);
  process.exit(all.length ? 0 : 2);
}
if (!all.includes(name)) {
  process.stderr.write(`bench: no benchmark "${name}" (have: ${all.join(', ')})\n`);
  process.exit(2);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', path.join(dir, `${name}.bench.ts`), ...args], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
