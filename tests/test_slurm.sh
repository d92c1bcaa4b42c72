#!/usr/bin/env bash
# A real Slurm cluster: slurm/submit sends tests/tiny.yaml as job arrays (4 shards with
# MaxArraySize 3, so two arrays with an index offset) plus the dependent merge. One array
# task fails on purpose; the merge reports its shard, writes nothing and fails; resubmitting
# that one index and merging again gives a file identical to the mpirun run of the same job.
# Then slurm/sweep-mpi.sbatch runs the job as one MPI job, killed by scancel once and
# resubmitted, with the same result. Every daemon started is stopped by pid.
# usage: test_slurm.sh SYNLAW TESTS_DIR MPIEXEC PYTHON
set -uo pipefail
synlaw=$(realpath "$1") dir=$(realpath "$2") mpiexec=$3 py=$4
root=$(cd "$dir/.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=slurm_cluster.sh
. "$dir/slurm_cluster.sh"
trap 'slurm_stop; rm -rf "$tmp"' EXIT
fail() {
  echo "FAILED: $*" >&2
  for f in "$tmp"/run/synlaw-*.out "$tmp"/mpi/synlaw-*.out; do [ -f "$f" ] && { echo "== $f"; tail -20 "$f"; }; done >&2
  exit 1
}
for t in munged mungekey slurmctld slurmd sbatch squeue; do
  command -v "$t" >/dev/null || fail "$t is not installed (scripts/setup installs slurm-wlm and munge)"
done

SLURM_TEST_MAX_ARRAY=3 slurm_start "$tmp/cluster" || fail "could not start the test cluster"
echo "test_slurm: cluster up: $(sinfo -h -o '%P %D %t %c CPUs')"

"$mpiexec" -np 2 "$synlaw" run "$dir/tiny.yaml" -o "$tmp/ref.h5" -q >/dev/null || fail "reference mpirun"

# A synlaw that fails once for array task 1 of the first array (a crashed node, say).
cat >"$tmp/flaky" <<EOF
#!/bin/bash
if [ "\${SLURM_ARRAY_TASK_ID:-}" = 1 ] && [ "\${SHARD_OFFSET:-0}" = 0 ] && [ ! -e "$tmp/failed-once" ]; then
  touch "$tmp/failed-once"; echo "injected failure" >&2; exit 1
fi
exec "$synlaw" "\$@"
EOF
chmod +x "$tmp/flaky"

"$root/slurm/submit" "$dir/tiny.yaml" "$tmp/run" --shards 4 --throttle 2 --synlaw "$tmp/flaky" \
  | tee "$tmp/submit.log" || fail "submit"
grep -q "array job [0-9]*: shards 0-2 of 4" "$tmp/submit.log" || fail "first array not as expected"
grep -q "array job [0-9]*: shards 3-3 of 4" "$tmp/submit.log" || fail "offset array not as expected"
squeue
slurm_wait_empty 300 || fail "jobs did not finish"
merge1=$(ls "$tmp"/run/synlaw-merge-*.out)
cat "$merge1"
grep -q "resubmit shard indices: 1 " "$merge1" || fail "merge did not name shard 1 for resubmission"
grep -q "not merged: the grid is incomplete" "$merge1" || fail "merge did not refuse the incomplete grid"
[ ! -e "$tmp/run/results.h5" ] || fail "an incomplete merge wrote results"

# Resubmit just that index, then merge again.
cd "$tmp/run" || fail "cd"
aid=$(sbatch --parsable --array=1 --export="ALL,JOB=$dir/tiny.yaml,OUT=$tmp/run,NSHARDS=4,SHARD_OFFSET=0,SYNLAW=$tmp/flaky" \
      "$root/slurm/sweep-array.sbatch") || fail "resubmit"
mid=$(sbatch --parsable --dependency="afterok:${aid%%;*}" --export="ALL,OUT=$tmp/run,SYNLAW=$synlaw" \
      "$root/slurm/merge-fit.sbatch") || fail "merge resubmit"
echo "resubmitted shard 1 as job ${aid%%;*}, merge as job ${mid%%;*}"
slurm_wait_empty 300 || fail "resubmitted jobs did not finish"
cat "synlaw-merge-${mid%%;*}.out"
grep -q "merged 4 files" "synlaw-merge-${mid%%;*}.out" || fail "second merge"
"$py" "$dir/compare_results.py" "$tmp/ref.h5" "$tmp/run/results.h5" || fail "Slurm result differs from mpirun"
"$py" "$dir/check_layout.py" "$tmp/run/results.h5" || fail "layout"

# One MPI job under Slurm: cancelled while running, resubmitted, resumed.
mkdir -p "$tmp/mpi" && cd "$tmp/mpi" || fail "cd"
sed 's/  steps: 30/  steps: 150/' "$dir/tiny.yaml" >"$tmp/slow.yaml"
"$mpiexec" -np 2 "$synlaw" run "$tmp/slow.yaml" -o "$tmp/ref-slow.h5" -q >/dev/null || fail "reference (slow)"
env="ALL,JOB=$tmp/slow.yaml,OUT=$tmp/mpi,SYNLAW=$synlaw"
jid=$(sbatch --parsable --ntasks=2 --export="$env" "$root/slurm/sweep-mpi.sbatch") || fail "sweep-mpi"
for _ in $(seq 100); do [ "$(squeue -h -j "$jid" -o %t)" = R ] && break; sleep 0.2; done
# cancel as soon as the first cell is reported done (a fixed wait raced the job itself,
# which now often finishes within a few seconds)
for _ in $(seq 600); do
  grep -qE '^\[ *[0-9]+/52\]' "synlaw-mpi-$jid.out" 2>/dev/null && break
  sleep 0.1
done
scancel "$jid"
slurm_wait_empty 60 || fail "cancelled job did not leave the queue"
done1=$("$py" -c "import h5py,sys; print(int((h5py.File(sys.argv[1])['cells']['status']==1).sum()))" "$tmp/mpi/results.h5")
echo "sweep-mpi job $jid cancelled with $done1 of 52 cells done"
[ "$done1" -lt 52 ] || fail "the job finished before scancel: no fault injected"
jid2=$(sbatch --parsable --ntasks=2 --export="$env" "$root/slurm/sweep-mpi.sbatch") || fail "sweep-mpi again"
slurm_wait_empty 300 || fail "resubmitted MPI job did not finish"
grep -q "resuming" "synlaw-mpi-$jid2.out" || fail "the resubmitted MPI job did not resume"
"$py" "$dir/compare_results.py" "$tmp/ref-slow.h5" "$tmp/mpi/results.h5" || fail "sweep-mpi result differs"
echo "test_slurm: arrays with offset, failed task resubmitted, merge = mpirun; MPI job cancelled and resumed = mpirun"
