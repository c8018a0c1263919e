// A real SMTP server on loopback (smtp-server) that keeps every message it accepted. A message counts as
// accepted only when its DATA ended with the final "."; a client that dies mid-DATA delivers nothing.
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, beforeEach } from 'vitest';

export interface Received {
  raw: Buffer;
  mailFrom: string;
  rcptTo: string[];
}

export interface SmtpSink {
  port: number;
  url: string;
  messages: Received[];
  /** connections opened so far */
  connections(): number;
  close(): Promise<void>;
}

export interface SinkOptions {
  /**
   * Runs on each complete message before the server answers 250 (and before it is counted): e.g. delivery
   * into a list archive, so that whatever the server accepted is visible there before the client hears so.
   */
  beforeAccept?(raw: Buffer): Promise<void>;
}

export async function startSmtpSink(opts: SinkOptions = {}): Promise<SmtpSink> {
  const messages: Received[] = [];
  let connections = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onConnect(_session, cb) {
      connections++;
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', () => { /* the client went away mid-DATA: nothing was delivered */ });
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        const accept = () => {
          messages.push({
            raw,
            mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            rcptTo: session.envelope.rcptTo.map((r) => r.address),
          });
          cb();
        };
        if (!opts.beforeAccept) accept();
        else opts.beforeAccept(raw).then(accept, (err: Error) => cb(Object.assign(new Error(`451 archive delivery failed: ${err.message}`), { responseCode: 451 })));
      });
    },
  });
  server.on('error', () => { /* connection resets from killed clients */ });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = ((server as unknown as { server: { address(): AddressInfo } }).server.address()).port;
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * A sink for one describe block: started before its tests, emptied before each of them, closed after them.
 * The object is usable in the tests (its fields read the running sink).
 */
export function useSmtpSink(opts: SinkOptions = {}): SmtpSink {
  let sink: SmtpSink | undefined;
  const running = (): SmtpSink => {
    if (!sink) throw new Error('the SMTP sink is not started (use it inside a test)');
    return sink;
  };
  beforeAll(async () => {
    sink = await startSmtpSink(opts);
  });
  afterAll(async () => {
    await sink?.close();
  });
  beforeEach(() => {
    if (sink) sink.messages.length = 0;
  });
  return {
    get port() {
      return running().port;
    },
    get url() {
      return running().url;
    },
    get messages() {
      return running().messages;
    },
    connections: () => running().connections(),
    close: () => running().close(),
  };
}
