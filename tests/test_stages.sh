#!/usr/bin/env bash
# Stages: a backbone is pre-trained once per (model, complexity, task, n, repeat) and shared
# by every fine-tuning setting. Checks, each against an uninterrupted run of tests/tiny.yaml:
#  - a backbone does not depend on the fine-tuning settings: a job with one fine-tuning size
#    gives bit for bit the cells of that size in the full job;
#  - resuming a file whose backbones all exist pre-trains nothing and gives the same bits;
#  - pretrain.from copies the backbones of another file (no pre-training) and gives the same
#    bits as pre-training them;
#  - keep: false writes no weights, and resuming such a file pre-trains again, same bits;
#  - fine-tuning axes (finetune_lr, finetune_steps) with eval_split both: identical on 1 and
#    3 ranks, both curves recorded, cells of every setting share their backbone.
# usage: test_stages.sh SYNLAW TESTS_DIR MPIEXEC PYTHON
set -uo pipefail
synlaw=$1 dir=$2 mpiexec=$3 py=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAILED: $*" >&2; exit 1; }
cmp_h5() { "$py" "$dir/compare_results.py" "$@" >/dev/null || fail "results differ: $*"; }

"$mpiexec" -np 2 "$synlaw" run "$dir/tiny.yaml" -o "$tmp/ref.h5" -q >"$tmp/ref.log" || fail "reference run"
grep -q "backbones: 24 pre-trained, 0 read back, 0 copied" "$tmp/ref.log" || { cat "$tmp/ref.log"; fail "reference backbones"; }

# One fine-tuning size: the same cells as in the full job (backbones independent of s).
sed 's/finetune_size: \[100, 200\]/finetune_size: [200]/' "$dir/tiny.yaml" >"$tmp/s200.yaml"
"$synlaw" run "$tmp/s200.yaml" -o "$tmp/s200.h5" -q --no-fit >/dev/null || fail "s=200 run"
"$py" - "$tmp/ref.h5" "$tmp/s200.h5" <<'PY' || fail "cells of s=200 differ from the full job's"
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
ca, cb = a["cells"][:], b["cells"][:]
key = lambda c: (int(c["pretrain_size"]), c["model"], int(c["complexity"]), c["pretrain_task"], int(c["repeat"]))
ia = {key(c): i for i, c in enumerate(ca) if c["finetune_size"] == 200}
assert len(ia) == len(cb) == 26, (len(ia), len(cb))
for j, c in enumerate(cb):
    i = ia[key(c)]
    assert ca["final_error"][i].tobytes() == c["final_error"].tobytes(), key(c)
    assert a["curves/finetune_test_error"][i].tobytes() == b["curves/finetune_test_error"][j].tobytes(), key(c)
assert a["backbones"]["key"].tobytes() == b["backbones"]["key"].tobytes()
assert a["weights/cnn-s"][:].tobytes() == b["weights/cnn-s"][:].tobytes()
print("stages: the s=200 cells of a one-size job equal the full job's, bit for bit")
PY

# All backbones exist, every cell pending: resume reads them back and pre-trains nothing.
cp "$tmp/ref.h5" "$tmp/cells-pending.h5"
"$py" - "$tmp/cells-pending.h5" <<'PY' || fail "could not reset the cells"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r+") as f:
    c = f["cells"][:]
    c["status"] = 0
    f["cells"][:] = c
    for k in ("finetune_val_error", "finetune_test_error"):
        f["curves/" + k][:] = np.nan
PY
"$mpiexec" -np 2 "$synlaw" run "$dir/tiny.yaml" -o "$tmp/cells-pending.h5" --resume -q >"$tmp/resume.log" 2>&1 || { cat "$tmp/resume.log"; fail "resume"; }
grep -q "backbones: 0 pre-trained, 24 read back, 0 copied" "$tmp/resume.log" || { cat "$tmp/resume.log"; fail "resume pre-trained again"; }
cmp_h5 "$tmp/ref.h5" "$tmp/cells-pending.h5"

