/* libFuzzer target: the results-file reader (store_read with the curves) on a temporary file,
 * seeded with small valid results files of formats 1 and 2.
 *
 * Inputs are whole HDF5 files, but mutations keep the container valid: HDF5 1.10.8 itself has
 * memory errors on damaged object headers (a use-after-free in H5O__attr_open_by_name was
 * found within 300 runs of byte-level mutation; see hdf5-crashes/README), which synlaw cannot
 * fix, and which would drown everything else. So the custom mutator below changes what a file
 * says, not how HDF5 finds it: the bytes of every dataset's contiguous raw data (the /cells
 * and /backbones rows: statuses, indices, fixed strings without their NUL, coordinates; the
 * curves; the weights), and through the HDF5 API the attributes store_read relies on
 * (format, format_version, job_text, job_hash, shard_index, shard_count) and the presence of
 * datasets. HDF5 is not instrumented: AddressSanitizer watches synlaw's use of what it
 * returns. */
#include "synlaw/store.h"

#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_tmp.h"

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

static char path[64], mpath[64];

static void paths(void)
{
    if (!path[0]) {
        snprintf(path, sizeof path, "%s/synlaw-fuzz-store-%d.h5", fuzz_tmpdir(), (int)getpid());
        snprintf(mpath, sizeof mpath, "%s/synlaw-fuzz-store-%d-m.h5", fuzz_tmpdir(), (int)getpid());
        fuzz_tmp_register(path);
        fuzz_tmp_register(mpath);
    }
}

