// A realistic series against linux-source-6.1's drivers/net/tun.c and drivers/vhost/net.c, written
// the way a developer would (commits on the base) and turned into mail with git format-patch.
// Used by test/slow/apply-linux.test.ts and test/bench/apply.bench.ts.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { PatchToApply } from '../../src/trees/apply.js';

const AUTHOR = { GIT_AUTHOR_NAME: 'Ada Author', GIT_AUTHOR_EMAIL: 'ada@example.org', GIT_COMMITTER_NAME: 'Ada Author', GIT_COMMITTER_EMAIL: 'ada@example.org' };

function git(dir: string, args: string[], options: { input?: string; env?: Record<string, string>; raw?: boolean } = {}): string {
  const out = execFileSync('git', ['-C', dir, ...args], {
    input: options.input,
    env: { ...process.env, LC_ALL: 'C', ...AUTHOR, ...options.env },
    encoding: 'utf8',
    maxBuffer: 512 * 1024 * 1024,
  });
  return options.raw ? out : out.trim();
}

function replaceOnce(from: string, to: string): (text: string) => string {
  return (text) => {
    const at = text.indexOf(from);
    if (at < 0 || text.indexOf(from, at + 1) >= 0) throw new Error(`expected exactly one "${from.split('\n')[0]}"`);
    return text.slice(0, at) + to + text.slice(at + from.length);
  };
}

/** Commits edits to files of HEAD without a checkout (a temporary index). */
function commitEdits(repo: string, scratch: string, message: string, edits: Record<string, (text: string) => string>, date: number): string {
  const env = { GIT_INDEX_FILE: path.join(scratch, `index-${date}`), GIT_AUTHOR_DATE: `${date} +0100`, GIT_COMMITTER_DATE: `${date} +0100` };
  git(repo, ['read-tree', 'HEAD'], { env });
  for (const [file, edit] of Object.entries(edits)) {
    const before = git(repo, ['show', `HEAD:${file}`], { raw: true });
    const after = edit(before);
    if (after === before) throw new Error(`edit of ${file} changed nothing`);
    const blob = git(repo, ['hash-object', '-w', '--stdin'], { input: after });
    git(repo, ['update-index', '--cacheinfo', `100644,${blob},${file}`], { env });
  }
  const tree = git(repo, ['write-tree'], { env });
  const commit = git(repo, ['commit-tree', tree, '-p', 'HEAD', '-F', '-'], { input: message, env });
  git(repo, ['update-ref', 'HEAD', commit]);
  return commit;
}

const SOB = 'Signed-off-by: Ada Author <ada@example.org>\n';

const SERIES: Array<{ subject: string; body: string; edits: Record<string, (text: string) => string> }> = [
  {
    subject: 'tun: return -ENODEV when carrier goes up without queues',
    body: 'Bringing the carrier up on a tun device with no attached queue is not a\npermission problem: nothing can carry the traffic. Say so with -ENODEV.\n',
    edits: { 'drivers/net/tun.c': replaceOnce('\t\tif (!tun->numqueues)\n\t\t\treturn -EPERM;\n', '\t\tif (!tun->numqueues)\n\t\t\treturn -ENODEV;\n') },
  },
  {
    subject: 'tun: explain TUN_FLOW_EXPIRE',
    body: 'The constant is used by the flow GC timer only; say so where it is defined.\n',
    edits: { 'drivers/net/tun.c': replaceOnce('#define TUN_FLOW_EXPIRE (3 * HZ)\n', '/* Flows idle for this long are dropped by the flow GC timer. */\n#define TUN_FLOW_EXPIRE (3 * HZ)\n') },
  },
  {
    subject: 'vhost/net: make vhost_net_buf_is_empty() return bool',
    body: 'It answers a yes/no question.\n',
    edits: { 'drivers/vhost/net.c': replaceOnce('static int vhost_net_buf_is_empty(struct vhost_net_buf *rxq)\n', 'static bool vhost_net_buf_is_empty(struct vhost_net_buf *rxq)\n') },
  },
  {
    subject: 'tun: align the MAX_TAP_FLOWS define',
    body: 'Use a tab like the neighbouring defines.\n',
    edits: { 'drivers/net/tun.c': replaceOnce('#define MAX_TAP_FLOWS  4096\n', '#define MAX_TAP_FLOWS\t4096\n') },
  },
  {
    subject: 'vhost/net: document VHOST_GOODCOPY_LEN',
    body: 'Say what the threshold is for.\n',
    edits: { 'drivers/vhost/net.c': replaceOnce('#define VHOST_GOODCOPY_LEN 256\n', '/* Below this length, copying beats zerocopy transmission. */\n#define VHOST_GOODCOPY_LEN 256\n') },
  },
];

/**
 * Writes the first `count` (1-5) patches of the series in a shared clone of `mirror` under `scratch`
 * and returns them as git-am-ready mboxes.
 */
export function writeLinuxSeries(mirror: string, scratch: string, count: number): PatchToApply[] {
  const dev = path.join(scratch, 'dev');
  execFileSync('git', ['clone', '-q', '--shared', '--no-checkout', mirror, dev]);
  return SERIES.slice(0, count).map((p, i) => {
    const commit = commitEdits(dev, scratch, `${p.subject}\n\n${p.body}\n${SOB}`, p.edits, 1_700_000_000 + i * 60);
    return {
      msgid: `<20231114-tun-${i + 1}@example.org>`,
      subject: `[PATCH net-next ${i + 1}/${count}] ${p.subject}`,
      mbox: `${git(dev, ['format-patch', '--stdout', '-1', commit])}\n`,
    };
  });
}
