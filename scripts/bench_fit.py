#!/usr/bin/python3
"""Fitting benchmark: synlaw against scipy's curve_fit on the original study's published curves.

usage: scripts/bench_fit.py [SYNLAW] [--boot B] [--law study|free]

Both sides do the same work in the same run: every group of the study's selection (pscale
64k, n > 0, pdata not imagenet, the last evaluation; 45 groups) is fitted from a grid of
starting points, then refitted on B bootstrap resamples of its points (default 1000), each
started at the full-data estimate. Law "study" is y = C + 0.48 n^-alpha (alpha in [0.1, 1.5],
C in [0, 1]); "free" is y = D n^-alpha + C (D >= 0, alpha in [0.01, 3], C in [0, 1]).
synlaw runs with --holdout 0 so that it does no extra fit. Prints wall times and the ratio,
and compares the 95% intervals of alpha from the two programs (they use different random
resamples, so they agree only up to Monte Carlo noise)."""
import os
import subprocess
import sys
import tempfile
import time
import csv

import numpy as np
from scipy.optimize import curve_fit

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
from compare_scipy import GROUP, load  # noqa: E402

CSV = os.path.join(HERE, "..", "data", "cg-transfer", "results_finetune.csv")


def scipy_group(data, law, boot, rng):
    n, y = data[:, 0], data[:, 1]
    if law == "study":
        f = lambda x, a, c: c + 0.48 * x ** -a
        lo, hi = [0.1, 0.0], [1.5, 1.0]
        starts = [[a, c] for a in (0.2, 0.5, 1.0) for c in (0.3, 0.8)]
    else:
        f = lambda x, d, a, c: d * x ** -a + c
        lo, hi = [0.0, 0.01, 0.0], [np.inf, 3.0, 1.0]
        starts = [[d, a, c] for d in (0.1, 1.0, 10.0) for a in (0.1, 0.5, 1.5) for c in (0.2, 0.8)]
    best, cost = None, np.inf
    for p0 in starts:
        try:
            p, _ = curve_fit(f, n, y, p0=p0, bounds=(lo, hi), maxfev=20000)
        except RuntimeError:
            continue
        c = float(np.sum((f(n, *p) - y) ** 2))
        if c < cost:
            best, cost = p, c
    alphas = []
    m = len(n)
    nfree = len(lo)
    for _ in range(boot):
        while True:
            idx = rng.integers(0, m, m)
            if len(set(n[idx])) >= nfree:
                break
        try:
            p, _ = curve_fit(f, n[idx], y[idx], p0=np.clip(best, lo, hi), bounds=(lo, hi), maxfev=20000)
            alphas.append(p[0] if law == "study" else p[1])
        except RuntimeError:
            pass
    return np.percentile(alphas, [2.5, 97.5]) if alphas else (np.nan, np.nan)


def main():
    args = sys.argv[1:]
    synlaw = os.path.join(HERE, "..", "build", "synlaw")
    boot, law = 1000, "free"
    i = 0
    while i < len(args):
        if args[i] == "--boot":
            boot = int(args[i + 1]); i += 2
        elif args[i] == "--law":
            law = args[i + 1]; i += 2
        else:
            synlaw = args[i]; i += 1
    groups = load(CSV)
    out = tempfile.NamedTemporaryFile(suffix=".csv", delete=False).name
    cmd = [synlaw, "fit", "--csv", CSV, "--x", "pretrain.data", "--y", "1-value",
           "--where", "pscale=64k", "--where", "pretrain.data!=0", "--where", "pdata!=imagenet",
           "--last", "n_eval", "--group", ",".join(GROUP), "--bound", "C=0:1",
           "--bootstrap", str(boot), "--holdout", "0", "-o", out, "-q"]
    if law == "study":
        cmd += ["--fix", "D=0.48", "--bound", "alpha=0.1:1.5"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    t_synlaw = time.perf_counter() - t0
    with open(out) as f:
        ours = {tuple(r[g] for g in GROUP): r for r in csv.DictReader(f)}
    os.unlink(out)

    rng = np.random.default_rng(1)
    t0 = time.perf_counter()
    ref = {k: scipy_group(d, law, boot, rng) for k, d in groups.items()}
    t_scipy = time.perf_counter() - t0

    widths = []
    for k, (lo, hi) in ref.items():
        r = ours[k]
        names = r["param_names"].split()
        j = names.index("alpha")
        widths.append((float(r[f"ci_hi{j}"]) - float(r[f"ci_lo{j}"]), hi - lo))
    w = np.array(widths)
    nfits = len(groups) * (boot + 1)
    print(f"law {law}: {len(groups)} groups, {boot} bootstrap resamples each ({nfits} fits + starts)")
    print(f"synlaw (GSL, C):        {t_synlaw:8.2f} s")
    print(f"scipy curve_fit (trf):  {t_scipy:8.2f} s")
    print(f"speed-up: {t_scipy / t_synlaw:.1f}x")
    print(f"median width of the 95% interval of alpha: synlaw {np.median(w[:, 0]):.4f}, "
          f"scipy {np.median(w[:, 1]):.4f}")


if __name__ == "__main__":
    main()
