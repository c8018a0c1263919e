// Finding the diff in a mail body and splitting the body into commit message, notes and diff.
// Recognises git diffs (also hunkless: rename, copy, mode change, empty new file; binary
// `GIT binary patch`), plain unified diffs (`diff -u`, bare `--- a/x` / `+++ b/x`) and CVS/SVN
// `Index:` diffs. Hunk line counts decide where a diff ends, so a `-- ` signature or a list footer
// right after the last hunk is never taken into the diff, and a removed line that reads `-- `
// inside a hunk never cuts it. Pure: no I/O.

// `@@ -a,b +c,d @@`; also tolerates a doubled `@@@` and extra ranges (combined or mangled headers)
const HUNK_RE = /^@@@? -(\d+)(?:,(\d+))? (?:-\d+(?:,\d+)? )*\+(\d+)(?:,(\d+))? @@/;
const BINARY_BLOCK_RE = /^(?:literal|delta) \d+$/;
const BINARY_DATA_RE = /^[A-Za-z][\x21-\x7e]*$/;

/** git's extended header lines (git-diff(1) "generating patches with -p") */
const GIT_EXTENDED = [
  'old mode ',
  'new mode ',
  'deleted file mode ',
  'new file mode ',
  'copy from ',
  'copy to ',
  'rename from ',
  'rename to ',
  'similarity index ',
  'dissimilarity index ',
  'index ',
];
const HEADER_LINES = [
  ...GIT_EXTENDED,
  'diff ',
  'Index: ',
  '===',
  'RCS file: ',
  'retrieving revision ',
  '--- ',
  '+++ ',
  'Binary files ',
];

function startsWithAny(line: string, prefixes: readonly string[]): boolean {
  for (const p of prefixes) if (line.startsWith(p)) return true;
  return false;
}

function isUnifiedStart(lines: readonly string[], i: number): boolean {
  return lines[i].startsWith('--- ') && (lines[i + 1] ?? '').startsWith('+++ ') && HUNK_RE.test(lines[i + 2] ?? '');
}

/** Whether a diff starts at line i (structure checked, so prose starting "diff"/"Index" is not). */
export function isDiffStart(lines: readonly string[], i: number): boolean {
  const line = lines[i];
  const c = line.charCodeAt(0);
  if (c === 0x64 /* d */) {
    if (line.startsWith('diff --git ')) {
      const next = lines[i + 1] ?? '';
      return startsWithAny(next, GIT_EXTENDED) || next.startsWith('--- ') || next.startsWith('Binary files ');
    }
    if (line.startsWith('diff -')) {
      for (let k = i + 1; k < Math.min(lines.length, i + 6); k++) {
        if (isUnifiedStart(lines, k)) return true;
        if (!startsWithAny(lines[k], HEADER_LINES)) return false;
      }
    }
    return false;
  }
  if (c === 0x49 /* I */) {
    if (!line.startsWith('Index: ')) return false;
    for (let k = i + 1; k < Math.min(lines.length, i + 8); k++) {
      if (isUnifiedStart(lines, k)) return true;
      if (lines[k].startsWith('Binary files ') || lines[k].startsWith('Cannot display: file marked as a binary type')) return true;
      if (!startsWithAny(lines[k], HEADER_LINES)) return false;
    }
    return false;
  }
  if (c === 0x2d /* - */) return isUnifiedStart(lines, i);
  return false;
}

interface Section {
  git: boolean;
  gitPaths: [string, string] | null;
  indexPath: string | null;
  minus: string | null;
  plus: string | null;
  renameTo: string | null;
  copyTo: string | null;
  hunks: number;
}

function newSection(line: string): Section {
  const s: Section = {
    git: line.startsWith('diff --git '),
    gitPaths: null,
    indexPath: null,
    minus: null,
    plus: null,
    renameTo: null,
    copyTo: null,
    hunks: 0,
  };
  if (s.git) s.gitPaths = splitGitPaths(line.slice('diff --git '.length));
  if (line.startsWith('Index: ')) s.indexPath = unquotePath(line.slice(7).trim());
  if (line.startsWith('--- ')) s.minus = filePath(line);
  return s;
}

function unquotePath(p: string): string {
  if (p.length >= 2 && p.startsWith('"') && p.endsWith('"')) {
    return p
      .slice(1, -1)
      .replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))
      .replace(/\\(.)/g, (_, ch: string) => ({ n: '\n', t: '\t', '"': '"', '\\': '\\' })[ch] ?? ch);
  }
  return p;
}

