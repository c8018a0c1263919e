// The series engine: parsed messages (in arrival order) → the series document of
// `patchgate series --json` (shared/docs/contract.md). Pure and deterministic: the same messages in the
// same order always give the same document. Every step goes through maps, so a 10,000-message archive
// takes a fraction of a second.
//
//   thread.ts       who answers whom (Message-ID, In-Reply-To, References)
//   classify.ts     final roles: patch, cover (incl. naked cover letters), comment, other, rejected
//   membership.ts   which patches form a series
//   revisions.ts    partial rerolls and `previous`
//   ids.ts          stable series ids
//   dependencies.ts Depends-on / Based-on / prerequisite-message-id / prerequisite-patch-id (patch-id.ts)
//                   → depends_on
import { trailerEquals } from '../mail/trailers.js';
import { carriesDiff, type CoreMessage } from '../mail/types.js';
import { classify } from './classify.js';
import { dependencyRefs, resolveDependencies } from './dependencies.js';
import { seriesIds } from './ids.js';
import { patchId } from './patch-id.js';
import { assignMembership, DEFAULT_GROUP_WINDOW_MS, type Draft } from './membership.js';
import { carryPartialRerolls, linkRevisions } from './revisions.js';
import { buildThread } from './thread.js';
import { collectFollowupTrailers } from './trailers.js';
import type {
  AssembleOptions,
  CollectedTrailer,
  CommentEntry,
  MessageEntry,
  Series,
  SeriesDocument,
  SeriesPatch,
} from './types.js';

