#!/usr/bin/env bash
# Long output paths (issue 16): under a directory path of about 300 characters, and of 3,000,
# run (one rank, and mpirun -np 2), shards run with mpirun -np 2 and merged there, and fit
# and status read the files. Before the fix, Open MPI 4.1's sharedfp/lockedfile component
# overflowed a buffer in MPI_File_open ("stack smashing detected", exit 134).
# usage: test_long_paths.sh SYNLAW TESTS_DIR MPIEXEC
set -uo pipefail
synlaw=$1 dir=$2 mpiexec=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 failed=0
ok() { pass=$((pass + 1)); }
bad() { failed=$((failed + 1)); echo "FAILED: $*" >&2; }
run() { # run DESCRIPTION command...: exit 0, else show the output
  local what=$1; shift
  local out
  if out=$("$@" 2>&1); then ok; else bad "$what exited $?: ${out: -800}"; fi
}
cat >"$tmp/mini.yaml" <<'EOF'
name: mini
seed: 3
axes:
  pretrain_size: [0, 100, 400]
  model: [mlp-s]
  finetune_size: [100]
pretrain:
  steps: 4
  batch: 16
  eval_every: 2
  eval_size: 16
finetune:
  steps: 4
  batch: 16
  eval_every: 2
  eval_size: 32
EOF
seg() { printf "%${1}s" "" | tr ' ' "$2"; }
for depth in 1 10; do
  d=$tmp
  for i in $(seq 1 "$depth"); do d=$d/$(seg 95 a)$i/$(seg 95 b)$i/$(seg 95 c)$i; done
  mkdir -p "$d"
  echo "directory of ${#d} characters"
  run "run -o (1 rank)" "$synlaw" run "$tmp/mini.yaml" -o "$d/one.h5" -q
  run "run -o (mpirun -np 2)" "$mpiexec" -np 2 "$synlaw" run "$tmp/mini.yaml" -o "$d/two.h5" -q
  run "shard 0/2 (mpirun -np 2)" "$mpiexec" -np 2 "$synlaw" run "$tmp/mini.yaml" --shard 0/2 -o "$d/" -q
  run "shard 1/2 (mpirun -np 2)" "$mpiexec" -np 2 "$synlaw" run "$tmp/mini.yaml" --shard 1/2 -o "$d/" -q
  run "merge" "$synlaw" merge -o "$d/merged.h5" "$d/"
  run "status" "$synlaw" status "$d/merged.h5"
  run "fit" "$synlaw" fit "$d/two.h5" --bootstrap 10
  [ -s "$d/merged-fits.csv" ] && [ -s "$d/two-fits.csv" ] && ok || bad "fits CSV missing under $d"
done
echo "$pass passed, $failed failed"
[ "$failed" = 0 ]
