"""Q2: paired gains, gain = scratch - pre-trained test error (positive = pre-training helps),
paired by repeat; per (model, level, s, n) [180] and averaged over n [36]; Holm and BH within
each family; compared with /gains. Also the same on validation error (consistency only).
usage: /usr/bin/python3 results/reanalysis/q2_gains.py"""
import numpy as np
from common import *

c, b, fits, gains = load()
E, S = cube(c)
Ev, Sv = cube(c, "final_val_error")
syn = {(g["model"].decode(), int(g["complexity"]), int(g["finetune_size"]), int(g["pretrain_size"])): g for g in gains}

per_n, avg = [], []
for mi, m in enumerate(MODELS):
    for li, lev in enumerate(LEVELS):
        for si, s in enumerate(SIZES):
            D = S[mi, si][None, :] - E[mi, li, si]          # [n, repeat]
            for ni, n in enumerate(NS):
                per_n.append(((m, lev, s, n), *tci(D[ni])))
            avg.append(((m, lev, s, 0), *tci(D.mean(0))))


def report(name, res):
    p = np.array([r[4] for r in res])
    ph, pb = holm(p), bh(p)
    mu = np.array([r[1] for r in res])
    print(f"## {name}: {len(res)} comparisons")
    print(f"  positive estimates {np.sum(mu > 0)}, negative {np.sum(mu < 0)}")
    print(f"  unadjusted p<0.05: {np.sum(p < 0.05)} (positive {np.sum((p < 0.05) & (mu > 0))}, negative {np.sum((p < 0.05) & (mu < 0))}); "
          f"expected by chance {0.05 * len(res):.1f}")
    print(f"  Holm<0.05: {np.sum(ph < 0.05)}; BH q<0.05: {np.sum(pb < 0.05)}; BH q<0.10: {np.sum(pb < 0.10)}")
    for i in np.argsort(p)[:5]:
        g, mu_, lo, hi, pp = res[i]
        print(f"    {g}: {mu_:+.4f} [{lo:+.4f}, {hi:+.4f}] p {pp:.3g} Holm {ph[i]:.3g} BH {pb[i]:.3g}")
    i = int(np.argmax(mu))
    print("  largest:", res[i][0], "%+.4f [%+.4f, %+.4f] p %.3g" % res[i][1:])
    i = int(np.argmin(mu))
    print("  most negative:", res[i][0], "%+.4f [%+.4f, %+.4f] p %.3g" % res[i][1:])
    print("  mean of estimates %.4f" % mu.mean())
    # agreement with synlaw
    dg = dp = dh = 0
    for r, h in zip(res, ph):
        key = r[0][:3] + ((r[0][3] if r[0][3] else -1),)
        g = syn.get(key) if r[0][3] else None
        if g is None:
            g = next(x for x in gains if x["model"].decode() == r[0][0] and x["complexity"] == r[0][1]
                     and x["finetune_size"] == r[0][2] and x["family"] == 36)
        dg = max(dg, abs(g["gain"] - r[1]))
        dp = max(dp, abs(g["p"] - r[4]))
        dh = max(dh, abs(min(1, g["p_holm"]) - h))
    print(f"  max |diff| vs /gains: gain {dg:.2e}, p {dp:.2e}, p_holm {dh:.2e}")
    return ph, pb


ph_n, pb_n = report("per n", per_n)
ph_a, pb_a = report("averaged over n", avg)

print("\n| model | level | s=100 | s=400 | s=1600 | s=6400 |")
print("|---|---|---|---|---|---|")
k = 0
for m in MODELS:
    for lev in LEVELS:
        cells = []
        for s in SIZES:
            g, mu, lo, hi, p = avg[k]
            assert g == (m, lev, s, 0)
            star = "**" if p < 0.05 else ""
            cells.append(f"{star}{100 * mu:+.2f} [{100 * lo:+.2f}, {100 * hi:+.2f}]{star}")
            k += 1
        print(f"| {m} | {lev} | " + " | ".join(cells) + " |")

# pooled views (repeat is the unit: 5 values each)
print("\n## pooled gains (mean over the listed axes within repeat; 5 repeats; t interval)")
D = S[:, None, :, None, :] - E                     # [m, l, s, n, r]
for mi, m in enumerate(MODELS):
    print(f"  {m} all levels/s/n: %+.4f [%+.4f, %+.4f] p %.3g" % tci(D[mi].mean((0, 1, 2))))
    for si, s in enumerate(SIZES):
        print(f"    s={s}: %+.4f [%+.4f, %+.4f] p %.3g" % tci(D[mi, :, si].mean((0, 1))))
    print(f"    n=65536 (all levels, s): %+.4f [%+.4f, %+.4f] p %.3g" % tci(D[mi, :, :, 4].mean((0, 1))))
    print(f"    n=256 (all levels, s): %+.4f [%+.4f, %+.4f] p %.3g" % tci(D[mi, :, :, 0].mean((0, 1))))
print("  all models: %+.4f [%+.4f, %+.4f] p %.3g" % tci(D.mean((0, 1, 2, 3))))
for ni, n in enumerate(NS):
    print(f"  n={n} all models/levels/s: %+.4f [%+.4f, %+.4f] p %.3g" % tci(D[:, :, :, ni].mean((0, 1, 2))))

# validation consistency (not used for any choice)
Dv = Sv[:, None, :, None, :] - Ev
gt = D.mean((3, 4)).ravel()
gv = Dv.mean((3, 4)).ravel()
print("\nvalidation vs test averaged gains (36): corr %.2f; same sign %d of 36; mean test %+.4f val %+.4f"
      % (np.corrcoef(gt, gv)[0, 1], np.sum(np.sign(gt) == np.sign(gv)), gt.mean(), gv.mean()))
pv = np.array([tci(Dv[mi, li, si].mean(0))[3] for mi in range(3) for li in range(3) for si in range(4)])
print("validation averaged gains: unadjusted p<0.05 %d, Holm %d, BH %d" % (np.sum(pv < .05), np.sum(holm(pv) < .05), np.sum(bh(pv) < .05)))
for mi, m in enumerate(MODELS):
    print(f"  val {m} all: %+.4f [%+.4f, %+.4f] p %.3g" % tci(Dv[mi].mean((0, 1, 2))))
# test-set granularity: 1,000 test images
print("\ntest errors are multiples of 1/1000: binomial s.e. of one cell's error at 0.2 = %.4f" % np.sqrt(0.2 * 0.8 / 1000))
