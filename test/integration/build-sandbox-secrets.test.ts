// The build sandbox against a patch whose Makefile goes after the bot's secrets, the network, the
// host's files and its process table. The bot is laid out as on a real host: its configuration with a
// literal secret, the GitHub App private key, the SMTP password and webhook secret files, the SQLite
// store and ~/.ssh, all world-readable (so file modes cannot be what stops the build), beside the
// build's work dir and the tree; its environment holds tokens and PATCHGATE_* secrets. Each attack is
// a one-patch series built by the kernel builder on a small Kbuild-style C tree; each is stopped, the
// outcome says why, no secret reaches the log, and the same worker then builds an ordinary patch.
// Needs root (namespaces).
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBuild, type BuildResult, type PatchBuild } from '../../src/build/index.js';
import type { BuildSettings } from '../../src/build/settings.js';
import { buildPaths } from '../../src/build/kernel.js';
import { commitPatch, createMiniTree, git, miniBuildSettings, startCountingServer, type CountingServer } from './build-mini-tree.js';
import { processesMatching } from '../helpers/processes.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
/** a cgroup memory controller to hold a build to (v1 here; v2 on a current Debian) */
const hasCgroupMemory = existsSync('/sys/fs/cgroup/memory/memory.limit_in_bytes')
  || (existsSync('/sys/fs/cgroup/cgroup.controllers') && readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8').includes('memory'));
const SECRET = 'pg-bot-secret-5d1e0b77';

let root: string;
let bot: string;
let src: string;
let base: string;
let settings: BuildSettings;
let server: CountingServer;
const secretFiles: Record<string, string> = {};
const savedEnv: Record<string, string | undefined> = {};
const ENV_SECRETS = { PATCHGATE_WEBHOOK_SECRET: `webhook-${SECRET}`, GITHUB_TOKEN: `ghs_${SECRET}`, SMTP_PASSWORD: `smtp-${SECRET}`, PATCHGATE_WEB_TOKEN: `web-${SECRET}` };

function put(file: string, text: string): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  chmodSync(file, 0o644);
  return file;
}

/** A Makefile whose default target runs RECIPE (bash) before building the tree. */
function hostileMakefile(recipe: string[]): string {
  const orig = readFileSync(path.join(src, 'Makefile'), 'utf8');
  return orig.replace('all: $(objtree)/vmlinux\n', () => `SHELL := /bin/bash\nall: evil $(objtree)/vmlinux\n\nevil:\n${recipe.map((l) => `\t${l}`).join('\n')}\n.PHONY: evil\n`);
}

async function buildHostile(name: string, recipe: string[], over: Partial<BuildSettings> = {}): Promise<{ result: BuildResult; patch: PatchBuild; log: string; why: string }> {
  git(src, 'checkout', '-q', '-B', name, base);
  const commit = commitPatch(src, { Makefile: hostileMakefile(recipe) }, `${name}: hostile Makefile`);
  const result = await runBuild({ seriesId: name, version: 1, tree: { name: 'mini', dir: src }, base, patches: [{ msgid: `<${name}@test>`, commit }], settings: { ...settings, ...over }, workerId: 'w0' });
  const patch = result.configs[0].patches[0];
  const log = readFileSync(patch.log!, 'utf8');
  // everything the outcome says: what a report shows
  const why = JSON.stringify(result);
  return { result, patch, log, why };
}

function expectNoSecret(log: string, why: string): void {
  expect(log).not.toContain(SECRET);
  expect(why).not.toContain(SECRET);
}


beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'pg-secrets-'));
  chmodSync(root, 0o755);
  // the bot's directory: configuration, keys, store and its work dirs side by side
  bot = path.join(root, 'bot');
  secretFiles.settings = put(path.join(bot, 'config/patchgate.yaml'), `github:\n  app_id: 4242\n  private_key: ${path.join(bot, 'keys/app.pem')}\nweb:\n  token: literal-${SECRET}\n`);
  secretFiles.privateKey = put(path.join(bot, 'keys/app.pem'), `-----BEGIN RSA PRIVATE KEY-----\nkey-${SECRET}\n-----END RSA PRIVATE KEY-----\n`);
  secretFiles.smtpPassword = put(path.join(bot, 'secrets/smtp-password'), `smtp-file-${SECRET}\n`);
  secretFiles.webhookSecret = put(path.join(bot, 'secrets/webhook-secret'), `webhook-file-${SECRET}\n`);
  secretFiles.sshKey = put(path.join(root, 'home/.ssh/id_ed25519'), `ssh-${SECRET}\n`);
  mkdirSync(path.join(bot, 'var'), { recursive: true });
  secretFiles.store = path.join(bot, 'var/patchgate.sqlite');
  const db = new Database(secretFiles.store);
  db.exec('CREATE TABLE tokens (value TEXT)');
  db.prepare('INSERT INTO tokens VALUES (?)').run(`store-${SECRET}`);
  db.close();
  chmodSync(secretFiles.store, 0o644);
  src = path.join(bot, 'var/trees/mini');
  base = createMiniTree(src);
  // the tree's own git config with a credential in a remote URL
  git(src, 'remote', 'add', 'origin', `https://x-access-token:git-${SECRET}@github.com/example/mini.git`);
  settings = miniBuildSettings(path.join(bot, 'var/build'), path.join(bot, 'var/artifacts'));
  server = await startCountingServer();
  for (const [k, v] of Object.entries(ENV_SECRETS)) {
    savedEnv[k] = process.env[k];
    process.env[k] = v;
  }
  savedEnv.HOME = process.env.HOME;
  process.env.HOME = path.join(root, 'home');
  process.env.PATCHGATE_CONFIG = secretFiles.settings;
});