# pretrain.from: the backbones of a file with one fine-tuning size serve the full job.
sed -e 's/finetune_size: \[100, 200\]/finetune_size: [100]/' -e 's/^name: tiny/name: tinyone/' "$dir/tiny.yaml" >"$tmp/one.yaml"
"$synlaw" run "$tmp/one.yaml" -o "$tmp/one.h5" -q --no-fit >/dev/null || fail "one-size run"
sed "/^pretrain:/a\\  from: $tmp/one.h5" "$dir/tiny.yaml" >"$tmp/from.yaml"
"$synlaw" check "$tmp/from.yaml" | grep -q "pretrain.from: $tmp/one.h5" || fail "check does not show pretrain.from"
"$mpiexec" -np 2 "$synlaw" run "$tmp/from.yaml" -o "$tmp/from.h5" -q >"$tmp/from.log" 2>&1 || { cat "$tmp/from.log"; fail "pretrain.from run"; }
grep -q "backbones: 0 pre-trained, 0 read back, 24 copied" "$tmp/from.log" || { cat "$tmp/from.log"; fail "pretrain.from pre-trained"; }
cmp_h5 "$tmp/ref.h5" "$tmp/from.h5"
"$py" -c "import h5py,sys; assert h5py.File(sys.argv[1])['backbones']['reused'].all()" "$tmp/from.h5" || fail "reused not recorded"
# a file of format 1 or without backbones is refused with a clear message
printf 'not hdf5\n' >"$tmp/bad.h5"
sed "/^pretrain:/a\\  from: $tmp/bad.h5" "$dir/tiny.yaml" >"$tmp/badfrom.yaml"
"$synlaw" run "$tmp/badfrom.yaml" -o "$tmp/badfrom.h5" -q >"$tmp/badfrom.log" 2>&1
[ $? = 2 ] && grep -q "pretrain.from: .*bad.h5: cannot open as HDF5" "$tmp/badfrom.log" || { cat "$tmp/badfrom.log"; fail "a bad pretrain.from file accepted"; }
[ ! -e "$tmp/badfrom.h5" ] || fail "a results file was left behind after a bad pretrain.from"

# keep: false: no weights; resuming with cells pending pre-trains again, same bits.
sed '/^pretrain:/a\  keep: false' "$dir/tiny.yaml" >"$tmp/nokeep.yaml"
"$synlaw" run "$tmp/nokeep.yaml" -o "$tmp/nokeep.h5" -q --no-fit >/dev/null || fail "keep: false run"
"$py" - "$tmp/ref.h5" "$tmp/nokeep.h5" <<'PY' || fail "keep: false"
import sys, h5py
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2], "r+")
assert "weights" not in b and not b["backbones"]["weights"].any()
for k in ("finetune_test_error", "pretrain_loss", "pretrain_error"):
    assert a["curves/" + k][:].tobytes() == b["curves/" + k][:].tobytes(), k
c = b["cells"][:]
c["status"][:10] = 0
b["cells"][:] = c
PY
"$synlaw" run "$tmp/nokeep.yaml" -o "$tmp/nokeep.h5" --resume -q --no-fit >"$tmp/nokeep.log" 2>&1 || { cat "$tmp/nokeep.log"; fail "keep: false resume"; }
grep -q "backbones: [1-9][0-9]* pre-trained, 0 read back" "$tmp/nokeep.log" || { cat "$tmp/nokeep.log"; fail "keep: false resume did not pre-train"; }
"$py" -c "
import sys, h5py
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
assert a['curves/finetune_test_error'][:].tobytes() == b['curves/finetune_test_error'][:].tobytes()
assert (b['cells']['status'] == 1).all()" "$tmp/ref.h5" "$tmp/nokeep.h5" || fail "keep: false resume differs"

# Fine-tuning axes and both splits.
sed -e 's/  finetune_size: \[100, 200\]/  finetune_size: [100, 200]\n  finetune_lr: [0.001, 0.003]\n  finetune_steps: [20, 30]/' \
    -e '/^finetune:/,$ {/  steps: 30/d; /  lr: 0.001/d}' -e '/^finetune:/a\  eval_split: both' "$dir/tiny.yaml" >"$tmp/axes.yaml"
"$synlaw" check "$tmp/axes.yaml" | grep -q "cells: 208 (192 pre-trained, 16 scratch baselines); backbones: 24" || { "$synlaw" check "$tmp/axes.yaml"; fail "axes grid"; }
for p in 1 3; do
  "$mpiexec" -np "$p" --oversubscribe "$synlaw" run "$tmp/axes.yaml" -o "$tmp/axes$p.h5" -q >"$tmp/axes$p.log" 2>&1 || { cat "$tmp/axes$p.log"; fail "axes run on $p"; }
done
cmp_h5 "$tmp/axes1.h5" "$tmp/axes3.h5"
"$py" "$dir/check_layout.py" "$tmp/axes1.h5" >/dev/null || fail "layout of the axes run"
"$py" - "$tmp/axes1.h5" <<'PY' || fail "fine-tuning axes"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1])
c = f["cells"][:]
assert set(c["finetune_lr"]) == {0.001, 0.003} and set(c["finetune_steps"]) == {20, 30}
assert np.isfinite(c["final_val_error"]).all() and np.isfinite(c["final_test_error"]).all()
assert (c["final_error"] == c["final_test_error"]).all()
steps = f["curves/finetune_step"][:]
assert ((steps > 0).sum(axis=1) == np.where(c["finetune_steps"] == 20, 2, 3)).all()
pre = c[c["backbone"] >= 0]
for b in set(pre["backbone"]):
    assert len(pre[pre["backbone"] == b]) == 8  # 2 sizes x 2 lr x 2 steps
fits = f["fits"][:]
assert len(set((r["finetune_lr"], r["finetune_steps"]) for r in fits)) == 4
print("stages: fine-tuning axes share the backbones; both splits recorded")
PY
echo "test_stages: backbones shared across settings, resumed, copied (pretrain.from), not kept; axes identical on 1 and 3 ranks"
