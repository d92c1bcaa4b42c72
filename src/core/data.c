/* Real data sets: IDX through idx.c, HDF5 through the HDF5 library, the same checks for both.
 *
 * An HDF5 split is a group holding `images` (N x H x W or N x H x W x C, uint8 or float in
 * [0, 1]) and `labels` (N integers, or N x 1); the labels dataset may carry the attributes
 * `classes` (an integer) and `class_names` (strings). Images are read a block at a time and
 * turned into channel planes, so memory is the 8-bit set plus one block. */
#include "synlaw/data.h"

#include "synlaw/util.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"
#define FASHION_NAMES "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"
#define FASHION_MEAN 0.2860f
#define FASHION_STD 0.3530f

/* Images read per HDF5 call. */
enum { BLOCK = 1024 };

void data_default(data_source *s)
{
    memset(s, 0, sizeof *s);
    s->format = DATA_IDX;
    strcpy(s->dir, FASHION_DIR);
    strcpy(s->train, "train");
    strcpy(s->test, "t10k");
    strcpy(s->images, "images");
    strcpy(s->labels, "labels");
    s->validation = -1;
}

int data_source_is_default(const data_source *s)
{
    return s->format == DATA_IDX && strcmp(s->dir, FASHION_DIR) == 0 && strcmp(s->train, "train") == 0 &&
           strcmp(s->test, "t10k") == 0 && (s->validation < 0 || s->validation == 10000) &&
           (s->classes == 0 || s->classes == 10);
}

void data_default_shape(data_shape *sh)
{
    memset(sh, 0, sizeof *sh);
    *sh = (data_shape){.rows = 28, .cols = 28, .channels = 1, .classes = 10, .train_count = 60000,
                       .test_count = 10000, .validation = 10000, .pool = 50000, .chance = 0.9,
                       .mean = {FASHION_MEAN}, .std = {FASHION_STD}};
    strcpy(sh->class_names, FASHION_NAMES);
}

int data_shape_is_default(const data_shape *sh)
{
    return sh->rows == 28 && sh->cols == 28 && sh->channels == 1 && sh->mean[0] == FASHION_MEAN &&
           sh->std[0] == FASHION_STD;
}

int data_shape_same(const data_shape *a, const data_shape *b)
{
    if (a->rows != b->rows || a->cols != b->cols || a->channels != b->channels || a->classes != b->classes ||
        a->train_count != b->train_count || a->validation != b->validation)
        return 0;
    for (int c = 0; c < a->channels && c < DATA_MAX_CHANNELS; c++)
        if (a->mean[c] != b->mean[c] || a->std[c] != b->std[c])
            return 0;
    return 1;
}

const char *data_format_name(data_format f) { return f == DATA_HDF5 ? "hdf5" : "idx"; }

void data_shape_text(const data_shape *sh, char *buf, size_t len)
{
    snprintf(buf, len, "%dx%dx%d", sh->rows, sh->cols, sh->channels);
}

/* dir/path, or path when it is absolute or dir is empty. */
static void join(char *out, size_t len, const char *dir, const char *path)
{
    if (path[0] == '/' || !dir[0])
        snprintf(out, len, "%s", path);
    else
        snprintf(out, len, "%s/%s", dir, path);
}

static const char *split_name(const data_source *s, data_split sp) { return sp == DATA_TRAIN ? s->train : s->test; }

/* The HDF5 file of a split. */
static void h5_file(const data_source *s, data_split sp, char *out, size_t len)
{
    const char *f = sp == DATA_TRAIN && s->train_file[0] ? s->train_file
                    : sp == DATA_TEST && s->test_file[0] ? s->test_file : s->file;
    join(out, len, s->dir, f);
}

void data_describe(const data_source *s, data_split sp, char *buf, size_t len)
{
    if (s->format == DATA_IDX) {
        char *p = idx_split_path(s->dir[0] ? s->dir : ".", split_name(s, sp), 0);
        snprintf(buf, len, "%s", p ? p : split_name(s, sp));
        free(p);
        return;
    }
    char file[DATA_PATH_LEN * 2];
    h5_file(s, sp, file, sizeof file);
    const char *g = split_name(s, sp);
    snprintf(buf, len, "%s:%s%s/%s", file, g[0] == '/' ? "" : "/", strcmp(g, "/") == 0 ? "" : g, s->images);
}

