/* Fit, bootstrap, extrapolation check and decision for one group; the table and the CSV. */
#include "synlaw/analysis.h"

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
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
    return o;
}

static int nfree_of(const fit_options *o)
{
    int k = 0;
    for (int i = 0; i < fit_param_count(o->law); i++)
        k += !o->fixed[i];
    return k;
}

/* Sorted distinct values of v[m] into out; returns their count. */
static int distinct_sorted(const double *v, int m, double *out)
{
    int d = 0;
    for (int k = 0; k < m; k++) {
        int seen = 0;
        for (int j = 0; j < d && !seen; j++)
            seen = out[j] == v[k];
        if (!seen)
            out[d++] = v[k];
    }
    gsl_sort(out, 1, (size_t)d);
    return d;
}

/* Percentile interval of the finite values among v[k * stride] (k < count); sorts a copy. */
static void interval(const double *v, int count, int stride, double level, double *lo, double *hi)
{
    double *a = malloc(sizeof *a * (size_t)(count > 0 ? count : 1));
    int k = 0;
    for (int b = 0; a && b < count; b++)
        if (isfinite(v[(size_t)b * (size_t)stride]))
            a[k++] = v[(size_t)b * (size_t)stride];
    *lo = *hi = NAN;
    if (k >= 2) {
        gsl_sort(a, 1, (size_t)k);
        *lo = gsl_stats_quantile_from_sorted_data(a, 1, (size_t)k, (1.0 - level) / 2);
        *hi = gsl_stats_quantile_from_sorted_data(a, 1, (size_t)k, 1.0 - (1.0 - level) / 2);
    }
    free(a);
}

/* Fit below the holdout largest distinct n, predict the held-out ones. */
static void extrapolate(store_fit_row *row, const analysis_options *o, const double *n,
                        const double *s, const double *y, int m, const double *sizes, int nd)
{
    row->extrap_points = 0;
    row->extrap_from = 0;
    row->extrap_error = NAN;
    /* The remaining sizes must be at least as many as the free parameters (with repeats
     * there are residual degrees of freedom even when they are equal). */
    if (o->holdout <= 0 || nd - o->holdout < nfree_of(&o->fit))
        return;
    double cut = sizes[nd - o->holdout];
    double *tn = malloc(sizeof(double) * (size_t)m * 3), *ts = tn + m, *ty = tn + 2 * m;
    if (!tn)
        return;
    int mt = 0;
    for (int k = 0; k < m; k++)
        if (n[k] < cut) {
            tn[mt] = n[k], ts[mt] = s ? s[k] : 1.0, ty[mt] = y[k];
            mt++;
        }
    fit_result fr;
    if (fit_run(&fr, &o->fit, tn, s ? ts : NULL, ty, mt) == 0) {
        double sum = 0;
        int pairs = 0;
        for (int k = 0; k < m; k++) {
            if (n[k] < cut)
                continue;
            int first = 1;
            for (int j = 0; j < k && first; j++)
                first = !(n[j] == n[k] && (!s || s[j] == s[k]));
            if (!first)
                continue;
            double mean = 0;
            int cnt = 0;
            for (int j = 0; j < m; j++)
                if (n[j] == n[k] && (!s || s[j] == s[k])) {
                    mean += y[j];
                    cnt++;
                }
            sum += fabs(fit_eval(o->fit.law, fr.p, n[k], s ? s[k] : 1.0) - mean / cnt);
            pairs++;
        }
        row->extrap_points = pairs;
        row->extrap_from = (int64_t)cut;
        row->extrap_error = sum / pairs;
    }
    free(tn);
}

static void set_verdict(store_fit_row *row, const analysis_options *o)
{
    const char *v;
    if (isnan(row->p[0]))
        v = "no-fit";
    else if (o->fit.law == FIT_FULL || isnan(row->gain_10x))
        v = "-";
    else if (row->gain_10x >= o->epsilon)
        v = isfinite(row->gain_10x_lo) && row->gain_10x_lo < o->epsilon ? "undetermined" : "more-data";
    else
        v = isfinite(row->gain_10x_hi) && row->gain_10x_hi >= o->epsilon ? "undetermined" : "gap";
    snprintf(row->verdict, sizeof row->verdict, "%s", v);
}

