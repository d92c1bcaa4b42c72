#!/usr/bin/python3
"""Plots and tables of a synlaw results file (h5py + matplotlib).

usage: scripts/plot.py RESULTS.h5 OUTDIR

Writes into OUTDIR:
  curves.png      error against n on log-log axes, the repeats as points and the fitted law
                  L(n) = D n^-alpha + C per (model, complexity), one panel per (model, s),
                  with the scratch error (n = 0) as a dashed line
  c_vs_size.png   the fitted floor C (with its bootstrap interval) against parameters
  complexity.png  alpha and C against complexity level, per (model, s)
  benefit.png     error against n for each fine-tuning size, best level, with scratch bands
  tables.md       the tables of results/README.md, computed from the file
"""
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

PARAMS = {"mlp-s": 118282, "mlp-m": 269322, "mlp-l": 932362, "cnn-s": 52138, "cnn-m": 206922,
          "cnn-l": 824458}


def law(p, n):
    return p[0] * n ** -p[1] + p[2]


def load(path):
    with h5py.File(path, "r") as f:
        cells = f["cells"][:]
        fits = f["fits"][:]
        job = f.attrs["job_text"]
    dec = lambda a: np.array([x.decode() for x in a])
    c = {k: cells[k] for k in cells.dtype.names}
    c["model"], c["pretrain_task"] = dec(cells["model"]), dec(cells["pretrain_task"])
    fd = {k: fits[k] for k in fits.dtype.names}
    for k in ("model", "law", "pretrain_task", "verdict"):
        fd[k] = dec(fits[k])
    return c, fd, job


def fit_of(fits, model, cx, s, law_name="simple"):
    m = (fits["model"] == model) & (fits["complexity"] == cx) & (fits["finetune_size"] == s) & \
        (fits["law"] == law_name)
    idx = np.flatnonzero(m)
    return idx[0] if len(idx) else None


