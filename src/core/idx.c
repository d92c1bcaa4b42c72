/* IDX reader: big-endian header (magic, dimension sizes), then unsigned bytes.
 *
 * Nothing in a header is trusted: the dimensions are multiplied with overflow checks and a
 * cap (IDX_MAX_BYTES), and the payload is read in chunks into a buffer that grows with what
 * the file really holds, so a header that lies costs no more memory than the data behind
 * it. The payload must be exactly what the header declares. */
#include "synlaw/idx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_MAX_COUNT 10000000u
/* Largest payload accepted (8 GiB; Fashion-MNIST's training images are 47 MB). */
#define IDX_MAX_BYTES ((size_t)1 << 33)
/* Bytes read per gzread call, and the first size of the payload buffer (which doubles as
 * the data arrives). */
#define IDX_CHUNK ((size_t)1 << 24)
#define IDX_FIRST ((size_t)1 << 16)

/* zlib's message for the last failure on f without the "path: " that gzerror puts in front
 * of it (the caller names the file itself); NULL when f only reached its end. */
static const char *gz_problem(gzFile f, const char *path)
{
    int code = Z_OK;
    const char *msg = gzerror(f, &code);
    if (code == Z_OK || code == Z_STREAM_END)
        return NULL;
    size_t n = strlen(path);
    if (msg && strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
        msg += n + 2;
    return msg && *msg ? msg : "unknown zlib error";
}

/* Read up to n bytes; returns the count read (less than n at the end of the data), or -1 on
 * a zlib or I/O error. */
static long long read_some(gzFile f, void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        unsigned chunk = n - done > IDX_CHUNK ? (unsigned)IDX_CHUNK : (unsigned)(n - done);
        int got = gzread(f, (char *)buf + done, chunk);
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        done += (size_t)got;
    }
    return (long long)done;
}

/* A short read of `what`: corrupt data (zlib's words) or the end of the file. */
static void short_read(gzFile f, const char *path, const char *what, char *err, size_t errlen)
{
    const char *why = gz_problem(f, path);
    if (why)
        snprintf(err, errlen, "%s: corrupt gzip data: %s", path, why);
    else
        snprintf(err, errlen, "%s: %s", path, what);
}

static int read_u32(gzFile f, uint32_t *out)
{
    unsigned char b[4];
    if (read_some(f, b, 4) != 4)
        return -1;
    *out = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return 0;
}

/* Open path and read its header: the magic and ndim dimension sizes into dims, and in
 * *total their product (checked for overflow against IDX_MAX_BYTES). NULL with err set. */
static gzFile open_idx(const char *path, uint32_t magic, int ndim, uint32_t *dims, size_t *total,
                       char *err, size_t errlen)
{
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, errno ? strerror(errno) : "zlib error");
        return NULL;
    }
    uint32_t m;
    if (read_u32(f, &m) != 0) {
        short_read(f, path, "cannot read the IDX header: unexpected end of file", err, errlen);
        goto fail;
    }
    if (m != magic) {
        snprintf(err, errlen, "%s: bad magic number 0x%08x (expected 0x%08x, an IDX %s file)", path,
                 m, magic, magic == IDX_MAGIC_IMAGES ? "image" : "label");
        goto fail;
    }
    *total = 1;
    for (int i = 0; i < ndim; i++) {
        if (read_u32(f, &dims[i]) != 0) {
            short_read(f, path, "truncated header: unexpected end of file", err, errlen);
            goto fail;
        }
        if (dims[i] == 0 || dims[i] > IDX_MAX_COUNT) {
            snprintf(err, errlen, "%s: dimension %d is %u (expected 1..%u)", path, i, dims[i],
                     IDX_MAX_COUNT);
            goto fail;
        }
        if (dims[i] > IDX_MAX_BYTES / *total) {
            snprintf(err, errlen, "%s: the header declares more than %zu bytes of data (dimensions "
                     "up to %d multiply to too much)", path, IDX_MAX_BYTES, i);
            goto fail;
        }
        *total *= dims[i];
    }
    return f;
fail:
    gzclose(f);
    return NULL;
}

/* Read exactly `total` payload bytes and check that nothing follows. Returns the payload
 * (malloc'ed), or NULL with err set. */
static uint8_t *read_payload(gzFile f, const char *path, size_t total, char *err, size_t errlen)
{
    size_t cap = total < IDX_FIRST ? total : IDX_FIRST, have = 0;
    uint8_t *data = malloc(cap);
    if (!data) {
        snprintf(err, errlen, "%s: out of memory for %zu bytes", path, cap);
        return NULL;
    }
    while (have < total) {
        if (have == cap) { /* grow with the data the file really holds */
            size_t ncap = cap > total / 2 ? total : 2 * cap;
            uint8_t *nd = realloc(data, ncap);
            if (!nd) {
                snprintf(err, errlen, "%s: out of memory for %zu bytes", path, ncap);
                goto fail;
            }
            data = nd;
            cap = ncap;
        }
        long long got = read_some(f, data + have, cap - have);
        if (got < 0) {
            short_read(f, path, "read error", err, errlen);
            goto fail;
        }
        have += (size_t)got;
        if (have < cap) {
            char what[128];
            snprintf(what, sizeof what, "truncated: expected %zu data bytes, found %zu", total, have);
            short_read(f, path, what, err, errlen);
            goto fail;
        }
    }
    char extra;
    int got = gzread(f, &extra, 1);
    if (got != 0) {
        if (got < 0)
            short_read(f, path, "read error", err, errlen);
        else
            snprintf(err, errlen, "%s: has data past the %zu bytes its header declares", path, total);
        goto fail;
    }
    return data;
fail:
    free(data);
    return NULL;
}

