#!/usr/bin/env bash
# Times the README's two commands as a fresh machine runs them, as far as one machine can be made fresh:
# a new clone of HEAD (no var/: no imported tree, no mirrors, no out dirs, no ccache), an empty npm cache
# (every package fetched from the registry again), no Redis or public-inbox running for it. What cannot be
# undone here: the Debian packages stay installed (apt-get still runs, finding them present).
#   bash scripts/fresh-run.sh [DIR]     (default /tmp/patchgate-fresh; shared/ is linked beside the clone)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
DIR=${1:-/tmp/patchgate-fresh}
rm -rf "$DIR"
mkdir -p "$DIR"
git clone -q "$SRC" "$DIR/main"
[ -e "$SRC/../shared" ] && ln -s "$(cd "$SRC/../shared" && pwd)" "$DIR/shared"
export npm_config_cache="$DIR/npm-cache"
cd "$DIR/main"
echo "fresh run of $(git rev-parse --short HEAD) in $DIR/main; load: $(cut -d' ' -f1-3 /proc/loadavg)"
t0=$(date +%s)
bash scripts/main-job.sh > "$DIR/main-job.log" 2>&1 && rc1=0 || rc1=$?
t1=$(date +%s)
echo "main job: exit $rc1, $(( (t1 - t0) / 60 )) min $(( (t1 - t0) % 60 )) s; load: $(cut -d' ' -f1-3 /proc/loadavg)"
bash scripts/test.sh > "$DIR/test.log" 2>&1 && rc2=0 || rc2=$?
t2=$(date +%s)
echo "tests: exit $rc2, $(( (t2 - t1) / 60 )) min $(( (t2 - t1) % 60 )) s; $(grep '^vitest:' "$DIR/test.log" | tail -n 1); load: $(cut -d' ' -f1-3 /proc/loadavg)"
grep '^== main job' "$DIR/main-job.log" || true
[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ]
