// The build sandbox against hostile patches: a Makefile that reaches for the network, writes outside
// its tree, reads the bot's secrets, hangs with an escaped child, or forks without end. Each is
// stopped and reported, and the worker goes on building. Needs root (namespaces).
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBuild } from '../../src/build/index.js';
import type { BuildSettings } from '../../src/build/settings.js';
import { commitPatch, createMiniTree, git, miniBuildSettings, startCountingServer, type CountingServer } from './build-mini-tree.js';
import { processesMatching } from '../helpers/processes.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

let root: string;
let src: string;
let base: string;
let settings: BuildSettings;
let server: CountingServer;
const SECRET = 'pg-secret-7f3c9a1e';

function evilMakefile(recipe: string[]): string {
  const orig = readFileSync(path.join(src, 'Makefile'), 'utf8');
  return orig.replace('all: $(objtree)/vmlinux\n', () => `SHELL := /bin/bash\nall: evil $(objtree)/vmlinux\n\nevil:\n${recipe.map((l) => `\t${l}`).join('\n')}\n.PHONY: evil\n`);
}

/** Commits the hostile Makefile on a branch off the base and builds it as a one-patch series. */
async function buildHostile(name: string, recipe: string[], over: Partial<BuildSettings> = {}) {
  git(src, 'checkout', '-q', '-B', name, base);
  const commit = commitPatch(src, { Makefile: evilMakefile(recipe) }, `${name}: hostile Makefile`);
  const started = Date.now();
  const r = await runBuild({ seriesId: name, version: 1, tree: { name: 'mini', dir: src }, base, patches: [{ msgid: `<${name}@test>`, commit }], settings: { ...settings, ...over }, workerId: 'w0' });
  const patch = r.configs[0].patches[0];
  return { result: r, patch, log: readFileSync(patch.log!, 'utf8'), ms: Date.now() - started };
}


beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'pg-sandbox-'));
  chmodSync(root, 0o755);
  src = path.join(root, 'tree');
  base = createMiniTree(src);
  settings = miniBuildSettings(path.join(root, 'work'), path.join(root, 'artifacts'));
  server = await startCountingServer();
  process.env.PATCHGATE_TEST_SECRET = SECRET;
});

afterAll(async () => {
  delete process.env.PATCHGATE_TEST_SECRET;
  await server?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe.skipIf(!isRoot)('build sandbox', () => {
  it('cuts the network: a Makefile cannot reach a server on the host loopback', async () => {
    const { patch, log } = await buildHostile('net', [`@echo probing; exec 3<>/dev/tcp/127.0.0.1/${server.port} && echo CONNECTED || echo NO-NETWORK`]);
    expect(server.connections()).toBe(0);
    expect(log).toContain('NO-NETWORK');
    expect(log).not.toContain('CONNECTED');
    expect(patch.status).toBe('success'); // the build itself goes on; it just had no network
  }, 60_000);

  it('keeps writes inside the work area', async () => {
    const marker = path.join(root, 'outside-marker');
    const { patch, log } = await buildHostile('write', [`touch ${marker}`]);
    expect(existsSync(marker)).toBe(false);
    expect(log).toMatch(/Read-only file system|Permission denied/);
    expect(patch.status).toBe('failure');
    expect(patch.errors[0].message).toMatch(/Error 1/);
  }, 60_000);

  it("does not hand over the bot's environment or root-only files", async () => {
    const key = path.join(root, 'app.pem');
    writeFileSync(key, `KEY-${SECRET}\n`, { mode: 0o600 });
    const { log } = await buildHostile('secrets', ['-echo "env=$$PATCHGATE_TEST_SECRET"', `-cat ${key}`, '-cat /proc/1/environ']);
    expect(log).toMatch(/^env=$/m); // the variable is not there at all
    expect(log).not.toContain(SECRET);
    expect(log).toMatch(/Permission denied/);
  }, 60_000);

  it('kills the whole process tree at the time limit, children that left the group included', async () => {
    const { patch, ms } = await buildHostile('hang', ['setsid sleep 987654 &', 'sleep 987655'], { timeout_s: 3 });
    expect(patch.status).toBe('failure');
    expect(patch.errors).toEqual([{ file: '', line: 0, message: 'build timed out after 3 s' }]);
    expect(ms).toBeLessThan(30_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(processesMatching('98765')).toEqual([]);
  }, 60_000);

  it('stops a fork bomb at the process limit and keeps the worker healthy', async () => {
    const { patch, log: flog } = await buildHostile('forks', ['for i in $$(seq 1 400); do sleep 876543 & done; wait'], { timeout_s: 5, sandbox: { ...settings.sandbox, nproc: 64 } });
    // bash retries forks that hit the process limit until the time limit ends it (make -O held its output)
    expect(patch.status).toBe('failure');
    expect(patch.errors[0].message + flog).toMatch(/timed out|Resource temporarily unavailable/);
    await new Promise((r) => setTimeout(r, 500));
    expect(processesMatching('876543')).toEqual([]);
    // the same worker builds the next series normally
    git(src, 'checkout', '-q', '-B', 'after', base);
    const commit = commitPatch(src, { 'init/main.c': '#include "util.h"\n\nint main(void)\n{\n\treturn util_twice(2);\n}\n' }, 'init: ordinary change');
    const r = await runBuild({ seriesId: 'after', version: 1, tree: { name: 'mini', dir: src }, base, patches: [{ msgid: '<after@test>', commit }], settings, workerId: 'w0' });
    expect(r.configs[0].patches[0].status).toBe('success');
  }, 90_000);
});
