// A HEAD run: fetch the tree, build its HEAD in the tree's warm out dir, boot the configured perf cells,
// store every sample with the commit, compare with the previous HEAD run (detect.ts), and bisect a detected
// change (bisect.ts) with its report mail (report.ts).
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { buildSettingsFrom, type BuildConfig, type BuildSettings } from '../build/settings.js';
import type { PerfCell } from '../gates/perf/gate.js';
import type { runGuestPair } from '../gates/perf/guest-runner.js';
import { buildInitramfs } from '../gates/perf/initramfs.js';
import { probeAccel } from '../gates/perf/accel.js';
import { perfSettingsFrom, type PerfSettings } from '../gates/perf/settings.js';
import type { MetricRule } from '../gates/perf/stats.js';
import { logger, type Logger } from '../log.js';
import { parseAddress } from '../report/mail.js';
import type { Settings } from '../settings/schema.js';
import type { InstallationClients } from '../report/github-stage.js';
import type { Db } from '../store/db.js';
import { loadTrees } from '../trees/config.js';
import { git } from '../trees/git.js';
import { bisect, type BisectResult, type BisectStep } from './bisect.js';
import { detectChanges, type Detection } from './detect.js';
import { bootSamples, buildCommitImage, commitMeasurer, type CommitMeasureOptions } from './measure.js';
import { bisectView, buildBisectMail, findPosting, queueBisectMail, type BisectMailInput } from './report.js';
import { bisectionMarker, renderBisectComment, reportBisectionToGithub, type GithubBisectReport } from './github.js';
import { recordAttempts } from './flaky.js';
import { headsSettingsFrom, type HeadsSettings } from './settings.js';
import {
  finishBisection, finishHeadRun, getHeadRun, knownTrackingIssue, setBisectionGithub, previousHeadRun, runSamples, saveChange, saveSamples, startBisection, startHeadRun, type HeadTrigger,
} from './store.js';

export interface HeadTreeRef {
  name: string;
  url: string;
  branch: string;
  lists: string[];
}

export interface HeadsContext {
  db: Db;
  settings: Settings;
  heads?: HeadsSettings;
  log?: Logger;
  signal?: AbortSignal;
  /** the GitHub App's client for a repository (installationClients); bisections go to GitHub where a tree configures it */
  github?: InstallationClients | null;
  /** tests and the bench pass their own guest runner or a fixed accelerator */
  runPair?: typeof runGuestPair;
  accel?: 'tcg' | 'kvm';
}

interface Resolved {
  heads: HeadsSettings;
  perf: PerfSettings;
  build: BuildSettings;
  config: BuildConfig;
  log: Logger;
}

function resolve(ctx: HeadsContext): Resolved {
  const raw = ctx.settings as Record<string, unknown>;
  const heads = ctx.heads ?? headsSettingsFrom(raw);
  const perf = perfSettingsFrom(raw);
  const configured = buildSettingsFrom(raw);
  // the HEAD builds keep their own warm out dirs and ccache below heads.work_dir
  const build: BuildSettings = { ...configured, work_dir: path.join(heads.work_dir, 'build'), artifacts_dir: path.join(heads.work_dir, 'artifacts') };
  const config = build.configs.find((c) => c.name === heads.config);
  if (!config) throw new Error(`heads.config ${heads.config} is not one of build.configs (${build.configs.map((c) => c.name).join(', ')})`);
  return { heads, perf, build, config, log: (ctx.log ?? logger).child({ module: 'heads' }) };
}

/** The tree named NAME from settings.trees or the trees file. */
export async function findTree(settings: Settings, name: string): Promise<HeadTreeRef> {
  const inline = settings.trees.find((t) => t.name === name);
  if (inline) return { name, url: inline.url, branch: inline.branch, lists: inline.lists };
  if (settings.trees_file) {
    const file = await loadTrees(settings.trees_file);
    const t = file.trees.find((x) => x.name === name);
    if (t) return { name, url: t.url, branch: t.branch, lists: t.lists };
  }
  throw new Error(`unknown tree ${name}`);
}

