/* Results file on parallel HDF5 (see store.h). Every hid_t starts invalid and every call is
 * checked; the automatic HDF5 error printing is off and each failure is reported with the
 * call and the file's name instead.
 *
 * Disk space: HDF5 1.10 cannot survive a failed close. When the metadata flush of H5Dclose or
 * H5Fclose fails (no space left), it frees the object but keeps its identifier, and the
 * library's own shutdown (at MPI_Finalize or exit) then closes it again and crashes. So the
 * space a file will need is reserved (fallocate, beyond the end of the file) before HDF5
 * writes a byte of it, and a creation that fails anyway gives its own blocks back
 * (truncation) before it closes, so that the close can flush. */
#define _GNU_SOURCE /* fallocate, FALLOC_FL_KEEP_SIZE */
#include "synlaw/store.h"

#include "synlaw/nn.h"
#include "synlaw/util.h"
#include "synlaw/version.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/* Rows written per HDF5 call when rank 0 fills a table at creation (bounds its memory). */
enum { BLOCK_ROWS = 65536 };

/* Bytes reserved beyond a file's data for HDF5's metadata (the tiny test job's file has 20
 * KB of it besides its job text). */
#define META_MARGIN ((off_t)256 << 10)

/* Reserve `bytes` of disk after the end of path (which must exist), without changing its
 * size: HDF5's writes into that range cannot fail for lack of space. Where the file system
 * cannot reserve (no fallocate), the free space is checked instead (statvfs; another writer
 * may still take it first). SYNLAW_RESERVE=statvfs forces that check, SYNLAW_RESERVE=0 skips
 * both (the test suite uses them to reach the paths behind). 0, or -1 with err when the
 * space is not there. */
static int reserve_space(const char *path, off_t bytes, char *err, size_t errlen)
{
    const char *e = getenv("SYNLAW_RESERVE");
    if (e && strcmp(e, "0") == 0)
        return 0;
    int fd = open(path, O_WRONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        return util_fail(err, errlen, -1, "%s: cannot open to reserve disk space: %s", path, strerror(saved));
    }
    int rc = 0, check = e && strcmp(e, "statvfs") == 0;
    if (!check && fallocate(fd, FALLOC_FL_KEEP_SIZE, sb.st_size, bytes) != 0) {
        if (errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL)
            check = 1;
        else
            rc = util_fail(err, errlen, -1, "%s: cannot reserve the %.3g MB the results need on its device: %s",
                           path, (double)bytes / 1e6, strerror(errno));
    }
    struct statvfs vb;
    if (check && fstatvfs(fd, &vb) == 0 && (double)vb.f_bavail * (double)vb.f_frsize < (double)bytes)
        rc = util_fail(err, errlen, -1, "%s: cannot reserve the %.3g MB the results need on its device: %s "
                       "(%.3g MB free)", path, (double)bytes / 1e6, strerror(ENOSPC),
                       (double)vb.f_bavail * (double)vb.f_frsize / 1e6);
    close(fd);
    return rc;
}

/* Give back what reserve_space took and HDF5 did not use (blocks past the end of the file). */
static void release_space(const char *path)
{
    int fd = open(path, O_WRONLY);
    struct stat sb;
    if (fd < 0)
        return;
    if (fstat(fd, &sb) == 0 && ftruncate(fd, sb.st_size) != 0) {
        /* nothing to do: the blocks stay reserved until the file is removed */
    }
    close(fd);
}

/* Bytes of the datasets of a results file of spec (the raw data of store_create's layout),
 * plus the job text and META_MARGIN. */
static off_t layout_bytes(const job_spec *spec, const char *job_text)
{
    double ncell = job_cell_count(spec), nbb = job_backbone_count(spec);
    double b = ncell * (double)sizeof(store_cell_row) + nbb * (double)sizeof(store_backbone_row) +
               ncell * job_max_finetune_evals(spec) * 12.0 + nbb * job_max_pretrain_evals(spec) * 12.0 +
               4.0 * (ncell + nbb) + 2.0 * (double)strlen(job_text);
    for (int m = 0; spec->pretrain.keep && m < spec->n_model; m++) {
        nn_arch a;
        if (nn_arch_build(&a, spec->model[m], spec->shape.rows, spec->shape.cols, spec->shape.channels, 2) == 0)
            b += nbb / (spec->n_model ? spec->n_model : 1) * (double)a.nparam_backbone * 4.0;
    }
    return (off_t)b + META_MARGIN;
}

/* Whether every rank of comm is ok; when not, err on every rank holds the message of the
 * lowest rank that failed (an MPI failure counts as one). */
static int all_ok(MPI_Comm comm, int ok, char *err, size_t errlen)
{
    int rank = 0, size = 1, all = 0;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    if (MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS) {
        util_fail(err, errlen, -1, "MPI_Allreduce failed while agreeing on the results file");
        return 0;
    }
    if (all)
        return 1;
    int mine = ok ? size : rank, first = size;
    if (MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS ||
        MPI_Bcast(err, (int)errlen, MPI_CHAR, first, comm) != MPI_SUCCESS)
        util_fail(err, errlen, -1, "MPI failed while passing on an error about the results file");
    return 0;
}

struct store {
    hid_t file;
    hid_t cells, backbones;                 /* tables */
    hid_t ft_val, ft_test, pre_loss, pre_err; /* curve matrices */
    hid_t cell_type, bb_type;
    int n_ft, n_pre;                        /* widths of the curve matrices */
    int ft_every, pre_every;                /* evaluation intervals of the recipes */
    int nmodel;
    hid_t weights[JOB_MAX_AXIS];            /* per job model, H5I_INVALID_HID when not kept */
    int first_bb[JOB_MAX_AXIS];             /* backbone index of row 0 of weights[m] */
    char models[JOB_MAX_AXIS][JOB_NAME_LEN];
    char *path;                             /* owned */
    int rank;                               /* in the communicator of create/open */
};

#define FAIL(...)                                                                               \
    do {                                                                                        \
        snprintf(err, errlen, __VA_ARGS__);                                                     \
        goto fail;                                                                              \
    } while (0)

static hid_t str_type(size_t n)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t >= 0 && (H5Tset_size(t, n) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0)) {
        H5Tclose(t);
        return H5I_INVALID_HID;
    }
    return t;
}

static hid_t status_type(void)
{
    hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
    int8_t v;
    for (v = 0; v < CELL_NSTATUS && t >= 0; v++)
        if (H5Tenum_insert(t, job_status_name(v), &v) < 0) {
            H5Tclose(t);
            return H5I_INVALID_HID;
        }
    return t;
}

/* Compound type of store_cell_row; format 1 files have fewer members (the caller closes it). */
static hid_t cell_row_type(int version)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(store_cell_row));
    hid_t s32 = str_type(JOB_NAME_LEN), s16 = str_type(STORE_WORD_LEN), sr = str_type(STORE_REASON_LEN);
    hid_t st = status_type();
    int ok = t >= 0 && s32 >= 0 && s16 >= 0 && sr >= 0 && st >= 0, v2 = version >= 2;
#define F(name, field, type) ok = ok && H5Tinsert(t, name, HOFFSET(store_cell_row, field), type) >= 0
    F("index", index, H5T_NATIVE_INT32);
    F("pretrain_size", pretrain_size, H5T_NATIVE_INT64);
    F("model", model, s32);
    F("complexity", complexity, H5T_NATIVE_INT32);
    F("pretrain_task", pretrain_task, s16);
    F("finetune_size", finetune_size, H5T_NATIVE_INT64);
    if (v2) {
        F("finetune_lr", finetune_lr, H5T_NATIVE_DOUBLE);
        F("finetune_steps", finetune_steps, H5T_NATIVE_INT32);
        F("finetune_freeze", finetune_freeze, H5T_NATIVE_INT8);
    }
    F("repeat", repeat, H5T_NATIVE_INT32);
    if (v2)
        F("backbone", backbone, H5T_NATIVE_INT32);
    F("seed", seed, H5T_NATIVE_UINT64);
    F("status", status, st);
    F("rank", rank, H5T_NATIVE_INT32);
    F("final_error", final_error, H5T_NATIVE_DOUBLE);
    if (v2) {
        F("final_val_error", final_val_error, H5T_NATIVE_DOUBLE);
        F("final_test_error", final_test_error, H5T_NATIVE_DOUBLE);
    }
    F("wall_time", wall_time, H5T_NATIVE_DOUBLE);
    F("time_generate", time_generate, H5T_NATIVE_DOUBLE);
    F("time_pretrain", time_pretrain, H5T_NATIVE_DOUBLE);
    F("time_finetune", time_finetune, H5T_NATIVE_DOUBLE);
    F("time_evaluate", time_evaluate, H5T_NATIVE_DOUBLE);
    F("time_write", time_write, H5T_NATIVE_DOUBLE);
    F("reason", reason, sr);
#undef F
    H5Tclose(s32), H5Tclose(s16), H5Tclose(sr), H5Tclose(st);
    if (!ok && t >= 0) {
        H5Tclose(t);
        t = H5I_INVALID_HID;
    }
    return t;
}

static hid_t backbone_row_type(void)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(store_backbone_row));
    hid_t s32 = str_type(JOB_NAME_LEN), s16 = str_type(STORE_WORD_LEN), sr = str_type(STORE_REASON_LEN);
    hid_t st = status_type();
    int ok = t >= 0 && s32 >= 0 && s16 >= 0 && sr >= 0 && st >= 0;
