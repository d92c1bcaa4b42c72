#!/usr/bin/python3
"""Figures and tables of a synlaw results file (h5py, numpy, matplotlib; Debian packages).

usage: scripts/plot.py RESULTS.h5 OUTDIR

Reads format 2 files (/cells, /backbones, /curves, /fits, /gains) and, as far as they hold
the data, format 1 files (one row per cell with its own pre-training; no /backbones, and no
/gains unless `synlaw fit` was run on them). Writes into OUTDIR:

  curves.png  test error against synthetic pre-training size n, one panel per (model, s):
              every repeat as a point, the mean per n with a 95% t-interval, the law of
              /fits over the fitted range (solid) and extrapolated to 10x the largest n
              (dashed), not-identified laws dotted grey, the scratch baseline as a band
  gains.png   paired gain of pre-training over scratch from /gains: averaged over n with
              intervals (filled: Holm-adjusted p < 0.05), and per n for the best level
  params.png  alpha and C against complexity level, and C against model size, with their
              bootstrap intervals (hollow: law not identified)
  budget.png  held-out synthetic error at the end of pre-training against n, the steps used,
              and the pre-training curves, to judge whether pre-training converged
  tables.md   fits, gains (averaged and per n) and full-law rows, computed from the file

Nothing is typed by hand: parameter counts come from `synlaw models` ($SYNLAW, ../build/synlaw,
the installed bin/synlaw or synlaw on PATH) or, without it, from /backbones nparam (backbone only).
"""
import math
import os
import re
import shutil
import subprocess
import sys
import textwrap

# Read-only: a file still being written by a run can be plotted (its pending cells are left out).
os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")
import h5py  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator  # noqa: E402

LEVEL = 0.95  # level of the intervals drawn from raw repeats (t-intervals of the means)
ALPHA_HOLM = 0.05
# Complexity levels are ordered: a sequential palette (purple to orange); models are categories
# drawn in hues it does not use (blue, green, black...).
MODEL_COLOURS = ["#0072B2", "#009E73", "#222222", "#56B4E9", "#8c6d31", "#7f7f7f", "#17becf"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X"]
DPI = 120


# ---------------------------------------------------------------- statistics helpers

def _betacf(a, b, x):
    """Continued fraction of the regularised incomplete beta function (Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-14:
            break
    return h


def _betainc(a, b, x):
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lb = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(lb) * _betacf(a, b, x) / a
    return 1.0 - math.exp(lb) * _betacf(b, a, 1.0 - x) / b


def t_cdf(t, df):
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(p, df):
    """Quantile of Student's t (p > 0.5) by bisection on the exact distribution function."""
    lo, hi = 0.0, 1e4
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def mean_ci(x, level=LEVEL):
    """Mean and its two-sided Student-t interval; no interval from fewer than 2 values."""
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return np.nan, np.nan, np.nan
    m = x.mean()
    if len(x) < 2:
        return m, np.nan, np.nan
    h = t_quantile(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    return m, m - h, m + h


# ---------------------------------------------------------------- formatting helpers

def fmt_n(n):
    """256, 1k, 4k, 64k, 1.6k, 1M: readable pre-training sizes."""
    n = float(n)
    if n <= 0:
        return "0"
    for unit, base in (("M", 1e6), ("k", 1e3)):
        if n >= base:
            for b in (base, 1024.0 ** (2 if unit == "M" else 1)):
                v = n / b
                if abs(v - round(v)) < 1e-9:
                    return f"{int(round(v))}{unit}"
            v = n / base
            return f"{v:.3g}{unit}"
    return f"{n:g}"


def fmt_params(p):
    if p >= 1e6:
        return f"{p / 1e6:.2f}M"
    return f"{p / 1e3:.0f}k"


def signed(x, nd=4):
    if not np.isfinite(x):
        return "–"
    return f"{x:+.{nd}f}".replace("-", "−")


def num(x, nd=4):
    if x is None or not np.isfinite(x):
        return "–"
    return f"{x:.{nd}f}".replace("-", "−")


def sig(x, nd=3):
    if x is None or not np.isfinite(x):
        return "–"
    return f"{x:.{nd}g}".replace("-", "−")


def est_ci(p, lo, hi, f=sig):
    if not np.isfinite(p):
        return "–"
    if np.isfinite(lo) and np.isfinite(hi):
        return f"{f(p)} [{f(lo)}, {f(hi)}]"
    return f"{f(p)} [no interval]"


def pval(p):
    if not np.isfinite(p):
        return "–"
    return f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}"


def pct(level):
    return f"{100 * level:.4g}%"


def same(a, b):
    """Equality of settings where NaN (format 1: not recorded) matches anything."""
    if isinstance(a, float) and math.isnan(a) or isinstance(b, float) and math.isnan(b):
        return True
    return a == b


def log_axis_n(ax, ns, extra=()):
    """Log x axis with ticks only at the sizes used (and extra ones), labelled 1k, 4k..."""
    ticks = sorted(set(float(v) for v in list(ns) + list(extra) if v > 0))
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_n(v)))


def suptitle(fig, text, fontsize=10):
    """A figure title wrapped to the figure's width (about 15 characters per inch at 10 pt)."""
    width = int(fig.get_figwidth() * 115 / fontsize)
    fig.suptitle(textwrap.fill(text, width), fontsize=fontsize)


def no_data(out, name, message):
    """A figure that says why there is nothing to draw (the file lacks the data)."""
    fig, ax = plt.subplots(figsize=(7, 2.2))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True, fontsize=11)
    fig.savefig(os.path.join(out, name), dpi=DPI)
    plt.close(fig)


# ---------------------------------------------------------------- reading the file

def _decode(arr):
    return np.array([x.decode() if isinstance(x, bytes) else str(x) for x in arr], dtype=object)


def _table(ds):
    """A compound dataset as a dict of numpy columns, strings decoded."""
    a = ds[:]
    out = {}
    for k in a.dtype.names:
        col = a[k]
        out[k] = _decode(col) if col.dtype.kind in "SOU" else col
    out["_len"] = len(a)
    return out


def _attr(f, name, default=None):
    v = f.attrs.get(name, default)
    return v.decode() if isinstance(v, bytes) else v


