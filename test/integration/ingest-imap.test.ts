// The IMAP source against Debian's dovecot-imapd, a private instance on loopback (its own config, user
// and maildir in a temp dir): new mail arrives by APPEND, the mailbox is re-created (new UIDVALIDITY).
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSource } from '../../src/ingest/sources.js';
import { logger } from '../../src/log.js';
import type { SourceSettings } from '../../src/settings/schema.js';
import { openDb } from '../../src/store/db.js';
import { getCursor } from '../../src/store/messages.js';
import { archiveMessages, cloneArchive, removeDir, settingsFor, tempDir } from './ingest-support.js';
import { freePort } from '../helpers/net.js';

const DOVECOT = '/usr/sbin/dovecot';
const isRoot = process.getuid?.() === 0;
const log = logger.child({ test: 'ingest-imap' });

let tmp: string;
let dovecot: ChildProcess | null = null;
let port: number;
let mail: Buffer[];


async function startDovecot(): Promise<void> {
  port = await freePort();
  const dir = path.join(tmp, 'dovecot');
  const maildirs = path.join(dir, 'mail');
  chmodSync(tmp, 0o755); // dovecot's auth and mail processes run as other users
  mkdirSync(path.join(dir, 'run'), { recursive: true });
  mkdirSync(path.join(dir, 'state'), { recursive: true });
  mkdirSync(maildirs, { recursive: true });
  chownSync(maildirs, 65534, 65534); // nobody: the mail user
  writeFileSync(path.join(dir, 'passwd'), 'patchgate:{PLAIN}imap-test-password::::::\n');
  writeFileSync(path.join(dir, 'dovecot.conf'), `
base_dir = ${dir}/run
state_dir = ${dir}/state
instance_name = patchgate-test-${port}
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = ${dir}/dovecot.log
mail_location = maildir:${maildirs}/%u
first_valid_uid = 1
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${dir}/passwd
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=${maildirs}/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
}
service stats {
  unix_listener stats-reader {
    mode = 0600
  }
  unix_listener stats-writer {
    mode = 0600
  }
}
`);
  dovecot = spawn(DOVECOT, ['-F', '-c', path.join(dir, 'dovecot.conf')], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`dovecot did not listen on ${port}; see ${dir}/dovecot.log`);
}

async function admin<T>(fn: (c: ImapFlow) => Promise<T>): Promise<T> {
  const c = new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user: 'patchgate', pass: 'imap-test-password' }, logger: false });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.logout();
  }
}

async function append(box: string, raws: Buffer[]): Promise<void> {
  await admin(async (c) => {
    for (const raw of raws) await c.append(box, raw);
  });
}

beforeAll(async () => {
  if (!existsSync(DOVECOT) || !isRoot) return;
  tmp = tempDir('imap');
  mail = await archiveMessages(cloneArchive(tmp), 0, 12);
  await startDovecot();
}, 60_000);

afterAll(() => {
  if (dovecot && dovecot.exitCode === null) dovecot.kill('SIGTERM');
  if (tmp && !process.env.KEEP) removeDir(tmp);
});

describe.skipIf(!existsSync(DOVECOT) || !isRoot)('IMAP source against dovecot (needs dovecot-imapd and root)', () => {
  it('reads new mail by UID, and a UIDVALIDITY change without loss or duplicates', async () => {
    const dir = tempDir('imap-src');
    const db = openDb(':memory:');
    process.env.PATCHGATE_TEST_IMAP_PASSWORD = 'imap-test-password';
    const source = { name: 'q', type: 'imap', url: `imap://patchgate@127.0.0.1:${port}/kvm`, password: 'env:PATCHGATE_TEST_IMAP_PASSWORD' } as SourceSettings;
    const settings = settingsFor(dir, [source]);
    const poll = async () => {
      const run = await runSource({ db, settings, source: settings.sources[0], log });
      if (run.error) throw run.error;
      return run.result;
    };
    await admin((c) => c.mailboxCreate('kvm'));
    await append('kvm', mail.slice(0, 5));
    expect(await poll()).toMatchObject({ read: 5, inserted: 5, known: 0 });
    const c1 = JSON.parse(getCursor(db, 'q', 'uid')!) as { uidvalidity: string; uid: number };
    expect(c1.uid).toBe(5);
    expect(await poll()).toMatchObject({ read: 0, inserted: 0 });

    // new mail arrives
    await append('kvm', mail.slice(5, 8));
    expect(await poll()).toMatchObject({ read: 3, inserted: 3, known: 0 });

    // the mailbox is re-created: new UIDVALIDITY, UIDs from 1 again, old mail and new mail mixed
    await admin(async (c) => {
      await c.mailboxDelete('kvm');
      await c.mailboxCreate('kvm');
    });
    await append('kvm', [mail[9], ...mail.slice(0, 8).reverse(), mail[8]]);
    const after = await poll();
    expect(after).toMatchObject({ read: 10, inserted: 2, known: 8 });
    const c2 = JSON.parse(getCursor(db, 'q', 'uid')!) as { uidvalidity: string; uid: number };
    expect(c2.uidvalidity).not.toBe(c1.uidvalidity);
    expect(c2.uid).toBe(10);
    expect(db.prepare('SELECT count(*) AS n, count(DISTINCT msgid) AS ids FROM messages').get()).toEqual({ n: 10, ids: 10 });

    await append('kvm', [mail[10]]);
    expect(await poll()).toMatchObject({ read: 1, inserted: 1 });
    db.close();
    removeDir(dir);
  });

  it('a wrong password is a recorded failure, never logged', async () => {
    const dir = tempDir('imap-bad');
    const db = openDb(':memory:');
    const source = { name: 'q', type: 'imap', url: `imap://patchgate:not-the-password@127.0.0.1:${port}/INBOX` } as SourceSettings;
    const settings = settingsFor(dir, [source]);
    const run = await runSource({ db, settings, source: settings.sources[0], log });
    expect(run.error).not.toBeNull();
    expect(run.health.state).toBe('failing');
    expect(run.error!.message).not.toContain('not-the-password');
    db.close();
    removeDir(dir);
  });
});

