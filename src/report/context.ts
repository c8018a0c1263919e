// The report context: plain data about one series revision, built from the stored outcomes. Renderers
// (mail, patchwork check, GitHub comment) read only this; nothing here knows about templates or transports.
//
// Outcome rows read from the store (table `outcomes`, one per series, version and stage; the pipeline's
// shapes are in src/queue/registry.ts):
//   stage 'apply'      data: { tree, apply: [{ msgid, outcome, files, detail }], branch }
//   stage 'build'      data: { build: [{ msgid, status, new_warnings, errors, log_url? }],
//                              config?: string, reproduce?: string[], log_url?: string }
//   stage 'gate'       status, summary (the gate stage as a whole: skipped / blocked / unavailable)
//   stage 'gate:<id>'  status, summary; data: { metrics?: { name: { change, low, high, verdict } },
//                              details?: [{ msgid?, status, message }], reason?: string, url?: string }
// (`patches: [...]` or a bare array is accepted for apply and build too.) The entries are those of
// `patchgate run --json` (shared/docs/contract.md). Any outcome with data.infrastructure or data.cancelled
// is listed in `incomplete`: the verdict then says nothing about the series.
import type { ParsedMessage, Person } from '../mail/types.js';
import type { Series } from '../series/types.js';
import type { Db } from '../store/db.js';
import { loadSeries } from '../store/series.js';
import { decodeParsed } from '../store/messages.js';
import { combineStatus, isStatus, type Status } from './status.js';

export type ApplyOutcome = 'applied' | 'applied-3way' | 'conflict' | 'already-applied' | 'skipped';

export interface ReportPatch {
  msgid: string;
  number: number;
  name: string;
  subject: string;
}

export interface ApplyEntry {
  msgid: string;
  number: number;
  name: string;
  outcome: ApplyOutcome;
  status: Status;
  files: string[];
  detail: string;
}

export interface BuildIssue {
  file: string;
  line: number;
  message: string;
}

export interface BuildEntry {
  msgid: string;
  number: number;
  name: string;
  status: Status;
  new_warnings: BuildIssue[];
  errors: BuildIssue[];
  log_url: string | null;
}

export interface GateMetric {
  name: string;
  change: number;
  low: number | null;
  high: number | null;
  verdict: string;
}

export interface GateFinding {
  msgid: string | null;
  status: string;
  message: string;
}

export interface GateEntry {
  id: string;
  status: Status;
  summary: string;
  /** why a gate was skipped or not run (null otherwise) */
  reason: string | null;
  metrics: GateMetric[];
  /** the gate's findings that are not success (at most MAX_FINDINGS) */
  findings: GateFinding[];
  /** per-patch status when every finding names its patch (patchwork posts those per patch), else null */
  per_patch: Record<string, Status> | null;
  url: string | null;
}

const MAX_FINDINGS = 10;

/** The message a reply answers (the cover letter, else patch 1) and what it says about itself. */
export interface ThreadInfo {
  msgid: string;
  /** its decoded Subject header */
  subject: string;
  /** its own References chain, oldest first (without its msgid) */
  references: string[];
  from: Person;
  to: Person[];
  cc: Person[];
  list_id: string | null;
  /** lower-case header names the parser kept (auto-submitted, x-patchgate-*, ...) */
  headers: Record<string, string>;
}

export interface ReportContext {
  series: {
    id: string;
    name: string | null;
    version: number;
    total: number;
    rfc: boolean;
    tags: string[];
    submitter: Person;
    cover: string | null;
    base_commit: string | null;
    patches: ReportPatch[];
  };
  thread: ThreadInfo;
  tree: { name: string; reason: string } | null;
  branch: string | null;
  apply: ApplyEntry[];
  build: { status: Status; summary: string; config: string | null; reproduce: string[]; log_url: string | null; patches: BuildEntry[] };
  gates: GateEntry[];
  /** the gate stage's own summary when it did not run (blocked, unavailable), else '' */
  gates_summary: string;
  /** stages whose outcome is an infrastructure fault or a cancellation ("stage: summary") */
  incomplete: string[];
  links: { dashboard: string | null; logs: string | null };
  stages: { apply: Status; build: Status; gates: Status };
  verdict: Status;
  /** one line: why the verdict is what it is */
  reason: string;
}