/* ---- one split: what its files hold ---------------------------------------------------- */

typedef struct {
    int count, rows, cols, channels;
    int nclass;              /* largest label + 1 */
    int freq[256];
    int first[256];          /* the first item of each label (-1: none) */
    int declared;            /* the labels' `classes` attribute, 0 when absent */
    char names[DATA_NAMES_LEN];
    char where[DATA_WHERE_LEN]; /* the images, for messages */
    char lwhere[DATA_WHERE_LEN]; /* the labels */
    uint8_t *labels;         /* [count] (data_probe's label checks), owned */
} split_info;

static int probe_idx(split_info *si, const data_source *s, data_split sp, char *err, size_t errlen)
{
    const char *dir = s->dir[0] ? s->dir : ".";
    char *ip = idx_split_path(dir, split_name(s, sp), 0), *lp = idx_split_path(dir, split_name(s, sp), 1);
    int rc = SL_EINPUT;
    idx_info info;
    if (!ip || !lp)
        rc = util_fail(err, errlen, SL_EFAIL, "out of memory");
    else if (idx_probe(&info, ip, lp, err, errlen) == 0) {
        si->count = info.count;
        si->rows = info.rows;
        si->cols = info.cols;
        si->channels = 1;
        si->nclass = info.nclass;
        memcpy(si->freq, info.freq, sizeof si->freq);
        memcpy(si->first, info.first, sizeof si->first);
        snprintf(si->where, sizeof si->where, "%s", ip);
        snprintf(si->lwhere, sizeof si->lwhere, "%s", lp);
        rc = SL_OK;
    }
    free(ip), free(lp);
    return rc;
}

/* An HDF5 split opened: its file, images and labels datasets. */
typedef struct {
    hid_t file, images, labels;
    int rank;                /* of images: 3 or 4 */
    int is_float;            /* float pixels in [0, 1]; else uint8 */
    hsize_t dims[4];
} h5_split;

static void h5_close(h5_split *h)
{
    if (h->labels >= 0)
        H5Dclose(h->labels);
    if (h->images >= 0)
        H5Dclose(h->images);
    if (h->file >= 0)
        H5Fclose(h->file);
    h->file = h->images = h->labels = H5I_INVALID_HID;
}

static hid_t open_dataset(hid_t file, const char *group, const char *name, char *path, size_t len)
{
    snprintf(path, len, "%s%s%s", strcmp(group, "/") == 0 ? "" : group,
             group[0] && strcmp(group, "/") != 0 ? "/" : "", name);
    if (H5Lexists(file, path, H5P_DEFAULT) <= 0)
        return H5I_INVALID_HID;
    return H5Dopen2(file, path, H5P_DEFAULT);
}