#define F(name, field, type) ok = ok && H5Tinsert(t, name, HOFFSET(store_backbone_row, field), type) >= 0
    F("index", index, H5T_NATIVE_INT32);
    F("pretrain_size", pretrain_size, H5T_NATIVE_INT64);
    F("model", model, s32);
    F("complexity", complexity, H5T_NATIVE_INT32);
    F("pretrain_task", pretrain_task, s16);
    F("repeat", repeat, H5T_NATIVE_INT32);
    F("steps", steps, H5T_NATIVE_INT32);
    F("seed", seed, H5T_NATIVE_UINT64);
    F("key", key, H5T_NATIVE_UINT64);
    F("status", status, st);
    F("weights", weights, H5T_NATIVE_INT8);
    F("reused", reused, H5T_NATIVE_INT8);
    F("rank", rank, H5T_NATIVE_INT32);
    F("nparam", nparam, H5T_NATIVE_INT64);
    F("final_loss", final_loss, H5T_NATIVE_DOUBLE);
    F("final_error", final_error, H5T_NATIVE_DOUBLE);
    F("wall_time", wall_time, H5T_NATIVE_DOUBLE);
    F("time_generate", time_generate, H5T_NATIVE_DOUBLE);
    F("time_pretrain", time_pretrain, H5T_NATIVE_DOUBLE);
    F("time_evaluate", time_evaluate, H5T_NATIVE_DOUBLE);
    F("time_write", time_write, H5T_NATIVE_DOUBLE);
    F("reason", reason, sr);
#undef F
    H5Tclose(s32), H5Tclose(s16), H5Tclose(sr), H5Tclose(st);
    if (!ok && t >= 0) {
        H5Tclose(t);
        t = H5I_INVALID_HID;
    }
    return t;
}

/* Whether a table (ds) has the status enum of this synlaw (names and values): a file with
 * another enum would be misread (or crash HDF5's conversion), so readers refuse it. */
static int status_type_ok(hid_t ds)
{
    hid_t ft = H5Dget_type(ds), mt = H5I_INVALID_HID, want = status_type();
    int ok = 0;
    if (ft >= 0 && want >= 0 && H5Tget_class(ft) == H5T_COMPOUND) {
        int idx = H5Tget_member_index(ft, "status");
        if (idx >= 0)
            mt = H5Tget_member_type(ft, (unsigned)idx);
        ok = mt >= 0 && H5Tget_class(mt) == H5T_ENUM && H5Tget_nmembers(mt) == CELL_NSTATUS &&
             H5Tequal(mt, want) > 0;
    }
    if (mt >= 0) H5Tclose(mt);
    if (ft >= 0) H5Tclose(ft);
    if (want >= 0) H5Tclose(want);
    return ok;
}

static hid_t fit_row_type(void)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(analysis_row));
    hid_t s128 = str_type(ANALYSIS_GROUP_LEN), s32 = str_type(ANALYSIS_NAME_LEN),
          s16 = str_type(ANALYSIS_WORD_LEN);
    hsize_t four = 4;
    hid_t a4 = H5Tarray_create2(H5T_NATIVE_DOUBLE, 1, &four);
    int ok = t >= 0 && s128 >= 0 && s32 >= 0 && s16 >= 0 && a4 >= 0;
#define F(name, field, type) ok = ok && H5Tinsert(t, name, HOFFSET(analysis_row, field), type) >= 0
    F("group", group, s128);
    F("model", model, s32);
    F("complexity", complexity, H5T_NATIVE_INT32);
    F("pretrain_task", pretrain_task, s16);
    F("finetune_size", finetune_size, H5T_NATIVE_INT64);
    F("finetune_lr", finetune_lr, H5T_NATIVE_DOUBLE);
    F("finetune_steps", finetune_steps, H5T_NATIVE_INT32);
    F("finetune_freeze", finetune_freeze, H5T_NATIVE_INT8);
    F("law", law, s16);
    F("loss", loss, s16);
    F("n_points", n_points, H5T_NATIVE_INT32);
    F("n_sizes", n_sizes, H5T_NATIVE_INT32);
    F("p", p, a4);
    F("se", se, a4);
    F("ci_lo", ci_lo, a4);
    F("ci_hi", ci_hi, a4);
    F("level", level, H5T_NATIVE_DOUBLE);
    F("boot_samples", boot_samples, H5T_NATIVE_INT32);
    F("rmse", rmse, H5T_NATIVE_DOUBLE);
    F("r2", r2, H5T_NATIVE_DOUBLE);
    F("aic", aic, H5T_NATIVE_DOUBLE);
    F("bic", bic, H5T_NATIVE_DOUBLE);
    F("converged", converged, H5T_NATIVE_INT8);
    F("at_bound", at_bound, H5T_NATIVE_INT8);
    F("extrap_points", extrap_points, H5T_NATIVE_INT32);
    F("extrap_from", extrap_from, H5T_NATIVE_INT64);
    F("extrap_error", extrap_error, H5T_NATIVE_DOUBLE);
    F("extrap_carry", extrap_carry, H5T_NATIVE_DOUBLE);
    F("aic_const", aic_const, H5T_NATIVE_DOUBLE);
    F("aic_power", aic_power, H5T_NATIVE_DOUBLE);
    F("identified", identified, H5T_NATIVE_INT8);
    F("within", within, H5T_NATIVE_INT8);
    F("n_max", n_max, H5T_NATIVE_INT64);
    F("pred_2x", pred_2x, H5T_NATIVE_DOUBLE);
    F("pred_10x", pred_10x, H5T_NATIVE_DOUBLE);
    F("gain_10x", gain_10x, H5T_NATIVE_DOUBLE);
    F("gain_10x_lo", gain_10x_lo, H5T_NATIVE_DOUBLE);
    F("gain_10x_hi", gain_10x_hi, H5T_NATIVE_DOUBLE);
    F("n_within_eps", n_within_eps, H5T_NATIVE_DOUBLE);
    F("verdict", verdict, s16);
    F("scratch_error", scratch_error, H5T_NATIVE_DOUBLE);
    F("best_error", best_error, H5T_NATIVE_DOUBLE);
    F("best_size", best_size, H5T_NATIVE_INT64);
#undef F
    H5Tclose(s128), H5Tclose(s32), H5Tclose(s16), H5Tclose(a4);
    if (!ok && t >= 0) {
        H5Tclose(t);
        t = H5I_INVALID_HID;
    }
    return t;
}

static int attr_str(hid_t loc, const char *name, const char *value)
{
    hid_t t = str_type(strlen(value) + 1), sp = H5Screate(H5S_SCALAR), a = H5I_INVALID_HID;
    int rc = -1;
    if (t >= 0 && sp >= 0)
        a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0 && H5Awrite(a, t, value) >= 0)
        rc = 0;
    if (a >= 0) H5Aclose(a);
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    return rc;
}

static int attr_int(hid_t loc, const char *name, long long value)
{
    hid_t sp = H5Screate(H5S_SCALAR), a = H5I_INVALID_HID;
    int rc = -1;
    if (sp >= 0)
        a = H5Acreate2(loc, name, H5T_NATIVE_LLONG, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0 && H5Awrite(a, H5T_NATIVE_LLONG, &value) >= 0)
        rc = 0;
    if (a >= 0) H5Aclose(a);
    if (sp >= 0) H5Sclose(sp);
    return rc;
}

static int attr_floats(hid_t loc, const char *name, hid_t type, const void *values, int n)
{
    hsize_t d = (hsize_t)n;
    hid_t sp = H5Screate_simple(1, &d, NULL), a = H5I_INVALID_HID;
    int rc = -1;
    if (sp >= 0)
        a = H5Acreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0 && H5Awrite(a, type, values) >= 0)
        rc = 0;
    if (a >= 0) H5Aclose(a);
    if (sp >= 0) H5Sclose(sp);
    return rc;
}

/* The group /data: where the real task came from and what it was (the job's data shape),
 * so that fits, plots and later runs know the input without the data. */
static int write_data_group(hid_t file, const job_spec *spec)
{
    const data_shape *d = &spec->shape;
    char train[DATA_WHERE_LEN], test[sizeof train];
    data_describe(&spec->data, DATA_TRAIN, train, sizeof train);
    data_describe(&spec->data, DATA_TEST, test, sizeof test);
    hid_t g = H5Gcreate2(file, "data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    double chance = d->chance;
    int ok = g >= 0 && attr_str(g, "format", data_format_name(spec->data.format)) == 0 &&
             attr_str(g, "train", train) == 0 && attr_str(g, "test", test) == 0 &&
             attr_int(g, "rows", d->rows) == 0 && attr_int(g, "cols", d->cols) == 0 &&
             attr_int(g, "channels", d->channels) == 0 && attr_int(g, "classes", d->classes) == 0 &&
             attr_str(g, "class_names", d->class_names) == 0 &&
             attr_floats(g, "chance", H5T_NATIVE_DOUBLE, &chance, 1) == 0 &&
             attr_int(g, "train_images", d->train_count) == 0 && attr_int(g, "test_images", d->test_count) == 0 &&
             attr_int(g, "validation_images", d->validation) == 0 &&
             attr_floats(g, "pixel_mean", H5T_NATIVE_FLOAT, d->mean, d->channels) == 0 &&
             attr_floats(g, "pixel_std", H5T_NATIVE_FLOAT, d->std, d->channels) == 0;
    if (g >= 0)
        H5Gclose(g);
    return ok ? 0 : -1;
}

/* Create a 1- or 2-D dataset, its space allocated now but not written: the caller writes
 * every element (float datasets: fill_nan; their fill value, NaN, is recorded for readers).
 * HDF5's own fill is a collective write inside H5Dcreate, and a rank whose part of it fails
 * (no space) leaves the others waiting in it forever; our writes fail where we can see it. */
static hid_t make_dataset(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims,
                          const char *units, const char *description)
{
    hid_t sp = H5Screate_simple(rank, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t ds = H5I_INVALID_HID;
    if (sp >= 0 && dcpl >= 0 && H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) >= 0 &&
        H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) >= 0) {
        float nan = NAN;
        if (H5Tequal(type, H5T_NATIVE_FLOAT) <= 0 || H5Pset_fill_value(dcpl, H5T_NATIVE_FLOAT, &nan) >= 0)
            ds = H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    }
    if (ds >= 0 && ((units && attr_str(ds, "units", units) < 0) ||
                    (description && attr_str(ds, "description", description) < 0))) {
        H5Dclose(ds);
        ds = H5I_INVALID_HID;
    }
    if (sp >= 0) H5Sclose(sp);
    if (dcpl >= 0) H5Pclose(dcpl);
    return ds;
}

