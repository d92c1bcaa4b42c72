#!/usr/bin/env bash
# Faults: a sweep killed with SIGKILL at random moments (one rank process, or the whole
# mpirun with its ranks) and resumed each time ends bitwise identical to an uninterrupted
# run, with every cell and backbone done exactly once; the same for a shard; a second run on
# a file in use stops with an error; resume refuses a file of another job. Kills land in
# pre-training and in fine-tuning: each kill reports the backbones done and those whose
# cells were left half done (a kill during the fine-tuning of a task), and at least one
# kill must have landed in a task's fine-tuning.
# usage: test_resume.sh SYNLAW TESTS_DIR MPIEXEC PYTHON
set -uo pipefail
synlaw=$1 dir=$2 mpiexec=$3 py=$4
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do pkill -9 -P "$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAILED: $*" >&2; exit 1; }
seed=${SYNLAW_TEST_SEED:-$(date +%s)}
RANDOM=$seed
echo "test_resume: random seed $seed (SYNLAW_TEST_SEED=$seed repeats these kill moments)"

# tiny.yaml with longer training, so that random kills land inside the run.
job="$tmp/resume.yaml"
sed 's/  steps: 30/  steps: 400/' "$dir/tiny.yaml" >"$job"
"$mpiexec" -np 2 "$synlaw" run "$job" -o "$tmp/ref.h5" -q >/dev/null || fail "reference run"

# Wait until the given processes have gone (the scheduler's cleanup); SIGKILL stragglers.
wait_gone() {
  for _ in $(seq 100); do
    local alive=0
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && return 0
    sleep 0.1
  done
  kill -9 "$@" 2>/dev/null
}

# Cells done in FILE so far (0 while it does not exist yet).
done_cells() {
  local v
  v=$("$synlaw" status "$1" 2>/dev/null | sed -n 's/^cells: \([0-9]*\) done.*/\1/p')
  echo "${v:-0}"
}

# run_killed OUT FILE TOTAL MODE ARGS...: start a resumable run and kill it with SIGKILL at a
# random moment: once a random number of further cells is done (within the first third of
# what is left past 10 cells, so that four kills in a row still leave cells to run: cells
# finish in bursts once their backbone is trained, and a kill lands some cells past its
# target), plus a random 0-99 ms so that the kill lands inside a cell as often as between
# cells. MODE rank: one rank process, which makes mpirun abort the others; MODE all: mpirun
# and every rank at once, as a node failure or the scheduler would. Open MPI puts ranks in
# their own process groups: they are found as mpirun's children.
run_killed() {
  local out=$1 file=$2 total=$3 mode=$4; shift 4
  local before target
  before=$(done_cells "$file")
  target=$((before + 1 + RANDOM % ((total - before - 10) / 3 > 0 ? (total - before - 10) / 3 : 1)))
  "$mpiexec" -np 2 "$synlaw" run "$job" -o "$out" --resume -q "$@" >>"$tmp/killed.log" 2>&1 &
  local mp=$!
  pids+=("$mp")
  for _ in $(seq 600); do
    [ "$(done_cells "$file")" -ge "$target" ] && break
    kill -0 "$mp" 2>/dev/null || break
    sleep 0.1
  done
  local ms=$((RANDOM % 100))
  sleep "0.$(printf '%03d' $ms)"
  local ranks
  ranks=$(pgrep -P "$mp" | tr '\n' ' ')
  [ -n "$ranks" ] || fail "no rank processes under mpirun $mp (the run ended before the kill)"
  if [ "$mode" = rank ]; then
    local all=($ranks)
    kill -9 "${all[RANDOM % ${#all[@]}]}"
  else
    kill -9 "$mp" $ranks
  fi
  wait "$mp" 2>/dev/null
  wait_gone "$mp" $ranks
  local now stages
  now=$(done_cells "$file")
  stages=$("$py" - "$file" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r", locking=False) as f:
    c, b = f["cells"][:], f["backbones"][:]
    done = b["status"] == 1
    half = sum(1 for i in np.flatnonzero(done) if (c["status"][c["backbone"] == i] == 0).any())
    print(f"{done.sum()} {half}")
PY
)
  echo "  killed ($mode) at >= $target cells + ${ms} ms: cells done $before -> $now of $total; backbones done, with cells pending: $stages"
  [ "${stages#* }" -gt 0 ] && halfdone=$((halfdone + 1))
  [ "$now" -lt "$total" ] || fail "the run had finished before the kill: no fault injected"
}