/* Open and check the types and shapes of a split's datasets. */
static int h5_open(h5_split *h, split_info *si, const data_source *s, data_split sp, char *err,
                   size_t errlen)
{
    *h = (h5_split){H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID, 0, 0, {0}};
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    char file[DATA_PATH_LEN * 2], ipath[DATA_PATH_LEN + DATA_NAME_LEN + 2], lpath[sizeof ipath];
    h5_file(s, sp, file, sizeof file);
    const char *group = split_name(s, sp);
    struct stat sb;
    if (stat(file, &sb) != 0)
        return util_fail(err, errlen, SL_EINPUT, "%s: no such file (data.%s)", file,
                         sp == DATA_TRAIN && s->train_file[0] ? "train_file"
                         : sp == DATA_TEST && s->test_file[0] ? "test_file" : "file");
    if (H5Fis_hdf5(file) <= 0)
        return util_fail(err, errlen, SL_EINPUT, "%s: not an HDF5 file", file);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0)
        H5Pset_file_locking(fapl, 0, 1);
    h->file = H5Fopen(file, H5F_ACC_RDONLY, fapl >= 0 ? fapl : H5P_DEFAULT);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (h->file < 0)
        return util_fail(err, errlen, SL_EINPUT, "%s: cannot open (a damaged HDF5 file?)", file);
    h->images = open_dataset(h->file, group, s->images, ipath, sizeof ipath);
    h->labels = open_dataset(h->file, group, s->labels, lpath, sizeof lpath);
    snprintf(si->where, sizeof si->where, "%s:%s%s", file, ipath[0] == '/' ? "" : "/", ipath);
    snprintf(si->lwhere, sizeof si->lwhere, "%s:%s%s", file, lpath[0] == '/' ? "" : "/", lpath);
    if (h->images < 0 || h->labels < 0) {
        h5_close(h);
        return util_fail(err, errlen, SL_EINPUT, "%s: no dataset (expected datasets '%s' and '%s' in "
                         "group '%s': data.images, data.labels and data.%s name them)",
                         h->images < 0 ? si->where : si->lwhere, s->images, s->labels, group,
                         sp == DATA_TRAIN ? "train" : "test");
    }
    int rc = SL_EINPUT;
    hid_t sp_i = H5Dget_space(h->images), sp_l = H5Dget_space(h->labels);
    hid_t ti = H5Dget_type(h->images), tl = H5Dget_type(h->labels);
    hsize_t ld[2] = {0, 0};
    int lrank = sp_l >= 0 ? H5Sget_simple_extent_ndims(sp_l) : -1;
    h->rank = sp_i >= 0 ? H5Sget_simple_extent_ndims(sp_i) : -1;
    if (sp_i < 0 || sp_l < 0 || ti < 0 || tl < 0)
        util_fail(err, errlen, SL_EINPUT, "%s: cannot read its type or shape", si->where);
    else if (h->rank != 3 && h->rank != 4)
        util_fail(err, errlen, SL_EINPUT, "%s: %d dimensions (expected N x H x W or N x H x W x C)",
                  si->where, h->rank);
    else if (H5Sget_simple_extent_dims(sp_i, h->dims, NULL) < 0)
        util_fail(err, errlen, SL_EINPUT, "%s: cannot read its shape", si->where);
    else if (H5Tget_class(ti) == H5T_INTEGER && (H5Tget_size(ti) != 1 || H5Tget_sign(ti) != H5T_SGN_NONE))
        util_fail(err, errlen, SL_EINPUT, "%s: %zu-byte %s integers (expected uint8 or float pixels)",
                  si->where, H5Tget_size(ti), H5Tget_sign(ti) == H5T_SGN_NONE ? "unsigned" : "signed");
    else if (H5Tget_class(ti) != H5T_INTEGER && H5Tget_class(ti) != H5T_FLOAT)
        util_fail(err, errlen, SL_EINPUT, "%s: neither integers nor floats (expected uint8 or float "
                  "pixels)", si->where);
    else if (H5Tget_class(tl) != H5T_INTEGER)
        util_fail(err, errlen, SL_EINPUT, "%s: not integers (expected class numbers 0..K-1)", si->lwhere);
    else if ((lrank != 1 && lrank != 2) || H5Sget_simple_extent_dims(sp_l, ld, NULL) < 0 ||
             (lrank == 2 && ld[1] != 1))
        util_fail(err, errlen, SL_EINPUT, "%s: %d dimensions (expected N labels, or N x 1)", si->lwhere, lrank);
    else if (ld[0] != h->dims[0])
        util_fail(err, errlen, SL_EINPUT, "%s has %llu images but %s has %llu labels", si->where,
                  (unsigned long long)h->dims[0], si->lwhere, (unsigned long long)ld[0]);
    else if (h->dims[0] < 1 || h->dims[0] > 10000000)
        util_fail(err, errlen, SL_EINPUT, "%s: %llu images (expected 1..10,000,000)", si->where,
                  (unsigned long long)h->dims[0]);
    else if (h->dims[1] > 4096 || h->dims[2] > 4096 || (h->rank == 4 && h->dims[3] > 4096))
        util_fail(err, errlen, SL_EINPUT, "%s: images of %llux%llu (expected %d..%d pixels a side)",
                  si->where, (unsigned long long)h->dims[1], (unsigned long long)h->dims[2], DATA_MIN_SIDE,
                  DATA_MAX_SIDE);
    else {
        h->is_float = H5Tget_class(ti) == H5T_FLOAT;
        si->count = (int)h->dims[0];
        si->rows = (int)h->dims[1];
        si->cols = (int)h->dims[2];
        si->channels = h->rank == 4 ? (int)h->dims[3] : 1;
        rc = SL_OK;
    }
    if (sp_i >= 0) H5Sclose(sp_i);
    if (sp_l >= 0) H5Sclose(sp_l);
    if (ti >= 0) H5Tclose(ti);
    if (tl >= 0) H5Tclose(tl);
    if (rc != SL_OK)
        h5_close(h);
    return rc;
}

