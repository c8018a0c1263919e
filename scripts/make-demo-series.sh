#!/usr/bin/env bash
# Produces config/demo/inbox.mbox, the main job's bundled mailbox: four series in `git format-patch
# --thread` form against the imported linux-source-6.1 tree (scripts/import-linux-source.sh), each
# with a fixed author, fixed dates and fixed Message-IDs, so the output is the same on every machine:
#
#   A  [PATCH net-next 0/2]  comment fixes in drivers/vhost/net.c and drivers/net/tun.c: passes
#   B  [PATCH net-next]      tun: keeps a variable it does not use yet: a new compiler warning
#   C  [PATCH net]           tun: made against a tun.c the 6.1 tree does not have: a conflict
#   D  [PATCH net-next]      virtio_net: a bounded poll per transmitted packet: a perf regression
#
# D is a prepared example: its extra work per packet (about 200 calls to virtqueue_is_broken())
# was sized from the perf gate's calibration kernels (scripts/perf-kernels.sh) to cost some 5-10%
# of the guest's CPU per TCP_RR transaction.
#
#   scripts/make-demo-series.sh [TREE] [OUT]
#
# TREE defaults to var/linux-source-6.1 (must be the import, commit a1ef26c2d4ea...), OUT to
# config/demo/inbox.mbox. Needs git, python3 and the tree's scripts/get_maintainer.pl.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TREE=$(cd "${1:-var/linux-source-6.1}" && pwd)
OUT=${2:-config/demo/inbox.mbox}
BASE=$(git -C "$TREE" rev-parse refs/heads/main)

export LC_ALL=C TZ=UTC GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
AUTHOR_NAME="Alex Demo"
AUTHOR_EMAIL="alex.demo@example.org"
export GIT_AUTHOR_NAME=$AUTHOR_NAME GIT_AUTHOR_EMAIL=$AUTHOR_EMAIL
export GIT_COMMITTER_NAME=$AUTHOR_NAME GIT_COMMITTER_EMAIL=$AUTHOR_EMAIL

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
git clone -q --shared --no-checkout "$TREE" "$WORK/linux"
L=$WORK/linux
g() { git -C "$L" -c core.hooksPath=/dev/null -c gc.auto=0 "$@"; }

# commit DATE MESSAGE: commits the worktree with fixed dates
commit() {
  GIT_AUTHOR_DATE="$1" GIT_COMMITTER_DATE="$1" g commit -q -a -F - <<<"$2"
}

# edit FILE OLD NEW: replaces exactly one occurrence of OLD (a Python string literal body) with NEW
edit() {
  python3 - "$L/$1" "$2" "$3" <<'PY'
import sys
path, old, new = sys.argv[1], sys.argv[2].encode().decode('unicode_escape'), sys.argv[3].encode().decode('unicode_escape')
s = open(path).read()
if s.count(old) != 1:
    sys.exit(f"{path}: expected one occurrence of {old!r}, found {s.count(old)}")
open(path, 'w').write(s.replace(old, new, 1))
PY
}

# maintainers FILE...: the addresses get_maintainer.pl names for the files (maintainers and lists)
maintainers() {
  (cd "$L" && perl scripts/get_maintainer.pl --no-rolestats --no-git --no-git-fallback --no-r --no-n -f "$@") |
    grep -v -x -i -e 'linux-kernel@vger.kernel.org' -e 'netdev@vger.kernel.org' | sed 's/^/--cc=/'
}

g checkout -q -f "$BASE"

# --- A: a 2-patch series with a cover letter that passes every gate --------------------------------
g checkout -q -b demo-a "$BASE"
edit drivers/vhost/net.c \
  '	 * use mutex_lock() here since we could not guarantee a\n	 * consistenet lock ordering.\n' \
  '	 * use mutex_lock() here since we could not guarantee a\n	 * consistent lock ordering.\n'
commit "2026-11-23T09:40:00+00:00" "vhost/net: fix a typo in vhost_net_busy_poll()

\"consistenet\" should be \"consistent\" in the comment on why the
paired virtqueue's mutex is only tried.

No functional change.

Signed-off-by: $AUTHOR_NAME <$AUTHOR_EMAIL>"
edit drivers/net/tun.c \
  ' * we do not check rxq no. is because some cards(e.g 82599), chooses\n' \
  ' * we do not check rxq no. is because some cards (e.g. 82599) choose\n'
edit drivers/net/tun.c \
  ' * the userspace application move between processors, we may get a\n' \
  ' * the userspace application moves between processors, we may get a\n'
commit "2026-11-23T09:42:00+00:00" "tun: fix grammar in the automq flow comment