class Results:
    """Everything the figures need, in one shape for format 1 and format 2 files."""

    def __init__(self, path):
        self.path = path
        with h5py.File(path, "r") as f:
            self.version = int(_attr(f, "format_version", 1))
            self.job_name = _attr(f, "job_name", os.path.basename(path))
            self.job_text = _attr(f, "job_text", "") or ""
            self.eval_split = _attr(f, "eval_split", None)
            if self.eval_split is None:  # format 1: the job's split (default test)
                m = re.search(r"^\s*eval_split:\s*(\w+)", self.job_text, re.M)
                self.eval_split = m.group(1) if m else "test"
            self.cells = _table(f["cells"])
            self.fits = _table(f["fits"]) if "fits" in f and f["fits"].shape[0] else None
            self.gains = _table(f["gains"]) if "gains" in f and f["gains"].shape[0] else None
            self.fit_attrs = {k: _attr(f["fits"], k) for k in f["fits"].attrs} if "fits" in f else {}
            self.backbones = _table(f["backbones"]) if "backbones" in f else None
            # the real task (/data; absent: Fashion-MNIST, 28x28x1, 10 classes)
            d = f["data"].attrs if "data" in f else {}
            self.input = "%dx%dx%d" % tuple(int(d.get(k, v)) for k, v in
                                            (("rows", 28), ("cols", 28), ("channels", 1)))
            self.classes = int(d.get("classes", 10))
            self.pre = self._pretraining(f)
        self._normalise()

    def _pretraining(self, f):
        """Pre-training runs: one row per backbone (format 2) or per pre-trained cell (1)."""
        if "curves" not in f or "pretrain_error" not in f["curves"]:
            return None
        err = f["curves/pretrain_error"][:].astype(float)
        step = f["curves/pretrain_step"][:]
        if self.backbones is not None:
            b = self.backbones
            rows = {k: b[k] for k in ("pretrain_size", "model", "complexity", "pretrain_task",
                                      "repeat", "steps", "status")}
            rows["final_error"] = b["final_error"].astype(float)
        else:  # format 1: each cell pre-trained its own network; one step axis for all
            c = self.cells
            keep = np.asarray(c["pretrain_size"]) > 0
            err = err[keep]
            step = np.tile(step, (len(err), 1))
            rows = {k: np.asarray(c[k])[keep] for k in ("pretrain_size", "model", "complexity",
                                                        "pretrain_task", "repeat", "status")}
            last = [r[np.isfinite(r)][-1] if np.isfinite(r).any() else np.nan for r in err]
            rows["final_error"] = np.array(last)
            rows["steps"] = np.array([s[s > 0].max() if (s > 0).any() else 0 for s in step])
        step = step.astype(float)
        step[step <= 0] = np.nan
        rows["curve_step"], rows["curve_error"] = step, err
        return rows

    def _normalise(self):
        c = self.cells
        n = c["_len"]
        if "finetune_lr" not in c:  # format 1: one fine-tuning setting, in the job text only
            c["finetune_lr"] = np.full(n, self._job_finetune("lr"))
            c["finetune_steps"] = np.full(n, int(self._job_finetune("steps")))
        self.done = np.asarray(c["status"]) == 1
        test = c.get("final_test_error")
        if test is not None and np.isfinite(test[self.done]).any():
            self.err = np.asarray(test, float)
            self.err_label = "test error (final_test_error)"
            fe = np.asarray(c["final_error"], float)
            both = self.done & np.isfinite(fe) & np.isfinite(self.err)
            self.err_mismatch = int(np.sum(np.abs(fe[both] - self.err[both]) > 1e-7))
        else:
            self.err = np.asarray(c["final_error"], float)
            split = "validation" if self.eval_split == "validation" else self.eval_split
            self.err_label = f"{split} error (final_error" + (")" if self.version >= 2 else "; format 1)")
            self.err_mismatch = 0
        if self.fits is not None:
            fi = self.fits
            if "finetune_lr" not in fi:
                fi["finetune_lr"] = np.full(fi["_len"], self._job_finetune("lr"))
                fi["finetune_steps"] = np.full(fi["_len"], int(self._job_finetune("steps")))
        pre = np.asarray(c["pretrain_size"]) > 0
        ok = self.done & np.isfinite(self.err)
        self.ok = ok
        self.ns = sorted(set(int(v) for v in np.asarray(c["pretrain_size"])[ok & pre]))
        self.svals = sorted(set(int(v) for v in np.asarray(c["finetune_size"])[ok]))
        self.levels = sorted(set(int(v) for v in np.asarray(c["complexity"])[ok & pre]))
        self.tasks = sorted(set(c["pretrain_task"][ok & pre]))
        self.settings = sorted(set((float(a), int(b)) for a, b in
                                   zip(c["finetune_lr"][ok & pre], c["finetune_steps"][ok & pre])),
                               key=lambda t: (np.nan_to_num(t[0]), t[1]))
        self.params, self.params_source = model_params(self)
        seen = list(dict.fromkeys(c["model"][ok]))
        self.models = sorted(seen, key=lambda m: (self.params.get(m, math.inf), seen.index(m)))
        k = len(self.levels)
        self.level_colour = {lv: matplotlib.colors.to_hex(plt.cm.plasma(0.12 + 0.7 * i / max(1, k - 1)))
                             for i, lv in enumerate(self.levels)}
        self.model_colour = {m: MODEL_COLOURS[i % len(MODEL_COLOURS)] for i, m in enumerate(self.models)}

    def _job_finetune(self, key):
        """A value of the job's finetune section (format 1 cells do not record it); 0 if absent."""
        m = re.search(r"^finetune:[ \t]*\n((?:[ \t]+.*\n?)*)", self.job_text, re.M)
        v = re.search(rf"^[ \t]+{key}:[ \t]*([0-9.eE+-]+)", m.group(1), re.M) if m else None
        try:
            return float(v.group(1)) if v else 0.0
        except ValueError:
            return 0.0

    # -- cells

    def series(self, model, s):
        """Pre-trained series of a panel: (complexity, task, lr, steps) with done cells."""
        c = self.cells
        m = self.ok & (c["model"] == model) & (c["finetune_size"] == s) & (c["pretrain_size"] > 0)
        keys = set(zip(c["complexity"][m].tolist(), c["pretrain_task"][m].tolist(),
                       c["finetune_lr"][m].tolist(), c["finetune_steps"][m].tolist()))
        return sorted(keys, key=lambda k: (k[0], k[1], np.nan_to_num(k[2]), k[3]))

    def errors(self, model, s, n, cx=None, task=None, lr=math.nan, steps=None):
        c = self.cells
        m = self.ok & (c["model"] == model) & (c["finetune_size"] == s) & (c["pretrain_size"] == n)
        if n > 0:
            m &= (c["complexity"] == cx) & (c["pretrain_task"] == task)
        if np.isfinite(lr) and lr > 0:
            m &= np.isclose(c["finetune_lr"], lr)
        if steps:
            m &= c["finetune_steps"] == steps
        return self.err[m]

    def scratch_settings(self, model, s):
        c = self.cells
        m = self.ok & (c["model"] == model) & (c["finetune_size"] == s) & (c["pretrain_size"] == 0)
        return sorted(set(zip(c["finetune_lr"][m].tolist(), c["finetune_steps"][m].tolist())),
                      key=lambda t: (np.nan_to_num(t[0]), t[1]))

    def repeat_sd(self, model, s, cx, task, lr, steps):
        sds = [np.std(e, ddof=1) for e in (self.errors(model, s, n, cx, task, lr, steps) for n in self.ns)
               if len(e) > 1]
        return float(np.mean(sds)) if sds else np.nan

    # -- fits and gains

    def fit_rows(self, law="simple"):
        if self.fits is None:
            return []
        return [i for i in range(self.fits["_len"]) if self.fits["law"][i] == law]

    def fit_for(self, model, s, cx, task, lr, steps, law="simple"):
        fi = self.fits
        for i in self.fit_rows(law):
            if (fi["model"][i] == model and fi["finetune_size"][i] == s and fi["complexity"][i] == cx
                    and fi["pretrain_task"][i] == task and same(float(fi["finetune_lr"][i]), lr)
                    and (not steps or not fi["finetune_steps"][i] or fi["finetune_steps"][i] == steps)):
                return i
        return None

    def few_sizes(self, i):
        """True when the law has no more distinct sizes than parameters: it can pass through
        every mean, so nothing about its shape is tested."""
        fi = self.fits
        npar = 4 if fi["law"][i] == "full" else 3
        return int(fi["n_sizes"][i]) * (1 if fi["law"][i] != "full" else 2) <= npar

    def identified(self, i):
        """1 or 0 as the file records it; format 1 files do not: 0 with no more sizes than parameters, else None."""
        fi = self.fits
        if fi["verdict"][i] in ("not-identified", "no-fit") or not np.isfinite(fi["p"][i][0]):
            return 0
        if "identified" in fi:
            return int(fi["identified"][i])
        return 0 if self.few_sizes(i) else None  # no more sizes than parameters: untestable

    def gain_rows(self, averaged):
        if self.gains is None:
            return []
        g = self.gains
        return [i for i in range(g["_len"]) if (g["pretrain_size"][i] == 0) == averaged]

    def gain_level(self):
        """Interval level of /gains, recovered from its t-intervals (the file does not store it)."""
        if self.gains is None:
            return None
        g = self.gains
        qs = []
        for i in range(g["_len"]):
            k, sd = int(g["pairs"][i]), float(g["sd"][i])
            if k >= 2 and sd > 0 and np.isfinite(g["gain_hi"][i]):
                q = (g["gain_hi"][i] - g["gain"][i]) * math.sqrt(k) / sd
                qs.append(2 * t_cdf(q, k - 1) - 1)
        return float(np.median(qs)) if qs else None