export function checkoutDir(heads: HeadsSettings, tree: string): string {
  return path.resolve(heads.work_dir, 'trees', tree.replace(/[^A-Za-z0-9._-]/g, '_'));
}

/** Clones (once) and fetches the tree into its fixed checkout; returns the branch's HEAD commit. */
export async function fetchHead(heads: HeadsSettings, tree: HeadTreeRef, signal?: AbortSignal): Promise<{ dir: string; commit: string }> {
  const dir = checkoutDir(heads, tree.name);
  if (!existsSync(path.join(dir, '.git'))) {
    await mkdir(path.dirname(dir), { recursive: true });
    const local = existsSync(tree.url);
    await git(null, ['clone', '-q', ...(local ? ['--shared'] : []), '--no-checkout', tree.url, dir], { signal });
    await git(dir, ['config', 'gc.auto', '0']);
  }
  await git(dir, ['fetch', '-q', 'origin', `+refs/heads/${tree.branch}:refs/remotes/origin/${tree.branch}`], { signal });
  const commit = (await git(dir, ['rev-parse', `refs/remotes/origin/${tree.branch}^{commit}`])).stdout.trim();
  return { dir, commit };
}

function cellsOf(r: Resolved): { cells: PerfCell[]; notRun: { cell: string; reason: string }[] } {
  const cells: PerfCell[] = [];
  const notRun: { cell: string; reason: string }[] = [];
  for (const id of r.heads.cells) {
    const c = r.perf.cells.find((x) => x.id === id);
    if (!c) notRun.push({ cell: id, reason: 'not a cell of gates.perf.cells' });
    else if (/vhost/.test(id) && !existsSync('/dev/vhost-net')) notRun.push({ cell: id, reason: 'no /dev/vhost-net on this host' });
    else cells.push({ id: c.id, test: c.test, transactions: c.transactions, size: c.size, msg: c.msg });
  }
  return { cells, notRun };
}

function rulesOf(r: Resolved, cells: PerfCell[]): Record<string, MetricRule> {
  const rules: Record<string, MetricRule> = {};
  for (const c of cells) {
    const pc = r.perf.cells.find((x) => x.id === c.id)!;
    rules[c.test === 'TCP_STREAM' ? `${c.id}_cost_per_kb` : `${c.id}_cost_per_trans`] = { direction: pc.rule.direction, threshold: pc.rule.threshold };
  }
  return rules;
}

async function measureOptions(ctx: HeadsContext, r: Resolved, tree: string, repo: string, cells: PerfCell[], image?: string): Promise<CommitMeasureOptions & { accelReason: string }> {
  const initrd = buildInitramfs(path.join(r.heads.work_dir, 'initramfs')).path;
  let accel = ctx.accel;
  let accelReason = accel ? `accelerator fixed by the caller: ${accel}` : '';
  if (!accel) {
    if (r.perf.accel !== 'auto') {
      accel = r.perf.accel;
      accelReason = `gates.perf.accel: ${accel}`;
    } else if (image) {
      const a = await probeAccel(image, initrd, path.join(r.heads.work_dir, 'perf'));
      accel = a.accel;
      accelReason = a.reason;
    } else accel = 'tcg';
  }
  return {
    repo, tree, build: r.build, config: r.config, initrd, accel: accel!, cells, workDir: path.resolve(r.heads.work_dir, 'perf', tree), runPair: ctx.runPair, signal: ctx.signal, accelReason,
  };
}

export interface HeadRunResult {
  runId: number;
  tree: string;
  commit: string;
  status: 'success' | 'failure';
  samples: Record<string, number[]>;
  notRun: { cell: string; reason: string }[];
  previous: { runId: number; commit: string } | null;
  detection: Detection | null;
  /** head_changes ids of the detected regressions and improvements */
  changes: { id: number; metric: string; change: number; low: number; high: number; verdict: string }[];
  note: string;
  buildMs: number;
  bootMs: number;
}

