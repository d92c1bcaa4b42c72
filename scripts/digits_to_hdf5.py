#!/usr/bin/env python3
"""Convert the 1,797 8x8 handwritten digits that Debian ships with python3-sklearn
(sklearn/datasets/data/digits.csv.gz: 64 pixel counts 0..16 and the digit per line) into an
HDF5 file synlaw reads with `data: {format: hdf5, file: ...}`:

  /train/images  N x 8 x 8 uint8 (count * 255 / 16, rounded)   /train/labels  N int64
  /test/images, /test/labels                                    the same, for the test split

The split is stratified and seeded: a quarter of each digit's images (rounded) go to the
test split, so it is the same file on every machine. The labels carry `classes` (10) and
`class_names` ("0".."9"). Only numpy and h5py are used (not scikit-learn itself).
usage: digits_to_hdf5.py OUT.h5 [DIGITS.csv.gz]"""
import gzip
import sys

import h5py
import numpy as np

DEFAULT = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    out, src = sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else DEFAULT
    try:
        with gzip.open(src, "rt") as f:
            data = np.loadtxt(f, delimiter=",", dtype=np.int64)
    except OSError as e:
        sys.exit(f"{src}: {e} (install python3-sklearn: apt-get install python3-sklearn)")
    if data.ndim != 2 or data.shape[1] != 65 or data[:, :64].min() < 0 or data[:, :64].max() > 16:
        sys.exit(f"{src}: expected lines of 64 pixel counts 0..16 and a label, found shape {data.shape}")
    images = np.rint(data[:, :64].reshape(-1, 8, 8) * 255 / 16).astype(np.uint8)
    labels = data[:, 64]
    rng = np.random.default_rng(1797)
    test = np.zeros(len(labels), bool)
    for k in range(10):
        idx = np.flatnonzero(labels == k)
        test[rng.choice(idx, int(round(len(idx) / 4)), replace=False)] = True
    with h5py.File(out, "w") as f:
        f.attrs["source"] = "scikit-learn digits.csv.gz (UCI optical recognition of handwritten digits, test part)"
        for name, mask in (("train", ~test), ("test", test)):
            # a seeded shuffle within each split, so that the last images (validation) mix digits
            order = rng.permutation(np.flatnonzero(mask))
            g = f.create_group(name)
            g.create_dataset("images", data=images[order])
            lab = g.create_dataset("labels", data=labels[order])
            lab.attrs["classes"] = 10
            lab.attrs["class_names"] = [str(k) for k in range(10)]
    print(f"{out}: {int((~test).sum())} training and {int(test.sum())} test images, 8x8, 10 classes")


if __name__ == "__main__":
    main()