/* Read all labels as ints into si->labels (checked to be 0..DATA_MAX_CLASSES-1). */
static int h5_labels(h5_split *h, split_info *si, char *err, size_t errlen)
{
    int *lab = malloc(sizeof(int) * (size_t)si->count);
    si->labels = malloc((size_t)si->count);
    if (!lab || !si->labels) {
        free(lab);
        return util_fail(err, errlen, SL_EFAIL, "%s: out of memory for %d labels", si->lwhere, si->count);
    }
    int rc = SL_OK;
    if (H5Dread(h->labels, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, lab) < 0)
        rc = util_fail(err, errlen, SL_EINPUT, "%s: cannot read (a damaged file?)", si->lwhere);
    for (int i = 0; rc == SL_OK && i < si->count; i++) {
        if (lab[i] < 0 || lab[i] >= DATA_MAX_CLASSES)
            rc = util_fail(err, errlen, SL_EINPUT, "%s: label %d of item %d is out of range (expected "
                           "0..%d)", si->lwhere, lab[i], i, DATA_MAX_CLASSES - 1);
        else {
            si->labels[i] = (uint8_t)lab[i];
            if (!si->freq[lab[i]]++)
                si->first[lab[i]] = i;
            if (lab[i] + 1 > si->nclass)
                si->nclass = lab[i] + 1;
        }
    }
    free(lab);
    return rc;
}

/* The optional attributes of the labels: classes (integer) and class_names (strings). */
static void h5_label_attrs(h5_split *h, split_info *si)
{
    if (H5Aexists(h->labels, "classes") > 0) {
        hid_t a = H5Aopen(h->labels, "classes", H5P_DEFAULT);
        long long v = 0;
        hid_t sp = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
        if (a >= 0 && sp >= 0 && H5Sget_simple_extent_npoints(sp) == 1 &&
            H5Aread(a, H5T_NATIVE_LLONG, &v) >= 0 && v > 0 && v <= DATA_MAX_CLASSES)
            si->declared = (int)v;
        if (sp >= 0) H5Sclose(sp);
        if (a >= 0) H5Aclose(a);
    }
    if (H5Aexists(h->labels, "class_names") <= 0)
        return;
    hid_t a = H5Aopen(h->labels, "class_names", H5P_DEFAULT);
    hid_t t = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID, sp = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
    hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    if (t >= 0 && H5Tget_class(t) == H5T_STRING && n > 0 && n <= DATA_MAX_CLASSES) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        int vlen = H5Tis_variable_str(t) > 0;
        size_t sz = vlen ? 0 : H5Tget_size(t);
        H5Tset_size(mt, vlen ? H5T_VARIABLE : sz + 1);
        H5Tset_cset(mt, H5Tget_cset(t)); /* h5py writes UTF-8; HDF5 will not convert the cset */
        char **v = vlen ? calloc((size_t)n, sizeof(char *)) : NULL;
        char *fixed = vlen ? NULL : calloc((size_t)n, sz + 1);
        if ((v || fixed) && H5Aread(a, mt, vlen ? (void *)v : (void *)fixed) >= 0) {
            size_t used = 0;
            for (hssize_t i = 0; i < n; i++) {
                const char *name = vlen ? (v[i] ? v[i] : "") : fixed + (size_t)i * (sz + 1);
                int w = snprintf(si->names + used, sizeof si->names - used, "%s%s", i ? "," : "", name);
                used += w > 0 ? (size_t)w : 0;
                if (used >= sizeof si->names) {
                    si->names[0] = '\0'; /* too long to keep: no names rather than some */
                    break;
                }
            }
            if (vlen)
                H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, v);
        }
        free(v), free(fixed);
        H5Tclose(mt);
    }
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
}

static int probe_split(split_info *si, const data_source *s, data_split sp, char *err, size_t errlen)
{
    memset(si, 0, sizeof *si);
    for (int l = 0; l < 256; l++)
        si->first[l] = -1;
    if (s->format == DATA_IDX)
        return probe_idx(si, s, sp, err, errlen);
    h5_split h;
    int rc = h5_open(&h, si, s, sp, err, errlen);
    if (rc == SL_OK)
        rc = h5_labels(&h, si, err, errlen);
    if (rc == SL_OK)
        h5_label_attrs(&h, si);
    if (h.file >= 0)
        h5_close(&h);
    return rc;
}

