#!/usr/bin/env bash
# Hostile input at the command line (issue 16). Every case must end with exit status 1 or 2
# and a message naming the file: never a crash (status >= 128), never a write outside the
# output, never a control sequence on the terminal.
#  - results files whose /cells or /backbones status enum differs (other names, other
#    values) or holds a value out of range: fit, status, merge and run --resume;
#  - a failure reason with escape codes (and a CSV whose values carry them): status, status
#    --json and fit print them escaped;
#  - job names with '/', '..', control characters: refused, nothing written outside -o DIR;
#  - job files nested 100,000 levels deep, with a second document, over 1 MiB: refused fast
#    with file:line:col;
#  - check and run agree: what run refuses before starting (finetune_size above the
#    fine-tuning pool, 20x20 test images, labels out of range, a corrupt gzip), check
#    refuses with the same message, and run writes no output;
#  - fit --law full without --s is a usage error (2).
# usage: test_hostile.sh SYNLAW TESTS_DIR PYTHON
set -uo pipefail
synlaw=$1 dir=$2 py=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 failed=0
ok() { pass=$((pass + 1)); }
bad() { failed=$((failed + 1)); echo "FAILED: $*" >&2; }
# expect STATUS PATTERN -- command...: exit status and an extended regex in stdout+stderr
expect() {
  local want=$1 pat=$2; shift 3
  local out status
  out=$("$@" 2>&1); status=$?
  if [ "$status" != "$want" ]; then bad "$* exited $status, expected $want: ${out:0:600}"; return; fi
  if ! grep -qE -- "$pat" <<<"$out"; then bad "$*: output lacks /$pat/: ${out:0:600}"; return; fi
  ok
}
# refused FILE -- command...: exit 1 or 2, the file named, no crash
refused() {
  local file=$1; shift 2
  local out status
  out=$("$@" 2>&1); status=$?
  if [ "$status" != 1 ] && [ "$status" != 2 ]; then bad "$* exited $status (expected 1 or 2): ${out:0:600}"; return; fi
  if ! grep -qF -- "$file" <<<"$out"; then bad "$*: the message does not name $file: ${out:0:600}"; return; fi
  ok
}
has_esc() { LC_ALL=C grep -q $'\x1b\|\x07\|\xc2\x9b' "$1"; }

cat >"$tmp/mini.yaml" <<'EOF'
name: mini
seed: 3
axes:
  pretrain_size: [0, 100]
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
"$synlaw" run "$tmp/mini.yaml" -o "$tmp/base.h5" -q --no-fit >/dev/null || { echo "FAILED: base run"; exit 1; }

# ---- results files with another status enum, or a status out of range ----
"$py" - "$tmp/base.h5" "$tmp" <<'PY' || bad "crafting results files with h5py"
import sys, shutil, h5py, numpy as np
src, out = sys.argv[1], sys.argv[2]
def craft(name, table, mapping=None, value=None, reason=None, base="i1"):
    dst = f"{out}/{name}.h5"
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        data = f[table][:]
        if value is not None:
            data["status"][0] = value   # raw int8 in the same enum type: not a member
        if reason is not None:
            data["status"][0] = 2
            data["reason"][0] = reason
        if mapping is None:
            f[table][...] = data
            return
        dt = [(n, h5py.enum_dtype(mapping, basetype=base) if n == "status" else data.dtype.fields[n][0])
              for n in data.dtype.names]
        new = np.zeros(data.shape, dtype=dt)
        for n in data.dtype.names:
            new[n] = data[n]
        attrs = {k: v for k, v in f[table].attrs.items() if k not in ("DIMENSION_LIST", "REFERENCE_LIST")}
        del f[table]
        d = f.create_dataset(table, data=new)
        for k, v in attrs.items():
            d.attrs[k] = v
for t, short in (("cells", "c"), ("backbones", "b")):
    craft(f"{short}-names", t, {"todo": 0, "ok": 1, "bad": 2})
    craft(f"{short}-values", t, {"pending": 0, "done": 5, "failed": 7})
    craft(f"{short}-wide", t, {"pending": 0, "done": 1, "failed": 2, "lost": 3})
    craft(f"{short}-range", t, value=7)
    # read without the check, these were misread silently (statuses shifted or invented)
    craft(f"{short}-one", t, {"pending": 0})
    craft(f"{short}-neg", t, {"pending": -1, "done": 1, "failed": 2})
    craft(f"{short}-int32", t, {"pending": 0, "done": 1, "failed": 2}, base="i4")
