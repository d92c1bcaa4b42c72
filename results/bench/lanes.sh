#!/bin/bash
# The renderer's noise in vector lanes and the stage's samples rendered before its first step
# (issue 12), against commit BASE on this machine: the render rates one image at a time and
# in groups (harness rates, harness lanes, for the AVX-512 and AVX2 clones), the level-4
# mlp-s multilabel stage in a fresh process (harness stage, the two builds alternately, 4 s
# apart: back-to-back runs reuse memory the last one freed), and the same stage inside a
# sweep of six (results/bench/lanes.yaml: the first pays the cache's first touches, the
# others mostly reuse memory, as in a sweep).
# usage: results/bench/lanes.sh BASE   (e.g. d8360b1); output on stdout (results/bench/lanes.log)
# LANES_REPS (default 5): the alternations of each comparison.
set -eu
base=${1:?usage: lanes.sh BASE_COMMIT}
cd "$(dirname "$0")/../.." && source scripts/env.sh
reps=${LANES_REPS:-5}
wt=$(mktemp -d) out=$(mktemp -d)
trap 'git worktree remove --force "$wt" >/dev/null 2>&1 || true; rm -rf "$out"' EXIT
git worktree add -f --detach "$wt" "$base" >/dev/null 2>&1
cmake -S "$wt" -B "$wt/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$wt/build" -j2 --target synlaw >/dev/null
SYNLAW_ROOT="$wt" results/bench/harness/build.sh "$out/base" >/dev/null
results/bench/harness/build.sh "$out/cur" >/dev/null
HARNESS_CLONE=avx2 results/bench/harness/build.sh "$out/avx2" >/dev/null
echo "== $(date -u) base $(git -C "$wt" log --oneline -1 | cut -c1-60) against $(git log --oneline -1 | cut -c1-60)"
build/synlaw bench --models mlp-s --seconds 0.05 | head -1
echo "-- harness rates (best of 5 x 10,000 images, 28x28 grey): base, current, current, base (on this"
echo "   machine a run right after another is often slower, so each build runs first once)"
"$out/base/harness" rates
"$out/cur/harness" rates
"$out/cur/harness" rates
"$out/base/harness" rates
echo "-- harness lanes 4 (this CPU's clone)"
"$out/cur/harness" lanes 4
echo "-- harness lanes 4, the AVX2 clone alone (SYNLAW_TRIG=avx2)"
SYNLAW_TRIG=avx2 "$out/avx2/harness" lanes 4
echo "-- harness stage mlp-s 4 0 1024 (fresh process each), alternately"
for rep in $(seq "$reps"); do
  sleep 4; echo -n "base    "; "$out/base/harness" stage mlp-s 4 0 1024
  sleep 4; echo -n "current "; "$out/cur/harness" stage mlp-s 4 0 1024
done
echo "-- synlaw run results/bench/lanes.yaml (six level-4 mlp-s multilabel stages in one process):"
echo "   time_generate / wall_time of each backbone (rendering and staging), alternately"
for rep in $(seq "$reps"); do
  for bin in "$wt/build/synlaw" build/synlaw; do
    tag=$([ "$bin" = build/synlaw ] && echo current || echo "base   ")
    sleep 4
    rm -f "$out"/l.h5 "$out"/l-*.csv
    "$bin" run results/bench/lanes.yaml -o "$out/l.h5" >/dev/null 2>&1
    echo -n "$tag "
    /usr/bin/python3 results/bench/lanes_shares.py "$out/l.h5"
  done
done
echo "== done $(date -u)"
