// Which patches belong together. Pure.
//
// Every cover letter starts a series. Each patch then joins, in this order of preference:
//  1. a cover letter it answers (In-Reply-To / References, nearest first) with the same total and a
//     compatible version — a patch without an explicit version takes the cover's (`[PATCH net-next v3 0/4]`
//     with `[PATCH 1/4]` patches); an unnumbered patch only joins a naked cover letter or a `0/1` cover
//     of its own sender;
//  2. the series of a patch it answers (deep threading without cover), same total, compatible version;
//  3. when it answers only mail we do not have (or mail outside any series), the patches that hang under
//     the same thread root with the same version and total (a cover that has not arrived yet);
//  4. when it answers nothing at all: the series of the same sender, version and total started within the
//     grouping window (default 12 h) — the closest in time.
// In every case the slot (its number) must still be free: a second `1/4` starts a new series, which keeps
// identical resends (bugs-spamming, revision-unlabeled-noreferences) apart. Any other unnumbered patch
// is a series of its own (bugs-unnumbered). `[PATCH 3/2]` joins with number 3.
// Last, a cover letter left without patches adopts the patches of its sender that answer it but did not
// fit because the cover was mislabelled (`[PATCH 00/18]` answered by `[PATCH v3 01/19]`).
import type { Classified } from './classify.js';
import type { Thread } from './thread.js';
import { threadRoot } from './thread.js';

export interface Draft {
  /** creation order */
  seq: number;
  /** message index of its own cover letter */
  cover: number | null;
  /** number → message index of its own patches */
  slots: Map<number, number>;
  /** number → message index of patches carried forward from the previous revision (partial reroll) */
  carried: Map<number, number>;
  /** the previous revision's cover letter, used when this revision was sent without one */
  carriedCover: number | null;
  version: number;
  total: number;
  /** sender address, lower-case */
  sender: string;
  /** Date of the message that started it (ms, NaN when unknown) */
  seedDate: number;
}

export interface Membership {
  drafts: Draft[];
  /** message index → the series it belongs to (covers and patches, not carried copies) */
  owner: Map<number, Draft>;
}

export const DEFAULT_GROUP_WINDOW_MS = 12 * 60 * 60 * 1000;