/* Write rows [start, start + count) of a table or matrix (count x width values of mtype) from
 * buf, or take part with nothing (mine = 0) in a collective-free independent write. */
static int write_block(hid_t ds, hid_t mtype, hsize_t start, hsize_t count, hsize_t width,
                       const void *buf, int mine)
{
    int rank = width > 0 ? 2 : 1;
    hsize_t off[2] = {start, 0}, cnt[2] = {count, width}, one[2] = {1, 1};
    hid_t fs = H5Dget_space(ds), ms = H5Screate_simple(rank, mine && count ? cnt : one, NULL);
    int rc = -1;
    if (fs >= 0 && ms >= 0) {
        if (mine && count)
            rc = H5Sselect_hyperslab(fs, H5S_SELECT_SET, off, NULL, cnt, NULL) >= 0 &&
                         H5Dwrite(ds, mtype, ms, fs, H5P_DEFAULT, buf) >= 0 ? 0 : -1;
        else
            rc = H5Sselect_none(fs) >= 0 && H5Sselect_none(ms) >= 0 &&
                         H5Dwrite(ds, mtype, ms, fs, H5P_DEFAULT, buf) >= 0 ? 0 : -1;
    }
    if (fs >= 0) H5Sclose(fs);
    if (ms >= 0) H5Sclose(ms);
    return rc;
}

/* Rank 0 writes NaN into every element of a float matrix [rows, width] (in blocks of at most
 * 4M values); the other ranks take part once with nothing, as in fill_cells. */
static int fill_nan(hid_t ds, int rank)
{
    hsize_t d[2] = {0, 0};
    hid_t sp = H5Dget_space(ds);
    int ok = sp >= 0 && H5Sget_simple_extent_ndims(sp) == 2 && H5Sget_simple_extent_dims(sp, d, NULL) >= 0;
    if (sp >= 0)
        H5Sclose(sp);
    if (!ok)
        return -1;
    float none = NAN;
    if (rank != 0 || d[0] == 0 || d[1] == 0)
        return write_block(ds, H5T_NATIVE_FLOAT, 0, 0, d[1] ? d[1] : 1, &none, 0);
    hsize_t per = d[1] >= ((hsize_t)1 << 22) ? 1 : ((hsize_t)1 << 22) / d[1];
    if (per > d[0])
        per = d[0];
    float *nan = malloc(sizeof *nan * (size_t)(per * d[1]));
    if (!nan)
        return -1;
    for (hsize_t i = 0; i < per * d[1]; i++)
        nan[i] = NAN;
    int rc = 0;
    for (hsize_t r = 0; r < d[0] && rc == 0; r += per)
        rc = write_block(ds, H5T_NATIVE_FLOAT, r, d[0] - r < per ? d[0] - r : per, d[1], nan, 1);
    free(nan);
    return rc;
}

/* An int32 dimension scale 0..n-1, written by rank 0. */
static hid_t make_index_scale(hid_t loc, const char *name, int n, const char *label, int rank)
{
    hsize_t dim = (hsize_t)n;
    hid_t ds = make_dataset(loc, name, H5T_NATIVE_INT32, 1, &dim, NULL, NULL);
    if (ds < 0)
        return ds;
    int *v = malloc(sizeof *v * (size_t)(n + 1));
    int ok = v && H5DSset_scale(ds, label) >= 0;
    for (int i = 0; ok && i < n; i++)
        v[i] = i;
    ok = ok && write_block(ds, H5T_NATIVE_INT32, 0, dim, 0, v, rank == 0) == 0;
    free(v);
    if (!ok) {
        H5Dclose(ds);
        return H5I_INVALID_HID;
    }
    return ds;
}

void store_cell_row_init(store_cell_row *row, const job_spec *spec, const job_cell *cell)
{
    memset(row, 0, sizeof *row);
    row->index = cell->index;
    row->pretrain_size = cell->size;
    snprintf(row->model, sizeof row->model, "%s", spec->model[cell->model]);
    row->complexity = cell->complexity;
    snprintf(row->pretrain_task, sizeof row->pretrain_task, "%s", job_task_name(cell->task));
    row->finetune_size = cell->ftsize;
    row->finetune_lr = job_cell_recipe(spec, cell).lr;
    row->finetune_steps = spec->ftsteps[cell->ftsteps];
    row->finetune_freeze = (int8_t)spec->ftfreeze[cell->ftfreeze];
    row->repeat = cell->repeat;
    row->backbone = cell->backbone;
    row->seed = job_cell_seed(spec, cell);
    row->status = CELL_PENDING;
    row->rank = -1;
    row->final_error = row->final_val_error = row->final_test_error = row->wall_time = NAN;
    row->time_generate = row->time_pretrain = row->time_finetune = row->time_evaluate = NAN;
    row->time_write = NAN;
}

/* Parameters of the backbone of a job model (0 for a model outside the zoo). */
static int64_t backbone_params(const job_spec *spec, int model)
{
    nn_arch a;
    const data_shape *d = &spec->shape;
    return nn_arch_build(&a, spec->model[model], d->rows, d->cols, d->channels, 2) == 0 ? (int64_t)a.nparam_backbone : 0;
}

void store_backbone_row_init(store_backbone_row *row, const job_spec *spec, const job_backbone *bb)
{
    memset(row, 0, sizeof *row);
    row->index = bb->index;
    row->pretrain_size = bb->size;
    snprintf(row->model, sizeof row->model, "%s", spec->model[bb->model]);
    row->complexity = bb->complexity;
    snprintf(row->pretrain_task, sizeof row->pretrain_task, "%s", job_task_name(bb->task));
    row->repeat = bb->repeat;
    row->steps = bb->steps;
    row->seed = job_backbone_seed(spec, bb);
    row->key = job_backbone_key(spec, bb);
    row->status = CELL_PENDING;
    row->rank = -1;
    row->nparam = backbone_params(spec, bb->model);
    row->final_loss = row->final_error = row->wall_time = NAN;
    row->time_generate = row->time_pretrain = row->time_evaluate = row->time_write = NAN;
}

/* A store for path with every handle invalid and the curve widths of spec, and in *fapl an
 * MPI-IO file-access list over comm: the common start of store_create and store_open. NULL
 * with err set on failure (nothing to release then). */
static store *store_new(const char *path, const job_spec *spec, MPI_Comm comm, hid_t *fapl,
                        char *err, size_t errlen)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    store *st = calloc(1, sizeof *st);
    if (!st || !(st->path = util_strdup(path))) {
        free(st);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    st->file = st->cells = st->backbones = H5I_INVALID_HID;
    st->ft_val = st->ft_test = st->pre_loss = st->pre_err = H5I_INVALID_HID;
    st->cell_type = st->bb_type = H5I_INVALID_HID;
    st->nmodel = spec->n_model;
    for (int m = 0; m < JOB_MAX_AXIS; m++)
        st->weights[m] = H5I_INVALID_HID;
    for (int m = 0; m < spec->n_model; m++) {
        snprintf(st->models[m], sizeof st->models[m], "%s", spec->model[m]);
        st->first_bb[m] = m * (job_backbone_count(spec) / (spec->n_model ? spec->n_model : 1));
    }
    st->n_ft = job_max_finetune_evals(spec);
    st->n_pre = job_max_pretrain_evals(spec);
    st->ft_every = spec->finetune.eval_every;
    st->pre_every = spec->pretrain.eval_every;
    MPI_Comm_rank(comm, &st->rank);
    *fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (*fapl < 0 || H5Pset_fapl_mpio(*fapl, comm, MPI_INFO_NULL) < 0) {
        snprintf(err, errlen, "%s: cannot set up MPI-IO file access", path);
        if (*fapl >= 0)
            H5Pclose(*fapl);
        *fapl = H5I_INVALID_HID;
        free(st->path);
        free(st);
        return NULL;
    }
    return st;
}

/* Rank 0 writes every pending cell row and the step matrix of the cells, in blocks. */
static int fill_cells(store *st, hid_t steps_ds, const job_spec *spec, int ncell, int rank)
{
    int rc = -1, width = st->n_ft;
    job_cell *cells = malloc(sizeof *cells * (size_t)(ncell + 1));
    store_cell_row *rows = malloc(sizeof *rows * BLOCK_ROWS);
    int *steps = calloc((size_t)BLOCK_ROWS * (size_t)(width + 1), sizeof *steps);
    if (!cells || !rows || !steps)
        goto out;
    job_cells(spec, cells);
    for (int start = 0; start < ncell || (start == 0 && rank != 0); start += BLOCK_ROWS) {
        int n = ncell - start < BLOCK_ROWS ? ncell - start : BLOCK_ROWS;
        for (int i = 0; i < n; i++) {
            const job_cell *c = &cells[start + i];
            store_cell_row_init(&rows[i], spec, c);
            int *srow = steps + (size_t)i * (size_t)width;
            memset(srow, 0, sizeof *srow * (size_t)width);
            job_eval_steps(spec->ftsteps[c->ftsteps], spec->finetune.eval_every, srow);
        }
        if (write_block(st->cells, st->cell_type, (hsize_t)start, (hsize_t)n, 0, rows, rank == 0) != 0 ||
            write_block(steps_ds, H5T_NATIVE_INT32, (hsize_t)start, (hsize_t)n, (hsize_t)width, steps,
                        rank == 0 && width > 0) != 0)
            goto out;
        if (rank != 0)
            break; /* the other ranks only take part once (independent I/O needs no more) */
    }
    rc = 0;
out:
    free(cells), free(rows), free(steps);
    return rc;
}

