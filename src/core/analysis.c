/* Fit, bootstrap, extrapolation check and decision for one group; the table and the CSV. */
#include "synlaw/analysis.h"

#include "synlaw/util.h"

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

analysis_options analysis_default_options(fit_law law)
{
    analysis_options o;
    memset(&o, 0, sizeof o);
    o.fit = fit_default_options(law);
    o.seed = 1;
    o.level = 0.95;
    o.holdout = 1;
    o.epsilon = 0.01;
    o.within_repeats = 0;
    return o;
}

static int nfree_of(const fit_options *o)
{
    int k = 0;
    for (int i = 0; i < fit_param_count(o->law); i++)
        k += !o->fixed[i];
    return k;
}

/* Sorted distinct values of v[m] into out[m]; returns their count. */
static int distinct_sorted(const double *v, int m, double *out)
{
    memcpy(out, v, sizeof *out * (size_t)m);
    gsl_sort(out, 1, (size_t)m);
    int d = 0;
    for (int k = 0; k < m; k++)
        if (d == 0 || out[k] != out[d - 1])
            out[d++] = out[k];
    return d;
}

/* Percentile interval of the finite values among v[k * stride] (k < count); sorts a copy.
 * Returns 0, or -1 on out-of-memory. */
static int interval(const double *v, int count, int stride, double level, double *lo, double *hi)
{
    double *a = malloc(sizeof *a * (size_t)(count > 0 ? count : 1));
    *lo = *hi = NAN;
    if (!a)
        return -1;
    int k = 0;
    for (int b = 0; b < count; b++)
        if (isfinite(v[(size_t)b * (size_t)stride]))
            a[k++] = v[(size_t)b * (size_t)stride];
    if (k >= 2) {
        gsl_sort(a, 1, (size_t)k);
        *lo = gsl_stats_quantile_from_sorted_data(a, 1, (size_t)k, (1.0 - level) / 2);
        *hi = gsl_stats_quantile_from_sorted_data(a, 1, (size_t)k, 1.0 - (1.0 - level) / 2);
    }
    free(a);
    return 0;
}

/* y centred within repeats into out (see analysis.h); 1 when done, 0 when the repeats are not
 * balanced (out then holds y as it is), -1 on out-of-memory. */
static int center_repeats(const double *n, const double *s, const double *y, const int *cluster, int m,
                          double *out)
{
    memcpy(out, y, sizeof *out * (size_t)m);
    if (!cluster || m == 0)
        return 0;
    int *id = malloc(sizeof *id * (size_t)m), nrep = 0, npts = fit_distinct_points(n, s, m);
    double *sum = malloc(sizeof *sum * (size_t)m);
    int *cnt = calloc((size_t)m, sizeof *cnt);
    if (!id || !sum || !cnt || npts < 0) {
        free(id), free(sum), free(cnt);
        return -1;
    }
    for (int k = 0; k < m; k++) { /* repeat ids in order of first appearance */
        id[k] = -1;
        for (int j = 0; j < k && id[k] < 0; j++)
            if (cluster[j] == cluster[k])
                id[k] = id[j];
        if (id[k] < 0)
            id[k] = nrep++;
    }
    double grand = 0;
    for (int r = 0; r < nrep; r++)
        sum[r] = 0, cnt[r] = 0;
    for (int k = 0; k < m; k++) {
        sum[id[k]] += y[k];
        cnt[id[k]]++;
        grand += y[k] / m;
    }
    /* balanced: every repeat has one point per distinct (n, s) */
    int balanced = nrep > 1;
    for (int r = 0; r < nrep && balanced; r++)
        balanced = cnt[r] == npts;
    if (balanced)
        for (int k = 0; k < m; k++)
            out[k] = y[k] - sum[id[k]] / cnt[id[k]] + grand;
    free(id), free(sum), free(cnt);
    return balanced;
}

/* Fit below the holdout largest distinct n, predict the held-out ones. Returns 0, or -1 on
 * out-of-memory. */
