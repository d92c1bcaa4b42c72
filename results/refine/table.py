#!/usr/bin/python3
"""Before/after table of the refine example: run synlaw fit on each set of files (no file is
changed when several are joined; the single-file fit of coarse.h5 rewrites its /fits) and
print verdict, C and the 10x gain per group. usage: table.py SYNLAW"""
import csv
import subprocess
import sys
import tempfile

synlaw = sys.argv[1] if len(sys.argv) > 1 else "../../build/synlaw"
sets = [("coarse", ["coarse.h5"]), ("round 1", ["coarse.h5", "next.h5"]),
        ("round 2", ["coarse.h5", "next.h5", "next2.h5"]), ("uniform", ["coarse.h5", "uniform.h5"])]
rows = {}
for name, files in sets:
    with tempfile.NamedTemporaryFile(suffix=".csv") as t:
        subprocess.run([synlaw, "fit", *files, "-q", "-o", t.name], check=True)
        for r in csv.DictReader(open(t.name)):
            if r["law"] != "simple":
                continue
            key = (r["model"], r["cplx"])
            rows.setdefault(key, {})[name] = r
print("| group | " + " | ".join(n for n, _ in sets) + " |")
print("|---|" + "---|" * len(sets))
for key in sorted(rows, key=lambda k: (k[0][-1], k[1])):
    cells = []
    for name, _ in sets:
        r = rows[key][name]
        cells.append("%s; C [%.3f, %.3f]; 10x gain %.4f [%.4f, %.4f]" % (
            r["verdict"], float(r["ci_lo2"]), float(r["ci_hi2"]), float(r["gain_10x"]),
            float(r["gain_10x_lo"]), float(r["gain_10x_hi"])))
    print("| %s level %s | %s |" % (key[0], key[1], " | ".join(cells)))
for name, _ in sets:
    n = sum(rows[k][name]["verdict"] in ("more-data", "gap") for k in rows)
    print("%s: %d of %d groups settled" % (name, n, len(rows)))
