/* Grouping, fitting and reporting of a results file. */
#include "synlaw/report.h"

#include "synlaw/analysis.h"
#include "synlaw/store.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GROUP_COLUMNS "model\tcplx\ttask\ts"

typedef struct {
    const char *model, *task;
    int complexity;
    long ftsize; /* 0: all fine-tuning sizes (full law) */
} group_key;

static int row_in_group(const store_cell_row *r, const group_key *g)
{
    return r->status == 1 && r->pretrain_size > 0 && strcmp(r->model, g->model) == 0 &&
           strcmp(r->pretrain_task, g->task) == 0 && r->complexity == g->complexity &&
           (g->ftsize == 0 || r->finetune_size == g->ftsize) && isfinite(r->final_error);
}

static double scratch_mean(const store_results *res, const char *model, long ftsize)
{
    double sum = 0;
    int k = 0;
    for (int i = 0; i < res->ncell; i++) {
        const store_cell_row *r = &res->rows[i];
        if (r->status == 1 && r->pretrain_size == 0 && strcmp(r->model, model) == 0 &&
            (ftsize == 0 || r->finetune_size == ftsize) && isfinite(r->final_error)) {
            sum += r->final_error;
            k++;
        }
    }
    return k ? sum / k : NAN;
}

/* Lowest mean error over the distinct n of a group. */
static void best_mean(const double *n, const double *y, int m, double *best, long *best_n)
{
    *best = NAN;
    *best_n = 0;
    for (int i = 0; i < m; i++) {
        double sum = 0;
        int k = 0;
        for (int j = 0; j < m; j++)
            if (n[j] == n[i]) {
                sum += y[j];
                k++;
            }
        if (isnan(*best) || sum / k < *best) {
            *best = sum / k;
            *best_n = (long)n[i];
        }
    }
}

static int fit_group(store_fit_row *row, const store_results *res, const group_key *g,
                     const analysis_options *base, fit_law law)
{
    int m = 0;
    size_t cap = (size_t)res->ncell + 1;
    double *n = malloc(sizeof(double) * cap), *s = malloc(sizeof(double) * cap);
    double *y = malloc(sizeof(double) * cap);
    int *rep = malloc(sizeof(int) * cap);
    if (!n || !s || !y || !rep) {
        free(n), free(s), free(y), free(rep);
        return -1;
    }
    for (int i = 0; i < res->ncell; i++)
        if (row_in_group(&res->rows[i], g)) {
            n[m] = (double)res->rows[i].pretrain_size;
            s[m] = (double)res->rows[i].finetune_size;
            y[m] = res->rows[i].final_error;
            rep[m] = res->rows[i].repeat;
            m++;
        }
    memset(row, 0, sizeof *row);
    snprintf(row->model, sizeof row->model, "%s", g->model);
    snprintf(row->pretrain_task, sizeof row->pretrain_task, "%s", g->task);
    row->complexity = g->complexity;
    row->finetune_size = g->ftsize;
    if (g->ftsize)
        snprintf(row->group, sizeof row->group, "%s\t%d\t%s\t%ld", g->model, g->complexity, g->task, g->ftsize);
    else
        snprintf(row->group, sizeof row->group, "%s\t%d\t%s\tall", g->model, g->complexity, g->task);
    row->scratch_error = scratch_mean(res, g->model, g->ftsize);
    best_mean(n, y, m, &row->best_error, &row->best_size);
    /* The caller's options are for the simple law (bounds, fixed values); the full law
     * takes its defaults with the caller's residual space and loss. */
    analysis_options o = *base;
    if (law != base->fit.law) {
        o.fit = fit_default_options(law);
        o.fit.log_residuals = base->fit.log_residuals;
        o.fit.loss = base->fit.loss;
        o.fit.loss_scale = base->fit.loss_scale;
    }
    if (law == FIT_SIMPLE && !o.fit.fixed[2] && !isfinite(o.fit.hi[2]))
        o.fit.hi[2] = 1.0; /* C: an error rate */
    analysis_group(row, &o, n, s, y, rep, m);
    free(n), free(s), free(y), free(rep);
    return 0;
}

