#!/bin/bash
# Every clone of the HOT loops computes the same bits: the fingerprint (test_nn --fingerprint:
# training steps of every zoo model with Adam and SGD, rendered and quantised samples) of the
# normal build (the clone this CPU picks) and of each build with one clone alone must agree.
# Each clone's build runs with the quantiser's path of its ISA (SYNLAW_QUANT: quant.c is not
# one of the clones' files; its paths are chosen at run time), so that its paths are compared
# too. A clone this CPU cannot run (exit 77) is left out and named.
# usage: test_clones.sh TEST_NN [TEST_NN_CLONE ...]
set -u
want= ran=0
for bin in "$@"; do
    case $bin in
        *_avx512f) quant=avx512 ;;
        *_avx2) quant=avx2 ;;
        *_base) quant=scalar ;;
        *) quant= ;;
    esac
    if [ -n "$quant" ]; then
        out=$(SYNLAW_QUANT=$quant "$bin" --fingerprint)
    else
        out=$("$bin" --fingerprint)
    fi
    rc=$?
    if [ $rc -eq 77 ]; then
        echo "$(basename "$bin"): $out"
        continue
    fi
    if [ $rc -ne 0 ] || [ -z "$out" ]; then
        echo "FAILED: $(basename "$bin") --fingerprint exited $rc"
        exit 1
    fi
    echo "$(basename "$bin")${quant:+ (SYNLAW_QUANT=$quant)}: $out"
    ran=$((ran + 1))
    if [ -z "$want" ]; then
        want=$out
    elif [ "$out" != "$want" ]; then
        echo "FAILED: $(basename "$bin") computes other bits ($out, not $want)"
        exit 1
    fi
done
if [ $ran -lt 3 ]; then # the normal build and at least the avx2 and base clones
    echo "FAILED: only $ran builds ran"
    exit 1
fi
echo "clones: $ran builds, the same bits"
