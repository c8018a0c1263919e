import { describe, expect, it } from 'vitest';
import { parseSubject } from '../../../src/mail/subject.js';

describe('parseSubject', () => {
  it('plain subjects and reply markers (patchwork clean_subject)', () => {
    expect(parseSubject('meep')).toMatchObject({ name: 'meep', prefixes: [], isReply: false, number: null, total: null });
    expect(parseSubject('Re: meep')).toMatchObject({ name: 'meep', isReply: true });
    expect(parseSubject('[PATCH] meep')).toMatchObject({ name: 'meep', prefixes: ['PATCH'], tags: [] });
  });

  it('folded subjects are joined with one space', () => {
    expect(parseSubject('[PATCH] meep \n meep').name).toBe('meep meep');
    expect(parseSubject('[PATCH] meep,\n meep').name).toBe('meep, meep');
    expect(parseSubject('[PATCH] meep\r\n\tmeep').raw).toBe('[PATCH] meep meep');
  });

  it('subject_check: RE:, Re:, re:, RE , Re , re , Aw:, Re[2]: are replies', () => {
    for (const s of ['RE: meep', 'Re: meep', 're: meep', 'RE meep', 'Re meep', 're meep', 'Aw: meep', 'AW: meep', 'Re[2]: meep']) {
      expect(parseSubject(s).isReply, s).toBe(true);
      expect(parseSubject(s).name, s).toBe('meep');
    }
    expect(parseSubject('Revert "foo"').isReply).toBe(false);
    expect(parseSubject('Re-add the foo').isReply).toBe(false);
    expect(parseSubject('[PATCH] re enable foo').isReply).toBe(false);
    expect(parseSubject('Fwd: [PATCH] foo')).toMatchObject({ isReply: false, name: 'foo' });
  });

  it('[PATCH net-next v3 2/5] gives version, number, total and the tree tag', () => {
    expect(parseSubject('[PATCH net-next v3 2/5] net: foo: bar')).toEqual({
      raw: '[PATCH net-next v3 2/5] net: foo: bar',
      name: 'net: foo: bar',
      prefixes: ['PATCH', 'net-next', 'v3', '2/5'],
      isReply: false,
      version: 3,
      versionExplicit: true,
      number: 2,
      total: 5,
      rfc: false,
      resend: false,
      tags: ['net-next'],
    });
  });

  it('[RFC PATCH] and [PATCH RFC 1/2] set rfc; RFC is not a tag', () => {
    expect(parseSubject('[RFC PATCH] meep')).toMatchObject({ rfc: true, tags: [], name: 'meep' });
    expect(parseSubject('[PATCH RFC 1/2] meep')).toMatchObject({ rfc: true, number: 1, total: 2, prefixes: ['PATCH', 'RFC', '1/2'] });
    expect(parseSubject('[PATCH,RFC] meep')).toMatchObject({ rfc: true, prefixes: ['PATCH', 'RFC'] });
  });

  it('several bracket groups: [PATCH] [RFC] [1/2] meep', () => {
    expect(parseSubject('[PATCH] [RFC] [1/2] meep')).toMatchObject({ name: 'meep', prefixes: ['PATCH', 'RFC', '1/2'], number: 1, total: 2, rfc: true });
    expect(parseSubject('[PATCH] [RFC,1/2] meep')).toMatchObject({ name: 'meep', prefixes: ['PATCH', 'RFC', '1/2'] });
  });

  it('[a-z] after the prefixes is part of the name, not a prefix', () => {
    expect(parseSubject('[PATCH] rewrite [a-z] regexes')).toMatchObject({ name: 'rewrite [a-z] regexes', prefixes: ['PATCH'] });
    expect(parseSubject('[PATCH] [RFC] rewrite [a-z] regexes')).toMatchObject({ name: 'rewrite [a-z] regexes', rfc: true });
  });

  it('unbracketed PATCH v2 RESEND run is a prefix', () => {
    expect(parseSubject('PATCH v2 RESEND 1/3: do the thing')).toMatchObject({
      name: 'do the thing',
      prefixes: ['PATCH', 'v2', 'RESEND', '1/3'],
      version: 2,
      resend: true,
      number: 1,
      total: 3,
    });
    expect(parseSubject('[PATCH v2 RESEND] foo')).toMatchObject({ resend: true, version: 2, tags: [] });
    expect(parseSubject('PATCH: foo')).toMatchObject({ name: 'foo', prefixes: ['PATCH'] });
    expect(parseSubject('Patch the frobnicator').name).toBe('Patch the frobnicator');
  });

  it('hg email style "1 of 3" (and "0 of 2" covers)', () => {
    expect(parseSubject('[PATCH 1 of 3] meep')).toMatchObject({ number: 1, total: 3, prefixes: ['PATCH', '1 of 3'], tags: [] });
    expect(parseSubject('[PATCH 0 of 2] cover')).toMatchObject({ number: 0, total: 2 });
    expect(parseSubject('[bar 1 of 2] x')).toMatchObject({ number: 1, total: 2, tags: ['bar'] });
  });

  it('versions: V2, v10, (v2) at the end, PATCHv2; "version" alone is no version', () => {
    expect(parseSubject('[PATCH V2 3/4] x')).toMatchObject({ version: 2, versionExplicit: true });
    expect(parseSubject('[PATCH V6] x').version).toBe(6);
    expect(parseSubject('[PATCH v10] x').version).toBe(10);
    expect(parseSubject('Hello, world (v2)')).toMatchObject({ version: 2, versionExplicit: true, name: 'Hello, world (v2)' });
    expect(parseSubject('Hello, world (V6)').version).toBe(6);
    expect(parseSubject('[PATCH version] x')).toMatchObject({ version: 1, versionExplicit: false });
    expect(parseSubject('[PATCH version 3] x').version).toBe(3);
    expect(parseSubject('[PATCHv2 1/3] x')).toMatchObject({ version: 2, number: 1, total: 3, tags: [] });
    expect(parseSubject('Hello, world')).toMatchObject({ version: 1, versionExplicit: false });
  });

  it('series markers glued to words: PATCH1/8, PATCH100/123, v2PATCH1/4, v2.3PATCH1/4, 3/2', () => {
    expect(parseSubject('[PATCH1/8] x')).toMatchObject({ number: 1, total: 8, tags: [] });
    expect(parseSubject('[PATCH100/123] x')).toMatchObject({ number: 100, total: 123 });
    expect(parseSubject('[v2PATCH1/4] x')).toMatchObject({ number: 1, total: 4, tags: [] });
    expect(parseSubject('[v2 PATCH1/4] x')).toMatchObject({ number: 1, total: 4, version: 2 });
    expect(parseSubject('[v2.3PATCH1/4] x')).toMatchObject({ number: 1, total: 4 });
    expect(parseSubject('[PATCH 3/2] test: Remove Markdown formatting')).toMatchObject({ number: 3, total: 2 });
    expect(parseSubject('[bar] x')).toMatchObject({ number: null, total: null });
  });

  it('list tags [Intel-wired-lan] / [dpdk-dev] go into tags lower-case', () => {
    expect(parseSubject('[Intel-wired-lan] [PATCH net-next v2] ice: fix')).toMatchObject({
      name: 'ice: fix',
      tags: ['intel-wired-lan', 'net-next'],
      version: 2,
    });
    expect(parseSubject('[dpdk-dev] [PATCH] kni: fix compilation error when debug enabled')).toMatchObject({
      name: 'kni: fix compilation error when debug enabled',
      tags: ['dpdk-dev'],
    });
    expect(parseSubject('Re: [dpdk-dev] [PATCH] kni').isReply).toBe(true);
  });

  it('unprefixed bracket groups like [net,v2,1/2] split on commas and spaces', () => {
    expect(parseSubject('[net,v2,1/2] net: ieee802154: remove explicit set skb->sk')).toMatchObject({
      name: 'net: ieee802154: remove explicit set skb->sk',
      prefixes: ['net', 'v2', '1/2'],
      tags: ['net'],
      version: 2,
      number: 1,
      total: 2,
    });
    expect(parseSubject('[PATCH,] x').prefixes).toEqual(['PATCH']);
  });

  it('[Patch]: foo gives name "foo" (patchwork leaves ": foo"; a maintainer wants the title)', () => {
    expect(parseSubject('[Patch]: Fix ld pr11138 FAILures on mips*.')).toMatchObject({
      name: 'Fix ld pr11138 FAILures on mips*.',
      prefixes: ['Patch'],
      tags: [],
    });
    expect(parseSubject('[Patch 2/2]: powerpc/hotplug/mm: foo')).toMatchObject({ name: 'powerpc/hotplug/mm: foo', number: 2, total: 2 });
  });

  it('git pull prefixes stay as tags, the name is the subject without them', () => {
    expect(parseSubject('[git pull] Please pull powerpc.git next branch')).toMatchObject({
      name: 'Please pull powerpc.git next branch',
      tags: ['git', 'pull'],
    });
    expect(parseSubject('[GIT PULL] soc: updates for v5.5')).toMatchObject({ name: 'soc: updates for v5.5', tags: ['git', 'pull'], version: 1 });
  });

  it('empty subject', () => {
    expect(parseSubject('')).toMatchObject({ raw: '', name: '', prefixes: [], version: 1, number: null });
  });
});