def model_params(R):
    """Parameters per model with the task's head from `synlaw models` ($SYNLAW, ../build/synlaw
    next to this script, the installed bin/synlaw, or synlaw on PATH), else /backbones nparam
    (the backbone without its head)."""
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [os.environ.get("SYNLAW", ""), os.path.join(here, "..", "build", "synlaw"),
                  os.path.join(here, "..", "..", "..", "bin", "synlaw"),  # installed: share/synlaw/scripts
                  shutil.which("synlaw") or ""]
    exe = next((c for c in candidates if c and os.path.isfile(c) and os.access(c, os.X_OK)), None)
    out = {}
    if exe:
        try:
            txt = subprocess.run([exe, "models", "--input", R.input, "--classes", str(R.classes)],
                                 capture_output=True, text=True, timeout=30).stdout
            for line in txt.splitlines()[1:]:
                f = line.split()
                if len(f) >= 2 and f[1].isdigit():
                    out[f[0]] = int(f[1])
        except (OSError, subprocess.SubprocessError):
            out = {}
    if out:
        # Cross-check against the file: backbone + head must not be smaller than the backbone.
        if R.backbones is not None:
            for m, p in zip(R.backbones["model"], R.backbones["nparam"]):
                if m in out and out[m] < p:
                    out.clear()
                    break
        if out:
            return out, f"synlaw models --input {R.input} (backbone + {R.classes}-way head)"
    if R.backbones is not None:
        for m, p in zip(R.backbones["model"], R.backbones["nparam"]):
            out.setdefault(m, int(p))
        return out, "/backbones nparam (backbone only, head not counted)"
    return {}, None


# ---------------------------------------------------------------- 1. learning curves

def law_simple(p, n):
    return p[0] * np.power(n, -p[1]) + p[2]


def series_label(R, cx, task, lr, steps):
    lab = f"level {cx}"
    if len(R.tasks) > 1:
        lab += f" {task}"
    if len(R.settings) > 1:
        lab += f", lr {lr:g}, {steps} st"
    return lab


def fit_legend(R, i):
    fi = R.fits
    p, lo, hi = fi["p"][i], fi["ci_lo"][i], fi["ci_hi"][i]
    ident = R.identified(i)
    if not np.isfinite(p[0]):
        return "no fit"
    few = R.few_sizes(i)
    if ident == 0:
        if "identified" not in fi and few:
            return f"not identified ({fi['n_sizes'][i]} sizes for 3 parameters)"
        d = fi["aic_const"][i] - fi["aic"][i] if "aic_const" in fi else np.nan
        return "not identified" + (f" (dAIC const {d:+.1f})".replace("-", "−") if np.isfinite(d) else "")
    txt = f"α={est_ci(p[1], lo[1], hi[1], lambda v: f'{v:.2g}')}, C={est_ci(p[2], lo[2], hi[2], lambda v: f'{v:.3f}')}"
    if ident is None:
        txt += "; identif. not tested"
    if few:
        txt += f"; {fi['n_sizes'][i]} sizes, 3 params"
    v = fi["verdict"][i]
    return txt + (f"; {v}" if v not in ("-", "") else "")


def panel_curves(R, ax, model, s, rng):
    series = R.series(model, s)
    handles = []
    k = len(series)
    for j, (cx, task, lr, steps) in enumerate(series):
        col = R.level_colour[cx]
        mk = MARKERS[(R.tasks.index(task) * len(R.settings) + R.settings.index((lr, steps))
                      if (lr, steps) in R.settings else 0) % len(MARKERS)]
        dodge = math.exp(0.09 * (j - (k - 1) / 2))
        means = []
        for n in R.ns:
            e = R.errors(model, s, n, cx, task, lr, steps)
            if not len(e):
                continue
            x = n * dodge * np.exp(rng.uniform(-0.035, 0.035, len(e)))
            ax.scatter(x, e, s=13, color=col, alpha=0.45, lw=0, zorder=2)
            m, lo, hi = mean_ci(e)
            means.append((n * dodge, m, lo, hi))
        if means:
            xs, ms, los, his = map(np.array, zip(*means))
            yerr = np.vstack([ms - los, his - ms])
            ax.errorbar(xs, ms, yerr=np.where(np.isfinite(yerr), yerr, 0), fmt=mk, ms=5, color=col,
                        mec="white", mew=0.6, capsize=2.5, lw=1, zorder=4)
        label = series_label(R, cx, task, lr, steps)
        i = R.fit_for(model, s, cx, task, lr, steps) if R.fits is not None else None
        if i is None:
            handles.append(Line2D([], [], color=col, marker=mk, ls="none", label=f"{label}: no fit in file"))
            continue
        p = R.fits["p"][i]
        if np.isfinite(p[0]) and means:
            nlo, nhi = min(n for n in R.ns if len(R.errors(model, s, n, cx, task, lr, steps))), \
                float(R.fits["n_max"][i] or max(R.ns))
            grid = np.geomspace(nlo, nhi, 80)
            if R.identified(i) == 0:
                ax.plot(grid, law_simple(p, grid), ls=":", color="0.55", lw=1.3, zorder=3)
                handles.append(Line2D([], [], color="0.55", ls=":", marker=mk, mfc=col, mec=col,
                                      label=f"{label}: {fit_legend(R, i)}"))
                continue
            ax.plot(grid, law_simple(p, grid), color=col, lw=1.6, zorder=3)
            ext = np.geomspace(nhi, 10 * nhi, 40)
            ax.plot(ext, law_simple(p, ext), color=col, lw=0.9, ls="--", zorder=3)
        handles.append(Line2D([], [], color=col, marker=mk, label=f"{label}: {fit_legend(R, i)}"))
    # the scratch baseline
    chosen = scratch_choice(R, model, s)
    if not R.scratch_settings(model, s):
        handles.append(Patch(facecolor="none", edgecolor="none", label="no scratch cells (n = 0) done"))
    for lr, steps in R.scratch_settings(model, s):
        if chosen is not None and not (same(lr, chosen[0]) and (not chosen[1] or chosen[1] == steps)):
            continue
        e = R.errors(model, s, 0, lr=lr, steps=steps)
        m, lo, hi = mean_ci(e)
        if np.isfinite(lo):
            ax.axhspan(lo, hi, color="0.3", alpha=0.09, lw=0, zorder=1)
        ax.axhline(m, color="0.25", lw=1, zorder=1.5)
        what = f"mean ± {pct(LEVEL)} t-int., {len(e)} runs" if np.isfinite(lo) else f"{len(e)} run, no interval"
        extra = f", lr {lr:g}, {steps} steps" if len(R.scratch_settings(model, s)) > 1 else ""
        handles.append(Patch(facecolor=(0.3, 0.3, 0.3, 0.09), edgecolor="0.25",
                             label=f"scratch (n = 0{extra}): {m:.3f}, {what}"))
    return handles


def scratch_choice(R, model, s):
    """The scratch setting /gains compared with (chosen on validation), if the file says."""
    if R.gains is None or len(R.scratch_settings(model, s)) < 2:
        return None
    g = R.gains
    for i in R.gain_rows(True):
        if g["model"][i] == model and g["finetune_size"][i] == s:
            return float(g["scratch_lr"][i]), int(g["scratch_steps"][i])
    return None


