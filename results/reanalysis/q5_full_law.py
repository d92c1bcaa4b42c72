"""Q5: the full law L(n, s) = delta (gamma + n^-alpha) s^-beta (/fits law 'full') and beta
against a scratch-only power law in s. (a) synlaw's full-law rows; (b) an independent
curve_fit of the full law (across repeats, bounds delta, gamma >= 0, alpha in [0.01, 3],
beta in [0, 3], multi-start); (c) scratch: err(s) = a s^-b on 20 points per model
(curve_fit, s.e. from covariance) and per-repeat log-log slopes; (d) the same log-log exponent
for the pre-trained arm per (model, level, n), paired with scratch by repeat.
usage: /usr/bin/python3 results/reanalysis/q5_full_law.py"""
import warnings
import numpy as np
from scipy import optimize
from common import *

c, b, fits, gains = load()
E, S = cube(c)
full = [r for r in fits if r["law"] == b"full"]
print("## synlaw full-law rows")
print("| model | level | delta | gamma | alpha | beta [95% boot] | bound flags | identified | dAIC const |")
print("|---|---|---|---|---|---|---|---|---|")
for r in full:
    fl = [nm for bit, nm in ((1, "delta"), (2, "alpha"), (4, "gamma"), (8, "beta")) if r["at_bound"] & bit]
    print(f"| {r['model'].decode()} | {r['complexity']} | {r['p'][0]:.3g} | {r['p'][1]:.3g} | {r['p'][2]:.3g} | "
          f"{r['p'][3]:.4f} [{r['ci_lo'][3]:.4f}, {r['ci_hi'][3]:.4f}] | at_bound={r['at_bound']} | {r['identified']} | {r['aic_const'] - r['aic']:.1f} |")


def flaw(X, d, g, a, be):
    n, s = X
    return d * (g + n ** (-a)) * s ** (-be)


print("\n## independent full-law fit (curve_fit, raw per-repeat points, 100 per group)")
nn, ss = np.meshgrid(np.array(NS, float), np.array(SIZES, float), indexing="ij")  # [n, s]
for mi, m in enumerate(MODELS):
    for li, lev in enumerate(LEVELS):
        Y = E[mi, li].transpose(1, 0, 2)             # [n, s, r]
        X = (np.repeat(nn[..., None], R, 2).ravel(), np.repeat(ss[..., None], R, 2).ravel())
        y = Y.ravel()
        best = None
        for a0 in (0.02, 0.1, 0.5, 2.0):
            for g0 in (0.0, 0.5, 2.0):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        p, cov = optimize.curve_fit(flaw, X, y, p0=(0.6, g0, a0, 0.15),
                                                    bounds=([0, 0, 0.01, 0], [np.inf, np.inf, 3, 3]), maxfev=20000)
                    except (RuntimeError, ValueError):
                        continue
                rss = np.sum((flaw(X, *p) - y) ** 2)
                if best is None or rss < best[1]:
                    best = (p, rss, cov)
        p, rss, cov = best
        syn = next(r for r in full if r["model"].decode() == m and r["complexity"] == lev)
        print(f"  {m} L{lev}: delta {p[0]:.3g} gamma {p[1]:.3g} alpha {p[2]:.3g} beta {p[3]:.4f} +- {np.sqrt(cov[3, 3]):.4f}"
              f"  (synlaw beta {syn['p'][3]:.4f})")

print("\n## scratch-only power law err(s) = a s^-b")
bs = {}
for mi, m in enumerate(MODELS):
    x = np.repeat(np.array(SIZES, float), R)
    y = S[mi].ravel()
    p, cov = optimize.curve_fit(lambda s, a, b_: a * s ** (-b_), x, y, p0=(0.6, 0.15))
    lx = np.log(SIZES)
    sl = np.array([np.polyfit(lx, np.log(S[mi, :, r]), 1)[0] for r in range(R)])
    bs[m] = -sl
    t = tci(-sl)
    print(f"  {m}: b = {p[1]:.4f} +- {np.sqrt(cov[1, 1]):.4f} (curve_fit); per-repeat log-log b = {t[0]:.4f} [{t[1]:.4f}, {t[2]:.4f}]")

