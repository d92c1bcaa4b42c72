"""Q1: identification of L(n) = D n^-a + C per (model, level, s), test error, n > 0.
Fits (a) across repeats (raw per-repeat points) and (b) within repeats (repeat means over the
sizes removed, grand mean added back = fixed repeat effects, as synlaw). For balanced data the
parameter estimates of (a) and (b) are identical (the law depends on n only); RSS/AIC differ.
Compares with /fits (law 'simple'). usage: /usr/bin/python3 results/reanalysis/q1_identification.py"""
import numpy as np
from common import *

c, b, fits, gains = load()
E, S = cube(c)
nn = np.repeat(np.array(NS, float), R)          # point order: n-major, repeat-minor
simple = {(r["model"].decode(), int(r["complexity"]), int(r["finetune_size"])): r
          for r in fits if r["law"] == b"simple"}

rows = []
for mi, m in enumerate(MODELS):
    for si, s in enumerate(SIZES):
        for li, lev in enumerate(LEVELS):
            Y = E[mi, li, si]                      # [n, repeat]
            res = {"g": (m, lev, s)}
            for mode in ("raw", "within"):
                Yc = Y - Y.mean(0, keepdims=True) + Y.mean() if mode == "within" else Y
                y = Yc.ravel()
                mlen = len(y)
                p, rss = fit_law(nn, y)
                rss_c = np.sum((y - y.mean()) ** 2)
                # log-linear (a + b log2 n): what a law with a -> 0 and C = 0 looks like
                X = np.column_stack([np.ones_like(nn), np.log2(nn)])
                beta, *_ = np.linalg.lstsq(X, y, rcond=None)
                rss_l = np.sum((X @ beta - y) ** 2)
                res[mode] = dict(p=p, aic=aic(rss, mlen, 4), aic_c=aic(rss_c, mlen, 2),
                                 aic_lin=aic(rss_l, mlen, 3))
            # back-test: refit without n = 65536 (raw points; identical estimates either way)
            tr = nn < 65536
            p2, _ = fit_law(nn[tr], Y[:4].ravel())
            obs = Y[4].mean()
            X = np.column_stack([np.ones(4), np.log2(NS[:4])])
            bl, *_ = np.linalg.lstsq(X, Y[:4].mean(1), rcond=None)
            res["ext_law"] = abs(law(65536.0, *p2) - obs)
            res["ext_carry"] = abs(Y[3].mean() - obs)
            res["ext_lin"] = abs(bl[0] + bl[1] * 16 - obs)
            res["syn"] = simple[(m, lev, s)]
            rows.append(res)

print("| model | level | s | D | alpha | C | dAIC const (raw) | dAIC const (within) | synlaw dAIC | dAIC vs log-linear (within) | extrap law | carry | log-lin | synlaw extrap (carry) | bound | synlaw identified | mine |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
cnt = dict(raw2=0, within2=0, syn2=0, a_b=0, c_b=0, either=0, ext_better=0, mine_id=0, agree=0,
           syn_id=0, lin_better=0, law_vs_lin2=0, ab_syn=0, cb_syn=0, pdiff=0)
ext = np.zeros(3)
for r in rows:
    m, lev, s = r["g"]
    p = r["within"]["p"]
    da_raw = r["raw"]["aic_c"] - r["raw"]["aic"]
    da_w = r["within"]["aic_c"] - r["within"]["aic"]
    da_lin = r["within"]["aic_lin"] - r["within"]["aic"]
    syn = r["syn"]
    da_syn = syn["aic_const"] - syn["aic"]
    a_b, c_b = on_bound(p)
    better = r["ext_law"] < r["ext_carry"]
    mine = (da_w > 2) and (not a_b) and better
    cnt["raw2"] += da_raw > 2
    cnt["within2"] += da_w > 2
    cnt["syn2"] += da_syn > 2
    cnt["a_b"] += a_b
    cnt["c_b"] += c_b
    cnt["either"] += a_b or c_b
    cnt["ext_better"] += better
    cnt["mine_id"] += mine
    cnt["syn_id"] += int(syn["identified"])
    cnt["agree"] += mine == bool(syn["identified"])
    cnt["law_vs_lin2"] += da_lin > 2
    cnt["lin_better"] += r["ext_lin"] < r["ext_law"]
    cnt["ab_syn"] += bool(syn["at_bound"] & 2)
    cnt["cb_syn"] += bool(syn["at_bound"] & 4)
    cnt["pdiff"] += not (np.allclose(p[1], syn["p"][1], rtol=0.05, atol=2e-3) and abs(p[2] - syn["p"][2]) < 5e-3)
    ext += [r["ext_law"], r["ext_carry"], r["ext_lin"]]
    bnd = ("alpha " if a_b else "") + ("C" if c_b else "")
    print(f"| {m} | {lev} | {s} | {p[0]:.3g} | {p[1]:.4g} | {p[2]:.4f} | {da_raw:.1f} | {da_w:.1f} | {da_syn:.1f} | {da_lin:.1f} | "
          f"{r['ext_law']:.4f} | {r['ext_carry']:.4f} | {r['ext_lin']:.4f} | {syn['extrap_error']:.4f} ({syn['extrap_carry']:.4f}) | {bnd} | "
          f"{int(syn['identified'])} | {int(mine)} |")
print()
print("groups", len(rows), cnt)
print("mean back-test |err|: law %.4f carry %.4f log-linear %.4f" % tuple(ext / len(rows)))
alphas = np.array([r["within"]["p"][1] for r in rows])
Cs = np.array([r["within"]["p"][2] for r in rows])
print("median alpha %.4f; alpha<0.05 in %d; C<1e-6 in %d" % (np.median(alphas), np.sum(alphas < 0.05), np.sum(Cs < 1e-6)))
syn_rows = [r["syn"] for r in rows]
print("synlaw: identified", sum(int(x["identified"]) for x in syn_rows),
      "dAIC>2", sum((x["aic_const"] - x["aic"]) > 2 for x in syn_rows),
      "alpha@bound", sum(bool(x["at_bound"] & 2) for x in syn_rows),
      "C@bound", sum(bool(x["at_bound"] & 4) for x in syn_rows),
      "either", sum(bool(x["at_bound"] & 6) for x in syn_rows),
      "ext<carry", sum(x["extrap_error"] < x["extrap_carry"] for x in syn_rows),
      "mean ext %.4f carry %.4f" % (np.mean([x["extrap_error"] for x in syn_rows]), np.mean([x["extrap_carry"] for x in syn_rows])))
# recompute synlaw's identified from its own fields
rec = [((x["aic_const"] - x["aic"]) > 2) and not (x["at_bound"] & 2) and (x["extrap_error"] < x["extrap_carry"]) for x in syn_rows]
print("synlaw identified recomputed from its own fields (dAIC>2 & alpha not at bound & ext<carry):", sum(rec),
      "mismatches:", [r["g"] for r, q in zip(rows, rec) if q != bool(r["syn"]["identified"])])
v = {}
for x in syn_rows:
    v[x["verdict"].decode()] = v.get(x["verdict"].decode(), 0) + 1
print("verdicts", v)
# is the law's back-test advantage over carry-forward more than noise? (36 groups, paired)
from scipy import stats
dl = np.array([r["ext_carry"] - r["ext_law"] for r in rows])
print("carry - law back-test error over 36 groups: mean %.4f [%.4f, %.4f] p %.3g; Wilcoxon p %.3g; law better in %d"
      % (*tci(dl), stats.wilcoxon(dl).pvalue, np.sum(dl > 0)))