craft("esc", "cells", reason=b"\x1b[31mRED\x1b]0;pwned\x07 \xc2\x9b2J\nfake line")
PY
for f in {c,b}-{names,values,wide,range,one,neg,int32}; do
  h=$tmp/$f.h5
  refused "$h" -- "$synlaw" fit "$h" --bootstrap 0
  refused "$h" -- "$synlaw" status "$h"
  refused "$h" -- "$synlaw" merge -o "$tmp/m-$f.h5" "$h"
  [ ! -e "$tmp/m-$f.h5" ] && ok || bad "merge of $f wrote a file"
  refused "$h" -- "$synlaw" run "$tmp/mini.yaml" -o "$h" --resume -q
done
expect 2 "c-names.h5: /cells has another status type than synlaw's enum" -- "$synlaw" status "$tmp/c-names.h5"
expect 2 "c-range.h5: /cells row 0 is damaged \(status 7" -- "$synlaw" status "$tmp/c-range.h5"

# ---- text from a file reaches the terminal escaped ----
"$synlaw" status "$tmp/esc.h5" >"$tmp/esc.out" 2>&1
has_esc "$tmp/esc.out" && bad "status printed raw control sequences: $(cat -v "$tmp/esc.out")" || ok
grep -qF 'failed: cell 0 (n=0 mlp-s scratch s=100 r0): \x1b[31mRED\x1b]0;pwned\x07 \xc2\x9b2J\x0afake line' "$tmp/esc.out" &&
  ok || bad "status does not show the reason escaped: $(cat -v "$tmp/esc.out")"
