"""Open a synlaw results file with h5py and read every documented dataset and attribute.

usage: check_layout.py RESULTS.h5
Exits non-zero with a message on the first thing that differs from README.md's layout."""
import sys

import h5py
import numpy as np

ROOT_ATTRS = ["format", "format_version", "synlaw_version", "job_name", "job_file", "job_text",
              "job_hash", "created", "ranks", "n_cells", "hdf5_version", "mpi_library",
              "openblas_config", "gsl_version"]
CELL_FIELDS = ["index", "pretrain_size", "model", "complexity", "pretrain_task", "finetune_size",
               "repeat", "seed", "status", "rank", "final_error", "wall_time", "time_generate",
               "time_pretrain", "time_finetune", "time_evaluate", "time_write", "reason"]
FIT_FIELDS = ["group", "model", "complexity", "pretrain_task", "finetune_size", "law", "loss",
              "n_points", "n_sizes", "p", "se", "ci_lo", "ci_hi", "boot_samples", "rmse", "r2", "aic",
              "bic", "converged", "at_bound", "extrap_points", "extrap_from", "extrap_error", "n_max",
              "pred_2x", "pred_10x", "gain_10x", "gain_10x_lo", "gain_10x_hi", "n_within_eps",
              "verdict", "scratch_error", "best_error", "best_size"]


def fail(msg):
    print("check_layout: " + msg, file=sys.stderr)
    sys.exit(1)


def text(v):
    """Fixed-length string attributes come back as bytes."""
    return v.decode() if isinstance(v, bytes) else str(v)


def main(path):
    with h5py.File(path, "r") as f:
        for a in ROOT_ATTRS:
            if a not in f.attrs:
                fail(f"missing root attribute {a}")
        if text(f.attrs["format"]) != "synlaw-results" or int(f.attrs["format_version"]) != 1:
            fail("wrong format or version")
        if "axes:" not in text(f.attrs["job_text"]):
            fail("job_text does not hold the job")
        cells = f["cells"][:]
        ncell = int(f.attrs["n_cells"])
        if cells.shape != (ncell,):
            fail(f"/cells shape {cells.shape}, n_cells {ncell}")
        for name in CELL_FIELDS:
            if name not in cells.dtype.names:
                fail(f"/cells lacks field {name}")
        status_map = h5py.check_enum_dtype(f["cells"].dtype["status"])
        if status_map != {"pending": 0, "done": 1, "failed": 2}:
            fail(f"status enum is {status_map}")
        if not np.array_equal(f["cell"][:], np.arange(ncell)):
            fail("/cell scale is not 0..n-1")
        fe = f["curves/finetune_error"]
        fs = f["curves/finetune_step"][:]
        pl, pe = f["curves/pretrain_loss"], f["curves/pretrain_error"]
        ps = f["curves/pretrain_step"][:]
        if fe.shape != (ncell, len(fs)) or pl.shape != (ncell, len(ps)) or pe.shape != pl.shape:
            fail("curve shapes do not match their step axes")
        for ds, scale in ((fe, "curves/finetune_step"), (pl, "curves/pretrain_step"),
                          (pe, "curves/pretrain_step")):
            if ds.dims[1][0].name != "/" + scale or ds.dims[0][0].name != "/cell":
                fail(f"{ds.name}: dimension scales not attached")
        if not (np.all(np.diff(fs) > 0) and np.all(np.diff(ps) > 0)):
            fail("step axes not increasing")
        done = cells["status"] == 1
        if not done.all():
            fail(f"{(~done).sum()} cells not done")
        fe_a = fe[:]
        if not np.array_equal(fe_a[:, -1].astype(np.float64), cells["final_error"]):
            fail("final_error differs from the last fine-tuning evaluation")
        if not ((fe_a >= 0) & (fe_a <= 1)).all():
            fail("fine-tuning errors outside [0, 1]")
        scratch = cells["pretrain_size"] == 0
        if not np.isnan(pl[:][scratch]).all() or np.isnan(pl[:][~scratch]).any():
            fail("pre-training curves: NaN exactly for scratch cells expected")
        if (cells["wall_time"] <= 0).any() or (cells["rank"] < 0).any():
            fail("wall time or rank not recorded")
        if set(cells["pretrain_task"][scratch]) != {b"none"} or (cells["complexity"][scratch] != 0).any():
            fail("scratch cells carry complexity or task")
        if len(set(cells["seed"])) != ncell:
            fail("cell seeds not distinct")
        fits = f["fits"][:]
        for name in FIT_FIELDS:
            if name not in fits.dtype.names:
                fail(f"/fits lacks field {name}")
        if len(fits) == 0:
            fail("/fits is empty")
        for r in fits:
            if r["law"] not in (b"simple", b"full"):
                fail(f"unexpected law {r['law']}")
            if r["law"] == b"simple" and r["verdict"] not in (b"more-data", b"gap", b"undetermined", b"no-fit"):
                fail(f"unexpected verdict {r['verdict']}")
            if r["verdict"] != b"no-fit" and r["boot_samples"] > 0:
                free = [i for i in range(3) if r["se"][i] != 0]
                if any(r["ci_lo"][i] > r["ci_hi"][i] for i in free if r["law"] == b"simple"):
                    fail("bootstrap interval with lo > hi")
        if f["fits"].attrs["group_columns"] != b"model\tcplx\ttask\ts":
            fail(f"/fits group_columns {f['fits'].attrs['group_columns']!r}")
        for a in ("params_simple", "params_power", "params_full"):
            if a not in f["fits"].attrs:
                fail(f"/fits lacks attribute {a}")
    print(f"check_layout: {path}: {ncell} cells, {len(fits)} fits, layout as documented")


if __name__ == "__main__":
    main(sys.argv[1])
