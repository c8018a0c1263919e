// The HTTP source's conditional requests, retries and odd answers, against a loopback server speaking
// public-inbox's formats (the Atom shape and the mboxrd /raw answer are copied from public-inbox-httpd 1.9).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { msgidFromHref, parseAtom, pollPublicInboxHttp, splitPublicInboxMbox } from '../../../src/ingest/source-public-inbox-http.js';
import type { PollContext, SourceOf } from '../../../src/ingest/source-kit.js';
import { logger } from '../../../src/log.js';
import { parseSettings } from '../../../src/settings/load.js';
import { openDb, type Db } from '../../../src/store/db.js';

function message(id: string, subject: string, extra = ''): string {
  return `From: A Developer <dev@example.org>\nTo: kvm@vger.kernel.org\nSubject: ${subject}\nDate: Mon, 2 Nov 2026 10:00:00 +0000\nMessage-ID: <${id}>\n${extra}\nHello.\n`;
}

const messages: Record<string, string> = {
  'a1@example.org': message('a1@example.org', '[PATCH] kvm: x86: fix a thing'),
  'b/2@example.org': message('b/2@example.org', 'Re: [PATCH] kvm: x86: fix a thing', 'In-Reply-To: <a1@example.org>\n'),
};

let server: http.Server;
let base: string;
let requests: { url: string; headers: http.IncomingHttpHeaders }[] = [];
let feedFaults: number[] = [];
let gone = new Set<string>();

function atom(ids: string[]): string {
  const entries = ids.map((id) => `<entry><author><name>A Developer</name><email>dev@example.org</email></author><title>t</title><updated>2026-11-02T10:00:00Z</updated><link\nhref="${base}/kvm/${encodeURIComponent(id).replace(/%40/g, '@')}/"/><id>urn:uuid:x</id><content\ntype="xhtml"><div\nxmlns="http://www.w3.org/1999/xhtml"><pre>Hello.</pre></div></content></entry>`);
  return `<?xml version="1.0" encoding="us-ascii"?>\n<feed\nxmlns="http://www.w3.org/2005/Atom"\nxmlns:thr="http://purl.org/syndication/thread/1.0"><title>kvm</title><link\nrel="alternate"\ntype="text/html"\nhref="${base}/kvm/"/><link\nrel="self"\nhref="${base}/kvm/new.atom"/><id>mailto:kvm@vger.kernel.org</id><updated>2026-11-02T10:00:00Z</updated>${entries.join('')}</feed>`;
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    requests.push({ url: req.url ?? '', headers: req.headers });
    const u = new URL(req.url ?? '/', base);
    if (u.pathname === '/kvm/new.atom') {
      if (feedFaults.length) return void res.writeHead(feedFaults.shift()!).end('busy');
      if (req.headers['if-none-match'] === '"feed-v1"') return void res.writeHead(304).end();
      res.writeHead(200, { 'content-type': 'application/atom+xml', etag: '"feed-v1"', 'last-modified': 'Mon, 02 Nov 2026 10:00:00 GMT' });
      return void res.end(atom(['b/2@example.org', 'a1@example.org'])); // newest first
    }
    const m = /^\/kvm\/(.+)\/raw$/.exec(u.pathname);
    if (m) {
      const id = decodeURIComponent(m[1]);
      if (gone.has(id) || !messages[id]) return void res.writeHead(404).end('not found');
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      return void res.end(`From mboxrd@z Thu Jan  1 00:00:00 1970\n${messages[id]}\n`);
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  requests = [];
  feedFaults = [];
  gone = new Set();
});

function ctx(db: Db): PollContext<SourceOf<'public-inbox-http'>> {
  const settings = parseSettings({ sources: [{ name: 'kvm', type: 'public-inbox-http', url: `${base}/kvm/` }] });
  return { db, source: settings.sources[0] as SourceOf<'public-inbox-http'>, settings, workDir: '/nonexistent', log: logger, ingest: {}, fetch };
}

describe('public-inbox HTTP source', () => {
  it('fetches new messages raw, oldest first, then asks with If-None-Match / If-Modified-Since', async () => {
    const db = openDb(':memory:');
    const r1 = await pollPublicInboxHttp(ctx(db));
    expect(r1).toMatchObject({ read: 2, inserted: 2 });
    expect(requests.map((r) => r.url)).toEqual(['/kvm/new.atom', '/kvm/a1@example.org/raw', '/kvm/b%2F2@example.org/raw']);
    // stored with the bytes of the message, without public-inbox's trailing separator line
    const raw = db.prepare('SELECT raw FROM messages WHERE msgid = ?').pluck().get('<a1@example.org>') as Buffer;
    expect(raw.toString()).toBe(messages['a1@example.org']);

    const r2 = await pollPublicInboxHttp(ctx(db));
    expect(r2).toMatchObject({ read: 0, note: 'feed not modified' });
    const last = requests[requests.length - 1];
    expect(last.headers['if-none-match']).toBe('"feed-v1"');
    expect(last.headers['if-modified-since']).toBe('Mon, 02 Nov 2026 10:00:00 GMT');
  });

  it('retries a busy server with backoff; a message gone between feed and fetch is skipped, not fatal', async () => {
    const db = openDb(':memory:');
    feedFaults = [503, 502];
    gone.add('b/2@example.org');
    const r = await pollPublicInboxHttp(ctx(db));
    expect(requests.filter((q) => q.url === '/kvm/new.atom')).toHaveLength(3);
    expect(r).toMatchObject({ read: 1, inserted: 1 });
  });

  it('a feed that keeps failing is an error (recorded by the caller), nothing stored', async () => {
    const db = openDb(':memory:');
    feedFaults = [500, 500, 500, 500, 500];
    await expect(pollPublicInboxHttp(ctx(db))).rejects.toThrow(/HTTP 500 after 5 attempts/);
    expect(db.prepare('SELECT count(*) FROM messages').pluck().get()).toBe(0);
  }, 30_000);
});

describe('public-inbox formats', () => {
  it('parses the Atom entries of public-inbox, with in-reply-to links', () => {
    const xml = `<feed><updated>2019-05-19T16:22:26Z</updated><entry><author><name>P</name></author><title>Re: [PATCH 08/10] virtio/s390: x</title><updated>2019-05-19T16:22:26Z</updated><link\nhref="http://h/virt/89074bc5@linux.ibm.com/"/><id>urn:uuid:c72b</id><thr:in-reply-to\nref="urn:uuid:185b"\nhref="http://h/virt/20190510135421.5363f14a.pasic@linux.ibm.com/"/><content>x</content></entry></feed>`;
    expect(parseAtom(xml)).toEqual({
      updated: '2019-05-19T16:22:26Z',
      entries: [{
        msgid: '<89074bc5@linux.ibm.com>', href: 'http://h/virt/89074bc5@linux.ibm.com/',
        parentHref: 'http://h/virt/20190510135421.5363f14a.pasic@linux.ibm.com/', title: 'Re: [PATCH 08/10] virtio/s390: x', updated: '2019-05-19T16:22:26Z',
      }],
    });
    expect(msgidFromHref('http://h/virt/a%2Fb%25c@x/')).toBe('<a/b%c@x>');
  });

  it('drops only the separator line after the last message', () => {
    const two = Buffer.from('From mboxrd@z Thu Jan  1 00:00:00 1970\nSubject: a\n\nbody a\n\nFrom mboxrd@z Thu Jan  1 00:00:00 1970\nSubject: b\n\nbody b\n\n');
    expect(splitPublicInboxMbox(two).map(String)).toEqual(['Subject: a\n\nbody a\n', 'Subject: b\n\nbody b\n']);
  });
});