/* Read a label file whole: its count in *count, the labels (malloc'ed; any byte is a label:
 * the range of classes is the data layer's rule). */
static uint8_t *read_labels(const char *path, uint32_t *count, char *err, size_t errlen)
{
    size_t total;
    gzFile f = open_idx(path, IDX_MAGIC_LABELS, 1, count, &total, err, errlen);
    if (!f)
        return NULL;
    uint8_t *lab = read_payload(f, path, total, err, errlen);
    gzclose(f);
    return lab;
}

static int largest_label(const uint8_t *lab, uint32_t n)
{
    int top = -1;
    for (uint32_t i = 0; i < n; i++)
        top = lab[i] > top ? lab[i] : top;
    return top;
}

int idx_load(idx_set *set, const char *images_path, const char *labels_path, int max_count,
             char *err, size_t errlen)
{
    memset(set, 0, sizeof *set);
    uint32_t idims[3], nlab = 0;
    size_t total;
    gzFile f = open_idx(images_path, IDX_MAGIC_IMAGES, 3, idims, &total, err, errlen);
    if (!f)
        return -1;
    uint8_t *pix = read_payload(f, images_path, total, err, errlen);
    gzclose(f);
    if (!pix)
        return -1;
    uint8_t *lab = read_labels(labels_path, &nlab, err, errlen);
    if (!lab) {
        free(pix);
        return -1;
    }
    if (idims[0] != nlab) {
        snprintf(err, errlen, "%s has %u images but %s has %u labels", images_path, idims[0],
                 labels_path, nlab);
        free(pix);
        free(lab);
        return -1;
    }
    set->nclass = largest_label(lab, nlab) + 1;
    set->count = (int)idims[0];
    if (max_count > 0 && max_count < set->count)
        set->count = max_count;
    set->rows = (int)idims[1];
    set->cols = (int)idims[2];
    set->channels = 1;
    set->pixels = pix;
    set->labels = lab;
    return 0;
}

int idx_probe(idx_info *info, const char *images_path, const char *labels_path, char *err,
              size_t errlen)
{
    memset(info, 0, sizeof *info);
    uint32_t idims[3], nlab = 0;
    size_t total;
    gzFile f = open_idx(images_path, IDX_MAGIC_IMAGES, 3, idims, &total, err, errlen);
    if (!f)
        return -1;
    gzclose(f);
    uint8_t *lab = read_labels(labels_path, &nlab, err, errlen);
    if (!lab)
        return -1;
    int rc = 0;
    if (idims[0] != nlab) {
        snprintf(err, errlen, "%s has %u images but %s has %u labels", images_path, idims[0],
                 labels_path, nlab);
        rc = -1;
    } else {
        *info = (idx_info){.count = (int)idims[0], .rows = (int)idims[1], .cols = (int)idims[2],
                           .nclass = largest_label(lab, nlab) + 1};
        for (int l = 0; l < 256; l++)
            info->first[l] = -1;
        for (uint32_t i = 0; i < nlab; i++) {
            if (!info->freq[lab[i]]++)
                info->first[lab[i]] = (int)i;
        }
    }
    free(lab);
    return rc;
}

char *idx_split_path(const char *dir, const char *split, int labels)
{
    const char *kind = labels ? "labels-idx1" : "images-idx3";
    size_t n = strlen(dir) + strlen(split) + strlen(kind) + 16;
    char *p = malloc(n);
    if (!p)
        return NULL;
    snprintf(p, n, "%s/%s-%s-ubyte.gz", dir, split, kind);
    struct stat sb;
    if (stat(p, &sb) != 0) { /* the uncompressed file when only it exists */
        p[strlen(p) - 3] = '\0';
        if (stat(p, &sb) != 0)
            strcat(p, ".gz");
    }
    return p;
}

int idx_load_split(idx_set *set, const char *dir, const char *split, int max_count, char *err,
                   size_t errlen)
{
    char *ip = idx_split_path(dir, split, 0), *lp = idx_split_path(dir, split, 1);
    int rc = -1;
    if (ip && lp)
        rc = idx_load(set, ip, lp, max_count, err, errlen);
    else {
        memset(set, 0, sizeof *set);
        snprintf(err, errlen, "%s: out of memory", dir);
    }
    free(ip), free(lp);
    return rc;
}

void idx_free(idx_set *set)
{
    if (!set)
        return;
    free(set->pixels);
    free(set->labels);
    memset(set, 0, sizeof *set);
}