/* Count the names of a comma-separated list. */
static int name_count(const char *names)
{
    if (!names[0])
        return 0;
    int n = 1;
    for (const char *p = names; *p; p++)
        n += *p == ',';
    return n;
}

static int check_geometry(const split_info *si, char *err, size_t errlen)
{
    if (si->rows < DATA_MIN_SIDE || si->rows > DATA_MAX_SIDE || si->cols < DATA_MIN_SIDE ||
        si->cols > DATA_MAX_SIDE)
        return util_fail(err, errlen, SL_EINPUT, "%s: %dx%d images (expected %d..%d pixels a side)",
                         si->where, si->rows, si->cols, DATA_MIN_SIDE, DATA_MAX_SIDE);
    if (si->channels != 1 && si->channels != 3)
        return util_fail(err, errlen, SL_EINPUT, "%s: %d channels (expected 1, grey, or 3, colour, as "
                         "the last dimension)", si->where, si->channels);
    return SL_OK;
}

/* The first item of a split whose label is not below classes, or -1. */
static int first_outside(const split_info *si, int classes, int *label)
{
    int best = -1;
    for (int l = classes; l < 256; l++)
        if (si->freq[l] && (best < 0 || si->first[l] < best)) {
            best = si->first[l];
            *label = l;
        }
    return best;
}

static int combine(data_shape *sh, const data_source *s, split_info *tr, split_info *te, char *err,
                   size_t errlen)
{
    int rc;
    if ((rc = check_geometry(tr, err, errlen)) != SL_OK || (rc = check_geometry(te, err, errlen)) != SL_OK)
        return rc;
    if (tr->rows != te->rows || tr->cols != te->cols || tr->channels != te->channels)
        return util_fail(err, errlen, SL_EINPUT, "%s: %dx%dx%d images, but %s has %dx%dx%d (expected "
                         "the same shape in both splits)", te->where, te->rows, te->cols, te->channels,
                         tr->where, tr->rows, tr->cols, tr->channels);
    int validation = s->validation >= 0 ? s->validation : tr->count / 6;
    if (validation < 1 || validation >= tr->count)
        return util_fail(err, errlen, SL_EINPUT, "%s: %d training images, too few to hold out a "
                         "validation split of %d and fine-tune on the rest (data.validation)", tr->where,
                         tr->count, validation);
    /* Inferred, the class count is the training split's: a test label that training never
     * shows cannot be learnt, and is more likely a damaged file than a class. */
    int classes = s->classes ? s->classes : tr->declared ? tr->declared : tr->nclass;
    const char *from = s->classes ? "data.classes" : tr->declared ? "its labels' classes attribute"
                                                                   : "the training labels";
    for (int k = 0; k < 2; k++) {
        const split_info *si = k ? te : tr;
        int label = 0, i = first_outside(si, classes, &label);
        if (si->nclass > classes) {
            if (i >= 0)
                return util_fail(err, errlen, SL_EINPUT, "%s: label %d of item %d is out of range "
                                 "(expected 0..%d: %d classes from %s)", si->lwhere, label, i,
                                 classes - 1, classes, from);
            return util_fail(err, errlen, SL_EINPUT, "%s: labels up to %d (expected 0..%d: %d classes "
                             "from %s)", si->lwhere, si->nclass - 1, classes - 1, classes, from);
        }
    }
    if (classes < 2)
        return util_fail(err, errlen, SL_EINPUT, "%s: every label is 0 (expected at least 2 classes)",
                         tr->lwhere);
    memset(sh, 0, sizeof *sh);
    sh->rows = tr->rows;
    sh->cols = tr->cols;
    sh->channels = tr->channels;
    sh->classes = classes;
    sh->train_count = tr->count;
    sh->test_count = te->count;
    sh->validation = validation;
    sh->pool = tr->count - validation;
    int major = 0;
    for (int c = 1; c < classes; c++)
        if (tr->freq[c] > tr->freq[major])
            major = c;
    sh->chance = 1.0 - (double)te->freq[major] / te->count;
    const char *names = s->class_names[0] ? s->class_names : tr->names;
    if (!names[0] && s->format == DATA_IDX && strcmp(s->dir, FASHION_DIR) == 0 &&
        strcmp(s->train, "train") == 0 && strcmp(s->test, "t10k") == 0 && classes == 10)
        names = FASHION_NAMES;
    if (names[0] && name_count(names) != classes) {
        if (s->class_names[0])
            return util_fail(err, errlen, SL_EINPUT, "data.class_names: %d names for %d classes",
                             name_count(names), classes);
        names = ""; /* the file's names do not match: show none */
    }
    snprintf(sh->class_names, sizeof sh->class_names, "%s", names);
    return SL_OK;
}

