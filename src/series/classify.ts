// Final roles of messages before grouping: patch, cover, comment, other, rejected. Pure.
//
// The mail parser classifies each message alone; here the thread is known, so:
//  - a reply (`Re:`) carrying a diff is a review comment with a suggested change, not a new patch
//    (patchwork does the same); a `Re: [PATCH 0/N]` is a comment too;
//  - a "naked" cover letter (b4): a thread root without an N/M marker and without a diff, whose reply is
//    a patch from the same author, is that patch's cover letter. A root from someone else (a bug report
//    answered by a fix) is not;
//  - a reply that names no parent at all (a `Re:` without In-Reply-To/References) cannot be a comment on
//    anything and becomes `other`.
import { carriesDiff, type MessageKind, type CoreMessage } from '../mail/types.js';
import type { Thread } from './thread.js';

export type Role = 'patch' | 'cover' | 'comment' | 'other' | 'rejected';

/** Series markers of a message, with the defaults filled in (number/total 1 for an unnumbered patch). */
export interface Marker {
  number: number;
  total: number;
  /** the subject had an N/M marker */
  numbered: boolean;
  version: number;
  versionExplicit: boolean;
}

export interface Classified {
  roles: Role[];
  /** the kind reported in the document for each message */
  kinds: MessageKind[];
  reasons: (string | null)[];
  markers: Marker[];
  /** indexes of covers found without an N/M marker (naked cover letters) */
  naked: Set<number>;
}

function isPatchKind(kind: MessageKind): boolean {
  return kind === 'patch' || kind === 'pull-request';
}

function email(m: CoreMessage): string {
  return m.from.email.trim().toLowerCase();
}

export function classify(thread: Thread): Classified {
  const { msgs } = thread;
  const n = msgs.length;
  const roles: Role[] = new Array(n);
  const kinds: MessageKind[] = new Array(n);
  const reasons: (string | null)[] = new Array(n);
  const markers: Marker[] = new Array(n);
  const naked = new Set<number>();

  for (let i = 0; i < n; i++) {
    const m = msgs[i]!;
    const s = m.subject;
    markers[i] = {
      number: s.number ?? (m.kind === 'cover' ? 0 : 1),
      total: s.total ?? 1,
      numbered: s.number !== null,
      version: s.version,
      versionExplicit: s.versionExplicit,
    };
    const hasParent = thread.parentOf(i) !== null;
    let role: Role;
    let kind: MessageKind = m.kind;
    let reason: string | null = m.reason;
    switch (m.kind) {
      case 'patch':
      case 'pull-request':
        role = s.isReply && hasParent ? 'comment' : 'patch';
        break;
      case 'cover':
        if (s.isReply) role = hasParent ? 'comment' : 'other';
        else role = 'cover';
        if (role === 'other') reason = 'reply to a cover letter without In-Reply-To or References';
        break;
      case 'comment':
        role = hasParent ? 'comment' : 'other';
        if (!hasParent) reason = reason ?? 'reply without In-Reply-To or References';
        break;
      case 'rejected':
        role = 'rejected';
        break;
      default:
        role = 'other';
    }
    if (role === 'comment') {
      kind = 'comment';
      reason = null;
    } else if (role === 'other') {
      kind = 'other';
      reason = reason ?? 'neither a patch, a cover letter nor a reply';
    } else if (role === 'cover') {
      kind = 'cover';
      reason = null;
    }
    roles[i] = role;
    kinds[i] = kind;
    reasons[i] = role === 'other' || role === 'rejected' ? reason : null;
  }

  // Naked cover letters: a root without marker and diff, answered by a patch of the same author.
  for (let i = 0; i < n; i++) {
    if (roles[i] !== 'other') continue;
    const m = msgs[i]!;
    if (m.kind !== 'other' || carriesDiff(m) || m.pullUrl !== null) continue;
    if (m.subject.number !== null || m.subject.isReply || thread.parentOf(i) !== null) continue;
    const author = email(m);
    if (!author) continue;
    const child = thread
      .children(m.msgid)
      .find((c) => roles[c] === 'patch' && isPatchKind(msgs[c]!.kind) && email(msgs[c]!) === author);
    if (child === undefined) continue;
    const cm = markers[child]!;
    roles[i] = 'cover';
    kinds[i] = 'cover';
    reasons[i] = null;
    markers[i] = { number: 0, total: cm.total, numbered: false, version: cm.version, versionExplicit: cm.versionExplicit };
    naked.add(i);
  }

  return { roles, kinds, reasons, markers, naked };
}
