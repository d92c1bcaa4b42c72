/* Results file on parallel HDF5. Every hid_t starts invalid and every call is checked; the
 * automatic HDF5 error printing is off and each failure is reported with the call and the
 * file's name instead. */
#include "synlaw/store.h"

#include "synlaw/util.h"
#include "synlaw/version.h"

#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct store {
    hid_t file;
    hid_t cells, ft_err, pre_loss, pre_err;
    hid_t cell_type;
    int n_ft, n_pre;
    char *path;   /* owned */
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

/* Compound type of store_cell_row; the caller closes it. */
static hid_t cell_row_type(void)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(store_cell_row));
    hid_t s32 = str_type(JOB_NAME_LEN), s16 = str_type(16), s160 = str_type(160), st = status_type();
    int ok = t >= 0 && s32 >= 0 && s16 >= 0 && s160 >= 0 && st >= 0;
#define F(name, field, type) ok = ok && H5Tinsert(t, name, HOFFSET(store_cell_row, field), type) >= 0
    F("index", index, H5T_NATIVE_INT32);
    F("pretrain_size", pretrain_size, H5T_NATIVE_INT64);
    F("model", model, s32);
    F("complexity", complexity, H5T_NATIVE_INT32);
    F("pretrain_task", pretrain_task, s16);
    F("finetune_size", finetune_size, H5T_NATIVE_INT64);
    F("repeat", repeat, H5T_NATIVE_INT32);
    F("seed", seed, H5T_NATIVE_UINT64);
    F("status", status, st);
    F("rank", rank, H5T_NATIVE_INT32);
    F("final_error", final_error, H5T_NATIVE_DOUBLE);
    F("wall_time", wall_time, H5T_NATIVE_DOUBLE);
    F("time_generate", time_generate, H5T_NATIVE_DOUBLE);
    F("time_pretrain", time_pretrain, H5T_NATIVE_DOUBLE);
    F("time_finetune", time_finetune, H5T_NATIVE_DOUBLE);
    F("time_evaluate", time_evaluate, H5T_NATIVE_DOUBLE);
    F("time_write", time_write, H5T_NATIVE_DOUBLE);
    F("reason", reason, s160);
#undef F
    H5Tclose(s32), H5Tclose(s16), H5Tclose(s160), H5Tclose(st);
    if (!ok && t >= 0) {
        H5Tclose(t);
        t = H5I_INVALID_HID;
    }
    return t;
}

/* Whether /cells (ds) has the status enum of this synlaw (names and values): a file with
 * another enum would be misread (or crash HDF5's conversion), so readers refuse it. */
static int cells_type_ok(hid_t ds)
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
    F("law", law, s16);
    F("loss", loss, s16);
    F("n_points", n_points, H5T_NATIVE_INT32);
    F("n_sizes", n_sizes, H5T_NATIVE_INT32);
    F("p", p, a4);
    F("se", se, a4);
    F("ci_lo", ci_lo, a4);
    F("ci_hi", ci_hi, a4);
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