/* Rank 0 writes every pending backbone row and the step matrix of the backbones. */
static int fill_backbones(store *st, hid_t steps_ds, const job_spec *spec, int nbb, int rank)
{
    int rc = -1, width = st->n_pre;
    job_backbone *bb = malloc(sizeof *bb * (size_t)(nbb + 1));
    store_backbone_row *rows = malloc(sizeof *rows * BLOCK_ROWS);
    int *steps = calloc((size_t)BLOCK_ROWS * (size_t)(width + 1), sizeof *steps);
    if (!bb || !rows || !steps)
        goto out;
    job_backbones(spec, bb);
    for (int start = 0; start < nbb || (start == 0 && rank != 0); start += BLOCK_ROWS) {
        int n = nbb - start < BLOCK_ROWS ? nbb - start : BLOCK_ROWS;
        for (int i = 0; i < n; i++) {
            store_backbone_row_init(&rows[i], spec, &bb[start + i]);
            int *srow = steps + (size_t)i * (size_t)width;
            memset(srow, 0, sizeof *srow * (size_t)width);
            job_eval_steps(bb[start + i].steps, spec->pretrain.eval_every, srow);
        }
        if (write_block(st->backbones, st->bb_type, (hsize_t)start, (hsize_t)n, 0, rows, rank == 0) != 0 ||
            write_block(steps_ds, H5T_NATIVE_INT32, (hsize_t)start, (hsize_t)n, (hsize_t)width, steps,
                        rank == 0 && width > 0) != 0)
            goto out;
        if (rank != 0)
            break;
    }
    rc = 0;
out:
    free(bb), free(rows), free(steps);
    return rc;
}

