// The kernel builder: Kbuild trees (anything with a Makefile and scripts/kconfig/merge_config.sh).
//
// Per configuration, one out dir per worker at a fixed path (`<work_dir>/<worker>/<tree>/<config>/out`)
// stays warm between jobs; make always gets the same variables (O=, CC="ccache gcc", ...) since a
// different variable rebuilds everything. The base is built first, then each patch in order.
//
// New warnings: an incremental build prints diagnostics only for the objects it recompiles, so the
// builder keeps, per out dir, the diagnostics each object printed when it was last compiled (state.json,
// outside the sandbox's reach). For a patch it forces the objects of the files it touches to
// recompile (deletes them) at the child, and, when their parent-state diagnostics are unknown, at
// the parent first. Every object the child build recompiled is compared with its diagnostics before
// the patch, as sets matched across the patch's line shifts (warning-diff.ts).
//
// Trust: the base is upstream code; the patches are not. Before the first patch build of a job the builder
// notes the time (a marker file's ctime, outside the sandbox's reach) and from then on mounts the shared
// ccache read-only into the sandbox. The next job on the out dir first removes every file there whose ctime
// is not older than that mark (no process can set a ctime): whatever a patch build wrote, replaced or
// planted, with any mtime, is gone and made again from the base's sources, so a hostile patch cannot leave
// objects behind for the next series' builds. (This holds while the clock does not step back during a job:
// the file system stamps ctimes from it.)
import { existsSync } from 'node:fs';
import { copyFile, lstat, mkdir, readdir, readFile, rm, stat, writeFile, rename } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { logger, type Logger } from '../log.js';
import { git } from '../trees/git.js';
import { combineBuildStatus, issueOf, type Builder, type BuildContext, type BuildIssue, type BuildResult, type BuildStatus, type BuildTree, type ConfigBuild, type PatchBuild } from './builder.js';
import { parseBuildLog, uniqueDiagnostics, type Diagnostic, type ParsedLog } from './diagnostics.js';
import { checkFragments, fragmentPath } from './kconfig.js';
import { runSandboxed, sandboxEnv, type SandboxResult } from './sandbox.js';
import { defaultJobs, type BuildConfig, type BuildSettings } from './settings.js';
import { diffDiagnostics, lineMapperFromDiff } from './warning-diff.js';

const SOURCE = /\.(c|S)$/;

interface OutState {
  /** hash of the config recipe the out dir's .config was made from */
  stamp: string | null;
  /** per object: the diagnostics it printed when last compiled */
  units: Record<string, Diagnostic[]>;
  /** diagnostics of the last run that belong to no object (link, objtool, modpost) */
  global: Diagnostic[];
  /** ctime (ns) from which the out dir holds what patch builds wrote; null when it holds only base builds' */
  taintedSince: string | null;
}

export interface MakeRun {
  parsed: ParsedLog;
  result: SandboxResult;
  log: string;
  ok: boolean;
}

function safe(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** Paths of one configuration's build on one worker. */
export function buildPaths(settings: BuildSettings, workerId: string, tree: string, config: string) {
  const root = path.resolve(settings.work_dir, safe(workerId), safe(tree), safe(config));
  return { root, out: path.join(root, 'out'), tmp: path.join(root, 'tmp'), state: path.join(root, 'state.json'), ccache: path.resolve(settings.work_dir, 'ccache') };
}

/** The same make variables every time (a changed variable rebuilds the whole tree). */
export function makeVariables(settings: BuildSettings, out: string): string[] {
  return [`O=${out}`, `CC=${settings.ccache ? 'ccache gcc' : 'gcc'}`, 'KBUILD_BUILD_USER=patchgate', 'KBUILD_BUILD_HOST=patchgate'];
}

async function loadState(file: string): Promise<OutState> {
  try {
    const s = JSON.parse(await readFile(file, 'utf8')) as OutState;
    return { stamp: s.stamp ?? null, units: s.units ?? {}, global: s.global ?? [], taintedSince: s.taintedSince ?? null };
  } catch {
    return { stamp: null, units: {}, global: [], taintedSince: null };
  }
}

async function saveState(file: string, state: OutState): Promise<void> {
  await writeFile(`${file}.tmp`, JSON.stringify(state));
  await rename(`${file}.tmp`, file);
}

/**
 * Removes every file below DIR (symlinks and other non-directories included) whose ctime is SINCE or later;
 * directories are searched, not judged by their own ctime (removing an entry changes it). Returns the removed
 * paths relative to DIR.
 */
export async function removeChangedSince(dir: string, since: bigint): Promise<string[]> {
  const removed: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    let entries: string[];
    try {
      entries = await readdir(path.join(dir, rel));
    } catch {
      return;
    }
    for (const name of entries) {
      const r = rel ? `${rel}/${name}` : name;
      const full = path.join(dir, r);
      const st = await lstat(full, { bigint: true }).catch(() => null);
      if (!st) continue;
      if (st.isDirectory()) await walk(r);
      else if (st.ctimeNs >= since) {
        await rm(full, { force: true });
        removed.push(r);
      }
    }
  };
  await walk('');
  return removed;
}

