#!/bin/bash
# The figures of README.md that come from results/bench/harness (issue 12): the row-span
# check, the cross-entropy against the libm formula, and perf profiles of a level-4 render
# and of level-3 segmentation stages, the latter also for the build of BASE (the loss before
# it was vectorised). Needs perf (linux-perf).
# usage: results/bench/harness/run.sh BASE > results/bench/harness.log
set -eu
base=${1:?usage: run.sh BASE_COMMIT}
cd "$(dirname "$0")/../../.." && source scripts/env.sh
tmp=$(mktemp -d) wt=$(mktemp -d)
trap 'git worktree remove --force "$wt" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
bash results/bench/harness/build.sh "$tmp/cur" >/dev/null
git worktree add -f --detach "$wt" "$base" >/dev/null 2>&1
cmake -S "$wt" -B "$wt/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$wt/build" -j2 --target synlaw >/dev/null
SYNLAW_ROOT=$wt bash results/bench/harness/build.sh "$tmp/base" >/dev/null 2>&1 ||
  gcc -O3 -std=c17 -D_POSIX_C_SOURCE=200809L -I"$wt/include" results/bench/harness/harness.c \
    $(tr ' ' '\n' < "$wt/build/CMakeFiles/synlaw.dir/link.txt" | grep -E '\.so$|\.a$|^-l' |
      sed "s#^lib#$wt/build/lib#" | tr '\n' ' ') -o "$tmp/base/harness"
echo "== $(date -u) $(git log --oneline -1 | cut -c1-60); base $base"
lscpu | grep -E "Model name"
echo '$ span_check 50000'; "$tmp/cur/span_check" 50000
echo '$ harness bce 2000'; "$tmp/cur/harness" bce 2000
top() { perf report -i "$1" --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -"$2"; }
echo '$ perf record harness render 4 200000'
perf record -q -e cpu-clock -o "$tmp/r.data" "$tmp/cur/harness" render 4 200000; top "$tmp/r.data" 12
for b in base cur; do
  for m in mlp-s cnn-s; do
    echo "\$ perf record harness stage $m 3 1 1024   ($b)"
    perf record -q -e cpu-clock -o "$tmp/s.data" "$tmp/$b/harness" stage $m 3 1 1024; top "$tmp/s.data" 12
  done
done
echo "== done $(date -u)"
