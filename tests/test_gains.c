/* Gains of pre-training over scratch: paired statistics against values computed by hand
 * (scipy.stats.ttest_rel gives the same t and p), Holm's adjustment on a textbook example,
 * averaging over n, and the choice of settings on validation, reported on test. */
#include "check.h"
#include "synlaw/gains.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static gains_cell cell(const char *model, long n, long s, double lr, int repeat, double val, double test)
{
    gains_cell c;
    memset(&c, 0, sizeof c);
    snprintf(c.model, sizeof c.model, "%s", model);
    c.complexity = n ? 3 : 0;
    snprintf(c.task, sizeof c.task, "%s", n ? "segment" : "none");
    c.finetune_size = s;
    c.n = n;
    c.lr = lr;
    c.steps = 100;
    c.repeat = repeat;
    c.val = val;
    c.test = test;
    return c;
}

/* One setting, one n, 4 repeats: d = scratch - pre = {0.02, 0.01, 0.03, 0.00}. */
static void test_paired(void)
{
    gains_cell c[8];
    const double pre[4] = {0.20, 0.22, 0.19, 0.25}, scr[4] = {0.22, 0.23, 0.22, 0.25};
    for (int r = 0; r < 4; r++) {
        c[2 * r] = cell("m", 1000, 100, 0.001, r, NAN, pre[r]);
        c[2 * r + 1] = cell("m", 0, 100, 0.001, r, NAN, scr[r]);
    }
    gains_row *rows;
    int n;
    char err[256];
    CHECK(gains_compute(&rows, &n, c, 8, 0.95, err, sizeof err) == 0, "gains: %s", err);
    CHECK(n == 2, "%d rows, expected one per n and one averaged", n);
    const gains_row *r = &rows[0];
    /* scipy.stats.ttest_rel: t 2.3237900077244507, p 0.1027280788583989; t(0.975, 3) 3.182446305 */
    CHECK(r->pairs == 4 && fabs(r->gain - 0.015) < 1e-12, "gain %g pairs %d", r->gain, r->pairs);
    CHECK(fabs(r->sd - 0.0129099445) < 1e-9, "sd %.10g", r->sd);
    CHECK(fabs(r->t - 2.3237900077) < 1e-8, "t %.10g", r->t);
    CHECK(fabs(r->p - 0.1027280788583989) < 1e-9, "p %.10g", r->p);
    CHECK(fabs(r->gain_lo - (0.015 - 3.182446305 * 0.006454972)) < 1e-8, "lo %.10g", r->gain_lo);
    CHECK(fabs(r->pretrained - 0.215) < 1e-12 && fabs(r->scratch - 0.23) < 1e-12, "means");
    CHECK(strcmp(r->reported_on, "test") == 0 && strcmp(r->selected_on, "-") == 0, "labels");
    CHECK(rows[1].pretrain_size == 0 && fabs(rows[1].gain - 0.015) < 1e-12, "averaged row");
    CHECK(r->family == 1 && r->p_holm == r->p, "family of one");
    free(rows);
}

/* Holm over four n: each adjusted p is the running maximum of (family - rank) x p in
 * increasing order of p, capped at 1, recomputed here from the raw p-values. */
static void test_holm(void)
{
    gains_cell c[40];
    int k = 0;
    const long ns[4] = {100, 400, 1600, 6400};
    for (int r = 0; r < 5; r++) {
        c[k++] = cell("m", 0, 100, 0.001, r, NAN, 0.30 + 0.01 * r);
        for (int j = 0; j < 4; j++)
            c[k++] = cell("m", ns[j], 100, 0.001, r, NAN, 0.30 + 0.01 * r - 0.01 * j - 0.002 * (r % 2) * j);
    }
    gains_row *rows;
    int n;
    char err[256];
    CHECK(gains_compute(&rows, &n, c, k, 0.95, err, sizeof err) == 0, "gains: %s", err);
    CHECK(n == 5, "%d rows", n);
    double p[4], h[4];
    for (int j = 0; j < 4; j++) {
        p[j] = rows[j].p;
        h[j] = rows[j].p_holm;
        CHECK(rows[j].family == 4, "family %d", rows[j].family);
        CHECK(h[j] >= p[j] - 1e-15 && h[j] <= 1.0, "adjusted %g below raw %g", h[j], p[j]);
    }
    /* the smallest p is multiplied by 4, the next by 3 (or the running maximum), ... */
    int order[4] = {0, 1, 2, 3};
    for (int a = 0; a < 4; a++)
        for (int b = a + 1; b < 4; b++)
            if (isnan(p[order[a]]) || p[order[b]] < p[order[a]]) {
                int t = order[a];
                order[a] = order[b];
                order[b] = t;
            }
    double run = 0;
    for (int i = 0; i < 4; i++) {
        int j = order[i];
        if (isnan(p[j]))
            continue;
        run = fmax(run, fmin(1.0, (4 - i) * p[j]));
        CHECK(fabs(h[j] - run) < 1e-12, "Holm of rank %d: %g, expected %g", i, h[j], run);
    }
    free(rows);
}

/* Two learning rates: the pre-trained arm is best at 0.01 on validation, scratch at 0.001;
 * the test error of the chosen settings is reported, and every n and repeat is paired. */
static void test_selection(void)
{
    gains_cell c[64];
    int k = 0;
    for (int r = 0; r < 3; r++)
        for (int l = 0; l < 2; l++) {
            double lr = l ? 0.01 : 0.001;
            c[k++] = cell("m", 0, 100, lr, r, l ? 0.40 : 0.30, l ? 0.41 : 0.31 + 0.001 * r);
            for (int n = 1; n <= 2; n++)
                c[k++] = cell("m", 1000 * n, 100, lr, r, l ? 0.25 : 0.35, l ? 0.26 - 0.01 * n + 0.002 * r : 0.36);
        }
    gains_row *rows;
    int n;
    char err[256];
    CHECK(gains_compute(&rows, &n, c, k, 0.95, err, sizeof err) == 0, "gains: %s", err);
    CHECK(n == 3, "%d rows", n);
    for (int i = 0; i < n; i++) {
        CHECK(rows[i].lr == 0.01 && rows[i].scratch_lr == 0.001, "chosen %g / %g", rows[i].lr, rows[i].scratch_lr);
        CHECK(strcmp(rows[i].selected_on, "validation") == 0 && rows[i].settings == 2, "selection labels");
        CHECK(rows[i].pairs == 3, "pairs %d", rows[i].pairs);
    }
    /* n = 1000: pre 0.25 + 0.002 r, scratch 0.31 + 0.001 r: gain 0.06 - 0.001 r, mean 0.059 */
    CHECK(fabs(rows[0].gain - 0.059) < 1e-12, "gain at n=1000: %.12g", rows[0].gain);
    /* averaged over n: pre (0.25 + 0.24)/2 + 0.002 r */
    CHECK(fabs(rows[2].pretrained - (0.245 + 0.002)) < 1e-12, "averaged pre-trained %.12g", rows[2].pretrained);
    free(rows);
    /* without validation curves no setting is chosen: both are reported */
    for (int i = 0; i < k; i++)
        c[i].val = NAN;
    CHECK(gains_compute(&rows, &n, c, k, 0.95, err, sizeof err) == 0, "gains: %s", err);
    CHECK(n == 6 && strcmp(rows[0].selected_on, "none") == 0, "%d rows, selected_on %s", n, rows[0].selected_on);
    CHECK(rows[0].family == 4, "family of the per-n rows: %d", rows[0].family);
    free(rows);
}

int main(void)
{
    test_paired();
    test_holm();
    test_selection();
    return test_summary("gains");
}