/** Records what a make run printed: each recompiled object's diagnostics replace its old ones. */
function record(state: OutState, parsed: ParsedLog): void {
  for (const u of parsed.units) state.units[u] = [];
  for (const d of parsed.diagnostics) {
    if (d.unit && d.unit in state.units) state.units[d.unit].push(d);
  }
  state.global = parsed.diagnostics.filter((d) => !d.unit);
}

class KernelBuild {
  private readonly s: BuildSettings;
  private readonly log: Logger;
  private readonly paths: ReturnType<typeof buildPaths>;
  private state!: OutState;
  private runNo = 0;
  /** false from the first patch build on: the sandbox then gets the shared ccache read-only */
  private trusted = true;
  private readonly logDir: string;

  constructor(private readonly ctx: BuildContext, private readonly cfg: BuildConfig) {
    this.s = ctx.settings;
    this.log = (ctx.log ?? logger).child({ config: cfg.name });
    this.paths = buildPaths(ctx.settings, ctx.workerId, ctx.tree.name, cfg.name);
    this.logDir = path.resolve(ctx.settings.artifacts_dir, safe(ctx.seriesId), `v${ctx.version}`, 'build', safe(cfg.name));
  }

  private get src(): string {
    return this.ctx.tree.dir;
  }

  /** make in the sandbox; the log goes to the artifacts. */
  async make(label: string, targets: string[], opts: { jobs?: boolean } = {}): Promise<MakeRun> {
    const s = this.s;
    const logFile = path.join(this.logDir, `${String(++this.runNo).padStart(2, '0')}-${safe(label)}.log`);
    const args = [...(opts.jobs === false ? [] : [`-j${defaultJobs(s)}`, '--output-sync=target']), ...makeVariables(s, this.paths.out), ...targets];
    const command = s.nice > 0 ? 'nice' : 'make';
    const argv = s.nice > 0 ? ['-n', String(s.nice), 'make', ...args] : args;
    const ccache = { CCACHE_DIR: this.paths.ccache, CCACHE_TEMPDIR: path.join(this.paths.tmp, 'ccache') };
    if (!this.trusted) await mkdir(this.paths.ccache, { recursive: true }); // mounted read-only: it must exist
    const result = await runSandboxed(
      {
        command,
        args: argv,
        cwd: this.src,
        // a patch build reads the cache the base builds filled and adds nothing to it
        env: sandboxEnv({ HOME: this.paths.tmp, TMPDIR: this.paths.tmp, ...ccache, ...(this.trusted ? {} : { CCACHE_READONLY: '1', CCACHE_NOSTATS: '1' }) }),
        // the tree read-only (its git metadata hidden), nothing else of the bot's files
        readable: this.trusted ? [this.src] : [this.src, this.paths.ccache],
        writable: this.trusted ? [this.paths.out, this.paths.tmp, this.paths.ccache] : [this.paths.out, this.paths.tmp],
        logFile,
        timeoutMs: s.timeout_s * 1000,
        signal: this.ctx.signal,
      },
      s.sandbox,
    );
    const text = await readFile(logFile, 'utf8');
    const parsed = parseBuildLog(text, { srcDir: this.src, outDir: this.paths.out });
    const ok = result.code === 0 && !result.timedOut && !result.aborted && !result.outputLimited;
    this.log.debug({ label, code: result.code, ms: result.durationMs, units: parsed.units.length, diagnostics: parsed.diagnostics.length }, 'make done');
    return { parsed, result, log: logFile, ok };
  }

