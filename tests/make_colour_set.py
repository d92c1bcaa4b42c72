#!/usr/bin/env python3
"""Write a small three-channel image set with five classes, for the end-to-end test of other
data (tests/test_colour.sh): 16 x 16 x 3 uint8 images stored N x H x W x C, in groups train
and test of one HDF5 file, with class names on the labels.

Class k is a square of colour k (red, green, blue, yellow, magenta) at a random place on a
noisy dark background, so a small network learns it in a few hundred steps.
usage: make_colour_set.py OUT.h5 [TRAIN TEST]"""
import sys

import h5py
import numpy as np

COLOURS = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1]], dtype=float)
NAMES = ["red", "green", "blue", "yellow", "magenta"]


def split(rng, n):
    labels = rng.integers(0, 5, n)
    img = rng.normal(0.15, 0.08, (n, 16, 16, 3))
    for i, k in enumerate(labels):
        y, x = rng.integers(0, 10, 2)
        side = rng.integers(4, 7)
        img[i, y:y + side, x:x + side, :] = 0.3 + 0.6 * COLOURS[k] + rng.normal(0, 0.05, 3)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8), labels.astype(np.int64)


def main():
    out = sys.argv[1]
    ntrain, ntest = (int(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) > 3 else (900, 300)
    rng = np.random.default_rng(2026)
    with h5py.File(out, "w") as f:
        for name, n in (("train", ntrain), ("test", ntest)):
            images, labels = split(rng, n)
            g = f.create_group(name)
            g.create_dataset("images", data=images)
            d = g.create_dataset("labels", data=labels)
            d.attrs["class_names"] = NAMES


if __name__ == "__main__":
    main()
