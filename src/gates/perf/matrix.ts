// The test matrix (config/matrix.yaml): groups expanded into cells, the cells a series selects (touched
// paths, projects), and what this host can run. Every cell ends in the report, run (with its verdict) or not
// run (with the reason): a cell is never dropped.
import { globToRegExp } from '../../settings/glob.js';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { PerfTest } from './guest-runner.js';

const TESTS = ['TCP_RR', 'TCP_CRR', 'TCP_STREAM', 'UDP_RR'] as const;
const RING_TESTS = ['ring', 'virtio_ring_0_9', 'virtio_ring_poll', 'virtio_ring_inorder', 'ptr_ring', 'noring'] as const;
const CHECKS = ['hotplug', 'vlan-filter', 'mac-filter', 'file-copy-to-guest', 'file-copy-from-guest', 'migration', 'qos-cgroup'] as const;
export type FunctionalCheck = (typeof CHECKS)[number];
export type Topology = 'guest-to-guest' | 'guest-to-host' | 'several-guests' | 'multiqueue';
export type GuestKind = 'linux-release' | 'linux-debug' | 'windows';

const list = <T extends z.ZodTypeAny>(t: T) => z.union([t, z.array(t).min(1)]).transform((v) => (Array.isArray(v) ? v : [v]) as z.infer<T>[]);
const onOff = z.union([z.enum(['on', 'off']), z.boolean()]).transform((v) => v === true || v === 'on');
const select = z.union([
  z.literal('always'),
  z.object({ paths: z.array(z.string()).default([]), projects: z.array(z.string()).default([]) }),
]);

const groupSchema = z.object({
  id: z.string().regex(/^[a-z0-9_]+$/),
  kind: z.enum(['perf', 'functional', 'ring']),
  topology: z.enum(['guest-to-guest', 'guest-to-host', 'several-guests', 'multiqueue']).optional(),
  vhost: list(onOff).default([false]),
  queues: list(z.number().int().min(1).max(64)).default([1]),
  pairs: list(z.number().int().min(1).max(16)).default([1]),
  tests: list(z.string()).default([]),
  check: list(z.enum(CHECKS)).optional(),
  guest: list(z.enum(['linux-release', 'linux-debug', 'windows'])).default(['linux-release']),
  select: select.default('always'),
});

export const matrixSchema = z.object({
  windows_image: z.string().nullable().default(null),
  debug_kernel: z.string().nullable().default(null),
  groups: z.array(groupSchema).min(1),
});
export type MatrixConfig = z.infer<typeof matrixSchema>;
type Group = z.infer<typeof groupSchema>;

export interface MatrixCell {
  id: string;
  group: string;
  kind: Group['kind'];
  topology?: Topology;
  vhost: boolean;
  queues: number;
  pairs: number;
  guest: GuestKind;
  /** perf cells */
  test?: PerfTest;
  size?: string;
  msg?: number;
  /** ring cells: the ringtest program */
  ring?: string;
  /** functional cells */
  check?: FunctionalCheck;
  select: Group['select'];
}

/** `TCP_RR:64,64` → test and size; `TCP_STREAM:1024` → test and message size. */
export function parseTestSpec(spec: string): { test: PerfTest; size?: string; msg?: number; slug: string } {
  const m = /^([A-Z_]+)(?::(\d+)(?:,(\d+))?)?$/.exec(spec);
  if (!m || !(TESTS as readonly string[]).includes(m[1])) throw new Error(`bad test "${spec}": TEST[:REQ,RESP] or TCP_STREAM[:MSGSIZE] with TEST one of ${TESTS.join(', ')}`);
  const test = m[1] as PerfTest;
  const base = test.toLowerCase();
  if (test === 'TCP_STREAM') {
    if (m[3]) throw new Error(`bad test "${spec}": TCP_STREAM takes one message size`);
    const msg = m[2] ? Number(m[2]) : 16384;
    return { test, msg, slug: `${base}_${msg % 1024 === 0 ? `${msg / 1024}k` : msg}` };
  }
  const req = m[2] ?? '1';
  const resp = m[3] ?? req;
  return { test, size: `${req},${resp}`, slug: req === resp ? `${base}_${req}` : `${base}_${req}_${resp}` };
}