afterAll(async () => {
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  delete process.env.PATCHGATE_CONFIG;
  await server?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe.skipIf(!isRoot)('build sandbox: secrets, network, writes, forks', () => {
  // the real files can be read by anyone on the host: only the sandbox hides them
  it('the secret files are world-readable outside the sandbox (the test would prove nothing otherwise)', () => {
    for (const f of Object.values(secretFiles)) expect((readFileSync(f).toString('latin1'))).toContain(SECRET);
  });

  it.each([
    ['settings', 'the settings file'],
    ['privateKey', 'the GitHub App private key'],
    ['smtpPassword', 'the SMTP password file'],
    ['webhookSecret', 'the webhook secret file'],
    ['store', 'the SQLite store'],
    ['sshKey', 'an ssh key'],
  ])('cannot read %s (%s): the build fails and says the path is hidden', async (key) => {
    const file = secretFiles[key];
    const { patch, log, why } = await buildHostile(`read-${key}`, [`cat ${file}`]);
    expect(patch.status).toBe('failure');
    expect(log).toContain(`${file}: No such file or directory`);
    expect(patch.errors.map((e) => e.message)).toContain(`sandbox: access to a path hidden by the sandbox blocked: cat: ${file}: No such file or directory`);
    expect(patch.sandbox_denials?.length).toBeGreaterThan(0);
    expectNoSecret(log, why);
  }, 60_000);

  it('sees nothing of /root, /home, the bot directory or the tree\'s git metadata', async () => {
    const { patch, log, why } = await buildHostile('look-around', [
      '-ls -a /root /home /work /run /var',
      `-ls -a ${bot} ${path.join(bot, 'config')} ${path.join(bot, 'keys')}`,
      `-cat ${path.join(src, '.git/config')}`,
      '-git -C $(srctree) remote -v',
      "ls / | sed 's/^/ROOT:/'",
      `test ! -e ${bot}/config`,
    ]);
    expect(log).toMatch(/ls: cannot access '\/root': No such file or directory/);
    // the bot directory holds only the mount points of the tree and the work dir
    expect(log).toContain(`ls: cannot access '${path.join(bot, 'config')}': No such file or directory`);
    expect(log).toContain(`ls: cannot access '${path.join(bot, 'keys')}': No such file or directory`);
    expect(log).not.toMatch(/^(config|keys|secrets)$/m);
    expect(log).toMatch(/not a git repository|No such file or directory/);
    // the root holds the toolchain and the sandbox's own mounts only
    const listing = log.split('\n').filter((l) => l.startsWith('ROOT:')).map((l) => l.slice(5));
    for (const d of ['root', 'home', 'var', 'run', 'work', 'opt', 'srv', 'mnt']) expect(listing).not.toContain(d);
    expect(listing).toEqual(expect.arrayContaining(['usr', 'bin', 'etc', 'tmp', 'proc', 'dev']));
    expect(patch.status).toBe('success');
    expect(patch.sandbox_denials?.some((d) => d.includes('/root'))).toBe(true);
    expectNoSecret(log, why);
  }, 60_000);

  it("gets none of the bot's environment: not in its own, not from /proc/1, its parent's or the bot process's environ", async () => {
    const { patch, log, why } = await buildHostile('environ', [
      'env | sort',
      `echo "token=[$$GITHUB_TOKEN] webhook=[$$PATCHGATE_WEBHOOK_SECRET] smtp=[$$SMTP_PASSWORD] config=[$$PATCHGATE_CONFIG]"`,
      "-tr '\\0' '\\n' < /proc/$$PPID/environ",
      "-tr '\\0' '\\n' < /proc/1/environ",
      `tr '\\0' '\\n' < /proc/${process.pid}/environ`,
    ]);
    expect(log).toContain('token=[] webhook=[] smtp=[] config=[]');
    expect(log).toMatch(/^PATH=/m);
    expect(log).toMatch(/\/proc\/1\/environ: Permission denied/);
    // the bot's own process does not exist in the build's PID namespace
    expect(log).toContain(`/proc/${process.pid}/environ: No such file or directory`);
    expect(patch.status).toBe('failure');
    expect(patch.errors.map((e) => e.message).join('\n')).toMatch(new RegExp(`sandbox: access to a path hidden by the sandbox blocked: .*/proc/${process.pid}/environ`));
    expectNoSecret(log, why);
    for (const v of Object.values(ENV_SECRETS)) expect(log).not.toContain(v);
  }, 60_000);

  it('cannot write outside its out dir: not the tree, not the bot directory; /tmp writes stay private and are named', async () => {
    const marker = `pg-escape-${process.pid}-${Date.now()}`;
    const { patch, log, why } = await buildHostile('tmp-write', [`echo escaped > /tmp/${marker}`, `echo escaped > /dev/shm/${marker}`]);
    expect(existsSync(`/tmp/${marker}`)).toBe(false);
    expect(existsSync(`/dev/shm/${marker}`)).toBe(false);
    // the build went on (its /tmp is its own), and the outcome names the discarded writes
    expect(patch.status).toBe('success');
    expect(patch.sandbox_denials).toEqual(expect.arrayContaining([
      `sandbox: write outside the build directories discarded: /tmp/${marker}`,
      `sandbox: write outside the build directories discarded: /dev/shm/${marker}`,
    ]));
    expect(log).not.toContain(SECRET);
    expect(why).not.toContain(`${SECRET}`);

    const tree = await buildHostile('tree-write', [`echo x > ${path.join(src, 'init/main.c')}`]);
    expect(tree.patch.status).toBe('failure');
    expect(tree.patch.errors.map((e) => e.message).join('\n')).toMatch(/sandbox: write outside the build directories blocked: .*init\/main\.c: Read-only file system/);
    expect(readFileSync(path.join(src, 'init/main.c'), 'utf8')).toContain('util_twice');

    const store = await buildHostile('store-write', [`echo x >> ${secretFiles.store}`]);
    expect(store.patch.status).toBe('failure');
    // the path does not exist in the sandbox's read-only root
    expect(store.patch.errors.map((e) => e.message).join('\n')).toMatch(/sandbox: (access to a path hidden by the sandbox|write outside the build directories) blocked: .*patchgate\.sqlite: (No such file or directory|Read-only file system|Permission denied)/);
    expect(readFileSync(secretFiles.store).toString('latin1')).toContain(`store-${SECRET}`);
  }, 90_000);

  it('cannot reach the network: neither a server on 127.0.0.1 nor an outside address', async () => {
    const { patch, log, why } = await buildHostile('network', [
      `-timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/${server.port}' && echo LOOPBACK-CONNECTED`,
      // TEST-NET-1 (RFC 5737): unroutable even if the sandbox failed
      "timeout 5 bash -c 'exec 3<>/dev/tcp/192.0.2.1/80' && echo OUTSIDE-CONNECTED",
    ]);
    expect(server.connections()).toBe(0);
    expect(log).not.toMatch(/^(LOOPBACK|OUTSIDE)-CONNECTED$/m);
    expect(log).toMatch(/127\.0\.0\.1\/\d+: Network is unreachable/);
    expect(log).toMatch(/192\.0\.2\.1\/80: Network is unreachable/);
    expect(patch.status).toBe('failure');
    const messages = patch.errors.map((e) => e.message);
    expect(messages.some((m) => m.startsWith('sandbox: network access blocked:') && m.includes('192.0.2.1'))).toBe(true);
    expect(patch.sandbox_denials?.some((d) => d.includes('127.0.0.1'))).toBe(true);
    expectNoSecret(log, why);
  }, 60_000);

  it.skipIf(!hasCgroupMemory)('is held to its memory as a whole: processes each under the per-process limit are killed at the build\'s', async () => {
    const { patch, log, why } = await buildHostile('memory-hog', [
      // six processes of 200 MiB each: every one under the 4096 MiB per-process limit, 1.2 GiB together
      'for i in 1 2 3 4 5 6; do (head -c 200M /dev/zero | tail > /dev/null) & done; wait',
    ], { sandbox: { ...settings.sandbox, build_memory_mb: 256 } });
    expect(patch.sandbox_denials).toEqual(expect.arrayContaining([expect.stringMatching(/^sandbox: memory limit of 256 MiB for the whole build reached: \d+ process\(es\) killed$/)]));
    expectNoSecret(log, why);
    // the build's cgroup is gone after it
    const left = ['/sys/fs/cgroup/memory/patchgate', '/sys/fs/cgroup/patchgate'].filter((d) => existsSync(d)).flatMap((d) => readdirSync(d)).filter((n) => n.startsWith(`b${process.pid}-`));
    expect(left).toEqual([]);
  }, 60_000);

  it('cannot poison the next series: what it wrote to the out dir is undone, the shared ccache is read-only to it', async () => {
    const out = buildPaths(settings, 'w0', 'mini', 'mini').out;
    const ccacheDir = buildPaths(settings, 'w0', 'mini', 'mini').ccache;
    const MARK = 'PG-POISON-7f3a';
    const { patch, log } = await buildHostile('poison', [
      `printf '%s\\n' 'const char pg_poison[] = "${MARK}";' 'int util_twice(int x) { return 3 * x; }' > $(objtree)/evil.c`,
      'gcc -c -o $(objtree)/lib/util.o $(objtree)/evil.c',
      // dated in the future: make would take it as newer than lib/util.c for good
      'touch -d 2099-01-01 $(objtree)/lib/util.o',
      '-echo planted > $$CCACHE_DIR/planted',
    ]);
    expect(patch.status).not.toBe('failure');
    // the attack took effect in the out dir (so the test can fail) and not in the cache
    expect(readFileSync(path.join(out, 'lib/util.o')).includes(MARK)).toBe(true);
    expect(log).toMatch(/planted: Read-only file system/);
    expect(existsSync(path.join(ccacheDir, 'planted'))).toBe(false);
    // the next series on the same worker and out dir: its kernel holds nothing of it
    git(src, 'checkout', '-q', '-B', 'after-poison', base);
    const commit = commitPatch(src, { 'init/main.c': '#include "util.h"\n\nint main(void)\n{\n\treturn util_twice(21);\n}\n' }, 'init: after the poison');
    const r = await runBuild({ seriesId: 'after-poison', version: 1, tree: { name: 'mini', dir: src }, base, patches: [{ msgid: '<after-poison@test>', commit }], settings, workerId: 'w0' });
    expect(r.configs[0].base.status).toBe('success');
    expect(r.configs[0].patches[0].status).toBe('success');
    expect(readFileSync(path.join(out, 'lib/util.o')).includes(MARK)).toBe(false);
    expect(readFileSync(path.join(out, 'vmlinux')).includes(MARK)).toBe(false);
    expect(existsSync(path.join(out, 'evil.c'))).toBe(false);
  }, 120_000);

  it('stops a fork bomb, leaves no process behind, and the worker builds the next series', async () => {
    const { patch, log, why } = await buildHostile('fork-bomb', ['bomb() { bomb | bomb & }; bomb; sleep 765432'], { timeout_s: 8, sandbox: { ...settings.sandbox, nproc: 64 } });
    expect(patch.status).toBe('failure');
    const messages = patch.errors.map((e) => e.message).join('\n');
    expect(messages).toMatch(/build timed out after 8 s|make exited/);
    expect(messages).toMatch(/sandbox: process limit reached: \d+ processes in the build at the time limit, \d+ of uid 65534 \(limit 64\)/);
    expectNoSecret(log, why);
    await new Promise((r) => setTimeout(r, 500));
    expect(processesMatching('765432')).toEqual([]);
    // the same worker, the same out dir: an ordinary patch builds and its warning is found
    git(src, 'checkout', '-q', '-B', 'after', base);
    const commit = commitPatch(src, { 'init/main.c': '#include "util.h"\n\nint main(void)\n{\n\tint unused_after;\n\n\treturn util_twice(2);\n}\n' }, 'init: ordinary change');
    const r = await runBuild({ seriesId: 'after', version: 1, tree: { name: 'mini', dir: src }, base, patches: [{ msgid: '<after@test>', commit }], settings, workerId: 'w0' });
    const p = r.configs[0].patches[0];
    expect(r.configs[0].base.status).toBe('success');
    expect(p.status).toBe('warning');
    expect(p.new_warnings).toEqual([{ file: 'init/main.c', line: 5, message: "unused variable 'unused_after' [-Wunused-variable]" }]);
    expect(p.sandbox_denials).toBeUndefined();
  }, 120_000);
});
