/* Grouping and fitting of a results file (see fitfile.h). */
#include "synlaw/fitfile.h"

#include "synlaw/store.h"
#include "synlaw/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

analysis_options fitfile_default_options(void)
{
    analysis_options o = analysis_default_options(FIT_SIMPLE);
    o.bootstrap = 1000;
    o.within_repeats = 1; /* repeats pair the sizes: fit within them */
    return o;
}

char *fitfile_default_csv(const char *path)
{
    size_t n = strlen(path);
    int h5 = n > 3 && strcmp(path + n - 3, ".h5") == 0;
    char *csv = malloc(n + 16);
    if (csv)
        snprintf(csv, n + 16, "%.*s-fits.csv", (int)(h5 ? n - 3 : n), path);
    return csv;
}

char *fitfile_gains_csv(const char *csv)
{
    size_t n = strlen(csv);
    int suffix = n > 9 && strcmp(csv + n - 9, "-fits.csv") == 0;
    char *g = malloc(n + 16);
    if (g)
        snprintf(g, n + 16, "%.*s-gains.csv", (int)(suffix ? n - 9 : n), csv);
    return g;
}

/* The cells the gains compare: every done cell with a finite error. */
static int gains_of(fitfile_result *out, const store_results *res, double level, char *err, size_t errlen)
{
    gains_cell *gc = malloc(sizeof *gc * (size_t)(res->ncell + 1));
    if (!gc)
        return util_fail(err, errlen, SL_EFAIL, "out of memory");
    int m = 0;
    for (int i = 0; i < res->ncell; i++) {
        const store_cell_row *r = &res->rows[i];
        if (r->status != CELL_DONE || !isfinite(r->final_error))
            continue;
        gains_cell *c = &gc[m++];
        memset(c, 0, sizeof *c);
        snprintf(c->model, sizeof c->model, "%s", r->model);
        c->complexity = r->complexity;
        snprintf(c->task, sizeof c->task, "%s", r->pretrain_task);
        c->finetune_size = r->finetune_size;
        c->n = r->pretrain_size;
        c->lr = r->finetune_lr;
        c->steps = r->finetune_steps;
        c->freeze = r->finetune_freeze;
        c->repeat = r->repeat;
        c->val = r->final_val_error;
        c->test = r->final_test_error;
    }
    int rc = gains_compute(&out->gains, &out->ngains, gc, m, level, err, errlen);
    free(gc);
    return rc;
}

/* What fill_group needs: the file, and the learning rate of its scratch cells when the job
 * gives them their own (finetune.scratch_lr). */
typedef struct {
    const store_results *res;
    double lr, scratch_lr; /* finetune.lr and finetune.scratch_lr (0: none) */
} group_ctx;

/* Mean final error of the scratch cells of (model, s, lr, steps, freeze) (s = 0: every s);
 * the scratch cells of a group's setting run at scratch_lr when the job sets one. */
static double scratch_mean(const group_ctx *ctx, const analysis_row *g)
{
    const store_results *res = ctx->res;
    double lr = ctx->scratch_lr > 0 && g->finetune_lr == ctx->lr ? ctx->scratch_lr : g->finetune_lr;
    double sum = 0;
    int k = 0;
    for (int i = 0; i < res->ncell; i++) {
        const store_cell_row *r = &res->rows[i];
        if (r->status == CELL_DONE && r->pretrain_size == 0 && strcmp(r->model, g->model) == 0 &&
            (g->finetune_size == 0 || r->finetune_size == g->finetune_size) &&
            (res->version < 2 || (r->finetune_lr == lr && r->finetune_steps == g->finetune_steps &&
                                  r->finetune_freeze == g->finetune_freeze)) &&
            isfinite(r->final_error)) {
            sum += r->final_error;
            k++;
        }
    }
    return k ? sum / k : NAN;
}

/* The group label of a cell (s as "all" for the full law). */
static void label_of(char *buf, size_t len, const store_cell_row *r, int full)
{
    char s[32];
    if (full)
        snprintf(s, sizeof s, "all");
    else
        snprintf(s, sizeof s, "%lld", (long long)r->finetune_size);
    snprintf(buf, len, "%s\t%d\t%s\t%s\t%.15g\t%d\t%s", r->model, r->complexity, r->pretrain_task, s,
             r->finetune_lr, r->finetune_steps, job_freeze_name(r->finetune_freeze));
}

/* After each group's fit: coordinates from the label, the scratch baseline, the best mean. */
static void fill_group(analysis_row *row, const double *n, const double *y, int m, void *user)
{
    const group_ctx *ctx = user;
    char task[ANALYSIS_WORD_LEN] = "", s[32] = "", freeze[16] = "";
    int cplx = 0, steps = 0;
    double lr = NAN;
    sscanf(row->group, "%31[^\t]\t%d\t%15[^\t]\t%31[^\t]\t%lf\t%d\t%15s", row->model, &cplx, task, s, &lr,
           &steps, freeze);
    row->finetune_freeze = 0;
    for (int f = 0; f <= 2; f++)
        if (strcmp(freeze, job_freeze_name(f)) == 0)
            row->finetune_freeze = (int8_t)f;
    row->complexity = cplx;
    snprintf(row->pretrain_task, sizeof row->pretrain_task, "%s", task);
    row->finetune_size = strcmp(s, "all") == 0 ? 0 : atol(s);
    row->finetune_lr = lr;
    row->finetune_steps = steps;
    row->scratch_error = scratch_mean(ctx, row);
    long best_n;
    analysis_best_mean(n, y, m, &row->best_error, &best_n);
    row->best_size = best_n;
}

