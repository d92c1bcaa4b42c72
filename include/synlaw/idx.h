/* IDX (MNIST-format) data sets, read gzip-compressed with zlib.
 *
 * Pixels stay uint8 (60,000 Fashion-MNIST images are 47 MB, not 188 MB as floats); the
 * training code converts a batch at a time. Magic numbers, dimensions, counts and the exact
 * file length are validated: a truncated, padded or mismatched file is an error naming it. */
#ifndef SYNLAW_IDX_H
#define SYNLAW_IDX_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int count;         /* images */
    int rows, cols;    /* 28 x 28 for Fashion-MNIST */
    uint8_t *pixels;   /* [count, rows*cols], owned */
    uint8_t *labels;   /* [count], owned, values < 10 */
    int nclass;        /* largest label + 1 */
} idx_set;

/* Load an image file and its label file (both .gz or plain; zlib reads either). Reads at
 * most max_count images when max_count > 0 (the file is still validated in full).
 * Returns 0, or -1 with a message naming the file in err; on failure *set is empty. */
int idx_load(idx_set *set, const char *images_path, const char *labels_path, int max_count,
             char *err, size_t errlen);
/* Load Fashion-MNIST's train ("train") or test ("t10k") split from a directory. */
int idx_load_split(idx_set *set, const char *dir, const char *split, int max_count, char *err,
                   size_t errlen);
/* Free what idx_load allocated; accepts a zeroed set. */
void idx_free(idx_set *set);

#endif
