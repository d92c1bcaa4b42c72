#!/usr/bin/env bash
# Command line behaviour: help, version, exit statuses, errors that name file:line:col,
# nothing written on bad input, refusal to overwrite results.
# usage: test_cli.sh SYNLAW TESTS_DIR
set -uo pipefail
synlaw=$1 dir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 failed=0
ok() { pass=$((pass + 1)); }
bad() { failed=$((failed + 1)); echo "FAILED: $*" >&2; }
# expect STATUS PATTERN -- command...: exit status and a pattern in stdout+stderr
expect() {
  local want=$1 pat=$2; shift 3
  local out status
  out=$("$@" 2>&1); status=$?
  if [ "$status" != "$want" ]; then bad "$* exited $status, expected $want: $out"; return; fi
  if ! grep -qE -- "$pat" <<<"$out"; then bad "$*: output lacks /$pat/: $out"; return; fi
  ok
}
expect 0 "usage: synlaw COMMAND" -- "$synlaw" --help
expect 0 "usage: synlaw COMMAND" -- "$synlaw" -h
expect 0 "^synlaw [0-9]+\.[0-9]+\.[0-9]+" -- "$synlaw" --version
expect 0 "HDF5 1\.10.*parallel" -- "$synlaw" --version
for c in run check fit render; do
  expect 0 "usage: .*synlaw $c" -- "$synlaw" "$c" --help
done
expect 2 "unknown command 'frobnicate'" -- "$synlaw" frobnicate
expect 2 "missing command" -- "$synlaw"
expect 2 "run: -o OUT.h5 is required" -- "$synlaw" run "$dir/tiny.yaml"
expect 2 "render: --complexity '7'" -- "$synlaw" render --complexity 7 -o "$tmp/x.png"
expect 0 "cells: 52 \(48 pre-trained, 4 scratch baselines\)" -- "$synlaw" check "$dir/tiny.yaml"
expect 0 "model +\(2\): mlp-s cnn-s" -- "$synlaw" check "$dir/tiny.yaml"
expect 0 "mlp-s +[0-9]+ +[0-9]+ +[0-9.]+ +fc128 fc128 fc10" -- "$synlaw" models
expect 0 "cnn-s +[0-9]+ +[0-9]+ +[0-9.]+ +conv3x3-8 pool2 conv3x3-16 pool2 fc64 fc5" -- "$synlaw" models --input 16x16x3 --classes 5
expect 2 "expected HxWxC" -- "$synlaw" models --input 4x4x1
for c in merge status bench plan models; do
  expect 0 "usage: .*synlaw $c" -- "$synlaw" "$c" --help
done
# bench's first line: what the figures are measured on (OpenBLAS's kernels and threads, the
# clone synlaw runs), as OpenBLAS itself reports it
out=$(OPENBLAS_NUM_THREADS=1 "$synlaw" bench --models mlp-s --seconds 0.05 --sgemm 64 2>&1 | head -1)
want=$(OPENBLAS_NUM_THREADS=1 "$synlaw" --version | sed -n 's/^OpenBLAS: .* \([A-Za-z0-9]*\) MAX_THREADS.*/\1/p')
grep -qE "^machine: .*OpenBLAS $want kernels, 1 thread; synlaw loops (avx512f|avx2|baseline), convolution kernels (avx512|avx2|blas) .*sinf/cosf (avx512|avx2|libm), 8-bit samples (avx512|avx2|scalar)$" <<<"$out" &&
  [ -n "$want" ] && ok || bad "bench's machine line: '$out' (OpenBLAS kernels '$want')"
# a pre-training stage in the bench: the first-touch cost of this machine's memory (faulted in,
# and populated in advance), and each stage's shares and page faults (a stage of 30 steps on
# 200 images touches its render cache)
out=$(OPENBLAS_NUM_THREADS=1 "$synlaw" bench --models mlp-s --seconds 0.05 --sgemm 64 --stage-steps 30 --stage-n 200 2>&1)
grep -qE "^first touch of fresh memory: (-?[0-9]+\.[0-9]{2}|nan) us per page fault \([0-9]+ faults for 32 MiB\), (-?[0-9]+\.[0-9]{2}|nan) us per 4 KiB page populated in advance" <<<"$out" &&
  grep -qE "^mlp-s +multilabel( +[0-9.]+){3} +[0-9.]+% +[0-9.]+% +[1-9][0-9]* +[0-9.]+$" <<<"$out" &&
  grep -qE "^mlp-s +segment( +[0-9.]+){3} +[0-9.]+% +[0-9.]+% +[0-9]+ +[0-9.]+$" <<<"$out" && ok ||
  bad "bench's stage table: $out"