static int extrapolate(analysis_row *row, const analysis_options *o, const double *n,
                       const double *s, const double *y, const int *cluster, int m, const double *sizes,
                       int nd)
{
    row->extrap_points = 0;
    row->extrap_from = 0;
    row->extrap_error = row->extrap_carry = NAN;
    /* The remaining sizes must be at least as many as the free parameters (with repeats
     * there are residual degrees of freedom even when they are equal). */
    if (o->holdout <= 0 || nd - o->holdout < nfree_of(&o->fit))
        return 0;
    double cut = sizes[nd - o->holdout];
    double *tn = malloc(sizeof(double) * (size_t)m * 4), *ts = tn + m, *ty = tn + 2 * m, *tc = tn + 3 * m;
    int *tcl = malloc(sizeof *tcl * (size_t)(m + 1));
    if (!tn || !tcl) {
        free(tn), free(tcl);
        return -1;
    }
    int mt = 0;
    for (int k = 0; k < m; k++)
        if (n[k] < cut) {
            tn[mt] = n[k], ts[mt] = s ? s[k] : 1.0, ty[mt] = y[k], tcl[mt] = cluster ? cluster[k] : 0;
            mt++;
        }
    if (o->within_repeats && cluster) { /* centred on the training points alone */
        if (center_repeats(tn, s ? ts : NULL, ty, tcl, mt, tc) < 0) {
            free(tn), free(tcl);
            return -1;
        }
        memcpy(ty, tc, sizeof *ty * (size_t)mt);
    }
    free(tcl);
    fit_result fr;
    if (fit_run(&fr, &o->fit, tn, s ? ts : NULL, ty, mt) == 0) {
        double sum = 0, carry = 0;
        int pairs = 0;
        for (int k = 0; k < m; k++) {
            if (n[k] < cut)
                continue;
            int first = 1;
            for (int j = 0; j < k && first; j++)
                first = !(n[j] == n[k] && (!s || s[j] == s[k]));
            if (!first)
                continue;
            double mean = 0, last_n = -1, last = 0;
            int cnt = 0, lcnt = 0;
            for (int j = 0; j < m; j++)
                if (n[j] == n[k] && (!s || s[j] == s[k])) {
                    mean += y[j];
                    cnt++;
                }
            /* carry forward: the mean at the largest fitted n of the same s */
            for (int j = 0; j < mt; j++)
                if ((!s || ts[j] == s[k]) && tn[j] > last_n)
                    last_n = tn[j];
            for (int j = 0; j < mt; j++)
                if ((!s || ts[j] == s[k]) && tn[j] == last_n) {
                    last += ty[j];
                    lcnt++;
                }
            sum += fabs(fit_eval(o->fit.law, fr.p, n[k], s ? s[k] : 1.0) - mean / cnt);
            carry += lcnt ? fabs(last / lcnt - mean / cnt) : NAN;
            pairs++;
        }
        row->extrap_points = pairs;
        row->extrap_from = (int64_t)cut;
        row->extrap_error = sum / pairs;
        row->extrap_carry = carry / pairs;
    }
    free(tn);
    return 0;
}

/* AIC of a constant (the mean, in the fitted space) and of the pure power law, in the same
 * Gaussian form as the law's: m ln(ssr / m) + 2k, k = parameters + 1. */
static void alternatives(analysis_row *row, const analysis_options *o, const double *n, const double *s,
                         const double *y, int m)
{
    row->aic_const = row->aic_power = NAN;
    if (m < 3)
        return;
    double mean = 0, ssr = 0;
    for (int k = 0; k < m; k++)
        mean += (o->fit.log_residuals ? log(y[k]) : y[k]) / m;
    for (int k = 0; k < m; k++) {
        double r = (o->fit.log_residuals ? log(y[k]) : y[k]) - mean;
        ssr += r * r;
    }
    row->aic_const = ssr > 0 ? m * log(ssr / m) + 2.0 * 2 : -INFINITY;
    if (o->fit.law != FIT_SIMPLE)
        return;
    fit_options po = fit_default_options(FIT_POWER);
    po.log_residuals = o->fit.log_residuals;
    po.loss = o->fit.loss;
    po.loss_scale = o->fit.loss_scale;
    fit_result fr;
    if (fit_run(&fr, &po, n, s, y, m) == 0)
        row->aic_power = fr.aic;
}

