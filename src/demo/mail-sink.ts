// A local SMTP server that accepts every message and keeps it (store table sink_mail, and optionally a
// maildir): where the main job's replies go instead of a real list. Loopback only by default.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import { logger, type Logger } from '../log.js';
import type { Db } from '../store/db.js';
import { ensureSinkTable, insertSinkMail } from './sink-store.js';

export interface MailSink {
  /** host:port it listens on */
  readonly address: string;
  /** messages received since start */
  received(): number;
  close(): Promise<void>;
}

export interface MailSinkOptions {
  db: Db;
  host?: string;
  port: number;
  /** also write each message to this maildir (new/) */
  maildir?: string;
  /** largest message accepted, bytes */
  maxBytes?: number;
  log?: Logger;
}

let seq = 0;

function toMaildir(dir: string, raw: Buffer): void {
  for (const sub of ['tmp', 'new', 'cur']) mkdirSync(path.join(dir, sub), { recursive: true });
  const name = `${Date.now()}.P${process.pid}Q${++seq}.${hostname().replace(/[/:]/g, '_')}`;
  writeFileSync(path.join(dir, 'tmp', name), raw);
  renameSync(path.join(dir, 'tmp', name), path.join(dir, 'new', name));
}

export async function startMailSink(o: MailSinkOptions): Promise<MailSink> {
  const log = (o.log ?? logger).child({ component: 'mail-sink' });
  const host = o.host ?? '127.0.0.1';
  ensureSinkTable(o.db);
  let count = 0;
  const server = new SMTPServer({
    name: 'patchgate-sink.localhost',
    banner: 'patchgate local SMTP sink: nothing leaves this machine',
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    size: o.maxBytes ?? 25 * 1024 * 1024,
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if ((stream as unknown as { sizeExceeded?: boolean }).sizeExceeded) {
          callback(Object.assign(new Error('message too large'), { responseCode: 552 }));
          return;
        }
        try {
          const raw = Buffer.concat(chunks);
          const rcptTo = session.envelope.rcptTo.map((r) => r.address);
          const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
          const id = insertSinkMail(o.db, { mailFrom, rcptTo, raw });
          if (o.maildir) toMaildir(o.maildir, raw);
          count++;
          log.info({ id, from: mailFrom, to: rcptTo, bytes: raw.length }, 'mail received');
          callback();
        } catch (err) {
          log.error({ err: (err as Error).message }, 'cannot store received mail');
          callback(Object.assign(new Error('cannot store the message'), { responseCode: 451 }));
        }
      });
    },
  });
  server.on('error', (err) => log.error({ err: err.message }, 'SMTP sink error'));
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.server.once('error', onError);
    server.listen(o.port, host, () => {
      server.server.off('error', onError);
      resolve();
    });
  });
  const addr = server.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  log.info({ host, port }, 'SMTP sink listening');
  return {
    address: `${host}:${port}`,
    received: () => count,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