function splitGitPaths(rest: string): [string, string] | null {
  const q = /^("(?:[^"\\]|\\.)*"|\S+) ("(?:[^"\\]|\\.)*"|\S+)$/.exec(rest);
  if (q && (q[1].startsWith('"') || q[2].startsWith('"') || !rest.includes(' ', rest.indexOf(' ') + 1))) {
    return [unquotePath(q[1]), unquotePath(q[2])];
  }
  // a/x y b/x y: split at " b/"
  if (rest.startsWith('a/')) {
    const at = rest.indexOf(' b/');
    if (at > 0) return [rest.slice(0, at), rest.slice(at + 1)];
  }
  // --no-prefix with spaces: both names are the same
  if ((rest.length - 1) % 2 === 0) {
    const half = (rest.length - 1) / 2;
    if (rest[half] === ' ' && rest.slice(0, half) === rest.slice(half + 1)) return [rest.slice(0, half), rest.slice(half + 1)];
  }
  return null;
}

/** The path of a `--- x` / `+++ x` line: timestamps after a tab dropped, quotes undone. */
function filePath(line: string): string {
  let p = line.slice(4);
  const tab = p.indexOf('\t');
  if (tab >= 0) p = p.slice(0, tab);
  p = p.trim();
  if (!p.startsWith('"')) {
    // `+++ b/x  2019-01-01 10:00:00.000000000 +0100` written with spaces
    const ts = /^(\S+)\s+\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/.exec(p);
    if (ts) p = ts[1];
  }
  return unquotePath(p);
}