def fig_curves(R, out):
    nm, ns = len(R.models), len(R.svals)
    if not nm or not ns or not R.ns:
        return no_data(out, "curves.png", "no done pre-trained cells in this file")
    fig, axes = plt.subplots(ns, nm, figsize=(5.0 * nm, 4.9 * ns), squeeze=False, sharey="row",
                             layout="constrained")
    rng = np.random.default_rng(0)
    nmax = max(R.ns)
    for r, s in enumerate(R.svals):
        for col, model in enumerate(R.models):
            ax = axes[r][col]
            handles = panel_curves(R, ax, model, s, rng)
            log_axis_n(ax, R.ns, [10 * nmax])
            ax.set_xlim(min(R.ns) / 1.6, 10 * nmax * 1.3)
            ax.axvline(nmax * 1.25, color="0.5", lw=0.7, ls=(0, (4, 3)), zorder=0)
            ax.text(nmax * 1.35, 0.985, "extrapolation →", transform=ax.get_xaxis_transform(), fontsize=7,
                    color="0.35", va="top")
            ptxt = f" ({fmt_params(R.params[model])} params)" if model in R.params else ""
            ax.set_title(f"{model}{ptxt}, s = {s} real images", fontsize=10)
            ax.set_xlabel("synthetic pre-training images n (log)", fontsize=9)
            if col == 0:
                ax.set_ylabel(R.err_label, fontsize=9)
            ax.tick_params(labelsize=8)
            ax.yaxis.set_tick_params(labelleft=True)
            ax.grid(alpha=0.25, lw=0.5)
            handles.append(Line2D([], [], color="0.2", lw=1.6, label="law over the fitted range of n"))
            handles.append(Line2D([], [], color="0.2", lw=0.9, ls="--",
                                  label="extrapolation to 10× the largest n"))
            ax.legend(handles=handles, fontsize=6.5, loc="upper center", bbox_to_anchor=(0.5, -0.16),
                      frameon=False, handlelength=2.2)
    suptitle(fig, f"{R.job_name}: fine-tuning error against synthetic pre-training size; points: repeats "
                  f"(jittered in x), markers: means with {pct(LEVEL)} t-intervals; L(n) = D·n^−α + C "
                  f"from /fits with bootstrap intervals", fontsize=10)
    fig.savefig(os.path.join(out, "curves.png"), dpi=DPI)
    plt.close(fig)


# ---------------------------------------------------------------- 2. gains over scratch

def gain_key_label(R, i, with_model=True):
    g = R.gains
    lab = (f"{g['model'][i]} " if with_model else "") + f"L{g['complexity'][i]}"
    if len(set(g["pretrain_task"])) > 1:
        lab += f" {g['pretrain_task'][i]}"
    lab += f" s={g['finetune_size'][i]}"
    if g["selected_on"][i] == "none" and len(R.settings) > 1:
        lab += f" lr {g['lr'][i]:g}"
    return lab


def selection_text(R, rows):
    g = R.gains
    sel = sorted(set(g["selected_on"][i] for i in rows))
    rep = sorted(set(g["reported_on"][i] for i in rows))
    settings = sorted(set(int(g["settings"][i]) for i in rows))
    words = {"validation": "setting chosen on validation", "-": "one fine-tuning setting (nothing chosen)",
             "none": "no validation curves: every setting compared, none chosen"}
    sel_txt = "; ".join(words.get(s, s) for s in sel)
    st = "/".join(str(x) for x in settings)
    return f"reported on {'/'.join(rep)}, {sel_txt} (each arm from {st} setting{'s' if settings != [1] else ''})"


def fig_gains(R, out):
    if R.gains is None:
        return no_data(out, "gains.png", f"no /gains in {os.path.basename(R.path)} (format {R.version}):\n"
                                         "run `synlaw fit` on the file to compare pre-trained with scratch")
    g = R.gains
    avg, pern = R.gain_rows(True), R.gain_rows(False)
    if not any(g["pairs"][i] > 0 and np.isfinite(g["gain"][i]) for i in avg + pern):
        return no_data(out, "gains.png", f"/gains of {os.path.basename(R.path)} holds no pre-trained/scratch "
                                         "pairs\n(no scratch cells, or none done with the same repeats)")
    lev = R.gain_level()
    ivl = f"{pct(lev)} t-intervals" if lev else "no intervals (fewer than 2 pairs)"
    avg = sorted(avg, key=lambda i: (g["finetune_size"][i], R.models.index(g["model"][i])
                                     if g["model"][i] in R.models else 99, g["complexity"][i], g["pretrain_task"][i]))
    fam_a = sorted(set(int(g["family"][i]) for i in avg))
    fam_n = sorted(set(int(g["family"][i]) for i in pern))
    svals = sorted(set(int(g["finetune_size"][i]) for i in pern)) or [None]
    fig = plt.figure(figsize=(13, max(4.8, 0.28 * len(avg) + 2.2)), layout="constrained")
    gs = fig.add_gridspec(len(svals), 2, width_ratios=[1.0, 1.15])
    ax = fig.add_subplot(gs[:, 0])
    y = np.arange(len(avg))[::-1]
    for yy, i in zip(y, avg):
        col = R.level_colour.get(int(g["complexity"][i]), "k")
        filled = np.isfinite(g["p_holm"][i]) and g["p_holm"][i] < ALPHA_HOLM
        lo, hi = g["gain_lo"][i], g["gain_hi"][i]
        if np.isfinite(lo):
            ax.plot([lo, hi], [yy, yy], color=col, lw=1.4)
        if np.isfinite(g["gain"][i]):
            ax.plot(g["gain"][i], yy, "o", ms=6, mec=col, mfc=col if filled else "white", mew=1.4)
        else:
            ax.text(0, yy, " no pairs", va="center", fontsize=7, color="0.4")
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels([gain_key_label(R, i) for i in avg], fontsize=7.5)
    for j in range(1, len(avg)):  # separate the fine-tuning sizes
        if g["finetune_size"][avg[j]] != g["finetune_size"][avg[j - 1]]:
            ax.axhline(y[j] + 0.5, color="0.6", lw=0.6, ls="--")
    right = ax.twinx()  # the p-values beside each row
    right.set_ylim(ax.get_ylim())
    right.set_yticks(y)
    right.set_yticklabels([f"p {pval(g['p'][i])}, Holm {pval(g['p_holm'][i])}" for i in avg], fontsize=7,
                          color="0.35")
    right.tick_params(length=0)
    ax.set_xlabel("gain = scratch − pre-trained error, averaged over n (> 0: pre-training helps)", fontsize=9)
    ax.set_title(f"averaged over n: {ivl}, Holm family of {'/'.join(map(str, fam_a))}", fontsize=9.5)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(handles=[Line2D([], [], marker="o", color="0.3", mfc="0.3", ls="none",
                              label=f"Holm-adjusted p < {ALPHA_HOLM}"),
                       Line2D([], [], marker="o", color="0.3", mfc="white", ls="none",
                              label=f"Holm-adjusted p ≥ {ALPHA_HOLM}")]
              + [Patch(color=R.level_colour[lv], label=f"level {lv}") for lv in R.levels],
              fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=2 + len(R.levels), frameon=False)
    # per n, for the level with the largest averaged gain per (model, s)
    shared = None
    for r, s in enumerate(svals):
        axr = fig.add_subplot(gs[r, 1], sharey=shared)
        shared = shared or axr
        nsz = sorted(set(int(g["pretrain_size"][i]) for i in pern))
        models = [m for m in R.models if any(g["model"][i] == m for i in avg)]
        for mi, m in enumerate(models):
            cand = [i for i in avg if g["model"][i] == m and g["finetune_size"][i] == s and np.isfinite(g["gain"][i])]
            if not cand:
                continue
            b = max(cand, key=lambda i: g["gain"][i])
            rows = [i for i in pern if g["model"][i] == m and g["finetune_size"][i] == s
                    and g["complexity"][i] == g["complexity"][b] and g["pretrain_task"][i] == g["pretrain_task"][b]
                    and same(float(g["lr"][i]), float(g["lr"][b]))]
            rows.sort(key=lambda i: g["pretrain_size"][i])
            if not rows:
                continue
            dodge = math.exp(0.05 * (mi - (len(models) - 1) / 2))
            x = np.array([g["pretrain_size"][i] for i in rows], float) * dodge
            gv = np.array([g["gain"][i] for i in rows])
            lo = np.array([g["gain_lo"][i] for i in rows])
            hi = np.array([g["gain_hi"][i] for i in rows])
            col = R.model_colour[m]
            yerr = np.vstack([gv - lo, hi - gv])
            axr.errorbar(x, gv, yerr=np.where(np.isfinite(yerr), yerr, 0), color=col, lw=1, capsize=2.5,
                         fmt="-", label=f"{m}, level {g['complexity'][b]}"
                         + (f" {g['pretrain_task'][b]}" if len(R.tasks) > 1 else ""))
            for xi, i in zip(x, rows):
                filled = np.isfinite(g["p_holm"][i]) and g["p_holm"][i] < ALPHA_HOLM
                axr.plot(xi, g["gain"][i], "o", ms=5, mec=col, mfc=col if filled else "white", mew=1.2)
        axr.axhline(0, color="k", lw=0.8)
        log_axis_n(axr, nsz)
        axr.set_xlim(min(nsz) / 1.5, max(nsz) * 1.5) if nsz else None
        axr.set_ylabel("gain (scratch − pre-trained)", fontsize=8.5)
        axr.set_title(f"per n, s = {s}: per model, the level with the largest averaged gain (picked post hoc)\n"
                      f"{ivl}, Holm family of {'/'.join(map(str, fam_n))} per-n comparisons", fontsize=8.5)
        axr.grid(alpha=0.3)
        axr.tick_params(labelsize=8)
        if axr.get_legend_handles_labels()[0]:
            axr.legend(fontsize=7, loc="best")
        if r == len(svals) - 1:
            axr.set_xlabel("synthetic pre-training images n (log)", fontsize=9)
    suptitle(fig, f"{R.job_name}: paired gain of pre-training over scratch (paired by repeat); "
                  f"{selection_text(R, avg + pern)}", fontsize=10)
    fig.savefig(os.path.join(out, "gains.png"), dpi=DPI)
    plt.close(fig)


