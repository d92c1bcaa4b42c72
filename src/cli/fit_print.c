/* The fit tables and the decision per group, as a newcomer reads them; and the fit at the
 * end of run and merge. */
#include "cli.h"

#include "synlaw/fitfile.h"
#include "synlaw/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


enum { MAXCOL = 24, CELL = ANALYSIS_FIELD_LEN };

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

static void fmt_param(char *buf, const analysis_row *r, int i, int boot)
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

static void flags_text(const analysis_row *r, fit_law law, char *buf, size_t len)
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

static void print_law(FILE *out, const analysis_row *rows, int nrow, const char *group_columns,
                      const analysis_options *o, int scratch, fit_law law)
{
    grid g;
    memset(&g, 0, sizeof g);
    char head[MAXCOL][CELL];
    int ng = analysis_split_tabs(group_columns, head, 8), np = fit_param_count(law);
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
        const analysis_row *r = &rows[k];
        if (analysis_row_law(r) != law)
            continue;
        int i = grid_row(&g);
        if (i < 0)
            break;
        any = 1;
        char vals[MAXCOL][CELL];
        int nv = analysis_split_tabs(r->group, vals, 8);
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

static void print_decision(FILE *out, const analysis_row *r, const analysis_options *o)
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

void cli_print_fits(FILE *out, const analysis_row *rows, int nrow, const char *group_columns,
                    const analysis_options *o, int scratch)
{
    for (int law = FIT_SIMPLE; law <= FIT_FULL; law++)
        print_law(out, rows, nrow, group_columns, o, scratch, (fit_law)law);
    int ex = 0;
    double sum = 0;
    for (int k = 0; k < nrow; k++)
        if (rows[k].extrap_points && analysis_row_law(&rows[k]) != FIT_FULL) {
            sum += rows[k].extrap_error;
            ex++;
        }
    if (ex)
        fprintf(out, "\nextrap: fitted without the %d largest n, mean |predicted - observed| there; "
                "average over %d group%s: %.4f\n", o->holdout, ex, ex == 1 ? "" : "s", sum / ex);
    int nd = 0;
    for (int k = 0; k < nrow; k++)
        nd += analysis_row_law(&rows[k]) != FIT_FULL;
    if (!nd)
        return;
    fprintf(out, "\ndecision (epsilon = %g%s):\n", o->epsilon,
            o->bootstrap > 0 ? "" : "; point estimates only, --bootstrap B gives intervals");
    for (int k = 0; k < nrow; k++)
        if (analysis_row_law(&rows[k]) != FIT_FULL)
            print_decision(out, &rows[k], o);
}


int cli_fit_after_run(const char *path, const char *csv_path, FILE *out)
{
    char err[1024];
    char *csv = csv_path ? util_strdup(csv_path) : fitfile_default_csv(path);
    if (!csv)
        return cli_error(EXIT_RUNTIME, "fit: out of memory");
    analysis_options o = fitfile_default_options();
    fitfile_result fr;
    int rc = fitfile_run(&fr, path, &o, csv, err, sizeof err);
    if (rc != 0) {
        free(csv);
        return cli_error(EXIT_RUNTIME, "fit: %s", err);
    }
    if (fr.failed)
        fprintf(out, "warning: %d failed cell%s skipped by the fit (see /cells reason)\n", fr.failed,
                fr.failed == 1 ? "" : "s");
    fprintf(out, "fit of %s (job %s): one group per (model, complexity, task, s)\n", path, fr.job_name);
    cli_print_fits(out, fr.rows, fr.nrows, FITFILE_GROUP_COLUMNS, &o, 1);
    fprintf(out, "fits written to %s:/fits and %s\n", path, csv);
    fitfile_result_free(&fr);
    free(csv);
    return EXIT_OK;
}
