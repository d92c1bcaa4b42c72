/* The results file (store.h, format 2) round trip, on one MPI rank (singleton MPI_Init).
 *
 * The grid of tests/tiny.yaml in a new file; a few cells written (done with validation and
 * test curves holding NaN, -0, a denormal, FLT_MAX; a failed cell with a reason of the
 * longest length; a scratch cell; a row whose write time the store fills in) and a few
 * backbones (done with curves and weights, of both models; failed; done without weights).
 * store_read then gives every row and every curve value back bit for bit and leaves
 * pending stages with NaN curves; the weights come back bit for bit through store_reader
 * and, after resuming, store_read_weights. Resuming (store_open) returns the cell and
 * backbone statuses and the weights flags and accepts more stages; it refuses another job's
 * text or another shard with a message naming the file. /fits written by store_write_fits is
 * what was written, and the cells still read. What an outside reader sees is checked with
 * HDF5 directly: every field a named member, the step matrix of the cells. Damaged files
 * (truncated, text, empty, an HDF5 file of something else, a missing path) are refused by
 * store_read with a message naming them, not a crash.
 *
 * argv[1]: the job file tests/tiny.yaml. */
#include "check.h"
#include "synlaw/job.h"
#include "synlaw/store.h"

#include <dirent.h>
#include <float.h>
#include <hdf5.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { NEV = 3 }; /* evaluations of every curve of tiny.yaml: 30 steps, every 10 */

static char tmpdir[256];

