// Stable series ids. Pure (node:crypto hashing only).
//
// id = the first 16 hex digits of sha256(key), where key is
//  - the msgid of the series' own cover letter; else
//  - the cover letter it is waiting for: walk up from its earliest-arrived patch through its own patches
//    (In-Reply-To) to the topmost one; if that patch answers a message we do not have, or one that is in
//    no series (a comment, a bug report), the key is that message's id — for a `git send-email` thread
//    this is the cover letter, so the id does not change when the cover arrives after its patches
//    (base-out-of-order); else
//  - the topmost own patch's msgid (for unthreaded patches: the earliest-arrived one).
// Re-reading the same mail gives the same ids; later mail does not change them, except in one case: a
// series without a cover whose patches answer a message that is missing and later turns out to be a
// patch or cover of another series (a v2 sent In-Reply-To a v1 that had not been received) is then keyed
// by its own patch.
// Two series with the same key (resends under one thread, or several series answering one bug report):
// the series that owns the key keeps sha256(key); the others use sha256(key + " v" + version), and when
// that is not unique either sha256(key + " " + own topmost msgid).
import { createHash } from 'node:crypto';
import type { Draft, Membership } from './membership.js';
import type { Thread } from './thread.js';

function hash16(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 16);
}

interface Keyed {
  key: string;
  /** the key is this series' own message */
  owned: boolean;
  top: string;
}

function keyOf(d: Draft, thread: Thread, mem: Membership): Keyed {
  const { msgs, index } = thread;
  if (d.cover !== null) {
    const id = msgs[d.cover]!.msgid;
    return { key: id, owned: true, top: id };
  }
  let start = Infinity;
  for (const i of d.slots.values()) start = Math.min(start, i);
  let top = start;
  const seen = new Set<number>([top]);
  for (;;) {
    const parent = thread.parentOf(top);
    if (parent === null) return { key: msgs[top]!.msgid, owned: true, top: msgs[top]!.msgid };
    const pi = index.get(parent);
    if (pi === undefined) return { key: parent, owned: false, top: msgs[top]!.msgid };
    const po = mem.owner.get(pi);
    if (po === d && !seen.has(pi)) {
      seen.add(pi);
      top = pi;
      continue;
    }
    if (po === undefined) return { key: parent, owned: false, top: msgs[top]!.msgid };
    return { key: msgs[top]!.msgid, owned: true, top: msgs[top]!.msgid };
  }
}

export function seriesIds(thread: Thread, mem: Membership): Map<Draft, string> {
  const keyed = mem.drafts.map((d) => ({ d, k: keyOf(d, thread, mem) }));
  const byKey = new Map<string, { d: Draft; k: Keyed }[]>();
  for (const e of keyed) {
    const list = byKey.get(e.k.key);
    if (list) list.push(e);
    else byKey.set(e.k.key, [e]);
  }
  const out = new Map<Draft, string>();
  for (const [key, list] of byKey) {
    if (list.length === 1) {
      out.set(list[0]!.d, hash16(key));
      continue;
    }
    const owner = list.find((e) => e.k.owned);
    if (owner) out.set(owner.d, hash16(key));
    const versions = new Map<number, number>();
    for (const e of list) if (e !== owner) versions.set(e.d.version, (versions.get(e.d.version) ?? 0) + 1);
    for (const e of list) {
      if (e === owner) continue;
      out.set(e.d, versions.get(e.d.version) === 1 ? hash16(`${key} v${e.d.version}`) : hash16(`${key} ${e.k.top}`));
    }
  }
  return out;
}