int data_probe(data_shape *sh, const data_source *s, char *err, size_t errlen)
{
    split_info *si = calloc(2, sizeof *si);
    if (!si)
        return util_fail(err, errlen, SL_EFAIL, "out of memory");
    int rc = probe_split(&si[0], s, DATA_TRAIN, err, errlen);
    if (rc == SL_OK)
        rc = probe_split(&si[1], s, DATA_TEST, err, errlen);
    if (rc == SL_OK)
        rc = combine(sh, s, &si[0], &si[1], err, errlen);
    if (rc == SL_OK && data_source_is_default(s) && sh->rows == 28 && sh->cols == 28 && sh->channels == 1) {
        sh->mean[0] = FASHION_MEAN; /* what data_measure finds in Debian's files */
        sh->std[0] = FASHION_STD;
    }
    free(si[0].labels), free(si[1].labels);
    free(si);
    return rc;
}

/* ---- loading ------------------------------------------------------------------------- */

/* Images [first, first + nb) of an open HDF5 split (of images R x W x C) into out as channel
 * planes, each value checked; buf holds a block as read. */
static int h5_block(h5_split *h, uint8_t *out, int R, int W, int C, const char *where, int first, int nb,
                    void *buf, char *err, size_t errlen)
{
    size_t per = (size_t)R * W * C;
    hsize_t start[4] = {(hsize_t)first, 0, 0, 0}, count[4] = {(hsize_t)nb, (hsize_t)R, (hsize_t)W, (hsize_t)C};
    hid_t fs = H5Dget_space(h->images);
    hid_t ms = H5Screate_simple(h->rank, count, NULL);
    int rc = SL_OK;
    if (fs < 0 || ms < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
        H5Dread(h->images, h->is_float ? H5T_NATIVE_FLOAT : H5T_NATIVE_UCHAR, ms, fs, H5P_DEFAULT, buf) < 0)
        rc = util_fail(err, errlen, SL_EINPUT, "%s: cannot read images %d..%d (a damaged file?)", where,
                       first, first + nb - 1);
    if (fs >= 0) H5Sclose(fs);
    if (ms >= 0) H5Sclose(ms);
    for (int i = 0; rc == SL_OK && i < nb; i++) {
        uint8_t *dst = out + (size_t)i * per;
        for (int y = 0; y < R; y++)
            for (int x = 0; x < W; x++)
                for (int c = 0; c < C; c++) {
                    size_t src = (size_t)i * per + ((size_t)y * W + x) * C + c; /* H x W x C */
                    uint8_t v;
                    if (h->is_float) {
                        float f = ((const float *)buf)[src];
                        if (!(f >= 0.0f && f <= 1.0f))
                            return util_fail(err, errlen, SL_EINPUT, "%s: image %d holds %g at row %d, "
                                             "column %d (expected float pixels in [0, 1])", where,
                                             first + i, (double)f, y, x);
                        v = (uint8_t)lrintf(f * 255.0f);
                    } else {
                        v = ((const uint8_t *)buf)[src];
                    }
                    dst[((size_t)c * R + y) * W + x] = v;
                }
    }
    return rc;
}

