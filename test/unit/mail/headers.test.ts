import { describe, expect, it } from 'vitest';
import {
  parseAddress,
  parseAddressList,
  parseDate,
  parseListId,
  parseMessageIds,
  unmungeFrom,
} from '../../../src/mail/headers.js';
import { parseMessage } from '../../../src/mail/parse.js';
import { makeMail } from './corpus.js';

describe('parseAddress / parseAddressList', () => {
  it('name <addr>, quoted names, bare addresses, comments', () => {
    expect(parseAddress('example user <user@example.com>')).toEqual({ name: 'example user', email: 'user@example.com' });
    expect(parseAddress('"Yann E. MORIN" <yann.morin.1998@free.fr>')).toEqual({ name: 'Yann E. MORIN', email: 'yann.morin.1998@free.fr' });
    expect(parseAddress('user@example.com')).toEqual({ name: '', email: 'user@example.com' });
    expect(parseAddress('user@example.com (Firstname Lastname)')).toEqual({ name: 'Firstname Lastname', email: 'user@example.com' });
    expect(parseAddress('example at example.com (Firstname Lastname)')).toEqual({ name: 'Firstname Lastname', email: 'example@example.com' });
  });

  it('encoded words in display names (q, split q, b64)', () => {
    const want = { name: 'éxample user', email: 'user@example.com' };
    expect(parseAddress('=?utf-8?q?=C3=A9xample=20user?= <user@example.com>')).toEqual(want);
    expect(parseAddress('=?utf-8?q?=C3=A9xample?= user <user@example.com>')).toEqual(want);
    expect(parseAddress('=?utf-8?B?w6l4YW1wbGUgdXNlcg==?= <user@example.com>')).toEqual(want);
    // an encoded comma in a name does not split the list
    expect(parseAddressList('=?utf-8?q?Doe=2C_John?= <j@x.org>, b@y.org')).toEqual([
      { name: 'Doe, John', email: 'j@x.org' },
      { name: '', email: 'b@y.org' },
    ]);
  });

  it('lists with commas inside quotes, groups and comments', () => {
    expect(
      parseAddressList('"Miller, David" <davem@davemloft.net>, linux-kernel@vger.kernel.org (open list), undisclosed-recipients:;'),
    ).toEqual([
      { name: 'Miller, David', email: 'davem@davemloft.net' },
      { name: 'open list', email: 'linux-kernel@vger.kernel.org' },
    ]);
    expect(parseAddressList('team: a@x.org, B <b@x.org>;')).toEqual([
      { name: '', email: 'a@x.org' },
      { name: 'B', email: 'b@x.org' },
    ]);
    expect(parseAddressList('')).toEqual([]);
  });
});

describe('parseAddressList: quoting and comments', () => {
  it('backslash escapes in quoted names and in nested comments', () => {
    expect(parseAddressList('"Doe, \\"JD\\" John" <jd@example.org>')).toEqual([{ name: 'Doe, "JD" John', email: 'jd@example.org' }]);
    expect(parseAddressList('jd@example.org (John \\(Johnny\\) (the (nested)) Doe)')).toEqual([
      { name: 'John (Johnny) (the (nested)) Doe', email: 'jd@example.org' },
    ]);
    expect(parseAddressList('A <a@example.org>,\n\t"B\\\\C" <b@example.org>; undisclosed-recipients:;')).toEqual([
      { name: 'A', email: 'a@example.org' },
      { name: 'B\\C', email: 'b@example.org' },
    ]);
  });

  it('an unterminated quote or comment runs to the end; a backslash at the very end stays', () => {
    expect(parseAddressList('"Unterminated <u@example.org>')).toEqual([{ name: 'Unterminated', email: '<u@example.org>' }]);
    expect(parseAddressList('x@example.org (open comment')).toEqual([{ name: 'open comment', email: 'x@example.org' }]);
    expect(parseAddressList('"trailing backslash\\')).toEqual([{ name: '', email: 'trailingbackslash\\' }]);
  });
});

describe('parseMessageIds (find_message_id / find_references rules)', () => {
  it('strips a trailing comment from Message-ID', () => {
    expect(parseMessageIds('<xnzgy1de8d.fsf@rhel8.vm> (message ID with a comment)')).toEqual(['<xnzgy1de8d.fsf@rhel8.vm>']);
  });

  it('strips comments in In-Reply-To, even folded ones', () => {
    expect(
      parseMessageIds('<4574b99b-edac-d8dc-9141-79c3109d2fcc@huawei.com> (message from\n liqingqing on Thu, 1 Apr 2021 16:51:45 +0800)'),
    ).toEqual(['<4574b99b-edac-d8dc-9141-79c3109d2fcc@huawei.com>']);
  });

  it('accepts a malformed id missing its "<" and gives it brackets', () => {
    expect(parseMessageIds('5899d592-8c87-47d9-92b6-d34260ce1aa4@radware.com>')).toEqual(['<5899d592-8c87-47d9-92b6-d34260ce1aa4@radware.com>']);
  });

  it('deduplicates, keeps order; empty and garbage give nothing', () => {
    expect(parseMessageIds('<a@b> <c@d>\n <a@b>')).toEqual(['<a@b>', '<c@d>']);
    expect(parseMessageIds('')).toEqual([]);
    expect(parseMessageIds('>')).toEqual([]);
    expect(parseMessageIds('uk>')).toEqual([]);
    expect(parseMessageIds(`<${'x'.repeat(2000)}@y>`)).toEqual([]);
  });
});

