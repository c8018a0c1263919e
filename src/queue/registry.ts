// The stage registry: the pipeline runs whatever processor is registered for a stage, so the apply,
// build, gate and report code plugs in without touching the queue code.
//
// A stage module exports `registerStages(registry)` and sets the stages it implements:
//
//   export function registerStages(registry: StageRegistry): void {
//     registry.set('build', async (ctx) => ({ status: 'success', summary: 'built', data: { build: [...] } }));
//   }
//
// Modules are found at src/queue/apply-stage.ts and src/<area>/stage.ts (BUILTIN_STAGE_MODULES, those that exist) and in
// PATCHGATE_STAGE_MODULES (comma-separated paths, later ones override earlier ones: tests and site plugins).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Logger } from '../log.js';
import type { Series } from '../series/types.js';
import type { Settings } from '../settings/schema.js';
import type { Db } from '../store/db.js';
import type { Stage } from './names.js';
import type { RevisionInput } from './revision-input.js';
import type { StageOutcome, Status } from './schemas.js';

export interface StageContext {
  stage: Stage;
  seriesId: string;
  version: number;
  /** the series revision (from the revision input, or the store) */
  series: Series;
  /** outcomes of the stages before this one in the flow (the children's results) */
  previous: Partial<Record<Stage, StageOutcome>>;
  /** fired when a newer revision cancels this one, or the worker shuts down: stop and return */
  signal: AbortSignal;
  /** child logger carrying { queue, jobId, series, rev } */
  log: Logger;
  /** reports progress (bullmq job progress; a number 0-100 or an object) */
  updateProgress(progress: number | Record<string, unknown>): Promise<void>;
  /** saves resumable state in the job (job.updateData) — read back with `resume` after a crash */
  saveState(state: Record<string, unknown>): Promise<void>;
  /** state saved by an earlier attempt of this job, if any */
  resume: Record<string, unknown> | null;
  settings: Settings;
  /**
   * The store, only for the stages that run where it is (report). Apply, build and gate may run on machines
   * without it: they read `input` instead.
   */
  db?: Db;
  /** the revision's input as the store owner queued it: series, cover and patch mail, overrides */
  input?: RevisionInput;
  /** identifies this worker (per-worker checkouts, logs) */
  workerId: string;
  /** options of the run (`patchgate run --no-perf` sets perf: false) */
  options: StageOptions;
}

export interface StageOptions {
  /** run the performance gate (default true) */
  perf: boolean;
  [key: string]: unknown;
}

/** Returns an outcome; throws only for infrastructure faults (retried) or UnrecoverableError (not retried). */
export type StageProcessor = (ctx: StageContext) => Promise<StageOutcome>;
export type StageRegistry = Map<Stage, StageProcessor>;

export interface StageModule {
  registerStages(registry: StageRegistry): void | Promise<void>;
}

// The `data` each stage puts in its outcome; `patchgate run` reads these shapes (shared/docs/contract.md).
export interface ApplyEntry { msgid: string; outcome: 'applied' | 'applied-3way' | 'conflict' | 'already-applied' | 'skipped'; files: string[]; detail: string }
export interface ApplyData { tree: { name: string; reason: string } | null; apply: ApplyEntry[]; branch: string | null }
export interface BuildIssue { file: string; line: number; message: string }
export interface BuildEntry { msgid: string; status: 'success' | 'warning' | 'failure' | 'skipped'; new_warnings: BuildIssue[]; errors: BuildIssue[] }
export interface BuildData { build: BuildEntry[] }
export interface GateEntry { id: string; status: Status; summary: string; metrics?: Record<string, unknown> }
export interface GateData { gates: GateEntry[] }
export interface ReportData { reply: { msgid: string; to: string[]; sent: boolean } | null }

export function createRegistry(): StageRegistry {
  return new Map();
}

const cleanups = new WeakMap<StageRegistry, (() => void | Promise<void>)[]>();

/** A stage module that holds resources (connections, pools) registers how to release them. */
export function onRegistryClose(registry: StageRegistry, fn: () => void | Promise<void>): void {
  const list = cleanups.get(registry) ?? [];
  list.push(fn);
  cleanups.set(registry, list);
}

/** Releases what the stage modules hold; called after the workers are closed. */
export async function closeRegistry(registry: StageRegistry): Promise<void> {
  const list = cleanups.get(registry) ?? [];
  cleanups.delete(registry);
  for (const fn of list.reverse()) await fn();
}

/**
 * Stage modules, relative to this file, loaded in order when they exist (a later one may replace a stage
 * an earlier one set): the pipeline's own apply stage, then those of the other parts of the tree.
 */
export const BUILTIN_STAGE_MODULES = ['./apply-stage.js', '../trees/stage.js', '../build/stage.js', '../gates/stage.js', '../report/stage.js'];

/** The file to import for SPEC (a .js path; the .ts twin when running from source under tsx), or null. */
function locate(file: string): string | null {
  if (existsSync(file)) return file;
  const ts = file.replace(/\.js$/, '.ts');
  if (ts !== file && existsSync(ts)) return ts;
  return null;
}

export async function loadStageModule(registry: StageRegistry, file: string): Promise<void> {
  const m = (await import(pathToFileURL(file).href)) as Partial<StageModule>;
  if (typeof m.registerStages !== 'function') throw new Error(`${file}: a stage module must export registerStages(registry)`);
  await m.registerStages(registry);
}

export interface LoadRegistryOptions {
  /** extra module paths (resolved against the current directory), after the built-in ones */
  modules?: string[];
  /** skip the built-in modules (tests) */
  builtins?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** Builds the registry: built-in stage modules that exist, then PATCHGATE_STAGE_MODULES, then `modules`. */
export async function loadStageRegistry(opts: LoadRegistryOptions = {}): Promise<StageRegistry> {
  const registry = createRegistry();
  const here = path.dirname(fileURLToPath(import.meta.url));
  if (opts.builtins !== false) {
    for (const rel of BUILTIN_STAGE_MODULES) {
      const file = locate(path.resolve(here, rel));
      if (file) await loadStageModule(registry, file);
    }
  }
  const env = opts.env ?? process.env;
  const extra = [...(env.PATCHGATE_STAGE_MODULES ?? '').split(','), ...(opts.modules ?? [])].map((s) => s.trim()).filter(Boolean);
  for (const spec of extra) {
    const abs = path.resolve(spec);
    const file = locate(abs);
    if (!file) throw new Error(`stage module not found: ${spec}`);
    await loadStageModule(registry, file);
  }
  return registry;
}
