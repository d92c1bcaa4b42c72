/* Grouping, fitting and reporting of a results file. */
#include "synlaw/report.h"

#include "synlaw/fit.h"
#include "synlaw/store.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

static int fit_group(store_fit_row *row, const store_results *res, const group_key *g, fit_law law)
{
    int m = 0;
    double *n = malloc(sizeof(double) * (size_t)(res->ncell + 1));
    double *s = malloc(sizeof(double) * (size_t)(res->ncell + 1));
    double *y = malloc(sizeof(double) * (size_t)(res->ncell + 1));
    if (!n || !s || !y) {
        free(n), free(s), free(y);
        return -1;
    }
    for (int i = 0; i < res->ncell; i++)
        if (row_in_group(&res->rows[i], g)) {
            n[m] = (double)res->rows[i].pretrain_size;
            s[m] = (double)res->rows[i].finetune_size;
            y[m] = res->rows[i].final_error;
            m++;
        }
    memset(row, 0, sizeof *row);
    snprintf(row->model, sizeof row->model, "%s", g->model);
    snprintf(row->pretrain_task, sizeof row->pretrain_task, "%s", g->task);
    snprintf(row->law, sizeof row->law, "%s", fit_law_name(law));
    row->complexity = g->complexity;
    row->finetune_size = g->ftsize;
    row->scratch_error = scratch_mean(res, g->model, g->ftsize);
    best_mean(n, y, m, &row->best_error, &row->best_size);
    fit_options opt = fit_default_options(law);
    if (law == FIT_SIMPLE)
        opt.hi[2] = 1.0; /* C: an error rate */
    fit_result fr;
    fit_run(&fr, &opt, n, s, y, m);
    row->n_points = m;
    for (int i = 0; i < 4; i++) {
        row->p[i] = i < fr.np ? fr.p[i] : NAN;
        row->se[i] = i < fr.np ? fr.se[i] : NAN;
        if (i < fr.np && fr.at_bound[i])
            row->at_bound |= (int8_t)(1 << i);
    }
    row->rmse = fr.rmse;
    row->r2 = fr.r2;
    row->converged = (int8_t)fr.converged;
    free(n), free(s), free(y);
    return 0;
}

static void print_pm(FILE *out, double v, double se)
{
    char buf[48];
    if (isnan(v))
        snprintf(buf, sizeof buf, "-");
    else if (isnan(se))
        snprintf(buf, sizeof buf, "%.4g", v);
    else
        snprintf(buf, sizeof buf, "%.4g ± %.2g", v, se);
    fprintf(out, " %-17s", buf);
}

static void flags_text(const store_fit_row *r, char *buf, size_t len)
{
    buf[0] = '\0';
    if (isnan(r->p[0])) {
        snprintf(buf, len, "no fit (%d point%s)", r->n_points, r->n_points == 1 ? "" : "s");
        return;
    }
    if (!r->converged)
        strncat(buf, "not-converged ", len - strlen(buf) - 1);
    const char *names[4] = {"p0", "p1", "p2", "p3"};
    const char *simple[3] = {"D", "alpha", "C"}, *full[4] = {"delta", "gamma", "alpha", "beta"};
    for (int i = 0; i < 4; i++)
        if (r->at_bound & (1 << i)) {
            const char *nm = strcmp(r->law, "full") == 0 ? full[i] : i < 3 ? simple[i] : names[i];
            char t[32];
            snprintf(t, sizeof t, "%s@bound ", nm);
            strncat(buf, t, len - strlen(buf) - 1);
        }
}

static void print_table(FILE *out, const store_fit_row *rows, int n)
{
    fprintf(out, "%-7s %4s %-10s %6s %4s %-17s %-17s %-17s %8s %6s %8s %-16s %s\n", "model", "cplx",
            "task", "s", "pts", " D", " alpha", " C", "RMSE", "R2", "scratch", "best (n)", "flags");
    for (int i = 0; i < n; i++) {
        const store_fit_row *r = &rows[i];
        char flags[128], best[40], s[16];
        flags_text(r, flags, sizeof flags);
        snprintf(best, sizeof best, "%.4f (%ld)", r->best_error, (long)r->best_size);
        if (r->finetune_size)
            snprintf(s, sizeof s, "%ld", (long)r->finetune_size);
        else
            snprintf(s, sizeof s, "all");
        if (strcmp(r->law, "full") == 0) {
            fprintf(out, "%-7s %4d %-10s %6s %4d  full law: delta %.4g ± %.2g, gamma %.4g ± %.2g, "
                    "alpha %.4g ± %.2g, beta %.4g ± %.2g, RMSE %.4f, R2 %.3f %s\n",
                    r->model, r->complexity, r->pretrain_task, s, r->n_points, r->p[0], r->se[0],
                    r->p[1], r->se[1], r->p[2], r->se[2], r->p[3], r->se[3], r->rmse, r->r2, flags);
            continue;
        }
        fprintf(out, "%-7s %4d %-10s %6s %4d", r->model, r->complexity, r->pretrain_task, s, r->n_points);
        print_pm(out, r->p[0], r->se[0]);
        print_pm(out, r->p[1], r->se[1]);
        print_pm(out, r->p[2], r->se[2]);
        fprintf(out, " %8.4f %6.3f %8.4f %-16s %s\n", r->rmse, r->r2, r->scratch_error, best, flags);
    }
}

static int write_csv(const char *path, const store_fit_row *rows, int n, char *err, size_t errlen)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(err, errlen, "%s: cannot write", tmp);
        return -1;
    }
    fprintf(f, "model,complexity,pretrain_task,finetune_size,law,n_points,p0,p1,p2,p3,"
               "se0,se1,se2,se3,rmse,r2,converged,at_bound,scratch_error,best_error,best_size,"
               "param_names\n");
    for (int i = 0; i < n; i++) {
        const store_fit_row *r = &rows[i];
        fprintf(f, "%s,%d,%s,%ld,%s,%d", r->model, r->complexity, r->pretrain_task,
                (long)r->finetune_size, r->law, r->n_points);
        for (int j = 0; j < 4; j++)
            fprintf(f, ",%.10g", r->p[j]);
        for (int j = 0; j < 4; j++)
            fprintf(f, ",%.10g", r->se[j]);
        fprintf(f, ",%.10g,%.10g,%d,%d,%.10g,%.10g,%ld,%s\n", r->rmse, r->r2, r->converged,
                r->at_bound, r->scratch_error, r->best_error, (long)r->best_size,
                strcmp(r->law, "full") == 0 ? "delta gamma alpha beta" : "D alpha C");
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: cannot write", path);
        remove(tmp);
        return -1;
    }
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

int report_fit_file(const char *path, const char *csv_path, FILE *out, char *err, size_t errlen)
{
    store_results res;
    if (store_read(&res, path, err, errlen) != 0)
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
        if (fit_group(&rows[nrows++], &res, &keys[i], FIT_SIMPLE) != 0)
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
            if (fit_group(&rows[nrows++], &res, &k, FIT_FULL) != 0)
                goto oom;
        }
    }
    if (out) {
        fprintf(out, "fit of %s (job %s): L(n) = D * n^-alpha + C per group, ± one standard error\n",
                path, res.job_name);
        print_table(out, rows, nrows);
    }
    if (store_write_fits(path, rows, nrows, err, errlen) != 0)
        goto out;
    if (csv_path && write_csv(csv_path, rows, nrows, err, errlen) != 0)
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