/* Create a 1- or 2-D dataset; float datasets are filled with NaN. */
static hid_t make_dataset(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims,
                          const char *units, const char *description)
{
    hid_t sp = H5Screate_simple(rank, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t ds = H5I_INVALID_HID;
    if (sp >= 0 && dcpl >= 0 && H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) >= 0) {
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

/* An int32 dimension scale holding values[0..n-1], written by rank 0. */
static hid_t make_scale(hid_t loc, const char *name, const int *values, hsize_t n, const char *label,
                        int rank)
{
    hid_t ds = make_dataset(loc, name, H5T_NATIVE_INT32, 1, &n, NULL, NULL);
    if (ds < 0)
        return ds;
    if (H5DSset_scale(ds, label) < 0) {
        H5Dclose(ds);
        return H5I_INVALID_HID;
    }
    hsize_t one = 1;
    hid_t fs = H5Dget_space(ds), ms = H5Screate_simple(1, n ? &n : &one, NULL);
    herr_t w = -1;
    int mine = rank == 0 && n > 0; /* rank 0 writes, the others take part with nothing */
    if (fs >= 0 && ms >= 0 && (mine || (H5Sselect_none(fs) >= 0 && H5Sselect_none(ms) >= 0)))
        w = H5Dwrite(ds, H5T_NATIVE_INT32, ms, fs, H5P_DEFAULT, values);
    if (fs >= 0) H5Sclose(fs);
    if (ms >= 0) H5Sclose(ms);
    if (w < 0) {
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
    row->repeat = cell->repeat;
    row->seed = job_cell_seed(spec, cell);
    row->status = CELL_PENDING;
    row->rank = -1;
    row->final_error = row->wall_time = NAN;
    row->time_generate = row->time_pretrain = row->time_finetune = row->time_evaluate = NAN;
    row->time_write = NAN;
}

/* A store for path with every handle invalid and the curve lengths of spec, and in *fapl
 * an MPI-IO file-access list over comm: the common start of store_create and store_open.
 * NULL with err set on failure (nothing to release then). */
static store *store_new(const char *path, const job_spec *spec, MPI_Comm comm, hid_t *fapl,
                        char *err, size_t errlen)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    store *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    st->file = st->cells = st->ft_err = st->pre_loss = st->pre_err = st->cell_type = H5I_INVALID_HID;
    st->path = util_strdup(path);
    if (!st->path) {
        snprintf(err, errlen, "out of memory");
        free(st);
        return NULL;
    }
    st->n_ft = job_eval_count(&spec->finetune);
    st->n_pre = job_eval_count(&spec->pretrain);
    *fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (*fapl < 0 || H5Pset_fapl_mpio(*fapl, comm, MPI_INFO_NULL) < 0) {
        snprintf(err, errlen, "%s: cannot set up MPI-IO file access", path);
        if (*fapl >= 0)
            H5Pclose(*fapl);
        free(st->path);
        free(st);
        return NULL;
    }
    return st;
}

int store_create(store **out, const char *path, MPI_Comm comm, const job_spec *spec,
                 const char *job_text, const char *job_file, const store_shard *shard,
                 char *err, size_t errlen)
{
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    *out = NULL;
    hid_t fapl = H5I_INVALID_HID, grp = H5I_INVALID_HID, cellscale = H5I_INVALID_HID;
    hid_t ftscale = H5I_INVALID_HID, prescale = H5I_INVALID_HID;
    job_cell *cells = NULL;
    store_cell_row *rows = NULL;
    int *steps = NULL;
    store *st = store_new(path, spec, comm, &fapl, err, errlen);
    if (!st)
        return -1;
    int ncell = job_cell_count(spec);

    st->file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (st->file < 0)
        FAIL("%s: cannot create the results file (does the directory exist and is it writable? "
             "is another run writing it?)", path);

    char buf[512], created[64];
    time_t now = time(NULL);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    int ok = attr_str(st->file, "format", STORE_FORMAT) == 0 &&
             attr_int(st->file, "format_version", STORE_FORMAT_VERSION) == 0 &&
             attr_str(st->file, "synlaw_version", version_synlaw()) == 0 &&
             attr_str(st->file, "job_name", spec->name) == 0 &&
             attr_str(st->file, "job_file", job_file) == 0 &&
             attr_str(st->file, "job_text", job_text) == 0 &&
             attr_str(st->file, "created", created) == 0 &&
             attr_int(st->file, "ranks", size) == 0 && attr_int(st->file, "n_cells", ncell) == 0 &&
             attr_int(st->file, "shard_index", shard ? shard->index : 0) == 0 &&
             attr_int(st->file, "shard_count", shard ? shard->count : 0) == 0 &&
             attr_int(st->file, "merged_from", shard ? shard->merged_from : 0) == 0 &&
             attr_str(st->file, "openblas_config", version_openblas()) == 0 &&
             attr_str(st->file, "gsl_version", version_gsl()) == 0;
    snprintf(buf, sizeof buf, "%016llx", (unsigned long long)job_text_hash(job_text));
    ok = ok && attr_str(st->file, "job_hash", buf) == 0;
    version_hdf5(buf, sizeof buf);
    ok = ok && attr_str(st->file, "hdf5_version", buf) == 0;
    version_mpi(buf, sizeof buf);
    ok = ok && attr_str(st->file, "mpi_library", buf) == 0;
    if (!ok)
        FAIL("%s: cannot write the root attributes", path);

    st->cell_type = cell_row_type();
    if (st->cell_type < 0)
        FAIL("%s: cannot build the cell table type", path);
    hsize_t nc = (hsize_t)ncell;
    st->cells = make_dataset(st->file, "cells", st->cell_type, 1, &nc, NULL,
                             "one row per cell: coordinates, seed, status, rank, times");
    grp = H5Gcreate2(st->file, "curves", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dft[2] = {nc, (hsize_t)st->n_ft}, dpre[2] = {nc, (hsize_t)st->n_pre};
    if (st->cells < 0 || grp < 0)
        FAIL("%s: cannot create /cells or /curves", path);
    st->ft_err = make_dataset(grp, "finetune_error", H5T_NATIVE_FLOAT, 2, dft, "fraction",
                              "real test error after each fine-tuning evaluation step");
    st->pre_loss = make_dataset(grp, "pretrain_loss", H5T_NATIVE_FLOAT, 2, dpre, "nats",
                                "mean pre-training loss since the previous evaluation");
    st->pre_err = make_dataset(grp, "pretrain_error", H5T_NATIVE_FLOAT, 2, dpre, "fraction",
                               "held-out synthetic error (per output) at each evaluation");
    if (st->ft_err < 0 || st->pre_loss < 0 || st->pre_err < 0)
        FAIL("%s: cannot create the curve datasets", path);

    int maxn = ncell > st->n_ft ? ncell : st->n_ft;
    steps = malloc(((size_t)(maxn > st->n_pre ? maxn : st->n_pre) + 1) * sizeof(int));
    cells = malloc(((size_t)ncell + 1) * sizeof *cells);
    rows = malloc(((size_t)ncell + 1) * sizeof *rows);
    if (!steps || !cells || !rows)
        FAIL("out of memory for the cell table");
    for (int i = 0; i < ncell; i++)
        steps[i] = i;
    cellscale = make_scale(st->file, "cell", steps, nc, "cell", rank);
    job_eval_steps(&spec->finetune, steps);
    ftscale = make_scale(grp, "finetune_step", steps, (hsize_t)st->n_ft, "finetune step", rank);
    job_eval_steps(&spec->pretrain, steps);
    prescale = make_scale(grp, "pretrain_step", steps, (hsize_t)st->n_pre, "pretrain step", rank);
    if (cellscale < 0 || ftscale < 0 || prescale < 0)
        FAIL("%s: cannot create the dimension scales", path);
    if (H5DSattach_scale(st->cells, cellscale, 0) < 0 || H5DSattach_scale(st->ft_err, cellscale, 0) < 0 ||
        H5DSattach_scale(st->ft_err, ftscale, 1) < 0 || H5DSattach_scale(st->pre_loss, cellscale, 0) < 0 ||
        H5DSattach_scale(st->pre_loss, prescale, 1) < 0 || H5DSattach_scale(st->pre_err, cellscale, 0) < 0 ||
        H5DSattach_scale(st->pre_err, prescale, 1) < 0)
        FAIL("%s: cannot attach the dimension scales", path);

    /* Pending rows, written once by rank 0. */
    job_cells(spec, cells);
    for (int i = 0; i < ncell; i++)
        store_cell_row_init(&rows[i], spec, &cells[i]);
    hsize_t one = 1;
    hid_t fs = H5Dget_space(st->cells), ms = H5Screate_simple(1, nc ? &nc : &one, NULL);
    herr_t w = -1;
    int mine = rank == 0 && nc > 0;
    if (fs >= 0 && ms >= 0 && (mine || (H5Sselect_none(fs) >= 0 && H5Sselect_none(ms) >= 0)))
        w = H5Dwrite(st->cells, st->cell_type, ms, fs, H5P_DEFAULT, rows);
    if (fs >= 0) H5Sclose(fs);
    if (ms >= 0) H5Sclose(ms);
    if (w < 0)
        FAIL("%s: cannot write the cell table", path);
    if (H5Fflush(st->file, H5F_SCOPE_GLOBAL) < 0)
        FAIL("%s: cannot flush the new layout", path);
    MPI_Barrier(comm);

    H5Dclose(cellscale), H5Dclose(ftscale), H5Dclose(prescale), H5Gclose(grp), H5Pclose(fapl);
    free(steps), free(cells), free(rows);
    *out = st;
    return 0;
fail:
    if (cellscale >= 0) H5Dclose(cellscale);
    if (ftscale >= 0) H5Dclose(ftscale);
    if (prescale >= 0) H5Dclose(prescale);
    if (grp >= 0) H5Gclose(grp);
    if (fapl >= 0) H5Pclose(fapl);
    free(steps), free(cells), free(rows);
    store_close(st);
    return -1;
}

static int write_row(hid_t ds, int row, int n, const float *data)
{
    if (n == 0)
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

int store_write_cell(store *st, const store_cell_row *in, const float *ft, const float *pl,
                     const float *pe, char *err, size_t errlen)
{
    store_cell_row copy = *in, *row = &copy;
    double t0 = util_clock();
    if ((ft && write_row(st->ft_err, row->index, st->n_ft, ft) != 0) ||
        (pl && write_row(st->pre_loss, row->index, st->n_pre, pl) != 0) ||
        (pe && write_row(st->pre_err, row->index, st->n_pre, pe) != 0)) {
        snprintf(err, errlen, "%s: cannot write the curves of cell %d", st->path, row->index);
        return -1;
    }
    if (isnan(row->time_write) && row->status != CELL_PENDING)
        row->time_write = util_clock() - t0; /* a merged row keeps the time of its first write */
    hsize_t start = (hsize_t)row->index, one = 1;
    hid_t fs = H5Dget_space(st->cells), ms = H5Screate_simple(1, &one, NULL);
    int rc = -1;
    if (fs >= 0 && ms >= 0 && H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &one, NULL) >= 0 &&
        H5Dwrite(st->cells, st->cell_type, ms, fs, H5P_DEFAULT, row) >= 0)
        rc = 0;
    if (fs >= 0) H5Sclose(fs);
    if (ms >= 0) H5Sclose(ms);
    if (rc != 0)
        snprintf(err, errlen, "%s: cannot write row %d of /cells", st->path, row->index);
    return rc;
}


static int read_attr_str(hid_t loc, const char *name, char **out);

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

int store_open(store **out, const char *path, MPI_Comm comm, const job_spec *spec,
               const char *job_text, const store_shard *shard, int8_t *status, char *err,
               size_t errlen)
{
    *out = NULL;
    hid_t fapl = H5I_INVALID_HID, t = H5I_INVALID_HID, st_t = H5I_INVALID_HID;
    char *fmt = NULL, *hash = NULL;
    store *st = store_new(path, spec, comm, &fapl, err, errlen);
    if (!st)
        return -1;
    int ncell = job_cell_count(spec);
    st->file = H5Fopen(path, H5F_ACC_RDWR, fapl);
    if (st->file < 0)
        FAIL("%s: cannot open to resume (not an HDF5 file, or not writable)", path);
    if (read_attr_str(st->file, "format", &fmt) != 0 || strcmp(fmt, STORE_FORMAT) != 0)
        FAIL("%s: not a synlaw results file; cannot resume it", path);
    if (read_attr_int(st->file, "format_version", -1) != STORE_FORMAT_VERSION)
        FAIL("%s: written by another synlaw format version; cannot resume it", path);
    char want[24];
    snprintf(want, sizeof want, "%016llx", (unsigned long long)job_text_hash(job_text));
    if (read_attr_str(st->file, "job_hash", &hash) != 0 || strcmp(hash, want) != 0)
        FAIL("%s: holds another job (job_hash %s, this job file %s); resume with the job file "
             "that started it, or write a new file", path, hash ? hash : "?", want);
    long long si = read_attr_int(st->file, "shard_index", 0), sc = read_attr_int(st->file, "shard_count", 0);
    if (si != (shard ? shard->index : 0) || sc != (shard ? shard->count : 0))
        FAIL("%s: holds shard %lld/%lld, not %d/%d", path, si, sc, shard ? shard->index : 0,
             shard ? shard->count : 0);
    st->cells = H5Dopen2(st->file, "cells", H5P_DEFAULT);
    st->ft_err = H5Dopen2(st->file, "curves/finetune_error", H5P_DEFAULT);
    st->pre_loss = H5Dopen2(st->file, "curves/pretrain_loss", H5P_DEFAULT);
    st->pre_err = H5Dopen2(st->file, "curves/pretrain_error", H5P_DEFAULT);
    st->cell_type = cell_row_type();
    if (st->cells < 0 || st->ft_err < 0 || st->pre_loss < 0 || st->pre_err < 0 || st->cell_type < 0)
        FAIL("%s: incomplete layout (missing /cells or /curves); cannot resume it", path);
    if (!cells_type_ok(st->cells))
        FAIL("%s: /cells has another status type than pending/done/failed; cannot resume it", path);
    hid_t sp = H5Dget_space(st->cells);
    hsize_t n = 0;
    if (sp >= 0)
        H5Sget_simple_extent_dims(sp, &n, NULL);
    if (sp >= 0)
        H5Sclose(sp);
    if ((int)n != ncell)
        FAIL("%s: %llu cells in the file, %d in the job", path, (unsigned long long)n, ncell);
    /* Only the status member of each row. */
    t = H5Tcreate(H5T_COMPOUND, sizeof(int8_t));
    st_t = status_type();
    if (t < 0 || st_t < 0 || H5Tinsert(t, "status", 0, st_t) < 0 ||
        (ncell && H5Dread(st->cells, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, status) < 0))
        FAIL("%s: cannot read the cell statuses", path);
    for (int i = 0; i < ncell; i++)
        if (status[i] < 0 || status[i] >= CELL_NSTATUS)
            FAIL("%s: /cells row %d has a damaged status (%d); cannot resume it", path, i, status[i]);
    H5Tclose(t), H5Tclose(st_t), H5Pclose(fapl);
    free(fmt), free(hash);
    *out = st;
    return 0;
fail:
    if (t >= 0) H5Tclose(t);
    if (st_t >= 0) H5Tclose(st_t);
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
    hid_t ids[5] = {st->cells, st->ft_err, st->pre_loss, st->pre_err, H5I_INVALID_HID};
    for (int i = 0; i < 4; i++)
        if (ids[i] >= 0 && H5Dclose(ids[i]) < 0)
            rc = -1;
    if (st->cell_type >= 0)
        H5Tclose(st->cell_type);
    if (st->file >= 0 && H5Fclose(st->file) < 0)
        rc = -1;
    free(st->path);
    free(st);
    return rc;
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

/* Read a whole float matrix [rows, cols] into *out (allocated). */
static int read_matrix(hid_t f, const char *name, int rows, int *cols, float **out)
{
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT), sp = H5I_INVALID_HID;
    hsize_t d[2] = {0, 0};
    int rc = -1;
    if (ds >= 0)
        sp = H5Dget_space(ds);
    if (sp >= 0 && H5Sget_simple_extent_ndims(sp) == 2 && H5Sget_simple_extent_dims(sp, d, NULL) >= 0 &&
        (int)d[0] == rows) {
        *cols = (int)d[1];
        *out = malloc(sizeof(float) * (size_t)(d[0] * d[1] + 1));
        if (*out && (d[0] * d[1] == 0 || H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) >= 0))
            rc = 0;
    }
    if (sp >= 0) H5Sclose(sp);
    if (ds >= 0) H5Dclose(ds);
    return rc;
}

int store_read(store_results *out, const char *path, int curves, char *err, size_t errlen)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    memset(out, 0, sizeof *out);
    hid_t f = H5I_INVALID_HID, ds = H5I_INVALID_HID, sp = H5I_INVALID_HID, t = H5I_INVALID_HID;
    char *fmt = NULL;
    /* Without HDF5's file lock: a run in progress holds an exclusive lock on its file, and
     * reading its cells while it writes is safe (the layout is fixed at creation; only raw
     * data changes), which is what status and merge of live shards need. */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0)
        H5Pset_file_locking(fapl, 0, 1);
    f = H5Fopen(path, H5F_ACC_RDONLY, fapl >= 0 ? fapl : H5P_DEFAULT);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (f < 0)
        FAIL("%s: cannot open as HDF5 (missing, unreadable, or not an HDF5 file)", path);
    if (read_attr_str(f, "format", &fmt) != 0 || strcmp(fmt, STORE_FORMAT) != 0)
        FAIL("%s: not a synlaw results file (no format=\"%s\" attribute)", path, STORE_FORMAT);
    long long version = 0;
    hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
    if (a < 0 || H5Aread(a, H5T_NATIVE_LLONG, &version) < 0) {
        if (a >= 0) H5Aclose(a);
        FAIL("%s: no format_version attribute", path);
    }
    H5Aclose(a);
    if (version != STORE_FORMAT_VERSION)
        FAIL("%s: format_version %lld is not supported (this synlaw reads version %d)", path,
             version, STORE_FORMAT_VERSION);
    if (read_attr_str(f, "job_text", &out->job_text) != 0)
        FAIL("%s: no job_text attribute", path);
    char *name = NULL;
    if (read_attr_str(f, "job_name", &name) == 0) {
        snprintf(out->job_name, sizeof out->job_name, "%s", name);
        free(name);
    }
    ds = H5Dopen2(f, "cells", H5P_DEFAULT);
    if (ds < 0)
        FAIL("%s: no /cells table", path);
    sp = H5Dget_space(ds);
    hsize_t n = 0;
    if (sp < 0 || H5Sget_simple_extent_ndims(sp) != 1 || H5Sget_simple_extent_dims(sp, &n, NULL) < 0)
        FAIL("%s: /cells is not a 1-D table", path);
    if (!cells_type_ok(ds))
        FAIL("%s: /cells has another status type than pending/done/failed (not written by this "
             "synlaw)", path);
    out->ncell = (int)n;
    out->rows = calloc(n ? n : 1, sizeof *out->rows);
    t = cell_row_type();
    if (!out->rows || t < 0)
        FAIL("out of memory");
    if (n && H5Dread(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, out->rows) < 0)
        FAIL("%s: cannot read /cells (layout differs from this synlaw's)", path);
    for (hsize_t i = 0; i < n; i++)
        if (out->rows[i].status < 0 || out->rows[i].status >= CELL_NSTATUS || out->rows[i].index != (int)i)
            FAIL("%s: /cells row %llu is damaged (status %d, index %d)", path, (unsigned long long)i,
                 out->rows[i].status, out->rows[i].index);
    char *hash = NULL;
    if (read_attr_str(f, "job_hash", &hash) == 0) {
        snprintf(out->job_hash, sizeof out->job_hash, "%s", hash);
        free(hash);
    }
    out->shard.index = (int)read_attr_int(f, "shard_index", 0);
    out->shard.count = (int)read_attr_int(f, "shard_count", 0);
    out->shard.merged_from = (int)read_attr_int(f, "merged_from", 0);
    if (curves && (read_matrix(f, "curves/finetune_error", out->ncell, &out->n_ft, &out->ft_error) != 0 ||
                   read_matrix(f, "curves/pretrain_loss", out->ncell, &out->n_pre, &out->pre_loss) != 0 ||
                   read_matrix(f, "curves/pretrain_error", out->ncell, &out->n_pre, &out->pre_error) != 0))
        FAIL("%s: cannot read the curves", path);
    H5Tclose(t), H5Sclose(sp), H5Dclose(ds), H5Fclose(f);
    free(fmt);
    return 0;
fail:
    if (t >= 0) H5Tclose(t);
    if (sp >= 0) H5Sclose(sp);
    if (ds >= 0) H5Dclose(ds);
    if (f >= 0) H5Fclose(f);
    free(fmt);
    store_results_free(out);
    return -1;
}

void store_results_free(store_results *r)
{
    if (!r)
        return;
    free(r->rows);
    free(r->job_text);
    free(r->ft_error);
    free(r->pre_loss);
    free(r->pre_error);
    memset(r, 0, sizeof *r);
}

int store_write_fits(const char *path, int create, const analysis_row *rows, int n,
                     const char *group_columns, const char *source, char *err, size_t errlen)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5I_INVALID_HID, t = H5I_INVALID_HID, ds = H5I_INVALID_HID;
    if (create) {
        f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        if (f < 0)
            FAIL("%s: cannot create", path);
        if (attr_str(f, "format", "synlaw-fits") < 0 || attr_str(f, "synlaw_version", version_synlaw()) < 0 ||
            attr_str(f, "source", source ? source : "") < 0)
            FAIL("%s: cannot write the file attributes", path);
    } else {
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
    return 0;
fail:
    if (ds >= 0) H5Dclose(ds);
    if (t >= 0) H5Tclose(t);
    if (f >= 0) H5Fclose(f);
    return -1;
}
