// `git patch-id --stable` of a diff, computed from the mail's diff text. Pure (node:crypto hashing only).
//
// It is what `git format-patch --base` writes as `prerequisite-patch-id:` for the patches a series
// needs on top of its base-commit, so those lines can be resolved to the series carrying the patch.
// Port of git's builtin/patch-id.c (get_one_patchid, stable mode): per file, SHA-1 over the diff lines
// with all whitespace removed, without `index` lines and hunk headers; binary files hash their blob ids;
// the per-file hashes are summed as 20-byte little-endian numbers so that file order does not matter.
import { createHash, type Hash } from 'node:crypto';

function removeSpace(line: string): string {
  return line.replace(/\s+/g, '');
}

/** `@@ -a,b +c,d @@` → [b, d] (a missing count is 1). */
function hunkCounts(line: string): [number, number] | null {
  const m = /^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@/.exec(line);
  if (!m) return null;
  return [m[1] === undefined ? 1 : Number(m[1]), m[2] === undefined ? 1 : Number(m[2])];
}

/** The stable patch-id (40 hex) of a diff, or null when it holds no git-style diff. */
export function patchId(diff: string): string | null {
  const result = new Uint8Array(20);
  let hash: Hash = createHash('sha1');
  let patchlen = 0;
  let before = -1;
  let after = -1;
  let binary = false;
  let preOid = '';
  let postOid = '';

  const flush = () => {
    const h = hash.digest();
    hash = createHash('sha1');
    let carry = 0;
    for (let i = 0; i < 20; i++) {
      carry += result[i]! + h[i]!;
      result[i] = carry & 0xff;
      carry >>= 8;
    }
  };

  const lines = diff.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (const raw of lines) {
    const line = raw + '\n';
    if (line.startsWith('\\ ') && line.length > 12) continue; // "\ No newline at end of file"
    if (patchlen === 0 && !line.startsWith('diff ')) continue;
    if (before === -1) {
      if (line.startsWith('GIT binary patch') || line.startsWith('Binary files')) {
        binary = true;
        before = 0;
        hash.update(preOid);
        hash.update(postOid);
        flush();
        continue;
      } else if (line.startsWith('index ')) {
        const m = /^index ([^.\s]*)\.\.(\S*)/.exec(line);
        if (m) {
          preOid = m[1]!;
          postOid = m[2]!;
        }
        continue;
      } else if (line.startsWith('--- ')) {
        before = after = 1;
      } else if (!/^[A-Za-z]/.test(line)) {
        break;
      }
    }
    if (binary) {
      if (line.startsWith('diff ')) {
        binary = false;
        before = -1;
      }
      continue;
    }
    if (before === 0 && after === 0) {
      if (line.startsWith('@@ -')) {
        const counts = hunkCounts(line);
        if (!counts) break;
        [before, after] = counts;
        continue;
      }
      if (!line.startsWith('diff ')) break;
      flush();
      before = after = -1;
    }
    // mail often loses the single space of an empty context line; it is whitespace, so it hashes the same
    const context = line[0] === ' ' || (line === '\n' && before > 0 && after > 0);
    if (line[0] === '-' || context) before--;
    if (line[0] === '+' || context) after--;
    const stripped = removeSpace(line);
    patchlen += stripped.length;
    hash.update(stripped);
  }
  if (patchlen === 0) return null;
  flush();
  return Buffer.from(result).toString('hex');
}
