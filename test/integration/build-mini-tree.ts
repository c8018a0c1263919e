// A small real C tree with a Kbuild-style Makefile (O=, obj-$(CONFIG_X), quiet `  CC  path.o` lines,
// tinyconfig/olddefconfig targets, scripts/kconfig/merge_config.sh), in a git repository, for the
// build tests. Not a test file itself.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { buildSettingsSchema, type BuildSettings } from '../../src/build/settings.js';

const MAKEFILE = `# Kbuild-style mini tree
O ?= .
CC ?= gcc
srctree := $(CURDIR)
objtree := $(abspath $(O))
-include $(objtree)/.config

obj-y := init/main.o lib/util.o
obj-$(CONFIG_NET) += net/core.o
obj-$(CONFIG_TUN) += drivers/net/tun.o
OBJS := $(addprefix $(objtree)/,$(obj-y))
CFLAGS := -Wall -Wextra -O2 -I$(srctree)/include

all: $(objtree)/vmlinux

$(objtree)/vmlinux: $(OBJS)
\t@echo "  LD      vmlinux"
\t@$(CC) -o $@ $(OBJS)

$(objtree)/%.o: $(srctree)/%.c
\t@mkdir -p $(dir $@)
\t@echo "  CC      $*.o"
\t@$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

-include $(OBJS:.o=.d)

tinyconfig:
\t@mkdir -p $(objtree)
\t@printf '# CONFIG_NET is not set\\n# CONFIG_TUN is not set\\n' > $(objtree)/.config
\t@echo "configuration written to .config"

# like Kconfig: TUN depends on NET, and is dropped without it
olddefconfig:
\t@test -f $(objtree)/.config
\t@grep -q '^CONFIG_NET=y' $(objtree)/.config || sed -i '/^CONFIG_TUN=/d' $(objtree)/.config

.PHONY: all tinyconfig olddefconfig
`;

const MERGE_CONFIG = `#!/bin/sh
# merge_config.sh -m -O OUTDIR BASE FRAGMENT...: later values win (as the kernel's script does)
set -e
while [ $# -gt 0 ]; do case "$1" in -m) shift;; -O) OUT=$2; shift 2;; *) break;; esac; done
BASE=$1; shift
TMP=$(mktemp ./.tmp.config.XXXXXXXX)
cp "$BASE" "$TMP"
for f in "$@"; do
  for sym in $(sed -n -e 's/^\\(CONFIG_[A-Za-z0-9_]*\\)=.*/\\1/p' -e 's/^# \\(CONFIG_[A-Za-z0-9_]*\\) is not set$/\\1/p' "$f"); do
    sed -i -e "/^$sym=/d" -e "/^# $sym is not set/d" "$TMP"
  done
  cat "$f" >> "$TMP"
done
cp "$TMP" "$OUT/.config"
rm -f "$TMP"
`;

export const TUN_C = `#include "util.h"

int tun_open(int fd)
{
\tint old_unused;

\treturn util_twice(fd);
}

int tun_close(int fd)
{
\treturn fd - 1;
}
`;

export function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@example.org', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@example.org' },
  });
}

function write(dir: string, file: string, text: string): void {
  mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
  writeFileSync(path.join(dir, file), text);
}

/** Creates the tree in DIR (world-readable, for the sandbox user) and returns the base commit. */
export function createMiniTree(dir: string): string {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  write(dir, 'Makefile', MAKEFILE);
  write(dir, 'scripts/kconfig/merge_config.sh', MERGE_CONFIG);
  chmodSync(path.join(dir, 'scripts/kconfig/merge_config.sh'), 0o755);
  write(dir, 'include/util.h', '#ifndef UTIL_H\n#define UTIL_H\nint util_twice(int x);\n#endif\n');
  write(dir, 'lib/util.c', '#include "util.h"\n\nint util_twice(int x)\n{\n\treturn 2 * x;\n}\n');
  write(dir, 'init/main.c', '#include "util.h"\n\nint main(void)\n{\n\treturn util_twice(0);\n}\n');
  write(dir, 'net/core.c', '#include "util.h"\n\nint net_core(int x)\n{\n\treturn util_twice(x) + 1;\n}\n');
  write(dir, 'drivers/net/tun.c', TUN_C);
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'base');
  return git(dir, 'rev-parse', 'HEAD').trim();
}

/** Commits FILES (path → new content) as one patch and returns its sha. */
export function commitPatch(dir: string, files: Record<string, string>, subject: string): string {
  for (const [f, text] of Object.entries(files)) write(dir, f, text);
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', subject);
  return git(dir, 'rev-parse', 'HEAD').trim();
}

/** The net + tun fragment for the mini tree (written next to the tree). */
export function writeFragment(dir: string, name: string, text: string): string {
  const file = path.join(dir, `${name}.config`);
  writeFileSync(file, text);
  chmodSync(file, 0o644);
  return file;
}

/** The build settings of the mini tree's tests: one config (tinyconfig), two jobs, a minute per make. */
export function miniBuildSettings(workDir: string, artifactsDir: string): BuildSettings {
  return buildSettingsSchema.parse({
    work_dir: workDir,
    artifacts_dir: artifactsDir,
    jobs: 2,
    timeout_s: 60,
    configs: [{ name: 'mini', base: 'tinyconfig', fragments: [] }],
  });
}

/** A server on the host's loopback that counts the connections it gets (a sandboxed build must make none). */
export interface CountingServer {
  port: number;
  connections(): number;
  close(): Promise<void>;
}

export async function startCountingServer(): Promise<CountingServer> {
  let connections = 0;
  const server = createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    connections: () => connections,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
