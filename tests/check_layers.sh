#!/usr/bin/env bash
# The layers of the tree (README: architecture), checked on the sources:
#  (a) the core library (src/core) never prints, exits or aborts: no printf, puts, putchar,
#      perror, exit, _exit, abort or MPI_Abort calls and no stdout or stderr. fprintf to a
#      FILE the caller named is allowed (the CSV writer writes its file that way);
#  (b) the include graph among the modules has no cycle (module = file stem; X -> Y when
#      include/synlaw/X.h or src/core/X.c includes "synlaw/Y.h");
#  (c) the statistics layer (util, rng, fit, analysis and any other source of the synlaw_stats
#      target in CMakeLists.txt: headers and sources) includes neither mpi.h nor hdf5*.h,
#      directly or through any synlaw header it includes;
#  (d) src/core and include/synlaw never include a file of the application (src/cli).
# Usage: check_layers.sh SOURCE_DIR. Prints what it found and exits 1 on any violation.
set -u
src=${1:?usage: check_layers.sh SOURCE_DIR}
core=$src/src/core inc=$src/include/synlaw cli=$src/src/cli
fail=0
bad() { echo "FAIL: $*"; fail=1; }

shopt -s nullglob
core_c=("$core"/*.c)
headers=("$inc"/*.h)
if [ ${#core_c[@]} -eq 0 ] || [ ${#headers[@]} -eq 0 ]; then
    echo "FAIL: no sources under $core or $inc"
    exit 1
fi

# (a) No printing, exit or abort in the library.
calls=$(grep -nE '\b(printf|puts|putchar|perror|exit|_exit|abort|MPI_Abort)\s*\(' "${core_c[@]}")
[ -n "$calls" ] && bad "(a) the core library prints, exits or aborts:"$'\n'"$calls"
streams=$(grep -nE '\b(stdout|stderr)\b' "${core_c[@]}")
[ -n "$streams" ] && bad "(a) the core library uses stdout or stderr:"$'\n'"$streams"

# The synlaw modules a file includes ("synlaw/Y.h" -> Y), one per line.
synlaw_includes() {
    sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]synlaw\/([A-Za-z0-9_]+)\.h[">].*/\1/p' "$1"
}

# (b) No cycle in the module graph: tsort reports a loop on stderr and exits non-zero.
edges=$(for f in "${headers[@]}" "${core_c[@]}"; do
    x=$(basename "$f"); x=${x%.*}
    for y in $(synlaw_includes "$f"); do
        [ "$x" != "$y" ] && echo "$x $y"
    done
done | sort -u)
if [ -n "$edges" ]; then
    if ! out=$(printf '%s\n' "$edges" | tsort 2>&1 >/dev/null) || [ -n "$out" ]; then
        bad "(b) the include graph has a cycle:"$'\n'"$out"$'\n'"edges (X includes Y):"$'\n'"$edges"
    fi
fi

# (c) The statistics layer: follow every synlaw header reached from its files, then look
# for mpi.h or hdf5*.h in all of them.
stats="util rng fit analysis"
listed=$(sed -n '/add_library(synlaw_stats/,/)/p' "$src/CMakeLists.txt" 2>/dev/null |
         grep -oE 'src/core/[A-Za-z0-9_]+\.c' | sed -E 's|src/core/||; s|\.c$||')
[ -z "$listed" ] && bad "(c) no synlaw_stats sources found in $src/CMakeLists.txt"
for m in $listed; do
    case " $stats " in *" $m "*) ;; *) stats="$stats $m" ;; esac
done
todo=() seen=" "
for m in $stats; do
    for f in "$inc/$m.h" "$core/$m.c"; do
        [ -f "$f" ] && todo+=("$f")
    done
done
reached=()
while [ ${#todo[@]} -gt 0 ]; do
    f=${todo[0]}
    todo=("${todo[@]:1}")
    case "$seen" in *" $f "*) continue ;; esac
    seen="$seen$f "
    reached+=("$f")
    for y in $(synlaw_includes "$f"); do
        if [ -f "$inc/$y.h" ]; then
            todo+=("$inc/$y.h")
        else
            bad "(c) $f includes synlaw/$y.h, which does not exist"
        fi
    done
done
heavy=$(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](mpi|hdf5[A-Za-z0-9_]*)\.h[">]' "${reached[@]}")
if [ -n "$heavy" ]; then
    bad "(c) the statistics layer ($stats) reaches MPI or HDF5:"$'\n'"$heavy"$'\n'"files reached from it: ${reached[*]#$src/}"
fi

# (d) The core never includes the application: no include naming cli/ or a file of src/cli.
names=$(cd "$cli" 2>/dev/null && ls | sed 's/[.]/\\./g' | paste -sd'|')
pattern='^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^">]*/)?cli/'
[ -n "$names" ] && pattern="$pattern|^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]([^\">]*/)?($names)[\">]"
app=$(grep -nE "$pattern" "${core_c[@]}" "${headers[@]}")
[ -n "$app" ] && bad "(d) the core includes a file of the application (src/cli):"$'\n'"$app"

if [ $fail -eq 0 ]; then
    echo "layers: ok (${#core_c[@]} core sources, ${#headers[@]} headers, $(printf '%s\n' "$edges" | grep -c .) include edges, statistics layer: ${#reached[@]} files)"
fi
exit $fail