int fitfile_usable(const store_cell_row *r)
{
    return r->status == CELL_DONE && r->pretrain_size > 0 && isfinite(r->final_error);
}

int fitfile_same_group(const store_cell_row *a, const store_cell_row *b)
{
    return strcmp(a->model, b->model) == 0 && a->complexity == b->complexity &&
           strcmp(a->pretrain_task, b->pretrain_task) == 0 && a->finetune_size == b->finetune_size &&
           a->finetune_lr == b->finetune_lr && a->finetune_steps == b->finetune_steps &&
           a->finetune_freeze == b->finetune_freeze;
}

/* Whether two rows are the same cell (group, n and repeat). */
static int same_cell(const store_cell_row *a, const store_cell_row *b)
{
    return a->pretrain_size == b->pretrain_size && a->repeat == b->repeat && fitfile_same_group(a, b);
}

/* Append the cells of `add` (file `path`) to res; a cell already there is kept once, and
 * must have the same final error (same seeds and recipe: the same bits). */
static int join_cells(store_results *res, const store_results *add, const char *path, char *err, size_t errlen)
{
    store_cell_row *rows = realloc(res->rows, sizeof *rows * (size_t)(res->ncell + add->ncell + 1));
    if (!rows)
        return util_fail(err, errlen, SL_EFAIL, "out of memory joining %s", path);
    res->rows = rows;
    int n0 = res->ncell;
    for (int i = 0; i < add->ncell; i++) {
        const store_cell_row *r = &add->rows[i];
        int dup = -1;
        for (int j = 0; j < n0 && dup < 0; j++)
            if (same_cell(&rows[j], r))
                dup = j;
        if (dup < 0) {
            rows[res->ncell] = *r;
            rows[res->ncell].index = res->ncell;
            res->ncell++;
            continue;
        }
        const store_cell_row *d = &rows[dup];
        if (d->status == CELL_DONE && r->status == CELL_DONE && d->final_error != r->final_error &&
            !(isnan(d->final_error) && isnan(r->final_error)))
            return util_fail(err, errlen, SL_EINPUT, "%s: cell n=%lld %s c%d s=%lld r%d has error %.6g, "
                             "but %.6g in an earlier file (the files were not computed alike)", path,
                             (long long)r->pretrain_size, r->model, r->complexity, (long long)r->finetune_size,
                             r->repeat, r->final_error, d->final_error);
        if (d->status != CELL_DONE && r->status == CELL_DONE)
            rows[dup] = *r, rows[dup].index = dup;
    }
    return SL_OK;
}

int fitfile_read(store_results *res, const char *const *paths, int npath, char *err, size_t errlen)
{
    if (npath < 1)
        return util_fail(err, errlen, SL_EINPUT, "no results file");
    if (store_read(res, paths[0], 0, err, errlen) != 0)
        return SL_EINPUT;
    if (npath == 1)
        return SL_OK;
    job_spec first, other;
    char why[512];
    int rc = SL_OK;
    if (res->version < 2 || job_parse_grid(&first, res->job_text, paths[0], 0, why, sizeof why) != 0)
        rc = util_fail(err, errlen, SL_EINPUT, "%s: only files of format 2 with a readable job can be joined",
                       paths[0]);
    first.shape = res->shape;
    for (int k = 1; k < npath && rc == SL_OK; k++) {
        store_results add;
        if (store_read(&add, paths[k], 0, err, errlen) != 0) {
            rc = SL_EINPUT;
            break;
        }
        if (add.version < 2 || job_parse_grid(&other, add.job_text, paths[k], 0, why, sizeof why) != 0)
            rc = util_fail(err, errlen, SL_EINPUT, "%s: only files of format 2 with a readable job can be joined",
                           paths[k]);
        else {
            other.shape = add.shape;
            if (!job_same_design(&first, &other, why, sizeof why))
                rc = util_fail(err, errlen, SL_EINPUT, "%s cannot be joined with %s: %s", paths[k], paths[0], why);
            else
                rc = join_cells(res, &add, paths[k], err, errlen);
        }
        store_results_free(&add);
    }
    if (rc != SL_OK)
        store_results_free(res);
    return rc;
}

int fitfile_run(fitfile_result *out, const char *path, const analysis_options *o,
                const char *csv_path, char *err, size_t errlen)
{
    return fitfile_run_files(out, &path, 1, o, csv_path, err, errlen);
}