def main(path, out):
    os.makedirs(out, exist_ok=True)
    c, fits, job = load(path)
    done = c["status"] == 1
    models = [m for m in PARAMS if m in set(c["model"])]
    sizes_s = sorted(set(c["finetune_size"]))
    levels = sorted(set(c["complexity"][c["pretrain_size"] > 0]))
    ns = sorted(set(c["pretrain_size"][c["pretrain_size"] > 0]))
    colors = {l: plt.cm.viridis(i / max(1, len(levels) - 1) * 0.85) for i, l in enumerate(levels)}

    def errors(model, s, cx, n):
        m = done & (c["model"] == model) & (c["finetune_size"] == s) & (c["pretrain_size"] == n)
        if n > 0:
            m &= c["complexity"] == cx
        order = np.argsort(c["repeat"][m])
        return c["final_error"][m][order]

    # 1. learning curves with the fitted law
    fig, axes = plt.subplots(len(sizes_s), len(models), figsize=(4.2 * len(models), 3.6 * len(sizes_s)),
                             squeeze=False)
    for i, s in enumerate(sizes_s):
        for j, model in enumerate(models):
            ax = axes[i][j]
            scratch = errors(model, s, 0, 0)
            for cx in levels:
                xs, ys = [], []
                for n in ns:
                    e = errors(model, s, cx, n)
                    xs += [n] * len(e)
                    ys += list(e)
                ax.scatter(xs, ys, s=10, color=colors[cx], alpha=0.7)
                k = fit_of(fits, model, cx, s)
                if k is not None and np.isfinite(fits["p"][k][0]):
                    grid = np.geomspace(min(ns), max(ns) * 4, 100)
                    ax.plot(grid, law(fits["p"][k], grid), color=colors[cx],
                            label=f"level {cx}: α={fits['p'][k][1]:.2f}, C={fits['p'][k][2]:.3f}")
            if len(scratch):
                ax.axhline(scratch.mean(), color="k", ls="--", lw=1, label=f"scratch {scratch.mean():.3f}")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"{model} ({PARAMS[model] / 1e3:.0f}k params), s = {s}")
            ax.set_xlabel("synthetic pre-training images n")
            ax.set_ylabel("test error")
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "curves.png"), dpi=110)
    plt.close(fig)

    # 2. C against model size
    fig, axes = plt.subplots(1, len(sizes_s), figsize=(4.5 * len(sizes_s), 3.6), squeeze=False)
    for i, s in enumerate(sizes_s):
        ax = axes[0][i]
        for cx in levels:
            xs, ys, lo, hi = [], [], [], []
            for model in models:
                k = fit_of(fits, model, cx, s)
                if k is None or not np.isfinite(fits["p"][k][2]):
                    continue
                xs.append(PARAMS[model])
                ys.append(fits["p"][k][2])
                lo.append(fits["p"][k][2] - fits["ci_lo"][k][2] if np.isfinite(fits["ci_lo"][k][2]) else 0)
                hi.append(fits["ci_hi"][k][2] - fits["p"][k][2] if np.isfinite(fits["ci_hi"][k][2]) else 0)
            ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=3, color=colors[cx], label=f"level {cx}")
        ax.set_xscale("log")
        ax.set_xlabel("parameters")
        ax.set_ylabel("fitted floor C (95% bootstrap interval)")
        ax.set_title(f"C against model size, s = {s}")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "c_vs_size.png"), dpi=110)
    plt.close(fig)

    # 3. alpha and C against complexity
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for model in models:
        for s, ls in zip(sizes_s, ["-", ":", "--"]):
            a, cc = [], []
            for cx in levels:
                k = fit_of(fits, model, cx, s)
                a.append(fits["p"][k][1] if k is not None else np.nan)
                cc.append(fits["p"][k][2] if k is not None else np.nan)
            axes[0].plot(levels, a, ls, marker="o", label=f"{model}, s={s}")
            axes[1].plot(levels, cc, ls, marker="o", label=f"{model}, s={s}")
    axes[0].set_ylabel("α")
    axes[1].set_ylabel("C")
    for ax in axes:
        ax.set_xlabel("complexity level")
        ax.set_xticks(levels)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "complexity.png"), dpi=110)
    plt.close(fig)

    # 4. error against n per fine-tuning size, with the scratch band
    fig, axes = plt.subplots(1, len(sizes_s), figsize=(4.8 * len(sizes_s), 3.8), squeeze=False)
    for i, s in enumerate(sizes_s):
        ax = axes[0][i]
        for j, model in enumerate(models):
            col = plt.cm.tab10(j)
            scratch = errors(model, s, 0, 0)
            ax.axhspan(scratch.mean() - scratch.std(ddof=1), scratch.mean() + scratch.std(ddof=1),
                       color=col, alpha=0.12)
            ax.axhline(scratch.mean(), color=col, ls="--", lw=1)
            for cx, mk in zip(levels, "os^v"):
                mean = [errors(model, s, cx, n).mean() for n in ns]
                sd = [errors(model, s, cx, n).std(ddof=1) for n in ns]
                ax.errorbar(ns, mean, yerr=sd, marker=mk, color=col, capsize=2, lw=1,
                            label=f"{model} level {cx}")
        ax.set_xscale("log")
        ax.set_xlabel("synthetic pre-training images n")
        ax.set_ylabel("test error (mean ± sd of repeats)")
        ax.set_title(f"s = {s} real images (dashed: scratch ± sd)")
        ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "benefit.png"), dpi=110)
    plt.close(fig)

    # Tables
    lines = []
    lines.append("### Fit quality per group\n")
    lines.append("| model | level | s | RMSE | repeat sd | RMSE / sd | R² | extrapolation error (fit n ≤ 16k, predict 64k) | verdict |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    ex = []
    for model in models:
        for s in sizes_s:
            for cx in levels:
                k = fit_of(fits, model, cx, s)
                if k is None:
                    continue
                sd = np.mean([errors(model, s, cx, n).std(ddof=1) for n in ns])
                if fits["extrap_points"][k]:
                    ex.append(fits["extrap_error"][k])
                lines.append(f"| {model} | {cx} | {s} | {fits['rmse'][k]:.4f} | {sd:.4f} | "
                             f"{fits['rmse'][k] / sd:.2f} | {fits['r2'][k]:.3f} | "
                             f"{fits['extrap_error'][k]:.4f} | {fits['verdict'][k]} |")
    lines.append(f"\nMean absolute extrapolation error over {len(ex)} groups: {np.mean(ex):.4f}\n")

    lines.append("### Pre-training benefit against tuned scratch\n")
    lines.append("Best (level, n) by mean test error; the difference is paired by repeat (same "
                 "initialisation and real subset), its sd over the repeats.\n")
    lines.append("| model | s | scratch (mean ± sd) | best pre-trained (mean ± sd) | at | gain (points) | paired sd | gain / paired sd | gain / scratch sd |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for model in models:
        for s in sizes_s:
            sc = errors(model, s, 0, 0)
            best = None
            for cx in levels:
                for n in ns:
                    e = errors(model, s, cx, n)
                    if len(e) and (best is None or e.mean() < best[0].mean()):
                        best = (e, cx, n)
            e, cx, n = best
            d = sc - e if len(sc) == len(e) else np.array([sc.mean() - e.mean()])
            psd = d.std(ddof=1) if len(d) > 1 else np.nan
            lines.append(f"| {model} | {s} | {sc.mean():.4f} ± {sc.std(ddof=1):.4f} | "
                         f"{e.mean():.4f} ± {e.std(ddof=1):.4f} | level {cx}, n = {n} | "
                         f"{100 * d.mean():.2f} | {100 * psd:.2f} | {d.mean() / psd:.1f} | "
                         f"{d.mean() / sc.std(ddof=1):.1f} |")

    lines.append("\nEvery (level, n), not only the best: paired gain over scratch in points, mean ± sd "
                 "over the repeats (positive: pre-training helps). Picking the best of "
                 f"{len(levels) * len(ns)} settings on the test set, as the table above does, "
                 "flatters the best; this table shows how consistent the gain is.\n")
    lines.append("| model | s | level | " + " | ".join(f"n = {n}" for n in ns) + " |")
    lines.append("|---|---|---|" + "---|" * len(ns))
    for model in models:
        for s in sizes_s:
            sc = errors(model, s, 0, 0)
            for cx in levels:
                cellsx = []
                for n in ns:
                    e = errors(model, s, cx, n)
                    d = 100 * (sc - e) if len(e) == len(sc) else np.array([np.nan])
                    cellsx.append(f"{d.mean():+.2f} ± {d.std(ddof=1):.2f}")
                lines.append(f"| {model} | {s} | {cx} | " + " | ".join(cellsx) + " |")

    lines.append("\n### Floor C and exponent α per group (95% bootstrap intervals)\n")
    lines.append("| model | params | level | s | α | C |")
    lines.append("|---|---|---|---|---|---|")
    for s in sizes_s:
        for cx in levels:
            for model in models:
                k = fit_of(fits, model, cx, s)
                if k is None:
                    continue
                p, lo, hi = fits["p"][k], fits["ci_lo"][k], fits["ci_hi"][k]
                lines.append(f"| {model} | {PARAMS[model]} | {cx} | {s} | {p[1]:.3f} [{lo[1]:.3f}, {hi[1]:.3f}] | "
                             f"{p[2]:.4f} [{lo[2]:.4f}, {hi[2]:.4f}] |")

    lines.append("\n### Full law against the per-s fits\n")
    lines.append("L(n, s) = δ(γ + n^-α)·s^-β across the fine-tuning sizes; per s, the simple law's "
                 "C/D should equal γ if the full law holds.\n")
    lines.append("| model | level | full law: δ, γ, α, β | RMSE | C/D per s |")
    lines.append("|---|---|---|---|---|")
    for model in models:
        for cx in levels:
            m = (fits["model"] == model) & (fits["complexity"] == cx) & (fits["law"] == "full")
            idx = np.flatnonzero(m)
            if not len(idx):
                continue
            k = idx[0]
            p = fits["p"][k]
            ratios = []
            for s in sizes_s:
                q = fit_of(fits, model, cx, s)
                if q is not None and fits["p"][q][0] > 0:
                    ratios.append(f"s={s}: {fits['p'][q][2] / fits['p'][q][0]:.3g}")
            lines.append(f"| {model} | {cx} | {p[0]:.3g}, {p[1]:.3g}, {p[2]:.3g}, {p[3]:.3g} | "
                         f"{fits['rmse'][k]:.4f} | {'; '.join(ratios)} |")
    with open(os.path.join(out, "tables.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"plot: wrote curves.png, c_vs_size.png, complexity.png, benefit.png, tables.md to {out}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