# Whole grid: two kills of a rank, two of everything, then run to the end.
halfdone=0
out="$tmp/killed.h5"
for mode in rank all rank all; do run_killed "$out" "$out" 52 "$mode"; done
"$mpiexec" -np 2 "$synlaw" run "$job" -o "$out" --resume -q >"$tmp/final.log" 2>&1 || { cat "$tmp/final.log"; fail "final resume"; }
grep -E "resuming|sweep done" "$tmp/final.log" | head -2
"$py" "$dir/compare_results.py" "$tmp/ref.h5" "$out" || fail "resumed run differs from the uninterrupted one"
"$py" - "$out" <<'PY' || fail "cells lost or left pending"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1])
c, b = f["cells"][:], f["backbones"][:]
assert (c["status"] == 1).all(), f"{(c['status'] != 1).sum()} cells not done"
assert (b["status"] == 1).all(), f"{(b['status'] != 1).sum()} backbones not done"
assert len(set(c["index"])) == len(c) == 52 and len(b) == 24
PY
[ "$halfdone" -gt 0 ] || fail "no kill landed in the fine-tuning of a task (rerun with another SYNLAW_TEST_SEED)"

# A shard: killed twice, resumed, merged with the other shards = the reference.
mkdir -p "$tmp/shards"
"$synlaw" run "$job" --shard 0/2 -o "$tmp/shards/" -q >/dev/null || fail "shard 0"
shard1="$tmp/shards/tiny-shard-1-of-2.h5"
run_killed "$tmp/shards/" "$shard1" 26 rank --shard 1/2
run_killed "$tmp/shards/" "$shard1" 26 all --shard 1/2
"$synlaw" run "$job" --shard 1/2 -o "$tmp/shards/" --resume -q >/dev/null || fail "shard 1 resume"
"$synlaw" merge -o "$tmp/merged.h5" "$tmp/shards" >"$tmp/merge.log" || { cat "$tmp/merge.log"; fail "merge"; }
"$py" "$dir/compare_results.py" "$tmp/ref.h5" "$tmp/merged.h5" || fail "merged shards differ from the mpirun run"

# Finished cells are not run again: resuming a complete file runs nothing.
"$synlaw" run "$job" -o "$out" --resume >"$tmp/again.log" 2>&1 || fail "resume of a complete file"
grep -q "52 of 52 cells already finished, 0 to run" "$tmp/again.log" || { cat "$tmp/again.log"; fail "complete file rerun"; }

# A file of another job is refused on resume.
sed 's/^seed: 3/seed: 4/' "$job" >"$tmp/other.yaml"
grep -q "^seed: 4" "$tmp/other.yaml" || fail "could not derive another job from tiny.yaml"
"$synlaw" run "$tmp/other.yaml" -o "$out" --resume >"$tmp/other.log" 2>&1
[ $? = 2 ] && grep -q "holds another job" "$tmp/other.log" || { cat "$tmp/other.log"; fail "another job's file accepted"; }

# Two runs on one file: the second stops while the first holds the lock.
slow="$tmp/slow.yaml"
sed 's/  steps: 400/  steps: 3000/' "$job" >"$slow"
"$synlaw" run "$slow" -o "$tmp/busy.h5" -q >/dev/null 2>&1 &
pg=$!; pids+=("$pg")
for _ in $(seq 50); do [ -s "$tmp/busy.h5" ] && break; sleep 0.1; done
"$synlaw" run "$slow" -o "$tmp/busy.h5" --resume >"$tmp/second.log" 2>&1
[ $? = 1 ] && grep -q "in use by another synlaw run" "$tmp/second.log" || { cat "$tmp/second.log"; fail "second writer not stopped"; }
"$synlaw" status "$tmp/busy.h5" >"$tmp/status.log"
grep -q "busy.h5: .*(running)" "$tmp/status.log" && grep -q "missing of 52" "$tmp/status.log" || { cat "$tmp/status.log"; fail "status of a file in use"; }
kill -9 "$pg"
echo "test_resume: killed runs resumed to a bitwise identical result; shard resumed and merged; second writer refused"
