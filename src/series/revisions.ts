// Revisions: partial rerolls (b4) and the `previous` link between revisions. Pure.
import type { Classified } from './classify.js';
import type { Draft, Membership } from './membership.js';
import type { Thread } from './thread.js';

/**
 * Partial rerolls, as b4 reconstitutes them: a `[PATCH v3 2/2]` sent alone, in reply to (a reply to)
 * `[PATCH v2 2/2]`, is v3 of the whole series: every patch it lacks is carried forward from v2, and
 * v2's cover letter (with its follow-up trailers) stands in for the missing one. Only applied when every
 * patch of the reroll answers the patch of the same number/total of one earlier revision, and the copies
 * make the reroll complete. Returns reroll → the revision it was completed from.
 */
export function carryPartialRerolls(thread: Thread, cls: Classified, mem: Membership): Map<Draft, Draft> {
  const { index } = thread;
  const { roles, markers } = cls;
  const from = new Map<Draft, Draft>();
  const candidates = mem.drafts
    .filter((d) => d.cover === null && d.version > 1 && d.slots.size > 0 && d.slots.size < d.total)
    .sort((a, b) => a.version - b.version || a.seq - b.seq);
  for (const d of candidates) {
    let prev: Draft | null = null;
    let sane = true;
    for (const p of d.slots.values()) {
      const mk = markers[p]!;
      let found: Draft | null = null;
      const seen = new Set<number>([p]);
      let q = thread.parentOf(p);
      while (q !== null) {
        const qi = index.get(q);
        if (qi === undefined || seen.has(qi)) break;
        seen.add(qi);
        const qm = markers[qi]!;
        if (roles[qi] === 'patch' && qm.numbered && qm.number === mk.number && qm.total === mk.total) {
          found = mem.owner.get(qi) ?? null;
          break;
        }
        q = thread.parentOf(qi);
      }
      if (!found || found === d || found.version >= d.version || (prev && prev !== found)) {
        sane = false;
        break;
      }
      prev = found;
    }
    if (!sane || !prev) continue;
    const missing: [number, number][] = [];
    for (let n = 1; n <= d.total; n++) {
      if (d.slots.has(n)) continue;
      const m = prev.slots.get(n) ?? prev.carried.get(n);
      if (m === undefined) break;
      missing.push([n, m]);
    }
    if (missing.length + d.slots.size < d.total) continue;
    for (const [n, m] of missing) d.carried.set(n, m);
    d.carriedCover = prev.cover ?? prev.carriedCover;
    from.set(d, prev);
  }
  return from;
}

export interface RevisionFacts {
  /** the series a message belongs to: its own series, or for a comment the series of what it answers */
  seriesOf(msgid: string): Draft | null;
  /** names that identify the work: cover name and the names of its own patches */
  names(d: Draft): string[];
  /** earliest Date of its own messages (ms, NaN when unknown) */
  date(d: Draft): number;
  /** own messages, cover first then patches by number */
  members(d: Draft): number[];
}

/** Strict order of revisions: version, then date, then creation order. */
function before(a: Draft, b: Draft, facts: RevisionFacts): boolean {
  if (a.version !== b.version) return a.version < b.version;
  const da = facts.date(a);
  const db = facts.date(b);
  if (!Number.isNaN(da) && !Number.isNaN(db) && da !== db) return da < db;
  return a.seq < b.seq;
}

/** A name as it identifies work across revisions: case, spacing and a trailing `(v3)` do not matter. */
export function normalizeName(name: string): string {
  return name
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .replace(/\s*[([]v?\d+[)\]]\s*$/, '')
    .replace(/^[\s:]+/, '')
    .trim();
}

/**
 * `previous` of each series, the revision it replaces:
 *  - by thread: one of its messages answers a message of a series with a lower version
 *    (v2 cover In-Reply-To the v1 cover or a v1 patch, `[PATCH v2]` In-Reply-To `[PATCH]`);
 *  - else by name: the same submitter sent a series with the same cover name, the same patch-1 name or
 *    any patch name in common (renamed patches and changed totals allowed), with a lower version or the
 *    same version earlier (an unlabelled reroll or a resend). The latest such series wins.
 * `previous` always points to a series strictly earlier in (version, date, arrival), so the links
 * never form a cycle. Rerolls completed from an earlier revision point to it.
 */
export function linkRevisions(
  thread: Thread,
  mem: Membership,
  rerolls: Map<Draft, Draft>,
  facts: RevisionFacts,
): Map<Draft, Draft | null> {
  const out = new Map<Draft, Draft | null>();
  const byName = new Map<string, Draft[]>();
  const keysOf = new Map<Draft, string[]>();
  for (const d of mem.drafts) {
    const keys = [...new Set(facts.names(d).map(normalizeName).filter((n) => n.length > 0))].map(
      (n) => `${d.sender}\u0000${n}`,
    );
    keysOf.set(d, keys);
    for (const k of keys) {
      const list = byName.get(k);
      if (list) list.push(d);
      else byName.set(k, [d]);
    }
  }
  const cmp = (a: Draft, b: Draft) => (a === b ? 0 : before(a, b, facts) ? -1 : 1);
  for (const list of byName.values()) list.sort(cmp);

  for (const s of mem.drafts) {
    const rerolled = rerolls.get(s);
    if (rerolled) {
      out.set(s, rerolled);
      continue;
    }
    let prev: Draft | null = null;
    threaded: for (const i of facts.members(s)) {
      for (const id of thread.ancestors(i)) {
        const p = facts.seriesOf(id);
        if (p && p !== s && p.version < s.version) {
          prev = p;
          break threaded;
        }
      }
    }
    if (!prev) {
      for (const k of keysOf.get(s)!) {
        const list = byName.get(k)!;
        // the last series of the list that comes before s
        let lo = 0;
        let hi = list.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (before(list[mid]!, s, facts)) lo = mid + 1;
          else hi = mid;
        }
        const cand = lo > 0 ? list[lo - 1]! : null;
        if (cand && (!prev || before(prev, cand, facts))) prev = cand;
      }
    }
    out.set(s, prev);
  }
  return out;
}