int fitfile_run_files(fitfile_result *out, const char *const *paths, int npath, const analysis_options *o,
                      const char *csv_path, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    store_results res;
    int rrc = fitfile_read(&res, paths, npath, err, errlen);
    if (rrc != SL_OK)
        return rrc;
    const char *path = paths[0];
    snprintf(out->job_name, sizeof out->job_name, "%s", res.job_name);
    group_ctx ctx = {&res, 0, 0};
    job_spec spec;
    char why[256];
    if (job_parse_grid(&spec, res.job_text, "(stored job)", 0, why, sizeof why) == 0) {
        ctx.lr = spec.finetune.lr;
        ctx.scratch_lr = spec.finetune.scratch_lr;
    }
    out->classes = res.shape.classes;
    out->chance = res.shape.chance;
    analysis_points simple = {0}, full = {0};
    analysis_row *srows = NULL, *frows = NULL;
    int ns = 0, nf = 0, rc = SL_EFAIL;
    char label[ANALYSIS_GROUP_LEN];
    for (int i = 0; i < res.ncell; i++) {
        const store_cell_row *r = &res.rows[i];
        out->failed += r->status == CELL_FAILED;
        if (!fitfile_usable(r))
            continue;
        label_of(label, sizeof label, r, 0);
        if (analysis_points_add(&simple, label, (double)r->pretrain_size, (double)r->finetune_size,
                                r->final_error, r->repeat) != 0)
            goto oom;
    }
    analysis_options so = *o;
    if (!so.fit.fixed[2] && !isfinite(so.fit.hi[2])) /* C: an error rate, at most a uniform guess's */
        so.fit.hi[2] = 1.0 - 1.0 / (res.shape.classes >= 2 ? res.shape.classes : 2);
    if (analysis_fit_groups(&srows, &ns, &simple, &so, 1, 1, fill_group, &ctx, err, errlen) != 0)
        goto out;
    /* Full law across fine-tuning sizes, per (model, complexity, task) with two sizes or more.
     * The caller's options are for the simple law (bounds, fixed values); the full law takes
     * its defaults with the caller's residual space and loss. */
    for (int i = 0; i < res.ncell; i++) {
        const store_cell_row *r = &res.rows[i];
        if (!fitfile_usable(r))
            continue;
        int sizes = 0;
        for (int g = 0; g < ns; g++)
            sizes += strcmp(srows[g].model, r->model) == 0 && srows[g].complexity == r->complexity &&
                     strcmp(srows[g].pretrain_task, r->pretrain_task) == 0 &&
                     (srows[g].finetune_lr == r->finetune_lr || (isnan(srows[g].finetune_lr) && isnan(r->finetune_lr))) &&
                     srows[g].finetune_steps == r->finetune_steps && srows[g].finetune_freeze == r->finetune_freeze;
        if (sizes < 2)
            continue;
        label_of(label, sizeof label, r, 1);
        if (analysis_points_add(&full, label, (double)r->pretrain_size, (double)r->finetune_size,
                                r->final_error, r->repeat) != 0)
            goto oom;
    }
    analysis_options fo = *o;
    fo.fit = fit_default_options(FIT_FULL);
    fo.fit.log_residuals = o->fit.log_residuals;
    fo.fit.loss = o->fit.loss;
    fo.fit.loss_scale = o->fit.loss_scale;
    if (analysis_fit_groups(&frows, &nf, &full, &fo, 1, 1, fill_group, &ctx, err, errlen) != 0)
        goto out;
    out->rows = malloc(sizeof *out->rows * (size_t)(ns + nf + 1));
    if (!out->rows)
        goto oom;
    memcpy(out->rows, srows, sizeof *srows * (size_t)ns);
    memcpy(out->rows + ns, frows, sizeof *frows * (size_t)nf);
    out->nrows = ns + nf;
    if (gains_of(out, &res, o->level, err, errlen) != 0)
        goto out;
    if (npath == 1 && (store_write_fits(path, 0, out->rows, out->nrows, FITFILE_GROUP_COLUMNS, NULL, err, errlen) != 0 ||
                       store_write_gains(path, out->gains, out->ngains, err, errlen) != 0))
        goto out;
    if (csv_path) {
        char *gcsv = fitfile_gains_csv(csv_path);
        int w = !gcsv ? util_fail(err, errlen, -1, "out of memory")
                      : analysis_write_csv(csv_path, out->rows, out->nrows, FITFILE_GROUP_COLUMNS, err, errlen) != 0
                            ? -1
                            : gains_write_csv(gcsv, out->gains, out->ngains, err, errlen);
        free(gcsv);
        if (w != 0)
            goto out;
    }
    rc = 0;
    goto out;
oom:
    util_fail(err, errlen, SL_EFAIL, "out of memory while fitting %s", path);
out:
    analysis_points_free(&simple);
    analysis_points_free(&full);
    free(srows), free(frows);
    store_results_free(&res);
    if (rc)
        fitfile_result_free(out);
    return rc;
}

void fitfile_result_free(fitfile_result *r)
{
    if (!r)
        return;
    free(r->rows);
    free(r->gains);
    r->rows = NULL;
    r->gains = NULL;
    r->nrows = r->ngains = 0;
}
