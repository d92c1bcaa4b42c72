#!/bin/bash
# Each clone of the kernels alone (AVX-512, AVX2 and the x86-64 baseline: the code that an
# AVX2 or an older machine runs), in the build of commit BASE and in the current one, one
# after the other, twice: the renderer's rates at 28x28 (harness rates, with a hash of every
# image: the same in every line) and the sigmoid cross-entropy against the libm formula
# (harness bce). The clones are CMake's kernels_<clone> objects, built with the flags of
# their tree, each with the textures' sinf/cosf that its machines run (the AVX2 + FMA kernel
# for the AVX2 clone, the C library's for the baseline). Figures from this machine's CPU.
# usage: results/bench/clones.sh BASE   (e.g. 424dd42); output on stdout (results/bench/clones.log)
set -eu
base=${1:?usage: clones.sh BASE_COMMIT}
cd "$(dirname "$0")/../.." && source scripts/env.sh
wt=$(mktemp -d) tmp=$(mktemp -d)
trap 'git worktree remove --force "$wt" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
git worktree add -f --detach "$wt" "$base" >/dev/null 2>&1
clones="avx512f avx2 base"
for tree in "$wt" "$PWD"; do
  tag=$([ "$tree" = "$PWD" ] && echo cur || echo base)
  cmake -S "$tree" -B "$tree/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$tree/build" -j2 --target synlaw $(printf 'kernels_%s ' $clones) >/dev/null
  libs=$(tr ' ' '\n' < "$tree/build/CMakeFiles/synlaw.dir/link.txt" | grep -E '\.so$|\.a$|^-l' |
         sed "s#^lib#$tree/build/lib#" | tr '\n' ' ')
  for c in $clones; do
    objs=$(ls "$tree"/build/CMakeFiles/kernels_$c.dir/src/core/{nn,synth,train,rng}.c.o 2>/dev/null || true)
    gcc -O2 -std=c17 -D_POSIX_C_SOURCE=200809L -I"$tree/include" results/bench/harness/harness.c \
      $objs $libs -o "$tmp/h_${tag}_$c"
  done
done
echo "== $(date -u) base $(git -C "$wt" log --oneline -1 | cut -c1-60) against $(git log --oneline -1 | cut -c1-60)"
lscpu | grep -E "Model name"
for rep in 1 2; do
  for c in $clones; do
    for tag in base cur; do
      # the textures' sinf/cosf an AVX2 or older machine runs (SYNLAW_TRIG, src/core/trig.h;
      # builds before it ignore the variable)
      trig=$(case $c in avx512f) echo avx512;; avx2) echo avx2;; *) echo libm;; esac)
      printf '%-4s %-7s render %s\n' "$tag" "$c" "$(SYNLAW_TRIG=$trig "$tmp/h_${tag}_$c" rates)"
      printf '%-4s %-7s bce    %s\n' "$tag" "$c" "$("$tmp/h_${tag}_$c" bce 300 | tail -1)"
    done
  done
done
# Which loops of the kernel files GCC vectorises in each clone of the current tree: the
# lines vectorised in the AVX-512 clone and not in the others (-fopt-info-vec-optimized on
# CMake's own compile commands)
cmake -S . -B build -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
python3 - build/compile_commands.json <<'PY'
import json, re, shlex, subprocess, sys
cmds = json.load(open(sys.argv[1]))
lines = {}
for c in ("avx512f", "avx2", "base"):
    got = set()
    for e in cmds:
        m = re.search(r"kernels_%s\.dir/src/core/(\w+\.c)\.o" % c, e["command"])
        if not m:
            continue
        argv = shlex.split(e["command"])
        argv[argv.index("-o") + 1] = "/dev/null"
        out = subprocess.run(argv + ["-fopt-info-vec-optimized"], cwd=e["directory"],
                             capture_output=True, text=True).stderr
        got |= {m.group(1) + ":" + l for l in re.findall(r"/%s:(\d+):\d+: optimized: loop vectorized" % re.escape(m.group(1)), out)}
    lines[c] = got
print("loops vectorised: " + ", ".join("%s %d" % (c, len(v)) for c, v in lines.items()))
for c in ("avx2", "base"):
    miss = sorted(lines["avx512f"] - lines[c], key=lambda x: (x.split(":")[0], int(x.split(":")[1])))
    print("in the AVX-512 clone and not in %s: %s" % (c, ", ".join(miss) or "none"))
PY
echo "== done $(date -u)"