static int put(const char *p, const uint8_t *data, size_t n)
{
    FILE *f = fopen(p, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

/* Read p back into data (at most max bytes): its size, or 0. */
static size_t get(const char *p, uint8_t *data, size_t max)
{
    FILE *f = fopen(p, "rb");
    if (!f)
        return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    size_t got = n > 0 && (size_t)n <= max ? fread(data, 1, (size_t)n, f) : 0;
    fclose(f);
    return got == (size_t)n ? got : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    paths();
    if (put(path, data, size) != 0)
        return 0;
    store_results r;
    char err[1024];
    if (store_read(&r, path, 1, err, sizeof err) == 0) {
        double sum = 0; /* touch what was read */
        for (int i = 0; i < r.ncell; i++)
            sum += r.rows[i].final_error + (double)strlen(r.rows[i].model) + (double)strlen(r.rows[i].reason);
        for (int i = 0; i < r.nbackbone; i++)
            sum += r.bb[i].final_error + (double)strlen(r.bb[i].pretrain_task);
        for (size_t i = 0; i < (size_t)r.ncell * (size_t)r.n_ft; i++)
            sum += r.ft_val[i] + r.ft_test[i];
        for (size_t i = 0; i < (size_t)r.nbackbone * (size_t)r.n_pre; i++)
            sum += r.pre_loss[i] + r.pre_error[i];
        (void)sum;
        store_results_free(&r);
    }
    return 0;
}

/* ---- the mutator ---- */

typedef struct {
    haddr_t off;
    hsize_t len;
} region;

enum { MAX_REGIONS = 64 };

static uint64_t rnd(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

static void add_region(hid_t ds, region *r, int *n)
{
    haddr_t off = H5Dget_offset(ds);
    hsize_t len = H5Dget_storage_size(ds);
    if (off != HADDR_UNDEF && len > 0 && *n < MAX_REGIONS)
        r[(*n)++] = (region){off, len};
}

static herr_t add_weights(hid_t g, const char *name, const H5L_info_t *info, void *user)
{
    (void)info;
    region **rr = user;
    hid_t ds = H5Dopen2(g, name, H5P_DEFAULT);
    if (ds >= 0) {
        add_region(ds, rr[0], (int *)rr[1]);
        H5Dclose(ds);
    }
    return 0;
}

/* The raw-data regions of the datasets of a results file at p. */
static int regions_of(const char *p, region *r)
{
    static const char *const names[] = {"cells", "backbones", "cell", "backbone", "curves/finetune_step",
        "curves/finetune_val_error", "curves/finetune_test_error", "curves/finetune_error",
        "curves/pretrain_step", "curves/pretrain_loss", "curves/pretrain_error", "fits", "gains"};
    int n = 0;
    hid_t f = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return 0;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (H5Lexists(f, names[i], H5P_DEFAULT) > 0) {
            hid_t ds = H5Dopen2(f, names[i], H5P_DEFAULT);
            if (ds >= 0) {
                add_region(ds, r, &n);
                H5Dclose(ds);
            }
        }
    if (H5Lexists(f, "weights", H5P_DEFAULT) > 0) {
        hid_t g = H5Gopen2(f, "weights", H5P_DEFAULT);
        void *user[2] = {r, &n};
        if (g >= 0) {
            H5Literate(g, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, add_weights, user);
            H5Gclose(g);
        }
    }
    H5Fclose(f);
    return n;
}

static void set_attr_str(hid_t f, const char *name, const char *value)
{
    if (H5Aexists(f, name) > 0)
        H5Adelete(f, name);
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
    H5Tset_size(t, strlen(value) + 1);
    hid_t a = H5Acreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) {
        H5Awrite(a, t, value);
        H5Aclose(a);
    }
    H5Sclose(sp), H5Tclose(t);
}

static void set_attr_int(hid_t f, const char *name, long long v)
{
    if (H5Aexists(f, name) > 0)
        H5Adelete(f, name);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, H5T_NATIVE_LLONG, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) {
        H5Awrite(a, H5T_NATIVE_LLONG, &v);
        H5Aclose(a);
    }
    H5Sclose(sp);
}

/* Read a string attribute into buf (len bytes): 0, or -1. */
static int get_attr_str(hid_t f, const char *name, char *buf, size_t len)
{
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    hid_t ft = H5Aget_type(a), mt = H5Tcopy(H5T_C_S1);
    size_t n = H5Tget_size(ft);
    int rc = -1;
    char *tmp = n < len ? calloc(1, n + 1) : NULL;
    if (tmp && H5Tget_class(ft) == H5T_STRING && H5Tset_size(mt, n + 1) >= 0 && H5Aread(a, mt, tmp) >= 0) {
        memcpy(buf, tmp, n + 1);
        rc = 0;
    }
    free(tmp);
    H5Tclose(mt), H5Tclose(ft), H5Aclose(a);
    return rc;
}

/* Change an attribute or drop a dataset through the HDF5 API (the container stays valid). */
static size_t mutate_api(uint8_t *data, size_t size, size_t max, uint64_t *s)
{
    if (put(mpath, data, size) != 0)
        return 0;
    hid_t f = H5Fopen(mpath, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0)
        return 0;
    static const char *const drop[] = {"backbones", "curves/finetune_val_error", "curves/pretrain_loss",
                                       "cell", "curves"};
    switch (rnd(s) % 8) {
    case 0: set_attr_int(f, "format_version", (long long)(rnd(s) % 4) - (rnd(s) % 2 ? 0 : 1000)); break;
    case 1: set_attr_int(f, "shard_index", (long long)(rnd(s) % 5) - 1); break;
    case 2: set_attr_int(f, "shard_count", (long long)(rnd(s) % 5) - 1); break;
    case 3: set_attr_str(f, "format", rnd(s) % 2 ? "synlaw-results" : "synlaw-fits"); break;
    case 4: set_attr_str(f, "job_hash", rnd(s) % 2 ? "" : "0123456789abcdef0123456789"); break;
    case 5: {
        if (H5Lexists(f, drop[rnd(s) % 5], H5P_DEFAULT) > 0)
            H5Ldelete(f, drop[rnd(s) % 5], H5P_DEFAULT);
        break;
    }
    default: { /* the job text, mutated as text */
        enum { CAP = 8192 };
        char *text = calloc(1, CAP + 1);
        if (text && get_attr_str(f, "job_text", text, CAP) == 0) {
            size_t n = LLVMFuzzerMutate((uint8_t *)text, strlen(text), CAP);
            text[n] = '\0';
            set_attr_str(f, "job_text", text);
        }
        free(text);
    }
    }
    if (H5Fclose(f) < 0)
        return 0;
    return get(mpath, data, max);
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    paths();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    uint64_t s = seed * 2654435761u + 1;
    if (rnd(&s) % 5 == 0) {
        size_t n = mutate_api(data, size, max_size, &s);
        if (n > 0)
            return n;
    }
    region r[MAX_REGIONS];
    if (put(mpath, data, size) != 0)
        return size;
    int nr = regions_of(mpath, r);
    if (nr == 0)
        return size; /* not a results file this mutator understands: leave it */
    const region *g = &r[rnd(&s) % (uint64_t)nr];
    if (g->off + g->len > size)
        return size;
    size_t win = g->len < 64 ? (size_t)g->len : 1 + (size_t)(rnd(&s) % 64);
    size_t start = (size_t)g->off + (size_t)(rnd(&s) % (g->len - win + 1));
    uint8_t buf[64];
    memcpy(buf, data + start, win);
    size_t n = LLVMFuzzerMutate(buf, win, win); /* the same length or shorter: the rest stays */
    memcpy(data + start, buf, n);
    return size;
}