/** One HEAD run of TREE (the commit may be given, e.g. by a test; else the fetched branch HEAD). */
export async function runHead(ctx: HeadsContext, treeName: string, opts: { trigger: HeadTrigger; commit?: string }): Promise<HeadRunResult> {
  const r = resolve(ctx);
  const tree = await findTree(ctx.settings, treeName);
  const fetched = await fetchHead(r.heads, tree, ctx.signal);
  const commit = opts.commit ? (await git(fetched.dir, ['rev-parse', '--verify', `${opts.commit}^{commit}`])).stdout.trim() : fetched.commit;
  const { cells, notRun } = cellsOf(r);
  const runId = startHeadRun(ctx.db, { tree: tree.name, commit, branch: tree.branch, trigger: opts.trigger, accel: ctx.accel ?? null });
  const log = r.log.child({ tree: tree.name, run: runId });
  log.info({ commit: commit.slice(0, 12), cells: cells.map((c) => c.id), notRun }, 'HEAD run starts');
  const base = { runId, tree: tree.name, commit, notRun, previous: null, detection: null, changes: [] };
  const mo = await measureOptions(ctx, r, tree.name, fetched.dir, cells);
  const img = await buildCommitImage(mo, commit);
  if (!img.image) {
    const note = `HEAD ${commit.slice(0, 12)} does not build: ${img.errors.map((e) => e.message).slice(0, 2).join('; ')}`;
    finishHeadRun(ctx.db, runId, 'failure', note, { notRun, build: { status: 'failure', errors: img.errors, ms: img.ms } });
    return { ...base, status: 'failure', samples: {}, note, buildMs: img.ms, bootMs: 0 };
  }
  const measured = await bootSamples(mo, commit, img.image, r.heads.boots);
  for (const [cell, attempts] of Object.entries(measured.attempts)) recordAttempts(ctx.db, { tree: tree.name, cell, runId, commit, attempts });
  saveSamples(ctx.db, runId, commit, measured.samples);
  if (measured.failed.length === cells.length && cells.length > 0) {
    const note = `every cell failed twice on ${commit.slice(0, 12)}: ${measured.failed.join(', ')}`;
    finishHeadRun(ctx.db, runId, 'failure', note, { notRun, failed: measured.failed, attempts: measured.attempts, build: { status: 'success', ms: img.ms } });
    return { ...base, status: 'failure', samples: measured.samples, note, buildMs: img.ms, bootMs: measured.bootMs };
  }
  const prev = previousHeadRun(ctx.db, tree.name, runId);
  let detection: Detection | null = null;
  const changes: HeadRunResult['changes'] = [];
  if (prev) {
    detection = detectChanges(runSamples(ctx.db, prev.id), measured.samples, rulesOf(r, cells), r.heads.alpha);
    for (const c of detection.compared) {
      const id = saveChange(ctx.db, { tree: tree.name, metric: c.metric, fromRun: prev.id, toRun: runId, comparison: c.comparison });
      if (detection.changes.includes(c)) changes.push({ id, metric: c.metric, change: c.comparison.change, low: c.comparison.low, high: c.comparison.high, verdict: c.comparison.verdict });
    }
  }
  const note = [mo.accelReason, ...notRun.map((n) => `${n.cell} not run: ${n.reason}`), ...measured.failed.map((c) => `${c} failed twice`)].filter(Boolean).join('; ');
  finishHeadRun(ctx.db, runId, 'success', note || null, {
    notRun, failed: measured.failed, wall: measured.wall, build: { status: 'success', ms: img.ms, reused: img.reused }, previous: prev?.id ?? null,
    detection: detection?.compared.map((c) => ({ metric: c.metric, ...c.comparison })) ?? [],
  });
  log.info({ changes: changes.map((c) => `${c.metric} ${c.verdict} ${(c.change * 100).toFixed(2)}%`) }, 'HEAD run done');
  return {
    ...base, status: 'success', samples: measured.samples, previous: prev ? { runId: prev.id, commit: prev.commit_id } : null, detection, changes, note,
    buildMs: img.ms, bootMs: measured.bootMs,
  };
}