"$synlaw" status --json "$tmp/esc.h5" >"$tmp/esc.json" 2>&1
has_esc "$tmp/esc.json" && bad "status --json printed raw control sequences" || ok
"$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["failed_cells"][0]["reason"].startswith("\x1b[31mRED")' \
  "$tmp/esc.json" && ok || bad "status --json: the reason does not round-trip: $(cat -v "$tmp/esc.json")"
printf 'g,n,y\n\033[2Jevil\x07,100,0.5\n\033[2Jevil\x07,1000,0.4\n\033[2Jevil\x07,10000,0.35\n\033[2Jevil\x07,100000,0.33\n' >"$tmp/esc.csv"
"$synlaw" fit --csv "$tmp/esc.csv" --x n --y y --group g --bootstrap 0 >"$tmp/esccsv.out" 2>&1
has_esc "$tmp/esccsv.out" && bad "fit --csv printed raw control sequences: $(cat -v "$tmp/esccsv.out")" || ok
grep -qF '\x1b[2Jevil\x07' "$tmp/esccsv.out" && ok || bad "fit --csv does not show the group escaped: $(cat -v "$tmp/esccsv.out")"
printf 'a,b\n1,2\n' >"$tmp/hdr.csv"
"$synlaw" fit --csv "$tmp/hdr.csv" --x $'\033[2Jx' --y b >"$tmp/hdr.out" 2>&1
has_esc "$tmp/hdr.out" && bad "an error message carried raw control sequences: $(cat -v "$tmp/hdr.out")" || ok

# ---- job names: nothing written outside the output directory ----
mkdir -p "$tmp/out/sub"
for name in '"../x"' 'a/b' '"x\ty"' '"."' '".."' '"../../escape"' '"\e[31mred"'; do
  { printf 'name: %s\n' "$name"; tail -n +2 "$tmp/mini.yaml"; } >"$tmp/name.yaml"
  before=$(find "$tmp" | sort)
  expect 2 "name.yaml:1:7: name: .* cannot name files" -- "$synlaw" run "$tmp/name.yaml" --shard 0/2 -o "$tmp/out/sub/" -q
  expect 2 "name.yaml:1:7: name: .* cannot name files" -- "$synlaw" check "$tmp/name.yaml"
  after=$(find "$tmp" | sort)
  [ "$before" = "$after" ] && ok || bad "name $name: files appeared: $(diff <(echo "$before") <(echo "$after"))"
done
"$synlaw" check "$tmp/name.yaml" >"$tmp/name.out" 2>&1
has_esc "$tmp/name.out" && bad "check printed the job name's escape raw: $(cat -v "$tmp/name.out")" || ok

# ---- job files: depth, documents, size ----
"$py" -c 'import sys; n=100000; open(sys.argv[1],"w").write("axes: " + "["*n + "]"*n + "\n")' "$tmp/deep.yaml"
t0=$(date +%s.%N)
expect 2 "deep.yaml:1:70: nested more than 64 levels deep" -- "$synlaw" check "$tmp/deep.yaml"
echo "100,000 nested levels refused in $(echo "$(date +%s.%N) - $t0" | bc) s"
expect 2 "deep.yaml:1:70: nested more than 64 levels deep" -- "$synlaw" run "$tmp/deep.yaml" -o "$tmp/deep.h5"
[ ! -e "$tmp/deep.h5" ] && ok || bad "a run of a deep job wrote a file"
{ cat "$tmp/mini.yaml"; printf -- '---\nname: second\n'; } >"$tmp/two.yaml"
expect 2 "two.yaml:17:1: a second YAML document" -- "$synlaw" check "$tmp/two.yaml"
{ head -c 1100000 /dev/zero | tr '\0' '#'; echo; cat "$tmp/mini.yaml"; } >"$tmp/big.yaml"
expect 2 "big.yaml: more than 1048576 bytes; a job file is at most 1 MiB" -- "$synlaw" check "$tmp/big.yaml"

# ---- check and run agree ----
sed 's/finetune_size: \[100\]/finetune_size: [100, 55000]/' "$tmp/mini.yaml" >"$tmp/pool.yaml"
msg="axes.finetune_size: 55000 exceeds the 50000 training images"
expect 2 "$msg" -- "$synlaw" check "$tmp/pool.yaml"
expect 2 "$msg" -- "$synlaw" run "$tmp/pool.yaml" -o "$tmp/pool.h5"
[ ! -e "$tmp/pool.h5" ] && ok || bad "run of an invalid job wrote its output"
fm=/usr/share/datasets/fashion-mnist
if [ -e "$fm/train-images-idx3-ubyte.gz" ]; then
  mkdir -p "$tmp/data"
  ln -s "$fm"/train-* "$tmp/data/"
  # 20x20 test images (valid IDX) with valid labels
  "$py" - "$tmp/data" <<'PY'
import gzip, struct, sys
d = sys.argv[1]
n = 300
with gzip.open(f"{d}/t10k-images-idx3-ubyte.gz", "wb") as f:
    f.write(struct.pack(">IIII", 0x803, n, 20, 20) + bytes(range(256)) * (n * 400 // 256) + bytes(n * 400 % 256))
with gzip.open(f"{d}/t10k-labels-idx1-ubyte.gz", "wb") as f:
    f.write(struct.pack(">II", 0x801, n) + bytes(i % 10 for i in range(n)))
PY
  sed "s|^seed: 3|seed: 3\ndata_dir: $tmp/data|" "$tmp/mini.yaml" >"$tmp/geo.yaml"
  msg="data/t10k-images-idx3-ubyte.gz: 20x20x1 images, but .*/train-images-idx3-ubyte.gz has 28x28x1 \\(expected the same shape in both splits"
  expect 2 "$msg" -- "$synlaw" check "$tmp/geo.yaml"
  expect 2 "$msg" -- "$synlaw" run "$tmp/geo.yaml" -o "$tmp/geo.h5"
  [ ! -e "$tmp/geo.h5" ] && ok || bad "run with 20x20 test images wrote its output"
  # a corrupt gzip stream: the file named once, zlib's reason after it
  cp "$fm/t10k-images-idx3-ubyte.gz" "$tmp/data/t10k-images-idx3-ubyte.gz"
  cp "$fm/t10k-labels-idx1-ubyte.gz" "$tmp/data/t10k-labels-idx1-ubyte.gz"
  printf '\xff\xff\xff\xff\xff\xff\xff\xff' | dd of="$tmp/data/t10k-labels-idx1-ubyte.gz" bs=1 seek=2000 conv=notrunc 2>/dev/null
  out=$("$synlaw" check "$tmp/geo.yaml" 2>&1); status=$?
  n=$(grep -o "t10k-labels-idx1-ubyte.gz" <<<"$out" | wc -l)
  [ "$status" = 2 ] && [ "$n" = 1 ] && grep -q "t10k-labels-idx1-ubyte.gz: corrupt gzip data: " <<<"$out" && ok ||
    bad "corrupt gzip: status $status, the path $n times: $out"
  # labels out of range
  "$py" - "$tmp/data" <<'PY'
import gzip, struct, sys
with gzip.open(f"{sys.argv[1]}/t10k-labels-idx1-ubyte.gz", "wb") as f:
    f.write(struct.pack(">II", 0x801, 10000) + bytes([3]) * 9999 + bytes([11]))
PY
  expect 2 "data/t10k-labels-idx1-ubyte.gz: label 11 of item 9999 is out of range" -- "$synlaw" check "$tmp/geo.yaml"
  expect 2 "data/t10k-labels-idx1-ubyte.gz: label 11 of item 9999 is out of range" -- "$synlaw" run "$tmp/geo.yaml" -o "$tmp/geo.h5"
else
  echo "dataset-fashion-mnist not installed: skipped the data directory cases"
fi
expect 2 "fit: --law full needs an s column" -- "$synlaw" fit --csv "$tmp/esc.csv" --x n --y y --law full

echo "$pass passed, $failed failed"
[ "$failed" = 0 ]
