"""Q4: effects of complexity level and model size, test error, paired by repeat (5 repeats,
t intervals df 4). Level contrasts: pre-trained error difference (level j - level i) averaged
over n and s (scratch is shared across levels, so the gain difference is exactly minus this).
Model contrasts: pre-trained error, scratch error and gain differences, averaged over level,
n and s (and per s). usage: /usr/bin/python3 results/reanalysis/q4_effects.py"""
import numpy as np
from common import *

c, b, fits, gains = load()
E, S = cube(c)
G = S[:, None, :, None, :] - E                      # gain [m, l, s, n, r]


def fmt(t, k=100):
    return f"{k * t[0]:+.2f} [{k * t[1]:+.2f}, {k * t[2]:+.2f}] p={t[3]:.2g}"


print("## level contrasts on pre-trained test error (points of error; negative = later level better); gain difference = minus this")
print("| model | 3 - 2 | 4 - 2 | 4 - 3 |")
print("|---|---|---|---|")
allp = []
for mi, m in enumerate(list(MODELS) + ["all"]):
    X = E.mean(0) if m == "all" else E[mi]          # [l, s, n, r]
    row = []
    for a, bb in ((1, 0), (2, 0), (2, 1)):
        t = tci((X[a] - X[bb]).mean((0, 1)))
        row.append(fmt(t))
        if m != "all":
            allp.append(t[3])
    print(f"| {m} | " + " | ".join(row) + " |")
print(f"  9 per-model level contrasts: p<0.05 {np.sum(np.array(allp) < .05)}, Holm {np.sum(holm(allp) < .05)}, BH {np.sum(bh(allp) < .05)}")
print("  level means of pre-trained error (all models, s, n):", np.round(E.mean((0, 2, 3, 4)), 4))
# level contrast at the largest n only
for a, bb in ((1, 0), (2, 0), (2, 1)):
    print(f"  at n=65536, all models/s, level {LEVELS[a]} - {LEVELS[bb]}:", fmt(tci((E[:, a, :, 4] - E[:, bb, :, 4]).mean((0, 1)))))
# does the level effect depend on n? (level 4 - 2) per n
print("  level 4 - 2 per n (all models, s):", [fmt(tci((E[:, 2, :, ni] - E[:, 0, :, ni]).mean((0, 1)))) for ni in range(5)])

print("\n## model contrasts (points of error; averaged over levels, s and n; 5 repeats)")
print("| contrast | pre-trained error | scratch error | gain |")
print("|---|---|---|---|")
for a, bb in ((1, 0), (2, 0), (2, 1)):
    tp = tci((E[a] - E[bb]).mean((0, 1, 2)))
    ts = tci((S[a] - S[bb]).mean(0))
    tg = tci((G[a] - G[bb]).mean((0, 1, 2)))
    print(f"| {MODELS[a]} - {MODELS[bb]} | {fmt(tp)} | {fmt(ts)} | {fmt(tg)} |")
print("\n  gain difference by s (levels, n averaged):")
print("| contrast | s=100 | s=400 | s=1600 | s=6400 |")
print("|---|---|---|---|---|")
pp = []
for a, bb in ((1, 0), (2, 0), (2, 1)):
    row = []
    for si in range(4):
        t = tci((G[a, :, si] - G[bb, :, si]).mean((0, 1)))
        pp.append(t[3])
        row.append(fmt(t))
    print(f"| gain {MODELS[a]} - {MODELS[bb]} | " + " | ".join(row) + " |")
print(f"  12 gain-by-s model contrasts: p<0.05 {np.sum(np.array(pp) < .05)}, Holm {np.sum(holm(pp) < .05)}, BH {np.sum(bh(pp) < .05)}")
print("\n  scratch error by model and s (mean of 5):")
for mi, m in enumerate(MODELS):
    print("   ", m, np.round(S[mi].mean(1), 4))
print("  pre-trained error at n=65536 by model and s (mean over levels, repeats):")
for mi, m in enumerate(MODELS):
    print("   ", m, np.round(E[mi, :, :, 4].mean((0, 2)), 4))
print("  pre-trained error at n=65536, model contrasts (levels, s averaged):")
for a, bb in ((1, 0), (2, 0), (2, 1)):
    print(f"    {MODELS[a]} - {MODELS[bb]}:", fmt(tci((E[a, :, :, 4] - E[bb, :, :, 4]).mean((0, 1)))))
