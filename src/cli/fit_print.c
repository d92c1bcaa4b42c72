/* The fit tables and the decision per group, as a newcomer reads them; and the fit at the
 * end of run and merge. */
#include "cli.h"

#include "synlaw/fitfile.h"
#include "synlaw/job.h"
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
    snprintf(g.cell[h][c++], CELL, "dAIC const");
    snprintf(g.cell[h][c++], CELL, "extrap (carry)");
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
            for (int j = 0; j < 5; j++)
                snprintf(g.cell[i][c++], CELL, "-");
        } else {
            snprintf(g.cell[i][c++], CELL, "%.4f", r->rmse);
            snprintf(g.cell[i][c++], CELL, "%.3f", r->r2);
            snprintf(g.cell[i][c++], CELL, "%.1f", r->aic);
            /* positive: the law explains the points better than a constant */
            snprintf(g.cell[i][c++], CELL, "%.1f", r->aic_const - r->aic);
            if (r->extrap_points)
                snprintf(g.cell[i][c++], CELL, "%.4f (%.4f)", r->extrap_error, r->extrap_carry);
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
        int within = 0;
        for (int k = 0; k < nrow; k++)
            within += analysis_row_law(&rows[k]) == law && rows[k].within;
        fprintf(out, "\n%s law %s, loss %s; %s%s\n", fit_law_name(law), desc[law], rows[0].loss,
                boot ? "parameters with bootstrap percentile intervals"
                     : "parameters ± one standard error",
                within ? "; fitted within repeats (each repeat's mean over the sizes removed)" : "");
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
    if (strcmp(r->verdict, "not-identified") == 0) {
        const char *why[3];
        int nw = 0, ia2 = strcmp(r->law, "full") == 0 ? 2 : 1;
        if (!(r->aic < r->aic_const - 2.0))
            why[nw++] = "a constant explains the points as well";
        if (r->at_bound & (1 << ia2))
            why[nw++] = "alpha sits on a bound of its range";
        if (r->extrap_points && !(r->extrap_error < r->extrap_carry))
            why[nw++] = "it extrapolates no better than carrying the last mean forward";
        fprintf(out, "the law is not identified: ");
        for (int w = 0; w < nw; w++)
            fprintf(out, "%s%s", w ? (w + 1 == nw ? " and " : ", ") : "", why[w]);
        fprintf(out, "; neither more data nor a gap can be concluded (add sizes where the curve moves, "
                "repeats, or a pre-training budget that grows with n)");
        fprintf(out, ". AIC %.1f against %.1f for a constant", r->aic, r->aic_const);
        if (r->extrap_points)
            fprintf(out, "; extrapolation error %.4f against %.4f carried forward", r->extrap_error, r->extrap_carry);
        fprintf(out, "; alpha %s, C %s", alpha, c);
        if (isfinite(r->scratch_error))
            fprintf(out, "; best %.4f at n = %lld against scratch %.4f", r->best_error, (long long)r->best_size,
                    r->scratch_error);
        fputs("\n", out);
        return;
    }
    if (strcmp(r->verdict, "more-data") == 0)
        fprintf(out, "more synthetic data still pays: 10x n (%.3g) lowers the error by %s to %.4f",
                10.0 * (double)r->n_max, gain, r->pred_10x);
    else if (strcmp(r->verdict, "gap") == 0 && (r->at_bound & 4) && r->p[2] < 1e-6)
        /* C on its lower bound: no floor was measured; a slow rate, not a gap, limits the gain */
        fprintf(out, "diminishing returns: 10x n gains only %s (< %g), but C sits at 0: no floor "
                "was measured, the slow rate alpha limits the gain; more of this synthesis will "
                "not pay by epsilon at this budget", gain, o->epsilon);
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
    double sum = 0, carry = 0;
    for (int k = 0; k < nrow; k++)
        if (rows[k].extrap_points && analysis_row_law(&rows[k]) != FIT_FULL) {
            sum += rows[k].extrap_error;
            carry += rows[k].extrap_carry;
            ex++;
        }
    if (ex)
        fprintf(out, "\nextrap: fitted without the %d largest n, mean |predicted - observed| there; "
                "average over %d group%s: %.4f; carrying the mean at the largest fitted n forward: %.4f\n",
                o->holdout, ex, ex == 1 ? "" : "s", sum / ex, carry / ex);
    int nid = 0, nsimple = 0;
    for (int k = 0; k < nrow; k++)
        if (analysis_row_law(&rows[k]) == FIT_SIMPLE && !isnan(rows[k].p[0])) {
            nsimple++;
            nid += rows[k].identified;
        }
    if (nsimple)
        fprintf(out, "identified: the law beats a constant (AIC by more than 2) and carrying forward in %d "
                "of %d group%s\n", nid, nsimple, nsimple == 1 ? "" : "s");
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


void cli_print_gains(FILE *out, const gains_row *rows, int n, double level)
{
    if (n == 0)
        return;
    int fam_n = 0, fam_all = 0, pass = 0, nall = 0;
    for (int i = 0; i < n; i++) {
        if (rows[i].pretrain_size == 0) {
            fam_all = rows[i].family;
            nall++;
            pass += rows[i].p_holm < 0.05 && rows[i].gain > 0;
        } else {
            fam_n = rows[i].family;
        }
    }
    fprintf(out, "\npre-trained against scratch: gain = scratch - pre-trained %s error, paired by repeat, "
            "%g%% t intervals, p two-sided; Holm over %d per-n and %d averaged comparisons",
            rows[0].reported_on, 100 * level, fam_n, fam_all);
    if (strcmp(rows[0].selected_on, "validation") == 0)
        fprintf(out, "; each arm's setting chosen on validation from %d", rows[0].settings);
    else if (strcmp(rows[0].selected_on, "none") == 0)
        fprintf(out, "; %d settings, none chosen (no validation curves): every one reported", rows[0].settings);
    fputc('\n', out);
    grid g;
    memset(&g, 0, sizeof g);
    static const char *const head[] = {"model", "cplx", "task", "s", "setting (scratch)", "n", "pairs",
                                       "pre-trained", "scratch", "gain [interval]", "p", "p Holm"};
    int nh = (int)(sizeof head / sizeof head[0]);
    int h = grid_row(&g);
    if (h < 0)
        return;
    for (int c = 0; c < nh; c++) {
        snprintf(g.cell[h][c], CELL, "%s", head[c]);
        g.left[c] = c < 3;
    }
    g.ncol = nh;
    for (int i = 0; i < n; i++) {
        const gains_row *r = &rows[i];
        int k = grid_row(&g);
        if (k < 0)
            break;
        int c = 0;
        snprintf(g.cell[k][c++], CELL, "%s", r->model);
        snprintf(g.cell[k][c++], CELL, "%d", r->complexity);
        snprintf(g.cell[k][c++], CELL, "%s", r->task);
        snprintf(g.cell[k][c++], CELL, "%lld", (long long)r->finetune_size);
        char pre[32], scr[32];
        snprintf(pre, sizeof pre, "%g%s%s", r->lr, r->freeze ? " " : "", r->freeze ? job_freeze_name(r->freeze) : "");
        snprintf(scr, sizeof scr, "%g%s%s", r->scratch_lr, r->scratch_freeze ? " " : "",
                 r->scratch_freeze ? job_freeze_name(r->scratch_freeze) : "");
        if (strcmp(pre, scr) == 0 && r->steps == r->scratch_steps)
            snprintf(g.cell[k][c++], CELL, "%s", pre);
        else
            snprintf(g.cell[k][c++], CELL, "%.28s (%.28s)", pre, scr);
        if (r->pretrain_size)
            snprintf(g.cell[k][c++], CELL, "%lld", (long long)r->pretrain_size);
        else
            snprintf(g.cell[k][c++], CELL, "mean");
        snprintf(g.cell[k][c++], CELL, "%d", r->pairs);
        snprintf(g.cell[k][c++], CELL, "%.4f", r->pretrained);
        snprintf(g.cell[k][c++], CELL, "%.4f", r->scratch);
        if (isfinite(r->gain_lo))
            snprintf(g.cell[k][c++], CELL, "%+.4f [%+.4f, %+.4f]", r->gain, r->gain_lo, r->gain_hi);
        else
            snprintf(g.cell[k][c++], CELL, "%+.4f", r->gain);
        snprintf(g.cell[k][c++], CELL, "%.3g", r->p);
        snprintf(g.cell[k][c++], CELL, "%.3g", r->p_holm);
    }
    grid_print(out, &g);
    free(g.cell);
    fprintf(out, "averaged over n: %d of %d comparisons show a gain with Holm-adjusted p < 0.05\n", pass, nall);
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
    cli_print_gains(out, fr.gains, fr.ngains, o.level);
    char *gcsv = fitfile_gains_csv(csv);
    fprintf(out, "fits written to %s:/fits and %s; gains to %s:/gains and %s\n", path, csv, path,
            gcsv ? gcsv : "?");
    free(gcsv);
    fitfile_result_free(&fr);
    free(csv);
    return EXIT_OK;
}
