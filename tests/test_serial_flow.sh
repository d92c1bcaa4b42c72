#!/usr/bin/env bash
# The serial command-line flow, for the sanitizer build (scripts/test --sanitize): run
# tests/tiny.yaml on one rank without mpirun, then fit, status (text and --json), refine (and
# its proposal run and fitted with the first file), check,
# render, fit --csv, a shard run and its merge. Each command must exit 0; AddressSanitizer
# and UndefinedBehaviorSanitizer stop the process (non-zero status, a report on stderr) at
# the first error.
# usage: test_serial_flow.sh SYNLAW TESTS_DIR
set -uo pipefail
synlaw=$1 dir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 failed=0
step() { # step DESCRIPTION command...
  local what=$1; shift
  local t0=$SECONDS status
  "$@" >"$tmp/out" 2>&1
  status=$?
  if [ "$status" = 0 ]; then
    pass=$((pass + 1))
    echo "ok   $what ($((SECONDS - t0)) s)"
  else
    failed=$((failed + 1))
    echo "FAILED: $what (exit $status):" >&2
    tail -40 "$tmp/out" >&2
  fi
}
csv=$dir/../data/cg-transfer/results_finetune.csv
step "run tiny.yaml (1 rank)" "$synlaw" run "$dir/tiny.yaml" -o "$tmp/r.h5" -q
step "fit" "$synlaw" fit "$tmp/r.h5" --bootstrap 50 -o "$tmp/fits.csv"
step "status" "$synlaw" status "$tmp/r.h5"
step "refine" "$synlaw" refine "$tmp/r.h5" -o "$tmp/next.yaml" --budget 10 --sims 2 --bootstrap 20
step "run the refine proposal" "$synlaw" run "$tmp/next.yaml" -o "$tmp/next.h5" -q --no-fit
step "fit of two files" "$synlaw" fit "$tmp/r.h5" "$tmp/next.h5" --bootstrap 20 -q -o "$tmp/joined.csv"
step "status --json" "$synlaw" status --json "$tmp/r.h5"
step "check" "$synlaw" check "$dir/tiny.yaml"
step "check --json" "$synlaw" check --json "$dir/tiny.yaml"
step "render" "$synlaw" render --complexity 4 --count 24 -o "$tmp/s.png"
step "fit --csv" "$synlaw" fit --csv "$csv" --x pretrain.data --y 1-value --where pscale=64k \
  --where pretrain.data!=0 --where pdata!=imagenet --last n_eval --group model,ptask,pdata,ftask,fdata,fratio \
  --bootstrap 50 --loss huber -o "$tmp/study.h5"
step "fit --csv --law full" "$synlaw" fit --csv "$csv" --x pretrain.data --y 1-value --s fratio --law full \
  --where pscale=64k --where pretrain.data!=0 --where pdata!=imagenet --where model=r50 --where ptask=mulclass \
  --where fdata=imagenet --last n_eval --group model,ptask,pdata,ftask,fdata --bootstrap 20 --boot-repeats --repeat fratio
cp "$dir/data/tiny-format1.h5" "$tmp/v1.h5" # fit writes /fits into the file: never into the fixture
step "fit of a format 1 file" "$synlaw" fit "$tmp/v1.h5" --bootstrap 20 -o "$tmp/v1.csv"
sed 's/pretrain_size: \[0, 100, 400, 1600\]/pretrain_size: [0, 100]/' "$dir/tiny.yaml" >"$tmp/small.yaml"
step "run --shard 0/2" "$synlaw" run "$tmp/small.yaml" --shard 0/2 -o "$tmp/sh/" -q
step "run --shard 1/2" "$synlaw" run "$tmp/small.yaml" --shard 1/2 -o "$tmp/sh/" -q
step "merge" "$synlaw" merge -o "$tmp/merged.h5" "$tmp/sh/"
step "run --resume of a finished file" "$synlaw" run "$tmp/small.yaml" -o "$tmp/merged.h5" --resume -q --no-fit
echo "$pass passed, $failed failed"
[ "$failed" = 0 ]
