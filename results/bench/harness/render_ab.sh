#!/bin/bash
# Build render_ab (render_ab.c): the renderer of A_SYNTH_C and of B_SYNTH_C (two copies of
# src/core/synth.c, each compiled with its own tree's headers, with one clone of its HOT loops
# alone: the widest this CPU runs, or RENDER_AB_CLONE=avx512f|avx2|base) in one program, their
# symbols renamed A_ and B_, linked with this checkout's build/ (run cmake first) for the rest
# of the library (so the two trees' synth.h must agree on synth_sample: render_ab.c uses the
# current one).
# usage: results/bench/harness/render_ab.sh A_SYNTH_C B_SYNTH_C OUT
set -eu
a=${1:?usage: render_ab.sh A_SYNTH_C B_SYNTH_C OUT} b=${2:?} out=${3:?}
here=$(cd "$(dirname "$0")" && pwd)
root=$here/../../..
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
libs=$(tr ' ' '\n' < "$root/build/CMakeFiles/synlaw.dir/link.txt" | grep -E '\.so$|\.a$|^-l' |
       sed "s#^lib#$root/build/lib#" | tr '\n' ' ')
clone=${RENDER_AB_CLONE:-$(grep -qw avx512f /proc/cpuinfo && echo avx512f || { grep -qw avx2 /proc/cpuinfo && echo avx2 || echo base; })}
flags="-O3 -std=c17 -D_POSIX_C_SOURCE=200809L -fno-math-errno -ffp-contract=off -fno-trapping-math -DSYNLAW_CLONE_$clone"
for v in A B; do
  src=$a
  [ "$v" = B ] && src=$b
  # its own tree's headers, public (include/) and internal (beside it)
  gcc $flags -I"$(dirname "$src")/../../include" -c "$src" -o "$tmp/$v.o"
  nm "$tmp/$v.o" | awk -v p="$v" '$2 ~ /^[TDBR]$/ {print $3, p "_" $3}' > "$tmp/$v.map"
  objcopy --redefine-syms="$tmp/$v.map" "$tmp/$v.o"
done
gcc -O2 -std=c17 -D_POSIX_C_SOURCE=200809L -I"$root/include" "$here/render_ab.c" "$tmp/A.o" "$tmp/B.o" $libs -o "$out"
echo "built $out (the $clone clone)"
