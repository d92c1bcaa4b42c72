"""Fit the original study's published curves independently with scipy's curve_fit and
compare every group with synlaw's fit of the same data.

usage: compare_scipy.py SYNLAW CSV

Data selection as the study's own fit: pscale 64k, n > 0, pdata not imagenet, y = 1 - value
at the largest n_eval, per (model, ptask, pdata, ftask, fdata, fratio). Two laws: the
study's y = C + 0.48 n^-alpha (alpha in [0.1, 1.5], C in [0, 1]) and the free
y = D n^-alpha + C (D >= 0, alpha in [0.01, 3], C in [0, 1]).

Tolerances. Both programs minimise the same sum of squares, so the comparison that always
holds is of the optimum: synlaw's RMSE may not exceed scipy's by more than 1e-4 relative
(scipy stops at ftol = xtol = 1e-8; a worse synlaw optimum means a missed minimum).
Parameters are compared only where they are identified: where the reported standard error
is under 20% of the estimate and neither fit sits on a bound; there they must agree within
1% relative or a tenth of a standard error, whichever is larger. Flat curves (alpha running
to a bound, SE many times the estimate) have a valley of near-equal cost in which the two
solvers may stop at different points: comparing their parameters would test noise."""
import csv
import subprocess
import sys
import tempfile

import numpy as np
from scipy.optimize import curve_fit

GROUP = ["model", "ptask", "pdata", "ftask", "fdata", "fratio"]


def load(path):
    best = {}
    with open(path) as f:
        for r in csv.DictReader(f):
            if r["pscale"] != "64k" or r["pdata"] == "imagenet" or r["pretrain.data"] in ("NA", "0"):
                continue
            key = tuple(r[g] for g in GROUP)
            n = float(r["pretrain.data"])
            step = float(r["n_eval"])
            prev = best.get((key, n))
            if prev is None or step > prev[0]:
                best[(key, n)] = (step, 1.0 - float(r["value"]))
    groups = {}
    for (key, n), (_, y) in best.items():
        groups.setdefault(key, []).append((n, y))
    return {k: np.array(sorted(v)) for k, v in groups.items()}


def scipy_fit(data, fixed_d):
    n, y = data[:, 0], data[:, 1]
    best = None
    if fixed_d:
        f = lambda x, a, c: c + 0.48 * x ** -a
        lo, hi, starts = [0.1, 0.0], [1.5, 1.0], [[a, c] for a in (0.2, 0.5, 1.0) for c in (0.3, 0.8)]
    else:
        f = lambda x, d, a, c: d * x ** -a + c
        lo, hi = [0.0, 0.01, 0.0], [np.inf, 3.0, 1.0]
        starts = [[d, a, c] for d in (0.1, 1.0, 10.0) for a in (0.1, 0.5, 1.5) for c in (0.2, 0.8)]
    for p0 in starts:
        try:
            p, _ = curve_fit(f, n, y, p0=p0, bounds=(lo, hi), maxfev=20000)
        except RuntimeError:
            continue
        rmse = float(np.sqrt(np.mean((f(n, *p) - y) ** 2)))
        if best is None or rmse < best[1]:
            best = (p, rmse)
    return best


def synlaw_fit(synlaw, path, fixed_d):
    out = tempfile.NamedTemporaryFile(suffix=".csv", delete=False).name
    cmd = [synlaw, "fit", "--csv", path, "--x", "pretrain.data", "--y", "1-value",
           "--where", "pscale=64k", "--where", "pretrain.data!=0", "--where", "pdata!=imagenet",
           "--last", "n_eval", "--group", ",".join(GROUP), "--bound", "C=0:1", "-o", out, "-q"]
    cmd += ["--fix", "D=0.48", "--bound", "alpha=0.1:1.5"] if fixed_d else []
    subprocess.run(cmd, check=True)
    with open(out) as f:
        return {tuple(r[g] for g in GROUP): r for r in csv.DictReader(f)}


def main(synlaw, path):
    groups = load(path)
    failures, compared = 0, 0
    for fixed_d in (True, False):
        ours = synlaw_fit(synlaw, path, fixed_d)
        if set(ours) != set(groups):
            print(f"group sets differ: synlaw {len(ours)}, reference {len(groups)}")
            sys.exit(1)
        names = ["alpha", "C"] if fixed_d else ["D", "alpha", "C"]
        worst = 0.0
        for key, data in groups.items():
            p_ref, rmse_ref = scipy_fit(data, fixed_d)
            r = ours[key]
            if int(r["n_points"]) != len(data):
                print(f"{key}: synlaw used {r['n_points']} points, reference {len(data)}")
                failures += 1
            rmse = float(r["rmse"])
            worst = max(worst, (rmse - rmse_ref) / rmse_ref)
            if rmse > rmse_ref * (1 + 1e-4):
                print(f"{key}: synlaw RMSE {rmse:.6g} worse than scipy {rmse_ref:.6g}")
                failures += 1
            pnames = r["param_names"].split()
            for name, ref in zip(names, p_ref):
                i = pnames.index(name)
                v, se = float(r[f"p{i}"]), float(r[f"se{i}"])
                on_bound = int(r["at_bound"]) >> i & 1
                if on_bound or not (se < 0.2 * abs(v)):
                    continue
                compared += 1
                if abs(v - ref) > max(0.01 * abs(ref), 0.1 * se):
                    print(f"{key} {name}: synlaw {v:.6g} ± {se:.2g}, scipy {ref:.6g}")
                    failures += 1
        law = "C + 0.48 n^-alpha" if fixed_d else "D n^-alpha + C"
        print(f"{law}: {len(groups)} groups, worst relative RMSE excess of synlaw over scipy {worst:.2e}")
    print(f"{compared} identified parameters compared; {failures} disagreements")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
