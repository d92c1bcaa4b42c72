#!/bin/bash
# A against B on this machine: the renderer's rates (synlaw render) and the level-3
# pre-training stages of mlp-s and cnn-s (synlaw bench), the build of commit BASE and the
# current build one after the other, twice, so that both see the same machine.
# usage: results/bench/ab.sh BASE   (e.g. db7d198); output on stdout (results/bench/ab.log)
# AB_LEVELS (default 3): the stage levels; AB_REPS (default 2): the rounds.
# AB_TRAIN=1: the training step rates instead (synlaw bench --batch 128, every model).
set -eu
base=${1:?usage: ab.sh BASE_COMMIT}
cd "$(dirname "$0")/../.." && source scripts/env.sh
wt=$(mktemp -d)
trap 'git worktree remove --force "$wt" >/dev/null 2>&1 || true' EXIT
git worktree add -f --detach "$wt" "$base" >/dev/null 2>&1
cmake -S "$wt" -B "$wt/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$wt/build" -j2 --target synlaw >/dev/null
echo "== $(date -u) base $(git -C "$wt" log --oneline -1 | cut -c1-60) against $(git log --oneline -1 | cut -c1-60)"
lscpu | grep -E "Model name"
levels=${AB_LEVELS:-3}
for rep in $(seq "${AB_REPS:-2}"); do
  for bin in "$wt/build/synlaw" build/synlaw; do
    tag=$([ "$bin" = build/synlaw ] && echo current || echo "base   ")
    if [ -n "${AB_TRAIN:-}" ]; then
      echo "$tag \$ synlaw bench --batch 128 --seconds 1.5"
      "$bin" bench --batch 128 --seconds 1.5 | sed -n '1p;/^model      params/,/^$/p'
      continue
    fi
    echo -n "$tag render images/s, levels 1-4:"
    for L in 1 2 3 4; do
      "$bin" render --complexity $L --count 16 -o "$wt/s.png" | sed -n 's/^rendering rate: \([0-9]*\) images.*/ \1/p' | tr -d '\n'
    done
    echo
    for L in $levels; do
      echo "$tag \$ synlaw bench --models mlp-s,cnn-s --seconds 0.05 --stage-steps 1024 --stage-n 16384 --stage-level $L"
      "$bin" bench --models mlp-s,cnn-s --seconds 0.05 --stage-steps 1024 --stage-n 16384 --stage-level $L |
        sed -n '/^model   task/,$p'
    done
  done
done
echo "== done $(date -u)"