export function assignMembership(thread: Thread, cls: Classified, windowMs = DEFAULT_GROUP_WINDOW_MS): Membership {
  const { msgs, index, dates } = thread;
  const { roles, markers, naked } = cls;
  const drafts: Draft[] = [];
  const owner = new Map<number, Draft>();
  const dropped = new Set<Draft>();
  /** thread root + version + total → series started under that root (step 3) */
  const anchored = new Map<string, Draft[]>();
  /** sender + version + total → series that may take unthreaded patches (step 4) */
  const loose = new Map<string, Draft[]>();

  const sender = (i: number) => msgs[i]!.from.email.trim().toLowerCase();
  const looseKey = (i: number) => `${sender(i)}\u0000${markers[i]!.version}\u0000${markers[i]!.total}`;
  const push = (map: Map<string, Draft[]>, key: string, d: Draft) => {
    const list = map.get(key);
    if (list) list.push(d);
    else map.set(key, [d]);
  };

  function newDraft(seed: number, isCover: boolean): Draft {
    const mk = markers[seed]!;
    const d: Draft = {
      seq: drafts.length,
      cover: isCover ? seed : null,
      slots: new Map(),
      carried: new Map(),
      carriedCover: null,
      version: mk.version,
      total: mk.total,
      sender: sender(seed),
      seedDate: dates[seed]!,
    };
    drafts.push(d);
    owner.set(seed, d);
    if (!isCover) d.slots.set(mk.number, seed);
    return d;
  }

  function fits(p: number, d: Draft): boolean {
    const mk = markers[p]!;
    if (mk.total !== d.total) return false;
    if (mk.versionExplicit && mk.version !== d.version) return false;
    return !d.slots.has(mk.number);
  }

  function join(p: number, d: Draft): void {
    d.slots.set(markers[p]!.number, p);
    owner.set(p, d);
  }

  // Covers first: they exist whatever the arrival order of their patches.
  for (let i = 0; i < msgs.length; i++) {
    if (roles[i] !== 'cover') continue;
    const d = newDraft(i, true);
    push(loose, looseKey(i), d);
  }

  function place(p: number): void {
    const mk = markers[p]!;
    const anc = thread.ancestors(p);
    // 1. a cover letter it answers
    for (const id of anc) {
      const a = index.get(id);
      if (a === undefined || roles[a] !== 'cover') continue;
      const d = owner.get(a)!;
      // an unnumbered patch joins only its naked cover, or a `0/1` cover of the same sender
      if (!mk.numbered && !naked.has(a) && !(d.total === 1 && d.sender === sender(p))) continue;
      if (fits(p, d)) return join(p, d);
    }
    if (!mk.numbered) {
      newDraft(p, false);
      return;
    }
    // 2. the series of a patch it answers
    for (const id of anc) {
      const a = index.get(id);
      if (a === undefined || roles[a] !== 'patch') continue;
      const d = owner.get(a);
      if (d && fits(p, d)) return join(p, d);
    }
    // 3. same thread root, nothing of ours above it
    const root = threadRoot(msgs[p]!);
    if (root !== null) {
      const key = `${root}\u0000${mk.version}\u0000${mk.total}`;
      const d = anchored.get(key)?.find((x) => fits(p, x));
      if (d) return join(p, d);
      push(anchored, key, newDraft(p, false));
      return;
    }
    // 4. unthreaded: same sender, version and total, within the window, the closest in time
    const key = looseKey(p);
    const date = dates[p]!;
    let best: Draft | null = null;
    let bestGap = Infinity;
    for (const d of loose.get(key) ?? []) {
      if (!fits(p, d)) continue;
      // without dates, only undated mail groups with undated mail
      const gap = Number.isNaN(date) && Number.isNaN(d.seedDate) ? 0 : Math.abs(date - d.seedDate);
      if (!(gap <= windowMs)) continue;
      if (gap < bestGap) {
        best = d;
        bestGap = gap;
      }
    }
    if (best) return join(p, best);
    push(loose, key, newDraft(p, false));
  }

  // Patches in arrival order, but a patch's patch ancestors are placed before it (out-of-order mail).
  const state = new Uint8Array(msgs.length); // 0 = todo, 1 = on the stack, 2 = placed
  const patchAncestors = (i: number): number[] => {
    const out: number[] = [];
    for (const id of thread.ancestors(i)) {
      const a = index.get(id);
      if (a !== undefined && roles[a] === 'patch' && state[a] === 0) out.push(a);
    }
    return out;
  };
  for (let i = 0; i < msgs.length; i++) {
    if (roles[i] !== 'patch' || state[i] !== 0) continue;
    // iterative depth-first walk: ancestors first, cycles broken by the on-stack mark
    const stack: { i: number; pending: number[] }[] = [{ i, pending: patchAncestors(i) }];
    state[i] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const next = top.pending.pop();
      if (next !== undefined) {
        if (state[next] !== 0) continue;
        state[next] = 1;
        stack.push({ i: next, pending: patchAncestors(next) });
        continue;
      }
      stack.pop();
      place(top.i);
      state[top.i] = 2;
    }
  }

  adoptMislabelledCovers();
  return { drafts: drafts.filter((d) => !dropped.has(d)), owner };

  /**
   * A cover letter left without patches whose own sender's patches answer it directly but did not fit
   * (`[PATCH 00/18]` answered by `[PATCH v3 01/19]` ...: the cover was mislabelled) becomes the cover of
   * those patches, when they all form one series without a cover and the cover names no other version.
   */
  function adoptMislabelledCovers(): void {
    for (const c of [...drafts]) {
      if (c.cover === null || c.slots.size > 0) continue;
      const cover = c.cover;
      const cid = msgs[cover]!.msgid;
      const found = new Set<Draft>();
      for (const k of thread.children(cid)) {
        if (roles[k] !== 'patch' || sender(k) !== c.sender) continue;
        const d = owner.get(k);
        if (d) found.add(d);
      }
      if (found.size !== 1) continue;
      const s = [...found][0]!;
      if (s.cover !== null) continue;
      if (markers[cover]!.versionExplicit && markers[cover]!.version !== s.version) continue;
      if (![...s.slots.values()].every((i) => markers[i]!.numbered && thread.ancestors(i).includes(cid))) continue;
      s.cover = cover;
      owner.set(cover, s);
      dropped.add(c);
    }
  }
}