export function assembleSeries(messages: CoreMessage[], opts: AssembleOptions): SeriesDocument {
  const thread = buildThread(messages);
  const { msgs, index, dates } = thread;
  const cls = classify(thread);
  const { roles } = cls;
  const mem = assignMembership(thread, cls, opts.groupWindowMs ?? DEFAULT_GROUP_WINDOW_MS);
  const rerolls = carryPartialRerolls(thread, cls, mem);

  // Comments: the patch or cover letter each one answers (directly or through other replies).
  const target = new Map<number, number | null>();
  function commentTarget(i: number): number | null {
    const path: number[] = [];
    const onPath = new Set<number>();
    let cur = i;
    let result: number | null = null;
    for (;;) {
      const known = target.get(cur);
      if (known !== undefined) {
        result = known;
        break;
      }
      path.push(cur);
      onPath.add(cur);
      let next: number | null = null;
      let found: number | null = null;
      for (const id of thread.ancestors(cur)) {
        const a = index.get(id);
        if (a === undefined) continue;
        if (mem.owner.has(a)) {
          found = a;
          break;
        }
        if (next === null && !onPath.has(a)) next = a;
      }
      if (found !== null || next === null) {
        result = found;
        break;
      }
      cur = next;
    }
    for (const p of path) target.set(p, result);
    return result;
  }

  const comments: CommentEntry[] = [];
  const commentDraft = new Map<number, Draft | null>();
  const followups = new Map<number, CoreMessage[]>();
  const commentIdx: number[] = [];
  for (let i = 0; i < msgs.length; i++) {
    if (roles[i] !== 'comment') continue;
    const t = commentTarget(i);
    commentIdx.push(i);
    commentDraft.set(i, t === null ? null : mem.owner.get(t)!);
    if (t !== null) {
      const list = followups.get(t);
      if (list) list.push(msgs[i]!);
      else followups.set(t, [msgs[i]!]);
    }
  }

  // Facts about each draft.
  const membersCache = new Map<Draft, number[]>();
  const members = (d: Draft): number[] => {
    let m = membersCache.get(d);
    if (!m) {
      m = [...(d.cover !== null ? [d.cover] : []), ...[...d.slots.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1])];
      membersCache.set(d, m);
    }
    return m;
  };
  const dateCache = new Map<Draft, number>();
  const draftDate = (d: Draft): number => {
    let v = dateCache.get(d);
    if (v === undefined) {
      v = NaN;
      for (const i of members(d)) {
        const t = dates[i]!;
        if (!Number.isNaN(t) && (Number.isNaN(v) || t < v)) v = t;
      }
      dateCache.set(d, v);
    }
    return v;
  };
  const seriesOf = (msgid: string): Draft | null => {
    const i = index.get(msgid);
    if (i === undefined) return null;
    const own = mem.owner.get(i);
    if (own) return own;
    return roles[i] === 'comment' ? commentDraft.get(i) ?? null : null;
  };
  const previous = linkRevisions(thread, mem, rerolls, {
    seriesOf,
    members,
    date: draftDate,
    names: (d) => members(d).map((i) => msgs[i]!.subject.name),
  });
  const ids = seriesIds(thread, mem);

  // The series objects.
  const trailerOpts = { sloppy: opts.sloppyTrailers, ignoreFrom: opts.ignoreTrailersFrom };
  const collected = new Map<number, CollectedTrailer[]>();
  const collectedFor = (i: number): CollectedTrailer[] => {
    let c = collected.get(i);
    if (!c) {
      const f = followups.get(i);
      c = f ? collectFollowupTrailers(msgs[i]!, f, trailerOpts) : [];
      collected.set(i, c);
    }
    return c;
  };

  interface Built {
    d: Draft;
    series: Series;
    head: number;
    sortDate: number;
    firstArrival: number;
    list: string | null;
    refsFrom: number[];
  }
  const built: Built[] = [];
  const byId = new Map<string, Built>();
  for (const d of mem.drafts) {
    const cover = d.cover ?? d.carriedCover;
    const all = new Map<number, number>([...d.carried, ...d.slots]);
    const numbers = [...all.keys()].sort((a, b) => a - b);
    const patchIdx = numbers.map((n) => all.get(n)!);
    const ownPatches = [...d.slots.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
    const head = d.cover ?? ownPatches[0]!;
    const coverTrailers = cover !== null ? collectedFor(cover) : [];
    const patches: SeriesPatch[] = numbers.map((n, k) => {
      const i = patchIdx[k]!;
      const m = msgs[i]!;
      const trailers: CollectedTrailer[] = m.trailers.map((t) => ({ name: t.name, value: t.value, from: m.msgid }));
      for (const t of [...collectedFor(i), ...coverTrailers]) {
        if (!trailers.some((x) => trailerEquals(x, t))) trailers.push(t);
      }
      return {
        msgid: m.msgid,
        number: n,
        name: m.subject.name,
        subject: m.subject.raw,
        // the in-body From: of a patch sent on someone else's behalf is its author, as git am takes it
        author: m.inBodyFrom ? { name: m.inBodyFrom.name, email: m.inBodyFrom.email } : { name: m.from.name, email: m.from.email },
        pull_url: m.pullUrl,
        files: [...m.files],
        trailers,
      };
    });
    const described = [...(cover !== null ? [cover] : []), ...patchIdx];
    const tags: string[] = [];
    for (const i of described) for (const t of msgs[i]!.subject.tags) if (!tags.includes(t)) tags.push(t);
    const one = all.get(1);
    let receivedAll = d.total >= 1;
    for (let n = 1; n <= d.total && receivedAll; n++) receivedAll = all.has(n);
    let base: string | null = null;
    for (const i of described) {
      base = msgs[i]!.deps.baseCommit;
      if (base) break;
    }
    const headMsg = msgs[head]!;
    const series: Series = {
      id: ids.get(d)!,
      name: cover !== null ? msgs[cover]!.subject.name : one !== undefined ? msgs[one]!.subject.name : null,
      version: d.version,
      total: d.total,
      received_all: receivedAll,
      rfc: described.some((i) => msgs[i]!.subject.rfc),
      tags,
      submitter: { name: headMsg.from.name, email: headMsg.from.email },
      cover: cover !== null ? msgs[cover]!.msgid : null,
      base_commit: base || null,
      depends_on: [],
      previous: null,
      patches,
    };
    let firstArrival = Infinity;
    for (const i of members(d)) firstArrival = Math.min(firstArrival, i);
    const b: Built = {
      d,
      series,
      head,
      sortDate: draftDate(d),
      firstArrival,
      list: headMsg.listId,
      refsFrom: described,
    };
    built.push(b);
    byId.set(series.id, b);
  }

  // prerequisite-patch-id: the patch-ids of our patches, computed only when some mail asks for one
  let byPatchId: Map<string, string> | undefined;
  if (msgs.some((m) => m.deps.prerequisitePatchIds.length > 0)) {
    byPatchId = new Map();
    for (const [i, d] of mem.owner) {
      const m = msgs[i]!;
      if (d.cover === i || !carriesDiff(m)) continue;
      // a core copy has no diff text: the caller reads it (from the store)
      const diff = m.diff ?? opts.diffOf?.(m.msgid) ?? null;
      if (diff === null) continue;
      const id = patchId(diff);
      if (id && !byPatchId.has(id)) byPatchId.set(id, msgs[i]!.msgid);
    }
  }
  const msgidOfPatchId = byPatchId && ((id: string) => byPatchId!.get(id));

  for (const b of built) {
    const p = previous.get(b.d);
    b.series.previous = p ? ids.get(p)! : null;
    const refs = b.refsFrom.flatMap((i) => dependencyRefs(msgs[i]!.deps, msgidOfPatchId));
    if (refs.length === 0) continue;
    b.series.depends_on = resolveDependencies(b.series.id, refs, {
      seriesOfMsgid: (msgid) => {
        const i = index.get(msgid);
        const d = i === undefined ? undefined : mem.owner.get(i);
        return d ? ids.get(d)! : null;
      },
      hasSeries: (id) => byId.has(id),
      listOf: (id) => byId.get(id)?.list ?? null,
    });
  }

  built.sort((a, b) => {
    const da = Number.isNaN(a.sortDate) ? Infinity : a.sortDate;
    const db = Number.isNaN(b.sortDate) ? Infinity : b.sortDate;
    return (da === db ? 0 : da - db) || a.firstArrival - b.firstArrival || a.d.seq - b.d.seq;
  });

  // Every input message is accounted for, in arrival order: a second, different copy of a Message-ID already
  // seen (lore has a few: the same mail relayed twice with other headers) is listed as `other` with the reason.
  const entries: MessageEntry[] = [];
  const listed = new Set<number>();
  const seenCopies = new Set<string>();
  for (const m of messages) {
    const i = index.get(m.msgid)!;
    if (msgs[i] === m && !listed.has(i)) {
      listed.add(i);
      seenCopies.add(`${m.msgid}\n${m.hash}`);
      entries.push({ msgid: m.msgid, kind: cls.kinds[i]!, reason: cls.reasons[i] ?? null });
    } else if (!seenCopies.has(`${m.msgid}\n${m.hash}`)) {
      // the very same bytes again are the same message: nothing more to account for
      seenCopies.add(`${m.msgid}\n${m.hash}`);
      entries.push({ msgid: m.msgid, kind: 'other', reason: `duplicate Message-ID: another copy (sha256 ${msgs[i]!.hash.slice(0, 12)}) arrived first; this one (sha256 ${m.hash.slice(0, 12)}) is kept in the store but not used` });
    }
  }
  for (const i of commentIdx) {
    const t = target.get(i) ?? null;
    const d = commentDraft.get(i) ?? null;
    let parent: string;
    if (t !== null) parent = msgs[t]!.msgid;
    else {
      const anc = thread.ancestors(i);
      parent = anc.find((id) => index.has(id)) ?? anc[0]!;
    }
    comments.push({ msgid: msgs[i]!.msgid, parent, series: d ? ids.get(d)! : null });
  }

  return { messages: entries, series: built.map((b) => b.series), comments };
}
