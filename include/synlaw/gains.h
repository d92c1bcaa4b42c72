/* What pre-training buys: the error of pre-trained cells against scratch cells, paired by
 * repeat, with confidence intervals and p-values adjusted for the number of comparisons.
 *
 * A repeat pairs the two arms: the same real fine-tuning subset, initial weights and batch
 * order. For a pre-trained group (model, complexity, task, s) and each n, the paired
 * difference of a repeat is scratch error - pre-trained error (positive: pre-training
 * helps); its mean over repeats is the gain, with a Student-t interval (repeats - 1 degrees
 * of freedom) and a two-sided paired t-test. Averaged over n: each repeat's differences are
 * averaged over the group's n first (repeats with every n only), then the same statistics.
 * Holm's step-down adjustment runs over each family: all per-n comparisons, and all
 * averaged comparisons.
 *
 * Fine-tuning settings (learning rate, steps, what is frozen): with one setting both arms use it. With
 * several, each arm's setting is chosen on validation error — the pre-trained arm per
 * (model, complexity, task, s), scratch per (model, s), the setting with the lowest mean
 * validation error over all its cells, from the same set of settings, so both arms are tuned
 * as much — and the gain is reported on test error. Without validation curves no setting is
 * chosen: every setting is compared with itself, and all count in the family. */
#ifndef SYNLAW_GAINS_H
#define SYNLAW_GAINS_H

#include <stddef.h>
#include <stdint.h>

enum { GAINS_NAME_LEN = 32, GAINS_WORD_LEN = 16 };

/* One finished cell, as the gains need it. */
typedef struct {
    char model[GAINS_NAME_LEN];
    int complexity;            /* 0 for scratch */
    char task[GAINS_WORD_LEN]; /* "none" for scratch */
    long finetune_size;
    long n;                    /* 0: scratch */
    double lr;
    int steps;
    int freeze;                /* 0 none, 1 conv, 2 backbone */
    int repeat;
    double val, test;          /* final errors; NaN when the split was not evaluated */
} gains_cell;

/* One comparison: a row of /gains and of the gains CSV. */
typedef struct {
    char model[GAINS_NAME_LEN];
    int32_t complexity;
    char task[GAINS_WORD_LEN];
    int64_t finetune_size;
    int64_t pretrain_size;     /* n; 0: averaged over the group's n */
    double lr, scratch_lr;     /* the settings compared (chosen on validation when several) */
    int32_t steps, scratch_steps;
    int8_t freeze, scratch_freeze;
    int32_t settings;          /* settings each arm was chosen from (1: none to choose) */
    char selected_on[GAINS_WORD_LEN]; /* "validation", "-" (one setting), "none" (all reported) */
    char reported_on[GAINS_WORD_LEN]; /* "test", or "validation" when the job has no test curves */
    int32_t pairs;             /* repeats with both arms (and, averaged, every n) */
    double pretrained, scratch;/* mean errors over the pairs */
    double gain, gain_lo, gain_hi; /* mean of scratch - pre-trained, and its interval */
    double level;              /* coverage of that interval (e.g. 0.95) */
    double sd;                 /* standard deviation of the paired differences */
    double t, p;               /* paired t statistic, two-sided p-value */
    double p_holm;             /* Holm-adjusted over the family */
    int32_t family;            /* comparisons in that family */
} gains_row;

/* Compute the comparisons of m cells at interval coverage `level`. *rows receives a malloc'ed
 * array (per-n rows of each group, then its averaged row), *nrows their count. Returns 0, or
 * -1 on out-of-memory with err set. */
int gains_compute(gains_row **rows, int *nrows, const gains_cell *cells, int m, double level,
                  char *err, size_t errlen);

/* The rows as CSV (written to PATH.tmp, then renamed). 0 or -1 with err. */
int gains_write_csv(const char *path, const gains_row *rows, int nrow, char *err, size_t errlen);

#endif
