// Dependency hints in a body: git format-patch --base, b4 prerequisites, patchwork Depends-on,
// QEMU Based-on. Quoted lines (`> ...`) are ignored. Pure: no I/O.
import type { Dependencies } from './types.js';
import { parseMessageIds } from './headers.js';

const LINE_RE = /^(base-commit|prerequisite-patch-id|prerequisite-message-id|depends-on|based-on):[ \t]*(.*?)\s*$/i;

export function emptyDependencies(): Dependencies {
  return { baseCommit: null, prerequisitePatchIds: [], prerequisiteMessageIds: [], dependsOn: [], basedOn: [] };
}

function pushUnique(list: string[], value: string): void {
  if (value && !list.includes(value)) list.push(value);
}

/** A msgid (`<a@b>` or bare `a@b`) or an http(s) URL; anything else is garbage. */
function looksLikeReference(value: string): boolean {
  const first = value.split(/\s+/)[0];
  return /^<?[^\s<>@]+@[^\s<>@]+>?$/.test(first) || /^https?:\/\/\S+$/i.test(first);
}

/** Collects the dependency lines of a text (the prose of a mail, not its diff). */
export function parseDependencies(text: string): Dependencies {
  return parseDependencyLines(text.split('\n'));
}

const LINE_START = new Set([0x62, 0x42, 0x70, 0x50, 0x64, 0x44]); // b B p P d D

/** parseDependencies() over lines already split. */
export function parseDependencyLines(lines: readonly string[]): Dependencies {
  const deps = emptyDependencies();
  for (const line of lines) {
    if (!LINE_START.has(line.charCodeAt(0)) || !line.includes(':')) continue;
    const m = LINE_RE.exec(line);
    if (!m) continue;
    const key = m[1].toLowerCase();
    const value = m[2];
    if (!value) continue;
    if (key === 'base-commit') {
      const sha = /^([0-9a-f]{7,64})\b/i.exec(value);
      if (sha && deps.baseCommit === null) deps.baseCommit = sha[1].toLowerCase();
    } else if (key === 'prerequisite-patch-id') {
      const id = /^([0-9a-f]{40,64})\b/i.exec(value);
      if (id) pushUnique(deps.prerequisitePatchIds, id[1].toLowerCase());
    } else if (key === 'prerequisite-message-id') {
      for (const id of parseMessageIds(value)) pushUnique(deps.prerequisiteMessageIds, id);
    } else if (looksLikeReference(value)) {
      pushUnique(key === 'depends-on' ? deps.dependsOn : deps.basedOn, value);
    }
  }
  return deps;
}