export interface OutcomeRow {
  stage: string;
  status: string;
  summary: string | null;
  data: unknown;
}

export interface RunRow {
  tree: string | null;
  tree_reason: string | null;
  branch: string | null;
}

export interface ContextInput {
  series: Series;
  run: RunRow | null;
  outcomes: OutcomeRow[];
  /** the cover letter (or patch 1) as parsed; null when it is not stored */
  origin: ParsedMessage | null;
  /** base URL of the dashboard (`reply.dashboard_url`), if any */
  dashboardUrl?: string | null;
}

const APPLY_STATUS: Record<ApplyOutcome, Status> = {
  applied: 'success', 'applied-3way': 'success', 'already-applied': 'success', conflict: 'conflict', skipped: 'skipped',
};

function asRecord(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function entries(data: unknown, key: string): Record<string, unknown>[] {
  const d = asRecord(data);
  const list = Array.isArray(data) ? data : Array.isArray(d[key]) ? d[key] : d.patches;
  return Array.isArray(list) ? list.map(asRecord) : [];
}

function str(v: unknown, dflt = ''): string {
  return typeof v === 'string' ? v : dflt;
}

function strOrNull(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function issues(v: unknown): BuildIssue[] {
  return Array.isArray(v)
    ? v.map(asRecord).map((i) => ({ file: str(i.file), line: num(i.line) ?? 0, message: str(i.message) }))
    : [];
}

function toStatus(v: unknown, dflt: Status): Status {
  // patchwork's spelling and a few synonyms are accepted from stored data
  if (v === 'fail' || v === 'failed' || v === 'error') return 'failure';
  if (v === 'pass' || v === 'passed') return 'success';
  return isStatus(v) ? v : dflt;
}

function patchLabel(p: { number: number }, total: number): string {
  return `${p.number}/${total}`;
}

function treeOf(data: unknown): { name: string; reason: string } | null {
  const t = asRecord(asRecord(data).tree);
  return typeof t.name === 'string' ? { name: t.name, reason: str(t.reason) } : null;
}

/** The one-line reason for a verdict. */
export function verdictReason(ctx: Omit<ReportContext, 'reason'>): string {
  const total = ctx.series.total;
  if (ctx.incomplete.length > 0) return `not tested to the end (${ctx.incomplete[0]})`;
  const conflict = ctx.apply.find((a) => a.status === 'conflict');
  if (conflict) {
    return `patch ${patchLabel(conflict, total)} does not apply${ctx.tree ? ` to ${ctx.tree.name}` : ''}`;
  }
  const broken = ctx.build.patches.find((b) => b.status === 'failure');
  if (broken) return `the build fails at patch ${patchLabel(broken, total)}`;
  if (ctx.build.status === 'failure') return 'the build fails';
  const failedGate = ctx.gates.find((g) => g.status === 'failure');
  if (failedGate) return `${failedGate.id}: ${failedGate.summary}`;
  if (ctx.verdict === 'pending') return 'results are still coming in';
  const warned = ctx.build.patches.find((b) => b.status === 'warning');
  if (warned) return `patch ${patchLabel(warned, total)} adds build warnings`;
  const warnGate = ctx.gates.find((g) => g.status === 'warning');
  if (warnGate) return `${warnGate.id}: ${warnGate.summary}`;
  if (ctx.verdict === 'skipped') return 'nothing was tested';
  return 'applied, built and passed every gate that ran';
}

/** Builds the context from data (pure). */
export function makeReportContext(input: ContextInput): ReportContext {
  const { series, run, outcomes, origin } = input;
  const total = series.total;
  const byMsgid = new Map(series.patches.map((p) => [p.msgid, p]));
  const label = (msgid: string): { number: number; name: string } => {
    const p = byMsgid.get(msgid);
    return p ? { number: p.number, name: p.name } : { number: 0, name: msgid };
  };

  const applyRow = outcomes.find((o) => o.stage === 'apply');
  const apply: ApplyEntry[] = applyRow
    ? entries(applyRow.data, 'apply').map((e) => {
        const msgid = str(e.msgid);
        const outcome = (Object.hasOwn(APPLY_STATUS, str(e.outcome)) ? e.outcome : 'skipped') as ApplyOutcome;
        return {
          msgid, ...label(msgid), outcome, status: APPLY_STATUS[outcome],
          files: Array.isArray(e.files) ? e.files.filter((f): f is string => typeof f === 'string') : [],
          detail: str(e.detail),
        };
      }).sort((a, b) => a.number - b.number)
    : [];

  const buildRow = outcomes.find((o) => o.stage === 'build');
  const buildData = asRecord(buildRow?.data);
  const buildPatches: BuildEntry[] = buildRow
    ? entries(buildRow.data, 'build').map((e) => {
        const msgid = str(e.msgid);
        return {
          msgid, ...label(msgid), status: toStatus(e.status, 'pending'),
          new_warnings: issues(e.new_warnings), errors: issues(e.errors), log_url: strOrNull(e.log_url),
        };
      }).sort((a, b) => a.number - b.number)
    : [];

  const gates: GateEntry[] = outcomes
    .filter((o) => o.stage.startsWith('gate:'))
    .map((o) => {
      const d = asRecord(o.data);
      const metrics = Object.entries(asRecord(d.metrics)).map(([name, m]) => {
        const r = asRecord(m);
        return { name, change: num(r.change) ?? 0, low: num(r.low), high: num(r.high), verdict: str(r.verdict) };
      });
      const details = (Array.isArray(d.details) ? d.details : []).map(asRecord);
      const problems = details.filter((f) => f.status !== 'success' && f.status !== 'skipped');
      let perPatch: Record<string, Status> | null = null;
      if (problems.length > 0 && problems.every((f) => typeof f.msgid === 'string' && byMsgid.has(f.msgid))) {
        perPatch = {};
        for (const p of series.patches) {
          perPatch[p.msgid] = combineStatus([
            'success', ...problems.filter((f) => f.msgid === p.msgid).map((f) => toStatus(f.status, 'warning')),
          ]);
        }
      }
      const findings = details
        .filter((f) => f.status !== 'success' && typeof f.message === 'string' && f.message !== '')
        .slice(0, MAX_FINDINGS)
        .map((f) => ({ msgid: strOrNull(f.msgid), status: str(f.status), message: str(f.message) }));
      return {
        id: o.stage.slice('gate:'.length), status: toStatus(o.status, 'pending'), summary: o.summary ?? '',
        reason: strOrNull(d.reason), metrics, findings, per_patch: perPatch, url: strOrNull(d.url),
      };
    })
    .sort((a, b) => a.id.localeCompare(b.id));

  const applyStatus = applyRow
    ? toStatus(applyRow.status, combineStatus(apply.map((a) => a.status)))
    : 'pending';
  const buildStatus = buildRow
    ? toStatus(buildRow.status, combineStatus(buildPatches.map((b) => b.status)))
    : applyStatus === 'conflict' ? 'skipped' : 'pending';
  const gateRow = outcomes.find((o) => o.stage === 'gate');
  const gatesStatus = gates.length > 0 ? combineStatus(gates.map((g) => g.status)) : gateRow ? toStatus(gateRow.status, 'skipped') : 'skipped';
  const incomplete = outcomes
    .filter((o) => asRecord(o.data).infrastructure === true || asRecord(o.data).cancelled === true)
    .map((o) => `${o.stage}: ${o.summary ?? o.status}`);
  const verdict = combineStatus([applyStatus, buildStatus, ...(gates.length > 0 ? gates.map((g) => g.status) : [gatesStatus])]);

  const logs = strOrNull(buildData.log_url);
  const dashboard = input.dashboardUrl
    ? `${input.dashboardUrl.replace(/\/+$/, '')}/series/${encodeURIComponent(series.id)}`
    : null;

  const first = series.patches[0];
  const threadMsgid = series.cover ?? first?.msgid ?? '';
  const thread: ThreadInfo = {
    msgid: threadMsgid,
    subject: origin?.subject.raw ?? (series.cover ? series.name ?? '' : first?.subject ?? series.name ?? ''),
    references: origin ? origin.references.filter((r) => r !== threadMsgid) : [],
    from: origin?.from ?? series.submitter,
    to: origin?.to ?? [],
    cc: origin?.cc ?? [],
    list_id: origin?.listId ?? null,
    headers: origin?.headers ?? {},
  };

  const ctx: Omit<ReportContext, 'reason'> = {
    series: {
      id: series.id, name: series.name, version: series.version, total, rfc: series.rfc, tags: series.tags,
      submitter: series.submitter, cover: series.cover, base_commit: series.base_commit,
      patches: series.patches.map((p) => ({ msgid: p.msgid, number: p.number, name: p.name, subject: p.subject })),
    },
    thread,
    tree: run?.tree ? { name: run.tree, reason: run.tree_reason ?? '' } : treeOf(applyRow?.data),
    branch: run?.branch ?? strOrNull(asRecord(applyRow?.data).branch),
    apply,
    build: {
      status: buildStatus,
      summary: buildRow?.summary ?? '',
      config: strOrNull(buildData.config),
      reproduce: Array.isArray(buildData.reproduce) ? buildData.reproduce.filter((l): l is string => typeof l === 'string') : [],
      log_url: logs,
      patches: buildPatches,
    },
    gates,
    gates_summary: gates.length === 0 ? gateRow?.summary ?? '' : '',
    incomplete,
    links: { dashboard, logs },
    stages: { apply: applyStatus, build: buildStatus, gates: gatesStatus },
    verdict,
  };
  return { ...ctx, reason: verdictReason(ctx) };
}

export function loadParsedMessage(db: Db, msgid: string): ParsedMessage | null {
  const row = db.prepare('SELECT parsed FROM messages WHERE msgid = ? ORDER BY seq LIMIT 1').pluck().get(msgid) as string | undefined;
  return row ? decodeParsed(row) : null;
}

export function loadOutcomes(db: Db, seriesId: string, version: number): OutcomeRow[] {
  const rows = db.prepare('SELECT stage, status, summary, data FROM outcomes WHERE series_id = ? AND version = ? ORDER BY stage')
    .all(seriesId, version) as { stage: string; status: string; summary: string | null; data: string }[];
  return rows.map((r) => {
    let data: unknown = null;
    try {
      data = JSON.parse(r.data);
    } catch {
      data = null;
    }
    return { stage: r.stage, status: r.status, summary: r.summary, data };
  });
}

/** Builds the context for a stored series revision; null when the series is unknown. */
export function loadReportContext(db: Db, seriesId: string, version: number, opts: { dashboardUrl?: string | null } = {}): ReportContext | null {
  const series = loadSeries(db, seriesId);
  if (!series) return null;
  const run = (db.prepare('SELECT tree, tree_reason, branch FROM runs WHERE series_id = ? AND version = ?').get(seriesId, version) as RunRow | undefined) ?? null;
  const originId = series.cover ?? series.patches[0]?.msgid;
  const origin = originId ? loadParsedMessage(db, originId) : null;
  return makeReportContext({
    series: series.version === version ? series : { ...series, version },
    run, outcomes: loadOutcomes(db, seriesId, version), origin, dashboardUrl: opts.dashboardUrl,
  });
}