# ---------------------------------------------------------------- 3. alpha and C

def _param_point(ax, x, i, k, R, col, marker):
    fi = R.fits
    p, lo, hi = fi["p"][i][k], fi["ci_lo"][i][k], fi["ci_hi"][i][k]
    if not np.isfinite(p):
        return
    ident = R.identified(i) != 0
    if np.isfinite(lo) and np.isfinite(hi):
        ax.plot([x, x], [lo, hi], color=col if ident else "0.6", lw=1.3 if ident else 1.0,
                ls="-" if ident else (0, (2, 1.5)), zorder=2)
    ax.plot(x, p, marker, ms=6, mec=col, mfc=col if ident else "white", mew=1.3, zorder=3)


def fig_params(R, out):
    rows = R.fit_rows("simple")
    if not rows:
        return no_data(out, "params.png", "no simple-law rows in /fits: run `synlaw fit` on the file")
    fi = R.fits
    svals = sorted(set(int(fi["finetune_size"][i]) for i in rows))
    have_size = bool(R.params) and len(set(fi["model"][i] for i in rows)) >= 1
    nrow = 3 if have_size else 2
    fig, axes = plt.subplots(nrow, len(svals), figsize=(5.2 * len(svals) + 1.2, 3.5 * nrow), squeeze=False,
                             layout="constrained")
    styles = {}
    for t_i, task in enumerate(R.tasks):
        for s_i, st in enumerate(R.settings):
            styles[(task, st)] = MARKERS[(t_i * len(R.settings) + s_i) % len(MARKERS)]
    models = [m for m in R.models if any(fi["model"][i] == m for i in rows)]
    for c, s in enumerate(svals):
        for k, (name, r) in enumerate((("α", 0), ("C", 1))):
            ax = axes[r][c]
            for mi, m in enumerate(models):
                col = R.model_colour[m]
                for (task, st), mk in styles.items():
                    sel = [i for i in rows if fi["model"][i] == m and fi["finetune_size"][i] == s
                           and fi["pretrain_task"][i] == task and same(float(fi["finetune_lr"][i]), st[0])]
                    sel.sort(key=lambda i: fi["complexity"][i])
                    if not sel:
                        continue
                    xs = [fi["complexity"][i] + 0.09 * (mi - (len(models) - 1) / 2) for i in sel]
                    ax.plot(xs, [fi["p"][i][k + 1] for i in sel], color=col, lw=0.7, alpha=0.45, zorder=1)
                    for x, i in zip(xs, sel):
                        _param_point(ax, x, i, k + 1, R, col, mk)
            ax.set_xticks(R.levels)
            ax.set_xlabel("complexity level of the synthetic data", fontsize=9)
            ax.set_ylabel(name + (" (log axis)" if name == "α" else " (error floor)"), fontsize=9)
            if name == "α":
                ax.set_yscale("log")
            ax.set_title(f"{name} against complexity, s = {s}", fontsize=10)
            ax.grid(alpha=0.3)
        if have_size:
            ax = axes[2][c]
            for lv in R.levels:
                col = R.level_colour[lv]
                for (task, st), mk in styles.items():
                    sel = [i for i in rows if fi["complexity"][i] == lv and fi["finetune_size"][i] == s
                           and fi["pretrain_task"][i] == task and fi["model"][i] in R.params
                           and same(float(fi["finetune_lr"][i]), st[0])]
                    sel.sort(key=lambda i: R.params[fi["model"][i]])
                    if not sel:
                        continue
                    dodge = math.exp(0.05 * (R.levels.index(lv) - (len(R.levels) - 1) / 2))
                    xs = [R.params[fi["model"][i]] * dodge for i in sel]
                    ax.plot(xs, [fi["p"][i][2] for i in sel], color=col, lw=0.7, alpha=0.45)
                    for x, i in zip(xs, sel):
                        _param_point(ax, x, i, 2, R, col, mk)
            ax.set_xscale("log")
            ticks = sorted(set(R.params[m] for m in models if m in R.params))
            ax.xaxis.set_major_locator(FixedLocator(ticks))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.xaxis.set_major_formatter(FuncFormatter(
                lambda v, _: next((f"{m}\n{fmt_params(p)}" for m, p in R.params.items() if p == v and m in models),
                                  fmt_params(v))))
            ax.set_xlabel(f"parameters (log; {R.params_source})", fontsize=8.5)
            ax.set_ylabel("C (error floor)", fontsize=9)
            ax.set_title(f"C against model size, s = {s}", fontsize=10)
            ax.tick_params(labelsize=8)
            ax.grid(alpha=0.3)
    lev = R.gain_level()
    boot = sorted(set(int(fi["boot_samples"][i]) for i in rows))
    handles = [Line2D([], [], color=R.model_colour[m], marker="o", label=m) for m in models]
    handles += [Line2D([], [], color=R.level_colour[lv], lw=2, label=f"level {lv} (bottom row)") for lv in R.levels] \
        if have_size else []
    handles += [Line2D([], [], marker=mk, color="0.3", ls="none", label=f"{t}" + (f", lr {st[0]:g}" if len(R.settings) > 1 else ""))
                for (t, st), mk in styles.items()] if len(styles) > 1 else []
    handles += [Line2D([], [], marker="o", mfc="white", mec="0.3", color="0.6", ls=(0, (2, 1.5)),
                       label="law not identified\n(hollow marker, grey dotted interval)"),
                Line2D([], [], marker="o", mfc="0.3", mec="0.3", color="0.3",
                       label="identified (filled, solid interval)")]
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 0.95), fontsize=8)
    levtxt = f"{pct(lev)} (same `synlaw fit` run as /gains)" if lev else "level not recorded (default 95%)"
    suptitle(fig, f"{R.job_name}: L(n) = D·n^−α + C per group; bootstrap percentile intervals, "
                  f"{levtxt}, B = {'/'.join(map(str, boot))} replicates (0: no interval)", fontsize=10)
    fig.savefig(os.path.join(out, "params.png"), dpi=DPI, bbox_inches="tight")
    plt.close(fig)


