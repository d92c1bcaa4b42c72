/* IDX reader: big-endian header (magic, dimension sizes), then unsigned bytes. */
#include "synlaw/idx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_MAX_COUNT 10000000u

static int read_exact(gzFile f, void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        unsigned chunk = n - done > (1u << 30) ? (1u << 30) : (unsigned)(n - done);
        int got = gzread(f, (char *)buf + done, chunk);
        if (got <= 0)
            return -1;
        done += (size_t)got;
    }
    return 0;
}

static int read_u32(gzFile f, uint32_t *out)
{
    unsigned char b[4];
    if (read_exact(f, b, 4) != 0)
        return -1;
    *out = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return 0;
}

static const char *gz_reason(gzFile f)
{
    int code;
    const char *msg = gzerror(f, &code);
    return code == Z_OK || code == Z_STREAM_END ? "unexpected end of file" : msg;
}

/* Read one IDX file with the given magic and rank; returns the payload (malloc'ed). */
static uint8_t *read_idx(const char *path, uint32_t magic, int ndim, uint32_t *dims, char *err,
                         size_t errlen)
{
    gzFile f = gzopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, errno ? strerror(errno) : "zlib error");
        return NULL;
    }
    uint8_t *data = NULL;
    uint32_t m;
    if (read_u32(f, &m) != 0) {
        snprintf(err, errlen, "%s: cannot read the IDX header: %s", path, gz_reason(f));
        goto fail;
    }
    if (m != magic) {
        snprintf(err, errlen, "%s: bad magic number 0x%08x (expected 0x%08x, an IDX %s file)", path,
                 m, magic, magic == IDX_MAGIC_IMAGES ? "image" : "label");
        goto fail;
    }
    size_t total = 1;
    for (int i = 0; i < ndim; i++) {
        if (read_u32(f, &dims[i]) != 0) {
            snprintf(err, errlen, "%s: truncated header: %s", path, gz_reason(f));
            goto fail;
        }
        if (dims[i] == 0 || dims[i] > IDX_MAX_COUNT) {
            snprintf(err, errlen, "%s: dimension %d is %u (expected 1..%u)", path, i, dims[i],
                     IDX_MAX_COUNT);
            goto fail;
        }
        total *= dims[i];
    }
    data = malloc(total);
    if (!data) {
        snprintf(err, errlen, "%s: out of memory for %zu bytes", path, total);
        goto fail;
    }
    if (read_exact(f, data, total) != 0) {
        snprintf(err, errlen, "%s: truncated: expected %zu data bytes: %s", path, total, gz_reason(f));
        goto fail;
    }
    char extra;
    if (gzread(f, &extra, 1) != 0) {
        snprintf(err, errlen, "%s: has data past the %zu bytes its header declares", path, total);
        goto fail;
    }
    gzclose(f);
    return data;
fail:
    free(data);
    gzclose(f);
    return NULL;
}

int idx_load(idx_set *set, const char *images_path, const char *labels_path, int max_count,
             char *err, size_t errlen)
{
    memset(set, 0, sizeof *set);
    uint32_t idims[3], ldims[1];
    uint8_t *pix = read_idx(images_path, IDX_MAGIC_IMAGES, 3, idims, err, errlen);
    if (!pix)
        return -1;
    uint8_t *lab = read_idx(labels_path, IDX_MAGIC_LABELS, 1, ldims, err, errlen);
    if (!lab) {
        free(pix);
        return -1;
    }
    if (idims[0] != ldims[0]) {
        snprintf(err, errlen, "%s has %u images but %s has %u labels", images_path, idims[0],
                 labels_path, ldims[0]);
        goto fail;
    }
    for (uint32_t i = 0; i < ldims[0]; i++)
        if (lab[i] > 9) {
            snprintf(err, errlen, "%s: label %u of item %u is out of range (expected 0..9)",
                     labels_path, lab[i], i);
            goto fail;
        }
    set->nclass = 0;
    for (uint32_t i = 0; i < ldims[0]; i++)
        if (lab[i] + 1 > set->nclass)
            set->nclass = lab[i] + 1;
    set->count = (int)idims[0];
    if (max_count > 0 && max_count < set->count)
        set->count = max_count;
    set->rows = (int)idims[1];
    set->cols = (int)idims[2];
    set->pixels = pix;
    set->labels = lab;
    return 0;
fail:
    free(pix);
    free(lab);
    return -1;
}

int idx_load_split(idx_set *set, const char *dir, const char *split, int max_count, char *err,
                   size_t errlen)
{
    char ip[4096], lp[4096];
    snprintf(ip, sizeof ip, "%s/%s-images-idx3-ubyte.gz", dir, split);
    snprintf(lp, sizeof lp, "%s/%s-labels-idx1-ubyte.gz", dir, split);
    return idx_load(set, ip, lp, max_count, err, errlen);
}

void idx_free(idx_set *set)
{
    if (!set)
        return;
    free(set->pixels);
    free(set->labels);
    memset(set, 0, sizeof *set);
}