function product<T>(axes: T[][]): T[][] {
  return axes.reduce<T[][]>((acc, axis) => acc.flatMap((a) => axis.map((v) => [...a, v])), [[]]);
}

/** Every cell of the matrix, in config order: a group times its list-valued axes. */
export function expandMatrix(cfg: MatrixConfig): MatrixCell[] {
  const cells: MatrixCell[] = [];
  for (const g of cfg.groups) {
    if (g.kind === 'perf' && !g.topology) throw new Error(`matrix group ${g.id}: perf groups need a topology`);
    if (g.kind === 'functional' && !g.check) throw new Error(`matrix group ${g.id}: functional groups need a check`);
    if (g.kind !== 'functional' && g.tests.length === 0) throw new Error(`matrix group ${g.id}: no tests`);
    const tests: (string | undefined)[] = g.kind === 'functional' ? g.check! : g.tests;
    for (const [t, guest, vhost, queues, pairs] of product<unknown>([tests, g.guest, g.vhost, g.queues, g.pairs]) as [string, GuestKind, boolean, number, number][]) {
      const parts = [g.id];
      const cell: MatrixCell = { id: '', group: g.id, kind: g.kind, topology: g.topology, vhost, queues, pairs, guest, select: g.select };
      if (g.kind === 'perf') {
        const p = parseTestSpec(t);
        Object.assign(cell, { test: p.test, size: p.size, msg: p.msg });
        parts.push(p.slug);
      } else if (g.kind === 'ring') {
        if (!(RING_TESTS as readonly string[]).includes(t)) throw new Error(`matrix group ${g.id}: unknown ringtest program ${t} (${RING_TESTS.join(', ')})`);
        cell.ring = t;
        parts.push(t);
      } else {
        cell.check = t as FunctionalCheck;
        if (t.replace(/-/g, '_') !== g.id) parts.push(t.replace(/-/g, '_'));
      }
      if (g.guest.length > 1 || guest !== 'linux-release') parts.push(guest.replace(/-/g, '_'));
      if (g.vhost.length > 1 || vhost) parts.push(vhost ? 'vhost_on' : 'vhost_off');
      if (g.queues.length > 1 || queues > 1) parts.push(`q${queues}`);
      if (g.pairs.length > 1 || pairs > 1) parts.push(`${pairs}pairs`);
      cell.id = parts.join('_');
      cells.push(cell);
    }
  }
  const seen = new Set<string>();
  for (const c of cells) {
    if (seen.has(c.id)) throw new Error(`matrix: two cells named ${c.id}`);
    seen.add(c.id);
  }
  return cells;
}

