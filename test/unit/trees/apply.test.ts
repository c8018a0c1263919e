// The pure parts of apply: reading git's output, finding the failing hunk, branch names.
import { describe, expect, it } from 'vitest';
import { bareSubject, describeConflict, findHunk, patchFiles, resultBranch } from '../../../src/trees/apply.js';

const MBOX = `From 5f3c2a1d Mon Sep 17 00:00:00 2001
From: Ada Author <ada@example.org>
Date: Tue, 14 Nov 2023 22:14:20 +0000
Subject: [PATCH net-next 2/3] tun: tidy up tun_get_user

Signed-off-by: Ada Author <ada@example.org>
---
 drivers/net/tun.c   | 4 ++--
 drivers/vhost/net.c | 2 +-
 2 files changed, 3 insertions(+), 3 deletions(-)

diff --git a/drivers/net/tun.c b/drivers/net/tun.c
index 1111111..2222222 100644
--- a/drivers/net/tun.c
+++ b/drivers/net/tun.c
@@ -10,7 +10,7 @@ static int tun_a(void)
 \tline_10();
 \tline_11();
 \tline_12();
-\tline_13();
+\tline_13_new();
 \tline_14();
 \tline_15();
 \tline_16();
@@ -1234,7 +1234,7 @@ static ssize_t tun_get_user(struct tun_struct *tun)
 \tline_1234();
 \tline_1235();
 \tline_1236();
-\tline_1237();
+\tline_1237_new();
 \tline_1238();
 \tline_1239();
 \tline_1240();
diff --git a/drivers/vhost/net.c b/drivers/vhost/net.c
index 3333333..4444444 100644
--- a/drivers/vhost/net.c
+++ b/drivers/vhost/net.c
@@ -1234,3 +1234,3 @@ static void handle_tx(struct vhost_net *net)
 \tvq_1();
-\tvq_2();
+\tvq_2_new();
 \tvq_3();
-- 
2.39.5

`;

describe('patchFiles', () => {
  it('lists the b/ paths in diff order', () => {
    expect(patchFiles(MBOX)).toEqual(['drivers/net/tun.c', 'drivers/vhost/net.c']);
  });
});

describe('findHunk', () => {
  it('takes the hunk of the named file starting at the named line, not a same-line hunk of another file', () => {
    const hunk = findHunk(MBOX, 'drivers/net/tun.c', 1234)!;
    expect(hunk.split('\n')[0]).toBe('@@ -1234,7 +1234,7 @@ static ssize_t tun_get_user(struct tun_struct *tun)');
    expect(hunk).toContain('+\tline_1237_new();');
    expect(hunk).not.toContain('vq_2');
    expect(findHunk(MBOX, 'drivers/vhost/net.c', 1234)!.split('\n')).toHaveLength(5);
    expect(findHunk(MBOX, 'drivers/net/tun.c', 10)!.split('\n')[0]).toMatch(/^@@ -10,7/);
    expect(findHunk(MBOX, 'net/core/dev.c', 10)).toBeNull();
  });
});

describe('describeConflict', () => {
  it('names files and hunk from a plain failure plus the 3-way conflict', () => {
    // stderr of `git apply --check -v` and `git am --3way` (git 2.39, LC_ALL=C)
    const output = [
      'Checking patch drivers/net/tun.c...',
      'error: while searching for:',
      '\tline_1234();',
      '',
      'error: patch failed: drivers/net/tun.c:1234',
      'error: drivers/net/tun.c: patch does not apply',
      'Applying: tun: tidy up tun_get_user',
      'Using index info to reconstruct a base tree...',
      'M\tdrivers/net/tun.c',
      'Falling back to patching base and 3-way merge...',
      'Auto-merging drivers/net/tun.c',
      'CONFLICT (content): Merge conflict in drivers/net/tun.c',
      'error: Failed to merge in the changes.',
      'Patch failed at 0001 tun: tidy up tun_get_user',
    ].join('\n');
    const c = describeConflict(output, MBOX);
    expect(c.files).toEqual(['drivers/net/tun.c']);
    expect(c.detail).toBe(
      'error: patch failed: drivers/net/tun.c:1234; CONFLICT (content): Merge conflict in drivers/net/tun.c' +
        ' (hunk @@ -1234,7 +1234,7 @@ static ssize_t tun_get_user(struct tun_struct *tun))',
    );
    expect(c.hunk).toContain('-\tline_1237();');
  });

  it('reports a missing blob for 3-way and a missing file', () => {
    const c = describeConflict(
      'error: sha1 information is lacking or useless (drivers/vhost/net.c).\nerror: could not build fake ancestor\n' +
        'error: drivers/net/tun.c: does not exist in index\n',
      MBOX,
    );
    expect(c.files).toEqual(['drivers/vhost/net.c', 'drivers/net/tun.c']);
    expect(c.hunk).toBeNull();
  });

  it('names the file of a modify/delete conflict', () => {
    const c = describeConflict('CONFLICT (modify/delete): drivers/net/tun.c deleted in HEAD and modified in tun: tidy up.\n', MBOX);
    expect(c.files).toEqual(['drivers/net/tun.c']);
  });

  it('keeps git’s first error line when nothing else is recognised', () => {
    expect(describeConflict('Applying: x\nerror: something new\n', MBOX).detail).toBe('error: something new');
    expect(describeConflict('Patch format detection failed.\n', MBOX).detail).toBe('Patch format detection failed.');
  });
});

describe('resultBranch and bareSubject', () => {
  it('builds patchgate/<series-id>/v<rev> that git accepts', () => {
    expect(resultBranch('20231114-tun-tidy-v2-ada@example.org', 2)).toBe('patchgate/20231114-tun-tidy-v2-ada@example.org/v2');
    expect(resultBranch('a b:c~d^e..f', 1)).toBe('patchgate/a-b-c-d-e-f/v1');
    expect(resultBranch('<msg@id>', 3)).toBe('patchgate/msg@id/v3');
  });
  it('drops reply markers and bracket prefixes', () => {
    expect(bareSubject('Re: [PATCH net-next v2 2/3] tun:  tidy up')).toBe('tun: tidy up');
    expect(bareSubject('tun: tidy up')).toBe('tun: tidy up');
  });
});
