"""Open a synlaw results file with h5py and read every documented dataset and attribute.

usage: check_layout.py RESULTS.h5
Exits non-zero with a message on the first thing that differs from README.md's layout."""
import sys

import h5py
import numpy as np

ROOT_ATTRS = ["format", "format_version", "synlaw_version", "first_conv", "job_name", "job_file", "job_text",
              "job_hash", "created", "ranks", "n_cells", "n_backbones", "eval_split", "keep_backbones",
              "hdf5_version", "mpi_library", "openblas_config", "gsl_version"]
CELL_FIELDS = ["index", "pretrain_size", "model", "complexity", "pretrain_task", "finetune_size",
               "finetune_lr", "finetune_steps", "finetune_freeze", "repeat", "backbone", "seed", "status", "rank",
               "final_error", "final_val_error", "final_test_error", "wall_time", "time_generate",
               "time_pretrain", "time_finetune", "time_evaluate", "time_write", "reason"]
BACKBONE_FIELDS = ["index", "pretrain_size", "model", "complexity", "pretrain_task", "repeat", "steps",
                   "seed", "key", "status", "weights", "reused", "rank", "nparam", "final_loss",
                   "final_error", "wall_time", "time_generate", "time_pretrain", "time_evaluate",
                   "time_write", "reason"]
FIT_FIELDS = ["group", "model", "complexity", "pretrain_task", "finetune_size", "finetune_lr",
              "finetune_steps", "finetune_freeze", "law", "loss", "n_points", "n_sizes", "p", "se", "ci_lo", "ci_hi",
              "boot_samples", "rmse", "r2", "aic", "bic", "converged", "at_bound", "extrap_points",
              "extrap_from", "extrap_error", "n_max", "pred_2x", "pred_10x", "gain_10x", "gain_10x_lo",
              "gain_10x_hi", "n_within_eps", "verdict", "scratch_error", "best_error", "best_size"]


def fail(msg):
    print("check_layout: " + msg, file=sys.stderr)
    sys.exit(1)


def text(v):
    """Fixed-length string attributes come back as bytes."""
    return v.decode() if isinstance(v, bytes) else str(v)


def last_values(curve, steps):
    """The value at each row's last evaluation (step > 0)."""
    n = (steps > 0).sum(axis=1)
    return curve[np.arange(len(curve)), n - 1].astype(np.float64)