export function parseMatrix(text: string, file = 'matrix.yaml'): MatrixConfig {
  const parsed = matrixSchema.safeParse(parseYaml(text) ?? {});
  if (!parsed.success) throw new Error(`${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

export function loadMatrix(file: string): MatrixConfig {
  return parseMatrix(readFileSync(file, 'utf8'), file);
}

/** What this host offers the matrix (probed once). */
export interface HostCapabilities {
  vhostNet: boolean;
  tun: boolean;
  root: boolean;
  /** cgroup cpu controller writable (v2 cpu.max or v1 cpu.cfs_quota_us) */
  cgroupCpu: boolean;
  windowsImage: string | null;
  debugKernel: string | null;
  /** functional checks that have a runner in this build of patchgate */
  functionalRunners: FunctionalCheck[];
}

function writable(p: string): boolean {
  try {
    accessSync(p, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The functional checks patchgate can run today (functional.ts); the others are reported as not run, with that reason. */
export const FUNCTIONAL_RUNNERS: FunctionalCheck[] = ['file-copy-to-guest', 'file-copy-from-guest', 'qos-cgroup', 'hotplug', 'migration', 'vlan-filter', 'mac-filter'];

export function probeHost(cfg: MatrixConfig, extra: Partial<HostCapabilities> = {}): HostCapabilities {
  const root = process.getuid?.() === 0;
  return {
    vhostNet: existsSync('/dev/vhost-net'),
    tun: existsSync('/dev/net/tun'),
    root,
    cgroupCpu: (existsSync('/sys/fs/cgroup/cgroup.controllers') && readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8').includes('cpu') && writable('/sys/fs/cgroup'))
      || (existsSync('/sys/fs/cgroup/cpu/cpu.cfs_quota_us') && writable('/sys/fs/cgroup/cpu')),
    windowsImage: cfg.windows_image && existsSync(cfg.windows_image) ? cfg.windows_image : null,
    debugKernel: cfg.debug_kernel && existsSync(cfg.debug_kernel) ? cfg.debug_kernel : null,
    functionalRunners: FUNCTIONAL_RUNNERS,
    ...extra,
  };
}

/** The host kernel's module directory: where vhost_net could be loaded from (absent on this machine). */
function modulesDir(): string | null {
  try {
    const release = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
    return existsSync(`/lib/modules/${release}`) ? `/lib/modules/${release}` : null;
  } catch {
    return null;
  }
}

/** Every reason this host cannot run the cell (empty when it can), most basic first. */
export function cannotRunReasons(cell: MatrixCell, host: HostCapabilities, cfg: MatrixConfig): string[] {
  const out: string[] = [];
  if (cell.vhost && !host.vhostNet) {
    const mods = modulesDir();
    out.push(`no /dev/vhost-net on this host (vhost=on needs the host's vhost_net driver: ${mods ? `not loaded; modprobe vhost_net from ${mods}` : 'not built into the host kernel, and no /lib/modules to load it from'})`);
  }
  if (cell.guest === 'windows' && !host.windowsImage) out.push(cfg.windows_image ? `no Windows image at ${cfg.windows_image}` : 'no Windows image (windows_image is not set in the matrix file)');
  if (cell.guest === 'linux-debug' && !host.debugKernel) out.push(cfg.debug_kernel ? `no debug guest kernel at ${cfg.debug_kernel}` : 'no debug guest kernel (debug_kernel is not set in the matrix file)');
  const tap = cell.topology === 'guest-to-host' || cell.topology === 'multiqueue' || cell.vhost || cell.kind === 'functional';
  if (tap && !host.tun) out.push('no /dev/net/tun on this host');
  if (tap && !host.root) out.push('not root: no tap device in a private network namespace');
  if (cell.kind === 'functional') {
    if (cell.check === 'qos-cgroup' && !host.cgroupCpu) out.push('no writable cgroup cpu controller');
    if (!host.functionalRunners.includes(cell.check!)) out.push(`no runner for the ${cell.check} check in this patchgate yet`);
  }
  return out;
}

/** Why this host cannot run the cell (every reason, joined), or null when it can. */
export function cannotRun(cell: MatrixCell, host: HostCapabilities, cfg: MatrixConfig): string | null {
  const r = cannotRunReasons(cell, host, cfg);
  return r.length ? r.join('; ') : null;
}

export interface SeriesScope {
  /** files the series touches; null = no series (list the whole matrix) */
  paths: string[] | null;
  /** ids of the projects (config/projects.yaml) the series belongs to */
  projects: string[];
}

/** Why the series selects the cell (null: not selected). */
export function selectedBy(cell: MatrixCell, scope: SeriesScope): string | null {
  if (cell.select === 'always') return 'every series';
  if (scope.paths === null) return 'listing the whole matrix';
  const project = cell.select.projects.find((p) => scope.projects.includes(p));
  if (project) return `project ${project}`;
  for (const g of cell.select.paths) {
    const re = globToRegExp(g);
    const hit = scope.paths.find((f) => re.test(f));
    if (hit) return `touches ${hit}`;
  }
  return null;
}

export type CellState = 'run' | 'not-run' | 'to-run';

export interface CellReport {
  id: string;
  kind: MatrixCell['kind'];
  state: CellState;
  /** run: the verdict (a gate status and its summary); not run: the reason */
  verdict?: string;
  reason?: string;
  selectedBy?: string;
  details?: unknown;
}

/** A cell's result: its verdict, or why it could not run after all (a runner that needs more input). */
export type CellOutcome = { verdict: string; details?: unknown } | { notRun: string };

/**
 * Plans (and with `run`, runs) the matrix for one series on this host. Cells not selected, or that the host
 * cannot run, are reported with their reason; a runner fault is reported on its cell, not thrown.
 */
export async function runMatrix(
  cells: MatrixCell[],
  scope: SeriesScope,
  host: HostCapabilities,
  cfg: MatrixConfig,
  run?: (cell: MatrixCell) => Promise<CellOutcome | null>,
): Promise<CellReport[]> {
  const out: CellReport[] = [];
  for (const cell of cells) {
    const why = selectedBy(cell, scope);
    const base = { id: cell.id, kind: cell.kind };
    if (!why) {
      out.push({ ...base, state: 'not-run', reason: 'not selected: no touched path or project of the series selects it' });
      continue;
    }
    const no = cannotRun(cell, host, cfg);
    if (no) {
      out.push({ ...base, state: 'not-run', reason: no, selectedBy: why });
      continue;
    }
    if (!run) {
      out.push({ ...base, state: 'to-run', selectedBy: why });
      continue;
    }
    try {
      const r = await run(cell);
      if (!r) out.push({ ...base, state: 'not-run', reason: 'no runner for this cell kind in this invocation', selectedBy: why });
      else if ('notRun' in r) out.push({ ...base, state: 'not-run', reason: r.notRun, selectedBy: why });
      else out.push({ ...base, state: 'run', verdict: r.verdict, details: r.details, selectedBy: why });
    } catch (err) {
      out.push({ ...base, state: 'not-run', reason: `infrastructure fault: ${(err as Error).message.split('\n')[0].slice(0, 200)}`, selectedBy: why });
    }
  }
  return out;
}

/** The plain-text table `patchgate gate matrix` prints. */
export function matrixTable(reports: CellReport[]): string {
  const w = Math.max(4, ...reports.map((r) => r.id.length));
  const lines = [`${'cell'.padEnd(w)}  ${'kind'.padEnd(10)}  ${'state'.padEnd(7)}  verdict or reason`];
  for (const r of reports) {
    const what = r.state === 'run' ? r.verdict : r.state === 'to-run' ? `runnable (selected: ${r.selectedBy})` : `not run: ${r.reason}`;
    lines.push(`${r.id.padEnd(w)}  ${r.kind.padEnd(10)}  ${r.state.padEnd(7)}  ${what}`);
  }
  const count = (s: CellState) => reports.filter((r) => r.state === s).length;
  lines.push('', `${reports.length} cells: ${count('run')} run, ${count('to-run')} runnable, ${count('not-run')} not run`);
  return lines.join('\n') + '\n';
}

/** The listing as a Markdown table (MATRIX.md), with the counts by state and by verdict status. */
export function matrixMarkdown(reports: CellReport[]): string {
  const esc = (t: string) => t.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const lines = ['| cell | kind | state | verdict or reason |', '|---|---|---|---|'];
  for (const r of reports) {
    const what = r.state === 'run' ? r.verdict ?? '' : r.state === 'to-run' ? `runnable (selected: ${r.selectedBy})` : r.reason ?? '';
    lines.push(`| ${r.id} | ${r.kind} | ${r.state === 'not-run' ? 'not run' : r.state} | ${esc(what)} |`);
  }
  const count = (s: CellState) => reports.filter((r) => r.state === s).length;
  const statuses = new Map<string, number>();
  for (const r of reports) if (r.state === 'run') {
    const st = /^([a-z-]+):/.exec(r.verdict ?? '')?.[1] ?? 'other';
    statuses.set(st, (statuses.get(st) ?? 0) + 1);
  }
  const reasons = new Map<string, number>();
  for (const r of reports) if (r.state === 'not-run') {
    const key = (r.reason ?? '').replace(/ \(.*$/, '').replace(/;.*$/, '');
    reasons.set(key, (reasons.get(key) ?? 0) + 1);
  }
  lines.push('', `${reports.length} cells: ${count('run')} run (${[...statuses].map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}), ${count('not-run')} not run${count('to-run') ? `, ${count('to-run')} runnable` : ''}.`);
  if (reasons.size) lines.push('', 'Not run, by reason:', '', ...[...reasons].map(([k, v]) => `- ${v} x ${k}`));
  return lines.join('\n') + '\n';
}