int store_create(store **out, const char *path, MPI_Comm comm, const job_spec *spec,
                 const char *job_text, const char *job_file, const store_shard *shard,
                 char *err, size_t errlen)
{
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    *out = NULL;
    hid_t fapl = H5I_INVALID_HID, grp = H5I_INVALID_HID, wgrp = H5I_INVALID_HID;
    hid_t cellscale = H5I_INVALID_HID, bbscale = H5I_INVALID_HID;
    hid_t ftsteps = H5I_INVALID_HID, presteps = H5I_INVALID_HID;
    int ncell = job_cell_count(spec), nbb = job_backbone_count(spec), ok = 1;

    /* Rank 0 creates the file empty and reserves its space before HDF5 touches it. */
    if (rank == 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
            ok = util_fail(err, errlen, 0, "%s: cannot create the results file: %s", path, strerror(errno));
        else
            close(fd);
        ok = ok && reserve_space(path, layout_bytes(spec, job_text), err, errlen) == 0;
    }
    if (!all_ok(comm, ok, err, errlen))
        return -1;
    store *st = store_new(path, spec, comm, &fapl, err, errlen);
    if (!all_ok(comm, st != NULL, err, errlen)) {
        store_close(st);
        if (fapl >= 0)
            H5Pclose(fapl);
        return -1;
    }

    st->file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (st->file < 0)
        ok = util_fail(err, errlen, 0, "%s: cannot create the results file (does the directory exist and is it "
                       "writable? is another run writing it?)", path);
    if (!all_ok(comm, ok, err, errlen))
        goto fail;

    char buf[512], created[64];
    time_t now = time(NULL);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    ok = attr_str(st->file, "format", STORE_FORMAT) == 0 &&
         attr_int(st->file, "format_version", STORE_FORMAT_VERSION) == 0 &&
         attr_str(st->file, "synlaw_version", version_synlaw()) == 0 &&
         attr_str(st->file, "first_conv", nn_direct_conv() ? "direct" : "gemm") == 0 &&
         attr_str(st->file, "job_name", spec->name) == 0 &&
         attr_str(st->file, "job_file", job_file) == 0 &&
         attr_str(st->file, "job_text", job_text) == 0 &&
         attr_str(st->file, "created", created) == 0 &&
         attr_int(st->file, "ranks", size) == 0 && attr_int(st->file, "n_cells", ncell) == 0 &&
         attr_int(st->file, "n_backbones", nbb) == 0 &&
         attr_int(st->file, "shard_index", shard ? shard->index : 0) == 0 &&
         attr_int(st->file, "shard_count", shard ? shard->count : 0) == 0 &&
         attr_int(st->file, "merged_from", shard ? shard->merged_from : 0) == 0 &&
         attr_str(st->file, "eval_split", job_eval_split_name(spec->finetune.eval_split)) == 0 &&
         attr_int(st->file, "keep_backbones", spec->pretrain.keep) == 0 &&
         attr_str(st->file, "openblas_config", version_openblas()) == 0 &&
         attr_str(st->file, "gsl_version", version_gsl()) == 0;
    snprintf(buf, sizeof buf, "%016llx", (unsigned long long)job_text_hash(job_text));
    ok = ok && attr_str(st->file, "job_hash", buf) == 0;
    version_hdf5(buf, sizeof buf);
    ok = ok && attr_str(st->file, "hdf5_version", buf) == 0;
    version_mpi(buf, sizeof buf);
    ok = ok && attr_str(st->file, "mpi_library", buf) == 0;
    ok = ok && write_data_group(st->file, spec) == 0;
    if (!ok)
        util_fail(err, errlen, 0, "%s: cannot write the root attributes and /data", path);
    if (!all_ok(comm, ok, err, errlen))
        goto fail;

    st->cell_type = cell_row_type(STORE_FORMAT_VERSION);
    st->bb_type = backbone_row_type();
    if (st->cell_type < 0 || st->bb_type < 0)
        ok = util_fail(err, errlen, 0, "%s: cannot build the table types", path);
    if (!all_ok(comm, ok, err, errlen))
        goto fail;
    hsize_t nc = (hsize_t)ncell, nb = (hsize_t)nbb;
    st->cells = make_dataset(st->file, "cells", st->cell_type, 1, &nc, NULL,
                             "one row per cell (fine-tuning stage): coordinates, backbone, status, "
                             "final errors, rank, times");
    st->backbones = make_dataset(st->file, "backbones", st->bb_type, 1, &nb, NULL,
                                 "one row per backbone (pre-training stage): coordinates, steps, "
                                 "key, status, rank, times");
    grp = H5Gcreate2(st->file, "curves", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (st->cells < 0 || st->backbones < 0 || grp < 0)
        ok = util_fail(err, errlen, 0, "%s: cannot create /cells, /backbones or /curves", path);
    if (!all_ok(comm, ok, err, errlen))
        goto fail;
    hsize_t dft[2] = {nc, (hsize_t)st->n_ft}, dpre[2] = {nb, (hsize_t)st->n_pre};
    ftsteps = make_dataset(grp, "finetune_step", H5T_NATIVE_INT32, 2, dft, "steps",
                           "fine-tuning step of each evaluation of the cell (0 past its last)");
    st->ft_val = make_dataset(grp, "finetune_val_error", H5T_NATIVE_FLOAT, 2, dft, "fraction",
                              "validation error after each fine-tuning evaluation (NaN: not evaluated)");
    st->ft_test = make_dataset(grp, "finetune_test_error", H5T_NATIVE_FLOAT, 2, dft, "fraction",
                               "test error after each fine-tuning evaluation (NaN: not evaluated)");
    presteps = make_dataset(grp, "pretrain_step", H5T_NATIVE_INT32, 2, dpre, "steps",
                            "pre-training step of each evaluation of the backbone (0 past its last)");
    st->pre_loss = make_dataset(grp, "pretrain_loss", H5T_NATIVE_FLOAT, 2, dpre, "nats",
                                "mean pre-training loss since the previous evaluation");
    st->pre_err = make_dataset(grp, "pretrain_error", H5T_NATIVE_FLOAT, 2, dpre, "fraction",
                               "held-out synthetic error (per output) at each evaluation");
    if (ftsteps < 0 || st->ft_val < 0 || st->ft_test < 0 || presteps < 0 || st->pre_loss < 0 ||
        st->pre_err < 0)
        ok = util_fail(err, errlen, 0, "%s: cannot create the curve datasets", path);
    if (!all_ok(comm, ok, err, errlen))
        goto fail;
    if (spec->pretrain.keep && nbb > 0) {
        wgrp = H5Gcreate2(st->file, "weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (wgrp < 0)
            ok = util_fail(err, errlen, 0, "%s: cannot create /weights", path);
        int per = nbb / spec->n_model;
        for (int m = 0; ok && m < spec->n_model; m++) {
            hsize_t dw[2] = {(hsize_t)per, (hsize_t)backbone_params(spec, m)};
            st->weights[m] = make_dataset(wgrp, spec->model[m], H5T_NATIVE_FLOAT, 2, dw, NULL,
                                          "pre-trained backbone parameters, one row per backbone of "
                                          "this model: nn's parameter block before the head");
            if (st->weights[m] < 0 || attr_int(st->weights[m], "first_backbone", st->first_bb[m]) < 0 ||
                attr_str(st->weights[m], "model", spec->model[m]) < 0)
                ok = util_fail(err, errlen, 0, "%s: cannot create /weights/%s", path, spec->model[m]);
        }
        if (!all_ok(comm, ok, err, errlen))
            goto fail;
    }
    cellscale = make_index_scale(st->file, "cell", ncell, "cell", rank);
    bbscale = make_index_scale(st->file, "backbone", nbb, "backbone", rank);
    if (cellscale < 0 || bbscale < 0)
        ok = util_fail(err, errlen, 0, "%s: cannot create the dimension scales", path);
    if (!all_ok(comm, ok, err, errlen))
        goto fail;
    hid_t on_cells[] = {st->cells, ftsteps, st->ft_val, st->ft_test};
    hid_t on_bb[] = {st->backbones, presteps, st->pre_loss, st->pre_err};
    for (int i = 0; ok && i < 4; i++)
        if (H5DSattach_scale(on_cells[i], cellscale, 0) < 0 || H5DSattach_scale(on_bb[i], bbscale, 0) < 0)
            ok = util_fail(err, errlen, 0, "%s: cannot attach the dimension scales", path);
    if (!all_ok(comm, ok, err, errlen))
        goto fail;
    /* Pending rows, the step matrices and NaN curves (and weights), written by rank 0. */
    if (fill_cells(st, ftsteps, spec, ncell, rank) != 0 || fill_backbones(st, presteps, spec, nbb, rank) != 0)
        ok = util_fail(err, errlen, 0, "%s: cannot write the pending rows (or out of memory)", path);
    hid_t nan_ds[] = {st->ft_val, st->ft_test, st->pre_loss, st->pre_err};
    for (int i = 0; ok && i < 4; i++)
        if (fill_nan(nan_ds[i], rank) != 0)
            ok = util_fail(err, errlen, 0, "%s: cannot write the empty curves", path);
    for (int m = 0; ok && m < JOB_MAX_AXIS; m++)
        if (st->weights[m] >= 0 && fill_nan(st->weights[m], rank) != 0)
            ok = util_fail(err, errlen, 0, "%s: cannot write the empty weights of %s", path, spec->model[m]);
    if (!all_ok(comm, ok, err, errlen))
        goto fail;
    if (H5Fflush(st->file, H5F_SCOPE_GLOBAL) < 0)
        ok = util_fail(err, errlen, 0, "%s: cannot flush the new layout", path);
    if (!all_ok(comm, ok, err, errlen))
        goto fail;

    H5Dclose(cellscale), H5Dclose(bbscale), H5Dclose(ftsteps), H5Dclose(presteps), H5Gclose(grp);
    if (wgrp >= 0)
        H5Gclose(wgrp);
    H5Pclose(fapl);
    *out = st;
    return 0;
fail:
    /* Every rank is here together. The file is being created and the caller removes it: rank 0
     * gives its blocks back first, so that the flushes of the closes below find space (a
     * failed close would leave HDF5 unable to shut down; see the top of this file). */
    if (rank == 0 && truncate(path, 0) != 0) {
        /* the closes may then fail to flush; nothing more can be done here */
    }
    MPI_Barrier(comm);
    if (cellscale >= 0) H5Dclose(cellscale);
    if (bbscale >= 0) H5Dclose(bbscale);
    if (ftsteps >= 0) H5Dclose(ftsteps);
    if (presteps >= 0) H5Dclose(presteps);
    if (grp >= 0) H5Gclose(grp);
    if (wgrp >= 0) H5Gclose(wgrp);
    if (fapl >= 0) H5Pclose(fapl);
    store_close(st);
    return -1;
}

/* Write n floats into row `row` of a matrix (n may be less than its width). */
static int write_curve(hid_t ds, int row, int n, const float *data)
{
    if (n == 0 || !data)
        return 0;
    hsize_t start[2] = {(hsize_t)row, 0}, count[2] = {1, (hsize_t)n};
    hid_t fs = H5Dget_space(ds), ms = H5Screate_simple(2, count, NULL);
    int rc = -1;
    if (fs >= 0 && ms >= 0 && H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
        H5Dwrite(ds, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, data) >= 0)
        rc = 0;
    if (fs >= 0) H5Sclose(fs);
    if (ms >= 0) H5Sclose(ms);
    return rc;
}

static int model_slot(const store *st, const char *model)
{
    for (int m = 0; m < st->nmodel; m++)
        if (strcmp(st->models[m], model) == 0)
            return m;
    return -1;
}

int store_write_backbone(store *st, const store_backbone_row *in, const float *loss, const float *error,
                         const float *params, char *err, size_t errlen)
{
    store_backbone_row row = *in;
    double t0 = util_clock();
    int nev = job_eval_count(row.steps, st->pre_every);
    if (nev > st->n_pre)
        return util_fail(err, errlen, -1, "%s: backbone %d has %d evaluations, more than the file's %d",
                         st->path, row.index, nev, st->n_pre);
    if (write_curve(st->pre_loss, row.index, nev, loss) != 0 || write_curve(st->pre_err, row.index, nev, error) != 0)
        return util_fail(err, errlen, -1, "%s: cannot write the curves of backbone %d", st->path, row.index);
    row.weights = 0;
    if (params) {
        int m = model_slot(st, row.model);
        if (m < 0 || st->weights[m] < 0 ||
            write_curve(st->weights[m], row.index - st->first_bb[m], (int)row.nparam, params) != 0)
            return util_fail(err, errlen, -1, "%s: cannot write the weights of backbone %d", st->path, row.index);
        row.weights = 1;
    }
    if (isnan(row.time_write) && row.status != CELL_PENDING)
        row.time_write = util_clock() - t0;
    if (write_block(st->backbones, st->bb_type, (hsize_t)row.index, 1, 0, &row, 1) != 0)
        return util_fail(err, errlen, -1, "%s: cannot write row %d of /backbones", st->path, row.index);
    return 0;
}

int store_write_cell(store *st, const store_cell_row *in, const float *val, const float *test,
                     char *err, size_t errlen)
{
    store_cell_row row = *in;
    double t0 = util_clock();
    int nev = job_eval_count(row.finetune_steps, st->ft_every);
    if (nev > st->n_ft)
        return util_fail(err, errlen, -1, "%s: cell %d has %d evaluations, more than the file's %d",
                         st->path, row.index, nev, st->n_ft);
    if (write_curve(st->ft_val, row.index, nev, val) != 0 ||
        write_curve(st->ft_test, row.index, nev, test) != 0)
        return util_fail(err, errlen, -1, "%s: cannot write the curves of cell %d", st->path, row.index);
    if (isnan(row.time_write) && row.status != CELL_PENDING)
        row.time_write = util_clock() - t0; /* a merged row keeps the time of its first write */
    if (write_block(st->cells, st->cell_type, (hsize_t)row.index, 1, 0, &row, 1) != 0)
        return util_fail(err, errlen, -1, "%s: cannot write row %d of /cells", st->path, row.index);
    return 0;
}

/* Read row `row` (nparam values) of a weights dataset. */
static int read_weights_row(hid_t ds, hsize_t row, float *params, size_t nparam)
{
    hsize_t start[2] = {row, 0}, count[2] = {1, (hsize_t)nparam}, dims[2] = {0, 0};
    hid_t fs = H5Dget_space(ds), ms = H5Screate_simple(2, count, NULL);
    int rc = -1;
    if (fs >= 0 && ms >= 0 && H5Sget_simple_extent_ndims(fs) == 2 &&
        H5Sget_simple_extent_dims(fs, dims, NULL) >= 0 && row < dims[0] && dims[1] == nparam &&
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
        H5Dread(ds, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, params) >= 0)
        rc = 0;
    if (fs >= 0) H5Sclose(fs);
    if (ms >= 0) H5Sclose(ms);
    return rc;
}

int store_read_weights(store *st, int index, const char *model, float *params, size_t nparam, char *err,
                       size_t errlen)
{
    int m = model_slot(st, model);
    if (m < 0 || st->weights[m] < 0 || index < st->first_bb[m] ||
        read_weights_row(st->weights[m], (hsize_t)(index - st->first_bb[m]), params, nparam) != 0)
        return util_fail(err, errlen, -1, "%s: cannot read the weights of backbone %d (%s)", st->path, index,
                         model);
    return 0;
}

static long long read_attr_int(hid_t loc, const char *name, long long fallback)
{
    long long v = fallback;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a >= 0) {
        if (H5Aread(a, H5T_NATIVE_LLONG, &v) < 0)
            v = fallback;
        H5Aclose(a);
    }
    return v;
}

static int read_attr_str(hid_t loc, const char *name, char **out)
{
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    hid_t ft = H5Aget_type(a);
    size_t n = ft >= 0 ? H5Tget_size(ft) : 0;
    char *buf = n ? calloc(n + 1, 1) : NULL;
    hid_t mt = str_type(n + 1);
    int rc = -1;
    if (buf && mt >= 0 && H5Tget_class(ft) == H5T_STRING && H5Aread(a, mt, buf) >= 0) {
        *out = buf;
        buf = NULL;
        rc = 0;
    }
    free(buf);
    if (mt >= 0) H5Tclose(mt);
    if (ft >= 0) H5Tclose(ft);
    H5Aclose(a);
    return rc;
}

/* The data shape of /data; 0, or -1 when the file has none (written before data: existed:
 * Fashion-MNIST) or it is damaged. */
static int read_data_group(hid_t file, data_shape *d)
{
    if (H5Lexists(file, "data", H5P_DEFAULT) <= 0)
        return -1;
    hid_t g = H5Gopen2(file, "data", H5P_DEFAULT);
    if (g < 0)
        return -1;
    memset(d, 0, sizeof *d);
    d->rows = (int)read_attr_int(g, "rows", 0);
    d->cols = (int)read_attr_int(g, "cols", 0);
    d->channels = (int)read_attr_int(g, "channels", 0);
    d->classes = (int)read_attr_int(g, "classes", 0);
    d->train_count = (int)read_attr_int(g, "train_images", 0);
    d->test_count = (int)read_attr_int(g, "test_images", 0);
    d->validation = (int)read_attr_int(g, "validation_images", 0);
    d->pool = d->train_count - d->validation;
    int rc = 0;
    if (d->rows < DATA_MIN_SIDE || d->rows > DATA_MAX_SIDE || d->cols < DATA_MIN_SIDE || d->cols > DATA_MAX_SIDE ||
        (d->channels != 1 && d->channels != 3) || d->classes < 2 || d->classes > DATA_MAX_CLASSES)
        rc = -1;
    const char *arr[2] = {"pixel_mean", "pixel_std"};
    float *dst[2] = {d->mean, d->std};
    for (int k = 0; rc == 0 && k < 2; k++) {
        hid_t a = H5Aopen(g, arr[k], H5P_DEFAULT), sp = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
        if (a < 0 || sp < 0 || H5Sget_simple_extent_npoints(sp) != d->channels ||
            H5Aread(a, H5T_NATIVE_FLOAT, dst[k]) < 0)
            rc = -1;
        if (sp >= 0) H5Sclose(sp);
        if (a >= 0) H5Aclose(a);
    }
    hid_t a = rc == 0 ? H5Aopen(g, "chance", H5P_DEFAULT) : H5I_INVALID_HID;
    if (a < 0 || H5Aread(a, H5T_NATIVE_DOUBLE, &d->chance) < 0)
        d->chance = NAN;
    if (a >= 0)
        H5Aclose(a);
    char *names = NULL;
    if (rc == 0 && read_attr_str(g, "class_names", &names) == 0)
        snprintf(d->class_names, sizeof d->class_names, "%s", names);
    free(names);
    H5Gclose(g);
    return rc;
}

/* Read a 1-D table of `type` into *out (n rows, allocated). -1, or -2 when its status
 * member is not synlaw's enum (which HDF5 would convert wrongly, or crash converting). */
static int read_table(hid_t f, const char *name, hid_t type, size_t rowsize, int *n, void **out)
{
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT), sp = H5I_INVALID_HID;
    hsize_t d = 0;
    int rc = -1;
    *out = NULL;
    if (ds >= 0)
        sp = H5Dget_space(ds);
    if (ds >= 0 && !status_type_ok(ds))
        rc = -2;
    else if (sp >= 0 && H5Sget_simple_extent_ndims(sp) == 1 && H5Sget_simple_extent_dims(sp, &d, NULL) >= 0 &&
        d < 0x7fffffff) {
        *n = (int)d;
        *out = calloc(d ? d : 1, rowsize);
        if (*out && (d == 0 || H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) >= 0))
            rc = 0;
    }
    if (rc != 0) {
        free(*out);
        *out = NULL;
    }
    if (sp >= 0) H5Sclose(sp);
    if (ds >= 0) H5Dclose(ds);
    return rc;
}