  /** Errors of a failed run: compiler/linker errors, else what make or the sandbox said. */
  errorsOf(run: MakeRun): BuildIssue[] {
    const errs = uniqueDiagnostics(run.parsed.diagnostics.filter((d) => d.severity === 'error')).map(issueOf);
    if (run.ok) return errs;
    if (errs.length) return [...errs, ...run.result.denials.map((d) => ({ file: '', line: 0, message: d }))];
    const r = run.result;
    let message: string;
    if (r.timedOut) message = `build timed out after ${this.s.timeout_s} s`;
    else if (r.aborted) message = 'build cancelled';
    else if (r.outputLimited) message = `build output exceeded ${this.s.sandbox.max_output_mb} MiB`;
    else message = run.parsed.makeErrors.at(-1) ?? `make exited with ${r.code ?? r.signalName}`;
    // what the sandbox stopped says why the build failed (a network fetch, a write, a hidden file)
    return [{ file: '', line: 0, message }, ...r.denials.map((d) => ({ file: '', line: 0, message: d }))];
  }

  /** From now on the out dir holds what patch builds write (see the head of this file). */
  private async taint(): Promise<void> {
    const mark = path.join(this.paths.root, 'taint-mark');
    await writeFile(mark, `${new Date().toISOString()}\n`);
    this.state.taintedSince = String((await stat(mark, { bigint: true })).ctimeNs);
    await saveState(this.paths.state, this.state);
    this.trusted = false;
  }

  /** Undoes what an earlier job's patch builds left in the out dir, and empties tmp/ (see the head of this file). */
  private async untaint(): Promise<void> {
    await rm(this.paths.tmp, { recursive: true, force: true });
    await mkdir(this.paths.tmp, { recursive: true });
    if (this.state.taintedSince === null) return;
    const removed = await removeChangedSince(this.paths.out, BigInt(this.state.taintedSince));
    for (const r of removed) delete this.state.units[r];
    if (removed.includes('.config')) this.state.stamp = null;
    this.state.global = [];
    this.state.taintedSince = null;
    await saveState(this.paths.state, this.state);
    this.log.info({ removed: removed.length }, 'removed what the last patch builds wrote to the out dir');
  }

  async checkout(commit: string): Promise<void> {
    await git(this.src, ['checkout', '-q', '--detach', commit]);
  }

