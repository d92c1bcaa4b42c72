/* The analysis of one learning curve group, shared by the fit of a results file and of an
 * external CSV: the fit, bootstrap intervals, AIC/BIC, an extrapolation check and the
 * decision the user came for (does more synthetic data still pay?), then the table on
 * stdout, the CSV and the rows of /fits.
 *
 * Extrapolation check: the `holdout` largest distinct n are set aside, the law is fitted to
 * the rest (at least as many distinct n as free parameters, and more points than them), and the
 * prediction at each held-out (n, s) is compared with the mean observed error there.
 *
 * Identifiability: the law is identified when its AIC is lower than a constant's by more
 * than 2, alpha is not on a bound of its range (the data then do not pin the rate: a step
 * or a line), and, where the back-test exists, its extrapolation error is below that of
 * carrying the mean at the largest fitted n forward. A group whose law is not identified gets the
 * verdict "not-identified", never "gap" or "more-data": its curve is flat within the noise,
 * or the law does not predict beyond its sizes.
 *
 * Decision, with n_max the largest n fitted and epsilon the error difference that matters:
 * the law's predictions at 2 n_max and 10 n_max, gain_10x = L(n_max) - L(10 n_max), and
 * n_within_eps = (D / epsilon)^(1 / alpha), where L(n) comes within epsilon of C. Verdict
 * "more-data" when gain_10x >= epsilon, "gap" when it is below (the transfer gap C
 * dominates: change the synthesis, not its amount), "undetermined" when the bootstrap
 * interval of gain_10x contains epsilon. Without bootstrap the verdict rests on the point
 * estimate alone, and the table says so.
 *
 * Grouping: learning-curve points carry a group label (tab-separated values of the group
 * columns); analysis_points collects them and analysis_fit_groups fits every group, in
 * order of first appearance. Results files and CSV files both come through here. */
#ifndef SYNLAW_ANALYSIS_H
#define SYNLAW_ANALYSIS_H

#include "synlaw/fit.h"

#include <stddef.h>
#include <stdint.h>

enum { ANALYSIS_GROUP_LEN = 128, ANALYSIS_NAME_LEN = 32, ANALYSIS_WORD_LEN = 16, ANALYSIS_FIELD_LEN = 64 };

/* One fitted group and law: a row of /fits and of the fits CSV. */
typedef struct {
    char group[ANALYSIS_GROUP_LEN]; /* the group's values, tab-separated (names: group_columns) */
    char model[ANALYSIS_NAME_LEN];  /* synlaw results: the group's coordinates; from a CSV: "", */
    int32_t complexity;             /* -1, "", -1 */
    char pretrain_task[ANALYSIS_WORD_LEN];
    int64_t finetune_size;          /* 0 for the full law across fine-tuning sizes */
    double finetune_lr;             /* the fine-tuning setting (results files; NaN from a CSV) */
    int32_t finetune_steps;         /* (0 from a CSV) */
    int8_t finetune_freeze;         /* 0 none, 1 conv, 2 backbone (0 from a CSV) */
    char law[ANALYSIS_WORD_LEN];    /* simple, power, full */
    char loss[ANALYSIS_WORD_LEN];   /* linear, huber, soft-l1 (with "+log" for log residuals) */
    int32_t n_points, n_sizes;      /* points fitted; distinct n among them */
    double p[4], se[4];             /* simple: D alpha C; power: D alpha; full: delta gamma alpha beta */
    double ci_lo[4], ci_hi[4];      /* bootstrap percentile interval (NaN without bootstrap) */
    double level;                   /* coverage of those intervals (e.g. 0.95) */
    int32_t boot_samples;           /* bootstrap replicates that fitted */
    double rmse, r2, aic, bic;
    int8_t converged;
    int8_t at_bound;                /* bit i set: parameter i on a bound */
    int32_t extrap_points;          /* held-out (n, s) for the extrapolation check, 0: none */
    int64_t extrap_from;            /* smallest held-out n */
    double extrap_error;            /* mean |predicted - observed mean| over the held-out (n, s) */
    double extrap_carry;            /* the same for carrying the mean at the largest fitted n
                                       forward (the baseline the law must beat) */
    double aic_const, aic_power;    /* AIC of a constant and of the pure power law D n^-alpha */
    int8_t identified;              /* simple and power law: 1 when it beats a constant by AIC (by
                                       more than 2), alpha is inside its range, there are more
                                       distinct sizes than free parameters, and, where there is
                                       a back-test, it beats carrying forward; 0 for the full law */
    int8_t within;                  /* 1: fitted within repeats (repeat means removed) */
    int64_t n_max;                  /* largest n fitted */
    double pred_2x, pred_10x;       /* law at 2 n_max and 10 n_max */
    double gain_10x, gain_10x_lo, gain_10x_hi; /* L(n_max) - L(10 n_max), bootstrap interval */
    double n_within_eps;            /* n where L(n) - C = epsilon */
    char verdict[ANALYSIS_WORD_LEN]; /* more-data, gap, undetermined, not-identified, no-fit, "-"
                                       (full law) */
    double scratch_error;           /* mean final error of the scratch cells of (model, s) */
    double best_error;              /* lowest mean final error over the group's n */
    int64_t best_size;              /* n of best_error */
} analysis_row;