/* tmpdir/name in one of 32 static buffers, reused round robin (main keeps fewer names). */
static const char *in_tmp(const char *name)
{
    static char buf[32][512];
    static int k;
    k = (k + 1) % 32;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static void remove_tmpdir(void)
{
    DIR *d = opendir(tmpdir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlink(in_tmp(e->d_name));
    closedir(d);
    rmdir(tmpdir);
}

static int same_double(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

#define CHECK_D(what, i, name, got, want)                                                          \
    CHECK(same_double(got, want), "%s %d: %s %.17g, want %.17g", what, i, name, (double)(got), (double)(want))

/* Every field of a cell row, doubles bit for bit. */
static void check_cell(const store_cell_row *got, const store_cell_row *w, const char *what)
{
    int c = w->index;
    CHECK(got->index == w->index && got->pretrain_size == w->pretrain_size && strcmp(got->model, w->model) == 0 &&
              got->complexity == w->complexity && strcmp(got->pretrain_task, w->pretrain_task) == 0 &&
              got->finetune_size == w->finetune_size && got->finetune_steps == w->finetune_steps &&
              got->repeat == w->repeat && got->backbone == w->backbone && got->seed == w->seed,
          "%s cell %d: coordinates (index %d n %lld model '%s' task '%s' s %lld steps %d backbone %d) differ", what,
          c, got->index, (long long)got->pretrain_size, got->model, got->pretrain_task, (long long)got->finetune_size,
          got->finetune_steps, got->backbone);
    CHECK_D(what, c, "finetune_lr", got->finetune_lr, w->finetune_lr);
    CHECK(got->status == w->status && got->rank == w->rank, "%s cell %d: status %d rank %d, want %d %d", what, c,
          got->status, got->rank, w->status, w->rank);
    CHECK_D(what, c, "final_error", got->final_error, w->final_error);
    CHECK_D(what, c, "final_val_error", got->final_val_error, w->final_val_error);
    CHECK_D(what, c, "final_test_error", got->final_test_error, w->final_test_error);
    CHECK_D(what, c, "wall_time", got->wall_time, w->wall_time);
    CHECK_D(what, c, "time_generate", got->time_generate, w->time_generate);
    CHECK_D(what, c, "time_pretrain", got->time_pretrain, w->time_pretrain);
    CHECK_D(what, c, "time_finetune", got->time_finetune, w->time_finetune);
    CHECK_D(what, c, "time_evaluate", got->time_evaluate, w->time_evaluate);
    CHECK_D(what, c, "time_write", got->time_write, w->time_write);
    CHECK(strcmp(got->reason, w->reason) == 0, "%s cell %d: reason '%s', want '%s'", what, c, got->reason, w->reason);
}

/* Every field of a backbone row. */
static void check_backbone(const store_backbone_row *got, const store_backbone_row *w, const char *what)
{
    int b = w->index;
    CHECK(got->index == w->index && got->pretrain_size == w->pretrain_size && strcmp(got->model, w->model) == 0 &&
              got->complexity == w->complexity && strcmp(got->pretrain_task, w->pretrain_task) == 0 &&
              got->repeat == w->repeat && got->steps == w->steps && got->seed == w->seed && got->key == w->key &&
              got->nparam == w->nparam,
          "%s backbone %d: coordinates, steps, seed, key or nparam differ", what, b);
    CHECK(got->status == w->status && got->weights == w->weights && got->reused == w->reused && got->rank == w->rank,
          "%s backbone %d: status %d weights %d reused %d rank %d, want %d %d %d %d", what, b, got->status,
          got->weights, got->reused, got->rank, w->status, w->weights, w->reused, w->rank);
    CHECK_D(what, b, "final_loss", got->final_loss, w->final_loss);
    CHECK_D(what, b, "final_error", got->final_error, w->final_error);
    CHECK_D(what, b, "wall_time", got->wall_time, w->wall_time);
    CHECK_D(what, b, "time_generate", got->time_generate, w->time_generate);
    CHECK_D(what, b, "time_pretrain", got->time_pretrain, w->time_pretrain);
    CHECK_D(what, b, "time_evaluate", got->time_evaluate, w->time_evaluate);
    CHECK_D(what, b, "time_write", got->time_write, w->time_write);
    CHECK(strcmp(got->reason, w->reason) == 0, "%s backbone %d: reason '%s', want '%s'", what, b, got->reason,
          w->reason);
}

/* n floats bit for bit (NaN == NaN); want NULL: every value NaN. */
static void check_curve(const float *got, const float *want, int n, int row, const char *name)
{
    for (int k = 0; k < n; k++) {
        int ok = want ? memcmp(&got[k], &want[k], sizeof(float)) == 0 : isnan(got[k]);
        CHECK(ok, "row %d %s[%d] = %.9g, want %.9g", row, name, k, got[k], want ? want[k] : NAN);
    }
}

/* The expected content of the file (curves: NULL for NaN). */
typedef struct {
    int ncell, nbb;
    store_cell_row *rows;
    store_backbone_row *bb;
    const float **val, **test, **loss, **error;
} expected;

static void check_file(const char *path, const expected *e, const char *text, const char *what)
{
    store_results r;
    char err[1024] = "";
    int rc = store_read(&r, path, 1, err, sizeof err);
    CHECK(rc == 0, "%s: store_read: %s", what, err);
    if (rc != 0)
        return;
    CHECK(r.version == STORE_FORMAT_VERSION && r.version == 2, "%s: format_version %d", what, r.version);
    CHECK(r.ncell == e->ncell && r.nbackbone == e->nbb, "%s: %d cells and %d backbones, want %d and %d", what,
          r.ncell, r.nbackbone, e->ncell, e->nbb);
    CHECK(r.n_ft == NEV && r.n_pre == NEV, "%s: curves %d and %d wide, want %d", what, r.n_ft, r.n_pre, NEV);
    CHECK(strcmp(r.job_text, text) == 0, "%s: job_text differs from the job file", what);
    CHECK(strcmp(r.job_name, "tiny") == 0, "%s: job_name '%s'", what, r.job_name);
    char hash[24];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)job_text_hash(text));
    CHECK(strcmp(r.job_hash, hash) == 0, "%s: job_hash %s, want %s", what, r.job_hash, hash);
    CHECK(r.shard.index == 0 && r.shard.count == 0 && r.shard.merged_from == 0, "%s: shard %d/%d merged %d", what,
          r.shard.index, r.shard.count, r.shard.merged_from);
    if (r.ncell == e->ncell && r.nbackbone == e->nbb && r.n_ft == NEV && r.n_pre == NEV) {
        for (int c = 0; c < e->ncell; c++) {
            check_cell(&r.rows[c], &e->rows[c], what);
            check_curve(r.ft_val + (size_t)c * NEV, e->val[c], NEV, c, "finetune_val_error");
            check_curve(r.ft_test + (size_t)c * NEV, e->test[c], NEV, c, "finetune_test_error");
        }
        for (int b = 0; b < e->nbb; b++) {
            check_backbone(&r.bb[b], &e->bb[b], what);
            check_curve(r.pre_loss + (size_t)b * NEV, e->loss[b], NEV, b, "pretrain_loss");
            check_curve(r.pre_error + (size_t)b * NEV, e->error[b], NEV, b, "pretrain_error");
        }
    }
    store_results_free(&r);
    /* Without curves: the rows alone, curve pointers NULL. */
    rc = store_read(&r, path, 0, err, sizeof err);
    CHECK(rc == 0 && !r.ft_val && !r.ft_test && !r.pre_loss && !r.pre_error, "%s: store_read without curves: %s",
          what, err);
    if (rc == 0 && r.ncell == e->ncell && r.nbackbone == e->nbb) {
        for (int c = 0; c < e->ncell; c++)
            check_cell(&r.rows[c], &e->rows[c], "without curves");
        for (int b = 0; b < e->nbb; b++)
            check_backbone(&r.bb[b], &e->bb[b], "without curves");
    }
    store_results_free(&r);
}

/* What a reader outside synlaw (h5py, h5dump) sees: a named member for every field of the
 * rows, and a subset of members read by name (HDF5 then converts member by member instead
 * of copying whole rows) gives the values written. */
typedef struct {
    int32_t index, backbone;
    double final_error, time_write;
    char model[JOB_NAME_LEN];
    char reason[STORE_REASON_LEN];
    uint64_t seed;
} cells_view;

typedef struct {
    int32_t index, steps;
    uint64_t seed, key;
    int64_t nparam;
    double final_loss;
    char reason[STORE_REASON_LEN];
} backbones_view;

static int has_members(hid_t ds, const char *const *names, int n, const char *table)
{
    hid_t ft = H5Dget_type(ds);
    int ok = ft >= 0;
    for (int k = 0; ok && k < n; k++)
        if (H5Tget_member_index(ft, names[k]) < 0) {
            CHECK(0, "/%s has no member '%s'", table, names[k]);
            ok = 0;
        }
    if (ft >= 0)
        H5Tclose(ft);
    return ok;
}

static void check_outside_view(const char *path, const expected *e)
{
    static const char *cell_names[] = {"index", "pretrain_size", "model", "complexity", "pretrain_task",
                                       "finetune_size", "finetune_lr", "finetune_steps", "repeat", "backbone",
                                       "seed", "status", "rank", "final_error", "final_val_error",
                                       "final_test_error", "wall_time", "time_generate", "time_pretrain",
                                       "time_finetune", "time_evaluate", "time_write", "reason"};
    static const char *bb_names[] = {"index", "pretrain_size", "model", "complexity", "pretrain_task", "repeat",
                                     "steps", "seed", "key", "status", "weights", "reused", "rank", "nparam",
                                     "final_loss", "final_error", "wall_time", "time_generate", "time_pretrain",
                                     "time_evaluate", "time_write", "reason"};
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t cells = f >= 0 ? H5Dopen2(f, "cells", H5P_DEFAULT) : H5I_INVALID_HID;
    hid_t bbs = f >= 0 ? H5Dopen2(f, "backbones", H5P_DEFAULT) : H5I_INVALID_HID;
    hid_t steps = f >= 0 ? H5Dopen2(f, "curves/finetune_step", H5P_DEFAULT) : H5I_INVALID_HID;
    CHECK(cells >= 0 && bbs >= 0 && steps >= 0, "%s: cannot open /cells, /backbones or /curves/finetune_step", path);
    if (cells >= 0)
        has_members(cells, cell_names, (int)(sizeof cell_names / sizeof *cell_names), "cells");
    if (bbs >= 0)
        has_members(bbs, bb_names, (int)(sizeof bb_names / sizeof *bb_names), "backbones");
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(cells_view)), s32 = H5Tcopy(H5T_C_S1), sr = H5Tcopy(H5T_C_S1);
    H5Tset_size(s32, JOB_NAME_LEN);
    H5Tset_size(sr, STORE_REASON_LEN);
    H5Tinsert(t, "index", HOFFSET(cells_view, index), H5T_NATIVE_INT32);
    H5Tinsert(t, "backbone", HOFFSET(cells_view, backbone), H5T_NATIVE_INT32);
    H5Tinsert(t, "final_error", HOFFSET(cells_view, final_error), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "time_write", HOFFSET(cells_view, time_write), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "model", HOFFSET(cells_view, model), s32);
    H5Tinsert(t, "reason", HOFFSET(cells_view, reason), sr);
    H5Tinsert(t, "seed", HOFFSET(cells_view, seed), H5T_NATIVE_UINT64);
    cells_view *v = calloc((size_t)e->ncell, sizeof *v);
    int ok = cells >= 0 && v && H5Dread(cells, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0;
    CHECK(ok, "%s: cannot read members of /cells by name", path);
    for (int c = 0; ok && c < e->ncell; c++) {
        const store_cell_row *w = &e->rows[c];
        CHECK(v[c].index == c && v[c].backbone == w->backbone && same_double(v[c].final_error, w->final_error) &&
                  same_double(v[c].time_write, w->time_write) && strcmp(v[c].model, w->model) == 0 &&
                  strcmp(v[c].reason, w->reason) == 0 && v[c].seed == w->seed,
              "%s: /cells row %d read by member name: index %d backbone %d final_error %g time_write %g model '%s' "
              "reason '%.30s' seed %llu", path, c, v[c].index, v[c].backbone, v[c].final_error, v[c].time_write,
              v[c].model, v[c].reason, (unsigned long long)v[c].seed);
    }
    hid_t bt = H5Tcreate(H5T_COMPOUND, sizeof(backbones_view));
    H5Tinsert(bt, "index", HOFFSET(backbones_view, index), H5T_NATIVE_INT32);
    H5Tinsert(bt, "steps", HOFFSET(backbones_view, steps), H5T_NATIVE_INT32);
    H5Tinsert(bt, "seed", HOFFSET(backbones_view, seed), H5T_NATIVE_UINT64);
    H5Tinsert(bt, "key", HOFFSET(backbones_view, key), H5T_NATIVE_UINT64);
    H5Tinsert(bt, "nparam", HOFFSET(backbones_view, nparam), H5T_NATIVE_INT64);
    H5Tinsert(bt, "final_loss", HOFFSET(backbones_view, final_loss), H5T_NATIVE_DOUBLE);
    H5Tinsert(bt, "reason", HOFFSET(backbones_view, reason), sr);
    backbones_view *bv = calloc((size_t)e->nbb, sizeof *bv);
    ok = bbs >= 0 && bv && H5Dread(bbs, bt, H5S_ALL, H5S_ALL, H5P_DEFAULT, bv) >= 0;
    CHECK(ok, "%s: cannot read members of /backbones by name", path);
    for (int i = 0; ok && i < e->nbb; i++) {
        const store_backbone_row *w = &e->bb[i];
        CHECK(bv[i].index == i && bv[i].steps == w->steps && bv[i].seed == w->seed && bv[i].key == w->key &&
                  bv[i].nparam == w->nparam && same_double(bv[i].final_loss, w->final_loss) &&
                  strcmp(bv[i].reason, w->reason) == 0,
              "%s: /backbones row %d read by member name: index %d steps %d seed %llu key %llx nparam %lld "
              "final_loss %g reason '%s'", path, i, bv[i].index, bv[i].steps, (unsigned long long)bv[i].seed,
              (unsigned long long)bv[i].key, (long long)bv[i].nparam, bv[i].final_loss, bv[i].reason);
    }
    free(bv);
    H5Tclose(bt);
    /* The step of each evaluation: 10, 20, 30 for every cell of tiny.yaml. */
    int *st = calloc((size_t)e->ncell * NEV, sizeof *st);
    ok = steps >= 0 && st && H5Dread(steps, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, st) >= 0;
    CHECK(ok, "%s: cannot read /curves/finetune_step as [%d, %d]", path, e->ncell, NEV);
    for (int c = 0; ok && c < e->ncell; c++)
        CHECK(st[c * NEV] == 10 && st[c * NEV + 1] == 20 && st[c * NEV + 2] == 30,
              "%s: finetune_step of cell %d is %d %d %d, want 10 20 30", path, c, st[c * NEV], st[c * NEV + 1],
              st[c * NEV + 2]);
    free(v), free(st);
    H5Tclose(t), H5Tclose(s32), H5Tclose(sr);
    if (steps >= 0) H5Dclose(steps);
    if (bbs >= 0) H5Dclose(bbs);
    if (cells >= 0) H5Dclose(cells);
    if (f >= 0) H5Fclose(f);
}

/* store_read must refuse path with a message that names it, and leave nothing allocated. */
static void expect_refused(const char *path, const char *what)
{
    store_results r;
    char err[1024] = "";
    int rc = store_read(&r, path, 1, err, sizeof err);
    CHECK(rc != 0, "%s: store_read accepted it", what);
    CHECK(strstr(err, path) != NULL, "%s: message '%s' does not name %s", what, err, path);
    CHECK(!r.rows && !r.bb && !r.job_text && !r.ft_val && !r.ft_test && !r.pre_loss && !r.pre_error,
          "%s: a refused read leaves memory behind", what);
    if (rc == 0)
        store_results_free(&r);
}

static int copy_prefix(const char *from, const char *to, double fraction)
{
    FILE *f = fopen(from, "rb"), *g = fopen(to, "wb");
    int rc = -1;
    if (f && g && fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        long keep = (long)(n * fraction);
        char *buf = malloc((size_t)n + 1);
        rewind(f);
        if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n && fwrite(buf, 1, (size_t)keep, g) == (size_t)keep)
            rc = 0;
        free(buf);
    }
    if (f)
        fclose(f);
    if (g)
        fclose(g);
    return rc;
}