The comment above tun_automq_select_queue() has a missing space, a
missing period in \"e.g.\" and two verbs that do not agree with their
subjects. Fix them; the comment keeps its lines.

No functional change.

Signed-off-by: $AUTHOR_NAME <$AUTHOR_EMAIL>"
A_CC=$(maintainers drivers/vhost/net.c drivers/net/tun.c)
mkdir -p "$WORK/a"
g format-patch -q --no-signature --cover-letter --thread=shallow --base="$BASE" --subject-prefix="PATCH net-next" \
  --to=netdev@vger.kernel.org $A_CC -o "$WORK/a" "$BASE..demo-a"
python3 - "$WORK/a/0000-cover-letter.patch" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
s = s.replace('*** SUBJECT HERE ***', 'vhost/net, tun: comment fixes')
s = s.replace('*** BLURB HERE ***', '''Two comment fixes found while reading the vhost-net and tun transmit
paths: a typo in vhost-net's busy-poll comment and the grammar of the
tun automq comment. Neither changes any code; each comment keeps its
number of lines.''')
open(p, 'w').write(s)
PY

# --- B: one patch that adds a compiler warning ---------------------------------------------------
g checkout -q -b demo-b "$BASE"
edit drivers/net/tun.c \
  '	struct tun_file *tfile;\n	int len = skb->len;\n\n	rcu_read_lock();\n	tfile = rcu_dereference(tun->tfiles[txq]);\n' \
  '	struct tun_file *tfile;\n	unsigned int orig_len = skb->len;\n	int len = skb->len;\n\n	rcu_read_lock();\n	tfile = rcu_dereference(tun->tfiles[txq]);\n'
commit "2026-11-23T11:05:00+00:00" "tun: keep the frame's original length in tun_net_xmit()

run_ebpf_filter() may trim the frame, after which len no longer says
how many bytes the stack handed to the device. Keep the original length
in orig_len so that the per-queue byte counters can account for what
the filter dropped; the counters switch over to it in a follow-up.

Signed-off-by: $AUTHOR_NAME <$AUTHOR_EMAIL>"
mkdir -p "$WORK/b"
g format-patch -q --no-signature --thread=shallow --base="$BASE" --subject-prefix="PATCH net-next" \
  --to=netdev@vger.kernel.org $(maintainers drivers/net/tun.c) -o "$WORK/b" "$BASE..demo-b"

# --- C: a fix made against a tun.c that the 6.1 tree does not have: a conflict --------------------
# The submitter's tree (a newer net) has tun_net_xmit() reading the queue with skb_get_queue_mapping();
# the fix's context is that line, which 6.1 lacks, and its index line names a blob 6.1 does not hold.
g checkout -q -b demo-c-upstream "$BASE"
edit drivers/net/tun.c \
  '	int txq = skb->queue_mapping;\n	struct netdev_queue *queue;\n' \
  '	u16 txq = skb_get_queue_mapping(skb);\n	struct netdev_queue *queue;\n'
GIT_AUTHOR_NAME="Net Maintainer" GIT_AUTHOR_EMAIL="net.maintainer@example.org" \
  commit "2026-11-20T08:00:00+00:00" "tun: read the queue mapping through its accessor

Signed-off-by: Net Maintainer <net.maintainer@example.org>"
UPSTREAM=$(g rev-parse HEAD)
g checkout -q -b demo-c "$UPSTREAM"
edit drivers/net/tun.c \
  '	u16 txq = skb_get_queue_mapping(skb);\n' \
  '	unsigned int txq = skb_get_queue_mapping(skb);\n'
edit drivers/net/tun.c \
  '	rcu_read_lock();\n	tfile = rcu_dereference(tun->tfiles[txq]);\n\n	/* Drop packet if interface is not attached */\n	if (!tfile) {\n' \
  '	rcu_read_lock();\n	if (unlikely(txq >= READ_ONCE(tun->numqueues))) {\n		drop_reason = SKB_DROP_REASON_DEV_READY;\n		goto drop;\n	}\n	tfile = rcu_dereference(tun->tfiles[txq]);\n\n	/* Drop packet if interface is not attached */\n	if (!tfile) {\n'
commit "2026-11-23T14:20:00+00:00" "tun: drop frames for a queue that is being detached

While a queue is detached, tun->numqueues shrinks before the last
frames queued to it have left the stack, and tun_net_xmit() may look
up tun->tfiles[] past the queues in use. Drop such frames as if the
device were not attached, comparing the queue index as the unsigned
int that numqueues is.