/* Read the status member of a table into status[n] (checking the values). */
static int read_statuses(hid_t ds, int n, int8_t *status)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(int8_t)), st_t = status_type();
    int rc = -1;
    if (t >= 0 && st_t >= 0 && H5Tinsert(t, "status", 0, st_t) >= 0 &&
        (n == 0 || H5Dread(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, status) >= 0)) {
        rc = 0;
        for (int i = 0; i < n; i++)
            if (status[i] < 0 || status[i] >= CELL_NSTATUS)
                rc = -1;
    }
    if (t >= 0) H5Tclose(t);
    if (st_t >= 0) H5Tclose(st_t);
    return rc;
}

static hsize_t rows_of(hid_t ds)
{
    hid_t sp = H5Dget_space(ds);
    hsize_t n = 0;
    if (sp >= 0) {
        if (H5Sget_simple_extent_ndims(sp) != 1 || H5Sget_simple_extent_dims(sp, &n, NULL) < 0)
            n = (hsize_t)-1;
        H5Sclose(sp);
    }
    return n;
}

int store_open(store **out, const char *path, MPI_Comm comm, const job_spec *spec, const char *job_text,
               const store_shard *shard, int8_t *cell_status, int8_t *backbone_status,
               int8_t *has_weights, char *err, size_t errlen)
{
    *out = NULL;
    hid_t fapl = H5I_INVALID_HID, wt = H5I_INVALID_HID;
    char *fmt = NULL, *hash = NULL;
    store *st = store_new(path, spec, comm, &fapl, err, errlen);
    if (!st)
        return -1;
    int ncell = job_cell_count(spec), nbb = job_backbone_count(spec);
    st->file = H5Fopen(path, H5F_ACC_RDWR, fapl);
    if (st->file < 0)
        FAIL("%s: cannot open to resume (not an HDF5 file, or not writable)", path);
    if (read_attr_str(st->file, "format", &fmt) != 0 || strcmp(fmt, STORE_FORMAT) != 0)
        FAIL("%s: not a synlaw results file; cannot resume it", path);
    long long version = read_attr_int(st->file, "format_version", -1);
    if (version != STORE_FORMAT_VERSION)
        FAIL("%s: written in results format %lld, this synlaw writes format %d; cannot resume it "
             "(start a new file; synlaw fit and status still read it)", path, version, STORE_FORMAT_VERSION);
    char want[24];
    snprintf(want, sizeof want, "%016llx", (unsigned long long)job_text_hash(job_text));
    if (read_attr_str(st->file, "job_hash", &hash) != 0 || strcmp(hash, want) != 0)
        FAIL("%s: holds another job (job_hash %s, this job file %s); resume with the job file "
             "that started it, or write a new file", path, hash ? hash : "?", want);
    data_shape was;
    if (read_data_group(st->file, &was) != 0)
        data_default_shape(&was); /* written before data: existed: Fashion-MNIST */
    if (!data_shape_same(&was, &spec->shape)) {
        char a[32], b[32];
        data_shape_text(&was, a, sizeof a);
        data_shape_text(&spec->shape, b, sizeof b);
        FAIL("%s: was started on other data (%s images, %d classes, %d training images, pixel mean %.4f "
             "and sd %.4f); the data now holds %s, %d, %d, %.4f and %.4f: resume with the data that "
             "started it, or write a new file", path, a, was.classes, was.train_count, (double)was.mean[0],
             (double)was.std[0], b, spec->shape.classes, spec->shape.train_count, (double)spec->shape.mean[0],
             (double)spec->shape.std[0]);
    }
    long long si = read_attr_int(st->file, "shard_index", 0), sc = read_attr_int(st->file, "shard_count", 0);
    if (si != (shard ? shard->index : 0) || sc != (shard ? shard->count : 0))
        FAIL("%s: holds shard %lld/%lld, not %d/%d", path, si, sc, shard ? shard->index : 0,
             shard ? shard->count : 0);
    st->cells = H5Dopen2(st->file, "cells", H5P_DEFAULT);
    st->backbones = H5Dopen2(st->file, "backbones", H5P_DEFAULT);
    st->ft_val = H5Dopen2(st->file, "curves/finetune_val_error", H5P_DEFAULT);
    st->ft_test = H5Dopen2(st->file, "curves/finetune_test_error", H5P_DEFAULT);
    st->pre_loss = H5Dopen2(st->file, "curves/pretrain_loss", H5P_DEFAULT);
    st->pre_err = H5Dopen2(st->file, "curves/pretrain_error", H5P_DEFAULT);
    st->cell_type = cell_row_type(STORE_FORMAT_VERSION);
    st->bb_type = backbone_row_type();
    if (st->cells < 0 || st->backbones < 0 || st->ft_val < 0 || st->ft_test < 0 || st->pre_loss < 0 ||
        st->pre_err < 0 || st->cell_type < 0 || st->bb_type < 0)
        FAIL("%s: incomplete layout (missing /cells, /backbones or /curves); cannot resume it", path);
    if (!status_type_ok(st->cells) || !status_type_ok(st->backbones))
        FAIL("%s: a table has another status type than pending/done/failed; cannot resume it", path);
    if (rows_of(st->cells) != (hsize_t)ncell || rows_of(st->backbones) != (hsize_t)nbb)
        FAIL("%s: %llu cells and %llu backbones in the file, %d and %d in the job", path,
             (unsigned long long)rows_of(st->cells), (unsigned long long)rows_of(st->backbones), ncell, nbb);
    if (read_statuses(st->cells, ncell, cell_status) != 0 || read_statuses(st->backbones, nbb, backbone_status) != 0)
        FAIL("%s: cannot read the statuses (or a status is damaged); cannot resume it", path);
    /* The weights flag of each backbone. */
    wt = H5Tcreate(H5T_COMPOUND, sizeof(int8_t));
    if (wt < 0 || H5Tinsert(wt, "weights", 0, H5T_NATIVE_INT8) < 0 ||
        (nbb && H5Dread(st->backbones, wt, H5S_ALL, H5S_ALL, H5P_DEFAULT, has_weights) < 0))
        FAIL("%s: cannot read the backbone table", path);
    if (spec->pretrain.keep)
        for (int m = 0; m < spec->n_model && nbb > 0; m++) {
            char name[JOB_NAME_LEN + 16];
            snprintf(name, sizeof name, "weights/%s", spec->model[m]);
            st->weights[m] = H5Dopen2(st->file, name, H5P_DEFAULT);
            if (st->weights[m] < 0)
                FAIL("%s: no /%s; cannot resume it", path, name);
        }
    H5Tclose(wt), H5Pclose(fapl);
    free(fmt), free(hash);
    *out = st;
    return 0;
fail:
    if (wt >= 0) H5Tclose(wt);
    if (fapl >= 0) H5Pclose(fapl);
    free(fmt), free(hash);
    store_close(st);
    return -1;
}

int store_close(store *st)
{
    if (!st)
        return 0;
    int rc = 0;
    hid_t ds[] = {st->cells, st->backbones, st->ft_val, st->ft_test, st->pre_loss, st->pre_err};
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++)
        if (ds[i] >= 0 && H5Dclose(ds[i]) < 0)
            rc = -1;
    for (int m = 0; m < JOB_MAX_AXIS; m++)
        if (st->weights[m] >= 0 && H5Dclose(st->weights[m]) < 0)
            rc = -1;
    if (st->cell_type >= 0)
        H5Tclose(st->cell_type);
    if (st->bb_type >= 0)
        H5Tclose(st->bb_type);
    if (st->file >= 0) {
        if (H5Fclose(st->file) < 0)
            rc = -1;
        else if (st->rank == 0)
            release_space(st->path);
    }
    free(st->path);
    free(st);
    return rc;
}