describe('parseDate', () => {
  it('RFC 5322 dates with zones, comments and obsolete forms', () => {
    expect(parseDate('Fri, 22 Oct 2010 14:51:02 +1100')).toBe('2010-10-22T03:51:02.000Z');
    expect(parseDate('Wed, 10 Jan 2018 17:21:11 -0500 (EST)')).toBe('2018-01-10T22:21:11.000Z');
    expect(parseDate('Wed,  1 Jun 2016 22:00:54 +0200')).toBe('2016-06-01T20:00:54.000Z');
    expect(parseDate('4 Jun 14 17:50 GMT')).toBe('2014-06-04T17:50:00.000Z');
    expect(parseDate('Mon, 05 Dec 2011 16:49:35 PST')).toBe('2011-12-06T00:49:35.000Z');
  });

  it('invalid or out-of-range dates give null', () => {
    expect(parseDate('Wg>')).toBeNull();
    expect(parseDate('Wed, 4 Jun 207777777777777777777714 17:50:46 0')).toBeNull();
    expect(parseDate(', 11 Sep 2016 23:22:904070804030804 +0100')).toBeNull();
    expect(parseDate('')).toBeNull();
    expect(parseDate(null)).toBeNull();
  });
});

describe('parseListId', () => {
  it('long and short forms', () => {
    expect(parseListId('Linux on PowerPC Developers Mail List <cbe-oss-dev.ozlabs.org>')).toBe('cbe-oss-dev.ozlabs.org');
    expect(parseListId('test.example.com')).toBe('test.example.com');
    expect(parseListId(' ')).toBeNull();
    expect(parseListId('two words')).toBeNull();
  });
});

describe('DMARC un-munging', () => {
  const real = { name: 'Existing Sender', email: 'existing@example.com' };
  const other = { name: 'Other Person', email: 'other@example.com' };
  const list = 'list@lists.example.com';

  it('Mailman "Name via List" with the author in Reply-To', () => {
    const from = { name: 'Existing Sender via List', email: list };
    expect(unmungeFrom(from, { xOriginalFrom: null, replyTo: [real], cc: [], listAddresses: [] })).toEqual(real);
  });

  it('Mailman with the author in Cc, and with several Reply-To / Cc entries', () => {
    const from = { name: 'Existing Sender via List', email: list };
    expect(unmungeFrom(from, { xOriginalFrom: null, replyTo: [], cc: [real], listAddresses: [] })).toEqual(real);
    expect(unmungeFrom(from, { xOriginalFrom: null, replyTo: [other, real], cc: [other, other], listAddresses: [] })).toEqual(real);
  });

  it("Google Groups \"'Name' via List\" with X-Original-From", () => {
    const from = { name: "'Existing Sender' via List", email: list };
    expect(unmungeFrom(from, { xOriginalFrom: real, replyTo: [], cc: [], listAddresses: [] })).toEqual(real);
  });

  it('weird munging: no list name, and no "via" at all (From is the list address)', () => {
    expect(unmungeFrom({ name: "'Existing Sender' via", email: list }, { xOriginalFrom: real, replyTo: [], cc: [], listAddresses: [] })).toEqual(real);
    expect(unmungeFrom({ name: "'Existing Sender'", email: list }, { xOriginalFrom: real, replyTo: [], cc: [], listAddresses: [list] })).toEqual(real);
  });

  it('an ordinary From is left alone', () => {
    expect(unmungeFrom(real, { xOriginalFrom: null, replyTo: [other], cc: [other], listAddresses: [list] })).toEqual(real);
  });

  it('end to end: a munged mail is attributed to the real author', async () => {
    const raw = makeMail('hello\n', {
      From: 'Existing Sender via List <list@lists.example.com>',
      'Reply-To': 'Existing Sender <existing@example.com>',
      'List-Post': '<mailto:list@lists.example.com>',
    });
    expect((await parseMessage(raw)).from).toEqual(real);
    const google = makeMail('hello\n', {
      From: "'Existing Sender' via List <list@googlegroups.com>",
      'X-Original-From': 'Existing Sender <existing@example.com>',
    });
    expect((await parseMessage(google)).from).toEqual(real);
  });
});
