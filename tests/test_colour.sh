#!/usr/bin/env bash
# Other data end to end: a generated 16 x 16 x 3 HDF5 set of 5 classes (make_colour_set.py).
# check shows its shape, classes and chance level; the same job on 1, 2 and 3 ranks gives
# bitwise identical results; the file records /data; the heads have 5 outputs (the stored
# backbone of cnn-s has the size of a 16 x 16 x 3 input); fine-tuning beats chance; fit
# prints the chance level; plan and models follow the input.
# usage: test_colour.sh SYNLAW TESTS_DIR MPIEXEC PYTHON
set -euo pipefail
synlaw=$1 dir=$2 mpiexec=$3 py=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$py" "$dir/make_colour_set.py" "$tmp/colour.h5"
cat >"$tmp/colour.yaml" <<YAML
name: colour
seed: 5
data:
  format: hdf5
  file: $tmp/colour.h5
axes:
  pretrain_size: [0, 200, 800]
  model: [cnn-s, mlp-s]
  complexity: [2]
  pretrain_task: [multilabel, segment]
  finetune_size: [50, 300]
  repeats: 2
pretrain:
  steps: 60
  batch: 32
  eval_every: 30
  eval_size: 64
finetune:
  steps: 80
  batch: 32
  lr: 0.01
  eval_every: 40
  eval_size: 150
  eval_split: both
YAML
"$synlaw" check "$tmp/colour.yaml" >"$tmp/check.txt"
grep -q "images 16x16, 3 channels; 5 classes, chance level 0\.[0-9]*" "$tmp/check.txt" || { cat "$tmp/check.txt"; exit 1; }
grep -q "classes: red,green,blue,yellow,magenta" "$tmp/check.txt" || { cat "$tmp/check.txt"; exit 1; }
grep -q "900 training images (the last 150 the validation split, 750 to fine-tune from), 300 test images" "$tmp/check.txt" \
  || { cat "$tmp/check.txt"; exit 1; }
"$synlaw" check --json "$tmp/colour.yaml" | "$py" -c '
import json, sys
d = json.load(sys.stdin)["data"]
assert (d["rows"], d["cols"], d["channels"], d["classes"]) == (16, 16, 3, 5), d
assert len(d["pixel_mean"]) == 3 and all(0 < s < 1 for s in d["pixel_std"]), d'
for p in 1 2 3; do
  "$mpiexec" -np "$p" --oversubscribe "$synlaw" run "$tmp/colour.yaml" -o "$tmp/np$p.h5" -q >"$tmp/np$p.log"
done
"$py" "$dir/compare_results.py" "$tmp/np1.h5" "$tmp/np2.h5" "$tmp/np3.h5"
"$py" - "$tmp/np1.h5" <<'PY'
import sys

import h5py
import numpy as np

f = h5py.File(sys.argv[1], "r")
d = f["data"].attrs
assert (d["rows"], d["cols"], d["channels"], d["classes"]) == (16, 16, 3, 5), dict(d)
assert d["class_names"].decode() if isinstance(d["class_names"], bytes) else d["class_names"]
assert len(d["pixel_mean"]) == 3
cells = f["cells"][:]
assert (cells["status"] == 1).all(), "not every cell is done"
# cnn-s on 16x16x3: conv3x3-8 on 3 channels (27*8+8), conv3x3-16 (72*16+16), fc64 on 16*4*4
w = f["weights/cnn-s"]
assert w.shape[1] == 27 * 8 + 8 + 72 * 16 + 16 + 256 * 64 + 64, w.shape
chance = float(d["chance"])
err = cells["final_test_error"]
big = cells["finetune_size"] == 300
assert np.nanmean(err[big]) < chance - 0.2, (np.nanmean(err[big]), chance)
print(f"colour: mean test error at s=300 {np.nanmean(err[big]):.3f} against chance {chance:.3f}")
PY
cp "$tmp/np1.h5" "$tmp/refit.h5"
"$synlaw" fit "$tmp/refit.h5" -o "$tmp/refit.csv" >"$tmp/fit.txt"
grep -q "real task: 5 classes, chance level" "$tmp/fit.txt" || { cat "$tmp/fit.txt"; exit 1; }
"$synlaw" status "$tmp/np1.h5" | grep -q "data: 16x16x3 images, 5 classes" || { "$synlaw" status "$tmp/np1.h5"; exit 1; }
"$synlaw" plan "$tmp/colour.yaml" --ranks 2 --seconds 0.05 >/dev/null
echo "colour: 16x16x3, 5 classes: check, 1/2/3 ranks identical, /data, fit, status"
