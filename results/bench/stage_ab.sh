#!/bin/bash
# The pre-training stage's render share (issue 12) against commit BASE, on this machine:
#  - the renderer alone, both builds in one process (harness/render_ab.sh: blocks of 256
#    images alternately, levels 4 and 3; the images compared) and the quantiser's paths
#    (harness quant: every float, and ns per image);
#  - what a first touch of fresh memory costs (synlaw bench's line);
#  - the level-4 and level-3 mlp-s multilabel stage in a fresh process (harness stage; base,
#    current, current, base, 4 s apart: back-to-back runs reuse memory the last one freed);
#  - the same stage inside a sweep of six (results/bench/lanes.yaml);
#  - the whole stage table of synlaw bench for both builds (base, current, current, base) at
#    level 4, and at level 3 (current, base).
# First written as populate.sh for 44b3761 (its run: results/bench/populate.log).
# usage: results/bench/stage_ab.sh BASE   (e.g. 9601112); output on stdout
# AB_REPS (default 3): the ABBA rounds of each harness comparison.
set -eu
base=${1:?usage: stage_ab.sh BASE_COMMIT}
cd "$(dirname "$0")/../.." && source scripts/env.sh
export OPENBLAS_NUM_THREADS=1
reps=${AB_REPS:-3}
wt=$(mktemp -d) out=$(mktemp -d)
trap 'git worktree remove --force "$wt" >/dev/null 2>&1 || true; rm -rf "$out"' EXIT
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null # the current build, up to date
cmake --build build -j2 --target synlaw >/dev/null
git worktree add -f --detach "$wt" "$base" >/dev/null 2>&1
cmake -S "$wt" -B "$wt/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$wt/build" -j2 --target synlaw >/dev/null
SYNLAW_ROOT="$wt" results/bench/harness/build.sh "$out/base" >/dev/null
results/bench/harness/build.sh "$out/cur" >/dev/null
echo "== $(date -u) base $(git -C "$wt" log --oneline -1 | cut -c1-60) against $(git log --oneline -1 | cut -c1-60)$(git diff --quiet HEAD -- src include || echo ' (and uncommitted changes)')"
results/bench/harness/render_ab.sh "$wt/src/core/synth.c" src/core/synth.c "$out/render_ab" >/dev/null
echo "-- the renderer alone, in one process (harness/render_ab.sh): A base, B current, 400 rounds each"
for level in 4 4 3 3; do "$out/render_ab" "$level" 400; done
echo "-- harness quant (current)"
"$out/cur/harness" quant
build/synlaw bench --models mlp-s --seconds 0.05 --stage-steps 2 --stage-n 100 | grep -E "^machine|^first touch"
stage() { # tag harness level: one stage (its shares, render and staging ms) and the process's page faults
  sleep 4
  local r
  r=$(/usr/bin/time -f '%R' "$out/$2/harness" stage mlp-s "$3" 0 1024 2>&1 | tr '\n' ' ')
  awk -v t="$1" '{f=$NF; $NF=""; printf "%s %s; %s faults in the process\n", t, $0, f}' <<<"$r"
}
for level in 4 3; do
  echo "-- harness stage mlp-s $level 0 1024 (fresh process each): base, current, current, base"
  for rep in $(seq "$reps"); do
    stage "base   " base "$level"; stage "current" cur "$level"; stage "current" cur "$level"; stage "base   " base "$level"
  done
done
echo "-- synlaw run results/bench/lanes.yaml (six level-4 mlp-s multilabel stages in one process):"
echo "   time_generate / wall_time of each backbone (rendering and staging); base, current, current, base"
sweep() {
  sleep 4
  rm -f "$out"/l.h5 "$out"/l-*.csv
  "$2" run results/bench/lanes.yaml -o "$out/l.h5" >/dev/null 2>&1
  echo -n "$1 "
  /usr/bin/python3 results/bench/lanes_shares.py "$out/l.h5"
}
for rep in $(seq "$reps"); do
  sweep "base   " "$wt/build/synlaw"; sweep current build/synlaw; sweep current build/synlaw; sweep "base   " "$wt/build/synlaw"
done
bench() {
  sleep 5
  echo "-- $1: synlaw bench --seconds 0.2 --stage-steps 1024 --stage-n 16384 --stage-level $3"
  "$2" bench --seconds 0.2 --stage-steps 1024 --stage-n 16384 --stage-level "$3" | sed -n '/^pre-training stage/,$p'
}
bench base "$wt/build/synlaw" 4
bench current build/synlaw 4
bench current build/synlaw 4
bench base "$wt/build/synlaw" 4
bench current build/synlaw 3
bench base "$wt/build/synlaw" 3
echo "== done $(date -u)"
