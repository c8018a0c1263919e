// A bisection's result on GitHub, where a tree's heads entry configures it (`github: { repo, issue?, label }`):
// one tracking issue per tree (the configured number, else one patchgate opened, found by its hidden marker;
// opened once with POST /repos/{owner}/{repo}/issues), and on it one comment per bisection, found by the
// bisection's hidden marker and edited in place (PATCH /repos/{owner}/{repo}/issues/comments/{comment_id})
// when the same bisection reports again: never a duplicate. Through the project's GitHub client (the
// installation's octokit, src/report/github-stage.ts installationClients).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { GithubClient } from '../report/github.js';
import { escapeMarkdown, templatesDir } from '../report/render.js';
import { parseTemplate, renderNodes } from '../report/template.js';
import type { BisectResult } from './bisect.js';

export interface HeadsGithubTarget {
  /** owner/name */
  repo: string;
  /** the tracking issue; absent: patchgate opens one per tree (found again by its marker) */
  issue?: number;
  /** the label of the issue patchgate opens, and of the search for it */
  label: string;
}

export interface GithubBisectReport {
  repo: string;
  issue: number;
  issueAction: 'configured' | 'found' | 'created';
  comment: number;
  action: 'created' | 'updated' | 'unchanged';
}

/** The hidden marker of a tree's tracking issue. */
export function treeIssueMarker(tree: string): string {
  return `<!-- patchgate:heads tree=${tree.replace(/[^\w.+-]/g, '_')} -->`;
}

/** The hidden marker of one bisection's comment: the same tree, range, metric give the same marker. */
export function bisectionMarker(tree: string, r: Pick<BisectResult, 'good' | 'bad' | 'metric'>): string {
  const hash = createHash('sha256').update([tree, r.good, r.bad, r.metric].join('\n')).digest('hex').slice(0, 16);
  return `<!-- patchgate:bisect ${hash} -->`;
}

/** The comment: templates/github/bisect.md over the mail's view (report.ts bisectView), user text escaped. */
export function renderBisectComment(view: Record<string, unknown>, marker: string, dir = templatesDir()): string {
  const nodes = parseTemplate(readFileSync(path.join(dir, 'github', 'bisect.md'), 'utf8'), 'github/bisect.md');
  return renderNodes(nodes, { ...view, marker }, { name: 'github/bisect', escape: escapeMarkdown }).replace(/\n{3,}/g, '\n\n').replace(/^\n+/, '').replace(/\n*$/, '\n');
}

interface IssueItem {
  number: number;
  body?: string | null;
  pull_request?: unknown;
}

interface CommentItem {
  id: number;
  body?: string | null;
}

function split(repo: string): { owner: string; repo: string } {
  const [owner, name] = repo.split('/');
  if (!owner || !name) throw new Error(`not owner/name: ${repo}`);
  return { owner, repo: name };
}

/**
 * The tree's tracking issue: the configured one; else KNOWN (from an earlier report) when it still carries
 * the marker; else one with the label and the marker; else a new one.
 */
export async function treeIssue(gh: GithubClient, t: HeadsGithubTarget, tree: string, known: number | null): Promise<{ number: number; action: GithubBisectReport['issueAction'] }> {
  if (t.issue) return { number: t.issue, action: 'configured' };
  const r = split(t.repo);
  const marker = treeIssueMarker(tree);
  if (known) {
    try {
      const res = await gh.request('GET /repos/{owner}/{repo}/issues/{issue_number}', { ...r, issue_number: known });
      if ((res.data as IssueItem).body?.includes(marker)) return { number: known, action: 'found' };
    } catch (err) {
      if ((err as { status?: number }).status !== 404 && (err as { status?: number }).status !== 410) throw err;
    }
  }
  for (let page = 1; page <= 20; page++) {
    const res = await gh.request('GET /repos/{owner}/{repo}/issues', { ...r, state: 'all', labels: t.label, per_page: 100, page });
    const list = res.data as IssueItem[];
    const hit = list.find((i) => !i.pull_request && typeof i.body === 'string' && i.body.includes(marker));
    if (hit) return { number: hit.number, action: 'found' };
    if (list.length < 100) break;
  }
  const created = await gh.request('POST /repos/{owner}/{repo}/issues', {
    ...r,
    title: `patchgate: changes found on the HEAD of ${tree}`,
    body: `${marker}\npatchgate runs the test matrix on the HEAD of **${escapeMarkdown(tree)}** on a schedule; each change it finds is bisected, and the result is a comment on this issue.\n`,
    labels: [t.label],
  });
  return { number: (created.data as IssueItem).number, action: 'created' };
}

/** Creates the bisection's comment on the tree's issue, or edits the one carrying its marker. */
export async function reportBisectionToGithub(gh: GithubClient, t: HeadsGithubTarget, tree: string, body: string, marker: string, known: number | null = null): Promise<GithubBisectReport> {
  if (!body.includes(marker)) throw new Error('comment body lacks the bisection marker');
  const r = split(t.repo);
  const issue = await treeIssue(gh, t, tree, known);
  let existing: CommentItem | undefined;
  for (let page = 1; page <= 50 && !existing; page++) {
    const res = await gh.request('GET /repos/{owner}/{repo}/issues/{issue_number}/comments', { ...r, issue_number: issue.number, per_page: 100, page });
    const list = res.data as CommentItem[];
    existing = list.find((c) => typeof c.body === 'string' && c.body.includes(marker));
    if (list.length < 100) break;
  }
  const base = { repo: t.repo, issue: issue.number, issueAction: issue.action };
  if (existing) {
    if (existing.body === body) return { ...base, comment: existing.id, action: 'unchanged' };
    await gh.request('PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}', { ...r, comment_id: existing.id, body });
    return { ...base, comment: existing.id, action: 'updated' };
  }
  const res = await gh.request('POST /repos/{owner}/{repo}/issues/{issue_number}/comments', { ...r, issue_number: issue.number, body });
  return { ...base, comment: (res.data as CommentItem).id, action: 'created' };
}