Signed-off-by: $AUTHOR_NAME <$AUTHOR_EMAIL>"
mkdir -p "$WORK/c"
g format-patch -q --no-signature --thread=shallow --base="$UPSTREAM" --subject-prefix="PATCH net" \
  --to=netdev@vger.kernel.org $(maintainers drivers/net/tun.c) -o "$WORK/c" "$UPSTREAM..demo-c"

# --- D: a measurable perf regression in virtio_net's transmit path -------------------------------
g checkout -q -b demo-d "$BASE"
edit drivers/net/virtio_net.c \
  'static netdev_tx_t start_xmit(struct sk_buff *skb, struct net_device *dev)\n{\n' \
  '/* How many times start_xmit() checks the send queue before queueing a\n * new buffer: a short window for the device to complete earlier ones.\n */\n#define VIRTNET_TX_SETTLE_POLLS 200\n\nstatic noinline void virtnet_tx_settle(struct send_queue *sq)\n{\n	unsigned int i;\n\n	for (i = 0; i < VIRTNET_TX_SETTLE_POLLS; i++) {\n		if (virtqueue_is_broken(sq->vq))\n			break;\n	}\n}\n\nstatic netdev_tx_t start_xmit(struct sk_buff *skb, struct net_device *dev)\n{\n'
edit drivers/net/virtio_net.c \
  '	bool use_napi = sq->napi.weight;\n\n	/* Free up any pending old buffers before queueing new ones. */\n' \
  '	bool use_napi = sq->napi.weight;\n\n	virtnet_tx_settle(sq);\n\n	/* Free up any pending old buffers before queueing new ones. */\n'
commit "2026-11-23T16:30:00+00:00" "virtio_net: give the device a window before reclaiming tx buffers

On a busy host the device often completes the previous tx buffers just
after start_xmit() has looked for them, so free_old_xmit_skbs() finds
nothing and the buffers wait for the next transmit or interrupt. Check
the send queue a bounded number of times before reclaiming, which gives
the device a short window to catch up.

Signed-off-by: $AUTHOR_NAME <$AUTHOR_EMAIL>"
mkdir -p "$WORK/d"
g format-patch -q --no-signature --thread=shallow --base="$BASE" --subject-prefix="PATCH net-next" \
  --to=netdev@vger.kernel.org $(maintainers drivers/net/virtio_net.c) -o "$WORK/d" "$BASE..demo-d"

# --- fixed Message-IDs and dates, one mbox -------------------------------------------------------
mkdir -p "$(dirname "$OUT")"
python3 - "$OUT" "$WORK" <<'PY'
import os, re, sys, email.utils, datetime
out, work = sys.argv[1], sys.argv[2]
# series -> (first message's time, the send-email-like id stem)
plan = {'a': ('2026-11-23T10:00:00', '20261123100000.4101'), 'b': ('2026-11-23T11:10:00', '20261123111000.4102'),
        'c': ('2026-11-23T14:25:00', '20261123142500.4103'), 'd': ('2026-11-23T16:35:00', '20261123163500.4104')}
mails = []
for series in 'abcd':
    start, stem = plan[series]
    t0 = datetime.datetime.fromisoformat(start).replace(tzinfo=datetime.timezone.utc)
    files = sorted(f for f in os.listdir(os.path.join(work, series)) if f.endswith('.patch'))
    ids = {}
    texts = []
    for i, f in enumerate(files):
        text = open(os.path.join(work, series, f)).read()
        head, _, body = text.partition('\n\n')
        old = re.search(r'^Message-ID: (<[^>]+>)$', head, re.M | re.I).group(1)
        n = int(f[:4])
        ids[old] = f'<{stem}-{n}-alex.demo@example.org>'
        texts.append((i, head, body))
    for i, head, body in texts:
        for old, new in ids.items():
            head = head.replace(old, new)
        date = email.utils.format_datetime(t0 + datetime.timedelta(seconds=i))
        head = re.sub(r'^Date: .*$', f'Date: {date}', head, count=1, flags=re.M)
        # format-patch's "From <commit> Mon Sep 17 00:00:00 2001" separator is kept: a valid mbox From_ line
        mails.append(head + '\n\n' + body)
with open(out, 'w') as fh:
    for m in mails:
        # mboxrd: quote body lines that look like separators
        lines = m.split('\n')
        fh.write(lines[0] + '\n')
        for line in lines[1:]:
            fh.write(('>' + line if re.match(r'^>*From ', line) else line) + '\n')
        # a blank line ends every message (the next separator must follow one)
        fh.write('\n' if m.endswith('\n') else '\n\n')
PY
echo "wrote $OUT ($(grep -c '^From [0-9a-f]\{40\} ' "$OUT") messages) against $BASE" >&2