def main(path):
    with h5py.File(path, "r") as f:
        for a in ROOT_ATTRS:
            if a not in f.attrs:
                fail(f"missing root attribute {a}")
        if text(f.attrs["format"]) != "synlaw-results" or int(f.attrs["format_version"]) != 2:
            fail("wrong format or version")
        if "axes:" not in text(f.attrs["job_text"]):
            fail("job_text does not hold the job")
        cells, bbs = f["cells"][:], f["backbones"][:]
        ncell, nbb = int(f.attrs["n_cells"]), int(f.attrs["n_backbones"])
        if cells.shape != (ncell,) or bbs.shape != (nbb,):
            fail(f"/cells shape {cells.shape}, n_cells {ncell}; /backbones {bbs.shape}, n_backbones {nbb}")
        for name in CELL_FIELDS:
            if name not in cells.dtype.names:
                fail(f"/cells lacks field {name}")
        for name in BACKBONE_FIELDS:
            if name not in bbs.dtype.names:
                fail(f"/backbones lacks field {name}")
        for t in ("cells", "backbones"):
            status_map = h5py.check_enum_dtype(f[t].dtype["status"])
            if status_map != {"pending": 0, "done": 1, "failed": 2}:
                fail(f"{t} status enum is {status_map}")
        if not np.array_equal(f["cell"][:], np.arange(ncell)) or not np.array_equal(f["backbone"][:], np.arange(nbb)):
            fail("/cell or /backbone scale is not 0..n-1")
        fs, fv, ft = f["curves/finetune_step"], f["curves/finetune_val_error"], f["curves/finetune_test_error"]
        ps, pl, pe = f["curves/pretrain_step"], f["curves/pretrain_loss"], f["curves/pretrain_error"]
        if fv.shape != fs.shape or ft.shape != fs.shape or fs.shape[0] != ncell:
            fail("fine-tuning curve shapes differ from their step matrix")
        if pl.shape != ps.shape or pe.shape != ps.shape or ps.shape[0] != nbb:
            fail("pre-training curve shapes differ from their step matrix")
        for ds, scale in ((fv, "/cell"), (ft, "/cell"), (fs, "/cell"), (pl, "/backbone"), (pe, "/backbone")):
            if ds.dims[0][0].name != scale:
                fail(f"{ds.name}: dimension scale {scale} not attached")
        fs_a, ps_a = fs[:], ps[:]
        for s in list(fs_a) + list(ps_a):
            k = (s > 0).sum()
            if k == 0 or not np.all(np.diff(s[:k]) > 0) or (s[k:] != 0).any():
                fail("a step row is not increasing, then 0")
        if not (cells["status"] == 1).all() or not (bbs["status"] == 1).all():
            fail("stages not done")
        split = text(f.attrs["eval_split"])
        fit_curve = fv[:] if split == "validation" else ft[:]
        if not np.array_equal(last_values(fit_curve, fs_a), cells["final_error"]):
            fail("final_error differs from the last fine-tuning evaluation of the fit's split")
        if not ((fit_curve[fs_a > 0] >= 0) & (fit_curve[fs_a > 0] <= 1)).all():
            fail("fine-tuning errors outside [0, 1]")
        if split == "test" and not np.isnan(fv[:]).all():
            fail("validation curves recorded although eval_split is test")
        scratch = cells["pretrain_size"] == 0
        if (cells["backbone"][scratch] != -1).any() or (cells["backbone"][~scratch] < 0).any():
            fail("backbone index: -1 exactly for scratch cells expected")
        b = bbs[cells["backbone"][~scratch]]
        for k in ("model", "complexity", "pretrain_task", "repeat", "pretrain_size"):
            if not np.array_equal(b[k], cells[k][~scratch]):
                fail(f"a cell's backbone has another {k}")
        if np.isnan(last_values(pl[:], ps_a)).any() if nbb else False:
            fail("pre-training curves missing")
        if (cells["wall_time"] <= 0).any() or (cells["rank"] < 0).any() or (bbs["rank"] < 0).any():
            fail("wall time or rank not recorded")
        if set(cells["pretrain_task"][scratch]) != {b"none"} or (cells["complexity"][scratch] != 0).any():
            fail("scratch cells carry complexity or task")
        if len(set(cells["seed"])) != ncell or len(set(bbs["key"])) != nbb:
            fail("cell seeds or backbone keys not distinct")
        if int(f.attrs["keep_backbones"]):
            for model in set(bbs["model"]):
                w = f["weights/" + model.decode()]
                rows = bbs[bbs["model"] == model]
                first = int(w.attrs["first_backbone"])
                if w.shape != (len(rows), int(rows["nparam"][0])) or first != rows["index"].min():
                    fail(f"/weights/{model.decode()} shape {w.shape} or first_backbone {first}")
                if not rows["weights"].all() or not np.isfinite(w[:]).all():
                    fail(f"weights of {model.decode()} missing")
        fits = f["fits"][:]
        for name in FIT_FIELDS:
            if name not in fits.dtype.names:
                fail(f"/fits lacks field {name}")
        if len(fits) == 0:
            fail("/fits is empty")
        for r in fits:
            if r["law"] not in (b"simple", b"full"):
                fail(f"unexpected law {r['law']}")
            if r["law"] == b"simple" and r["verdict"] not in (b"more-data", b"gap", b"undetermined", b"not-identified", b"no-fit"):
                fail(f"unexpected verdict {r['verdict']}")
            if r["verdict"] != b"no-fit" and r["boot_samples"] > 0:
                free = [i for i in range(3) if r["se"][i] != 0]
                if any(r["ci_lo"][i] > r["ci_hi"][i] for i in free if r["law"] == b"simple"):
                    fail("bootstrap interval with lo > hi")
        if f["fits"].attrs["group_columns"] != b"model\tcplx\ttask\ts\tlr\tsteps\tfreeze":
            fail(f"/fits group_columns {f['fits'].attrs['group_columns']!r}")
        for a in ("params_simple", "params_power", "params_full"):
            if a not in f["fits"].attrs:
                fail(f"/fits lacks attribute {a}")
    print(f"check_layout: {path}: {ncell} cells, {nbb} backbones, {len(fits)} fits, layout as documented")


if __name__ == "__main__":
    main(sys.argv[1])
