// Helpers shared by the gates (kept apart from registry.ts, which imports every gate).
import { chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { runSandboxed, sandboxEnv } from '../build/sandbox.js';
import { git } from '../trees/git.js';
import type { GateContext, GatePatch, GateStatus } from './types.js';

const RANK: Record<GateStatus, number> = { skipped: 0, pending: 1, success: 2, warning: 3, failure: 4 };

/** The worst status (failure sticks); skipped when everything was skipped. */
export function combineGateStatus(list: GateStatus[]): GateStatus {
  let worst: GateStatus = 'skipped';
  for (const s of list) if (RANK[s] > RANK[worst]) worst = s;
  return worst;
}

/** A scratch directory for a gate run, readable by the sandbox user. */
export async function gateWorkDir(root: string): Promise<{ dir: string; cleanup(): Promise<void> }> {
  await mkdir(root, { recursive: true });
  const dir = await mkdtemp(path.join(root, 'gates-'));
  await chmod(dir, 0o755);
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** The patch as an mbox: the mail as received, else `git format-patch` of its commit in the checkout. */
export async function patchMbox(ctx: GateContext, patch: GatePatch): Promise<string | null> {
  if (patch.mbox) return patch.mbox;
  if (patch.commit && ctx.tree?.dir) return (await git(ctx.tree.dir, ['format-patch', '-1', '--stdout', patch.commit])).stdout;
  return null;
}

/** The commit message part of a patch mail: the body above the `---` line (headers dropped). */
export function commitMessage(mbox: string): string {
  const text = mbox.replace(/\r\n/g, '\n');
  const start = text.indexOf('\n\n');
  const body = start >= 0 ? text.slice(start + 2) : text;
  const lines = body.split('\n');
  const end = lines.findIndex((l) => l === '---' || l.startsWith('diff --git ') || l.startsWith('Index: '));
  return (end >= 0 ? lines.slice(0, end) : lines).join('\n');
}

/** Unfolded header values by lower-case name (all occurrences). */
export function mailHeaders(mbox: string): Map<string, string[]> {
  const text = mbox.replace(/\r\n/g, '\n');
  const end = text.indexOf('\n\n');
  const head = (end >= 0 ? text.slice(0, end) : text).split('\n');
  const out = new Map<string, string[]>();
  let last: { name: string; value: string } | null = null;
  const flush = () => {
    if (!last) return;
    const list = out.get(last.name) ?? [];
    list.push(last.value.trim());
    out.set(last.name, list);
  };
  for (const line of head) {
    if (/^[ \t]/.test(line) && last) {
      last.value += ` ${line.trim()}`;
      continue;
    }
    flush();
    const m = /^([!-9;-~]+):\s*(.*)$/.exec(line);
    last = m ? { name: m[1].toLowerCase(), value: m[2] } : null;
  }
  flush();
  return out;
}

/** Lower-case addresses in header values (`A <a@b>, c@d`). */
export function addresses(values: string[]): string[] {
  const out = new Set<string>();
  for (const v of values) for (const m of v.matchAll(/[A-Za-z0-9._%+=-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g)) out.add(m[0].toLowerCase());
  return [...out];
}

export interface ToolRun {
  code: number | null;
  output: string;
  timedOut: boolean;
}

/** Runs a tool of the tree (checkpatch.pl, get_maintainer.pl) in the build sandbox, cwd = the tree. */
export async function runTreeTool(ctx: GateContext, name: string, command: string, args: string[], timeoutMs: number): Promise<ToolRun> {
  const logFile = path.join(ctx.workDir, `${name}.log`);
  const r = await runSandboxed(
    {
      command,
      args,
      cwd: ctx.tree!.dir!,
      // git inside the sandbox runs as another user than the checkout's owner
      env: sandboxEnv({ HOME: ctx.workDir, TMPDIR: ctx.workDir, GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'safe.directory', GIT_CONFIG_VALUE_0: '*' }),
      writable: [ctx.workDir],
      // checkpatch.pl looks up commit ids with git: the tree's git metadata, read-only
      git: true,
      logFile,
      timeoutMs,
      signal: ctx.signal,
    },
    ctx.sandbox,
  );
  return { code: r.code, output: await readFile(logFile, 'utf8'), timedOut: r.timedOut };
}