/* Read a whole float matrix [rows, cols] into *out (allocated); *cols receives its width. */
static int read_matrix(hid_t f, const char *name, int rows, int *cols, float **out)
{
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT), sp = H5I_INVALID_HID;
    hsize_t d[2] = {0, 0};
    int rc = -1;
    if (ds >= 0)
        sp = H5Dget_space(ds);
    if (sp >= 0 && H5Sget_simple_extent_ndims(sp) == 2 && H5Sget_simple_extent_dims(sp, d, NULL) >= 0 &&
        (int)d[0] == rows && d[1] < 1000000) {
        *cols = (int)d[1];
        *out = malloc(sizeof(float) * (size_t)(d[0] * d[1] + 1));
        if (*out && (d[0] * d[1] == 0 || H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) >= 0))
            rc = 0;
    }
    if (sp >= 0) H5Sclose(sp);
    if (ds >= 0) H5Dclose(ds);
    return rc;
}

/* Open path read-only, serially, without HDF5's file lock: a run in progress holds an
 * exclusive lock on its file, and reading while it writes is safe (the layout is fixed at
 * creation; only raw data changes), which is what status and merge of live shards need. */
static hid_t open_readonly(const char *path)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0)
        H5Pset_file_locking(fapl, 0, 1);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl >= 0 ? fapl : H5P_DEFAULT);
    if (fapl >= 0)
        H5Pclose(fapl);
    return f;
}

/* Whether the rows of a format 2 file are the stages of its stored job's grid: the same
 * coordinates and names. Whatever reads the file (fit, status, merge, resume) then sees only
 * the job's model and task names, which its parser validated. 0, or -1 with err. */
static int check_grid(const store_results *r, const char *path, char *err, size_t errlen)
{
    job_spec spec;
    char why[512];
    if (job_parse_grid(&spec, r->job_text, "(stored job)", 0, why, sizeof why) != 0)
        return util_fail(err, errlen, -1, "%s: its stored job text does not parse: %s", path, why);
    if (job_cell_count(&spec) != r->ncell || job_backbone_count(&spec) != r->nbackbone)
        return util_fail(err, errlen, -1, "%s: %d cells and %d backbones in the file, %d and %d in its job", path,
                         r->ncell, r->nbackbone, job_cell_count(&spec), job_backbone_count(&spec));
    job_cell *cells = malloc(sizeof *cells * (size_t)(r->ncell + 1));
    job_backbone *bb = malloc(sizeof *bb * (size_t)(r->nbackbone + 1));
    int rc = 0;
    if (!cells || !bb)
        rc = util_fail(err, errlen, -1, "%s: out of memory for %d cells", path, r->ncell);
    if (rc == 0) {
        job_cells(&spec, cells);
        job_backbones(&spec, bb);
    }
    for (int i = 0; rc == 0 && i < r->ncell; i++) {
        const store_cell_row *w = &r->rows[i];
        const job_cell *c = &cells[i];
        if (w->pretrain_size != c->size || strcmp(w->model, spec.model[c->model]) != 0 ||
            w->complexity != c->complexity || strcmp(w->pretrain_task, job_task_name(c->task)) != 0 ||
            w->finetune_size != c->ftsize || w->repeat != c->repeat || w->backbone != c->backbone)
            rc = util_fail(err, errlen, -1, "%s: /cells row %d (n %lld, model '%s', task '%s') is not cell %d of "
                           "its job's grid", path, i, (long long)w->pretrain_size, w->model, w->pretrain_task, i);
    }
    for (int i = 0; rc == 0 && i < r->nbackbone; i++) {
        const store_backbone_row *w = &r->bb[i];
        const job_backbone *b = &bb[i];
        if (w->pretrain_size != b->size || strcmp(w->model, spec.model[b->model]) != 0 ||
            w->complexity != b->complexity || strcmp(w->pretrain_task, job_task_name(b->task)) != 0 ||
            w->repeat != b->repeat)
            rc = util_fail(err, errlen, -1, "%s: /backbones row %d (n %lld, model '%s', task '%s') is not "
                           "backbone %d of its job's grid", path, i, (long long)w->pretrain_size, w->model,
                           w->pretrain_task, i);
    }
    free(cells), free(bb);
    return rc;
}

/* The job of a format 1 file (for its eval split and fine-tuning recipe); 0 or -1. */
static int v1_job(job_spec *spec, const char *job_text)
{
    char err[256];
    return job_parse_grid(spec, job_text, "(stored job)", 0, err, sizeof err);
}

int store_read(store_results *out, const char *path, int curves, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    hid_t f = H5I_INVALID_HID, t = H5I_INVALID_HID, bt = H5I_INVALID_HID;
    char *fmt = NULL;
    float *v1 = NULL;
    int v1_val = 0;
    job_spec v1spec;
    f = open_readonly(path);
    if (f < 0)
        FAIL("%s: cannot open as HDF5 (missing, unreadable, or not an HDF5 file)", path);
    if (read_attr_str(f, "format", &fmt) != 0 || strcmp(fmt, STORE_FORMAT) != 0)
        FAIL("%s: not a synlaw results file (no format=\"%s\" attribute)", path, STORE_FORMAT);
    long long version = read_attr_int(f, "format_version", -1);
    if (version != 1 && version != STORE_FORMAT_VERSION)
        FAIL("%s: format_version %lld is not supported (this synlaw reads versions 1 and %d)", path,
             version, STORE_FORMAT_VERSION);
    out->version = (int)version;
    if (read_attr_str(f, "job_text", &out->job_text) != 0)
        FAIL("%s: no job_text attribute", path);
    char *s = NULL;
    if (read_attr_str(f, "job_name", &s) == 0) {
        snprintf(out->job_name, sizeof out->job_name, "%s", s);
        free(s);
    }
    if (read_attr_str(f, "job_hash", &s) == 0) {
        snprintf(out->job_hash, sizeof out->job_hash, "%s", s);
        free(s);
    }
    out->shard.index = (int)read_attr_int(f, "shard_index", 0);
    out->shard.count = (int)read_attr_int(f, "shard_count", 0);
    out->shard.merged_from = (int)read_attr_int(f, "merged_from", 0);
    out->has_data = read_data_group(f, &out->shape) == 0;
    if (!out->has_data)
        data_default_shape(&out->shape); /* before data: existed, the data was Fashion-MNIST */
    t = cell_row_type(out->version);
    bt = backbone_row_type();
    if (t < 0 || bt < 0)
        FAIL("out of memory");
    /* Format 1 rows lack the members of format 2: give those their pending values first. */
    void *rows = NULL;
    int rt = read_table(f, "cells", t, sizeof *out->rows, &out->ncell, &rows);
    if (rt == -2)
        FAIL("%s: /cells has another status type than synlaw's enum (pending 0, done 1, failed 2); not a "
             "results file this synlaw can read", path);
    if (rt != 0)
        FAIL("%s: cannot read /cells (missing, damaged, or another layout than synlaw's)", path);
    out->rows = rows;
    for (int i = 0; i < out->ncell; i++) { /* HDF5 copies fixed strings as they are stored */
        store_cell_row *r = &out->rows[i];
        r->model[sizeof r->model - 1] = r->pretrain_task[sizeof r->pretrain_task - 1] = '\0';
        r->reason[sizeof r->reason - 1] = '\0';
    }
    for (int i = 0; i < out->ncell; i++) {
        store_cell_row *r = &out->rows[i];
        if (r->status < 0 || r->status >= CELL_NSTATUS || r->index != i)
            FAIL("%s: /cells row %d is damaged (status %d, index %d)", path, i, r->status, r->index);
        if (out->version == 1) {
            if (i == 0 && v1_job(&v1spec, out->job_text) != 0)
                FAIL("%s: the stored job text does not parse", path);
            v1_val = v1spec.finetune.eval_split == EVAL_VALIDATION;
            r->backbone = -1;
            r->finetune_lr = r->pretrain_size == 0 && v1spec.finetune.scratch_lr > 0 ? v1spec.finetune.scratch_lr
                                                                                       : v1spec.finetune.lr;
            r->finetune_steps = v1spec.finetune.steps;
            r->finetune_freeze = 0;
            r->final_val_error = v1_val ? r->final_error : NAN;
            r->final_test_error = v1_val ? NAN : r->final_error;
            int known = 0; /* names from the job, as check_grid makes sure for format 2 */
            for (int m = 0; m < v1spec.n_model; m++)
                known |= strcmp(r->model, v1spec.model[m]) == 0;
            for (int t = -1; t < TASK_COUNT; t++)
                known |= (strcmp(r->pretrain_task, job_task_name(t)) == 0) << 1;
            if (known != 3)
                FAIL("%s: /cells row %d (model '%s', task '%s') does not belong to its job", path, i, r->model,
                     r->pretrain_task);
        }
    }
    if (out->version >= 2) {
        void *bb = NULL;
        rt = read_table(f, "backbones", bt, sizeof *out->bb, &out->nbackbone, &bb);
        if (rt == -2)
            FAIL("%s: /backbones has another status type than synlaw's enum (pending 0, done 1, failed 2); "
                 "not a results file this synlaw can read", path);
        if (rt != 0)
            FAIL("%s: cannot read /backbones (missing or damaged)", path);
        out->bb = bb;
        for (int i = 0; i < out->nbackbone; i++) {
            store_backbone_row *r = &out->bb[i];
            r->model[sizeof r->model - 1] = r->pretrain_task[sizeof r->pretrain_task - 1] = '\0';
            r->reason[sizeof r->reason - 1] = '\0';
        }
        for (int i = 0; i < out->nbackbone; i++)
            if (out->bb[i].status < 0 || out->bb[i].status >= CELL_NSTATUS || out->bb[i].index != i)
                FAIL("%s: /backbones row %d is damaged", path, i);
        for (int i = 0; i < out->ncell; i++)
            if (out->rows[i].backbone < -1 || out->rows[i].backbone >= out->nbackbone)
                FAIL("%s: /cells row %d names backbone %d of %d", path, i, out->rows[i].backbone, out->nbackbone);
        if (check_grid(out, path, err, errlen) != 0)
            goto fail;
    }
    if (curves && out->version >= 2) {
        if (read_matrix(f, "curves/finetune_val_error", out->ncell, &out->n_ft, &out->ft_val) != 0 ||
            read_matrix(f, "curves/finetune_test_error", out->ncell, &out->n_ft, &out->ft_test) != 0 ||
            read_matrix(f, "curves/pretrain_loss", out->nbackbone, &out->n_pre, &out->pre_loss) != 0 ||
            read_matrix(f, "curves/pretrain_error", out->nbackbone, &out->n_pre, &out->pre_error) != 0)
            FAIL("%s: cannot read the curves", path);
    } else if (curves) { /* format 1: one fine-tuning curve, on the job's eval split */
        if (read_matrix(f, "curves/finetune_error", out->ncell, &out->n_ft, &v1) != 0)
            FAIL("%s: cannot read the curves", path);
        size_t n = (size_t)out->ncell * (size_t)out->n_ft + 1;
        float *nan = malloc(sizeof *nan * n);
        if (!nan)
            FAIL("out of memory");
        for (size_t i = 0; i < n; i++)
            nan[i] = NAN;
        out->ft_val = v1_val ? v1 : nan;
        out->ft_test = v1_val ? nan : v1;
        v1 = NULL;
    }
    H5Tclose(t), H5Tclose(bt), H5Fclose(f);
    free(fmt);
    return 0;
fail:
    if (t >= 0) H5Tclose(t);
    if (bt >= 0) H5Tclose(bt);
    if (f >= 0) H5Fclose(f);
    free(fmt);
    free(v1);
    store_results_free(out);
    return -1;
}

