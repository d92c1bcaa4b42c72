"""Q6: consistency checks of synlaw's report and of the recipe choice.
(a) /fits scratch_error, best_error against the cells; identified groups with C on its bound;
gap verdicts; (b) tuning file, validation only: scratch / pre-trained learning rate by model;
(c) validation vs test gains; (d) budget cap and the 10x-n extrapolation.
usage: /usr/bin/python3 results/reanalysis/q6_checks.py"""
import os
import h5py
import numpy as np
from common import *

c, b, fits, gains = load()
E, S = cube(c)
simple = [r for r in fits if r["law"] == b"simple"]
bad = 0
for r in fits:
    m = MODELS.index(r["model"].decode())
    if r["law"] == b"simple":
        si = SIZES.index(int(r["finetune_size"]))
        scr = S[m, si].mean()
        li = LEVELS.index(int(r["complexity"]))
        means = E[m, li, si].mean(1)
        be, bn = means.min(), NS[int(np.argmin(means))]
        if abs(scr - r["scratch_error"]) > 1e-6 or abs(be - r["best_error"]) > 1e-6 or bn != r["best_size"]:
            bad += 1
            print("mismatch", r["group"], scr, r["scratch_error"], be, r["best_error"], bn, r["best_size"])
    else:
        scr = S[m].mean()
        if abs(scr - r["scratch_error"]) > 1e-6:
            print("full-law scratch", r["group"], "file", r["scratch_error"], "mean over all s", scr)
print("simple-law rows with scratch/best mismatching the cells:", bad)
ident = [r for r in simple if r["identified"]]
print("identified:", len(ident), "of which C at its lower bound:", sum(bool(r["at_bound"] & 4) for r in ident),
      "; alpha < 0.05:", sum(r["p"][1] < 0.05 for r in ident))
print("groups where pre-training never beats scratch (best pre-trained mean >= scratch):",
      [(r["model"].decode(), int(r["complexity"]), int(r["finetune_size"])) for r in simple if r["best_error"] >= r["scratch_error"]])
for r in simple:
    if r["verdict"] in (b"gap", b"more-data"):
        print("verdict", r["verdict"].decode(), r["group"].decode().replace("\t", " "), "alpha %.4g C %.4g at_bound %d gain_10x %.4f [%.4f, %.4f] n_within_eps %.3g"
              % (r["p"][1], r["p"][2], r["at_bound"], r["gain_10x"], r["gain_10x_lo"], r["gain_10x_hi"], r["n_within_eps"]))
print("n_within_eps values > 1e12:", sum(r["n_within_eps"] > 1e12 for r in simple), "max %.3g" % max(r["n_within_eps"] for r in simple))

# (b) tuning (validation only)
t = h5py.File(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tuning", "finetune.h5"), "r")["cells"][:]
print("\n## tuning file: mean validation error by arm, model, lr, freeze (cells)")
for arm, sel in (("scratch", t["pretrain_size"] == 0), ("pre-trained", t["pretrain_size"] > 0)):
    for m in ("cnn-s", "cnn-m"):
        row = []
        for lr in (0.001, 0.003, 0.01):
            for fr in (0, 1):
                k = sel & (t["model"] == m.encode()) & np.isclose(t["finetune_lr"], lr) & (t["finetune_freeze"] == fr)
                row.append(f"lr {lr} {'conv' if fr else 'none'}: {t['final_val_error'][k].mean():.4f} ({k.sum()})")
        print(f"  {arm} {m}: " + "; ".join(row))
print("  freeze codes present:", np.unique(t["finetune_freeze"]))
# paired (same model, s, repeat) difference scratch lr 0.003 - 0.001 on validation
for m in ("cnn-s", "cnn-m"):
    d = []
    for s in (100, 1600):
        for r in range(2):
            k = (t["pretrain_size"] == 0) & (t["model"] == m.encode()) & (t["finetune_size"] == s) & (t["repeat"] == r) & (t["finetune_freeze"] == 0)
            v = {round(float(x["finetune_lr"]), 4): x["final_val_error"] for x in t[k]}
            d.append(v[0.003] - v[0.001])
    print(f"  scratch {m}: val(lr 0.003) - val(lr 0.001), per (s, repeat):", np.round(d, 4))

# (c) validation vs test: mean gain by arm
Ev, Sv = cube(c, "final_val_error")
print("\n## scratch and pre-trained error: validation - test (mean over all cells)")
print("  scratch: %+.4f; pre-trained: %+.4f" % ((Sv - S).mean(), (Ev - E).mean()))
d = ((Sv[:, None, :, None, :] - Ev) - (S[:, None, :, None, :] - E)).mean((0, 1, 2, 3))
print("  gain(val) - gain(test), per repeat over everything: %+.4f [%+.4f, %+.4f] p %.3g" % tci(d))
for mi, m in enumerate(MODELS):
    print(f"   {m}: scratch val-test %+.4f, pre-trained val-test %+.4f" % ((Sv[mi] - S[mi]).mean(), (Ev[mi] - E[mi]).mean()))

# (d) budget
print("\n## budget: steps = clamp(4 n / 64, 200, 4096):", {n: int(np.clip(4 * n / 64, 200, 4096)) for n in NS + [655360]})
print("  at 10 x 65,536 the cap would give 4,096 steps = 0.4 epochs; L(10n) assumes the trend (with budget growing) continues")
