// `patchgate am` against b4's own git-am references (shared/corpus/b4, test_followup_trailers):
// the output must equal b4's `-ref-*.txt` byte for byte.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { corpusDir } from '../helpers/archive.js';
import { runCli } from '../helpers/cli.js';

const b4 = path.join(corpusDir, 'b4');
const MYSOB = ['--add-my-sob', 'Test Override <test-override@example.com>'];

/** [source mbox, reference, flags] as in b4's test_followup_trailers parametrisation. */
const CASES: Array<[string, string, string[]]> = [
  ['single', 'defaults', []],
  ['single', 'noadd', ['--no-add-trailers']],
  ['single', 'addmysob', [...MYSOB]],
  ['single', 'copyccs', [...MYSOB, '--copy-ccs']],
  ['single', 'addlink', [...MYSOB, '--add-link']],
  ['single', 'addmsgid', [...MYSOB, '--add-link', '--link-mask', 'Message-ID: <%s>']],
  ['single', 'ordered', [...MYSOB, '--copy-ccs', '--trailer-order', 'Cc,Tested*,Reviewed*,*']],
  ['single', 'sloppy', [...MYSOB, '--sloppy-trailers']],
  ['with-cover', 'defaults', [...MYSOB]],
  ['with-cover', 'addlink', [...MYSOB, '--add-link']],
  ['custody', 'unordered', [...MYSOB, '--copy-ccs']],
  ['custody', 'ordered', [...MYSOB, '--copy-ccs', '--trailer-order', 'Cc,Fixes*,Link*,Suggested*,Reviewed*,Tested*,*']],
  ['custody', 'with-ignored', [...MYSOB, '--copy-ccs', '--ignore-trailers-from', 'followup-reviewer1@example.com']],
  ['partial-reroll', 'defaults', [...MYSOB]],
  ['nore', 'defaults', []],
  ['non-git-patch', 'defaults', []],
  ['non-git-patch-with-comments', 'defaults', []],
  ['with-diffstat', 'defaults', []],
  ['name-parens', 'defaults', []],
  ['bare-address', 'defaults', []],
  ['stripped-lines', 'defaults', []],
  ['htmljunk', 'defaults', []],
];

/** The trailer block of each message in a git-am mbox: the lines of the paragraph that ends the commit message. */
function trailerBlocks(mbox: string): string[][] {
  return mbox.split(/^From git@z .*\n/m).filter(Boolean).map((msg) => {
    const body = msg.slice(msg.indexOf('\n\n') + 2);
    const top = body.split(/^(?:---\n|diff |--- a\/)/m)[0]!.replace(/\n+$/, '');
    const paras = top.split('\n\n');
    return paras[paras.length - 1]!.split('\n');
  });
}

describe('patchgate am: b4 trailer references, byte for byte', () => {
  it.each(CASES)('trailers-followup-%s -ref-%s', async (source, reference, flags) => {
    const mbox = path.join(b4, `trailers-followup-${source}.mbox`);
    const want = readFileSync(path.join(b4, `trailers-followup-${source}-ref-${reference}.txt`), 'utf8');
    const r = await runCli(['am', '--workers', '0', ...flags, mbox]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // The trailer blocks first, for a readable failure; then the whole mbox.
    expect(trailerBlocks(r.stdout)).toEqual(trailerBlocks(want));
    expect(r.stdout).toBe(want);
  });
});

describe('patchgate am: behaviour around the references', () => {
  it('my sign-off already in the patch is moved to the end, never doubled', async () => {
    const r = await runCli(['am', '--workers', '0', ...MYSOB, path.join(b4, 'trailers-followup-custody.mbox')]);
    const sobs = r.stdout.split('\n').filter((l) => l === 'Signed-off-by: Test Override <test-override@example.com>');
    expect(sobs).toHaveLength(1);
    const block = trailerBlocks(r.stdout)[0]!;
    expect(block[block.length - 1]).toBe('Signed-off-by: Test Override <test-override@example.com>');
  });

  it('--add-link does not duplicate a Link already in the patch (b4 shazam with-link)', async () => {
    const plain = await runCli(['am', '--workers', '0', '--add-link', path.join(b4, 'shazam-git1-just-series.mbox')]);
    const linked = await runCli(['am', '--workers', '0', '--add-link', path.join(b4, 'shazam-git1-with-link.mbox')]);
    const blocks = trailerBlocks(plain.stdout);
    expect(blocks).toHaveLength(4);
    blocks.forEach((block, i) => {
      expect(block).toEqual([
        'Signed-off-by: Konstantin Ryabitsev <konstantin@linuxfoundation.org>',
        `Link: https://patch.msgid.link/20221025-test1-v1-${i + 1}-e4f28f57990c@linuxfoundation.org`,
      ]);
    });
    expect(trailerBlocks(linked.stdout)).toEqual(blocks);
  });
});
