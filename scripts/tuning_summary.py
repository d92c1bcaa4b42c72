#!/usr/bin/python3
"""Summarise a tuning run on validation error: per arm (scratch, pre-trained) and fine-tuning
setting (learning rate, steps, freeze), the mean validation error over every group and repeat
of that arm, its rank within the arm, and the chosen setting per arm (the lowest mean).
Both arms are ranked over the same settings, so they are tuned as much as each other.

usage: scripts/tuning_summary.py TUNING.h5
"""
import os
import sys

os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")
import h5py  # noqa: E402
import numpy as np  # noqa: E402

FREEZE = {0: "none", 1: "conv", 2: "backbone"}


def main(path):
    with h5py.File(path, "r") as f:
        c = f["cells"][:]
        job = f.attrs["job_name"]
    c = c[c["status"] == 1]
    if not np.isfinite(c["final_val_error"]).all():
        sys.exit("tuning_summary: the run has no validation curves (eval_split: validation or both)")
    print(f"{path}: job {job.decode() if isinstance(job, bytes) else job}, {len(c)} cells, "
          "mean validation error per arm and setting (lower is better)")
    settings = sorted(set(zip(c["finetune_lr"], c["finetune_steps"], c["finetune_freeze"])))
    for arm, mask in (("scratch", c["pretrain_size"] == 0), ("pre-trained", c["pretrain_size"] > 0)):
        rows = []
        for lr, steps, fz in settings:
            m = mask & (c["finetune_lr"] == lr) & (c["finetune_steps"] == steps) & (c["finetune_freeze"] == fz)
            e = c["final_val_error"][m]
            rows.append((e.mean(), e.std(ddof=1) / np.sqrt(len(e)), len(e), lr, steps, FREEZE[int(fz)]))
        rows.sort()
        print(f"\n{arm}: {len(settings)} settings")
        print(f"{'rank':>4} {'lr':>8} {'steps':>6} {'freeze':>7} {'cells':>6} {'val error':>10} {'s.e.':>7}")
        for k, (mean, se, n, lr, steps, fz) in enumerate(rows):
            print(f"{k + 1:>4} {lr:>8g} {steps:>6d} {fz:>7} {n:>6d} {mean:>10.4f} {se:>7.4f}")
        print(f"chosen for {arm}: lr {rows[0][3]:g}, steps {rows[0][4]}, freeze {rows[0][5]}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
