#!/bin/bash
# The kernel benchmarks of the README (issue 12): three runs of synlaw bench and
# scripts/bench_torch.py one after the other, the render rates, and the realistic pre-training
# stages at 4 epochs of n = 16,384 (the reference job budget) for every model and level.
# Output: results/bench/kernels.log.
cd "$(dirname "$0")/../.." && source scripts/env.sh
echo "== $(date -u) $(git log --oneline | head -1)"
lscpu | grep -E "Model name"; grep -o -w -E "avx2|avx512f|avx512bw|avx512vl|fma" /proc/cpuinfo | sort -u | tr '\n' ' '; echo
for rep in 1 2 3; do
  echo "== run $rep"
  echo '$ build/synlaw bench --batch 128'
  build/synlaw bench --batch 128
  echo '$ scripts/bench_torch.py build/synlaw --batch 128'
  /usr/bin/python3 scripts/bench_torch.py build/synlaw --batch 128
done
for k in 1 2 3 4; do echo "\$ build/synlaw render --complexity $k --count 16 -o /tmp/s.png"; build/synlaw render --complexity $k --count 16 -o /tmp/s.png; done
for L in 1 2 3 4; do
  echo "\$ build/synlaw bench --stage-steps 1024 --stage-n 16384 --stage-level $L --seconds 0.2"
  build/synlaw bench --stage-steps 1024 --stage-n 16384 --stage-level $L --seconds 0.2 | sed -n '/^pre-training stage/,$p'
done
echo "== done $(date -u)"
