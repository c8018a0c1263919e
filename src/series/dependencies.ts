// Dependencies between series: `Depends-on:` (patchwork), `prerequisite-message-id:` (b4 / git
// format-patch), QEMU's `Based-on:`. Pure.
//
// A reference names a message (a msgid, a patchwork patch URL `/patch/<msgid>/`, a lore-style URL
// whose last path segment is a msgid) or a series (`/series/<id>/`, `?series=<id>` with one of our series
// ids). It resolves to the series holding that message (cover or patch). Garbage, list URLs and
// patchwork's numeric database ids (which mean nothing outside that patchwork instance) resolve to
// nothing. `prerequisite-patch-id` resolves to the patch whose diff has that `git patch-id --stable`.
import type { Dependencies } from '../mail/types.js';

export type DependencyRef = { kind: 'msgid'; msgid: string } | { kind: 'series'; id: string };

function segmentMsgid(seg: string): string | null {
  let s: string;
  try {
    s = decodeURIComponent(seg);
  } catch {
    return null;
  }
  s = s.trim().replace(/^<|>$/g, '');
  return /^[^\s<>@]+@[^\s<>@]+$/.test(s) ? `<${s}>` : null;
}

/** What one `Depends-on:` / `Based-on:` / `prerequisite-message-id:` value points at, or null. */
export function parseDependencyRef(raw: string): DependencyRef | null {
  const token = raw.trim().split(/\s+/)[0] ?? '';
  if (!token) return null;
  const bracketed = /^<([^<>\s]+)>[.,;]?$/.exec(token);
  if (bracketed) return { kind: 'msgid', msgid: `<${bracketed[1]}>` };
  if (token.includes('://')) {
    let url: URL;
    try {
      url = new URL(token);
    } catch {
      return null;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
    const series = url.searchParams.get('series');
    if (series) return { kind: 'series', id: series };
    const segs = url.pathname.split('/').filter((s) => s.length > 0);
    const at = segs.findIndex((s) => s === 'series' || s === 'patch');
    if (at >= 0 && at + 1 < segs.length) {
      const value = segs[at + 1]!;
      if (segs[at] === 'series') return { kind: 'series', id: value };
      return segmentMsgid(value) ? { kind: 'msgid', msgid: segmentMsgid(value)! } : null;
    }
    for (let k = segs.length - 1; k >= 0; k--) {
      const id = segmentMsgid(segs[k]!);
      if (id) return { kind: 'msgid', msgid: id };
    }
    return null;
  }
  const bare = segmentMsgid(token.replace(/[.,;]$/, ''));
  return bare && !token.includes('/') ? { kind: 'msgid', msgid: bare } : null;
}

/**
 * Every reference of one message: Depends-on, prerequisite-message-id, prerequisite-patch-id (through
 * `msgidOfPatchId`, the patch with that `git patch-id --stable`), Based-on.
 */
export function dependencyRefs(deps: Dependencies, msgidOfPatchId?: (id: string) => string | undefined): DependencyRef[] {
  const out: DependencyRef[] = [];
  for (const raw of [...deps.dependsOn, ...deps.prerequisiteMessageIds]) {
    const ref = parseDependencyRef(raw);
    if (ref) out.push(ref);
  }
  if (msgidOfPatchId) {
    for (const raw of deps.prerequisitePatchIds) {
      const msgid = msgidOfPatchId(raw.trim().toLowerCase());
      if (msgid) out.push({ kind: 'msgid', msgid });
    }
  }
  for (const raw of deps.basedOn) {
    const ref = parseDependencyRef(raw);
    if (ref) out.push(ref);
  }
  return out;
}

export interface DependencyLookup {
  /** the id of the series holding this message (as cover or patch), or null */
  seriesOfMsgid(msgid: string): string | null;
  /** true when the id names one of the series */
  hasSeries(id: string): boolean;
  /** the List-Id the series was received on, or null */
  listOf(id: string): string | null;
}

/**
 * Resolves references to series ids: in order of appearance, each once, never the series itself, and
 * not across projects (both series carry a List-Id and they differ — patchwork keeps dependencies within
 * one project).
 */
export function resolveDependencies(self: string, refs: DependencyRef[], lookup: DependencyLookup): string[] {
  const out: string[] = [];
  const ownList = lookup.listOf(self);
  for (const ref of refs) {
    const id = ref.kind === 'msgid' ? lookup.seriesOfMsgid(ref.msgid) : lookup.hasSeries(ref.id) ? ref.id : null;
    if (id === null || id === self || out.includes(id)) continue;
    const list = lookup.listOf(id);
    if (ownList !== null && list !== null && ownList !== list) continue;
    out.push(id);
  }
  return out;
}