static void set_verdict(analysis_row *row, const analysis_options *o)
{
    const char *v;
    int ia = o->fit.law == FIT_FULL ? 2 : 1; /* alpha */
    int nfree = nfree_of(&o->fit);
    row->identified = o->fit.law != FIT_FULL && !isnan(row->p[0]) && row->aic < row->aic_const - 2.0 &&
                      !(row->at_bound & (1 << ia)) && row->n_sizes > nfree &&
                      (row->extrap_points == 0 || row->extrap_error < row->extrap_carry);
    if (isnan(row->p[0]))
        v = "no-fit";
    else if (o->fit.law == FIT_FULL || isnan(row->gain_10x))
        v = "-";
    else if (!row->identified)
        v = "not-identified";
    else if (row->gain_10x >= o->epsilon)
        v = isfinite(row->gain_10x_lo) && row->gain_10x_lo < o->epsilon ? "undetermined" : "more-data";
    else
        v = isfinite(row->gain_10x_hi) && row->gain_10x_hi >= o->epsilon ? "undetermined" : "gap";
    snprintf(row->verdict, sizeof row->verdict, "%s", v);
}

void analysis_loss_label(char *buf, size_t len, const fit_options *o)
{
    snprintf(buf, len, "%s%s", fit_loss_name(o->loss), o->log_residuals ? "+log" : "");
}