/* "p", "law" and "n_points" of every /fits row, read with HDF5 directly. */
typedef struct {
    double p[4];
    char law[16];
    int n_points;
} fits_view;

static int read_fits(const char *path, fits_view *out, int max)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), ds = H5I_INVALID_HID, sp = H5I_INVALID_HID;
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(fits_view)), s16 = H5Tcopy(H5T_C_S1);
    hsize_t four = 4, n = 0;
    hid_t a4 = H5Tarray_create2(H5T_NATIVE_DOUBLE, 1, &four);
    int rc = -1;
    H5Tset_size(s16, 16);
    H5Tinsert(t, "p", HOFFSET(fits_view, p), a4);
    H5Tinsert(t, "law", HOFFSET(fits_view, law), s16);
    H5Tinsert(t, "n_points", HOFFSET(fits_view, n_points), H5T_NATIVE_INT);
    if (f >= 0)
        ds = H5Dopen2(f, "fits", H5P_DEFAULT);
    if (ds >= 0)
        sp = H5Dget_space(ds);
    if (sp >= 0 && H5Sget_simple_extent_dims(sp, &n, NULL) == 1 && (int)n <= max &&
        (n == 0 || H5Dread(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0))
        rc = (int)n;
    if (sp >= 0) H5Sclose(sp);
    if (ds >= 0) H5Dclose(ds);
    if (f >= 0) H5Fclose(f);
    H5Tclose(t), H5Tclose(s16), H5Tclose(a4);
    return rc;
}

