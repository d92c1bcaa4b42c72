#!/usr/bin/env bash
# cmake --install into a temporary prefix: the binary runs from there, the man page holds
# every command's help, and the Slurm templates, scripts and jobs are in share/synlaw.
# usage: test_install.sh BUILD_DIR
set -uo pipefail
build=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAILED: $*" >&2; fail=1; }
cmake --install "$build" --prefix "$tmp" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; bad "cmake --install"; exit 1; }
[ -x "$tmp/bin/synlaw" ] || bad "no bin/synlaw"
"$tmp/bin/synlaw" --version | grep -q '^synlaw ' || bad "installed synlaw --version"
man="$tmp/share/man/man1/synlaw.1"
[ -s "$man" ] || bad "no man page at share/man/man1/synlaw.1"
grep -q '^\.TH SYNLAW 1' "$man" || bad "man page has no .TH header"
for c in run check fit merge status render bench plan models; do
  grep -q "^\.SS $c " "$man" || bad "man page lacks a section for $c"
  # the man page carries the same usage line as --help
  line=$("$tmp/bin/synlaw" "$c" --help | head -1 | sed 's/-/\\-/g')
  grep -qF -- "$line" "$man" || bad "man page lacks the usage line of $c: $line"
done
for f in slurm/submit slurm/sweep-array.sbatch slurm/sweep-mpi.sbatch slurm/merge-fit.sbatch \
         scripts/plot.py jobs/quick.yaml; do
  [ -e "$tmp/share/synlaw/$f" ] || bad "share/synlaw/$f not installed"
done
[ -x "$tmp/share/synlaw/slurm/submit" ] || bad "slurm/submit not executable"
if command -v groff >/dev/null; then
  groff -man -Tutf8 -ww "$man" >/dev/null 2>"$tmp/groff.err" || bad "groff cannot render the man page"
  [ ! -s "$tmp/groff.err" ] || bad "groff warnings: $(cat "$tmp/groff.err")"
fi
[ "$fail" = 0 ] && echo "install: ok"
exit $fail