int analysis_group(analysis_row *row, const analysis_options *o, const double *n,
                   const double *s, const double *y, const int *cluster, int m, char *err,
                   size_t errlen)
{
    const fit_options *fo = &o->fit;
    int np = fit_param_count(fo->law);
    snprintf(row->law, sizeof row->law, "%s", fit_law_name(fo->law));
    analysis_loss_label(row->loss, sizeof row->loss, fo);
    row->n_points = m;
    row->level = o->level;
    for (int i = 0; i < 4; i++)
        row->p[i] = row->se[i] = row->ci_lo[i] = row->ci_hi[i] = NAN;
    row->rmse = row->r2 = row->aic = row->bic = NAN;
    row->pred_2x = row->pred_10x = row->gain_10x = row->gain_10x_lo = row->gain_10x_hi = NAN;
    row->n_within_eps = row->extrap_error = row->extrap_carry = NAN;
    row->aic_const = row->aic_power = NAN;
    row->identified = 0;
    row->boot_samples = 0;
    row->at_bound = 0;
    row->converged = 0;
    double *sizes = malloc(sizeof *sizes * (size_t)(m > 0 ? m : 1));
    double *yc = malloc(sizeof *yc * (size_t)(m > 0 ? m : 1)), *yraw = (double *)y;
    double *smp = NULL, *gain = NULL;
    int rc = SL_EFAIL;
    if (!sizes || !yc)
        goto oom;
    row->within = 0;
    if (o->within_repeats && cluster) {
        int c = center_repeats(n, s, y, cluster, m, yc);
        if (c < 0)
            goto oom;
        row->within = (int8_t)c;
        y = yc; /* the fit, the bootstrap and the constant see the centred points */
    }
    int nd = distinct_sorted(n, m, sizes);
    row->n_sizes = nd;
    row->n_max = nd ? (int64_t)sizes[nd - 1] : 0;

    fit_result fr;
    if (fit_run(&fr, fo, n, s, y, m) != 0) {
        set_verdict(row, o);
        free(sizes), free(yc);
        return 1;
    }
    for (int i = 0; i < np; i++) {
        row->p[i] = fr.p[i];
        row->se[i] = fr.se[i];
        if (fr.at_bound[i])
            row->at_bound |= (int8_t)(1 << i);
    }
    row->rmse = fr.rmse;
    row->r2 = fr.r2;
    row->aic = fr.aic;
    row->bic = fr.bic;
    row->converged = (int8_t)fr.converged;
    double nmax = (double)row->n_max;
    if (fo->law != FIT_FULL) {
        double now = fit_eval(fo->law, fr.p, nmax, 1.0);
        row->pred_2x = fit_eval(fo->law, fr.p, 2 * nmax, 1.0);
        row->pred_10x = fit_eval(fo->law, fr.p, 10 * nmax, 1.0);
        row->gain_10x = now - row->pred_10x;
        row->n_within_eps = fr.p[0] > 0 ? pow(fr.p[0] / o->epsilon, 1.0 / fr.p[1]) : 1.0;
    }
    /* With no more distinct (n, s) than free parameters the law passes through every
     * point, and resampling cannot say anything about uncertainty. */
    int ndistinct = fit_distinct_points(n, s, m);
    if (ndistinct < 0)
        goto oom;
    if (o->bootstrap > 0 && ndistinct > nfree_of(fo)) {
        int B = o->bootstrap;
        smp = malloc(sizeof *smp * (size_t)B * FIT_MAXP);
        gain = malloc(sizeof *gain * (size_t)B);
        if (!smp || !gain)
            goto oom;
        int fitted = fit_bootstrap(smp, fo, &fr, n, s, y, o->boot_repeats ? cluster : NULL, m, B,
                                   o->seed);
        if (fitted < 0)
            goto oom;
        row->boot_samples = fitted;
        for (int i = 0; i < np; i++)
            if (!fo->fixed[i] &&
                interval(smp + i, B, FIT_MAXP, o->level, &row->ci_lo[i], &row->ci_hi[i]) != 0)
                goto oom;
        if (fo->law != FIT_FULL) {
            for (int b = 0; b < B; b++) {
                const double *p = smp + (size_t)b * FIT_MAXP;
                gain[b] = fit_eval(fo->law, p, nmax, 1.0) - fit_eval(fo->law, p, 10 * nmax, 1.0);
            }
            if (interval(gain, B, 1, o->level, &row->gain_10x_lo, &row->gain_10x_hi) != 0)
                goto oom;
        }
    }
    if (extrapolate(row, o, n, s, yraw, cluster, m, sizes, nd) != 0)
        goto oom;
    alternatives(row, o, n, s, y, m);
    set_verdict(row, o);
    rc = 0;
    goto out;
oom:
    util_fail(err, errlen, SL_EFAIL, "out of memory while analysing a group of %d points", m);
out:
    free(smp), free(gain), free(sizes), free(yc);
    return rc;
}

/* ---- groups ---- */

int analysis_points_add(analysis_points *p, const char *label, double n, double s, double y,
                        int cluster)
{
    if (p->m == p->cap) {
        int cap = p->cap ? 2 * p->cap : 256;
        char **l = realloc(p->label, sizeof *l * (size_t)cap);
        if (l)
            p->label = l;
        double *a = realloc(p->n, sizeof *a * (size_t)cap);
        if (a)
            p->n = a;
        double *b = realloc(p->s, sizeof *b * (size_t)cap);
        if (b)
            p->s = b;
        double *c = realloc(p->y, sizeof *c * (size_t)cap);
        if (c)
            p->y = c;
        int *d = realloc(p->cluster, sizeof *d * (size_t)cap);
        if (d)
            p->cluster = d;
        if (!l || !a || !b || !c || !d)
            return -1;
        p->cap = cap;
    }
    if (!(p->label[p->m] = util_strdup(label)))
        return -1;
    p->n[p->m] = n, p->s[p->m] = s, p->y[p->m] = y, p->cluster[p->m] = cluster;
    p->m++;
    return 0;
}

