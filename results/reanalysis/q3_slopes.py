"""Q3: does the pre-trained test error fall with n? Per (model, level, s): OLS slope of error
on log2 n within each repeat (5 sizes), then mean of the 5 slopes with a t interval (df 4;
allows repeat-specific slopes). Also the pooled fixed-effects slope with its residual-based
interval (df 19). Held-out synthetic error of the backbones (/backbones final_error) against
n and steps. usage: /usr/bin/python3 results/reanalysis/q3_slopes.py"""
import numpy as np
from scipy import stats
from common import *

c, b, fits, gains = load()
E, S = cube(c)
x = np.log2(NS)
xc = x - x.mean()


def slope(Y):                                        # Y [n, repeat] -> per-repeat slopes
    return (xc[:, None] * (Y - Y.mean(0))).sum(0) / (xc ** 2).sum()


res = []
for mi, m in enumerate(MODELS):
    for li, lev in enumerate(LEVELS):
        for si, s in enumerate(SIZES):
            Y = E[mi, li, si]
            sl = slope(Y)
            mu, lo, hi, p = tci(sl)
            # pooled fixed-effects slope, residual s.e. (df = 25 - 5 - 1 = 19)
            Yc = Y - Y.mean(0)
            resid = Yc - np.outer(xc, sl.mean())
            se = np.sqrt((resid ** 2).sum() / 19 / (R * (xc ** 2).sum()))
            pfe = 2 * stats.t.sf(abs(sl.mean() / se), 19)
            res.append(((m, lev, s), mu, lo, hi, p, pfe))
p = np.array([r[4] for r in res])
pfe = np.array([r[5] for r in res])
mu = np.array([r[1] for r in res])
print("| model | level | s=100 | s=400 | s=1600 | s=6400 |")
print("|---|---|---|---|---|---|")
k = 0
for m in MODELS:
    for lev in LEVELS:
        cells = []
        for s in SIZES:
            g, a, lo, hi, pp, _ = res[k]
            st = "**" if pp < 0.05 else ""
            cells.append(f"{st}{1000 * a:+.2f} [{1000 * lo:+.2f}, {1000 * hi:+.2f}]{st}")
            k += 1
        print(f"| {m} | {lev} | " + " | ".join(cells) + " |")
print("(slope in 0.001 error per doubling of n; per-repeat slopes, t df 4)")
print(f"negative estimates {np.sum(mu < 0)} of 36; p<0.05 negative {np.sum((p < .05) & (mu < 0))}, positive {np.sum((p < .05) & (mu > 0))};"
      f" Holm {np.sum(holm(p) < .05)}; BH {np.sum(bh(p) < .05)}")
print(f"pooled FE slopes (df 19): p<0.05 negative {np.sum((pfe < .05) & (mu < 0))}; Holm {np.sum(holm(pfe) < .05)}; BH {np.sum(bh(pfe) < .05)}")
print("mean slope over 36 groups %.5f per doubling; x16 n (4 doublings... 256->65536 is 8 doublings) = %.4f" % (mu.mean(), 8 * mu.mean()))
for mi, m in enumerate(MODELS):
    sl = np.stack([slope(E[mi, li, si]) for li in range(3) for si in range(4)]).mean(0)
    print(f"  {m} mean slope over levels and s: %+.5f [%+.5f, %+.5f] p %.3g" % tci(sl))
    for si, s in enumerate(SIZES):
        sl = np.stack([slope(E[mi, li, si]) for li in range(3)]).mean(0)
        print(f"     s={s}: %+.5f [%+.5f, %+.5f] p %.3g" % tci(sl))
sl = np.stack([slope(E[mi, li, si]) for mi in range(3) for li in range(3) for si in range(4)]).mean(0)
print("  all: %+.5f [%+.5f, %+.5f] p %.3g" % tci(sl))
# gain slope = - error slope (scratch constant within repeat); monotone trend in n?
print("\nmean pre-trained error by n (over models, levels, s, repeats):", np.round(E.mean((0, 1, 2, 4)), 4))
print("scratch mean:", np.round(S.mean(), 4))

# backbones
print("\n## backbones: held-out synthetic error (final_error) by model, level, n (mean of 5 repeats) and steps")
B = np.full((3, 3, 5, R), np.nan)
steps = {}
for row in b:
    mi = MODELS.index(row["model"].decode()); li = LEVELS.index(int(row["complexity"])); ni = NS.index(int(row["pretrain_size"]))
    B[mi, li, ni, int(row["repeat"])] = row["final_error"]
    steps.setdefault(int(row["pretrain_size"]), set()).add(int(row["steps"]))
print("steps by n:", {k: sorted(v) for k, v in steps.items()})
print("| model | level | " + " | ".join(f"n={n}" for n in NS) + " | slope/doubling [95%] | 1024 vs 256 (same 200 steps) |")
print("|---|---|" + "---|" * 7)
for mi, m in enumerate(MODELS):
    for li, lev in enumerate(LEVELS):
        Y = B[mi, li]
        sl = tci(slope(Y))
        d = tci(Y[1] - Y[0])
        print(f"| {m} | {lev} | " + " | ".join(f"{v:.4f}" for v in Y.mean(1)) +
              f" | {sl[0]:+.4f} [{sl[1]:+.4f}, {sl[2]:+.4f}] | {d[0]:+.4f} [{d[1]:+.4f}, {d[2]:+.4f}] p {d[3]:.2g} |")
# monotone?
nonmono = [(MODELS[mi], LEVELS[li]) for mi in range(3) for li in range(3) if np.any(np.diff(B[mi, li].mean(1)) > 0)]
print("groups whose mean backbone error is not monotone decreasing in n:", nonmono)
# backbone error vs fine-tune error: within (model, level, s, n) across repeats? and across n
# correlation across the 5 repeats at fixed n (does a better backbone give a better fine-tune?)
rs = []
for mi in range(3):
    for li in range(3):
        for si in range(4):
            for ni in range(5):
                rs.append(stats.spearmanr(B[mi, li, ni], E[mi, li, si, ni]).correlation)
rs = np.array(rs)
print("within-cell (fixed model, level, s, n) Spearman r between backbone error and fine-tune error over the 5 repeats: mean %.3f (180 cells, %d positive)"
      % (np.nanmean(rs), np.sum(rs > 0)))

# successive x4 steps in n, pre-trained test error, pooled over models, levels, s (5 repeats)
print("\n## pre-trained test error change per x4 step in n (pooled over models, levels, s); steps change in brackets")
st = [200, 200, 256, 1024, 4096]
for ni in range(4):
    print(f"  {NS[ni]}->{NS[ni + 1]} (steps {st[ni]}->{st[ni + 1]}): %+.4f [%+.4f, %+.4f] p %.3g" % tci((E[:, :, :, ni + 1] - E[:, :, :, ni]).mean((0, 1, 2))))