function stripGitPrefix(p: string, side: 'a' | 'b'): string {
  if (p.startsWith(`${side}/`)) return p.slice(2);
  // mnemonic prefixes (diff.mnemonicPrefix): c/ i/ w/ o/
  if (/^[ciwo12]\//.test(p)) return p.slice(2);
  return p;
}

function sectionFile(s: Section): string | null {
  if (s.renameTo) return s.renameTo;
  if (s.copyTo) return s.copyTo;
  const plus = s.plus && s.plus !== '/dev/null' ? s.plus : null;
  const minus = s.minus && s.minus !== '/dev/null' ? s.minus : null;
  if (s.git) {
    if (plus) return stripGitPrefix(plus, 'b');
    if (minus) return stripGitPrefix(minus, 'a');
    if (s.gitPaths) return stripGitPrefix(s.gitPaths[1], 'b');
    return null;
  }
  if (s.indexPath) return s.indexPath;
  const path = plus ?? minus;
  if (!path) return null;
  if (plus && minus) {
    const a = minus.split('/');
    const b = plus.split('/');
    // -p1 when the leading directories differ (a/ b/, linux.orig/ linux/)
    if (a.length > 1 && b.length > 1 && a[0] !== b[0]) return b.slice(1).join('/');
    return plus;
  }
  const parts = path.split('/');
  if (parts.length > 1 && /^[ab]$/.test(parts[0])) return parts.slice(1).join('/');
  return path;
}

/**
 * How many lines from i still look like hunk content after a hunk's counts ran out: lines
 * starting with space, `+` or `-` (not the `-- ` signature, not a `--- ` header), and empty
 * lines when more such lines follow them. 0 when line i does not continue the hunk.
 */
function overflowLines(lines: readonly string[], i: number): number {
  let k = i;
  let empties = 0;
  while (k < lines.length) {
    const line = lines[k];
    if (line === '') {
      empties++;
      k++;
      continue;
    }
    const c = line.charCodeAt(0);
    const hunkish =
      c === 0x20 || (c === 0x2b && !line.startsWith('+++ ')) || (c === 0x2d && line !== '-- ' && !line.startsWith('--- '));
    if (!hunkish) break;
    empties = 0;
    k++;
  }
  return k - i - empties;
}

type State = 'header' | 'hunk' | 'after' | 'binary' | 'binary-data' | 'binary-next';

/**
 * Scans one diff region starting at `start`. Returns the exclusive end (last line that surely
 * belongs to the diff + 1) and the file sections found.
 */
function scanDiff(lines: readonly string[], start: number): { end: number; sections: Section[] } {
  const sections: Section[] = [];
  let cur: Section | null = null;
  let state: State = 'header';
  let good = start;
  let oldLeft = 0;
  let newLeft = 0;
  let i = start;
  const finishHeader = (at: number): void => {
    // a git section without ---/+++ (rename, mode change, empty file) is complete by itself
    if (cur && cur.git && cur.minus === null && cur.hunks === 0) good = at;
  };
  const openSection = (line: string): void => {
    cur = newSection(line);
    sections.push(cur);
  };
  while (i < lines.length) {
    const line = lines[i];
    if (state === 'hunk') {
      const c = line.charCodeAt(0);
      if (line === '' || c === 0x20) {
        oldLeft--;
        newLeft--;
      } else if (c === 0x2d) oldLeft--;
      else if (c === 0x2b) newLeft--;
      else if (c !== 0x5c /* \ */) break;
      i++;
      good = i;
      if (oldLeft <= 0 && newLeft <= 0) state = 'after';
      continue;
    }
    if (state === 'binary') {
      if (!BINARY_BLOCK_RE.test(line)) break;
      state = 'binary-data';
      i++;
      continue;
    }
    if (state === 'binary-data') {
      if (line === '') {
        i++;
        good = i;
        state = 'binary-next';
        continue;
      }
      if (!BINARY_DATA_RE.test(line)) {
        // the data ended without its blank line: keep what we have
        good = i;
        state = 'after';
        continue;
      }
      i++;
      good = i;
      continue;
    }
    if (state === 'binary-next') {
      state = BINARY_BLOCK_RE.test(line) ? 'binary' : 'after';
      continue;
    }
    const hunk = line.startsWith('@@') ? HUNK_RE.exec(line) : null;
    if (hunk && cur !== null && (state === 'after' || (cur as Section).plus !== null)) {
      oldLeft = hunk[2] === undefined ? 1 : Number(hunk[2]);
      newLeft = hunk[4] === undefined ? 1 : Number(hunk[4]);
      (cur as Section).hunks++;
      i++;
      good = i;
      state = oldLeft <= 0 && newLeft <= 0 ? 'after' : 'hunk';
      continue;
    }
    if (state === 'after') {
      if (line.startsWith('\\')) {
        i++;
        good = i;
        continue;
      }
      if (isDiffStart(lines, i)) {
        state = 'header';
        openSection(line);
        i++;
        continue;
      }
      // hunk lines beyond the header's counts (a hand-edited patch): keep them, as b4 does
      const over = overflowLines(lines, i);
      if (over > 0) {
        i += over;
        good = i;
        continue;
      }
      break;
    }
    // header state
    if (i === start) {
      openSection(line);
      i++;
      continue;
    }
    const s = cur as Section | null;
    if (line.startsWith('diff --git ') || (line.startsWith('diff ') && (s === null || s.plus !== null || !s.indexPath))) {
      finishHeader(i);
      openSection(line);
      i++;
      continue;
    }
    if (line.startsWith('Index: ') && isDiffStart(lines, i)) {
      finishHeader(i);
      openSection(line);
      i++;
      continue;
    }
    if (s === null) break;
    if (line.startsWith('--- ')) {
      if (s.minus !== null && s.plus !== null) {
        // a new unified section without a diff line
        finishHeader(i);
        openSection(line);
      }
      (cur as unknown as Section).minus = filePath(line);
      i++;
      continue;
    }
    if (line.startsWith('+++ ')) {
      s.plus = filePath(line);
      i++;
      continue;
    }
    if (line.startsWith('GIT binary patch')) {
      state = 'binary';
      s.hunks++;
      i++;
      good = i;
      continue;
    }
    if (line.startsWith('Binary files ')) {
      s.hunks++;
      i++;
      good = i;
      continue;
    }
    if (line.startsWith('rename to ')) s.renameTo = unquotePath(line.slice(10).trim());
    else if (line.startsWith('copy to ')) s.copyTo = unquotePath(line.slice(8).trim());
    if (startsWithAny(line, HEADER_LINES)) {
      i++;
      if (s.git && s.minus === null) good = i;
      continue;
    }
    break;
  }
  if (state === 'header') finishHeader(i);
  if (state === 'binary-data' || state === 'binary-next') good = Math.max(good, i);
  return { end: good, sections };
}

export interface DiffLocation {
  /** first line of the diff */
  start: number;
  /** exclusive end line */
  end: number;
  files: string[];
}

/**
 * Locates the diff in body lines: from the first diff start to the end of the last diff region
 * (text between two diff regions is kept, as git apply skips it). Null when there is no diff.
 */
export function locateDiff(lines: readonly string[]): DiffLocation | null {
  let start = -1;
  let end = -1;
  const files: string[] = [];
  const seen = new Set<string>();
  let i = 0;
  while (i < lines.length) {
    const c = lines[i].charCodeAt(0);
    if ((c === 0x64 || c === 0x49 || c === 0x2d) && isDiffStart(lines, i)) {
      const r = scanDiff(lines, i);
      if (r.end > i) {
        if (start < 0) start = i;
        end = r.end;
        for (const s of r.sections) {
          const f = sectionFile(s);
          if (f && !seen.has(f)) {
            seen.add(f);
            files.push(f);
          }
        }
        i = r.end;
        continue;
      }
    }
    i++;
  }
  if (start < 0) return null;
  return { start, end, files };
}

/** Files touched by a diff text, in order, deduplicated (new names for renames). */
export function diffFiles(diff: string): string[] {
  return locateDiff(diff.split('\n'))?.files ?? [];
}

/** git's patch separator: `---` followed by nothing but whitespace. */
export function isSeparator(line: string): boolean {
  return line.startsWith('---') && /^---\s*$/.test(line);
}
