// Shared shapes of the mail layer. Pure data: no I/O here or in anything under src/mail/.

export type MessageKind = 'patch' | 'cover' | 'comment' | 'pull-request' | 'other' | 'rejected';

export interface Person {
  name: string;
  email: string;
}

/** One parsed trailer line, b4 style: `Reviewed-by: A B <a@b.org>`. */
export interface Trailer {
  /** as written, e.g. `Reviewed-by` (case kept as in the mail) */
  name: string;
  /** the value, cleaned (HTML junk removed, wrapped address re-joined); a trailing `  # comment` goes to extinfo */
  value: string;
  /** `person` when the value holds an address, else `utility` (Fixes, Link, Closes, ...) */
  type: 'person' | 'utility';
  /** the bracketed / comment line that follows a trailer, verbatim, if any */
  extinfo: string | null;
}

/** The subject line broken into its prefix tokens and its name. */
export interface SubjectInfo {
  /** the decoded Subject header, whitespace-folded */
  raw: string;
  /** the subject without reply markers and without any prefix groups (`[...]` / leading `PATCH v2 1/3`) */
  name: string;
  /** every prefix token in order, as written (`PATCH`, `net-next`, `v3`, `2/5`, `RFC` ...) */
  prefixes: string[];
  /** `Re:`/`RE:`/`Re `/`Aw:` ... at the start */
  isReply: boolean;
  /** from vN / VN / (vN) / version N; 1 when absent */
  version: number;
  /** true when a version was written explicitly */
  versionExplicit: boolean;
  /** N of N/M or `N of M`; null when there is no marker */
  number: number | null;
  /** M of N/M or `N of M`; null when there is no marker */
  total: number | null;
  rfc: boolean;
  resend: boolean;
  /** other tokens, lower-case: not PATCH, RFC, RESEND, vN, N/M (e.g. `net-next`, `intel-wired-lan`) */
  tags: string[];
}

/** Dependency hints found in the body. */
export interface Dependencies {
  baseCommit: string | null;
  prerequisitePatchIds: string[];
  prerequisiteMessageIds: string[];
  /** raw values of `Depends-on:` lines (msgid, series URL or patch URL) */
  dependsOn: string[];
  /** raw values of QEMU's `Based-on:` lines (a msgid, usually) */
  basedOn: string[];
}

/**
 * A raw RFC 822 message turned into data. parseMessage() never throws: mail that cannot be
 * understood comes back with kind `rejected` and a reason, and is still kept (quarantined).
 */
export interface ParsedMessage {
  /** with angle brackets; synthetic (`<sha256-prefix@patchgate.invalid>`) when the mail has none */
  msgid: string;
  msgidSynthetic: boolean;
  /** sha256 hex of the raw bytes without trailing line breaks (mbox position does not change it) */
  hash: string;
  /** size of the raw message in bytes */
  size: number;
  /** ISO 8601, or null when the Date header is missing or invalid */
  date: string | null;
  /** the author as the mail shows it, after DMARC un-munging ("X via List" restored) */
  from: Person;
  to: Person[];
  cc: Person[];
  subject: SubjectInfo;
  /** In-Reply-To msgid (first valid one), with brackets */
  inReplyTo: string | null;
  /** References, oldest first, deduplicated, with brackets */
  references: string[];
  listId: string | null;
  /**
   * Initial classification from this message alone:
   *  patch: has a diff; pull-request: has a pull URL (maybe also a diff);
   *  cover: no diff, N/M marker with N == 0;
   *  comment: a reply (Re:, or In-Reply-To / References) without a diff;
   *  other: none of those (reason says why); rejected: unusable (reason says why).
   * The series engine may turn `other` into `cover` (naked cover letter) or `comment`.
   */
  kind: MessageKind;
  reason: string | null;
  /** the text part (HTML parts ignored), footers and signature stripped, CRLF normalised */
  body: string;
  /** the commit message part of a patch: the body above `---` / the diff, as git am would take it */
  message: string;
  /** text between the `---` separator and the diff (diffstat, notes), '' when none */
  notes: string;
  /** the diff text, exactly as in the mail (or attachment), or null */
  diff: string | null;
  /** `url branch` for a git pull request, else null */
  pullUrl: string | null;
  /** paths touched by the diff (new names for renames), in diff order, deduplicated */
  files: string[];
  /** trailers in the message part (unquoted lines only) */
  trailers: Trailer[];
  deps: Dependencies;
  /** headers the bot cares about, lower-case names (x-patchwork-*, x-mailer, auto-submitted, x-patchgate-*) */
  headers: Record<string, string>;
  /** the `From:` in-body header of a patch sent on someone else's behalf (git am takes it as author) */
  inBodyFrom?: Person | null;
  /**
   * Patches only: the decoded text part exactly as received (newlines normalised; signature, blank lines
   * and diff untouched), which `patchgate am` rebuilds byte for byte as b4 does.
   */
  amText?: string;
  /** the Date header as written (unfolded), for git-am output; null when missing */
  dateHeader?: string | null;
}

/**
 * What the series engine reads of a message: the store's `core` copy (coreOf). No recipients, no kept headers,
 * no am text and no diff text: grouping, threading, revisions, trailers and dependencies do not look at them
 * (a patch-id, for prerequisite-patch-id only, is computed from the diff read back from the store). Leaving
 * them out of 10,000 messages held in memory saves ~45 MB (measured on the archive). A full ParsedMessage
 * passes for a CoreMessage.
 */
export type CoreMessage = Omit<ParsedMessage, 'to' | 'cc' | 'headers' | 'dateHeader' | 'amText' | 'diff'> & {
  /** the diff text: a full message has it; a core copy does not (see hasDiff) */
  diff?: string | null;
  /** a core copy: whether the message has a diff */
  hasDiff?: boolean;
};

/** Whether the message (full or core copy) has a diff. */
export function carriesDiff(m: CoreMessage): boolean {
  return m.hasDiff ?? (m.diff !== null && m.diff !== undefined);
}
