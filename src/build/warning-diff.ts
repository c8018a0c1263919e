// Warnings compared as sets, by identity: a warning of the parent build is matched with one of the
// child build when they sit in the same file (renames followed), carry the same flag and message,
// and the parent's line, carried through the patch's hunks, lands on the child's line. Lines the
// patch rewrote have no image; their warnings may still match within a small tolerance. What is
// left over is new (child only) or fixed (parent only), so a warning swapped for another shows as
// one new and one fixed even though the count did not move.
import { diagnosticKey, uniqueDiagnostics, type Diagnostic } from './diagnostics.js';

interface Hunk {
  oldStart: number;
  oldLines: number;
  newStart: number;
  newLines: number;
  /** body lines: first char ' ', '-', '+' */
  body: string[];
}

export interface FileChange {
  oldPath: string | null;
  newPath: string | null;
  hunks: Hunk[];
}

/** Parses `git diff` / `git format-patch` output into per-file hunks. */
export function parseUnifiedDiff(diff: string): FileChange[] {
  const files: FileChange[] = [];
  let cur: FileChange | null = null;
  let hunk: Hunk | null = null;
  let remainingOld = 0;
  let remainingNew = 0;
  const strip = (p: string) => {
    const v = p.trim().replace(/^"|"$/g, '');
    if (v === '/dev/null') return null;
    return v.replace(/^[ab]\//, '');
  };
  for (const line of diff.split('\n')) {
    if (hunk && (remainingOld > 0 || remainingNew > 0)) {
      const c = line[0] ?? ' ';
      if (c === '\\') continue;
      if (c === ' ' || c === '' ) { remainingOld--; remainingNew--; hunk.body.push(' '); continue; }
      if (c === '-') { remainingOld--; hunk.body.push('-'); continue; }
      if (c === '+') { remainingNew--; hunk.body.push('+'); continue; }
      hunk = null;
    }
    if (line.startsWith('diff --git ')) {
      const m = /^diff --git a\/(.+) b\/(.+)$/.exec(line);
      cur = { oldPath: m ? m[1] : null, newPath: m ? m[2] : null, hunks: [] };
      files.push(cur);
      hunk = null;
      continue;
    }
    if (!cur) continue;
    if (line.startsWith('--- ')) { cur.oldPath = strip(line.slice(4)); continue; }
    if (line.startsWith('+++ ')) { cur.newPath = strip(line.slice(4)); continue; }
    if (line.startsWith('rename from ')) { cur.oldPath = line.slice(12).trim(); continue; }
    if (line.startsWith('rename to ')) { cur.newPath = line.slice(10).trim(); continue; }
    if (line.startsWith('new file mode')) { cur.oldPath = null; continue; }
    if (line.startsWith('deleted file mode')) { cur.newPath = null; continue; }
    const h = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/.exec(line);
    if (h) {
      hunk = { oldStart: Number(h[1]), oldLines: h[2] === undefined ? 1 : Number(h[2]), newStart: Number(h[3]), newLines: h[4] === undefined ? 1 : Number(h[4]), body: [] };
      remainingOld = hunk.oldLines;
      remainingNew = hunk.newLines;
      cur.hunks.push(hunk);
    }
  }
  return files;
}

/** Carries parent line numbers of one file to the child: null for lines the patch removed or rewrote. */
export function mapLine(hunks: Hunk[], oldLine: number): number | null {
  let offset = 0;
  for (const h of hunks) {
    // `-5,0 +6,2`: an insertion after old line 5; `-5,2 +4,0`: a removal after new line 4
    const oldFirst = h.oldLines === 0 ? h.oldStart + 1 : h.oldStart;
    const newFirst = h.newLines === 0 ? h.newStart + 1 : h.newStart;
    if (oldLine < oldFirst) break;
    if (oldLine < oldFirst + h.oldLines) {
      let o = oldFirst;
      let n = newFirst;
      for (const c of h.body) {
        if (c === ' ') {
          if (o === oldLine) return n;
          o++;
          n++;
        } else if (c === '-') {
          if (o === oldLine) return null;
          o++;
        } else n++;
      }
      return null;
    }
    offset = newFirst + h.newLines - (oldFirst + h.oldLines);
  }
  return oldLine + offset;
}

export interface LineMapper {
  /** the child's path and line for a parent diagnostic's place; line null when the patch rewrote it */
  map(file: string, line: number): { file: string; line: number | null } | null;
}

/** A mapper from a patch's diff: renamed files follow, deleted files vanish, untouched files map 1:1. */
export function lineMapperFromDiff(diff: string): LineMapper {
  const byOld = new Map<string, FileChange>();
  for (const f of parseUnifiedDiff(diff)) if (f.oldPath) byOld.set(f.oldPath, f);
  return {
    map(file, line) {
      const change = byOld.get(file);
      if (!change) return { file, line };
      if (!change.newPath) return null;
      return { file: change.newPath, line: line > 0 ? mapLine(change.hunks, line) : 0 };
    },
  };
}

export interface WarningDiff {
  /** in the child build only */
  added: Diagnostic[];
  /** in the parent build only */
  fixed: Diagnostic[];
  /** matched pairs (child side) */
  unchanged: Diagnostic[];
}

export interface DiffOptions {
  /** how far (lines) a warning whose line the patch rewrote may move and still match (default 10) */
  tolerance?: number;
}

function identity(d: { file: string; flag: string | null; message: string; severity: string }): string {
  return `${d.severity}\0${d.file}\0${d.flag ?? ''}\0${d.message}`;
}

/** Compares parent and child diagnostics (each deduplicated first) through the patch's line mapping. */
export function diffDiagnostics(parent: Diagnostic[], child: Diagnostic[], mapper: LineMapper, opts: DiffOptions = {}): WarningDiff {
  const tolerance = opts.tolerance ?? 10;
  const before = uniqueDiagnostics(parent);
  const after = uniqueDiagnostics(child);
  const childLeft = new Map<string, Diagnostic[]>();
  for (const d of after) {
    const k = identity(d);
    const list = childLeft.get(k) ?? [];
    list.push(d);
    childLeft.set(k, list);
  }
  const unchanged: Diagnostic[] = [];
  const take = (k: string, d: Diagnostic) => {
    const list = childLeft.get(k)!;
    list.splice(list.indexOf(d), 1);
    unchanged.push(d);
  };
  // pass 1: exact image of the parent's line
  const pending: { d: Diagnostic; k: string; line: number | null; origLine: number }[] = [];
  for (const d of before) {
    const m = mapper.map(d.file, d.line);
    if (!m) continue; // the file was deleted: its warnings are gone with it, not "fixed"
    const k = identity({ ...d, file: m.file });
    const cand = childLeft.get(k)?.find((c) => m.line !== null && c.line === m.line);
    if (cand) take(k, cand);
    else pending.push({ d, k, line: m.line, origLine: d.line });
  }
  // pass 2: nearest remaining one with the same identity, within the tolerance
  const fixed: Diagnostic[] = [];
  for (const p of pending) {
    const list = childLeft.get(p.k) ?? [];
    const ref = p.line ?? p.origLine;
    let best: Diagnostic | null = null;
    for (const c of list) {
      const dist = Math.abs(c.line - ref);
      if (dist <= tolerance && (!best || dist < Math.abs(best.line - ref))) best = c;
    }
    if (best) take(p.k, best);
    else fixed.push(p.d);
  }
  const added = [...childLeft.values()].flat();
  const order = new Map(after.map((d, i) => [diagnosticKey(d), i]));
  added.sort((a, b) => (order.get(diagnosticKey(a)) ?? 0) - (order.get(diagnosticKey(b)) ?? 0));
  return { added, fixed, unchanged };
}
