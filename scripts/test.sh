#!/usr/bin/env bash
# Sets everything up and runs the whole test suite (what .ci/run and the README's second command run).
set -euo pipefail
cd "$(dirname "$0")/.."
PATCHGATE_TEST_PACKAGES='chromium dovecot-imapd' bash scripts/setup.sh

export GIT_AUTHOR_NAME="${GIT_AUTHOR_NAME:-patchgate test}" GIT_AUTHOR_EMAIL="${GIT_AUTHOR_EMAIL:-test@patchgate.invalid}"
export GIT_COMMITTER_NAME="${GIT_COMMITTER_NAME:-patchgate test}" GIT_COMMITTER_EMAIL="${GIT_COMMITTER_EMAIL:-test@patchgate.invalid}"

# Redis for the queue tests: the project's own instance on a loopback port.
if [ -f scripts/redis.sh ]; then
  bash scripts/redis.sh start 6390 var/redis-test
  export REDIS_URL="redis://127.0.0.1:6390"
  trap 'bash scripts/redis.sh stop 6390 var/redis-test || true' EXIT
fi

npx vitest run "$@"
