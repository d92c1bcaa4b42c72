/* synlaw refine against curves of known truth: coarse learning curves drawn from
 * L(n) = D n^-alpha + C with repeat offsets and noise, analysed as `synlaw fit` does; the
 * refine simulation predicts the interval after as many repeats again; then those repeats
 * are really drawn from the truth and the group is analysed again.
 * Checks: the realised intervals are as wide as predicted within a stated tolerance (mean
 * width realised / predicted in [0.6, 1.6] over the groups), the predicted share of settled
 * verdicts is within 0.25 of the realised share, and more groups are settled after the
 * round than before. Prints the figures. */
#include "check.h"
#include "synlaw/fitfile.h"
#include "synlaw/refine.h"
#include "synlaw/rng.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { GROUPS = 16, SIZES = 4, REP0 = 2, MAXP = SIZES * REP0 * 2 };

static const double N[SIZES] = {64, 256, 1024, 4096};

/* Points of repeats [r0, r1) of group g drawn from the truth. */
static int draw(double *n, double *y, int *cl, const double *p, int g, int r0, int r1, double tau, double sigma)
{
    int m = 0;
    for (int r = r0; r < r1; r++) {
        rng_t rr;
        rng_seed(&rr, rng_hash(77, (const uint64_t[]){(uint64_t)g, (uint64_t)r}, 2));
        double u = tau * rng_normal(&rr);
        for (int k = 0; k < SIZES; k++) {
            n[m] = N[k];
            y[m] = p[0] * pow(N[k], -p[1]) + p[2] + u + sigma * rng_normal(&rr);
            cl[m] = r;
            m++;
        }
    }
    return m;
}

int main(void)
{
    analysis_options o = fitfile_default_options();
    o.bootstrap = 100;
    o.fit.hi[2] = 0.9;
    /* the truth: gain_10x at n = 4096 is 1.5 * 4096^-0.5 * (1 - 10^-0.5) = 0.016, near
     * epsilon = 0.01, so that two repeats seldom settle it */
    const double truth[3] = {1.5, 0.5, 0.15};
    const double tau = 0.004, sigma = 0.008;
    double s[MAXP];
    for (int k = 0; k < MAXP; k++)
        s[k] = 1000;
    double pred_w = 0, real_w = 0, pred_settled = 0;
    int settled_before = 0, settled_after = 0, nw = 0;
    char err[256];
    for (int g = 0; g < GROUPS; g++) {
        double n[MAXP], y[MAXP];
        int cl[MAXP];
        int m = draw(n, y, cl, truth, g, 0, REP0, tau, sigma);
        analysis_row now;
        memset(&now, 0, sizeof now);
        now.finetune_size = 1000;
        o.seed = 100 + (unsigned)g;
        CHECK(analysis_group(&now, &o, n, s, y, cl, m, err, sizeof err) >= 0, "fit: %s", err);
        now.finetune_size = 1000;
        refine_quantity q0 = refine_quantity_of(&now, REFINE_C);
        settled_before += (int)q0.settled;
        double t_hat, s_hat;
        refine_noise(&now, n, y, cl, m, &t_hat, &s_hat);
        double an[MAXP];
        int ac[MAXP];
        for (int k = 0; k < m; k++)
            an[k] = n[k], ac[k] = cl[k] + REP0;
        refine_quantity pred;
        CHECK(refine_simulate(&pred, &o, REFINE_C, &now, n, y, cl, m, an, ac, m, t_hat, s_hat, 8, 500 + (unsigned)g,
                              err, sizeof err) == 0, "simulate: %s", err);
        /* the round really run: the same repeats drawn from the truth */
        int m2 = m + draw(n + m, y + m, cl + m, truth, g, REP0, 2 * REP0, tau, sigma);
        analysis_row after;
        memset(&after, 0, sizeof after);
        CHECK(analysis_group(&after, &o, n, s, y, cl, m2, err, sizeof err) >= 0, "refit: %s", err);
        refine_quantity q1 = refine_quantity_of(&after, REFINE_C);
        settled_after += (int)q1.settled;
        pred_settled += pred.settled;
        if (isfinite(pred.lo) && isfinite(q1.lo)) {
            pred_w += pred.hi - pred.lo, real_w += q1.hi - q1.lo;
            nw++;
        }
        printf("group %2d: %-14s C %.4f-%.4f | predicted C %.4f-%.4f, settled %.2f | realised %-14s C %.4f-%.4f\n",
               g, now.verdict, q0.lo, q0.hi, pred.lo, pred.hi, pred.settled, after.verdict, q1.lo, q1.hi);
    }
    double ratio = nw ? real_w / pred_w : NAN;
    printf("settled: %d of %d before, %d after (predicted %.1f); mean C interval width realised / predicted: "
           "%.3f over %d groups\n", settled_before, GROUPS, settled_after, pred_settled, ratio, nw);
    CHECK(nw >= GROUPS / 2, "only %d groups with intervals", nw);
    CHECK(ratio > 0.6 && ratio < 1.6, "realised / predicted width %.3f outside [0.6, 1.6]", ratio);
    CHECK(fabs(pred_settled - settled_after) <= 0.25 * GROUPS, "predicted %.1f settled, realised %d",
          pred_settled, settled_after);
    CHECK(settled_after > settled_before, "settled %d before, %d after", settled_before, settled_after);
    return test_summary("test_refine");
}