# Machine-readable output: one JSON object with the documented keys.
json_has() { /usr/bin/python3 -c 'import json, sys
d = json.load(sys.stdin)
for path in sys.argv[1:]:
    v = d
    for k in path.split("."):
        v = v[int(k)] if isinstance(v, list) else v[k]
print(" ".join(str(d[p]) if "." not in p else "ok" for p in sys.argv[1:]))' "$@"; }
out=$("$synlaw" check --json "$dir/tiny.yaml" | json_has cells pretrained_cells scratch_cells axes.model pretrain.steps finetune.eval_split) &&
  [ "${out%% *}" = 52 ] && ok || bad "check --json: $out"
out=$("$synlaw" plan --json --ranks 4 --seconds 0.05 "$dir/tiny.yaml" | json_has cells points.0.ranks points.2.efficiency calibration.models) &&
  [ "${out%% *}" = 52 ] && ok || bad "plan --json: $out"

sed 's/model: \[mlp-s, cnn-s\]/model: [mlp-s, vgg]/' "$dir/tiny.yaml" >"$tmp/badmodel.yaml"
expect 2 "badmodel.yaml:7:18: axes.model: unknown model 'vgg' \(expected one of: mlp-s" -- "$synlaw" check "$tmp/badmodel.yaml"
expect 2 "badmodel.yaml:7:18: axes.model: unknown model 'vgg'" -- "$synlaw" run "$tmp/badmodel.yaml" -o "$tmp/out.h5"
[ ! -e "$tmp/out.h5" ] && ok || bad "a results file was written for a bad job"
expect 2 "nope.yaml: cannot open" -- "$synlaw" check "$tmp/nope.yaml"
sed 's/  steps: 30/  steps: -4/' "$dir/tiny.yaml" >"$tmp/neg.yaml"
expect 2 "neg.yaml:13:10: pretrain.steps: -4 is out of range" -- "$synlaw" check "$tmp/neg.yaml"
sed 's/^  steps: 30$/  steps: 30\n  transfer: conv/' "$dir/tiny.yaml" >"$tmp/tr.yaml"   # pretrain and finetune both
expect 2 "tr.yaml:2[0-9]:3: finetune.transfer: only pre-training has transfer" -- "$synlaw" check "$tmp/tr.yaml"
sed '/^finetune:/a\  eval_split: train' "$dir/tiny.yaml" >"$tmp/split.yaml"
expect 2 "split.yaml:[0-9]+:[0-9]+: finetune.eval_split: unknown split 'train' \(expected test, validation or both\)" -- "$synlaw" check "$tmp/split.yaml"
sed '/^pretrain:/a\  scratch_lr: 0.1' "$dir/tiny.yaml" >"$tmp/slr.yaml"
expect 2 "pretrain.scratch_lr: only fine-tuning has scratch_lr" -- "$synlaw" check "$tmp/slr.yaml"

expect 0 "rendering rate: [0-9]+ images/s" -- "$synlaw" render --complexity 4 --count 16 -o "$tmp/s.png"
[ -s "$tmp/s.png" ] && ok || bad "render wrote no PNG"
expect 1 "nodir/s.png" -- "$synlaw" render --count 4 -o "$tmp/nodir/s.png"

expect 0 "sweep done: 52 cells" -- "$synlaw" run "$dir/tiny.yaml" -o "$tmp/r.h5" -q
expect 2 "r.h5: already exists" -- "$synlaw" run "$dir/tiny.yaml" -o "$tmp/r.h5" -q
expect 2 "fit: .*missing.h5: cannot open" -- "$synlaw" fit "$tmp/missing.h5"
echo "not hdf5" >"$tmp/text.h5"
expect 2 "text.h5: cannot open as HDF5" -- "$synlaw" fit "$tmp/text.h5"
expect 0 "mlp-s +1 multilabel +100" -- "$synlaw" fit "$tmp/r.h5"

# A diverging recipe: the cells fail with a reason, the sweep and the fit go on.
sed -e '/^finetune:/,$ s/optimizer: adam/optimizer: sgd/' -e '/^finetune:/,$ s/lr: 0.001/lr: 10\n  momentum: 0.99/' \
    -e 's/pretrain_size: \[0, 100, 400, 1600\]/pretrain_size: [0, 100]/' "$dir/tiny.yaml" >"$tmp/div.yaml"
expect 0 "mlp-s scratch s=100 r0\) failed: fine-tuning loss became (NaN|infinite) at step" -- "$synlaw" run "$tmp/div.yaml" -o "$tmp/div.h5"
expect 0 "warning: [0-9]+ failed cells skipped by the fit" -- "$synlaw" fit "$tmp/div.h5"

# Shards, merge, status: bad input.
expect 2 "--shard '4/4': expected I/N with 0 <= I < N" -- "$synlaw" run "$dir/tiny.yaml" --shard 4/4 -o "$tmp/sh/"
expect 2 "--shard 'x': expected I/N" -- "$synlaw" run "$dir/tiny.yaml" --shard x -o "$tmp/sh/"
expect 2 "--resume and --force contradict" -- "$synlaw" run "$dir/tiny.yaml" --resume --force -o "$tmp/r.h5"
expect 2 "more shards than the 52 cells" -- "$synlaw" run "$dir/tiny.yaml" --shard 0/60 -o "$tmp/sh/"
expect 2 "is a directory; -o takes a file name" -- "$synlaw" run "$dir/tiny.yaml" -o "$tmp"
expect 2 "merge: -o OUT.h5 is required" -- "$synlaw" merge "$tmp/r.h5"
expect 2 "files of different jobs cannot be merged" -- "$synlaw" merge -o "$tmp/m.h5" "$tmp/r.h5" "$tmp/div.h5"
[ ! -e "$tmp/m.h5" ] && ok || bad "merge of different jobs wrote a file"
expect 2 "nope.h5: no such file" -- "$synlaw" status "$tmp/nope.h5"
expect 2 "no shard files" -- "$synlaw" status "$tmp"
expect 0 "cells: 52 done, 0 failed, 0 missing of 52" -- "$synlaw" status "$tmp/r.h5"
out=$("$synlaw" status --json "$tmp/r.h5" | json_has done failed missing files.0.path cell_seconds.total) &&
  [ "${out%% *}" = 52 ] && ok || bad "status --json: $out"
expect 2 "r.h5: already exists \(--force replaces it\)" -- "$synlaw" merge -o "$tmp/r.h5" "$tmp/r.h5"

# A results file of format 1 (written by synlaw 0.1 from tests/tiny.yaml) is still read by
# fit and status; merge and resume refuse it by name.
cp "$dir/data/tiny-format1.h5" "$tmp/v1.h5"
expect 0 "cells: 52 done, 0 failed, 0 missing of 52" -- "$synlaw" status "$tmp/v1.h5"
expect 0 "identified: .* of 16 groups" -- "$synlaw" fit "$tmp/v1.h5" --bootstrap 50
expect 1 "results format 1 cannot be merged" -- "$synlaw" merge -o "$tmp/v1m.h5" "$tmp/v1.h5"
expect 2 "written in results format 1, this synlaw writes format 2; cannot resume it" -- "$synlaw" run "$dir/tiny.yaml" -o "$tmp/v1.h5" --resume
# refine: a proposal from the tiny run, an ordinary job that check accepts, with new repeats
# (first_repeat) or a new n; bad input refused with nothing written
expect 0 "wrote $tmp/next.yaml" -- "$synlaw" refine "$tmp/r.h5" -o "$tmp/next.yaml" --budget 10 --sims 2 --bootstrap 20
grep -Eq "first_repeat: 1|pretrain_size: \[6400\]" "$tmp/next.yaml" || { echo "FAILED: proposal: $(cat "$tmp/next.yaml")"; exit 1; }
expect 0 "job 'tiny-refine'" -- "$synlaw" check "$tmp/next.yaml"
expect 2 "refine: expected -o NEXT.yaml" -- "$synlaw" refine "$tmp/r.h5"
expect 2 "refine: --budget '0'" -- "$synlaw" refine "$tmp/r.h5" -o "$tmp/n2.yaml" --budget 0
expect 2 "refine: --target 'x'" -- "$synlaw" refine "$tmp/r.h5" -o "$tmp/n2.yaml" --target x
expect 2 "refine needs a results file of format 2" -- "$synlaw" refine "$tmp/v1.h5" -o "$tmp/n2.yaml"
expect 2 "cannot open" -- "$synlaw" refine "$tmp/missing.h5" -o "$tmp/n2.yaml"
[ ! -e "$tmp/n2.yaml" ] || { echo "FAILED: refine wrote a proposal for bad input"; exit 1; }
csv="$dir/../data/cg-transfer/results_finetune.csv"
expect 0 "warning: 7 rows with a missing \(NA\)" -- "$synlaw" fit --csv "$csv" --x pretrain.data --y 1-value --where pscale=64k --group model
expect 1 "no column 'nope' \(x\); columns are: n_eval value" -- "$synlaw" fit --csv "$csv" --x nope --y value
expect 2 "--fix 'Q=1'" -- "$synlaw" fit --csv "$csv" --x pretrain.data --y value --fix Q=1
expect 2 "--law full needs an s column \(--s COLUMN\)" -- "$synlaw" fit --csv "$csv" --x pretrain.data --y value --law full
expect 2 "--loss 'l3'" -- "$synlaw" fit --csv "$csv" --x pretrain.data --y value --loss l3
expect 2 "--bootstrap '-5'" -- "$synlaw" fit --csv "$csv" --x pretrain.data --y value --bootstrap -5
expect 2 "--level '2'" -- "$synlaw" fit --csv "$csv" --x pretrain.data --y value --level 2
expect 2 "--law is for --csv" -- "$synlaw" fit "$tmp/r.h5" --law power
study=(--csv "$csv" --x pretrain.data --y 1-value --where pscale=64k --where pretrain.data!=0
       --where pdata!=imagenet --last n_eval --group model,ptask,pdata,ftask,fdata,fratio)
expect 0 "decision \(epsilon = 0.01\)" -- "$synlaw" fit "${study[@]}" --bound C=0:1 --bootstrap 100 --loss huber -o "$tmp/study.h5"
expect 0 "r50 +mulclass +bop +sinclass +imagenet +10 +7 " -- "$synlaw" fit "${study[@]}" --bootstrap 0 --law power
# Fits of external curves in HDF5: 45 groups, intervals, verdicts, the group columns named.
/usr/bin/python3 - "$tmp/study.h5" <<'PY' && ok || bad "HDF5 fits of the study's curves"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    assert f.attrs["format"] == b"synlaw-fits", f.attrs["format"]
    fits = f["fits"][:]
    assert len(fits) == 45, len(fits)
    assert f["fits"].attrs["group_columns"] == b"model\tptask\tpdata\tftask\tfdata\tfratio"
    assert set(fits["loss"]) == {b"huber"}
    assert (fits["boot_samples"] == 100).all()
    assert (fits["ci_lo"][:, :3] <= fits["ci_hi"][:, :3]).all()
    assert set(fits["verdict"]) <= {b"more-data", b"gap", b"undetermined", b"not-identified"}, set(fits["verdict"])
    # not-identified exactly where the law does not beat a constant, alpha is on a bound or
    # the back-test is no better than carrying forward
    bad = (fits["aic"] >= fits["aic_const"] - 2) | ((fits["at_bound"] & 2) != 0) | (fits["extrap_error"] >= fits["extrap_carry"])
    assert ((fits["verdict"] == b"not-identified") == bad).all()
    assert (fits["extrap_points"] == 1).all() and np.isfinite(fits["extrap_error"]).all()
PY
printf 'a,b\n1,2\n3\n' >"$tmp/short.csv"
expect 1 "short.csv:3: 1 fields, expected 2" -- "$synlaw" fit --csv "$tmp/short.csv" --x a --y b

echo "$pass passed, $failed failed"
[ "$failed" = 0 ]
