#!/usr/bin/env bash
# Build the libFuzzer targets of tests/fuzz with clang (BUILD/fuzz, -DSYNLAW_FUZZ=ON) and run
# each for a short while: the job parser, the CSV reader, the IDX reader and the results-file
# reader. Seeds come from the project's own files, made fresh each run in BUILD/fuzz/seeds:
# jobs/*.yaml and tests/tiny.yaml; lines of data/cg-transfer's CSV (and small CSV files) behind
# an options byte; small IDX files written here; tests/data/tiny-format1.h5, a small format 2
# file and a shard file made by SYNLAW. tests/fuzz/corpus/TARGET holds the reproducers of
# crashes found and fixed (they run first, every time); what a run discovers accumulates in
# BUILD/fuzz/corpus/TARGET. A crash fails the test and leaves its input in
# BUILD/fuzz/artifacts/: fix the cause, then add the input to tests/fuzz/corpus/TARGET.
# Without clang and its libFuzzer runtime this says so and exits 77 (ctest: skipped).
# usage: run_fuzz.sh SOURCE_DIR BUILD_DIR SYNLAW PYTHON SECONDS [TARGET...]
set -uo pipefail
src=$1 build=$2 synlaw=$3 py=$4 secs=$5
shift 5
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(job csv idx store)
fb=$build/fuzz
mkdir -p "$fb"
cc=$(command -v clang || command -v clang-14 || true)
if [ -z "$cc" ]; then
  echo "SKIPPED: clang not found; the fuzz targets need clang and libFuzzer (apt-get install clang libclang-rt-14-dev, as scripts/setup does)"
  exit 77
fi
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' >"$fb/probe.c"
if ! "$cc" -fsanitize=fuzzer,address "$fb/probe.c" -o "$fb/probe" >"$fb/probe.log" 2>&1; then
  echo "SKIPPED: $cc cannot link libFuzzer (apt-get install libclang-rt-14-dev): $(tail -3 "$fb/probe.log")"
  exit 77
fi
echo "building the fuzz targets with $cc in $fb"
if ! { cmake -S "$src" -B "$fb" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSYNLAW_FUZZ=ON \
         -DBUILD_TESTING=OFF && cmake --build "$fb" -j 2 --target "${targets[@]/#/fuzz_}"; } >"$fb/build.log" 2>&1; then
  tail -40 "$fb/build.log"
  echo "FAILED: building the fuzz targets (log: $fb/build.log)"
  exit 1
fi

# ---- seeds ----
seeds=$fb/seeds
rm -rf "$seeds"
mkdir -p "$seeds"/{job,csv,idx,store} "$fb"/corpus/{job,csv,idx,store} "$fb/artifacts"
cp "$src"/jobs/*.yaml "$src/tests/tiny.yaml" "$seeds/job/"
csv=$src/data/cg-transfer/results_finetune.csv
for o in 13 45 77 141 173 255; do # options bytes: see fuzz_csv.c
  { printf "\\$(printf %03o "$o")"; head -41 "$csv"; } >"$seeds/csv/study-$o"
done
printf '\000n,y,g,step,r,s\n100,0.5,a,1,x,100\n100,0.45,a,2,x,100\n1000,0.4,a,2,y,200\n10000,0.35,a,2,x,100\n100000,0.33,b,2,y,200\n' >"$seeds/csv/small"
printf '\244n,y,s,r\n100,0.5,100,1\n1000,0.4,100,1\n100,0.45,1000,2\n1000,0.38,1000,2\n10000,0.3,1000,1\n' >"$seeds/csv/full"
"$py" - "$seeds/idx" <<'PY'
import gzip, struct, sys
d = sys.argv[1]
def pair(name, n, rows, cols, labels, gz):
    img = struct.pack(">IIII", 0x803, n, rows, cols) + bytes((i * 7) % 256 for i in range(n * rows * cols))
    lab = struct.pack(">II", 0x801, len(labels)) + bytes(labels)
    if gz:
        img, lab = gzip.compress(img), gzip.compress(lab)
    open(f"{d}/{name}", "wb").write(struct.pack(">H", len(img)) + img + lab)
pair("gz-3x4x4", 3, 4, 4, [1, 9, 0], True)
pair("plain-3x4x4", 3, 4, 4, [1, 9, 0], False)
pair("gz-1x28x28", 1, 28, 28, [5], True)
pair("plain-2x20x20", 2, 20, 20, [3, 12], False)
PY
cp "$src/tests/data/tiny-format1.h5" "$seeds/store/format1.h5"
cat >"$fb/micro.yaml" <<'EOF'
name: micro
axes:
  pretrain_size: [0, 100]
  model: [mlp-s]
  finetune_size: [100]
pretrain: {steps: 2, batch: 8, eval_every: 1, eval_size: 8, keep: false}
finetune: {steps: 2, batch: 8, eval_every: 1, eval_size: 16}
EOF
rm -rf "$fb/micro.h5" "$fb/micro-shards"
if "$synlaw" run "$fb/micro.yaml" -o "$fb/micro.h5" -q --no-fit >"$fb/micro.log" 2>&1 &&
   "$synlaw" run "$fb/micro.yaml" --shard 0/2 -o "$fb/micro-shards/" -q >>"$fb/micro.log" 2>&1; then
  cp "$fb/micro.h5" "$seeds/store/format2.h5"
  cp "$fb"/micro-shards/*.h5 "$seeds/store/"
else
  echo "warning: no format 2 seed (synlaw run failed): $(tail -3 "$fb/micro.log")"
fi

# ---- runs ----
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export LSAN_OPTIONS=suppressions=$src/tests/sanitize/lsan.supp:print_suppressions=0
status=0
for t in "${targets[@]}"; do
  log=$fb/$t.log
  dirs=("$fb/corpus/$t" "$seeds/$t")
  [ -d "$src/tests/fuzz/corpus/$t" ] && dirs+=("$src/tests/fuzz/corpus/$t")
  (cd "$fb" && ./tests/fuzz/"fuzz_$t" -max_total_time="$secs" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
     -artifact_prefix="$fb/artifacts/$t-" "${dirs[@]}") >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  units=$(ls "$fb/corpus/$t" | wc -l)
  if [ "$rc" = 0 ]; then
    echo "fuzz_$t: ${execs:-?} executions in ${secs} s (${rate:-?}/s), corpus $units inputs, no crash"
  else
    status=1
    echo "FAILED: fuzz_$t exited $rc after ${execs:-?} executions:"
    grep -E "ERROR|SUMMARY|Test unit written|#[0-9]+ .* in " "$log" | head -30
    echo "(whole log: $log; fix the cause, then add the input to tests/fuzz/corpus/$t)"
  fi
done
exit $status