# ---------------------------------------------------------------- 4. pre-training budget

def fig_budget(R, out):
    P = R.pre
    if P is None or not len(P["pretrain_size"]):
        return no_data(out, "budget.png", "no pre-training curves in this file")
    done = np.asarray(P["status"]) == 1
    models = [m for m in R.models if (P["model"][done] == m).any()] or sorted(set(P["model"][done]))
    tasks = sorted(set(P["pretrain_task"][done]))
    ncol = max(3, len(models))
    fig = plt.figure(figsize=(4.6 * ncol, 4.1 * (1 + len(tasks))), layout="constrained")
    gs = fig.add_gridspec(1 + len(tasks), ncol)
    ns = sorted(set(int(v) for v in P["pretrain_size"][done]))
    levels = sorted(set(int(v) for v in P["complexity"][done]))
    what = "backbone" if R.backbones is not None else "pre-trained cell (format 1)"
    # (a) final held-out synthetic error against n
    ax = fig.add_subplot(gs[0, 0])
    for mi, m in enumerate(models):
        for lv in levels:
            for ti, task in enumerate(tasks):
                xs, ms, los, his = [], [], [], []
                for n in ns:
                    sel = done & (P["model"] == m) & (P["complexity"] == lv) & (P["pretrain_task"] == task) & \
                        (P["pretrain_size"] == n)
                    mm, lo, hi = mean_ci(P["final_error"][sel])
                    if np.isfinite(mm):
                        xs.append(n * math.exp(0.04 * (mi - (len(models) - 1) / 2)))
                        ms.append(mm), los.append(lo), his.append(hi)
                if not xs:
                    continue
                ms, los, his = map(np.array, (ms, los, his))
                yerr = np.vstack([ms - los, his - ms])
                ax.errorbar(xs, ms, yerr=np.where(np.isfinite(yerr), yerr, 0), color=R.level_colour.get(lv, "k"),
                            marker=MARKERS[mi % len(MARKERS)], ms=4.5, lw=1, capsize=2,
                            ls=["-", "--", ":", "-."][ti % 4])
    log_axis_n(ax, ns)
    ax.set_xlabel("synthetic pre-training images n (log)", fontsize=9)
    ax.set_ylabel("held-out synthetic error at the end", fontsize=9)
    ax.set_title(f"end of pre-training, per {what}: mean ± {pct(LEVEL)} t-int.", fontsize=9)
    ax.grid(alpha=0.3)
    hl = [Line2D([], [], color="0.3", marker=MARKERS[i % len(MARKERS)], label=m) for i, m in enumerate(models)]
    hl += [Patch(color=R.level_colour.get(lv, "k"), label=f"level {lv}") for lv in levels]
    hl += [Line2D([], [], color="0.3", ls=["-", "--", ":", "-."][i % 4], label=t) for i, t in enumerate(tasks)] \
        if len(tasks) > 1 else []
    ax.legend(handles=hl, fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    # (b) steps used per n, and the passes over the data they make
    ax = fig.add_subplot(gs[0, 1])
    for mi, m in enumerate(models):
        st = [np.mean(P["steps"][done & (P["model"] == m) & (P["pretrain_size"] == n)]) for n in ns]
        ax.plot(np.array(ns) * math.exp(0.04 * (mi - (len(models) - 1) / 2)), st, marker=MARKERS[mi % len(MARKERS)],
                color=R.model_colour.get(m, "k"), label=m)
    log_axis_n(ax, ns)
    batch = re.search(r"^pretrain:\s*\n(?:[ \t]+.*\n)*?[ \t]+batch:\s*(\d+)", R.job_text, re.M)
    if batch:
        b = int(batch.group(1))
        ax2 = ax.twinx()
        ep = [np.nanmean(P["steps"][done & (P["pretrain_size"] == n)]) * b / n for n in ns]
        ax2.plot(ns, ep, color="0.5", ls=":", marker="x", label=f"passes over the n images (batch {b})")
        ax2.set_yscale("log")
        ax2.yaxis.set_major_locator(FixedLocator(sorted(set(v for v in ep if np.isfinite(v) and v > 0))))
        ax2.yaxis.set_minor_locator(NullLocator())
        ax2.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.2g}"))
        ax2.set_ylabel("passes over the data (log)", fontsize=8.5, color="0.4")
        ax2.tick_params(labelsize=8, colors="0.4")
        ax2.legend(fontsize=7, loc="lower right")
    ax.set_ylim(0, None)
    ax.set_xlabel("synthetic pre-training images n (log)", fontsize=9)
    ax.set_ylabel("pre-training steps used", fontsize=9)
    ax.set_title("budget: steps per n (/backbones steps)" if R.backbones is not None
                 else "budget: last evaluated step per n", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left")
    # (c) still improving? relative drop of the held-out error over the last evaluation interval
    ax = fig.add_subplot(gs[0, 2])
    for mi, m in enumerate(models):
        drops = []
        for n in ns:
            sel = np.flatnonzero(done & (P["model"] == m) & (P["pretrain_size"] == n))
            d = []
            for j in sel:
                e = P["curve_error"][j][np.isfinite(P["curve_error"][j]) & np.isfinite(P["curve_step"][j])]
                if len(e) >= 2 and e[-2] > 0:
                    d.append(100 * (e[-2] - e[-1]) / e[-2])
            drops.append(mean_ci(d))
        ms, los, his = map(np.array, zip(*drops))
        yerr = np.vstack([ms - los, his - ms])
        ax.errorbar(np.array(ns) * math.exp(0.04 * (mi - (len(models) - 1) / 2)), ms,
                    yerr=np.where(np.isfinite(yerr), yerr, 0), color=R.model_colour.get(m, "k"),
                    marker=MARKERS[mi % len(MARKERS)], capsize=2, lw=1, label=m)
    ax.axhline(0, color="k", lw=0.8)
    log_axis_n(ax, ns)
    ax.set_xlabel("synthetic pre-training images n (log)", fontsize=9)
    ax.set_ylabel("% drop of held-out error, last interval", fontsize=9)
    ax.set_title(f"converged? ≈ 0: yes; > 0: still improving (mean ± {pct(LEVEL)} t-int.)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    # (d) the curves themselves: one panel per (task, model), colour by n, mean over levels' repeats
    cmap = plt.cm.Blues  # n, light to dark (the level palette is used in panel (a))
    for ti, task in enumerate(tasks):
        for mi, m in enumerate(models):
            ax = fig.add_subplot(gs[1 + ti, mi])
            for k, n in enumerate(ns):
                col = cmap(0.4 + 0.6 * k / max(1, len(ns) - 1))
                for li, lv in enumerate(levels):
                    sel = np.flatnonzero(done & (P["model"] == m) & (P["pretrain_size"] == n) &
                                         (P["complexity"] == lv) & (P["pretrain_task"] == task))
                    if not len(sel):
                        continue
                    st = np.nanmean(P["curve_step"][sel], axis=0)
                    er = np.nanmean(P["curve_error"][sel], axis=0)
                    ok = np.isfinite(st) & np.isfinite(er)
                    ax.plot(st[ok], er[ok], color=col, ls=["-", "--", ":", "-."][li % 4], lw=1.1, marker=".", ms=3,
                            label=f"n = {fmt_n(n)}" if li == 0 else None)
            ax.set_xlabel("pre-training step", fontsize=9)
            ax.set_ylabel(f"held-out synthetic error ({task})", fontsize=8.5)
            ax.set_title(f"{m}: pre-training curves (mean over repeats)", fontsize=9)
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=8)
            h, _ = ax.get_legend_handles_labels()
            h += [Line2D([], [], color="0.3", ls=["-", "--", ":", "-."][i % 4], label=f"level {lv}")
                  for i, lv in enumerate(levels)]
            ax.legend(handles=h, fontsize=7, ncol=2)
    suptitle(fig, f"{R.job_name}: did pre-training converge? held-out synthetic error (fraction of wrong "
                  f"labels or pixels) and the budget per n", fontsize=10)
    fig.savefig(os.path.join(out, "budget.png"), dpi=DPI)
    plt.close(fig)


# ---------------------------------------------------------------- 5. tables

def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(x) for x in r) + " |" for r in rows]
    return out


