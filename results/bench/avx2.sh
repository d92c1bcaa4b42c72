#!/bin/bash
# The kernel benchmarks of measure.sh as an AVX2 machine would run them, emulated on an
# AVX-512 CPU (issue 12: the targets hold "on whichever x86 machine runs the benchmark"):
# - synlaw built with the AVX2 clone of its kernels alone (CMake's kernels_avx2 objects in
#   place of the multi-clone nn.c, synth.c, train.c and rng.c; the link line is CMake's own);
# - the textures' sinf/cosf, the convolution kernels and the 8-bit quantiser that an AVX2
#   CPU picks (SYNLAW_TRIG=avx2, SYNLAW_CONV_KERNEL=avx2, SYNLAW_QUANT=avx2);
# - OpenBLAS's Haswell kernels (OPENBLAS_CORETYPE=Haswell), for synlaw, its sgemm reference
#   and PyTorch (which calls the same OpenBLAS);
# - PyTorch's own kernels at AVX2 (ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2;
#   oneDNN's verbose line confirms jit:avx2).
# What it cannot emulate: an AVX2 CPU's clock, caches and memory. The figures are this
# CPU's running AVX2 code, not an AVX2 machine's.
# usage: results/bench/avx2.sh   (output on stdout: results/bench/avx2.log)
# AVX2_STAGES=1: only the pre-training stages, at the levels of AVX2_LEVELS (default 1 2 3 4).
set -eu
cd "$(dirname "$0")/../.." && source scripts/env.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2 --target synlaw kernels_avx2 >/dev/null
k=CMakeFiles/kernels_avx2.dir/src/core
(cd build && sed "s#-o synlaw #$k/nn.c.o $k/synth.c.o $k/train.c.o $k/rng.c.o -o $tmp/synlaw #" \
   CMakeFiles/synlaw.dir/link.txt | bash)
# nothing of the AVX-512 code may run: only the run-time-chosen kernels that the variables
# above turn off may hold zmm instructions
zmm=$(objdump -d "$tmp/synlaw" | awk '/^[0-9a-f]+ <.*>:$/{f=$2} /zmm/{print f}' | sort -u | tr '\n' ' ')
export OPENBLAS_CORETYPE=Haswell SYNLAW_TRIG=avx2 SYNLAW_CONV_KERNEL=avx2 SYNLAW_QUANT=avx2
export ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2
echo "== $(date -u) $(git log --oneline | head -1 | cut -c1-60)"
lscpu | grep -E "Model name"
echo "emulated AVX2: OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE SYNLAW_TRIG=$SYNLAW_TRIG" \
     "SYNLAW_CONV_KERNEL=$SYNLAW_CONV_KERNEL SYNLAW_QUANT=$SYNLAW_QUANT ATEN_CPU_CAPABILITY=$ATEN_CPU_CAPABILITY" \
     "ONEDNN_MAX_CPU_ISA=$ONEDNN_MAX_CPU_ISA"
echo "functions with AVX-512 registers in the binary (chosen at run time, off here): $zmm"
ONEDNN_VERBOSE=1 /usr/bin/python3 -c '
import torch
torch.set_num_threads(1)
torch.nn.Conv2d(1, 4, 3)(torch.zeros(1, 1, 8, 8))' | grep -m1 -o "convolution,jit:[a-z0-9_]*" |
  sed 's/^/PyTorch oneDNN: /'
for rep in $([ -n "${AVX2_STAGES:-}" ] || echo 1 2 3); do
  echo "== run $rep"
  echo '$ synlaw bench --batch 128'
  "$tmp/synlaw" bench --batch 128
  echo '$ scripts/bench_torch.py synlaw --batch 128'
  /usr/bin/python3 scripts/bench_torch.py "$tmp/synlaw" --batch 128
done
for L in ${AVX2_LEVELS:-1 2 3 4}; do
  echo "\$ synlaw bench --stage-steps 1024 --stage-n 16384 --stage-level $L --seconds 0.2"
  "$tmp/synlaw" bench --stage-steps 1024 --stage-n 16384 --stage-level $L --seconds 0.2 |
    sed -n '/^pre-training stage/,$p'
done
echo "== done $(date -u)"