void analysis_points_free(analysis_points *p)
{
    for (int i = 0; i < p->m; i++)
        free(p->label[i]);
    free(p->label), free(p->n), free(p->s), free(p->y), free(p->cluster);
    memset(p, 0, sizeof *p);
}

static const analysis_points *sort_pts; /* qsort has no context argument */

static int by_label(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b;
    int c = strcmp(sort_pts->label[i], sort_pts->label[j]);
    return c ? c : i - j;
}

typedef struct {
    int first, start, count; /* first point (appearance order), run in the sorted index */
} group_run;

static int by_first(const void *a, const void *b)
{
    return ((const group_run *)a)->first - ((const group_run *)b)->first;
}

int analysis_fit_groups(analysis_row **rows_out, int *nrows, const analysis_points *pts,
                        const analysis_options *o, int has_s, int has_cluster,
                        analysis_group_fn each, void *user, char *err, size_t errlen)
{
    int m = pts->m, ng = 0, rc = SL_EFAIL;
    *rows_out = NULL;
    *nrows = 0;
    /* Sort point indices by label (stable by index): groups are runs, O(m log m). */
    int *idx = malloc(sizeof *idx * (size_t)(m + 1));
    group_run *runs = malloc(sizeof *runs * (size_t)(m + 1));
    double *gn = malloc(sizeof *gn * (size_t)(m + 1) * 3);
    int *gc = malloc(sizeof *gc * (size_t)(m + 1));
    analysis_row *rows = NULL;
    if (!idx || !runs || !gn || !gc)
        goto oom;
    for (int i = 0; i < m; i++)
        idx[i] = i;
    sort_pts = pts;
    qsort(idx, (size_t)m, sizeof *idx, by_label);
    sort_pts = NULL;
    for (int k = 0; k < m; k++) {
        if (k == 0 || strcmp(pts->label[idx[k]], pts->label[idx[k - 1]]) != 0)
            runs[ng++] = (group_run){idx[k], k, 0};
        runs[ng - 1].count++;
    }
    qsort(runs, (size_t)ng, sizeof *runs, by_first);
    rows = calloc((size_t)ng + 1, sizeof *rows);
    if (!rows)
        goto oom;
    double *gs = gn + m + 1, *gy = gs + m + 1;
    for (int g = 0; g < ng; g++) {
        int cnt = runs[g].count;
        for (int j = 0; j < cnt; j++) {
            int k = idx[runs[g].start + j];
            gn[j] = pts->n[k], gs[j] = pts->s[k], gy[j] = pts->y[k], gc[j] = pts->cluster[k];
        }
        analysis_row *row = &rows[g];
        snprintf(row->group, sizeof row->group, "%s", pts->label[runs[g].first]);
        row->complexity = -1;
        row->finetune_size = -1;
        row->finetune_lr = NAN;
        row->scratch_error = row->best_error = NAN;
        if (analysis_group(row, o, gn, has_s ? gs : NULL, gy, has_cluster ? gc : NULL, cnt, err,
                           errlen) < 0)
            goto out;
        if (each)
            each(row, gn, gy, cnt, user);
    }
    *rows_out = rows;
    *nrows = ng;
    rows = NULL;
    rc = 0;
    goto out;
oom:
    util_fail(err, errlen, SL_EFAIL, "out of memory while grouping %d points", m);
out:
    free(idx), free(runs), free(gn), free(gc), free(rows);
    return rc;
}

