// An IMAP mailbox as a source (imapflow): messages with a UID above the cursor, in UID order. The
// cursor is { uidvalidity, uid }; when the server's UIDVALIDITY changes (the mailbox was re-created or
// its UIDs renumbered), the whole mailbox is read again: the store keeps each message once, so nothing
// is lost and nothing is stored twice.
import { ImapFlow } from 'imapflow';
import { sourceSchema } from '../settings/schema.js';
import { resolveSecret } from '../settings/load.js';
import { getCursor } from '../store/messages.js';
import { ingestInputs } from './ingest.js';
import type { RawInput } from './inputs.js';
import { redactUrl, type PollContext, type PollResult, type SourceDefinition, type SourceOf } from './source-kit.js';

type ImapSource = SourceOf<'imap'>;

interface ImapCursor {
  uidvalidity: string;
  uid: number;
}

export interface ImapTarget {
  host: string;
  port: number;
  secure: boolean;
  user: string;
  password: string;
  mailbox: string;
}

/** imap://user[:password]@host[:port]/MAILBOX (imaps:// for TLS); `password:` in the config wins over the URL's. */
export function imapTarget(source: ImapSource): ImapTarget {
  const u = new URL(source.url);
  if (u.protocol !== 'imap:' && u.protocol !== 'imaps:') throw new Error(`${redactUrl(source.url)}: not an imap:// or imaps:// URL`);
  const secure = u.protocol === 'imaps:';
  const password = resolveSecret(source.password) ?? (u.password ? resolveSecret(decodeURIComponent(u.password)) : undefined);
  if (!u.username) throw new Error(`${redactUrl(source.url)}: no user in the URL`);
  if (password === undefined) throw new Error(`source ${source.name}: no IMAP password (password: env:NAME, or in the URL)`);
  const mailbox = decodeURIComponent(u.pathname.replace(/^\/+/, '')) || 'INBOX';
  return { host: u.hostname, port: u.port ? parseInt(u.port, 10) : secure ? 993 : 143, secure, user: decodeURIComponent(u.username), password, mailbox };
}

export async function pollImap(ctx: PollContext<ImapSource>): Promise<PollResult> {
  const { db, source, log } = ctx;
  const t = imapTarget(source);
  const client = new ImapFlow({
    host: t.host, port: t.port, secure: t.secure,
    auth: { user: t.user, pass: t.password },
    logger: false, disableAutoIdle: true, connectionTimeout: 30_000,
  } as ConstructorParameters<typeof ImapFlow>[0]);
  client.on('error', (err: Error) => log.warn({ err: err.message }, 'IMAP connection error'));
  await client.connect();
  try {
    const box = await client.mailboxOpen(t.mailbox, { readOnly: true });
    const validity = String(box.uidValidity);
    const saved = getCursor(db, source.name, 'uid');
    let after = 0;
    if (saved) {
      const c = JSON.parse(saved) as ImapCursor;
      if (c.uidvalidity === validity) after = c.uid;
      else log.warn({ mailbox: t.mailbox, was: c.uidvalidity, now: validity }, 'UIDVALIDITY changed: reading the whole mailbox again');
    }
    if (box.exists === 0 || (box.uidNext !== undefined && box.uidNext <= after + 1)) {
      return { read: 0, inserted: 0, known: 0, note: `${t.mailbox}: nothing above UID ${after}` };
    }
    const uidOf = new WeakMap<RawInput, number>();
    async function* messages(): AsyncGenerator<RawInput> {
      // `N:*` always includes the highest message, even below N: filter on the UID
      for await (const m of client.fetch(`${after + 1}:*`, { uid: true, source: true }, { uid: true })) {
        if (m.uid <= after || !m.source) continue;
        const input = { raw: m.source, source: `${source.name}:${t.mailbox}/${validity}/${m.uid}` };
        uidOf.set(input, m.uid);
        yield input;
      }
    }
    // fetch() holds the connection while it runs: collect first, then parse and store in order
    const inputs: RawInput[] = [];
    for await (const i of messages()) inputs.push(i);
    inputs.sort((a, b) => uidOf.get(a)! - uidOf.get(b)!);
    async function* list(): AsyncGenerator<RawInput> {
      yield* inputs;
    }
    const stats = await ingestInputs(db, list(), ctx.ingest, (last) => ({
      source: source.name, key: 'uid', value: JSON.stringify({ uidvalidity: validity, uid: uidOf.get(last)! } satisfies ImapCursor),
    }));
    return { ...stats, note: `${t.mailbox} UIDVALIDITY ${validity}, UIDs above ${after}` };
  } finally {
    await client.logout().catch(() => client.close());
  }
}

export const imapSource: SourceDefinition<'imap'> = {
  type: 'imap',
  schema: sourceSchema.options.find((o) => o.shape.type.value === 'imap')!,
  defaultInterval: 120,
  poll: pollImap,
};
