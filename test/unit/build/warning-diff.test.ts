import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../../../src/build/diagnostics.js';
import { diffDiagnostics, lineMapperFromDiff, mapLine, parseUnifiedDiff } from '../../../src/build/warning-diff.js';

function w(file: string, line: number, flag: string, message: string): Diagnostic {
  return { file, line, column: 5, severity: 'warning', flag, message, unit: file.replace(/\.c$/, '.o') };
}

// 3 lines inserted after line 10 of tun.c, line 50 rewritten, line 80 deleted
const PATCH = `diff --git a/drivers/net/tun.c b/drivers/net/tun.c
index 1111111..2222222 100644
--- a/drivers/net/tun.c
+++ b/drivers/net/tun.c
@@ -9,3 +9,6 @@ static int a;
 int x;
 int y;
+int n1;
+int n2;
+int n3;
 int z;
@@ -48,5 +51,5 @@ static int b;
 int p;
 int q;
-int old;
+int new;
 int r;
 int s;
@@ -78,5 +81,4 @@ static int c;
 int k;
 int l;
-int gone;
 int m;
 int o;
`;

describe('line mapping through hunks', () => {
  const [file] = parseUnifiedDiff(PATCH);
  it('shifts lines below an insertion and keeps lines above it', () => {
    expect(mapLine(file.hunks, 5)).toBe(5);
    expect(mapLine(file.hunks, 10)).toBe(10);
    expect(mapLine(file.hunks, 11)).toBe(14);
    expect(mapLine(file.hunks, 30)).toBe(33);
  });
  it('has no image for rewritten or deleted lines, and shifts back after a deletion', () => {
    expect(mapLine(file.hunks, 50)).toBeNull();
    expect(mapLine(file.hunks, 51)).toBe(54);
    expect(mapLine(file.hunks, 80)).toBeNull();
    expect(mapLine(file.hunks, 81)).toBe(83);
    expect(mapLine(file.hunks, 200)).toBe(202);
  });
  it('handles zero-length hunks (pure insertion / removal, -U0 style)', () => {
    const [f] = parseUnifiedDiff('diff --git a/x.c b/x.c\n--- a/x.c\n+++ b/x.c\n@@ -5,0 +6,2 @@\n+a\n+b\n@@ -20,2 +21,0 @@\n-c\n-d\n');
    expect(mapLine(f.hunks, 5)).toBe(5);
    expect(mapLine(f.hunks, 6)).toBe(8);
    expect(mapLine(f.hunks, 20)).toBeNull();
    expect(mapLine(f.hunks, 22)).toBe(22);
  });
  it('follows renames and drops deleted files', () => {
    const m = lineMapperFromDiff('diff --git a/old.c b/new.c\nsimilarity index 100%\nrename from old.c\nrename to new.c\ndiff --git a/dead.c b/dead.c\ndeleted file mode 100644\n--- a/dead.c\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n');
    expect(m.map('old.c', 7)).toEqual({ file: 'new.c', line: 7 });
    expect(m.map('dead.c', 1)).toBeNull();
    expect(m.map('other.c', 3)).toEqual({ file: 'other.c', line: 3 });
  });
});

describe('diffDiagnostics: sets, not counts', () => {
  const mapper = lineMapperFromDiff(PATCH);

  it('a warning swapped for another with the same count is 1 new + 1 fixed', () => {
    const parent = [w('drivers/net/tun.c', 30, '-Wunused-variable', "unused variable 'a'"), w('drivers/net/tun.c', 90, '-Wunused-variable', "unused variable 'b'")];
    const child = [w('drivers/net/tun.c', 33, '-Wunused-variable', "unused variable 'a'"), w('drivers/net/tun.c', 95, '-Wunused-variable', "unused variable 'c'")];
    const d = diffDiagnostics(parent, child, mapper);
    expect(d.added.map((x) => x.message)).toEqual(["unused variable 'c'"]);
    expect(d.fixed.map((x) => x.message)).toEqual(["unused variable 'b'"]);
    expect(d.unchanged).toHaveLength(1);
  });

  it('line shifts from the patch do not make a warning new', () => {
    const parent = [w('drivers/net/tun.c', 11, '-Wformat', 'format mismatch'), w('drivers/net/tun.c', 200, '-Wformat', 'format mismatch')];
    const child = [w('drivers/net/tun.c', 14, '-Wformat', 'format mismatch'), w('drivers/net/tun.c', 202, '-Wformat', 'format mismatch')];
    const d = diffDiagnostics(parent, child, mapper);
    expect(d.added).toEqual([]);
    expect(d.fixed).toEqual([]);
  });

  it('the same message twice in a file: a third occurrence is new, and the shifted ones are not', () => {
    const parent = [w('drivers/net/tun.c', 11, '-Wformat', 'format mismatch'), w('drivers/net/tun.c', 60, '-Wformat', 'format mismatch')];
    const child = [w('drivers/net/tun.c', 12, '-Wformat', 'format mismatch'), w('drivers/net/tun.c', 14, '-Wformat', 'format mismatch'), w('drivers/net/tun.c', 63, '-Wformat', 'format mismatch')];
    const d = diffDiagnostics(parent, child, mapper);
    expect(d.added.map((x) => x.line)).toEqual([12]);
    expect(d.fixed).toEqual([]);
  });

  it('a warning on a rewritten line matches the same warning nearby (within the tolerance)', () => {
    const parent = [w('drivers/net/tun.c', 50, '-Wsign-compare', 'comparison of integer expressions of different signedness')];
    const child = [w('drivers/net/tun.c', 53, '-Wsign-compare', 'comparison of integer expressions of different signedness')];
    expect(diffDiagnostics(parent, child, mapper).added).toEqual([]);
    expect(diffDiagnostics(parent, child, mapper, { tolerance: 1 }).added).toHaveLength(1);
  });

  it('warnings in files the patch does not touch are matched 1:1 and a new flag on the same line is new', () => {
    const parent = [w('net/core/dev.c', 7, '-Wunused-function', "'f' defined but not used")];
    const child = [w('net/core/dev.c', 7, '-Wunused-function', "'f' defined but not used"), w('net/core/dev.c', 7, '-Wunused-label', "label 'out' defined but not used")];
    const d = diffDiagnostics(parent, child, mapper);
    expect(d.added.map((x) => x.flag)).toEqual(['-Wunused-label']);
  });

  it('repeats of one header warning from several objects count once', () => {
    const h = (unit: string): Diagnostic => ({ file: 'include/x.h', line: 3, column: 1, severity: 'warning', flag: '-Wfoo', message: 'm', unit });
    const d = diffDiagnostics([h('a.o')], [h('a.o'), h('b.o'), h('c.o')], mapper);
    expect(d.added).toEqual([]);
    expect(d.unchanged).toHaveLength(1);
  });
});
