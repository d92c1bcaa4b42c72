#!/usr/bin/env bash
# scripts/plot.py draws its four figures and writes its tables from a format 2 file (tiny.yaml
# with 2 repeats, so there are intervals and p-values) and from the format 1 fixture; the
# tables' counts agree with /fits and /gains read directly with h5py.
# usage: test_plot.sh SYNLAW TESTS_DIR PYTHON
set -euo pipefail
synlaw=$1 dir=$2 py=$3
plot="$dir/../scripts/plot.py"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export MPLBACKEND=Agg MPLCONFIGDIR="$tmp/mpl" SYNLAW="$synlaw"  # plot.py asks it for parameter counts

sed 's/^\( *repeats:\).*/\1 2/' "$dir/tiny.yaml" >"$tmp/tiny2.yaml"
grep -q "repeats: 2" "$tmp/tiny2.yaml"
"$synlaw" run "$tmp/tiny2.yaml" -o "$tmp/tiny2.h5" -q >"$tmp/run.log"

fail() { echo "test_plot: $*"; exit 1; }

# check OUTDIR FORMAT: the five outputs exist, PNGs are PNGs of a readable size, tables have
# their four sections and headers
check() {
  local out=$1 fmt=$2
  for f in curves gains params budget; do
    [ -s "$out/$f.png" ] || fail "$out/$f.png missing or empty"
    "$py" - "$out/$f.png" <<'EOF' || fail "$out/$f.png is not a PNG of a readable size"
import struct, sys
b = open(sys.argv[1], "rb").read(24)
assert b[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h = struct.unpack(">II", b[16:24])
assert w >= 500 and h >= 200, (w, h)
EOF
  done
  local t="$out/tables.md"
  [ -s "$t" ] || fail "$t missing or empty"
  for h in "## (a) Fit of L(n)" "## (b) Gain over scratch, averaged over n" "## (c) Gain over scratch per n" \
           "## (d) Full law" "| model | level |" "bootstrap percentile intervals"; do
    grep -qF "$h" "$t" || fail "$t lacks '$h'"
  done
  if [ "$fmt" = 2 ]; then
    for h in "| pairs | pre-trained | scratch | gain [CI] | p | Holm p | family size |" \
             "| α [CI] | C [CI] | RMSE | repeat sd | dAIC vs constant | back-test vs carry | verdict |" \
             "95% Student-t intervals" "Passing Holm at 0.05:" "Identified: **"; do
      grep -qF "$h" "$t" || fail "$t lacks '$h'"
    done
  else
    grep -qF "No /gains in this file (format 1)" "$t" || fail "$t: format 1 without /gains not said"
    grep -qF "Identified: not recorded in this file (format 1)" "$t" || fail "$t: format 1 identifiability"
  fi
}

"$py" "$plot" "$tmp/tiny2.h5" "$tmp/out2" >"$tmp/plot2.log" 2>&1 || { cat "$tmp/plot2.log"; fail "plot.py failed on format 2"; }
check "$tmp/out2" 2
cp "$dir/data/tiny-format1.h5" "$tmp/format1.h5"
"$py" "$plot" "$tmp/format1.h5" "$tmp/out1" >"$tmp/plot1.log" 2>&1 || { cat "$tmp/plot1.log"; fail "plot.py failed on format 1"; }
check "$tmp/out1" 1

# The counts in the tables are the file's: identified groups, comparisons passing Holm, families.
"$py" - "$tmp/tiny2.h5" "$tmp/out2/tables.md" <<'EOF' || fail "tables disagree with the file"
import re, sys
import h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
t = open(sys.argv[2]).read()
fits, gains = f["fits"][:], f["gains"][:]
simple = fits[fits["law"] == b"simple"]
k = int(simple["identified"].sum())
assert f"Identified: **{k} of {len(simple)}** groups" in t, ("identified", k, len(simple))
avg = gains[gains["pretrain_size"] == 0]
passing = int(np.sum(avg["p_holm"] < 0.05))
fam = sorted(set(int(x) for x in avg["family"]))
assert f"Passing Holm at 0.05: **{passing} of {len(avg)}** averaged comparisons" in t, (passing, len(avg))
assert f"family of {'/'.join(map(str, fam))} averaged comparisons" in t, fam
# one table row per simple-law group, per averaged gain and per full-law group
sec = re.split(r"^## ", t, flags=re.M)
rows = lambda s: sum(1 for line in s.splitlines() if line.startswith("| ") and not line.startswith("| model"))
assert rows(sec[1]) == len(simple), (rows(sec[1]), len(simple))
assert rows(sec[2]) == len(avg), (rows(sec[2]), len(avg))
assert rows(sec[4]) == int(np.sum(fits["law"] == b"full")), rows(sec[4])
# every averaged gain appears with its interval, as the file has it
for g in avg:
    s = f"{g['gain']:+.4f} [{g['gain_lo']:+.4f}, {g['gain_hi']:+.4f}]".replace("-", "\u2212")
    assert s in t, s
EOF

# Usage errors exit 2.
set +e
"$py" "$plot" >/dev/null 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || fail "no arguments: exit $rc, not 2"
echo "plot: figures and tables from a format 2 file (2 repeats) and the format 1 fixture"
