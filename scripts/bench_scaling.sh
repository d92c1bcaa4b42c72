#!/usr/bin/env bash
# Scaling benchmark: the wall time of a job (default jobs/quick.yaml) at 1 and 2 ranks in one
# run, the speedup, and synlaw plan's prediction for the same rank counts next to it.
# usage: scripts/bench_scaling.sh [JOB.yaml] [RANKS...]     (default ranks: 1 2)
# Prints figures; it is not a pass/fail test. Takes about 1.5x the job's 1-rank time.
set -euo pipefail
cd "$(dirname "$0")/.."
job=${1:-jobs/quick.yaml}; shift || true
ranks=("$@"); [ ${#ranks[@]} -gt 0 ] || ranks=(1 2)
synlaw=build/synlaw
export OPENBLAS_NUM_THREADS=1
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
max=${ranks[-1]}
"$synlaw" plan "$job" --ranks "$max"
"$synlaw" plan "$job" --ranks "$max" --json >"$tmp/plan.json"
declare -A wall
for p in "${ranks[@]}"; do
  start=$(date +%s.%N)
  mpirun -np "$p" --oversubscribe "$synlaw" run "$job" -o "$tmp/np$p.h5" --quiet --no-fit >/dev/null
  wall[$p]=$(echo "$(date +%s.%N) - $start" | bc)
done
echo
printf "%6s %12s %12s %9s\n" ranks "measured s" "predicted s" speedup
for p in "${ranks[@]}"; do
  pred=$(python3 -c 'import json, sys
points = {q["ranks"]: q["seconds"] for q in json.load(open(sys.argv[1]))["points"]}
print("%.1f" % points[int(sys.argv[2])] if int(sys.argv[2]) in points else "-")' "$tmp/plan.json" "$p")
  printf "%6s %12.1f %12s %8.2fx\n" "$p" "${wall[$p]}" "$pred" "$(echo "${wall[${ranks[0]}]} / ${wall[$p]}" | bc -l)"
done