  /** Makes .config from the base and fragments unless the out dir already has this recipe's. */
  async configure(): Promise<{ ok: boolean; mismatches: ConfigBuild['config_mismatches']; errors: BuildIssue[] }> {
    const frags = await Promise.all(this.cfg.fragments.map(async (f) => ({ name: f, file: fragmentPath(f), text: await readFile(fragmentPath(f), 'utf8') })));
    const stamp = createHash('sha256').update(JSON.stringify([this.cfg.base, frags.map((f) => f.text), makeVariables(this.s, this.paths.out)])).digest('hex');
    const dotConfig = path.join(this.paths.out, '.config');
    if (this.state.stamp !== stamp || !existsSync(dotConfig)) {
      this.log.info({ base: this.cfg.base, fragments: this.cfg.fragments }, 'configuring');
      let run = await this.make('config-base', [this.cfg.base], { jobs: false });
      if (!run.ok) return { ok: false, mismatches: [], errors: this.errorsOf(run) };
      if (frags.length) {
        await mkdir(this.paths.tmp, { recursive: true });
        const copies: string[] = [];
        for (const f of frags) {
          const dst = path.join(this.paths.tmp, `fragment-${safe(path.basename(f.file))}`);
          await copyFile(f.file, dst);
          copies.push(dst);
        }
        // merge_config.sh makes its temporary files in the current directory: run it in tmp/
        const logFile = path.join(this.logDir, `${String(++this.runNo).padStart(2, '0')}-merge-config.log`);
        const r = await runSandboxed(
          {
            command: 'sh',
            args: [path.join(this.src, 'scripts/kconfig/merge_config.sh'), '-m', '-O', this.paths.out, dotConfig, ...copies],
            cwd: this.paths.tmp,
            env: sandboxEnv({ HOME: this.paths.tmp, TMPDIR: this.paths.tmp }),
            readable: [this.src],
            writable: [this.paths.out, this.paths.tmp],
            logFile,
            timeoutMs: 120_000,
            signal: this.ctx.signal,
          },
          this.s.sandbox,
        );
        if (r.code !== 0) return { ok: false, mismatches: [], errors: [{ file: 'scripts/kconfig/merge_config.sh', line: 0, message: `merge_config.sh exited with ${r.code ?? r.signalName}` }, ...r.denials.map((d) => ({ file: '', line: 0, message: d }))] };
        run = await this.make('config-olddefconfig', ['olddefconfig'], { jobs: false });
        if (!run.ok) return { ok: false, mismatches: [], errors: this.errorsOf(run) };
      }
      this.state.stamp = stamp;
      await saveState(this.paths.state, this.state);
    }
    const mismatches = checkFragments(await readFile(dotConfig, 'utf8'), frags.map((f) => ({ name: f.name, text: f.text })));
    if (mismatches.length) this.log.warn({ mismatches }, 'fragment options missing from .config (dependencies off?)');
    await mkdir(this.logDir, { recursive: true });
    await copyFile(dotConfig, path.join(this.logDir, 'config'));
    return { ok: true, mismatches, errors: [] };
  }

  /** Objects (relative to the out dir) of the C and assembler files the patch touches that exist now. */
  private objectsOf(files: string[]): string[] {
    return files.filter((f) => SOURCE.test(f)).map((f) => f.replace(SOURCE, '.o')).filter((o) => existsSync(path.join(this.paths.out, o)));
  }

  private async forget(objects: string[]): Promise<void> {
    await Promise.all(objects.map((o) => rm(path.join(this.paths.out, o), { force: true })));
  }

  async buildPatch(parent: string, commit: string, msgid: string, index: number): Promise<PatchBuild> {
    const started = Date.now();
    const diff = (await git(this.src, ['diff', '-M', '--no-color', '--no-ext-diff', parent, commit])).stdout;
    const touched = [...new Set((await git(this.src, ['diff', '-M', '--name-only', '--no-renames', parent, commit])).stdout.split('\n').filter(Boolean))];
    const touchedSet = new Set(touched);
    // the tree is at `parent` and built: know the parent-state diagnostics of the touched objects
    const atParent = this.objectsOf(touched);
    const unknown = atParent.filter((o) => !(o in this.state.units));
    if (unknown.length) {
      this.log.info({ objects: unknown }, 'compiling touched objects at the parent (no diagnostics on record)');
      await this.forget(unknown);
      const run = await this.make(`p${index}-parent`, this.cfg.targets);
      record(this.state, run.parsed);
      await saveState(this.paths.state, this.state);
    }
    const before: Record<string, Diagnostic[]> = { ...this.state.units };
    const globalBefore = this.state.global;

    await this.checkout(commit);
    const forced = this.objectsOf(touched);
    await this.forget(forced);
    const run = await this.make(`p${index}`, this.cfg.targets);
    record(this.state, run.parsed);
    // a forced object the build did not make again is no longer built (or make stopped before it):
    // its old diagnostics no longer describe the tree
    const recompiled = new Set(run.parsed.units);
    for (const o of forced) if (!recompiled.has(o)) delete this.state.units[o];
    await saveState(this.paths.state, this.state);

    const units = new Set([...run.parsed.units, ...(run.ok ? forced : [])]);
    const parentDiags: Diagnostic[] = [...globalBefore];
    const childDiags: Diagnostic[] = run.parsed.diagnostics.filter((d) => !d.unit);
    for (const u of units) {
      const now = this.state.units[u] ?? [];
      if (u in before) {
        parentDiags.push(...before[u]);
        childDiags.push(...now);
      } else {
        // never compiled before (a new file, or an out dir warmed without records): only what lands in touched files counts
        childDiags.push(...now.filter((d) => touchedSet.has(d.file)));
      }
    }
    // a link-stage warning is compared with the previous link's only when this run linked
    if (!run.parsed.diagnostics.some((d) => !d.unit)) parentDiags.splice(0, globalBefore.length);
    const warnings = diffDiagnostics(
      parentDiags.filter((d) => d.severity === 'warning'),
      childDiags.filter((d) => d.severity === 'warning'),
      lineMapperFromDiff(diff),
      { tolerance: this.s.line_tolerance },
    );
    const errors = this.errorsOf(run);
    const status: BuildStatus = !run.ok ? 'failure' : warnings.added.length ? 'warning' : 'success';
    return {
      msgid,
      commit,
      status,
      new_warnings: warnings.added.map(issueOf),
      // after a failed build, objects make never reached would look fixed
      fixed_warnings: run.ok ? warnings.fixed.map(issueOf) : [],
      errors,
      ...(run.result.denials.length ? { sandbox_denials: run.result.denials } : {}),
      duration_ms: Date.now() - started,
      log: run.log,
    };
  }