void analysis_best_mean(const double *n, const double *y, int m, double *best, long *best_n)
{
    *best = NAN;
    *best_n = 0;
    for (int i = 0; i < m; i++) {
        int first = 1;
        for (int j = 0; j < i && first; j++)
            first = n[j] != n[i];
        if (!first)
            continue;
        double sum = 0;
        int k = 0;
        for (int j = i; j < m; j++)
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

fit_law analysis_row_law(const analysis_row *r)
{
    fit_law law;
    return fit_law_parse(r->law, &law) == 0 ? law : FIT_SIMPLE;
}

/* ---- CSV ---- */

enum { MAXCOL = 24, FIELD = ANALYSIS_FIELD_LEN };

int analysis_split_tabs(const char *s, char out[][ANALYSIS_FIELD_LEN], int max)
{
    int k = 0;
    const char *p = s;
    while (k < max) {
        const char *t = strchr(p, '\t');
        size_t len = t ? (size_t)(t - p) : strlen(p);
        snprintf(out[k++], FIELD, "%.*s", (int)(len < FIELD ? len : FIELD - 1), p);
        if (!t)
            break;
        p = t + 1;
    }
    return k;
}

static void csv_field(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\n")) {
        fputc('"', f);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
    } else {
        fputs(s, f);
    }
}

int analysis_write_csv(const char *path, const analysis_row *rows, int nrow,
                       const char *group_columns, char *err, size_t errlen)
{
    size_t tlen = strlen(path) + 5; /* "PATH.tmp", as long as PATH is */
    char *tmp = malloc(tlen);
    FILE *f = NULL;
    if (tmp) {
        snprintf(tmp, tlen, "%s.tmp", path);
        f = fopen(tmp, "w");
    }
    if (!f) {
        snprintf(err, errlen, "%s: cannot write", tmp ? tmp : path);
        free(tmp);
        return -1;
    }
    char head[MAXCOL][FIELD];
    int ng = analysis_split_tabs(group_columns, head, 8);
    for (int i = 0; i < ng; i++) {
        csv_field(f, head[i]);
        fputc(',', f);
    }
    fprintf(f, "law,loss,n_points,n_sizes,param_names,p0,p1,p2,p3,se0,se1,se2,se3,"
               "ci_lo0,ci_lo1,ci_lo2,ci_lo3,ci_hi0,ci_hi1,ci_hi2,ci_hi3,level,boot_samples,rmse,r2,"
               "aic,bic,converged,at_bound,extrap_points,extrap_from,extrap_error,extrap_carry,aic_const,"
               "aic_power,identified,within,n_max,pred_2x,"
               "pred_10x,gain_10x,gain_10x_lo,gain_10x_hi,n_within_eps,verdict,scratch_error,"
               "best_error,best_size\n");
    for (int k = 0; k < nrow; k++) {
        const analysis_row *r = &rows[k];
        char vals[MAXCOL][FIELD];
        int nv = analysis_split_tabs(r->group, vals, 8);
        for (int i = 0; i < ng; i++) {
            csv_field(f, i < nv ? vals[i] : "");
            fputc(',', f);
        }
        fit_law law = analysis_row_law(r);
        fprintf(f, "%s,%s,%d,%d,", r->law, r->loss, r->n_points, r->n_sizes);
        for (int i = 0; i < fit_param_count(law); i++)
            fprintf(f, "%s%s", i ? " " : "", fit_param_name(law, i));
        const double *arr[4] = {r->p, r->se, r->ci_lo, r->ci_hi};
        for (int a = 0; a < 4; a++)
            for (int i = 0; i < 4; i++)
                fprintf(f, ",%.10g", arr[a][i]);
        fprintf(f, ",%.10g", r->level);
        fprintf(f, ",%d,%.10g,%.10g,%.10g,%.10g,%d,%d,%d,%lld,%.10g,%.10g,%.10g,%.10g,%d,%d,%lld", r->boot_samples,
                r->rmse, r->r2, r->aic, r->bic, r->converged, r->at_bound, r->extrap_points,
                (long long)r->extrap_from, r->extrap_error, r->extrap_carry, r->aic_const, r->aic_power,
                r->identified, r->within, (long long)r->n_max);
        fprintf(f, ",%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%s,%.10g,%.10g,%lld\n", r->pred_2x,
                r->pred_10x, r->gain_10x, r->gain_10x_lo, r->gain_10x_hi, r->n_within_eps,
                r->verdict, r->scratch_error, r->best_error, (long long)r->best_size);
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: cannot write", path);
        remove(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}
