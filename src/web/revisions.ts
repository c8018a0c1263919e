// What changed between two revisions of a series: patches kept, changed, renamed, added, removed, and for
// each kept patch the diff of its diffs (a range-diff: line numbers and blob ids left out).
import type { Series, SeriesPatch } from '../series/types.js';

export type PatchChange = 'same' | 'changed' | 'renamed' | 'added' | 'removed';

export interface DiffLine {
  op: ' ' | '+' | '-' | '…';
  text: string;
}

export interface PatchPair {
  change: PatchChange;
  older: SeriesPatch | null;
  newer: SeriesPatch | null;
  /** diff of the two diffs, when both have one and they differ */
  interdiff: DiffLine[] | null;
  /** why there is no interdiff although the patch changed */
  note?: string;
}

/** A diff with what differs between two postings of the same change removed: hunk line numbers, index lines. */
export function normalizeDiff(diff: string): string[] {
  return diff.split('\n')
    .filter((l) => !/^index [0-9a-f]+\.\.[0-9a-f]+/.test(l))
    .map((l) => l.replace(/^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@/, '@@').replace(/\s+$/, ''))
    .filter((l, i, a) => !(l === '' && i === a.length - 1));
}

/** Line diff by longest common subsequence; long unchanged runs shortened to `…`. */
export function lineDiff(a: string[], b: string[], context = 3, maxCells = 4_000_000): DiffLine[] | null {
  // trim the common head and tail first: they are most of a revised patch
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const A = a.slice(head, a.length - tail), Bs = b.slice(head, b.length - tail);
  const n = A.length, m = Bs.length;
  if ((n + 1) * (m + 1) > maxCells) return null;
  const w = m + 1;
  const L = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      L[i * w + j] = A[i] === Bs[j] ? L[(i + 1) * w + j + 1] + 1 : Math.max(L[(i + 1) * w + j], L[i * w + j + 1]);
    }
  }
  const ops: DiffLine[] = a.slice(0, head).map((text) => ({ op: ' ' as const, text }));
  let i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && A[i] === Bs[j]) {
      ops.push({ op: ' ', text: A[i] });
      i++;
      j++;
    } else if (i < n && (j >= m || L[(i + 1) * w + j] >= L[i * w + j + 1])) {
      ops.push({ op: '-', text: A[i++] });
    } else {
      ops.push({ op: '+', text: Bs[j++] });
    }
  }
  for (const text of a.slice(a.length - tail)) ops.push({ op: ' ', text });
  // keep CONTEXT unchanged lines around each change
  const keep = new Uint8Array(ops.length);
  ops.forEach((o, k) => {
    if (o.op !== ' ') for (let d = Math.max(0, k - context); d <= Math.min(ops.length - 1, k + context); d++) keep[d] = 1;
  });
  const out: DiffLine[] = [];
  ops.forEach((o, k) => {
    if (keep[k]) out.push(o);
    else if (out.length === 0 || out[out.length - 1].op !== '…') out.push({ op: '…', text: '' });
  });
  return out;
}

const norm = (name: string) => name.toLowerCase().replace(/\s+/g, ' ').trim();
const sameFiles = (a: SeriesPatch, b: SeriesPatch) => a.files.length > 0 && a.files.join('\n') === b.files.join('\n');

/** Pairs the patches of OLDER and NEWER (by name, then by the files they touch) and compares their diffs. */
export function compareRevisions(older: Series, newer: Series, diffOf: (msgid: string) => string | null): PatchPair[] {
  const olds = [...older.patches].sort((x, y) => x.number - y.number);
  const news = [...newer.patches].sort((x, y) => x.number - y.number);
  const usedOld = new Set<SeriesPatch>();
  const pairOf = new Map<SeriesPatch, SeriesPatch>();
  for (const p of news) {
    const o = olds.find((q) => !usedOld.has(q) && norm(q.name) === norm(p.name));
    if (o) {
      usedOld.add(o);
      pairOf.set(p, o);
    }
  }
  for (const p of news) {
    if (pairOf.has(p)) continue;
    const cands = olds.filter((q) => !usedOld.has(q) && sameFiles(q, p));
    const o = cands.sort((x, y) => Math.abs(x.number - p.number) - Math.abs(y.number - p.number))[0];
    if (o) {
      usedOld.add(o);
      pairOf.set(p, o);
    }
  }
  const out: PatchPair[] = [];
  for (const p of news) {
    const o = pairOf.get(p);
    if (!o) {
      out.push({ change: 'added', older: null, newer: p, interdiff: null });
      continue;
    }
    const renamed = norm(o.name) !== norm(p.name);
    const da = diffOf(o.msgid), db = diffOf(p.msgid);
    if (da === null || db === null) {
      out.push({ change: renamed ? 'renamed' : 'same', older: o, newer: p, interdiff: null, note: 'no diff in one of the mails' });
      continue;
    }
    const a = normalizeDiff(da), b = normalizeDiff(db);
    const equal = a.length === b.length && a.every((l, k) => l === b[k]);
    if (equal) {
      out.push({ change: renamed ? 'renamed' : 'same', older: o, newer: p, interdiff: null });
      continue;
    }
    const d = lineDiff(a, b);
    out.push({ change: renamed ? 'renamed' : 'changed', older: o, newer: p, interdiff: d, ...(d ? {} : { note: 'too large to compare here' }) });
  }
  // removed patches, placed after the new patch that followed them in the old order
  for (const o of olds) {
    if (usedOld.has(o)) continue;
    out.push({ change: 'removed', older: o, newer: null, interdiff: null });
  }
  return out;
}