  /** The head's kernel image (when the last build made one) and the verdicts, beside the logs. */
  private async keepArtifacts(result: ConfigBuild): Promise<void> {
    const last = result.patches.at(-1);
    const image = path.join(this.paths.out, 'arch/x86/boot/bzImage');
    if ((!last || last.status !== 'failure') && existsSync(image)) await copyFile(image, path.join(this.logDir, 'bzImage'));
    await writeFile(path.join(this.logDir, 'result.json'), JSON.stringify(result, null, 1));
  }

  async run(): Promise<ConfigBuild> {
    const ctx = this.ctx;
    await mkdir(this.paths.root, { recursive: true });
    // the artifacts of this run replace an earlier run's of the same revision and config
    await rm(this.logDir, { recursive: true, force: true });
    await mkdir(this.logDir, { recursive: true });
    this.state = await loadState(this.paths.state);
    await this.untaint();
    const skippedAll = (detail: string): PatchBuild[] =>
      ctx.patches.map((p) => ({ msgid: p.msgid, commit: p.commit, status: 'skipped', new_warnings: [], fixed_warnings: [], errors: [], detail, duration_ms: 0 }));
    const result: ConfigBuild = {
      config: this.cfg.name,
      status: 'skipped',
      base: { status: 'skipped', duration_ms: 0, errors: [] },
      patches: [],
      config_mismatches: [],
      artifacts: this.logDir,
    };
    const head = (await git(this.src, ['rev-parse', 'HEAD'])).stdout.trim();
    const branch = (await git(this.src, ['symbolic-ref', '-q', '--short', 'HEAD'], { ok: [0, 1] })).stdout.trim();
    try {
      await this.checkout(ctx.base);
      const started = Date.now();
      const conf = await this.configure();
      result.config_mismatches = conf.mismatches;
      if (!conf.ok || (this.cfg.strict_config && conf.mismatches.length)) {
        const errors = conf.ok ? conf.mismatches.map((m) => ({ file: '.config', line: 0, message: `${m.option}=${m.wanted} requested by ${m.fragment}, got ${m.got}` })) : conf.errors;
        result.base = { status: 'failure', duration_ms: Date.now() - started, errors };
        result.patches = skippedAll('the configuration could not be made');
        result.status = 'failure';
        return result;
      }
      const baseRun = await this.make('base', this.cfg.targets);
      record(this.state, baseRun.parsed);
      await saveState(this.paths.state, this.state);
      result.base = { status: baseRun.ok ? 'success' : 'failure', duration_ms: Date.now() - started, errors: this.errorsOf(baseRun), log: baseRun.log, ...(baseRun.result.denials.length ? { sandbox_denials: baseRun.result.denials } : {}) };
      await ctx.updateProgress?.({ stage: 'build', config: this.cfg.name, built: 0, of: ctx.patches.length });
      const baseImage = path.join(this.paths.out, 'arch/x86/boot/bzImage');
      // the base's kernel image too: the perf gate boots it as the baseline
      if (baseRun.ok && existsSync(baseImage)) await copyFile(baseImage, path.join(this.logDir, 'base-bzImage'));
      if (!baseRun.ok) {
        result.patches = skippedAll(`the base ${ctx.base.slice(0, 12)} does not build`);
        result.status = 'failure';
        return result;
      }
      const steps = this.cfg.per_patch ? ctx.patches.map((p, i) => ({ ...p, parent: i === 0 ? ctx.base : ctx.patches[i - 1].commit, i }))
        : ctx.patches.length ? [{ ...ctx.patches[ctx.patches.length - 1], parent: ctx.base, i: ctx.patches.length - 1 }] : [];
      for (const p of ctx.patches) {
        if (!steps.some((s) => s.msgid === p.msgid)) result.patches.push({ msgid: p.msgid, commit: p.commit, status: 'skipped', new_warnings: [], fixed_warnings: [], errors: [], detail: 'only the series head is built', duration_ms: 0 });
      }
      if (steps.length) await this.taint();
      for (const step of steps) {
        if (ctx.signal?.aborted) {
          result.patches.push({ msgid: step.msgid, commit: step.commit, status: 'skipped', new_warnings: [], fixed_warnings: [], errors: [], detail: 'cancelled', duration_ms: 0 });
          continue;
        }
        const pb = await this.buildPatch(step.parent, step.commit, step.msgid, step.i + 1);
        this.log.info({ msgid: step.msgid, status: pb.status, new: pb.new_warnings.length, fixed: pb.fixed_warnings.length, ms: pb.duration_ms }, 'patch built');
        result.patches.push(pb);
        await ctx.updateProgress?.({ stage: 'build', config: this.cfg.name, built: result.patches.length, of: ctx.patches.length });
      }
      const order = new Map(ctx.patches.map((p, i) => [p.msgid, i]));
      result.patches.sort((a, b) => (order.get(a.msgid) ?? 0) - (order.get(b.msgid) ?? 0));
      result.status = combineBuildStatus(result.patches.map((p) => p.status));
      if (result.status === 'skipped' && result.base.status === 'success') result.status = 'success';
      await this.keepArtifacts(result);
      return result;
    } finally {
      await git(this.src, ['checkout', '-q', ...(branch ? [branch] : ['--detach', head])]).catch((err: unknown) => this.log.error({ err }, 'cannot restore the checkout'));
    }
  }
}

