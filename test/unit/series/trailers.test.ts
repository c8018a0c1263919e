import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { splitMbox } from '../../../src/ingest/mbox.js';
import { parseMessage } from '../../../src/mail/parse.js';
import type { ParsedMessage } from '../../../src/mail/types.js';
import { collectFollowupTrailers, trailerMismatches } from '../../../src/series/trailers.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const corpus = path.resolve(repoRoot, '..', 'shared', 'corpus', 'b4');

async function load(name: string): Promise<ParsedMessage[]> {
  return Promise.all(splitMbox(readFileSync(path.join(corpus, name))).map((buf) => parseMessage(buf)));
}

const lines = (ts: { name: string; value: string }[]) => ts.map((t) => `${t.name}: ${t.value}`);

describe('collectFollowupTrailers (b4 test_followup_trailers inputs)', () => {
  it('single: takes unquoted, matching trailers in arrival order', async () => {
    const [patch, ...followups] = await load('trailers-followup-single.mbox');
    const got = collectFollowupTrailers(patch!, followups, { sloppy: false });
    expect(lines(got)).toEqual([
      'Reviewed-by: Followup Reviewer1 <followup-reviewer1@example.com>',
      'Tested-by: Followup Reviewer2 <followup-reviewer2@example.com>',
    ]);
    expect(got.map((t) => t.from)).toEqual(['<fwup-message-1@example.com>', '<fwup-message-2@example.com>']);
  });

  it('single, sloppy: the mismatched address is accepted too', async () => {
    const [patch, ...followups] = await load('trailers-followup-single.mbox');
    expect(lines(collectFollowupTrailers(patch!, followups, { sloppy: true }))).toEqual([
      'Reviewed-by: Followup Reviewer1 <followup-reviewer1@example.com>',
      'Tested-by: Followup Reviewer2 <followup-reviewer2@example.com>',
      'Reviewed-by: Mismatched Reviewer1 <mismatched-reviewer1@example.net>',
    ]);
  });

  it('custody: ignoreFrom drops a sender', async () => {
    const [patch, ...followups] = await load('trailers-followup-custody.mbox');
    const got = collectFollowupTrailers(patch!, followups, { sloppy: false, ignoreFrom: ['followup-reviewer1@example.com'] });
    expect(lines(got)).toEqual(['Tested-by: Followup Reviewer2 <followup-reviewer2@example.com>']);
  });

  it('name-parens: names with (corporate), [corporate] and commas are kept verbatim', async () => {
    const [patch, ...followups] = await load('trailers-followup-name-parens.mbox');
    expect(lines(collectFollowupTrailers(patch!, followups, { sloppy: false }))).toEqual([
      'Reviewed-by: Followup Reviewer1 (corporate) <followup-reviewer1@example.com>',
      'Tested-by: Followup Reviewer2 <followup-reviewer2@example.com>',
      'Tested-by: Followup Tester1 [corporate] <followup-tester1@example.com>',
      'Tested-by: Tester2, Followup <followup-tester2@example.com>',
    ]);
  });

  it('htmljunk: the mailto junk is cleaned', async () => {
    const [patch, ...followups] = await load('trailers-followup-htmljunk.mbox');
    expect(lines(collectFollowupTrailers(patch!, followups, { sloppy: false }))).toEqual([
      'Reviewed-by: HTML Junker <html-junker@example.com>',
    ]);
  });

  it('with-cover: the cover letter collects its own follow-up only', async () => {
    const [cover, p1, p2, f1, f2] = await load('trailers-followup-with-cover.mbox');
    expect(lines(collectFollowupTrailers(cover!, [f2!], { sloppy: false }))).toEqual([
      'Reviewed-by: Coverletter Reviewer1 <followup-reviewer1@example.com>',
    ]);
    expect(lines(collectFollowupTrailers(p2!, [f1!], { sloppy: false }))).toEqual([
      'Reviewed-by: Followup Reviewer1 <followup-reviewer1@example.com>',
    ]);
    expect(collectFollowupTrailers(p1!, [], { sloppy: false })).toEqual([]);
  });

  it('does not duplicate a trailer already on the patch or sent twice', async () => {
    const [patch, f1] = await load('trailers-followup-single.mbox');
    const again = { ...f1!, msgid: '<again@example.com>' } as ParsedMessage;
    const restating = { ...f1!, msgid: '<r@example.com>', body: 'Reviewed-by: Original Reviewer <original-reviewer@example.com>\n' } as ParsedMessage;
    expect(lines(collectFollowupTrailers(patch!, [f1!, again, restating], { sloppy: false }))).toEqual([
      'Reviewed-by: Followup Reviewer1 <followup-reviewer1@example.com>',
    ]);
  });
});

describe('trailerMismatches (b4 test_mismatched_trailer_already_on_patch_is_not_flagged)', () => {
  it('flags only the Tested-by; restated trailers already on the patch are not flagged', async () => {
    const [patch, ...followups] = await load('trailers-followup-already-present.mbox');
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

  it('single: the .net address sent from .com is a mismatch', async () => {
    const [patch, ...followups] = await load('trailers-followup-single.mbox');
    expect(lines(trailerMismatches(patch!, followups, { sloppy: false }))).toEqual([
      'Reviewed-by: Mismatched Reviewer1 <mismatched-reviewer1@example.net>',
    ]);
    expect(trailerMismatches(patch!, followups, { sloppy: true })).toEqual([]);
  });
});