def sizes_text(R, model, s, cx, task, lr, steps):
    ns = [n for n in R.ns if len(R.errors(model, s, n, cx, task, lr, steps))]
    if not ns:
        return "–"
    return f"{len(ns)}: {fmt_n(ns[0])}–{fmt_n(ns[-1])}" if len(ns) > 1 else f"1: {fmt_n(ns[0])}"


def table_fits(R):
    rows = R.fit_rows("simple")
    fi = R.fits
    lines = ["## (a) Fit of L(n) = D·n^−α + C per group", ""]
    if not rows:
        return lines + ["No simple-law rows in /fits (run `synlaw fit` on the file).", ""]
    lev = R.gain_level()
    boot = sorted(set(int(fi["boot_samples"][i]) for i in rows))
    ident = [R.identified(i) for i in rows]
    known = [x for x in ident if x is not None]
    lines.append(
        f"{len(rows)} group{'s' if len(rows) != 1 else ''}, each fitted once on all its sizes and repeats (no selection among settings: "
        f"{len(R.settings)} fine-tuning setting{'s' if len(R.settings) > 1 else ''} in the file, one row each). "
        f"α and C with bootstrap percentile intervals, "
        + (f"{pct(lev)} (the level of the same `synlaw fit` run's /gains; the file does not store it)"
           if lev else "level not recorded in the file (`synlaw fit --level`, default 95%)")
        + f", B = {'/'.join(map(str, boot))} replicates ('no interval': no more distinct sizes than "
          f"parameters, or no bootstrap). Repeat sd: mean over n of the sd of the final errors across repeats. "
          f"dAIC vs constant = AIC(constant) − AIC(law) (> 2 needed). Back-test: mean |error| at the held-out "
          f"largest n, law vs carrying the last mean forward.")
    lines.append("")
    hdr = ["model", "level"] + (["task"] if len(R.tasks) > 1 else []) + ["s"] + \
        (["lr", "steps"] if len(R.settings) > 1 else []) + \
        ["n sizes", "α [CI]", "C [CI]", "RMSE", "repeat sd", "dAIC vs constant", "back-test vs carry", "verdict"]
    body = []
    order = sorted(rows, key=lambda i: (R.models.index(fi["model"][i]) if fi["model"][i] in R.models else 99,
                                        fi["complexity"][i], fi["pretrain_task"][i], fi["finetune_size"][i],
                                        np.nan_to_num(fi["finetune_lr"][i])))
    for i in order:
        m, cx, task, s = fi["model"][i], int(fi["complexity"][i]), fi["pretrain_task"][i], int(fi["finetune_size"][i])
        lr, st = float(fi["finetune_lr"][i]), int(fi["finetune_steps"][i])
        p, lo, hi = fi["p"][i], fi["ci_lo"][i], fi["ci_hi"][i]
        daic = fi["aic_const"][i] - fi["aic"][i] if "aic_const" in fi else np.nan
        if fi["extrap_points"][i] > 0:
            carry = fi["extrap_carry"][i] if "extrap_carry" in fi else np.nan
            bt = f"{num(fi['extrap_error'][i])} vs {num(carry)}"
        else:
            bt = "–"
        notes = []
        if R.few_sizes(i):
            notes.append(f"{fi['n_sizes'][i]} sizes for 3 parameters")
        if "identified" not in fi:
            notes.append("identifiability not recorded")
        verdict = fi["verdict"][i] + (f" ({'; '.join(notes)})" if notes else "")
        alpha = est_ci(p[1], lo[1], hi[1], lambda v: f"{v:.3g}") + (" @bound" if int(fi["at_bound"][i]) & 2 else "")
        cfloor = est_ci(p[2], lo[2], hi[2], lambda v: f"{v:.4f}") + (" @bound" if int(fi["at_bound"][i]) & 4 else "")
        body.append([m, cx] + ([task] if len(R.tasks) > 1 else []) + [s] +
                    ([f"{lr:g}", st] if len(R.settings) > 1 else []) +
                    [sizes_text(R, m, s, cx, task, lr, st),
                     alpha, cfloor, num(fi["rmse"][i]), num(R.repeat_sd(m, s, cx, task, lr, st)),
                     f"{daic:+.1f}".replace("-", "−") if np.isfinite(daic) else "–", bt, verdict])
    lines += md_table(hdr, body)
    lines.append("")
    nfew = sum(1 for i in rows if R.few_sizes(i))
    if "identified" in fi:
        lines.append(f"Identified: **{sum(known)} of {len(ident)}** groups.")
    else:
        lines.append(f"Identified: not recorded in this file (format {R.version}); {nfew} of {len(ident)} groups "
                     f"have no more sizes than parameters and count as not identified, the other "
                     f"{len(ident) - len([x for x in ident if x == 0])} are untested.")
    if nfew:
        lines.append(f"{nfew} of {len(rows)} groups have no more sizes than parameters: the law can pass through "
                     f"the mean at each size, so the data do not test its shape.")
    nob = sum(1 for i in rows if int(fi["boot_samples"][i]) == 0 and np.isfinite(fi["p"][i][0]))
    if nob:
        lines.append(f"{nob} of {len(rows)} groups have no bootstrap interval (too few distinct sizes for the "
                     f"3 parameters, or no bootstrap): their verdicts rest on point estimates alone.")
    lines.append("")
    return lines


