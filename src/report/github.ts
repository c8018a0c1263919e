// GitHub: one comment per pull request, found by its hidden marker and edited in place, and one check run
// per stage (apply, build, each gate) on the head commit, created once and then updated.
// Talks through an Octokit-shaped client (probot's context.octokit, or ProbotOctokit built by main.ts).
import type { ReportContext } from './context.js';
import { GITHUB_MARKER, renderGithubComment } from './render.js';
import type { Status } from './status.js';

export interface GithubClient {
  request(route: string, params?: Record<string, unknown>): Promise<{ status: number; data: unknown }>;
}

export interface PullTarget {
  owner: string;
  repo: string;
  pull: number;
  headSha: string;
}

interface Comment {
  id: number;
  body?: string;
}

/** Creates patchgate's comment on the pull request, or edits the one carrying the marker. */
export async function upsertPullComment(gh: GithubClient, t: PullTarget, body: string): Promise<{ id: number; action: 'created' | 'updated' | 'unchanged' }> {
  if (!body.includes(GITHUB_MARKER)) throw new Error('comment body lacks the patchgate marker');
  let existing: Comment | undefined;
  for (let page = 1; page <= 50 && !existing; page++) {
    const res = await gh.request('GET /repos/{owner}/{repo}/issues/{issue_number}/comments', {
      owner: t.owner, repo: t.repo, issue_number: t.pull, per_page: 100, page,
    });
    const list = res.data as Comment[];
    existing = list.find((c) => typeof c.body === 'string' && c.body.includes(GITHUB_MARKER));
    if (list.length < 100) break;
  }
  if (existing) {
    if (existing.body === body) return { id: existing.id, action: 'unchanged' };
    await gh.request('PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}', {
      owner: t.owner, repo: t.repo, comment_id: existing.id, body,
    });
    return { id: existing.id, action: 'updated' };
  }
  const res = await gh.request('POST /repos/{owner}/{repo}/issues/{issue_number}/comments', {
    owner: t.owner, repo: t.repo, issue_number: t.pull, body,
  });
  return { id: (res.data as Comment).id, action: 'created' };
}

export interface CheckRunSpec {
  name: string;
  status: 'queued' | 'in_progress' | 'completed';
  conclusion?: 'success' | 'failure' | 'neutral' | 'skipped' | 'cancelled' | 'timed_out' | 'action_required';
  title: string;
  summary: string;
  details_url?: string;
  external_id: string;
}

function conclusionOf(s: Status): Pick<CheckRunSpec, 'status' | 'conclusion'> {
  switch (s) {
    case 'pending': return { status: 'in_progress' };
    case 'success': return { status: 'completed', conclusion: 'success' };
    case 'warning': return { status: 'completed', conclusion: 'neutral' };
    case 'failure':
    case 'conflict': return { status: 'completed', conclusion: 'failure' };
    case 'skipped': return { status: 'completed', conclusion: 'skipped' };
  }
}

/** One check run per stage: patchgate/apply, patchgate/build, patchgate/<gate>. */
export function checkRunsFor(ctx: ReportContext): CheckRunSpec[] {
  const ext = `${ctx.series.id}/v${ctx.series.version}`;
  const details = ctx.links.dashboard ?? undefined;
  const runs: CheckRunSpec[] = [];
  const conflict = ctx.apply.find((a) => a.status === 'conflict');
  runs.push({
    name: 'patchgate/apply', ...conclusionOf(ctx.stages.apply), external_id: ext, details_url: details,
    title: conflict ? `patch ${conflict.number}/${ctx.series.total} does not apply` : `apply: ${ctx.stages.apply}`,
    summary: ctx.apply.map((a) => `- ${a.number}/${ctx.series.total} ${a.outcome}: ${a.name}`).join('\n') || 'not run',
  });
  const errors = ctx.build.patches.flatMap((b) => b.errors.map((e) => `- ${b.number}/${ctx.series.total} \`${e.file}:${e.line}\`: ${e.message}`));
  const warnings = ctx.build.patches.flatMap((b) => b.new_warnings.map((w) => `- ${b.number}/${ctx.series.total} \`${w.file}:${w.line}\`: ${w.message}`));
  runs.push({
    name: 'patchgate/build', ...conclusionOf(ctx.stages.build), external_id: ext, details_url: ctx.links.logs ?? details,
    title: `build${ctx.build.config ? ` (${ctx.build.config})` : ''}: ${ctx.stages.build}`,
    summary: [...errors, ...warnings].join('\n') || (ctx.build.patches.length ? 'no errors, no new warnings' : 'not run'),
  });
  for (const g of ctx.gates) {
    runs.push({
      name: `patchgate/${g.id}`, ...conclusionOf(g.status), external_id: ext, details_url: g.url ?? details,
      title: g.summary || g.status,
      summary: [
        g.reason ? `why: ${g.reason}` : '',
        ...g.metrics.map((m) => `- ${m.name}: ${(m.change * 100).toFixed(1)}% [${m.low === null ? '?' : (m.low * 100).toFixed(1)}%, ${m.high === null ? '?' : (m.high * 100).toFixed(1)}%] ${m.verdict}`),
      ].filter(Boolean).join('\n') || g.summary || g.status,
    });
  }
  return runs;
}

interface CheckRun {
  id: number;
  name: string;
}

/** Creates the check run on the head commit, or updates the one of the same name there. */
export async function upsertCheckRun(gh: GithubClient, t: PullTarget, spec: CheckRunSpec): Promise<{ id: number; action: 'created' | 'updated' }> {
  const res = await gh.request('GET /repos/{owner}/{repo}/commits/{ref}/check-runs', {
    owner: t.owner, repo: t.repo, ref: t.headSha, check_name: spec.name, per_page: 100,
  });
  const found = ((res.data as { check_runs?: CheckRun[] }).check_runs ?? []).find((r) => r.name === spec.name);
  const fields: Record<string, unknown> = {
    status: spec.status, external_id: spec.external_id, output: { title: spec.title, summary: spec.summary },
    ...(spec.conclusion ? { conclusion: spec.conclusion, completed_at: new Date().toISOString() } : {}),
    ...(spec.details_url ? { details_url: spec.details_url } : {}),
  };
  if (found) {
    await gh.request('PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}', { owner: t.owner, repo: t.repo, check_run_id: found.id, ...fields });
    return { id: found.id, action: 'updated' };
  }
  const created = await gh.request('POST /repos/{owner}/{repo}/check-runs', {
    owner: t.owner, repo: t.repo, name: spec.name, head_sha: t.headSha, ...fields,
  });
  return { id: (created.data as CheckRun).id, action: 'created' };
}

/** The comment and every check run for a verdict. */
export async function reportToGithub(gh: GithubClient, t: PullTarget, ctx: ReportContext): Promise<{ comment: { id: number; action: string }; checkRuns: number }> {
  const comment = await upsertPullComment(gh, t, renderGithubComment(ctx));
  let checkRuns = 0;
  for (const spec of checkRunsFor(ctx)) {
    await upsertCheckRun(gh, t, spec);
    checkRuns++;
  }
  return { comment, checkRuns };
}
