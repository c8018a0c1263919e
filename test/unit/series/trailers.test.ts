import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { splitMbox } from '../../../src/ingest/mbox.js';
import { parseTrailers } from '../../../src/mail/trailers.js';
import type { ParsedMessage } from '../../../src/mail/types.js';
import { collectFollowupTrailers, trailerMismatches } from '../../../src/series/trailers.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const corpus = path.resolve(repoRoot, '..', 'shared', 'corpus', 'b4');

/**
 * The fields collectFollowupTrailers reads (From, msgid, body, own trailers), taken from the plain
 * 7-bit sample messages directly so that this test depends only on the trailer code.
 */
function load(name: string): ParsedMessage[] {
  return splitMbox(readFileSync(path.join(corpus, name))).map((buf) => {
    const raw = buf.toString('utf8').replace(/^From .*\n/, '');
    const at = raw.indexOf('\n\n');
    const head = raw.slice(0, at).replace(/\n[ \t]+/g, ' ');
    const body = raw.slice(at + 2);
    const header = (n: string) => new RegExp(`^${n}:\\s*(.*)$`, 'im').exec(head)?.[1] ?? '';
    const from = /^(.*?)\s*<([^>]+)>$/.exec(header('From'))!;
    const message = body.split(/^---$/m)[0]!;
    return {
      msgid: header('Message-Id'),
      from: { name: from[1]!, email: from[2]! },
      inReplyTo: header('In-Reply-To') || null,
      body,
      message,
      trailers: parseTrailers(message),
    } as unknown as ParsedMessage;
  });
}

const lines = (ts: { name: string; value: string }[]) => ts.map((t) => `${t.name}: ${t.value}`);

describe('collectFollowupTrailers (b4 test_followup_trailers inputs)', () => {
  it('single: takes unquoted, matching trailers in arrival order', () => {
    const [patch, ...followups] = load('trailers-followup-single.mbox');
    const got = collectFollowupTrailers(patch!, followups, { sloppy: false });
    expect(lines(got)).toEqual([
      'Reviewed-by: Followup Reviewer1 <followup-reviewer1@example.com>',
      'Tested-by: Followup Reviewer2 <followup-reviewer2@example.com>',
    ]);
    expect(got.map((t) => t.from)).toEqual(['<fwup-message-1@example.com>', '<fwup-message-2@example.com>']);
  });

  it('single, sloppy: the mismatched address is accepted too', () => {
    const [patch, ...followups] = load('trailers-followup-single.mbox');
    expect(lines(collectFollowupTrailers(patch!, followups, { sloppy: true }))).toEqual([
      'Reviewed-by: Followup Reviewer1 <followup-reviewer1@example.com>',
      'Tested-by: Followup Reviewer2 <followup-reviewer2@example.com>',
      'Reviewed-by: Mismatched Reviewer1 <mismatched-reviewer1@example.net>',
    ]);
  });

  it('custody: ignoreFrom drops a sender', () => {
    const [patch, ...followups] = load('trailers-followup-custody.mbox');
    const got = collectFollowupTrailers(patch!, followups, { sloppy: false, ignoreFrom: ['followup-reviewer1@example.com'] });
    expect(lines(got)).toEqual(['Tested-by: Followup Reviewer2 <followup-reviewer2@example.com>']);
  });

  it('name-parens: names with (corporate), [corporate] and commas are kept verbatim', () => {
    const [patch, ...followups] = load('trailers-followup-name-parens.mbox');
    expect(lines(collectFollowupTrailers(patch!, followups, { sloppy: false }))).toEqual([
      'Reviewed-by: Followup Reviewer1 (corporate) <followup-reviewer1@example.com>',
      'Tested-by: Followup Reviewer2 <followup-reviewer2@example.com>',
      'Tested-by: Followup Tester1 [corporate] <followup-tester1@example.com>',
      'Tested-by: Tester2, Followup <followup-tester2@example.com>',
    ]);
  });

  it('htmljunk: the mailto junk is cleaned', () => {
    const [patch, ...followups] = load('trailers-followup-htmljunk.mbox');
    expect(lines(collectFollowupTrailers(patch!, followups, { sloppy: false }))).toEqual([
      'Reviewed-by: HTML Junker <html-junker@example.com>',
    ]);
  });

  it('with-cover: the cover letter collects its own follow-up only', () => {
    const [cover, p1, p2, f1, f2] = load('trailers-followup-with-cover.mbox');
    expect(lines(collectFollowupTrailers(cover!, [f2!], { sloppy: false }))).toEqual([
      'Reviewed-by: Coverletter Reviewer1 <followup-reviewer1@example.com>',
    ]);
    expect(lines(collectFollowupTrailers(p2!, [f1!], { sloppy: false }))).toEqual([
      'Reviewed-by: Followup Reviewer1 <followup-reviewer1@example.com>',
    ]);
    expect(collectFollowupTrailers(p1!, [], { sloppy: false })).toEqual([]);
  });

  it('does not duplicate a trailer already on the patch or sent twice', () => {
    const [patch, f1] = load('trailers-followup-single.mbox');
    const again = { ...f1!, msgid: '<again@example.com>' } as ParsedMessage;
    const restating = { ...f1!, msgid: '<r@example.com>', body: 'Reviewed-by: Original Reviewer <original-reviewer@example.com>\n' } as ParsedMessage;
    expect(lines(collectFollowupTrailers(patch!, [f1!, again, restating], { sloppy: false }))).toEqual([
      'Reviewed-by: Followup Reviewer1 <followup-reviewer1@example.com>',
    ]);
  });
});

describe('trailerMismatches (b4 test_mismatched_trailer_already_on_patch_is_not_flagged)', () => {
  it('flags only the Tested-by; restated trailers already on the patch are not flagged', () => {
    const [patch, ...followups] = load('trailers-followup-already-present.mbox');
    const mismatches = trailerMismatches(patch!, followups, { sloppy: false });
    expect(new Set(mismatches.map((m) => m.name))).toEqual(new Set(['Tested-by']));
    expect(mismatches[0]).toMatchObject({
      value: 'Someone Else <someone-else@example.com>',
      fromEmail: 'mismatched-reviewer1@example.net',
      msgid: '<fwup-message-2@example.com>',
    });
    // and nothing new is collected: the restatements are duplicates, the Tested-by is not the sender's
    expect(collectFollowupTrailers(patch!, followups, { sloppy: false })).toEqual([]);
  });

  it('single: the .net address sent from .com is a mismatch', () => {
    const [patch, ...followups] = load('trailers-followup-single.mbox');
    expect(lines(trailerMismatches(patch!, followups, { sloppy: false }))).toEqual([
      'Reviewed-by: Mismatched Reviewer1 <mismatched-reviewer1@example.net>',
    ]);
    expect(trailerMismatches(patch!, followups, { sloppy: true })).toEqual([]);
  });
});