int analysis_group(store_fit_row *row, const analysis_options *o, const double *n,
                   const double *s, const double *y, const int *cluster, int m)
{
    const fit_options *fo = &o->fit;
    int np = fit_param_count(fo->law);
    snprintf(row->law, sizeof row->law, "%s", fit_law_name(fo->law));
    snprintf(row->loss, sizeof row->loss, "%s%s",
             fo->loss == FIT_LOSS_HUBER ? "huber" : fo->loss == FIT_LOSS_SOFT_L1 ? "soft-l1" : "linear",
             fo->log_residuals ? "+log" : "");
    row->n_points = m;
    for (int i = 0; i < 4; i++)
        row->p[i] = row->se[i] = row->ci_lo[i] = row->ci_hi[i] = NAN;
    row->rmse = row->r2 = row->aic = row->bic = NAN;
    row->pred_2x = row->pred_10x = row->gain_10x = row->gain_10x_lo = row->gain_10x_hi = NAN;
    row->n_within_eps = row->extrap_error = NAN;
    row->boot_samples = 0;
    row->at_bound = 0;
    row->converged = 0;
    double *sizes = malloc(sizeof *sizes * (size_t)(m > 0 ? m : 1));
    if (!sizes)
        return -1;
    int nd = distinct_sorted(n, m, sizes);
    row->n_sizes = nd;
    row->n_max = nd ? (int64_t)sizes[nd - 1] : 0;

    fit_result fr;
    if (fit_run(&fr, fo, n, s, y, m) != 0) {
        set_verdict(row, o);
        free(sizes);
        return -1;
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
    if (o->bootstrap > 0 && fit_distinct_points(n, s, m) > nfree_of(fo)) {
        int B = o->bootstrap;
        double *smp = malloc(sizeof *smp * (size_t)B * FIT_MAXP);
        double *gain = malloc(sizeof *gain * (size_t)B);
        if (!smp || !gain) {
            free(smp), free(gain), free(sizes);
            return -1;
        }
        row->boot_samples = fit_bootstrap(smp, fo, &fr, n, s, y, o->boot_repeats ? cluster : NULL,
                                          m, B, o->seed);
        for (int i = 0; i < np; i++)
            if (!fo->fixed[i])
                interval(smp + i, B, FIT_MAXP, o->level, &row->ci_lo[i], &row->ci_hi[i]);
        if (fo->law != FIT_FULL) {
            for (int b = 0; b < B; b++) {
                const double *p = smp + (size_t)b * FIT_MAXP;
                gain[b] = fit_eval(fo->law, p, nmax, 1.0) - fit_eval(fo->law, p, 10 * nmax, 1.0);
            }
            interval(gain, B, 1, o->level, &row->gain_10x_lo, &row->gain_10x_hi);
        }
        free(smp), free(gain);
    }
    extrapolate(row, o, n, s, y, m, sizes, nd);
    set_verdict(row, o);
    free(sizes);
    return 0;
}

/* ---- output ---- */

enum { MAXCOL = 24, CELL = 64 };

typedef struct {
    int ncol, nrow, cap;
    char (*cell)[MAXCOL][CELL]; /* [row][col], row 0 is the header */
    int left[MAXCOL];
} grid;

static int grid_row(grid *g)
{
    if (g->nrow == g->cap) {
        int cap = g->cap ? 2 * g->cap : 16;
        void *c = realloc(g->cell, sizeof *g->cell * (size_t)cap);
        if (!c)
            return -1;
        g->cell = c;
        g->cap = cap;
    }
    memset(g->cell[g->nrow], 0, sizeof g->cell[0]);
    return g->nrow++;
}

static void grid_print(FILE *out, const grid *g)
{
    int w[MAXCOL] = {0};
    for (int r = 0; r < g->nrow; r++)
        for (int c = 0; c < g->ncol; c++) {
            int len = 0; /* display width: count UTF-8 lead bytes */
            for (const char *p = g->cell[r][c]; *p; p++)
                len += ((unsigned char)*p & 0xC0) != 0x80;
            w[c] = len > w[c] ? len : w[c];
        }
    for (int r = 0; r < g->nrow; r++) {
        for (int c = 0; c < g->ncol; c++) {
            const char *t = g->cell[r][c];
            int len = 0;
            for (const char *p = t; *p; p++)
                len += ((unsigned char)*p & 0xC0) != 0x80;
            int pad = w[c] - len;
            if (c)
                fputs("  ", out);
            if (!g->left[c])
                fprintf(out, "%*s", pad, "");
            fputs(t, out);
            if (g->left[c] && c + 1 < g->ncol)
                fprintf(out, "%*s", pad, "");
        }
        fputc('\n', out);
    }
}

static void fmt_param(char *buf, const store_fit_row *r, int i, int boot)
{
    if (isnan(r->p[i]))
        snprintf(buf, CELL, "-");
    else if (r->se[i] == 0)
        snprintf(buf, CELL, "%.4g (fixed)", r->p[i]);
    else if (boot && isfinite(r->ci_lo[i]))
        snprintf(buf, CELL, "%.4g [%.3g, %.3g]", r->p[i], r->ci_lo[i], r->ci_hi[i]);
    else if (isnan(r->se[i]))
        snprintf(buf, CELL, "%.4g", r->p[i]);
    else
        snprintf(buf, CELL, "%.4g ± %.2g", r->p[i], r->se[i]);
}

static void flags_text(const store_fit_row *r, fit_law law, char *buf, size_t len)
{
    buf[0] = '\0';
    if (isnan(r->p[0])) {
        snprintf(buf, len, "no fit (%d point%s)", r->n_points, r->n_points == 1 ? "" : "s");
        return;
    }
    if (!r->converged)
        strncat(buf, "not-converged ", len - strlen(buf) - 1);
    int nfree = 0; /* fixed parameters have se 0 */
    for (int i = 0; i < fit_param_count(law); i++)
        nfree += !(r->se[i] == 0);
    if (r->n_points <= nfree)
        strncat(buf, "no-dof ", len - strlen(buf) - 1); /* no residual degrees of freedom */
    else if (r->n_sizes <= nfree && law != FIT_FULL)
        strncat(buf, "sizes<=params ", len - strlen(buf) - 1); /* no bootstrap intervals */
    for (int i = 0; i < fit_param_count(law); i++)
        if (r->at_bound & (1 << i)) {
            char t[32];
            snprintf(t, sizeof t, "%s@bound ", fit_param_name(law, i));
            strncat(buf, t, len - strlen(buf) - 1);
        }
    size_t k = strlen(buf);
    while (k > 0 && buf[k - 1] == ' ')
        buf[--k] = '\0';
}

static fit_law law_of(const store_fit_row *r)
{
    return strcmp(r->law, "full") == 0 ? FIT_FULL : strcmp(r->law, "power") == 0 ? FIT_POWER : FIT_SIMPLE;
}

/* Split the tab-separated s into at most max fields of out (copies). */
static int split_tabs(const char *s, char out[][CELL], int max)
{
    int k = 0;
    const char *p = s;
    while (k < max) {
        const char *t = strchr(p, '\t');
        size_t len = t ? (size_t)(t - p) : strlen(p);
        snprintf(out[k++], CELL, "%.*s", (int)(len < CELL ? len : CELL - 1), p);
        if (!t)
            break;
        p = t + 1;
    }
    return k;
}

static void print_law(FILE *out, const store_fit_row *rows, int nrow, const char *group_columns,
                      const analysis_options *o, int scratch, fit_law law)
{
    grid g;
    memset(&g, 0, sizeof g);
    char head[MAXCOL][CELL];
    int ng = split_tabs(group_columns, head, 8), np = fit_param_count(law);
    int boot = o->bootstrap > 0;
    int h = grid_row(&g);
    if (h < 0)
        return;
    int c = 0;
    for (int i = 0; i < ng; i++) {
        g.left[c] = 1;
        memcpy(g.cell[h][c++], head[i], CELL);
    }
    snprintf(g.cell[h][c++], CELL, "pts");
    for (int i = 0; i < np; i++) {
        g.left[c] = 1;
        snprintf(g.cell[h][c++], CELL, "%s", fit_param_name(law, i));
    }
    snprintf(g.cell[h][c++], CELL, "RMSE");
    snprintf(g.cell[h][c++], CELL, "R2");
    snprintf(g.cell[h][c++], CELL, "AIC");
    snprintf(g.cell[h][c++], CELL, "extrap");
    if (scratch) {
        snprintf(g.cell[h][c++], CELL, "scratch");
        snprintf(g.cell[h][c++], CELL, "best (n)");
    }
    g.left[c] = 1;
    snprintf(g.cell[h][c++], CELL, "flags");
    g.ncol = c;
    int any = 0;
    for (int k = 0; k < nrow; k++) {
        const store_fit_row *r = &rows[k];
        if (law_of(r) != law)
            continue;
        int i = grid_row(&g);
        if (i < 0)
            break;
        any = 1;
        char vals[MAXCOL][CELL];
        int nv = split_tabs(r->group, vals, 8);
        c = 0;
        for (int j = 0; j < ng; j++)
            memcpy(g.cell[i][c++], j < nv ? vals[j] : "", j < nv ? CELL : 1);
        snprintf(g.cell[i][c++], CELL, "%d", r->n_points);
        for (int j = 0; j < np; j++)
            fmt_param(g.cell[i][c++], r, j, boot);
        if (isnan(r->p[0])) {
            for (int j = 0; j < 4; j++)
                snprintf(g.cell[i][c++], CELL, "-");
        } else {
            snprintf(g.cell[i][c++], CELL, "%.4f", r->rmse);
            snprintf(g.cell[i][c++], CELL, "%.3f", r->r2);
            snprintf(g.cell[i][c++], CELL, "%.1f", r->aic);
            if (r->extrap_points)
                snprintf(g.cell[i][c++], CELL, "%.4f", r->extrap_error);
            else
                snprintf(g.cell[i][c++], CELL, "-");
        }
        if (scratch) {
            snprintf(g.cell[i][c++], CELL, "%.4f", r->scratch_error);
            snprintf(g.cell[i][c++], CELL, "%.4f (%lld)", r->best_error, (long long)r->best_size);
        }
        flags_text(r, law, g.cell[i][c], CELL);
        if (boot && r->boot_samples > 0 && r->boot_samples < o->bootstrap) {
            size_t len = strlen(g.cell[i][c]);
            snprintf(g.cell[i][c] + len, CELL - len, "%sbootstrap %d/%d fitted", len ? " " : "", r->boot_samples,
                     o->bootstrap);
        }
        c++;
    }
    if (any) {
        static const char *desc[3] = {"L(n) = D n^-alpha + C", "L(n) = D n^-alpha",
                                      "L(n, s) = delta (gamma + n^-alpha) s^-beta"};
        fprintf(out, "\n%s law %s, loss %s; %s\n", fit_law_name(law), desc[law], rows[0].loss,
                boot ? "parameters with bootstrap percentile intervals"
                     : "parameters ± one standard error");
        grid_print(out, &g);
    }
    free(g.cell);
}

static void print_decision(FILE *out, const store_fit_row *r, const analysis_options *o)
{
    char label[160];
    snprintf(label, sizeof label, "%s", r->group);
    for (char *p = label; *p; p++)
        if (*p == '\t')
            *p = ' ';
    fprintf(out, "  %s: ", label);
    if (strcmp(r->verdict, "no-fit") == 0) {
        fprintf(out, "no fit (%d point%s)\n", r->n_points, r->n_points == 1 ? "" : "s");
        return;
    }
    int ia = 1, boot = isfinite(r->gain_10x_lo);
    char gain[96], c[96], alpha[96];
    if (boot) {
        snprintf(gain, sizeof gain, "%.4f [%.4f, %.4f]", r->gain_10x, r->gain_10x_lo, r->gain_10x_hi);
        snprintf(alpha, sizeof alpha, "%.3g [%.3g, %.3g]", r->p[ia], r->ci_lo[ia], r->ci_hi[ia]);
    } else {
        snprintf(gain, sizeof gain, "%.4f", r->gain_10x);
        snprintf(alpha, sizeof alpha, "%.3g ± %.2g", r->p[ia], r->se[ia]);
    }
    if (strcmp(r->law, "simple") == 0)
        snprintf(c, sizeof c, boot ? "%.4f [%.4f, %.4f]" : "%.4f", r->p[2], r->ci_lo[2], r->ci_hi[2]);
    else
        snprintf(c, sizeof c, "0 (no floor)");
    if (strcmp(r->verdict, "more-data") == 0)
        fprintf(out, "more synthetic data still pays: 10x n (%.3g) lowers the error by %s to %.4f",
                10.0 * (double)r->n_max, gain, r->pred_10x);
    else if (strcmp(r->verdict, "gap") == 0)
        fprintf(out, "the transfer gap dominates: 10x n gains only %s (< %g); "
                "change the synthesis, not its amount", gain, o->epsilon);
    else
        fprintf(out, "undetermined: 10x n gains %s, an interval around epsilon = %g; "
                "add repeats or sizes", gain, o->epsilon);
    fprintf(out, ". alpha %s, C %s; L(2n) %.4f, L(10n) %.4f", alpha, c, r->pred_2x, r->pred_10x);
    if (r->n_within_eps < 1)
        fprintf(out, "; within %g of C from the start", o->epsilon);
    else if (r->n_within_eps > 1e12)
        fprintf(out, "; within %g of C only beyond n = 1e12", o->epsilon);
    else if (isfinite(r->n_within_eps))
        fprintf(out, "; within %g of C from n = %.3g", o->epsilon, r->n_within_eps);
    if (isfinite(r->scratch_error)) {
        fprintf(out, "; best %.4f at n = %lld against scratch %.4f", r->best_error,
                (long long)r->best_size, r->scratch_error);
        if (r->pred_10x >= r->scratch_error)
            fprintf(out, "; even at 10x n the law stays above scratch: pre-training does not pay here");
    }
    fputs("\n", out);
}

void analysis_print(FILE *out, const store_fit_row *rows, int nrow, const char *group_columns,
                    const analysis_options *o, int scratch)
{
    for (int law = FIT_SIMPLE; law <= FIT_FULL; law++)
        print_law(out, rows, nrow, group_columns, o, scratch, (fit_law)law);
    int ex = 0;
    double sum = 0;
    for (int k = 0; k < nrow; k++)
        if (rows[k].extrap_points && law_of(&rows[k]) != FIT_FULL) {
            sum += rows[k].extrap_error;
            ex++;
        }
    if (ex)
        fprintf(out, "\nextrap: fitted without the %d largest n, mean |predicted - observed| there; "
                "average over %d group%s: %.4f\n", o->holdout, ex, ex == 1 ? "" : "s", sum / ex);
    int nd = 0;
    for (int k = 0; k < nrow; k++)
        nd += law_of(&rows[k]) != FIT_FULL;
    if (!nd)
        return;
    fprintf(out, "\ndecision (epsilon = %g%s):\n", o->epsilon,
            o->bootstrap > 0 ? "" : "; point estimates only, --bootstrap B gives intervals");
    for (int k = 0; k < nrow; k++)
        if (law_of(&rows[k]) != FIT_FULL)
            print_decision(out, &rows[k], o);
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

int analysis_write_csv(const char *path, const store_fit_row *rows, int nrow,
                       const char *group_columns, char *err, size_t errlen)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(err, errlen, "%s: cannot write", tmp);
        return -1;
    }
    char head[MAXCOL][CELL];
    int ng = split_tabs(group_columns, head, 8);
    for (int i = 0; i < ng; i++) {
        csv_field(f, head[i]);
        fputc(',', f);
    }
    fprintf(f, "law,loss,n_points,n_sizes,param_names,p0,p1,p2,p3,se0,se1,se2,se3,"
               "ci_lo0,ci_lo1,ci_lo2,ci_lo3,ci_hi0,ci_hi1,ci_hi2,ci_hi3,boot_samples,rmse,r2,"
               "aic,bic,converged,at_bound,extrap_points,extrap_from,extrap_error,n_max,pred_2x,"
               "pred_10x,gain_10x,gain_10x_lo,gain_10x_hi,n_within_eps,verdict,scratch_error,"
               "best_error,best_size\n");
    for (int k = 0; k < nrow; k++) {
        const store_fit_row *r = &rows[k];
        char vals[MAXCOL][CELL];
        int nv = split_tabs(r->group, vals, 8);
        for (int i = 0; i < ng; i++) {
            csv_field(f, i < nv ? vals[i] : "");
            fputc(',', f);
        }
        fit_law law = law_of(r);
        fprintf(f, "%s,%s,%d,%d,", r->law, r->loss, r->n_points, r->n_sizes);
        for (int i = 0; i < fit_param_count(law); i++)
            fprintf(f, "%s%s", i ? " " : "", fit_param_name(law, i));
        const double *arr[4] = {r->p, r->se, r->ci_lo, r->ci_hi};
        for (int a = 0; a < 4; a++)
            for (int i = 0; i < 4; i++)
                fprintf(f, ",%.10g", arr[a][i]);
        fprintf(f, ",%d,%.10g,%.10g,%.10g,%.10g,%d,%d,%d,%lld,%.10g,%lld", r->boot_samples, r->rmse,
                r->r2, r->aic, r->bic, r->converged, r->at_bound, r->extrap_points,
                (long long)r->extrap_from, r->extrap_error, (long long)r->n_max);
        fprintf(f, ",%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%s,%.10g,%.10g,%lld\n", r->pred_2x,
                r->pred_10x, r->gain_10x, r->gain_10x_lo, r->gain_10x_hi, r->n_within_eps,
                r->verdict, r->scratch_error, r->best_error, (long long)r->best_size);
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: cannot write", path);
        remove(tmp);
        return -1;
    }
    return 0;
}