/** Builds one configuration of a series (exported for tests and the bench). */
export function buildKernelConfig(ctx: BuildContext, cfg: BuildConfig): Promise<ConfigBuild> {
  return new KernelBuild(ctx, cfg).run();
}

export const kernelBuilder: Builder = {
  id: 'kernel',
  appliesTo(tree: BuildTree): boolean {
    return existsSync(path.join(tree.dir, 'Makefile')) && existsSync(path.join(tree.dir, 'scripts/kconfig/merge_config.sh'));
  },
  async build(ctx: BuildContext): Promise<BuildResult> {
    const configs: ConfigBuild[] = [];
    for (const cfg of ctx.settings.configs) configs.push(await buildKernelConfig(ctx, cfg));
    const status = combineBuildStatus(configs.map((c) => c.status));
    const failed = configs.flatMap((c) => c.patches.filter((p) => p.status === 'failure'));
    const warned = configs.flatMap((c) => c.patches.filter((p) => p.status === 'warning'));
    const summary = failed.length
      ? `build failed on ${failed.length} patch build(s) over ${configs.length} config(s)`
      : configs.some((c) => c.base.status === 'failure')
        ? 'the base does not build'
        : warned.length
          ? `${warned.reduce((n, p) => n + p.new_warnings.length, 0)} new warning(s)`
          : `built ${ctx.patches.length} patch(es) in ${configs.length} config(s), no new warnings`;
    return { builder: 'kernel', status, summary, configs };
  },
};
