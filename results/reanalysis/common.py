"""Shared loading and fitting helpers for the independent re-analysis of reference.h5.
Read-only: opens results/reference.h5 with h5py in 'r' mode, never writes there."""
import os
import warnings
import h5py
import numpy as np
from scipy import optimize, stats

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference.h5")
MODELS = ["cnn-s", "cnn-m", "cnn-l"]
LEVELS = [2, 3, 4]
SIZES = [100, 400, 1600, 6400]
NS = [256, 1024, 4096, 16384, 65536]
R = 5
A_LO, A_HI, C_LO, C_HI = 0.01, 3.0, 0.0, 0.9


def load():
    f = h5py.File(PATH, "r")
    c = f["cells"][:]
    b = f["backbones"][:]
    fits = f["fits"][:]
    gains = f["gains"][:]
    f.close()
    assert np.all(c["status"] == 1)
    return c, b, fits, gains


def cube(c, field="final_test_error"):
    """E[model, level, s, n, repeat] for pre-trained cells; S[model, s, repeat] for scratch."""
    E = np.full((3, 3, 4, 5, R), np.nan)
    S = np.full((3, 4, R), np.nan)
    for row in c:
        m = MODELS.index(row["model"].decode())
        si = SIZES.index(int(row["finetune_size"]))
        r = int(row["repeat"])
        if row["pretrain_size"] == 0:
            assert np.isnan(S[m, si, r])
            S[m, si, r] = row[field]
        else:
            li = LEVELS.index(int(row["complexity"]))
            ni = NS.index(int(row["pretrain_size"]))
            assert np.isnan(E[m, li, si, ni, r])
            E[m, li, si, ni, r] = row[field]
    assert not np.isnan(E).any() and not np.isnan(S).any()
    return E, S


def law(n, D, a, C):
    return D * n ** (-a) + C


def fit_law(n, y, agrid=np.geomspace(A_LO, A_HI, 200)):
    """Global least-squares fit of D n^-a + C, D >= 0, a in [0.01, 3], C in [0, 0.9]:
    profile over a (bounded linear LS for D, C at each a), then polish with curve_fit."""
    best = None
    for a in agrid:
        X = np.column_stack([n ** (-a), np.ones_like(n)])
        r = optimize.lsq_linear(X, y, bounds=([0, C_LO], [np.inf, C_HI]))
        rss = np.sum((X @ r.x - y) ** 2)
        if best is None or rss < best[1]:
            best = (np.array([r.x[0], a, r.x[1]]), rss)
    p0 = best[0].copy()
    p0[1] = np.clip(p0[1], A_LO * 1.0001, A_HI * 0.9999)
    p0[2] = np.clip(p0[2], 1e-9, C_HI - 1e-9)
    p0[0] = max(p0[0], 1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            p, _ = optimize.curve_fit(law, n, y, p0=p0, bounds=([0, A_LO, C_LO], [np.inf, A_HI, C_HI]),
                                      method="trf", maxfev=20000, xtol=1e-14, ftol=1e-14)
            rss = np.sum((law(n, *p) - y) ** 2)
            if rss < best[1]:
                best = (p, rss)
        except (RuntimeError, ValueError):
            pass
    return best


def on_bound(p, tol=1e-3):
    a_b = p[1] <= A_LO * (1 + tol) or p[1] >= A_HI * (1 - tol)
    c_b = p[2] <= 1e-6 or p[2] >= C_HI - 1e-6
    return a_b, c_b


def aic(rss, m, k):
    """Gaussian AIC m log(RSS/m) + 2k, k = free parameters + 1 (variance), as synlaw."""
    return m * np.log(rss / m) + 2 * k


def tci(d, level=0.95):
    """mean, lo, hi, p (two-sided one-sample t) of a 1-d array."""
    d = np.asarray(d, float)
    k = len(d)
    mu = d.mean()
    se = d.std(ddof=1) / np.sqrt(k)
    h = stats.t.ppf(0.5 + level / 2, k - 1) * se
    p = stats.ttest_1samp(d, 0).pvalue if se > 0 else (0.0 if mu != 0 else 1.0)
    return mu, mu - h, mu + h, p


def holm(p):
    p = np.asarray(p, float)
    o = np.argsort(p)
    k = len(p)
    adj = np.empty(k)
    adj[o] = np.minimum(1, np.maximum.accumulate((k - np.arange(k)) * p[o]))
    return adj


def bh(p):
    p = np.asarray(p, float)
    o = np.argsort(p)
    k = len(p)
    q = p[o] * k / np.arange(1, k + 1)
    q = np.minimum.accumulate(q[::-1])[::-1]
    adj = np.empty(k)
    adj[o] = np.minimum(1, q)
    return adj
