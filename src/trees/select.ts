// Which tree a series was written for. Signals, strongest first: subject tokens, base-commit (and
// prerequisites) present in a tree, Fixes: commits present in a tree, touched paths against the tree's
// own MAINTAINERS, the list the mail came from. Every candidate carries the reason reports show.
import type { ParsedMessage } from '../mail/types.js';
import type { Series } from '../series/types.js';
import type { TreeConfig, TreesFile } from './config.js';
import { filePatternMatches, matchSections, type MaintainersSection } from './maintainers.js';

export type SelectionSignal = 'override' | 'token' | 'base-commit' | 'fixes' | 'paths' | 'list';

export interface SelectionInput {
  /** subject prefix tokens, lower-case, not PATCH/RFC/vN/N/M (SubjectInfo.tags, Series.tags) */
  tags: string[];
  baseCommit: string | null;
  prerequisitePatchIds: string[];
  /** values of Fixes: trailers (`1a2b3c4d5e6f ("subject")`) */
  fixes: string[];
  /** paths the series touches */
  files: string[];
  /** List-Id header values (`<netdev.vger.kernel.org>` or `Netdev <netdev.vger.kernel.org>`) */
  listIds: string[];
  to: string[];
  cc: string[];
  /** a maintainer's choice (`patchgate: tree X`, src/report/commands.ts treeOverride): decides alone */
  override?: { tree: string; reason: string } | null;
}

export interface TreeCandidate {
  name: string;
  reason: string;
  signal: SelectionSignal;
}

export interface TreeSelection {
  /** the first candidate; null when nothing points at a configured tree */
  name: string | null;
  /** why: the first candidate's reason, or why there is none */
  reason: string;
  /** every tree worth trying, in order; apply uses the first that applies */
  candidates: TreeCandidate[];
  /** true when the subject named the tree: the other signals are not consulted for fallbacks */
  marked: boolean;
  /** observations that did not pick a tree ("base-commit 1a2b3c4 is in none of the trees") */
  notes: string[];
}

/** What selection asks about the trees themselves (see gitProbe() in probe.ts). */
export interface TreeProbe {
  /** true when the commit (full or abbreviated id) is reachable from the tree's branch */
  contains(tree: TreeConfig, commit: string): Promise<boolean>;
  /** which of the given patch-ids (git patch-id --stable) occur in the branch's recent history */
  patchIdsPresent?(tree: TreeConfig, patchIds: string[]): Promise<Set<string>>;
  /** the tree's own MAINTAINERS, parsed; null when it has none or it cannot be read */
  maintainers(tree: TreeConfig): Promise<MaintainersSection[] | null>;
  /** which of the files exist in the branch; null when unknown */
  existingFiles?(tree: TreeConfig, files: string[]): Promise<Set<string> | null>;
}

const HASH = /^([0-9a-f]{7,40})\b/i;

function short(sha: string): string {
  return sha.slice(0, 12);
}

/** Gathers the selection signals of a series from its document entry and its parsed messages. */
export function selectionInputFromSeries(series: Series | null, messages: ParsedMessage[] = []): SelectionInput {
  const tags = new Set<string>(series?.tags.map((t) => t.toLowerCase()) ?? []);
  const files = new Set<string>();
  const fixes = new Set<string>();
  const prerequisites = new Set<string>();
  const listIds = new Set<string>();
  const to = new Set<string>();
  const cc = new Set<string>();
  let baseCommit = series?.base_commit ?? null;
  for (const patch of series?.patches ?? []) {
    patch.files.forEach((f) => files.add(f));
    patch.trailers.filter((t) => t.name.toLowerCase() === 'fixes').forEach((t) => fixes.add(t.value));
  }
  for (const message of messages) {
    if (!series) message.subject.tags.forEach((t) => tags.add(t.toLowerCase()));
    message.files.forEach((f) => files.add(f));
    message.trailers.filter((t) => t.name.toLowerCase() === 'fixes').forEach((t) => fixes.add(t.value));
    baseCommit ??= message.deps.baseCommit;
    message.deps.prerequisitePatchIds.forEach((id) => prerequisites.add(id));
    if (message.listId) listIds.add(message.listId);
    message.to.forEach((p) => to.add(p.email.toLowerCase()));
    message.cc.forEach((p) => cc.add(p.email.toLowerCase()));
  }
  return {
    tags: [...tags],
    baseCommit,
    prerequisitePatchIds: [...prerequisites],
    fixes: [...fixes],
    files: [...files],
    listIds: [...listIds],
    to: [...to],
    cc: [...cc],
  };
}

/**
 * The trees a subject token names. A token names a tree only when it equals one of the tree's tokens;
 * `a/b` tokens (`[PATCH bpf-next/net]`: tree bpf-next, area net) are compared whole, then by their
 * first component only: the part after the slash never names a tree.
 */
export function treesForToken(token: string, trees: TreeConfig[]): TreeConfig[] {
  const lower = token.toLowerCase();
  const exact = trees.filter((t) => t.tokens.includes(lower));
  if (exact.length || !lower.includes('/')) return exact;
  const first = lower.split('/')[0];
  return trees.filter((t) => t.tokens.includes(first));
}

