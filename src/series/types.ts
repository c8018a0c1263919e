// The series document: exactly the JSON of `patchgate series --json` (shared/docs/contract.md).
// Fields may be added, never renamed or dropped.
import type { MessageKind, Person } from '../mail/types.js';

export interface MessageEntry {
  msgid: string;
  kind: MessageKind;
  /** why, for `other` and `rejected` (null otherwise) */
  reason: string | null;
}

export interface CollectedTrailer {
  name: string;
  value: string;
  /** msgid of the message the trailer was written in (the patch itself, a follow-up, the cover or a follow-up to it) */
  from: string;
}

export interface SeriesPatch {
  msgid: string;
  number: number;
  /** subject without prefixes */
  name: string;
  /** decoded Subject header */
  subject: string;
  author: Person;
  pull_url: string | null;
  files: string[];
  /** the patch's own trailers first (from = its msgid), then collected ones in arrival order */
  trailers: CollectedTrailer[];
}

export interface Series {
  id: string;
  name: string | null;
  version: number;
  total: number;
  received_all: boolean;
  rfc: boolean;
  tags: string[];
  submitter: Person;
  cover: string | null;
  base_commit: string | null;
  depends_on: string[];
  previous: string | null;
  patches: SeriesPatch[];
}

export interface CommentEntry {
  msgid: string;
  parent: string;
  series: string | null;
}

export interface SeriesDocument {
  messages: MessageEntry[];
  series: Series[];
  comments: CommentEntry[];
}

export interface AssembleOptions {
  /** accept follow-up trailers whose address does not match the sender (b4 --sloppy-trailers) */
  sloppyTrailers: boolean;
  /** trailer senders to ignore (b4 trailers-ignore-from), lower-case addresses */
  ignoreTrailersFrom?: string[];
  /** window in which unthreaded patches of one sender/version/total are grouped, ms (default 12 h) */
  groupWindowMs?: number;
  /**
   * the diff of the first stored message with this Message-ID, for messages given without their diff text
   * (core copies); read only when some mail names a prerequisite-patch-id
   */
  diffOf?: (msgid: string) => string | null;
}
