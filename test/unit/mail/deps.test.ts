import { describe, expect, it } from 'vitest';
import { parseDependencies } from '../../../src/mail/deps.js';
import { parseMessage } from '../../../src/mail/parse.js';
import { corpusFile, makeMail, splitMbox } from './corpus.js';

describe('parseDependencies', () => {
  it('git format-patch --base and b4 prerequisites', () => {
    const text = [
      'base-commit: 0123456789abcdef0123456789abcdef01234567',
      'prerequisite-patch-id: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
      'prerequisite-patch-id: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
      'prerequisite-message-id: <20240101.1@example.org>',
      'prerequisite-message-id: 20240101.2@example.org',
    ].join('\n');
    expect(parseDependencies(text)).toEqual({
      baseCommit: '0123456789abcdef0123456789abcdef01234567',
      prerequisitePatchIds: ['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'],
      prerequisiteMessageIds: ['<20240101.1@example.org>', '<20240101.2@example.org>'],
      dependsOn: [],
      basedOn: [],
    });
  });

  it('Depends-on takes a msgid, a series URL or a patch URL; garbage gives nothing', () => {
    const d = parseDependencies(
      [
        'Depends-on: <20240611160854.192806-1-ahassick@iol.unh.edu>',
        'Depends-on: https://patchwork.dpdk.org/project/dpdk/list/?series=123',
        'Depends-on: http://test/project/p/patch/<a@b>/',
        'Depends-on: not-an-id-or-url',
        'Depends-on:',
      ].join('\n'),
    );
    expect(d.dependsOn).toEqual([
      '<20240611160854.192806-1-ahassick@iol.unh.edu>',
      'https://patchwork.dpdk.org/project/dpdk/list/?series=123',
      'http://test/project/p/patch/<a@b>/',
    ]);
    expect(parseDependencies('Depends-on: not-an-id-or-url').dependsOn).toEqual([]);
  });

  it("QEMU's Based-on, quoted lines ignored, case-insensitive keys", () => {
    const d = parseDependencies('Based-on: <20200101.abc@x.org> ([PATCH v2] foo)\n> Depends-on: <q@x>\nDEPENDS-ON: <z@x>\n');
    expect(d.basedOn).toEqual(['<20200101.abc@x.org> ([PATCH v2] foo)']);
    expect(d.dependsOn).toEqual(['<z@x>']);
  });

  it('dependency lines inside the diff are not dependencies', async () => {
    const diff = 'diff --git a/x b/x\nindex 1..2 100644\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+base-commit: 1234567\n';
    const p = await parseMessage(makeMail('msg\n---\n' + diff + '\nbase-commit: abcdef0123456789\n-- \n2.40.0\n'));
    expect(p.deps.baseCommit).toBe('abcdef0123456789');
  });
});

describe('patchwork dependency templates (series/)', () => {
  const fill = (name: string, tokens: Record<string, string>): Buffer => {
    let text = corpusFile('series', name).toString('utf8');
    for (const [k, v] of Object.entries(tokens)) text = text.replaceAll(`{${k}}`, v);
    return Buffer.from(text);
  };

  it('one-cover: the cover carries Depends-on', async () => {
    const msgs = splitMbox(fill('dependency-one-cover.mbox.template', { depends_token: '<20240611160854.192806-3@iol.unh.edu>' }));
    const parsed = await Promise.all(msgs.map((m) => parseMessage(m)));
    expect(parsed[0].kind).toBe('cover');
    expect(parsed[0].deps.dependsOn).toEqual(['<20240611160854.192806-3@iol.unh.edu>']);
    expect(parsed.slice(1).every((p) => p.deps.dependsOn.length === 0)).toBe(true);
  });

  it('one-first-patch: Depends-on in the commit message of patch 1/2', async () => {
    const url = 'http://test/project/test-project/list/?series=1';
    const parsed = await Promise.all(splitMbox(fill('dependency-one-first-patch.mbox.template', { depends_token: url })).map((m) => parseMessage(m)));
    const withDeps = parsed.filter((p) => p.deps.dependsOn.length);
    expect(withDeps).toHaveLength(1);
    expect(withDeps[0].deps.dependsOn).toEqual([url]);
  });

  it('multi / multi-2: two Depends-on lines, in order', async () => {
    const tokens = { depends_token_1: '<one@x.org>', depends_token_2: '<two@x.org>' };
    const multi = await Promise.all(splitMbox(fill('dependency-multi.mbox.template', tokens)).map((m) => parseMessage(m)));
    expect(multi[0].deps.dependsOn).toEqual(['<one@x.org>', '<two@x.org>']);
    const multi2 = await Promise.all(splitMbox(fill('dependency-multi-2.mbox.template', tokens)).map((m) => parseMessage(m)));
    expect(multi2.map((p) => p.deps.dependsOn)).toEqual([[], ['<one@x.org>'], ['<two@x.org>']]);
  });
});