export interface BisectionOutcome {
  bisectionId: number;
  result: BisectResult;
  outbox: { id: number; state: string; messageId: string } | null;
  /** the GitHub comment, where the tree configures one (an error or dry-run says why not) */
  github: GithubBisectReport | { error: string } | { dryRun: string } | null;
  timings: { buildMs: number; bootMs: number; builds: number };
}

/** Bisects a detected change (a head_changes row) between its two runs, stores it and queues the report. */
export async function bisectChange(ctx: HeadsContext, changeId: number, opts: { onStep?: (s: BisectStep) => void } = {}): Promise<BisectionOutcome> {
  const row = ctx.db.prepare('SELECT * FROM head_changes WHERE id = ?').get(changeId) as
    { tree: string; metric: string; from_run: number; to_run: number; change: number; low: number; high: number } | undefined;
  if (!row) throw new Error(`no detected change ${changeId}`);
  const from = getHeadRun(ctx.db, row.from_run)!;
  const to = getHeadRun(ctx.db, row.to_run)!;
  return bisectBetween(ctx, row.tree, {
    good: from.commit_id, bad: to.commit_id, metric: row.metric, changeId, fromRun: from.id, toRun: to.id,
    goodSamples: runSamples(ctx.db, from.id)[row.metric], badSamples: runSamples(ctx.db, to.id)[row.metric],
    detected: { change: row.change, low: row.low, high: row.high },
  }, opts);
}

export interface BisectBetweenOptions {
  good: string;
  bad: string;
  metric: string;
  changeId?: number | null;
  fromRun?: number | null;
  toRun?: number | null;
  goodSamples?: number[];
  badSamples?: number[];
  /** the change to look for; measured from the ends when absent */
  detected?: { change: number; low: number; high: number };
}

