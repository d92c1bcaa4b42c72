#!/usr/bin/env bash
# Sizes that once broke synlaw (issue 16); times are printed, never compared with absolute
# limits, only with a smaller case of the same run:
#  - one CSV group of 1,000,000 points, fitted with --bootstrap 0: finishes, exit 0 (the fit
#    kept its working arrays on the stack and overflowed it);
#  - the bootstrap without repeat ids grows linearly: 100k points against 25k with
#    --bootstrap 20 take less than 8x as long (linear: 4x; the quadratic version: 16x);
#  - plan on a job of 100,000 cells: --ranks 100000 takes less than 5x as long as --ranks 10
#    (the simulation is O(cells log P); O(cells x P) took hours).
# usage: test_scaling.sh SYNLAW TESTS_DIR PYTHON
set -uo pipefail
synlaw=$1 dir=$2 py=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 failed=0
ok() { pass=$((pass + 1)); }
bad() { failed=$((failed + 1)); echo "FAILED: $*" >&2; }
now() { date +%s.%N; }
# timed COMMAND...: the wall time of the command (the best of two runs) in $secs, the last
# exit status in $status (not in a subshell: both stay visible)
timed() {
  local best="" t0 d
  for _ in 1 2; do
    t0=$(now)
    "$@" >"$tmp/last.out" 2>&1
    status=$?
    d=$(echo "$(now) - $t0" | bc)
    if [ -z "$best" ] || [ "$(echo "$d < $best" | bc)" = 1 ]; then best=$d; fi
    [ "$status" = 0 ] || break
  done
  secs=$best
}
# points N FILE: a CSV of N points in one group, 8 sizes, y = 0.3 + 0.5 n^-0.4 + noise
points() {
  awk -v m="$1" 'BEGIN { srand(7); print "n,y";
    for (i = 0; i < m; i++) { n = 100 * 2 ^ (i % 8); printf "%d,%.6f\n", n, 0.3 + 0.5 * n ^ -0.4 + 0.01 * (rand() - 0.5) } }' >"$2"
}

points 1000000 "$tmp/million.csv"
t0=$(now)
"$synlaw" fit --csv "$tmp/million.csv" --x n --y y --bootstrap 0 --holdout 0 >"$tmp/million.out" 2>&1
status=$?
echo "1,000,000 points in one group: exit $status in $(echo "$(now) - $t0" | bc) s"
[ "$status" = 0 ] && grep -q "1 group, y = y, x = n" "$tmp/million.out" && ok ||
  bad "fit of 1,000,000 points: exit $status: $(tail -c 600 "$tmp/million.out")"

points 25000 "$tmp/p25k.csv"
points 100000 "$tmp/p100k.csv"
timed "$synlaw" fit --csv "$tmp/p25k.csv" --x n --y y --bootstrap 20 --holdout 0; t25=$secs
[ "$status" = 0 ] || bad "bootstrap of 25k points: $(tail -c 600 "$tmp/last.out")"
timed "$synlaw" fit --csv "$tmp/p100k.csv" --x n --y y --bootstrap 20 --holdout 0; t100=$secs
[ "$status" = 0 ] || bad "bootstrap of 100k points: $(tail -c 600 "$tmp/last.out")"
ratio=$(echo "scale=2; $t100 / $t25" | bc)
echo "bootstrap 20, no repeat ids: 25k points $t25 s, 100k points $t100 s, ratio $ratio (linear 4, quadratic 16)"
[ "$(echo "$ratio < 8" | bc)" = 1 ] && ok || bad "the bootstrap grows faster than linearly: ratio $ratio"

sizes=$(seq -s, 100 100 2500)
fts=$(seq -s, 100 37 988)
cat >"$tmp/big.yaml" <<EOF
name: big
axes:
  pretrain_size: [$sizes]
  model: [mlp-s, cnn-s]
  complexity: [1, 2, 3, 4]
  pretrain_task: [multilabel, segment]
  finetune_size: [$fts]
  repeats: 10
EOF
"$synlaw" check "$tmp/big.yaml" | grep -q "^cells: 100000 " && ok || bad "the plan job does not have 100,000 cells"
timed "$synlaw" plan "$tmp/big.yaml" --ranks 10 --seconds 0.05; t10=$secs
[ "$status" = 0 ] || bad "plan --ranks 10: $(tail -c 600 "$tmp/last.out")"
timed "$synlaw" plan "$tmp/big.yaml" --ranks 100000 --seconds 0.05; tbig=$secs
[ "$status" = 0 ] || bad "plan --ranks 100000: $(tail -c 600 "$tmp/last.out")"
ratio=$(echo "scale=2; $tbig / $t10" | bc)
echo "plan of 100,000 cells: --ranks 10 $t10 s, --ranks 100000 $tbig s, ratio $ratio"
[ "$(echo "$ratio < 5" | bc)" = 1 ] && ok || bad "plan grows with the rank count: ratio $ratio"

echo "$pass passed, $failed failed"
[ "$failed" = 0 ]
