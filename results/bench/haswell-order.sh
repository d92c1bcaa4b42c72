#!/bin/bash
# Checks the model of OpenBLAS's Haswell sgemm order (results/bench/haswell-order.c) against
# the installed OpenBLAS, on this machine, with its Haswell kernels forced
# (OPENBLAS_CORETYPE=Haswell): random shapes with each transposition, then the shapes of the
# zoo's GEMM convolutions (nn.c; the second layers of cnn-s, cnn-m and cnn-l at batch 128:
# forward K x B*HW x C*9, weight gradient K x C*9 x B*HW with B transposed, input gradient
# C*9 x B*HW x K with A transposed), a first layer as a GEMM and an inner dimension of two
# blocks, then two control runs where the model must fail (SkylakeX kernels; two threads).
# usage: results/bench/haswell-order.sh   (output on stdout: results/bench/haswell-order.log)
set -u
cd "$(dirname "$0")/../.."
bin=$(mktemp)
trap 'rm -f "$bin"' EXIT
gcc -O2 -std=c17 -Wall results/bench/haswell-order.c -o "$bin" -lopenblas -lm || exit 1
echo "== $(date -u) $(git log --oneline | head -1 | cut -c1-60)"
lscpu | grep -E "Model name"
echo "OpenBLAS $(readlink -f /usr/lib/x86_64-linux-gnu/libopenblas.so.0 | grep -o 'r[0-9.]*[0-9]')"
run() { printf '%-44s %s\n' "$*" "$("$bin" "$@" | tail -1)"; }
export OPENBLAS_CORETYPE=Haswell OPENBLAS_NUM_THREADS=1
for t in NN TN NT TT; do
  run 300 24 24 24 $t
  run 60 80 900 1400 $t
done
for s in "16 25088 72 NN" "32 25088 144 NN" "64 25088 288 NN" \
         "16 72 25088 NT" "32 144 25088 NT" "64 288 25088 NT" \
         "72 25088 16 TN" "144 25088 32 TN" "288 25088 64 TN" "8 100352 9 NN" "128 6272 576 NN"; do
  run 1 $s
done
echo "controls (must differ):"
OPENBLAS_CORETYPE=SkylakeX run 1 32 25088 144 NN
OPENBLAS_NUM_THREADS=2 run 1 32 25088 144 NN
echo "== done $(date -u)"
