// `patchgate am` against b4's own git-am references (shared/corpus/b4, test_followup_trailers):
// the output must equal b4's `-ref-*.txt` byte for byte.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
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

/**
 * The commit messages b4 leaves after applying a thread with its follow-up trailers (test_ez.py
 * test_trailers, `.verify` = `git log --format=%ae%n%s%n%b`, newest first) against what our mbox would
 * commit: author, subject without its prefix, and the message above the patch.
 */
function commitsOf(mbox: string): string[] {
  return mbox.split(/^From git@z .*\n/m).filter(Boolean).map((msg) => {
    const head = msg.slice(0, msg.indexOf('\n\n'));
    const body = msg.slice(msg.indexOf('\n\n') + 2);
    const email = /^From: .*<([^>]+)>$/m.exec(head)![1];
    const subject = /^Subject: \[[^\]]*\] (.*)$/m.exec(head)![1];
    const message = body.split(/^(?:---\n|diff --git )/m)[0]!.replace(/\s+$/, '');
    return `${email}\n${subject}\n${message}`;
  });
}

describe('patchgate am: commit messages match b4 trailers --update (.verify)', () => {
  it.each([
    ['trailers-thread-with-followups.mbox', 'trailers-thread-with-followups.verify'],
    ['trailers-thread-with-cover-followup.mbox', 'trailers-thread-with-cover-followup.verify'],
  ])('%s', async (source, verify) => {
    const r = await runCli(['am', '--workers', '0', ...MYSOB, path.join(b4, source)]);
    expect(r.code).toBe(0);
    const want = readFileSync(path.join(b4, verify), 'utf8').replace(/\n---\n$/, '').split('\n---\n').reverse()
      .map((c) => c.replace(/\s+$/, ''));
    expect(commitsOf(r.stdout)).toEqual(want);
  });
});

describe('patchgate am: git am takes the output', () => {
  it('a format-patch series with follow-ups applies, trailers in the commits', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'patchgate-am-'));
    try {
      const git = (...args: string[]) => execFileSync('git', ['-C', path.join(dir, 'repo'), ...args], {
        encoding: 'utf8',
        env: { ...process.env, GIT_AUTHOR_NAME: 'A U Thor', GIT_AUTHOR_EMAIL: 'author@example.org',
          GIT_COMMITTER_NAME: 'C O Mitter', GIT_COMMITTER_EMAIL: 'committer@example.org',
          GIT_CONFIG_NOSYSTEM: '1', HOME: dir },
      });
      execFileSync('git', ['init', '-q', '-b', 'main', path.join(dir, 'repo')]);
      writeFileSync(path.join(dir, 'repo', 'tun.c'), 'int a;\nint b;\nint c;\n');
      git('add', '.');
      git('commit', '-q', '-m', 'base');
      const base = git('rev-parse', 'HEAD').trim();
      writeFileSync(path.join(dir, 'repo', 'tun.c'), 'int a;\nint b2;\nint c;\n');
      git('commit', '-q', '-a', '-s', '-m', 'tun: rename b\n\nBecause.');
      writeFileSync(path.join(dir, 'repo', 'tun.c'), 'int a;\nint b2;\nint c2;\n');
      git('commit', '-q', '-a', '-s', '-m', 'tun: rename c\n\nAlso.');
      const want = git('rev-parse', 'HEAD^{tree}').trim();
      const patches = git('format-patch', '--stdout', '--cover-letter', '--thread=shallow', '-2', 'HEAD');
      const ids = [...patches.matchAll(/^Message-ID: <([^>]+)>$/gim)].map((m) => m[1]!);
      expect(ids).toHaveLength(3);
      const reply = (id: string, n: string, body: string) => [
        'From nobody Thu Jan  1 00:00:00 1970',
        'From: Re Viewer <reviewer@example.org>',
        `Subject: Re: [PATCH ${n}] tun`,
        'Date: Mon, 2 Sep 2024 10:00:00 +0000',
        `Message-ID: <reply-${n.replace('/', '-')}@example.org>`,
        `In-Reply-To: <${id}>`,
        `References: <${ids[0]}> <${id}>`,
        '',
        body,
        '',
      ].join('\n');
      const mbox = patches + '\n' + reply(ids[2]!, '2/2', '> Also.\n\nTested-by: Re Viewer <reviewer@example.org>\n')
        + reply(ids[0]!, '0/2', 'Reviewed-by: Re Viewer <reviewer@example.org>\n');
      writeFileSync(path.join(dir, 'thread.mbox'), mbox);
      const r = await runCli(['am', '--workers', '0', '--add-link', path.join(dir, 'thread.mbox')]);
      expect(r.code).toBe(0);
      writeFileSync(path.join(dir, 'am.mbox'), r.stdout);

      git('checkout', '-q', '-b', 'applied', base);
      git('am', '-q', path.join(dir, 'am.mbox'));
      expect(git('rev-parse', 'HEAD^{tree}').trim()).toBe(want);
      const log = git('log', '--format=%an <%ae>%n%B---', `${base}..HEAD`);
      expect(log).toBe([
        'A U Thor <author@example.org>',
        'tun: rename c',
        '',
        'Also.',
        '',
        'Signed-off-by: C O Mitter <committer@example.org>',
        'Tested-by: Re Viewer <reviewer@example.org>',
        'Reviewed-by: Re Viewer <reviewer@example.org>',
        `Link: https://patch.msgid.link/${ids[2]}`,
        '---',
        'A U Thor <author@example.org>',
        'tun: rename b',
        '',
        'Because.',
        '',
        'Signed-off-by: C O Mitter <committer@example.org>',
        'Reviewed-by: Re Viewer <reviewer@example.org>',
        `Link: https://patch.msgid.link/${ids[1]}`,
        '---',
        '',
      ].join('\n'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
