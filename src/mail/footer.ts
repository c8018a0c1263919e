// Signatures and mailing-list footers in the prose of a mail (never inside a diff). Pure: no I/O.

const FOOTER_RULE_RE = /^_{10,}\s*$/;
const FOOTER_HINT_RE = /mailing list|listinfo|mailman|unsubscribe|https?:\/\//i;

/** Whether line i starts a `-- ` signature or a `_____` mailing-list footer. */
export function isProseCut(lines: readonly string[], i: number): boolean {
  const line = lines[i];
  if (line === '-- ') return true;
  if (line.charCodeAt(0) === 0x5f /* _ */ && FOOTER_RULE_RE.test(line)) {
    for (let k = i + 1; k < Math.min(lines.length, i + 5); k++) {
      if (FOOTER_HINT_RE.test(lines[k])) return true;
    }
  }
  return false;
}

/** Index of the first signature / footer line in lines[from, to), or `to` when there is none. */
export function findProseCut(lines: readonly string[], from = 0, to = lines.length): number {
  for (let i = from; i < to; i++) {
    const c = lines[i].charCodeAt(0);
    if ((c === 0x2d || c === 0x5f) && isProseCut(lines, i)) return i;
  }
  return to;
}

/** Prose with its signature and list footer removed, trailing blank lines trimmed. */
export function stripFooters(text: string): string {
  const lines = text.split('\n');
  return lines.slice(0, findProseCut(lines)).join('\n').trimEnd();
}
