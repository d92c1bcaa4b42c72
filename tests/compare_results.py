"""Compare the computed contents of synlaw results files bitwise.

usage: compare_results.py A.h5 B.h5 [...]
Curves and per-cell results must be identical to the bit (NaN equal to NaN); fields that
legitimately differ between runs (rank, wall time, phase times) are not compared."""
import sys

import h5py
import numpy as np

SKIP = {"rank", "wall_time", "time_generate", "time_pretrain", "time_finetune", "time_evaluate", "time_write"}


def load(path):
    with h5py.File(path, "r") as f:
        out = {k: f["curves/" + k][:] for k in ("finetune_error", "pretrain_loss", "pretrain_error")}
        cells = f["cells"][:]
        for name in cells.dtype.names:
            if name not in SKIP:
                out["cells." + name] = cells[name]
        out["ranks_used"] = len(set(cells["rank"]))
        out["fits"] = f["fits"][:]
    return out


def main(paths):
    ref = load(paths[0])
    for p in paths[1:]:
        other = load(p)
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
