"""Compare the computed contents of synlaw results files bitwise.

usage: compare_results.py A.h5 B.h5 [...]
Curves, per-cell and per-backbone results, backbone weights and fits must be identical to the
bit (NaN equal to NaN); fields that legitimately differ between runs (rank, wall time, phase
times, whether a backbone was copied from pretrain.from) are not compared."""
import sys

import h5py
import numpy as np

SKIP = {"rank", "wall_time", "time_generate", "time_pretrain", "time_finetune", "time_evaluate",
        "time_write", "reused"}


def table(out, f, name):
    rows = f[name][:]
    for field in rows.dtype.names:
        if field not in SKIP:
            out[name + "." + field] = rows[field]
    return rows


def load(path):
    out = {}
    with h5py.File(path, "r") as f:
        version = int(f.attrs["format_version"])
        if version == 1:
            curves = ("finetune_error", "pretrain_loss", "pretrain_error")
        else:
            curves = ("finetune_step", "finetune_val_error", "finetune_test_error", "pretrain_step",
                      "pretrain_loss", "pretrain_error")
            table(out, f, "backbones")
            for model in f.get("weights", {}):
                out["weights/" + model] = f["weights/" + model][:]
        for k in curves:
            out["curves/" + k] = f["curves/" + k][:]
        cells = table(out, f, "cells")
        out["ranks_used"] = len(set(cells["rank"]))
        out["fits"] = f["fits"][:]
    return out


def main(paths):
    ref = load(paths[0])
    for p in paths[1:]:
        other = load(p)
        if set(ref) != set(other):
            print(f"compare: {sorted(set(ref) ^ set(other))} in only one of {paths[0]} and {p}", file=sys.stderr)
            sys.exit(1)
        for k, v in ref.items():
            if k == "ranks_used":
                continue
            a, b = np.asarray(v), np.asarray(other[k])
            if a.shape != b.shape or a.tobytes() != b.tobytes():
                print(f"compare: {k} differs between {paths[0]} and {p}", file=sys.stderr)
                sys.exit(1)
        print(f"compare: {p} identical to {paths[0]} (cells run on {other['ranks_used']} ranks)")


if __name__ == "__main__":
    main(sys.argv[1:])