/** `<netdev.vger.kernel.org>` → `netdev@vger.kernel.org` */
export function listIdAddress(listId: string): string | null {
  const inner = /<([^<>]+)>/.exec(listId)?.[1] ?? listId.trim();
  const dot = inner.indexOf('.');
  if (dot <= 0 || /\s/.test(inner)) return null;
  return `${inner.slice(0, dot)}@${inner.slice(dot + 1)}`.toLowerCase();
}

/** git URLs compared without scheme, user, `.git` and trailing slash */
export function normalizeGitUrl(url: string): string {
  return url
    .trim()
    .toLowerCase()
    .replace(/^[a-z+]+:\/\//, '')
    .replace(/^[^@/]+@([^:/]+):/, '$1/')
    .replace(/^[^@/]+@/, '')
    .replace(/\/+$/, '')
    .replace(/\.git$/, '');
}

function isFixesTreeFirst(a: TreeConfig, b: TreeConfig): number {
  return Number(b.fixes) - Number(a.fixes);
}

type Ownership = 'strong' | 'weak';

interface FileOwner {
  strength: Ownership;
  /** the section (or `paths` pattern) that gives the file to the tree */
  what: string;
}

function ownerOf(tree: TreeConfig, sections: MaintainersSection[] | null, file: string): FileOwner | null {
  const pattern = tree.paths.find((p) => filePatternMatches(file, p));
  const urls = new Set([tree.url, ...tree.maintainers.urls].map(normalizeGitUrl));
  const own = new Set(tree.maintainers.sections.map((s) => s.toLowerCase()));
  let weak: FileOwner | null = null;
  for (const match of sections ? matchSections(sections, file) : []) {
    const section = match.section;
    if (section.trees.some((t) => urls.has(normalizeGitUrl(t))) || own.has(section.name.toLowerCase())) {
      return { strength: 'strong', what: section.name };
    }
    if (!weak) {
      const list = section.lists.find((l) => tree.lists.includes(l));
      if (list) weak = { strength: 'weak', what: `${section.name}, which lists ${list}` };
    }
  }
  if (pattern) return { strength: 'strong', what: `${pattern} (trees.yaml)` };
  return weak;
}

function describeFiles(files: string[]): string {
  const shown = files.slice(0, 3).join(', ');
  return files.length > 3 ? `${shown} and ${files.length - 3} more` : shown;
}

async function byPaths(input: SelectionInput, trees: TreeConfig[], probe: TreeProbe): Promise<TreeCandidate[]> {
  if (!input.files.length) return [];
  const existing = new Map<string, Set<string> | null>();
  await Promise.all(trees.map(async (t) => existing.set(t.name, (await probe.existingFiles?.(t, input.files)) ?? null)));
  // a file no tree has (a new file, or unknown trees) counts for every tree
  const somewhere = new Set<string>();
  for (const set of existing.values()) set?.forEach((f) => somewhere.add(f));

  const scored: Array<{ tree: TreeConfig; index: number; strong: string[]; weak: string[]; what: string[] }> = [];
  for (const [index, tree] of trees.entries()) {
    const sections = await probe.maintainers(tree);
    const has = existing.get(tree.name);
    const strong: string[] = [];
    const weak: string[] = [];
    const what: string[] = [];
    for (const file of input.files) {
      if (has && somewhere.has(file) && !has.has(file)) continue;
      const owner = ownerOf(tree, sections, file);
      if (!owner) continue;
      (owner.strength === 'strong' ? strong : weak).push(file);
      if (!what.includes(owner.what)) what.push(owner.what);
    }
    if (strong.length || weak.length) scored.push({ tree, index, strong, weak, what });
  }
  const preferFixes = input.fixes.length > 0;
  scored.sort(
    (a, b) =>
      b.strong.length - a.strong.length ||
      b.weak.length - a.weak.length ||
      (preferFixes ? isFixesTreeFirst(a.tree, b.tree) : 0) ||
      a.index - b.index,
  );
  return scored.map(({ tree, strong, weak, what }) => ({
    name: tree.name,
    signal: 'paths' as const,
    reason: `paths ${describeFiles(strong.length ? strong : weak)} are ${what.join('; ')} (${tree.name})`,
  }));
}

async function byBaseCommit(
  input: SelectionInput,
  trees: TreeConfig[],
  probe: TreeProbe,
  notes: string[],
): Promise<TreeCandidate[]> {
  const base = input.baseCommit;
  if (!base) return [];
  const found: Array<{ tree: TreeConfig; index: number; prereqs: number }> = [];
  for (const [index, tree] of trees.entries()) {
    if (!(await probe.contains(tree, base))) continue;
    let prereqs = 0;
    if (input.prerequisitePatchIds.length && probe.patchIdsPresent) {
      prereqs = (await probe.patchIdsPresent(tree, input.prerequisitePatchIds)).size;
    }
    found.push({ tree, index, prereqs });
  }
  if (!found.length) notes.push(`base-commit ${short(base)} is in none of the trees`);
  found.sort(
    (a, b) => b.prereqs - a.prereqs || (input.fixes.length ? isFixesTreeFirst(a.tree, b.tree) : 0) || a.index - b.index,
  );
  const total = input.prerequisitePatchIds.length;
  return found.map(({ tree, prereqs }) => ({
    name: tree.name,
    signal: 'base-commit' as const,
    reason:
      `base-commit ${short(base)} is in ${tree.name}/${tree.branch}` +
      (total && probe.patchIdsPresent ? ` (prerequisites ${prereqs}/${total} present)` : ''),
  }));
}

async function byFixes(input: SelectionInput, trees: TreeConfig[], probe: TreeProbe, notes: string[]): Promise<TreeCandidate[]> {
  const hashes = [...new Set(input.fixes.map((f) => HASH.exec(f.trim())?.[1]?.toLowerCase()).filter((h): h is string => !!h))];
  if (!hashes.length) return [];
  const found: Array<{ tree: TreeConfig; index: number; hashes: string[] }> = [];
  for (const [index, tree] of trees.entries()) {
    const present: string[] = [];
    for (const hash of hashes) if (await probe.contains(tree, hash)) present.push(hash);
    if (present.length) found.push({ tree, index, hashes: present });
  }
  if (!found.length) notes.push(`Fixes: ${hashes.map(short).join(', ')} in none of the trees`);
  found.sort((a, b) => isFixesTreeFirst(a.tree, b.tree) || b.hashes.length - a.hashes.length || a.index - b.index);
  return found.map(({ tree, hashes: present }) => ({
    name: tree.name,
    signal: 'fixes' as const,
    reason: `Fixes: ${present.map(short).join(', ')} ${present.length > 1 ? 'are' : 'is'} in ${tree.name}`,
  }));
}

function byList(input: SelectionInput, trees: TreeConfig[]): TreeCandidate[] {
  const addresses: string[] = [];
  for (const id of input.listIds) {
    const address = listIdAddress(id);
    if (address) addresses.push(address);
  }
  addresses.push(...input.to.map((a) => a.toLowerCase()), ...input.cc.map((a) => a.toLowerCase()));
  const out: TreeCandidate[] = [];
  for (const address of addresses) {
    for (const tree of trees) {
      if (tree.lists.includes(address) && !out.some((c) => c.name === tree.name)) {
        out.push({ name: tree.name, signal: 'list', reason: `sent to ${address}` });
      }
    }
  }
  return out;
}

/**
 * Picks the tree for a series. The subject's tokens decide alone when they name a configured tree;
 * a token naming a tree listed under `elsewhere` ends selection with no tree. Otherwise every signal
 * contributes candidates, strongest signal first, each tree once.
 */
export async function selectTree(
  input: SelectionInput,
  config: TreesFile | TreeConfig[],
  probe: TreeProbe,
): Promise<TreeSelection> {
  const trees = Array.isArray(config) ? config : config.trees;
  const elsewhere = Array.isArray(config) ? [] : config.elsewhere;
  const notes: string[] = [];

  if (input.override) {
    if (trees.some((t) => t.name === input.override!.tree)) {
      const c: TreeCandidate = { name: input.override.tree, signal: 'override', reason: input.override.reason };
      return { name: c.name, reason: c.reason, candidates: [c], marked: true, notes };
    }
    notes.push(`override names ${input.override.tree}, which is not a configured tree`);
  }

  const marked: TreeCandidate[] = [];
  let foreign: string | null = null;
  for (const tag of input.tags) {
    const named = treesForToken(tag, trees);
    for (const tree of named) {
      if (!marked.some((c) => c.name === tree.name)) {
        marked.push({ name: tree.name, signal: 'token', reason: `marked for ${tag.toLowerCase()}` });
      }
    }
    const first = tag.toLowerCase().split('/')[0];
    if (!named.length && !foreign && (elsewhere.includes(tag.toLowerCase()) || elsewhere.includes(first))) foreign = tag;
  }
  if (marked.length) return { name: marked[0].name, reason: marked[0].reason, candidates: marked, marked: true, notes };
  if (foreign) {
    const tree = foreign.toLowerCase().split('/')[0];
    return { name: null, reason: `marked for ${tree}, a tree patchgate does not carry`, candidates: [], marked: true, notes };
  }

  const candidates: TreeCandidate[] = [];
  const add = (list: TreeCandidate[]) => {
    for (const c of list) if (!candidates.some((x) => x.name === c.name)) candidates.push(c);
  };
  add(await byBaseCommit(input, trees, probe, notes));
  add(await byFixes(input, trees, probe, notes));
  add(await byPaths(input, trees, probe));
  add(byList(input, trees));

  if (!candidates.length) {
    return { name: null, reason: notes[0] ?? 'no subject token, commit, path or list points at a configured tree', candidates, marked: false, notes };
  }
  return { name: candidates[0].name, reason: candidates[0].reason, candidates, marked: false, notes };
}