static int load_h5(idx_set *set, const data_source *s, data_split sp, int max_count, char *err,
                   size_t errlen)
{
    split_info *si = calloc(1, sizeof *si);
    if (!si)
        return util_fail(err, errlen, -1, "out of memory");
    h5_split h;
    int rc = h5_open(&h, si, s, sp, err, errlen);
    if (rc == SL_OK)
        rc = h5_labels(&h, si, err, errlen);
    if (rc == SL_OK)
        rc = check_geometry(si, err, errlen);
    void *buf = NULL;
    if (rc == SL_OK) {
        set->count = max_count > 0 && max_count < si->count ? max_count : si->count;
        set->rows = si->rows;
        set->cols = si->cols;
        set->channels = si->channels;
        set->nclass = si->nclass;
        size_t per = (size_t)si->rows * si->cols * si->channels;
        set->pixels = malloc(per * (size_t)set->count);
        buf = malloc(per * BLOCK * (h.is_float ? sizeof(float) : 1));
        set->labels = si->labels;
        si->labels = NULL;
        if (!set->pixels || !buf)
            rc = util_fail(err, errlen, -1, "%s: out of memory for %d images", si->where, set->count);
    }
    /* the whole split is checked (NaN, range); the first set->count images are kept */
    size_t per = (size_t)si->rows * si->cols * si->channels;
    uint8_t *scratch = NULL;
    for (int first = 0; rc == SL_OK && first < si->count; first += BLOCK) {
        int nb = si->count - first < BLOCK ? si->count - first : BLOCK;
        int kept = set->count - first > nb ? nb : set->count - first > 0 ? set->count - first : 0;
        uint8_t *out = set->pixels + (size_t)first * per;
        if (kept < nb) { /* past what is kept: decode into scratch */
            if (!scratch && !(scratch = malloc(per * BLOCK))) {
                rc = util_fail(err, errlen, -1, "out of memory");
                break;
            }
            out = scratch;
        }
        rc = h5_block(&h, out, si->rows, si->cols, si->channels, si->where, first, nb, buf, err, errlen);
        if (rc == SL_OK && out == scratch && kept > 0)
            memcpy(set->pixels + (size_t)first * per, scratch, per * (size_t)kept);
    }
    free(scratch);
    free(buf);
    if (h.file >= 0)
        h5_close(&h);
    free(si->labels);
    free(si);
    if (rc != SL_OK) {
        idx_free(set);
        return -1;
    }
    return 0;
}

int data_load(idx_set *set, const data_source *s, data_split sp, int max_count, char *err, size_t errlen)
{
    memset(set, 0, sizeof *set);
    if (s->format == DATA_HDF5)
        return load_h5(set, s, sp, max_count, err, errlen);
    return idx_load_split(set, s->dir[0] ? s->dir : ".", split_name(s, sp), max_count, err, errlen);
}

int data_stats(data_shape *sh, const idx_set *set, char *err, size_t errlen)
{
    size_t plane = (size_t)set->rows * set->cols;
    for (int c = 0; c < set->channels && c < DATA_MAX_CHANNELS; c++) {
        /* exact integer sums: the statistics do not depend on summation order */
        uint64_t s1 = 0, s2 = 0;
        for (int i = 0; i < set->count; i++) {
            const uint8_t *p = set->pixels + ((size_t)i * set->channels + c) * plane;
            for (size_t j = 0; j < plane; j++) {
                s1 += p[j];
                s2 += (uint64_t)p[j] * p[j];
            }
        }
        double n = (double)set->count * (double)plane;
        double mean = (double)s1 / n / 255.0;
        double var = (double)s2 / n / (255.0 * 255.0) - mean * mean;
        double sd = sqrt(var > 0 ? var : 0);
        sh->mean[c] = (float)(round(mean * 1e4) / 1e4);
        sh->std[c] = (float)(round(sd * 1e4) / 1e4);
        if (!(sh->std[c] > 0))
            return util_fail(err, errlen, SL_EINPUT, "the training images' channel %d is constant "
                             "(standard deviation below 0.00005): nothing to learn from", c);
    }
    return SL_OK;
}

int data_measure(data_shape *sh, const data_source *s, char *err, size_t errlen)
{
    int rc = data_probe(sh, s, err, errlen);
    if (rc != SL_OK)
        return rc;
    idx_set set;
    if (data_load(&set, s, DATA_TEST, 0, err, errlen) != 0)
        return SL_EINPUT;
    idx_free(&set);
    if (data_load(&set, s, DATA_TRAIN, 0, err, errlen) != 0)
        return SL_EINPUT;
    rc = data_stats(sh, &set, err, errlen);
    idx_free(&set);
    return rc;
}
