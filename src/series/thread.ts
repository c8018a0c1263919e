// Threading: who replies to whom, by Message-ID / In-Reply-To / References. Pure: no I/O.
//
// Mail arrives in any order, so nothing here assumes a parent was seen before its child: the whole set
// is indexed first and every lookup goes through maps (no scans over the whole set).
import type { CoreMessage } from '../mail/types.js';

export interface Thread {
  /** one message per Message-ID (the first one to arrive wins), in arrival order */
  readonly msgs: readonly CoreMessage[];
  /** msgid → index in msgs */
  readonly index: ReadonlyMap<string, number>;
  /** Date header in ms since the epoch, NaN when missing or invalid */
  readonly dates: readonly number[];
  /** index of the later arrivals that repeated an already seen Message-ID (ignored) */
  readonly duplicates: number;
  /** the messages a message answers, nearest first: In-Reply-To, then References newest to oldest */
  ancestors(i: number): readonly string[];
  /** the direct parent: In-Reply-To, else the newest Reference, else null */
  parentOf(i: number): string | null;
  /** the messages whose direct parent is msgid, in arrival order */
  children(msgid: string): readonly number[];
}

function parseDate(date: string | null): number {
  if (!date) return NaN;
  const ms = Date.parse(date);
  return Number.isFinite(ms) ? ms : NaN;
}

export function buildThread(messages: readonly CoreMessage[]): Thread {
  const msgs: CoreMessage[] = [];
  const index = new Map<string, number>();
  let duplicates = 0;
  for (const m of messages) {
    if (index.has(m.msgid)) {
      duplicates++;
      continue;
    }
    index.set(m.msgid, msgs.length);
    msgs.push(m);
  }
  const dates = msgs.map((m) => parseDate(m.date));
  const ancestorCache: (string[] | undefined)[] = new Array(msgs.length);
  const parents: (string | null)[] = msgs.map((m) => {
    if (m.inReplyTo && m.inReplyTo !== m.msgid) return m.inReplyTo;
    for (let k = m.references.length - 1; k >= 0; k--) {
      const r = m.references[k]!;
      if (r !== m.msgid) return r;
    }
    return null;
  });
  const childMap = new Map<string, number[]>();
  parents.forEach((p, i) => {
    if (p === null) return;
    const list = childMap.get(p);
    if (list) list.push(i);
    else childMap.set(p, [i]);
  });

  function ancestors(i: number): readonly string[] {
    const cached = ancestorCache[i];
    if (cached) return cached;
    const m = msgs[i]!;
    const seen = new Set<string>([m.msgid]);
    const out: string[] = [];
    const add = (id: string | null | undefined) => {
      if (!id || seen.has(id)) return;
      seen.add(id);
      out.push(id);
    };
    add(m.inReplyTo);
    for (let k = m.references.length - 1; k >= 0; k--) add(m.references[k]);
    ancestorCache[i] = out;
    return out;
  }

  return {
    msgs,
    index,
    dates,
    duplicates,
    ancestors,
    parentOf: (i) => parents[i] ?? null,
    children: (msgid) => childMap.get(msgid) ?? [],
  };
}

/** The oldest message this one says it belongs under: its first Reference, else its In-Reply-To. */
export function threadRoot(m: CoreMessage): string | null {
  for (const r of m.references) if (r !== m.msgid) return r;
  return m.inReplyTo && m.inReplyTo !== m.msgid ? m.inReplyTo : null;
}
