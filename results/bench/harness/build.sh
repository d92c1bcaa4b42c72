#!/bin/bash
# Build the measurement harnesses of results/bench/harness against build/ (run cmake first):
# harness (bce, render, stage) and span_check (an instrumented copy of src/core/synth.c).
# usage: results/bench/harness/build.sh OUTDIR
set -eu
out=${1:?usage: build.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
root=${SYNLAW_ROOT:-$here/../../..} # SYNLAW_ROOT: another checkout (with its build/) to measure
mkdir -p "$out"
# the libraries synlaw itself links, as CMake wrote them down
libs=$(tr ' ' '\n' < "$root/build/CMakeFiles/synlaw.dir/link.txt" | grep -E '\.so$|\.a$|^-l' |
       sed "s#^lib#$root/build/lib#" | tr '\n' ' ')
flags="-O3 -std=c17 -D_POSIX_C_SOURCE=200809L -fno-math-errno -ffp-contract=off -I$root/include -I$root/src/core"
# HARNESS_CLONE=avx512f|avx2|base: the harness with that clone of the HOT loops alone (CMake's
# kernels_<clone> objects ahead of the library), as on a CPU where it is the widest
clone_objs=
if [ -n "${HARNESS_CLONE:-}" ]; then
  clone_objs=$(ls "$root/build/CMakeFiles/kernels_$HARNESS_CLONE.dir/src/core/"*.o)
fi
gcc $flags "$here/harness.c" $clone_objs $libs -o "$out/harness"
# span_check: synth.c with every row's coverage over the whole box computed as well, and the
# pixels it draws counted
python3 - "$root/src/core/synth.c" "$out/synth_check.c" <<'PY'
import sys
s = open(sys.argv[1]).read()
anchor = "        if (n <= 0)\n            continue;\n        if (k + n > PACK) {"
check = """        { /* every pixel of the box's row outside the span must have coverage <= 0 */
            const int nf = x1 - x0 + 1, mf = (nf + 15) & ~15;
            float cf[ROW_MAX], uf[ROW_MAX], vf[ROW_MAX];
            local_coords(uf, vf, x0, y, mf, o, g);
            coverage_packed(cf, uf, vf, mf, o, g);
            for (int i = 0; i < nf; i++) {
                const int x = x0 + i;
                CHK_PIX++;
                if (cf[i] > 0 && (n <= 0 || x < xa || x > xa + n - 1))
                    CHK_BAD++;
                if (cf[i] > 0 && n > 0) {
                    if (xa > x0 && x - xa < CHK_MINA) CHK_MINA = x - xa;
                    if (xa + n - 1 < x1 && xa + n - 1 - x < CHK_MINB) CHK_MINB = xa + n - 1 - x;
                }
            }
        }
"""
assert s.count(anchor) == 1, "synth.c changed: update build.sh"
s = s.replace(anchor, check + anchor)
# and the pixels drawn: packed into chunks, and of those covered (coverage > 0)
shade = "    shade_row(val, cov, ck->u, ck->v, kk, o);\n"
assert s.count(shade) == 1, "synth.c changed: update build.sh"
s = s.replace(shade, shade + "    CHK_PACKED += k;\n    for (int i = 0; i < k; i++)\n        CHK_COVERED += cov[i] > 0;\n")
s = s.replace("static inline __attribute__((always_inline)) void\ndraw_chunk(",
              "long long CHK_PACKED, CHK_COVERED;\nstatic inline __attribute__((always_inline)) void\ndraw_chunk(")
s = s.replace("HOT static void draw_object",
              "long long CHK_PIX, CHK_BAD;\nint CHK_MINA = 99, CHK_MINB = 99;\nstatic void draw_object")
s = s.replace("\nHOT static", "\nstatic")
open(sys.argv[2], "w").write(s)
PY
gcc $flags "$here/span_check.c" "$out/synth_check.c" $libs -o "$out/span_check"
echo "built $out/harness and $out/span_check"