typedef struct {
    fit_options fit;
    int bootstrap;                /* replicates B; 0: no bootstrap */
    int boot_repeats;             /* 1: resample whole repeats (clusters) where known; 0: points */
    unsigned long long seed;      /* bootstrap seed */
    double level;                 /* interval coverage, e.g. 0.95 */
    int holdout;                  /* largest distinct n held out for the extrapolation check */
    int within_repeats;           /* 1: fit within repeats where the repeats are balanced (see
                                     analysis_group) */
    double epsilon;               /* error difference that matters (0.01: one point) */
} analysis_options;

/* B = 0, seed 1, level 0.95, holdout 1, epsilon 0.01. */
analysis_options analysis_default_options(fit_law law);

/* Name of a loss with its residual space, as stored in analysis_row.loss ("huber+log"). */
void analysis_loss_label(char *buf, size_t len, const fit_options *o);

/* Analyse the m points (n, s, y) of one group; cluster[k] is the repeat of point k (NULL:
 * unknown), used by the bootstrap only with boot_repeats. Resampling whole repeats respects
 * correlation within a repeat but needs many of them: with 3 repeats its 95% intervals
 * covered the truth in only about 70% of simulated data sets (tests/test_fit.c), against
 * 91-95% for resampling points, the default. Fills everything in row except the group
 * label, coordinates and scratch/best fields, which the caller sets. Returns 0; 1 when the
 * law could not be fitted (row then says "no-fit"); -1 on out-of-memory (message in err).
 *
 * Within repeats (o->within_repeats, with cluster ids): when every repeat has a point at every
 * distinct (n, s) of the group, each point's repeat mean is subtracted and the grand mean
 * added back before fitting: y'[k] = y[k] - mean(repeat of k) + mean(all). A repeat fixes the
 * real subset and the initial weights, which shift every n of it alike; removing that shift
 * is the fixed-effects fit L(n) + u_repeat with the average repeat's level, and leaves the
 * law's parameters the meaning they have without it. The extrapolation check centres its
 * training points alone. Unbalanced groups are fitted as they are (row->within = 0). */
int analysis_group(analysis_row *row, const analysis_options *o, const double *n,
                   const double *s, const double *y, const int *cluster, int m, char *err,
                   size_t errlen);

/* Points of learning curves, each with a group label. Owned arrays of length m (cap). */
typedef struct {
    int m, cap;
    char **label;     /* [m] owned strings */
    double *n, *s, *y;
    int *cluster;     /* [m] repeat id, -1 unknown */
} analysis_points;

/* Append a point (copies label). Returns 0 or -1 on out-of-memory. */
int analysis_points_add(analysis_points *p, const char *label, double n, double s, double y,
                        int cluster);
void analysis_points_free(analysis_points *p);

/* Called for each group after its analysis, with the group's points (for fields the caller
 * fills: coordinates, baselines). */
typedef void (*analysis_group_fn)(analysis_row *row, const double *n, const double *y, int m,
                                  void *user);

/* Fit every group of pts (points with the same label, in order of first appearance; within
 * a group, in the order added) with o: *rows receives a malloc'ed array of one row per group
 * (group label set, coordinates empty, then `each` called if not NULL) and *nrows their
 * count. has_s: pass s to the fit; has_cluster: pass the repeat ids. Returns 0, or -1 on
 * out-of-memory with err set. */
int analysis_fit_groups(analysis_row **rows, int *nrows, const analysis_points *pts,
                        const analysis_options *o, int has_s, int has_cluster,
                        analysis_group_fn each, void *user, char *err, size_t errlen);

/* Lowest mean y over the distinct n of m points, and that n. */
void analysis_best_mean(const double *n, const double *y, int m, double *best, long *best_n);

/* The rows as CSV (written to PATH.tmp, then renamed); group_columns names the
 * tab-separated fields of each row's group. */
int analysis_write_csv(const char *path, const analysis_row *rows, int nrow,
                       const char *group_columns, char *err, size_t errlen);

/* Split the tab-separated s (a group label or group_columns) into at most max fields of
 * out, each cut to ANALYSIS_FIELD_LEN - 1 bytes; returns the count. */
int analysis_split_tabs(const char *s, char out[][ANALYSIS_FIELD_LEN], int max);

/* The law of a row (from its law name). */
fit_law analysis_row_law(const analysis_row *r);

#endif