void store_results_free(store_results *r)
{
    if (!r)
        return;
    free(r->rows);
    free(r->bb);
    free(r->job_text);
    free(r->ft_val);
    free(r->ft_test);
    free(r->pre_loss);
    free(r->pre_error);
    memset(r, 0, sizeof *r);
}

struct store_reader {
    hid_t file;
    char *path;
};

int store_reader_open(store_reader **out, const char *path, char *err, size_t errlen)
{
    *out = calloc(1, sizeof **out);
    if (!*out || !((*out)->path = util_strdup(path))) {
        free(*out);
        *out = NULL;
        return util_fail(err, errlen, -1, "out of memory");
    }
    (*out)->file = open_readonly(path);
    if ((*out)->file < 0) {
        store_reader_close(*out);
        *out = NULL;
        return util_fail(err, errlen, -1, "%s: cannot open as HDF5", path);
    }
    return 0;
}

int store_reader_weights(store_reader *r, const store_backbone_row *row, float *params, char *err,
                         size_t errlen)
{
    char name[JOB_NAME_LEN + 16];
    snprintf(name, sizeof name, "weights/%s", row->model);
    hid_t ds = H5Dopen2(r->file, name, H5P_DEFAULT);
    long long first = ds >= 0 ? read_attr_int(ds, "first_backbone", -1) : -1;
    int rc = -1;
    if (ds >= 0 && first >= 0 && row->index >= first && row->weights &&
        read_weights_row(ds, (hsize_t)(row->index - first), params, (size_t)row->nparam) == 0)
        rc = 0;
    if (ds >= 0)
        H5Dclose(ds);
    if (rc)
        util_fail(err, errlen, -1, "%s: cannot read the weights of backbone %d from /%s", r->path,
                  row->index, name);
    return rc;
}

void store_reader_close(store_reader *r)
{
    if (!r)
        return;
    if (r->file >= 0)
        H5Fclose(r->file);
    free(r->path);
    free(r);
}

int store_write_fits(const char *path, int create, const analysis_row *rows, int n,
                     const char *group_columns, const char *source, char *err, size_t errlen)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5I_INVALID_HID, t = H5I_INVALID_HID, ds = H5I_INVALID_HID;
    off_t need = (off_t)n * (off_t)sizeof *rows + META_MARGIN;
    if (create) {
        f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        if (f < 0)
            FAIL("%s: cannot create", path);
        if (reserve_space(path, need, err, errlen) != 0)
            goto fail;
        if (attr_str(f, "format", "synlaw-fits") < 0 || attr_str(f, "synlaw_version", version_synlaw()) < 0 ||
            attr_str(f, "source", source ? source : "") < 0)
            FAIL("%s: cannot write the file attributes", path);
    } else {
        if (reserve_space(path, need, err, errlen) != 0)
            return -1;
        f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
        if (f < 0)
            FAIL("%s: cannot open for writing the fits (is a synlaw run still writing it? HDF5 "
                 "could not open it for writing)", path);
        if (H5Lexists(f, "fits", H5P_DEFAULT) > 0 && H5Ldelete(f, "fits", H5P_DEFAULT) < 0)
            FAIL("%s: cannot replace /fits", path);
    }
    t = fit_row_type();
    hsize_t nn = (hsize_t)n;
    if (t < 0)
        FAIL("cannot build the fit table type");
    ds = make_dataset(f, "fits", t, 1, &nn, NULL,
                      "one row per (group, law): parameters p, standard errors se, fit quality");
    if (ds < 0 || attr_str(ds, "params_simple", "D alpha C") < 0 ||
        attr_str(ds, "params_power", "D alpha") < 0 ||
        attr_str(ds, "params_full", "delta gamma alpha beta") < 0 ||
        attr_str(ds, "group_columns", group_columns ? group_columns : "") < 0)
        FAIL("%s: cannot create /fits", path);
    if (n > 0 && H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) < 0)
        FAIL("%s: cannot write /fits", path);
    H5Dclose(ds), H5Tclose(t);
    if (H5Fclose(f) < 0) {
        snprintf(err, errlen, "%s: cannot close after writing the fits", path);
        return -1;
    }
    release_space(path);
    return 0;
fail:
    if (create && f >= 0 && truncate(path, 0) != 0) {
        /* a new file, removed below: its blocks given back so that the close can flush */
    }
    if (ds >= 0) H5Dclose(ds);
    if (t >= 0) H5Tclose(t);
    if (f >= 0) H5Fclose(f);
    if (create)
        remove(path);
    return -1;
}


static hid_t gains_row_type(void)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(gains_row));
    hid_t s32 = str_type(GAINS_NAME_LEN), s16 = str_type(GAINS_WORD_LEN);
    int ok = t >= 0 && s32 >= 0 && s16 >= 0;
#define F(name, field, type) ok = ok && H5Tinsert(t, name, HOFFSET(gains_row, field), type) >= 0
    F("model", model, s32);
    F("complexity", complexity, H5T_NATIVE_INT32);
    F("pretrain_task", task, s16);
    F("finetune_size", finetune_size, H5T_NATIVE_INT64);
    F("pretrain_size", pretrain_size, H5T_NATIVE_INT64);
    F("lr", lr, H5T_NATIVE_DOUBLE);
    F("scratch_lr", scratch_lr, H5T_NATIVE_DOUBLE);
    F("steps", steps, H5T_NATIVE_INT32);
    F("scratch_steps", scratch_steps, H5T_NATIVE_INT32);
    F("freeze", freeze, H5T_NATIVE_INT8);
    F("scratch_freeze", scratch_freeze, H5T_NATIVE_INT8);
    F("settings", settings, H5T_NATIVE_INT32);
    F("selected_on", selected_on, s16);
    F("reported_on", reported_on, s16);
    F("pairs", pairs, H5T_NATIVE_INT32);
    F("pretrained", pretrained, H5T_NATIVE_DOUBLE);
    F("scratch", scratch, H5T_NATIVE_DOUBLE);
    F("gain", gain, H5T_NATIVE_DOUBLE);
    F("gain_lo", gain_lo, H5T_NATIVE_DOUBLE);
    F("gain_hi", gain_hi, H5T_NATIVE_DOUBLE);
    F("level", level, H5T_NATIVE_DOUBLE);
    F("sd", sd, H5T_NATIVE_DOUBLE);
    F("t", t, H5T_NATIVE_DOUBLE);
    F("p", p, H5T_NATIVE_DOUBLE);
    F("p_holm", p_holm, H5T_NATIVE_DOUBLE);
    F("family", family, H5T_NATIVE_INT32);
#undef F
    H5Tclose(s32), H5Tclose(s16);
    if (!ok && t >= 0) {
        H5Tclose(t);
        t = H5I_INVALID_HID;
    }
    return t;
}

int store_write_gains(const char *path, const gains_row *rows, int n, char *err, size_t errlen)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (reserve_space(path, (off_t)n * (off_t)sizeof *rows + META_MARGIN, err, errlen) != 0)
        return -1;
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT), t = H5I_INVALID_HID, ds = H5I_INVALID_HID;
    if (f < 0)
        FAIL("%s: cannot open for writing the gains", path);
    if (H5Lexists(f, "gains", H5P_DEFAULT) > 0 && H5Ldelete(f, "gains", H5P_DEFAULT) < 0)
        FAIL("%s: cannot replace /gains", path);
    t = gains_row_type();
    hsize_t nn = (hsize_t)n;
    if (t < 0)
        FAIL("cannot build the gains table type");
    ds = make_dataset(f, "gains", t, 1, &nn, NULL,
                      "pre-trained against scratch, paired by repeat: per n (pretrain_size) and averaged "
                      "over n (pretrain_size 0); gain = scratch - pre-trained error");
    if (ds < 0)
        FAIL("%s: cannot create /gains", path);
    if (n > 0 && H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) < 0)
        FAIL("%s: cannot write /gains", path);
    H5Dclose(ds), H5Tclose(t);
    if (H5Fclose(f) < 0)
        return util_fail(err, errlen, -1, "%s: cannot close after writing the gains", path);
    release_space(path);
    return 0;
fail:
    if (ds >= 0) H5Dclose(ds);
    if (t >= 0) H5Tclose(t);
    if (f >= 0) H5Fclose(f);
    return -1;
}
