#!/usr/bin/python3
"""Independent check of results/reference.h5 with h5py and scipy (no synlaw code): per group
(model, level, s) fit L(n) = D n^-a + C to the per-repeat test errors (n > 0), with repeat
means removed (within repeats, as synlaw does), bounds D >= 0, a in [0.01, 3], C in [0, 0.9];
compare with a constant by Gaussian AIC; back-test without n = 64k against carrying the 16k
mean forward; paired gain averaged over n with a t interval, Holm over the 36.
usage: /usr/bin/python3 results/check_scipy.py results/reference.h5"""
import sys
import h5py
import numpy as np
from scipy import optimize, stats

f = h5py.File(sys.argv[1], "r")
c = f["cells"][:]
done = c["status"] == 1
law = lambda n, D, a, C: D * n ** (-a) + C

def fit(n, y):
    best = None
    for a0 in (0.05, 0.3, 1.0):
        try:
            p, _ = optimize.curve_fit(law, n, y, p0=(0.3, a0, max(0.0, y.min() - 0.01)),
                                      bounds=([0, 0.01, 0], [np.inf, 3, 0.9]), maxfev=20000)
        except RuntimeError:
            continue
        rss = np.sum((law(n, *p) - y) ** 2)
        if best is None or rss < best[1]:
            best = (p, rss)
    return best

beats = ext_law = ext_carry = 0
groups = 0
gains = []
for m in (b"cnn-s", b"cnn-m", b"cnn-l"):
    for lev in (2, 3, 4):
        for s in (100, 400, 1600, 6400):
            sel = done & (c["model"] == m) & (c["complexity"] == lev) & (c["finetune_size"] == s) & (c["pretrain_size"] > 0)
            n = c["pretrain_size"][sel].astype(float)
            y = c["final_test_error"][sel].astype(float)
            r = c["repeat"][sel]
            yc = y.copy()
            for k in np.unique(r):
                yc[r == k] -= y[r == k].mean() - y.mean()
            p, rss = fit(n, yc)
            mlen = len(yc)
            aic_law = mlen * np.log(rss / mlen) + 2 * 4
            aic_const = mlen * np.log(np.sum((yc - yc.mean()) ** 2) / mlen) + 2 * 2
            beats += aic_const - aic_law > 2
            tr = n < 65536
            p2, _ = fit(n[tr], yc[tr])
            ext_law += abs(law(65536, *p2) - yc[~tr].mean())
            ext_carry += abs(yc[n == 16384].mean() - yc[~tr].mean())
            groups += 1
            scr = done & (c["model"] == m) & (c["finetune_size"] == s) & (c["pretrain_size"] == 0)
            d = []
            for k in np.unique(r):
                e_s = c["final_test_error"][scr & (c["repeat"] == k)].mean()
                e_p = y[r == k].mean()
                d.append(e_s - e_p)
            d = np.array(d)
            t = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
            pval = stats.ttest_1samp(d, 0).pvalue
            gains.append((m.decode(), lev, s, d.mean(), d.mean() - t, d.mean() + t, pval))
print(f"groups {groups}; law beats a constant by AIC > 2 in {beats}; back-test mean |error| law "
      f"{ext_law / groups:.4f} against carry-forward {ext_carry / groups:.4f}")
ps = np.array([g[-1] for g in gains])
order = np.argsort(ps)
holm = np.maximum.accumulate([(len(ps) - i) * ps[j] for i, j in enumerate(order)])
print("averaged gains passing Holm at 0.05:", int(np.sum(holm < 0.05)), "of", len(ps))
best = max(gains, key=lambda g: g[3])
print("largest averaged gain: %s level %d s=%d: %+.4f [%+.4f, %+.4f], p %.4f" % best)