print("\n## pre-trained arm log-log exponent in s, per (model, level), averaged over n; minus scratch's, paired by repeat")
print("| model | level | b pre-trained (mean over n) | b_pre - b_scratch | at n=65536: b_pre - b_scratch | synlaw full beta |")
print("|---|---|---|---|---|---|")
lx = np.log(SIZES)
pp = []
for mi, m in enumerate(MODELS):
    for li, lev in enumerate(LEVELS):
        bp = np.array([[-np.polyfit(lx, np.log(E[mi, li, :, ni, r]), 1)[0] for r in range(R)] for ni in range(5)])  # [n, r]
        t0 = tci(bp.mean(0))
        t1 = tci(bp.mean(0) - bs[m])
        t2 = tci(bp[4] - bs[m])
        pp.append(t1[3])
        syn = next(r for r in full if r["model"].decode() == m and r["complexity"] == lev)
        print(f"| {m} | {lev} | {t0[0]:.4f} [{t0[1]:.4f}, {t0[2]:.4f}] | {t1[0]:+.4f} [{t1[1]:+.4f}, {t1[2]:+.4f}] p={t1[3]:.2g} | "
              f"{t2[0]:+.4f} [{t2[1]:+.4f}, {t2[2]:+.4f}] p={t2[3]:.2g} | {syn['p'][3]:.4f} |")
print(f"  9 contrasts b_pre - b_scratch: p<0.05 {np.sum(np.array(pp) < .05)}, Holm {np.sum(holm(pp) < .05)}, BH {np.sum(bh(pp) < .05)}")
bpall = np.array([[[-np.polyfit(lx, np.log(E[mi, li, :, ni, r]), 1)[0] for r in range(R)] for ni in range(5)] for mi in range(3) for li in range(3)])
bsall = np.array([bs[m] for m in MODELS for _ in LEVELS])
print("  all models/levels/n: b_pre - b_scratch = %+.4f [%+.4f, %+.4f] p %.3g" % tci((bpall.mean(1) - bsall).mean(0)))
print("  b_pre by n (all models/levels):", np.round(bpall.mean((0, 2)), 4), " b_scratch mean:", np.round(np.mean([bs[m].mean() for m in MODELS]), 4))

print("\n## does n matter inside the full law? AIC(full law) vs AIC(a s^-b, no n term), raw points, k = params + 1")
for mi, m in enumerate(MODELS):
    for li, lev in enumerate(LEVELS):
        Y = E[mi, li].transpose(1, 0, 2)
        X = (np.repeat(nn[..., None], R, 2).ravel(), np.repeat(ss[..., None], R, 2).ravel())
        y = Y.ravel()
        best = None
        for a0 in (0.02, 0.1, 0.5, 2.0):
            for g0 in (0.0, 0.5, 2.0):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        p, _ = optimize.curve_fit(flaw, X, y, p0=(0.6, g0, a0, 0.15),
                                                  bounds=([0, 0, 0.01, 0], [np.inf, np.inf, 3, 3]), maxfev=20000)
                    except (RuntimeError, ValueError):
                        continue
                rss = np.sum((flaw(X, *p) - y) ** 2)
                best = rss if best is None else min(best, rss)
        p2, _ = optimize.curve_fit(lambda s, a, b_: a * s ** (-b_), X[1], y, p0=(0.6, 0.15))
        rss2 = np.sum((p2[0] * X[1] ** (-p2[1]) - y) ** 2)
        print(f"  {m} L{lev}: dAIC (s-only minus full) = {aic(rss2, len(y), 3) - aic(best, len(y), 5):.1f}")
