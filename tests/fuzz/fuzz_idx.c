/* libFuzzer target: the IDX reader (idx_load and idx_probe) on two temporary files. The first
 * two bytes give the length of the image file (big-endian, cut to what is there); the rest is
 * the label file. Either may be gzip-compressed or plain, as zlib reads both. */
#include "synlaw/idx.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz_tmp.h"

static char images[64], labels[64];

static int put(const char *path, const uint8_t *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    fwrite(data, 1, n, f);
    return fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    if (!images[0]) {
        snprintf(images, sizeof images, "%s/synlaw-fuzz-idx-%d-images", fuzz_tmpdir(), (int)getpid());
        snprintf(labels, sizeof labels, "%s/synlaw-fuzz-idx-%d-labels", fuzz_tmpdir(), (int)getpid());
        fuzz_tmp_register(images);
        fuzz_tmp_register(labels);
    }
    size_t ni = (size_t)data[0] << 8 | data[1];
    data += 2, size -= 2;
    if (ni > size)
        ni = size;
    if (put(images, data, ni) != 0 || put(labels, data + ni, size - ni) != 0)
        return 0;
    idx_set set;
    idx_info info;
    char err[1024];
    if (idx_load(&set, images, labels, (int)(size % 7), err, sizeof err) == 0) {
        unsigned sum = 0; /* touch what was loaded */
        for (size_t i = 0; i < (size_t)set.count * (size_t)set.rows * (size_t)set.cols; i++)
            sum += set.pixels[i];
        for (int i = 0; i < set.count; i++)
            sum += set.labels[i];
        (void)sum;
        idx_free(&set);
    }
    (void)idx_probe(&info, images, labels, err, sizeof err);
    return 0;
}
