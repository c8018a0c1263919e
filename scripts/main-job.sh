#!/usr/bin/env bash
# The main job (README.md's first command), as root on a fresh Debian 12 machine:
#   bash scripts/main-job.sh [--quick] [--keep]
# 1. scripts/setup.sh: Debian packages (redis-server, public-inbox, qemu-system-x86, busybox-static,
#    linux-source-6.1, ccache, build tools), npm ci, the build
# 2. Debian's linux-source-6.1 imported into git (var/linux-source-6.1; kept for the next run)
# 3. Redis on 127.0.0.1:6390, a v2 public-inbox holding config/demo/inbox.mbox served by
#    public-inbox-httpd on 127.0.0.1:8089
# 4. `patchgate demo`: the local SMTP sink (127.0.0.1:2525), the dashboard (127.0.0.1:8080) and the daemon
#    in one process: ingest over HTTP, apply, build, gates (the perf gate boots guests under QEMU), replies
# --quick skips the perf gate. --keep leaves the dashboard up after the summary (Ctrl-C ends it).
# Nothing is downloaded after step 1 and nothing listens beyond loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEMO_ARGS=()
for a in "$@"; do
  case $a in
    --quick|--keep) DEMO_ARGS+=("$a") ;;
    *) echo "usage: $0 [--quick] [--keep]" >&2; exit 2 ;;
  esac
done
mkdir -p var/demo
# one main job at a time: a second one would restart the inbox and empty the store under the first
PIDFILE=var/demo/main-job.pid
if [ -f "$PIDFILE" ] && other=$(cat "$PIDFILE") && [ "$other" != "$$" ] && kill -0 "$other" 2>/dev/null &&
   grep -q main-job "/proc/$other/cmdline" 2>/dev/null; then
  echo "$0: another main job is running (pid $other); wait for it or stop it first" >&2
  exit 1
fi
echo $$ > "$PIDFILE"
T0=$(date +%s)
step() { echo "== main job [$(( $(date +%s) - T0 ))s] $*"; }

step "setup: Debian packages, npm ci, build"
bash scripts/setup.sh

export GIT_AUTHOR_NAME="${GIT_AUTHOR_NAME:-patchgate}" GIT_AUTHOR_EMAIL="${GIT_AUTHOR_EMAIL:-patchgate@localhost}"
export GIT_COMMITTER_NAME="${GIT_COMMITTER_NAME:-patchgate}" GIT_COMMITTER_EMAIL="${GIT_COMMITTER_EMAIL:-patchgate@localhost}"
mkdir -p var/demo

step "tree: linux-source-6.1 into git (var/linux-source-6.1)"
bash scripts/import-linux-source.sh var/linux-source-6.1 >/dev/null

step "Redis on 127.0.0.1:6390"
started_redis=
if [ "$(redis-cli -h 127.0.0.1 -p 6390 ping 2>/dev/null)" = PONG ]; then
  echo "   (a Redis already answers on 6390: using it)"
else
  started_redis=1
  bash scripts/redis.sh start 6390 var/redis >/dev/null
fi

PI=var/demo/public-inbox
cleanup() {
  rm -f "$PIDFILE"
  bash scripts/public-inbox.sh stop "$PI" >/dev/null 2>&1 || true
  if [ -n "$started_redis" ]; then bash scripts/redis.sh stop 6390 var/redis >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

step "public-inbox: a v2 inbox holding config/demo/inbox.mbox, served on 127.0.0.1:8089"
bash scripts/public-inbox.sh stop "$PI" >/dev/null 2>&1 || true
rm -rf "$PI"
bash scripts/public-inbox.sh create "$PI" netdev config/demo/inbox.mbox
bash scripts/public-inbox.sh serve "$PI" 8089 >/dev/null

step "patchgate demo: SMTP sink, dashboard, daemon; four series from the inbox to replies"
LOG=var/demo/demo.log
if [ -t 1 ]; then
  # progress bars on the terminal, the structured log in a file
  echo "   (structured log: $LOG)"
  set +e
  node bin/patchgate.js demo --config config/demo.yaml --fresh "${DEMO_ARGS[@]}" 2>"$LOG"
  rc=$?
  set -e
  [ $rc -eq 0 ] || { echo "--- last lines of $LOG"; tail -n 30 "$LOG"; }
else
  set +e
  node bin/patchgate.js demo --config config/demo.yaml --fresh "${DEMO_ARGS[@]}" 2> >(tee "$LOG" >&2)
  rc=$?
  set -e
fi
step "done (exit $rc)"
exit $rc
