/* The analysis of one learning curve group, shared by the fit of a results file and of an
 * external CSV: the fit, bootstrap intervals, AIC/BIC, an extrapolation check and the
 * decision the user came for (does more synthetic data still pay?), then the table on
 * stdout, the CSV and the rows of /fits.
 *
 * Extrapolation check: the `holdout` largest distinct n are set aside, the law is fitted to
 * the rest (at least as many distinct n as free parameters, and more points than them), and the
 * prediction at each held-out (n, s) is compared with the mean observed error there.
 *
 * Decision, with n_max the largest n fitted and epsilon the error difference that matters:
 * the law's predictions at 2 n_max and 10 n_max, gain_10x = L(n_max) - L(10 n_max), and
 * n_within_eps = (D / epsilon)^(1 / alpha), where L(n) comes within epsilon of C. Verdict
 * "more-data" when gain_10x >= epsilon, "gap" when it is below (the transfer gap C
 * dominates: change the synthesis, not its amount), "undetermined" when the bootstrap
 * interval of gain_10x contains epsilon. Without bootstrap the verdict rests on the point
 * estimate alone, and the table says so. */
#ifndef SYNLAW_ANALYSIS_H
#define SYNLAW_ANALYSIS_H

#include "synlaw/fit.h"
#include "synlaw/store.h"

#include <stddef.h>
#include <stdio.h>

typedef struct {
    fit_options fit;
    int bootstrap;                /* replicates B; 0: no bootstrap */
    int boot_repeats;             /* 1: resample whole repeats (clusters) where known; 0: points */
    unsigned long long seed;      /* bootstrap seed */
    double level;                 /* interval coverage, e.g. 0.95 */
    int holdout;                  /* largest distinct n held out for the extrapolation check */
    double epsilon;               /* error difference that matters (0.01: one point) */
} analysis_options;

/* B = 0, seed 1, level 0.95, holdout 1, epsilon 0.01. */
analysis_options analysis_default_options(fit_law law);

/* Analyse the m points (n, s, y) of one group; cluster[k] is the repeat of point k (NULL:
 * unknown), used by the bootstrap only with boot_repeats. Resampling whole repeats respects
 * correlation within a repeat but needs many of them: with 3 repeats its 95% intervals
 * covered the truth in only about 70% of simulated data sets (tests/test_fit.c), against
 * 91-95% for resampling points, the default. Fills everything in row except the group
 * label, coordinates and scratch/best fields, which the caller sets. Returns 0, or -1 when
 * the law could not be fitted (row then says "no-fit"). */
int analysis_group(store_fit_row *row, const analysis_options *o, const double *n,
                   const double *s, const double *y, const int *cluster, int m);

/* Readable table of the rows (group columns tab-separated in the header and each row's
 * group), then one decision line per group. scratch: print the scratch/best columns. */
void analysis_print(FILE *out, const store_fit_row *rows, int nrow, const char *group_columns,
                    const analysis_options *o, int scratch);

/* The rows as CSV (written to PATH.tmp, then renamed). */
int analysis_write_csv(const char *path, const store_fit_row *rows, int nrow,
                       const char *group_columns, char *err, size_t errlen);

#endif