def table_gains(R):
    lines = ["## (b) Gain over scratch, averaged over n", ""]
    if R.gains is None:
        return lines + [f"No /gains in this file (format {R.version}): run `synlaw fit` on it.", ""]
    g = R.gains
    avg = R.gain_rows(True)
    lev = R.gain_level()
    fam = sorted(set(int(g["family"][i]) for i in avg))
    passing = sum(1 for i in avg if np.isfinite(g["p_holm"][i]) and g["p_holm"][i] < ALPHA_HOLM)
    levtxt = f"{pct(lev)} Student-t intervals (level recovered from the rows)" if lev else \
        "no intervals (fewer than 2 pairs)"
    lines.append(
        f"gain = scratch − pre-trained error, paired by repeat (each repeat's gains averaged over the group's sizes "
        f"first); {levtxt}, two-sided paired t-test, Holm "
        f"over the family of {'/'.join(map(str, fam))} averaged comparisons; {selection_text(R, avg)}.")
    lines.append("")
    hdr = ["model", "level"] + (["task"] if len(R.tasks) > 1 else []) + ["s"] + \
        (["lr (scratch lr)"] if len(R.settings) > 1 else []) + \
        ["pairs", "pre-trained", "scratch", "gain [CI]", "p", "Holm p", "family size"]
    body = []
    avg = sorted(avg, key=lambda i: (R.models.index(g["model"][i]) if g["model"][i] in R.models else 99,
                                     g["complexity"][i], g["pretrain_task"][i], g["finetune_size"][i]))
    for i in avg:
        body.append([g["model"][i], g["complexity"][i]] + ([g["pretrain_task"][i]] if len(R.tasks) > 1 else []) +
                    [g["finetune_size"][i]] +
                    ([f"{g['lr'][i]:g} ({g['scratch_lr'][i]:g})"] if len(R.settings) > 1 else []) +
                    [g["pairs"][i], num(g["pretrained"][i]), num(g["scratch"][i]),
                     f"{signed(g['gain'][i])} [{signed(g['gain_lo'][i])}, {signed(g['gain_hi'][i])}]"
                     if np.isfinite(g["gain_lo"][i]) else f"{signed(g['gain'][i])} [no interval]",
                     pval(g["p"][i]), pval(g["p_holm"][i]), g["family"][i]])
    lines += md_table(hdr, body)
    lines += ["", f"Passing Holm at {ALPHA_HOLM}: **{passing} of {len(avg)}** averaged comparisons "
                  f"(family size {'/'.join(map(str, fam))}).", ""]
    return lines


def table_gains_per_n(R):
    lines = ["## (c) Gain over scratch per n", ""]
    if R.gains is None:
        return lines + ["No /gains in this file.", ""]
    g = R.gains
    pern = R.gain_rows(False)
    lev = R.gain_level()
    fam = sorted(set(int(g["family"][i]) for i in pern))
    passing = sum(1 for i in pern if np.isfinite(g["p_holm"][i]) and g["p_holm"][i] < ALPHA_HOLM)
    ns = sorted(set(int(g["pretrain_size"][i]) for i in pern))
    lines.append(f"gain [{pct(lev) + ' t-interval' if lev else 'no interval: fewer than 2 pairs'}] per "
                 f"pre-training size; Holm over the family of "
                 f"{'/'.join(map(str, fam))} per-n comparisons, {passing} of {len(pern)} with Holm-adjusted "
                 f"p < {ALPHA_HOLM} (marked *); {selection_text(R, pern)}.")
    lines.append("")
    keys = sorted(set((g["model"][i], int(g["finetune_size"][i]), int(g["complexity"][i]), g["pretrain_task"][i],
                       float(g["lr"][i])) for i in pern),
                  key=lambda k: (R.models.index(k[0]) if k[0] in R.models else 99, k[1], k[2], k[3], k[4]))
    hdr = ["model", "s", "level"] + (["task"] if len(R.tasks) > 1 else []) + \
        (["lr"] if len(R.settings) > 1 else []) + [f"n = {fmt_n(n)}" for n in ns]
    body = []
    for m, s, cx, task, lr in keys:
        row = [m, s, cx] + ([task] if len(R.tasks) > 1 else []) + ([f"{lr:g}"] if len(R.settings) > 1 else [])
        for n in ns:
            hit = [i for i in pern if g["model"][i] == m and g["finetune_size"][i] == s and g["complexity"][i] == cx
                   and g["pretrain_task"][i] == task and same(float(g["lr"][i]), lr) and g["pretrain_size"][i] == n]
            if not hit:
                row.append("–")
                continue
            i = hit[0]
            star = "*" if np.isfinite(g["p_holm"][i]) and g["p_holm"][i] < ALPHA_HOLM else ""
            ci = f" [{signed(g['gain_lo'][i], 3)}, {signed(g['gain_hi'][i], 3)}]" if np.isfinite(g["gain_lo"][i]) else ""
            row.append(f"{signed(g['gain'][i])}{ci}{star}")
        body.append(row)
    lines += md_table(hdr, body)
    lines.append("")
    return lines


def table_full(R):
    rows = R.fit_rows("full")
    lines = ["## (d) Full law L(n, s) = δ(γ + n^−α)·s^−β across fine-tuning sizes", ""]
    if not rows:
        return lines + ["No full-law rows in /fits (one fine-tuning size, or no fit).", ""]
    fi = R.fits
    lev = R.gain_level()
    boot = sorted(set(int(fi["boot_samples"][i]) for i in rows))
    lines.append(f"{len(rows)} groups, each fitted once (no selection); bootstrap percentile intervals, "
                 + (f"{pct(lev)} (level of the same run's /gains)" if lev else "level not recorded (default 95%)")
                 + f", B = {'/'.join(map(str, boot))}. The back-test needs held-out sizes across all s: "
                   f"'–' where it was not run.")
    lines.append("")
    names = (R.fit_attrs.get("params_full") or "delta gamma alpha beta").split()
    sym = {"delta": "δ", "gamma": "γ", "alpha": "α", "beta": "β"}
    hdr = ["model", "level"] + (["task"] if len(R.tasks) > 1 else []) + (["lr"] if len(R.settings) > 1 else []) + \
        ["points"] + [f"{sym.get(x, x)} [CI]" for x in names] + ["RMSE", "R²", "dAIC vs constant", "identified", "flags"]
    body = []
    for i in sorted(rows, key=lambda i: (R.models.index(fi["model"][i]) if fi["model"][i] in R.models else 99,
                                         fi["complexity"][i], fi["pretrain_task"][i])):
        daic = fi["aic_const"][i] - fi["aic"][i] if "aic_const" in fi else np.nan
        flags = [sym.get(names[k], names[k]) + "@bound" for k in range(len(names)) if int(fi["at_bound"][i]) >> k & 1]
        if not fi["converged"][i]:
            flags.append("not converged")
        ident = R.identified(i)
        body.append([fi["model"][i], fi["complexity"][i]] + ([fi["pretrain_task"][i]] if len(R.tasks) > 1 else []) +
                    ([f"{fi['finetune_lr'][i]:g}"] if len(R.settings) > 1 else []) + [fi["n_points"][i]] +
                    [est_ci(fi["p"][i][k], fi["ci_lo"][i][k], fi["ci_hi"][i][k]) for k in range(len(names))] +
                    [num(fi["rmse"][i]), num(fi["r2"][i], 3),
                     f"{daic:+.1f}".replace("-", "−") if np.isfinite(daic) else "–",
                     {1: "yes", 0: "no", None: "not recorded"}[ident], ", ".join(flags) or "–"])
    lines += md_table(hdr, body)
    lines.append("")
    return lines


def write_tables(R, out):
    head = [f"# {R.job_name}: tables computed from {os.path.basename(R.path)}", "",
            f"Format {R.version}; errors: {R.err_label}; {int(R.ok.sum())} done cells"
            + (f", {len(R.backbones['index'])} backbones" if R.backbones is not None else "")
            + (f"; parameters from {R.params_source}" if R.params_source else "") + ". "
            "Generated by scripts/plot.py; do not edit by hand.", ""]
    if R.err_mismatch:
        head += [f"**Warning:** {R.err_mismatch} cells have final_error ≠ final_test_error: the fits used "
                 f"final_error, the figures show the test error.", ""]
    lines = head + table_fits(R) + table_gains(R) + table_gains_per_n(R) + table_full(R)
    with open(os.path.join(out, "tables.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


# ---------------------------------------------------------------- main

def main(argv):
    if len(argv) != 3 or argv[1] in ("-h", "--help"):
        sys.stderr.write(__doc__)
        return 2
    path, out = argv[1], argv[2]
    os.makedirs(out, exist_ok=True)
    R = Results(path)
    fig_curves(R, out)
    fig_gains(R, out)
    fig_params(R, out)
    fig_budget(R, out)
    write_tables(R, out)
    print(f"plot: wrote curves.png, gains.png, params.png, budget.png and tables.md to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
