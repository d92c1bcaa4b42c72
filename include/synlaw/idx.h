/* IDX (MNIST-format) data sets, read gzip-compressed with zlib.
 *
 * Pixels stay uint8 (60,000 Fashion-MNIST images are 47 MB, not 188 MB as floats); the
 * training code converts a batch at a time. Magic numbers, dimensions, counts and the exact
 * file length are validated: a truncated, padded or mismatched file is an error naming it.
 * The payload must be exactly count x rows x cols bytes (the product checked for overflow,
 * at most 8 GiB); memory grows with the bytes the file really holds, not with what its
 * header claims. Errors name the file once ("PATH: corrupt gzip data: zlib's words",
 * "PATH: truncated: ..."). The geometry and the range of labels are the caller's rule
 * (data.h): idx_set and idx_info report them.
 *
 * idx_set is also the in-memory form of a split read from HDF5 (data.c): 8-bit pixels in
 * channel planes per image. */
#ifndef SYNLAW_IDX_H
#define SYNLAW_IDX_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int count;         /* images */
    int rows, cols;    /* 28 x 28 for Fashion-MNIST */
    int channels;      /* 1 (IDX), or 1 or 3 (HDF5) */
    uint8_t *pixels;   /* [count, channels, rows, cols], owned */
    uint8_t *labels;   /* [count], owned */
    int nclass;        /* largest label + 1 */
} idx_set;

/* What idx_probe learns without reading the pixels. */
typedef struct {
    int count;         /* images (= labels) */
    int rows, cols;    /* image geometry from the header */
    int nclass;        /* largest label + 1 */
    int freq[256];     /* images of each label */
    int first[256];    /* the first item of each label (-1: none) */
} idx_info;

/* Load an image file and its label file (both .gz or plain; zlib reads either). Reads at
 * most max_count images when max_count > 0 (the file is still validated in full).
 * Returns 0, or -1 with a message naming the file in err; on failure *set is empty. */
int idx_load(idx_set *set, const char *images_path, const char *labels_path, int max_count,
             char *err, size_t errlen);
/* The image file's header and the whole label file, not the pixels (fast: for validating a
 * data directory before any work starts): counts, geometry and label range, with the same
 * checks and messages as idx_load for what it reads. 0, or -1 with err naming the file. */
int idx_probe(idx_info *info, const char *images_path, const char *labels_path, char *err,
              size_t errlen);
/* DIR/SPLIT-images-idx3-ubyte.gz (labels 0) or DIR/SPLIT-labels-idx1-ubyte.gz (labels 1),
 * or the same without .gz when only that file exists; malloc'ed (NULL on out-of-memory): the
 * names of the files of MNIST, Fashion-MNIST, KMNIST and EMNIST (SPLIT a prefix such as
 * "train", "t10k" or "emnist-letters-train"). */
char *idx_split_path(const char *dir, const char *split, int labels);
/* Load Fashion-MNIST's train ("train") or test ("t10k") split from a directory. */
int idx_load_split(idx_set *set, const char *dir, const char *split, int max_count, char *err,
                   size_t errlen);
/* Free what idx_load allocated; accepts a zeroed set. */
void idx_free(idx_set *set);

#endif
