#!/bin/bash
# The renderer of the current tree against that of commit BASE, image for image, in each
# clone of the kernels (AVX-512, AVX2 and the x86-64 baseline, each with the textures'
# sinf/cosf its machines run): render_same.c, N images (default 5000) of 12 shapes x 4 levels.
# Exits non-zero if any image, mask or label differs.
# usage: results/bench/harness/render_same.sh BASE [N]   (needs build/: cmake first)
set -eu
base=${1:?usage: render_same.sh BASE_COMMIT [N]}
n=${2:-5000}
cd "$(dirname "$0")/../../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git show "$base:src/core/synth.c" > "$tmp/old_synth.c"
libs=$(tr ' ' '\n' < build/CMakeFiles/synlaw.dir/link.txt | grep -E '\.so$|\.a$|^-l' |
       sed "s#^lib#build/lib#" | tr '\n' ' ')
flags="-O3 -std=c17 -D_POSIX_C_SOURCE=200809L -fno-math-errno -ffp-contract=off -fno-trapping-math
       -Iinclude -Isrc/core"
rename="-Dsynth_render_shape=old_synth_render_shape -Dsynth_render=old_synth_render
        -Dsynth_class_name=old_synth_class_name -Dsynth_shape_check=old_synth_shape_check"
echo "== $(date -u) $(git log --oneline -1 | cut -c1-60) (and the work tree) against $base"
lscpu | grep -E "Model name"
status=0
for c in avx512f avx2 base; do
  gcc $flags -DSYNLAW_CLONE_$c $rename -c "$tmp/old_synth.c" -o "$tmp/old.o"
  gcc $flags -DSYNLAW_CLONE_$c -c src/core/synth.c -o "$tmp/new.o"
  gcc $flags results/bench/harness/render_same.c "$tmp/new.o" "$tmp/old.o" $libs -o "$tmp/same"
  trig=$(case $c in avx512f) echo avx512;; avx2) echo avx2;; *) echo libm;; esac)
  out=$(SYNLAW_TRIG=$trig "$tmp/same" "$n") || status=1
  echo "clone $c (sinf/cosf $trig): $out"
done
exit $status
