import { describe, expect, it } from 'vitest';
import { parseDependencyRef, resolveDependencies, type DependencyLookup } from '../../../src/series/dependencies.js';

describe('parseDependencyRef', () => {
  it('reads msgids, bare or bracketed', () => {
    expect(parseDependencyRef('<20240610210912.161735-3-ahassick@iol.unh.edu>')).toEqual({
      kind: 'msgid',
      msgid: '<20240610210912.161735-3-ahassick@iol.unh.edu>',
    });
    expect(parseDependencyRef('  20240610210912.161735-3-ahassick@iol.unh.edu ')).toEqual({
      kind: 'msgid',
      msgid: '<20240610210912.161735-3-ahassick@iol.unh.edu>',
    });
    expect(parseDependencyRef('<a@b> (the netdev fix)')).toEqual({ kind: 'msgid', msgid: '<a@b>' });
  });

  it('reads patchwork series and patch URLs', () => {
    expect(parseDependencyRef('http://test/project/test/list/?series=5d1c0e0d4e6f7a8b')).toEqual({ kind: 'series', id: '5d1c0e0d4e6f7a8b' });
    expect(parseDependencyRef('https://patchwork.kernel.org/series/872345/')).toEqual({ kind: 'series', id: '872345' });
    expect(parseDependencyRef('http://test/project/test/patch/20240610210912.161735-3-ahassick@iol.unh.edu/')).toEqual({
      kind: 'msgid',
      msgid: '<20240610210912.161735-3-ahassick@iol.unh.edu>',
    });
    // a URL-encoded msgid in the path
    expect(parseDependencyRef('https://patchwork.ozlabs.org/project/x/patch/abc%2B1@host.org/')).toEqual({ kind: 'msgid', msgid: '<abc+1@host.org>' });
    // numeric patchwork patch ids mean nothing outside that instance
    expect(parseDependencyRef('https://patchwork.kernel.org/project/netdevbpf/patch/13691234/')).toBeNull();
  });

  it('reads lore-style message URLs', () => {
    expect(parseDependencyRef('https://lore.kernel.org/all/20200101.123-1-a@b.org/')).toEqual({ kind: 'msgid', msgid: '<20200101.123-1-a@b.org>' });
    expect(parseDependencyRef('https://patch.msgid.link/20200101.123-1-a@b.org')).toEqual({ kind: 'msgid', msgid: '<20200101.123-1-a@b.org>' });
  });

  it('ignores garbage and list URLs', () => {
    for (const junk of ['', 'garbage', 'see the other series', 'http://test/project/test/list/', 'https://lore.kernel.org/netdev/', 'ftp://x@y/', '<>', 'http://[bad']) {
      expect(parseDependencyRef(junk), junk).toBeNull();
    }
  });
});

describe('resolveDependencies', () => {
  const lookup = (lists: Record<string, string | null>, msgids: Record<string, string>): DependencyLookup => ({
    seriesOfMsgid: (m) => msgids[m] ?? null,
    hasSeries: (id) => id in lists,
    listOf: (id) => lists[id] ?? null,
  });

  it('keeps order of appearance, drops duplicates, itself, unknown and cross-project series', () => {
    const l = lookup({ self: 'a.list', s1: 'a.list', s2: null, s3: 'b.list' }, { '<m1@x>': 's1', '<own@x>': 'self', '<m3@x>': 's3' });
    expect(
      resolveDependencies('self', [
        { kind: 'series', id: 's2' },
        { kind: 'msgid', msgid: '<own@x>' },
        { kind: 'msgid', msgid: '<m1@x>' },
        { kind: 'series', id: 's1' },
        { kind: 'series', id: 'nope' },
        { kind: 'msgid', msgid: '<m3@x>' },
        { kind: 'msgid', msgid: '<unknown@x>' },
      ], l),
    ).toEqual(['s2', 's1']);
  });
});
