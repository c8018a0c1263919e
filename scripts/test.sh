#!/usr/bin/env bash
# Sets everything up and runs the whole test suite (what .ci/run and the README's second command run).
set -euo pipefail
cd "$(dirname "$0")/.."
PATCHGATE_TEST_PACKAGES='chromium dovecot-imapd' bash scripts/setup.sh

# An identity for the commits tests make, in a config file of its own: it does not override a test's own
# `git -c user.email=...` (environment variables like GIT_AUTHOR_EMAIL would) and leaves ~/.gitconfig alone.
mkdir -p var
if [ -z "$(git config --global user.email 2>/dev/null || true)" ]; then
  printf '[user]\n\tname = patchgate test\n\temail = test@patchgate.invalid\n[init]\n\tdefaultBranch = main\n' > var/test-gitconfig
  export GIT_CONFIG_GLOBAL="$PWD/var/test-gitconfig"
fi

# Redis for the queue tests: the project's own instance on a loopback port.
if [ -f scripts/redis.sh ]; then
  bash scripts/redis.sh start 6390 var/redis-test
  export REDIS_URL="redis://127.0.0.1:6390"
  trap 'bash scripts/redis.sh stop 6390 var/redis-test || true' EXIT
fi

set +e
npx vitest run --reporter=default --reporter=json --outputFile.json=var/vitest-results.json "$@"
rc=$?
set -e
# the plain closing line CI reads: N passed, N failed, N skipped
if [ -f var/vitest-results.json ]; then
  node -e 'const r = JSON.parse(require("fs").readFileSync("var/vitest-results.json", "utf8"));
    console.log(`vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);'
fi
exit $rc