export async function bisectBetween(ctx: HeadsContext, treeName: string, b: BisectBetweenOptions, opts: { onStep?: (s: BisectStep) => void } = {}): Promise<BisectionOutcome> {
  const r = resolve(ctx);
  const tree = await findTree(ctx.settings, treeName);
  const { dir } = await fetchHead(r.heads, tree, ctx.signal);
  const { cells } = cellsOf(r);
  const rules = rulesOf(r, cells);
  const rule = rules[b.metric];
  if (!rule) throw new Error(`${b.metric} is not a metric of the configured cells (${Object.keys(rules).join(', ')})`);
  const mo = await measureOptions(ctx, r, tree.name, dir, cells);
  const timings = { buildMs: 0, bootMs: 0, builds: 0 };
  const measurer = commitMeasurer(mo, b.metric, timings);
  const { compare } = await import('../gates/perf/stats.js');
  // the ends must build: a bisection between commits that cannot be measured has nothing to compare
  const endSamples = async (commit: string, end: string): Promise<number[]> => {
    const m = await measurer.measure(commit, r.heads.boots);
    if (!Array.isArray(m)) throw new Error(`the ${end} end cannot be measured: ${m.skip}`);
    return m;
  };
  const goodSamples = b.goodSamples ?? (await endSamples(b.good, 'good'));
  const badSamples = b.badSamples ?? (b.detected ? undefined : await endSamples(b.bad, 'bad'));
  const detected = b.detected ?? (() => {
    const c = compare(goodSamples, badSamples!, rule, r.heads.alpha);
    return { change: c.change, low: c.low, high: c.high };
  })();
  const id = startBisection(ctx.db, { tree: tree.name, metric: b.metric, changeId: b.changeId ?? null, good: b.good, bad: b.bad });
  let result: BisectResult;
  try {
    result = await bisect({
      repo: dir, good: b.good, bad: b.bad, detected: { metric: b.metric, ...detected, rule }, goodSamples, badSamples, measurer,
      stepBoots: r.heads.step_boots, maxRetries: r.heads.max_retries, onStep: opts.onStep, signal: ctx.signal,
    });
  } catch (err) {
    finishBisection(ctx.db, id, { state: 'failed', steps: 0, retries: 0, bound: 0, range: 0, data: { error: (err as Error).message } });
    throw err;
  }
  finishBisection(ctx.db, id, {
    state: result.status, culprit: result.culprit?.commit, subject: result.culprit?.subject, size: result.size, steps: result.steps.length,
    retries: result.retries, bound: result.bound, range: result.range,
    data: { summary: result.summary, steps: result.steps, culprit: result.culprit, detected: result.detected, skipped: result.skipped, candidates: result.candidates, reason: result.reason, timings },
  });
  let outbox: BisectionOutcome['outbox'] = null;
  let github: BisectionOutcome['github'] = null;
  // the report: the culprit (threaded to its posting), or the candidates when it could not be isolated
  const reported = result.culprit?.commit ?? result.candidates[result.candidates.length - 1]?.commit ?? null;
  if (reported) {
    const who = (await git(dir, ['log', '-1', '--format=%an <%ae>%x00%cn <%ce>', reported])).stdout.trim().split('\0');
    const posting = result.culprit ? await findPosting(ctx.db, dir, result.culprit.commit) : null;
    const others = result.candidates.map((c) => safeAddress(c.author)).filter((p): p is { name: string; email: string } => p !== null);
    const input: BisectMailInput = {
      bisectionId: id, tree: tree.name, branch: tree.branch, lists: tree.lists, from: ctx.settings.smtp.from, result,
      author: safeAddress(who[0]), committer: safeAddress(who[1]), others, goodBoots: goodSamples.length, fromRun: b.fromRun, toRun: b.toRun, posting,
      dashboard: ctx.settings.reply.dashboard_url ? `${ctx.settings.reply.dashboard_url.replace(/\/$/, '')}/heads/${encodeURIComponent(tree.name)}` : null,
    };
    const row = queueBisectMail(ctx.db, buildBisectMail(input), ctx.settings, tree.name, id);
    if (row) outbox = { id: row.id, state: row.state, messageId: row.message_id };
    github = await reportToGithub(ctx, r, tree.name, id, input);
  }
  r.log.info({ tree: tree.name, bisection: id, summary: result.summary }, 'bisection done');
  return { bisectionId: id, result, outbox, github, timings };
}

/**
 * The bisection as a comment on the tree's GitHub issue (heads.trees[].github), through the App's client:
 * dry-run unless reply.mode is send, like the mail. A GitHub failure is logged and kept with the bisection,
 * never thrown: the bisection is done.
 */
async function reportToGithub(ctx: HeadsContext, r: Resolved, tree: string, id: number, input: BisectMailInput): Promise<BisectionOutcome['github']> {
  const target = r.heads.trees.find((t) => t.tree === tree)?.github;
  if (!target) return null;
  const marker = bisectionMarker(tree, input.result);
  const body = renderBisectComment(bisectView(input), marker);
  let out: BisectionOutcome['github'];
  if (ctx.settings.reply.mode !== 'send') out = { dryRun: `reply.mode ${ctx.settings.reply.mode}: comment on ${target.repo} not posted` };
  else if (!ctx.github) out = { error: 'no GitHub client (github.app_id and github.private_key are needed)' };
  else {
    try {
      out = await reportBisectionToGithub(await ctx.github(target.repo), target, tree, body, marker, knownTrackingIssue(ctx.db, tree, target.repo));
    } catch (err) {
      out = { error: (err as Error).message };
    }
  }
  if ('error' in out) r.log.warn({ tree, bisection: id, repo: target.repo, err: out.error }, 'bisection not reported on GitHub');
  else r.log.info({ tree, bisection: id, github: out }, 'bisection reported on GitHub');
  setBisectionGithub(ctx.db, id, { repo: target.repo, ...out });
  return out;
}

function safeAddress(s: string | undefined): { name: string; email: string } | null {
  if (!s) return null;
  try {
    return parseAddress(s);
  } catch {
    return null;
  }
}