static int key_seen(const group_key *keys, int n, const group_key *k)
{
    for (int i = 0; i < n; i++)
        if (strcmp(keys[i].model, k->model) == 0 && strcmp(keys[i].task, k->task) == 0 &&
            keys[i].complexity == k->complexity && keys[i].ftsize == k->ftsize)
            return 1;
    return 0;
}

int report_fit_file(const char *path, const analysis_options *o, const char *csv_path, FILE *out,
                    char *err, size_t errlen)
{
    store_results res;
    if (store_read(&res, path, 0, err, errlen) != 0)
        return -1;
    int cap = 2 * res.ncell + 1, nkeys = 0, nfull = 0, nrows = 0, rc = -1;
    group_key *keys = malloc(sizeof *keys * (size_t)cap);
    store_fit_row *rows = malloc(sizeof *rows * (size_t)cap);
    if (!keys || !rows) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    int failed = 0;
    for (int i = 0; i < res.ncell; i++) {
        const store_cell_row *r = &res.rows[i];
        failed += r->status == 2;
        if (r->pretrain_size == 0 || r->status != 1)
            continue;
        group_key k = {r->model, r->pretrain_task, r->complexity, (long)r->finetune_size};
        if (!key_seen(keys, nkeys, &k))
            keys[nkeys++] = k;
    }
    if (failed && out)
        fprintf(out, "warning: %d failed cell%s skipped by the fit (see /cells reason)\n", failed,
                failed == 1 ? "" : "s");
    for (int i = 0; i < nkeys; i++)
        if (fit_group(&rows[nrows++], &res, &keys[i], o, FIT_SIMPLE) != 0)
            goto oom;
    /* Full law across fine-tuning sizes, per (model, complexity, task). */
    group_key *fk = keys + nkeys;
    for (int i = 0; i < nkeys; i++) {
        group_key k = keys[i];
        k.ftsize = 0;
        int sizes = 0;
        for (int j = 0; j < nkeys; j++)
            sizes += strcmp(keys[j].model, k.model) == 0 && strcmp(keys[j].task, k.task) == 0 &&
                     keys[j].complexity == k.complexity;
        if (sizes >= 2 && !key_seen(fk, nfull, &k)) {
            fk[nfull++] = k;
            if (fit_group(&rows[nrows++], &res, &k, o, FIT_FULL) != 0)
                goto oom;
        }
    }
    if (out) {
        fprintf(out, "fit of %s (job %s): one group per (model, complexity, task, s)\n", path,
                res.job_name);
        analysis_print(out, rows, nrows, GROUP_COLUMNS, o, 1);
    }
    if (store_write_fits(path, 0, rows, nrows, GROUP_COLUMNS, NULL, err, errlen) != 0)
        goto out;
    if (csv_path && analysis_write_csv(csv_path, rows, nrows, GROUP_COLUMNS, err, errlen) != 0)
        goto out;
    rc = nrows;
    goto out;
oom:
    snprintf(err, errlen, "out of memory while fitting");
out:
    free(keys);
    free(rows);
    store_results_free(&res);
    return rc;
}

analysis_options report_default_options(void)
{
    analysis_options o = analysis_default_options(FIT_SIMPLE);
    o.bootstrap = 1000;
    return o;
}

int report_fit_after_run(const char *path, const char *csv_path, FILE *out)
{
    char csv[4096], err[1024];
    size_t n = strlen(path);
    if (csv_path)
        snprintf(csv, sizeof csv, "%s", csv_path);
    else if (n > 3 && strcmp(path + n - 3, ".h5") == 0)
        snprintf(csv, sizeof csv, "%.*s-fits.csv", (int)(n - 3), path);
    else
        snprintf(csv, sizeof csv, "%s-fits.csv", path);
    analysis_options o = report_default_options();
    if (report_fit_file(path, &o, csv, out, err, sizeof err) < 0) {
        fprintf(stderr, "synlaw: fit: %s\n", err);
        return -1;
    }
    fprintf(out, "fits written to %s:/fits and %s\n", path, csv);
    return 0;
}
