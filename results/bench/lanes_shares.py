#!/usr/bin/python3
"""The render shares of a run of results/bench/lanes.yaml (six level-4 mlp-s multilabel stages
in one process): time_generate / wall_time of each backbone (rendering and staging), the first
stage apart from the other five. Used by lanes.sh and stage_ab.sh.
usage: lanes_shares.py RESULTS.h5"""
import sys

import h5py

b = h5py.File(sys.argv[1])["backbones"][:]
g = b["time_generate"] / b["wall_time"]
print("first %.1f%%, the other five %.1f-%.1f%% (mean %.1f%%), stages %.2f s" %
      (100 * g[0], 100 * g[1:].min(), 100 * g[1:].max(), 100 * g[1:].mean(), b["wall_time"].sum()))
