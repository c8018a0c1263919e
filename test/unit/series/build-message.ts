// Hand-built ParsedMessage values for engine unit tests that need shapes the corpus lacks (cycles,
// undated mail, thousands of messages). Corpus cases go through the real parser instead.
import { parseSubject } from '../../../src/mail/subject.js';
import type { MessageKind, ParsedMessage, Trailer } from '../../../src/mail/types.js';

export interface MessageSpec {
  id: string;
  subject: string;
  from?: string;
  date?: string | null;
  irt?: string;
  refs?: string[];
  /** defaults: `Re:` → comment, N == 0 → cover, other prefixed subject → patch, else comment when threaded, else other */
  kind?: MessageKind;
  trailers?: [string, string][];
  dependsOn?: string[];
  basedOn?: string[];
  baseCommit?: string;
  listId?: string;
}

export function msg(spec: MessageSpec): ParsedMessage {
  const subject = parseSubject(spec.subject);
  const replying = !!spec.irt || (spec.refs?.length ?? 0) > 0;
  const kind: MessageKind =
    spec.kind ??
    (subject.isReply ? 'comment' : subject.number === 0 ? 'cover' : subject.prefixes.length > 0 ? 'patch' : replying ? 'comment' : 'other');
  const [name, email] = (spec.from ?? 'Alice Dev <alice@example.org>').match(/^(.*?)\s*<(.+)>$/)!.slice(1) as [string, string];
  const trailers: Trailer[] = (spec.trailers ?? []).map(([n, v]) => ({ name: n, value: v, type: v.includes('@') ? 'person' : 'utility', extinfo: null }));
  return {
    msgid: `<${spec.id}>`,
    msgidSynthetic: false,
    hash: spec.id,
    size: 100,
    date: spec.date === undefined ? '2024-01-01T10:00:00.000Z' : spec.date,
    from: { name, email },
    to: [],
    cc: [],
    subject,
    inReplyTo: spec.irt ? `<${spec.irt}>` : null,
    references: (spec.refs ?? []).map((r) => `<${r}>`),
    listId: spec.listId ?? null,
    kind,
    reason: kind === 'other' ? 'test' : null,
    body: trailers.map((t) => `${t.name}: ${t.value}`).join('\n'),
    message: '',
    notes: '',
    diff: kind === 'patch' ? 'diff --git a/x b/x\n' : null,
    pullUrl: null,
    files: kind === 'patch' ? ['x'] : [],
    trailers,
    deps: {
      baseCommit: spec.baseCommit ?? null,
      prerequisitePatchIds: [],
      prerequisiteMessageIds: [],
      dependsOn: spec.dependsOn ?? [],
      basedOn: spec.basedOn ?? [],
    },
    headers: {},
  };
}