/* Deterministic weights for backbone b: finite values with a -0 and a denormal. */
static float *make_weights(int64_t n, int b)
{
    float *w = malloc(sizeof *w * (size_t)(n + 1));
    for (int64_t i = 0; w && i < n; i++)
        w[i] = (float)((double)((i * 7919 + b * 104729) % 20001 - 10000) * 1e-4);
    if (w && n > 2)
        w[0] = -0.0f, w[1] = 1e-45f, w[n - 1] = -FLT_MAX;
    return w;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    if (argc != 2) {
        fprintf(stderr, "usage: test_store JOB.yaml (tests/tiny.yaml)\n");
        MPI_Finalize();
        return 2;
    }
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/synlaw-test-store-XXXXXX", base);
    if (!mkdtemp(tmpdir)) {
        perror(tmpdir);
        MPI_Finalize();
        return 2;
    }
    char err[1024] = "";
    char *text = job_read_file(argv[1], err, sizeof err);
    job_spec spec;
    if (!text || job_parse_grid(&spec, text, argv[1], 0, err, sizeof err) != 0) {
        CHECK(0, "cannot read %s: %s", argv[1], err);
        free(text);
        remove_tmpdir();
        MPI_Finalize();
        return test_summary("store");
    }
    expected e = {job_cell_count(&spec), job_backbone_count(&spec), NULL, NULL, NULL, NULL, NULL, NULL};
    int ncell = e.ncell, nbb = e.nbb;
    CHECK(ncell == 52 && nbb == 24, "tiny.yaml: %d cells and %d backbones, expected 52 and 24", ncell, nbb);
    CHECK(job_max_finetune_evals(&spec) == NEV && job_max_pretrain_evals(&spec) == NEV && spec.pretrain.keep,
          "tiny.yaml: %d and %d evaluations (want %d), keep %d", job_max_finetune_evals(&spec),
          job_max_pretrain_evals(&spec), NEV, spec.pretrain.keep);
    job_cell *cells = malloc(sizeof *cells * (size_t)ncell);
    job_backbone *bbs = malloc(sizeof *bbs * (size_t)nbb);
    e.rows = malloc(sizeof *e.rows * (size_t)ncell);
    e.bb = malloc(sizeof *e.bb * (size_t)nbb);
    e.val = calloc((size_t)ncell, sizeof(float *)), e.test = calloc((size_t)ncell, sizeof(float *));
    e.loss = calloc((size_t)nbb, sizeof(float *)), e.error = calloc((size_t)nbb, sizeof(float *));
    job_cells(&spec, cells);
    job_backbones(&spec, bbs);
    for (int c = 0; c < ncell; c++)
        store_cell_row_init(&e.rows[c], &spec, &cells[c]);
    for (int b = 0; b < nbb; b++)
        store_backbone_row_init(&e.bb[b], &spec, &bbs[b]);

    /* Pending rows: coordinates and seeds, no result. */
    const store_cell_row *p1 = &e.rows[1];
    CHECK(p1->status == CELL_PENDING && p1->rank == -1 && isnan(p1->final_error) && isnan(p1->final_val_error) &&
              isnan(p1->final_test_error) && isnan(p1->wall_time) && isnan(p1->time_write) && p1->reason[0] == '\0' &&
              p1->seed == job_cell_seed(&spec, &cells[1]) && p1->backbone == cells[1].backbone &&
              p1->finetune_steps == 30 && p1->finetune_lr == spec.finetune.lr,
          "store_cell_row_init: not the pending row of cell 1");
    CHECK(cells[0].size == 0 && cells[0].backbone == -1 && strcmp(e.rows[0].pretrain_task, "none") == 0 &&
              e.rows[0].backbone == -1,
          "cell 0 should be a scratch cell with task 'none' and no backbone");
    const store_backbone_row *q = &e.bb[23];
    CHECK(q->status == CELL_PENDING && q->rank == -1 && q->seed == job_backbone_seed(&spec, &bbs[23]) &&
              q->key == job_backbone_key(&spec, &bbs[23]) && q->steps == bbs[23].steps && q->nparam > 0 &&
              q->weights == 0 && q->reused == 0 && isnan(q->final_loss) && isnan(q->time_write) &&
              strcmp(q->model, "cnn-s") == 0,
          "store_backbone_row_init: not the pending row of backbone 23");

    const char *path = in_tmp("tiny.h5");
    store *st = NULL;
    int rc = store_create(&st, path, MPI_COMM_WORLD, &spec, text, argv[1], NULL, err, sizeof err);
    CHECK(rc == 0, "store_create: %s", err);
    if (rc != 0) {
        remove_tmpdir();
        MPI_Finalize();
        return test_summary("store");
    }

    /* Cells. Curve values chosen to catch any conversion: NaN, -0, the smallest denormal,
     * FLT_MAX. */
    static const float t0[NEV] = {0.9f, 0.5f, 0.25f};
    static const float v5[NEV] = {NAN, -0.0f, 0.123456789f}, t5[NEV] = {1e-45f, FLT_MAX, 0.2f};
    static const float t17[NEV] = {0.7f, NAN, NAN};
    static const float v51[NEV] = {0.31f, 0.29f, 0.28f}, t51[NEV] = {0.4f, 0.3f, 0.2f};
    store_cell_row *r = &e.rows[0]; /* scratch, done, test curve only */
    r->status = CELL_DONE, r->rank = 0, r->final_error = r->final_test_error = 0.25;
    r->wall_time = 1.5, r->time_generate = r->time_pretrain = 0, r->time_finetune = 1.25, r->time_evaluate = 0.125;
    r->time_write = 0.001;
    e.test[0] = t0;
    r = &e.rows[5]; /* pre-trained, done, both curves */
    r->status = CELL_DONE, r->rank = 3, r->final_error = 0.1 + 0.2, r->final_val_error = -0.0;
    r->final_test_error = 0.1 + 0.2, r->wall_time = 12.75, r->time_generate = 0, r->time_pretrain = 0;
    r->time_finetune = 3.25, r->time_evaluate = 1e-300, r->time_write = 0.5;
    e.val[5] = v5, e.test[5] = t5;
    r = &e.rows[17]; /* failed half way, with a reason of the longest length */
    r->status = CELL_FAILED, r->rank = 1, r->wall_time = 2.0, r->time_generate = 0.5, r->time_pretrain = 1.5;
    r->time_write = 0.0;
    memset(r->reason, 'x', sizeof r->reason - 1);
    memcpy(r->reason, "loss is NaN at step 17: ", 24);
    r->reason[sizeof r->reason - 1] = '\0';
    e.test[17] = t17;
    r = &e.rows[51]; /* done; time_write NaN: the store fills in the time of this write */
    r->status = CELL_DONE, r->rank = 0, r->final_error = r->final_test_error = 0.28, r->final_val_error = 0.3;
    r->wall_time = 3, r->time_generate = 0.25, r->time_pretrain = 1, r->time_finetune = 1, r->time_evaluate = 0.5;
    e.val[51] = v51, e.test[51] = t51;
    const int cw[4] = {0, 5, 17, 51};
    for (int k = 0; k < 4; k++) {
        int c = cw[k];
        rc = store_write_cell(st, &e.rows[c], e.val[c], e.test[c], err, sizeof err);
        CHECK(rc == 0, "store_write_cell %d: %s", c, err);
    }

    /* Backbones: 0 (mlp-s) and 23 (cnn-s) done with weights, 7 failed, 12 done without. */
    static const float l0[NEV] = {2.3f, 1.1f, 0.6f}, er0[NEV] = {0.5f, NAN, 0.25f};
    static const float l7[NEV] = {2.3f, NAN, NAN};
    static const float l12[NEV] = {2.0f, 1.0f, 0.5f}, er12[NEV] = {0.4f, 0.3f, -0.0f};
    static const float l23[NEV] = {1e-45f, FLT_MAX, 0.125f}, er23[NEV] = {0.3f, 0.2f, 0.1f};
    float *w0 = make_weights(e.bb[0].nparam, 0), *w23 = make_weights(e.bb[23].nparam, 23);
    store_backbone_row *b = &e.bb[0];
    b->status = CELL_DONE, b->weights = 1, b->rank = 0, b->final_loss = 0.6, b->final_error = 0.25;
    b->wall_time = 9.5, b->time_generate = 1, b->time_pretrain = 8, b->time_evaluate = 0.5, b->time_write = 0.25;
    e.loss[0] = l0, e.error[0] = er0;
    b = &e.bb[7];
    b->status = CELL_FAILED, b->rank = 2, b->wall_time = 1, b->time_generate = 0.5, b->time_write = 0.0;
    snprintf(b->reason, sizeof b->reason, "out of memory while rendering");
    e.loss[7] = l7;
    b = &e.bb[12];
    b->status = CELL_DONE, b->rank = 1, b->final_loss = 0.5, b->final_error = -0.0, b->wall_time = 4;
    b->time_generate = 1, b->time_pretrain = 2, b->time_evaluate = 1, b->time_write = 0;
    e.loss[12] = l12, e.error[12] = er12;
    b = &e.bb[23];
    b->status = CELL_DONE, b->weights = 1, b->reused = 1, b->rank = 0, b->final_loss = 0.125, b->final_error = 0.1;
    b->wall_time = 2, b->time_generate = 0, b->time_pretrain = 0, b->time_evaluate = 0; /* time_write NaN */
    e.loss[23] = l23, e.error[23] = er23;
    const int bw[4] = {0, 7, 12, 23};
    for (int k = 0; k < 4; k++) {
        int i = bw[k];
        const float *w = i == 0 ? w0 : i == 23 ? w23 : NULL;
        store_backbone_row in = e.bb[i];
        in.weights = 0; /* the store sets the flag from params */
        rc = store_write_backbone(st, &in, e.loss[i], e.error[i], w, err, sizeof err);
        CHECK(rc == 0, "store_write_backbone %d: %s", i, err);
    }
    CHECK(store_close(st) == 0, "store_close failed");
    CHECK(store_close(NULL) == 0, "store_close(NULL) failed");

    /* The write times the store filled in: read them, then expect them. */
    store_results rr;
    if (store_read(&rr, path, 0, err, sizeof err) == 0) {
        double tc = rr.rows[51].time_write, tb = rr.nbackbone == nbb ? rr.bb[23].time_write : NAN;
        CHECK(isfinite(tc) && tc >= 0 && tc < 60, "cell 51: time_write %g, want the seconds of its write", tc);
        CHECK(isfinite(tb) && tb >= 0 && tb < 60, "backbone 23: time_write %g, want the seconds of its write", tb);
        e.rows[51].time_write = tc;
        e.bb[23].time_write = tb;
        store_results_free(&rr);
    }
    check_file(path, &e, text, "after writing");
    check_outside_view(path, &e);

    /* The weights, through a reader: bit for bit; a backbone without weights is refused. */
    int64_t np0 = e.bb[0].nparam, np23 = e.bb[23].nparam;
    float *got = malloc(sizeof *got * (size_t)(np0 > np23 ? np0 : np23));
    store_reader *rd = NULL;
    rc = store_reader_open(&rd, path, err, sizeof err);
    CHECK(rc == 0, "store_reader_open: %s", err);
    if (rc == 0) {
        CHECK(store_reader_weights(rd, &e.bb[0], got, err, sizeof err) == 0 &&
                  memcmp(got, w0, sizeof *got * (size_t)np0) == 0,
              "backbone 0: weights differ from those written (%s)", err);
        CHECK(store_reader_weights(rd, &e.bb[23], got, err, sizeof err) == 0 &&
                  memcmp(got, w23, sizeof *got * (size_t)np23) == 0,
              "backbone 23: weights differ from those written (%s)", err);
        err[0] = '\0';
        CHECK(store_reader_weights(rd, &e.bb[12], got, err, sizeof err) != 0 && strstr(err, path),
              "backbone 12 has no weights, yet the reader gave some ('%s')", err);
        store_reader_close(rd);
    }
    store_reader_close(NULL);
    err[0] = '\0';
    rd = NULL;
    CHECK(store_reader_open(&rd, in_tmp("no-such-file.h5"), err, sizeof err) != 0 && rd == NULL &&
              strstr(err, "no-such-file.h5"),
          "store_reader_open of a missing file: '%s'", err);

    /* Resume: statuses and weight flags come back; one more cell and backbone written
     * through the reopened file; the weights read back through it. */
    int8_t *cst = malloc((size_t)ncell), *bst = malloc((size_t)nbb), *hw = malloc((size_t)nbb);
    memset(cst, 0x7f, (size_t)ncell), memset(bst, 0x7f, (size_t)nbb), memset(hw, 0x7f, (size_t)nbb);
    rc = store_open(&st, path, MPI_COMM_WORLD, &spec, text, NULL, cst, bst, hw, err, sizeof err);
    CHECK(rc == 0, "store_open: %s", err);
    if (rc == 0) {
        int bad = -1;
        for (int c = 0; c < ncell && bad < 0; c++)
            if (cst[c] != e.rows[c].status)
                bad = c;
        CHECK(bad < 0, "store_open: cell %d has status %d, want %d", bad, bad >= 0 ? cst[bad] : 0,
              bad >= 0 ? e.rows[bad].status : 0);
        bad = -1;
        for (int i = 0; i < nbb && bad < 0; i++)
            if (bst[i] != e.bb[i].status || hw[i] != e.bb[i].weights)
                bad = i;
        CHECK(bad < 0, "store_open: backbone %d has status %d and weights %d, want %d and %d", bad,
              bad >= 0 ? bst[bad] : 0, bad >= 0 ? hw[bad] : 0, bad >= 0 ? e.bb[bad].status : 0,
              bad >= 0 ? e.bb[bad].weights : 0);
        CHECK(store_read_weights(st, 23, "cnn-s", got, (size_t)np23, err, sizeof err) == 0 &&
                  memcmp(got, w23, sizeof *got * (size_t)np23) == 0,
              "store_read_weights 23 after resume: differ (%s)", err);
        CHECK(store_read_weights(st, 0, "mlp-s", got, (size_t)np0, err, sizeof err) == 0 &&
                  memcmp(got, w0, sizeof *got * (size_t)np0) == 0,
              "store_read_weights 0 after resume: differ (%s)", err);
        err[0] = '\0';
        CHECK(store_read_weights(st, 0, "resnet-xl", got, (size_t)np0, err, sizeof err) != 0 && strstr(err, path),
              "store_read_weights of an unknown model: '%s'", err);
        r = &e.rows[9];
        r->status = CELL_DONE, r->rank = 0, r->final_error = r->final_test_error = 0.5, r->wall_time = 1;
        r->time_generate = r->time_pretrain = r->time_finetune = r->time_evaluate = 0.25, r->time_write = 0.125;
        static const float t9[NEV] = {0.6f, 0.55f, 0.5f};
        e.test[9] = t9;
        CHECK(store_write_cell(st, r, NULL, t9, err, sizeof err) == 0, "write a cell after resume: %s", err);
        b = &e.bb[3];
        b->status = CELL_DONE, b->rank = 0, b->final_loss = 1, b->final_error = 0.5, b->wall_time = 1;
        b->time_generate = b->time_pretrain = b->time_evaluate = b->time_write = 0.25;
        static const float l3[NEV] = {3, 2, 1};
        e.loss[3] = l3;
        CHECK(store_write_backbone(st, b, l3, NULL, NULL, err, sizeof err) == 0, "write a backbone after resume: %s",
              err);
        CHECK(store_close(st) == 0, "store_close after resume failed");
    }
    check_file(path, &e, text, "after resume");

    /* Another job (the same grid, another seed) and another shard are refused, by name. */
    char *other = malloc(strlen(text) + 2);
    const char *seed = strstr(text, "seed: 3");
    CHECK(seed != NULL, "tiny.yaml has no 'seed: 3' line");
    if (seed) {
        size_t k = (size_t)(seed - text);
        memcpy(other, text, k);
        strcpy(other + k, "seed: 4");
        strcat(other, seed + 7);
        job_spec ospec;
        CHECK(job_parse_grid(&ospec, other, "other.yaml", 0, err, sizeof err) == 0, "other job: %s", err);
        err[0] = '\0';
        st = NULL;
        rc = store_open(&st, path, MPI_COMM_WORLD, &ospec, other, NULL, cst, bst, hw, err, sizeof err);
        CHECK(rc != 0 && st == NULL, "store_open accepted another job's text");
        CHECK(strstr(err, path) != NULL, "another job: message '%s' does not name %s", err, path);
        if (rc == 0)
            store_close(st);
    }
    store_shard sh = {1, 3, 0};
    err[0] = '\0';
    st = NULL;
    rc = store_open(&st, path, MPI_COMM_WORLD, &spec, text, &sh, cst, bst, hw, err, sizeof err);
    CHECK(rc != 0 && st == NULL, "store_open accepted shard 1/3 for a whole-grid file");
    CHECK(strstr(err, path) != NULL, "another shard: message '%s' does not name %s", err, path);
    if (rc == 0)
        store_close(st);
    check_file(path, &e, text, "after refused resumes");

    /* /fits: two rows, read back with HDF5; replaced by one row; the cells still read. */
    analysis_row fits[2];
    memset(fits, 0, sizeof fits);
    for (int k = 0; k < 2; k++) {
        snprintf(fits[k].group, sizeof fits[k].group, "mlp-s\t%d", k + 1);
        snprintf(fits[k].law, sizeof fits[k].law, "%s", k ? "power" : "simple");
        fits[k].n_points = 6 + k;
        for (int i = 0; i < 4; i++)
            fits[k].p[i] = 0.5 * (k + 1) + 0.125 * i, fits[k].ci_lo[i] = fits[k].ci_hi[i] = NAN;
    }
    rc = store_write_fits(path, 0, fits, 2, "model\tcomplexity", "test", err, sizeof err);
    CHECK(rc == 0, "store_write_fits: %s", err);
    fits_view fv[4];
    int nf = read_fits(path, fv, 4);
    CHECK(nf == 2, "/fits has %d rows, want 2", nf);
    for (int k = 0; k < nf && k < 2; k++) {
        CHECK(memcmp(fv[k].p, fits[k].p, sizeof fv[k].p) == 0, "/fits row %d: p differs", k);
        CHECK(strcmp(fv[k].law, fits[k].law) == 0 && fv[k].n_points == fits[k].n_points,
              "/fits row %d: law '%s' n_points %d", k, fv[k].law, fv[k].n_points);
    }
    rc = store_write_fits(path, 0, fits + 1, 1, "model\tcomplexity", "test", err, sizeof err);
    CHECK(rc == 0, "store_write_fits (replace): %s", err);
    nf = read_fits(path, fv, 4);
    CHECK(nf == 1 && strcmp(fv[0].law, "power") == 0, "replaced /fits: %d rows, first law '%s'", nf,
          nf > 0 ? fv[0].law : "");
    check_file(path, &e, text, "after store_write_fits");
    /* A fits-only file is not a results file. */
    const char *fonly = in_tmp("fits-only.h5");
    CHECK(store_write_fits(fonly, 1, fits, 2, "model\tcomplexity", "a CSV", err, sizeof err) == 0,
          "store_write_fits create: %s", err);
    CHECK(read_fits(fonly, fv, 4) == 2, "fits-only file: /fits does not have 2 rows");
    expect_refused(fonly, "a fits-only file");

    /* Damaged and foreign files. */
    const char *half = in_tmp("half.h5"), *tenth = in_tmp("tenth.h5");
    CHECK(copy_prefix(path, half, 0.5) == 0 && copy_prefix(path, tenth, 0.1) == 0, "cannot copy %s", path);
    expect_refused(half, "truncated to half its size");
    expect_refused(tenth, "truncated to a tenth of its size");
    err[0] = '\0';
    st = NULL;
    rc = store_open(&st, half, MPI_COMM_WORLD, &spec, text, NULL, cst, bst, hw, err, sizeof err);
    CHECK(rc != 0 && strstr(err, half) != NULL, "store_open of a truncated file: rc %d, '%s'", rc, err);
    if (rc == 0)
        store_close(st);
    const char *txt = in_tmp("notes.txt");
    FILE *f = fopen(txt, "w");
    if (f) {
        fputs("name,value\nthis is not an HDF5 file,1\n", f);
        fclose(f);
    }
    expect_refused(txt, "a text file");
    const char *empty = in_tmp("empty.h5");
    f = fopen(empty, "w");
    if (f)
        fclose(f);
    expect_refused(empty, "an empty file");
    expect_refused(in_tmp("no-such-file.h5"), "a missing file");
    const char *plain = in_tmp("plain.h5");
    hid_t h = H5Fcreate(plain, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (h >= 0)
        H5Fclose(h);
    expect_refused(plain, "an HDF5 file without the synlaw format");

    /* A file that cannot be created is refused with its name. */
    const char *nodir = in_tmp("no-such-dir/x.h5");
    err[0] = '\0';
    st = NULL;
    rc = store_create(&st, nodir, MPI_COMM_WORLD, &spec, text, argv[1], NULL, err, sizeof err);
    CHECK(rc != 0 && st == NULL && strstr(err, nodir) != NULL, "store_create in a missing directory: rc %d, '%s'",
          rc, err);
    if (rc == 0)
        store_close(st);

    free(other), free(cst), free(bst), free(hw), free(got), free(w0), free(w23);
    free(text), free(cells), free(bbs), free(e.rows), free(e.bb), free(e.val), free(e.test), free(e.loss), free(e.error);
    remove_tmpdir();
    MPI_Finalize();
    return test_summary("store");
}
