/* What to run next: for the groups of a results file whose decision is not settled (verdict
 * undetermined or not-identified) or whose interval is wider than asked, the additions that
 * are expected to settle it, chosen for their effect per core-hour within a budget.
 *
 * Two kinds of addition, each an ordinary job on the same seed and recipes (so its cells are
 * new, and `synlaw fit OLD.h5 NEW.h5` fits old and new together):
 *   - more repeats at every n the file has (the scratch cells too): axes.first_repeat after
 *     the file's last repeat, as many repeats again;
 *   - a new pre-training size, four times the group's largest n, for the file's repeats.
 * The expected effect is simulated: new points are drawn from the group's current fit
 * L(n) = D n^-alpha + C, with the repeat offsets and residual noise observed in the group
 * (an existing repeat keeps its offset; a new repeat draws one), the group is analysed as
 * `synlaw fit` does (bootstrap, within repeats, identifiability, verdict), and the width of
 * the deciding interval and whether the verdict is settled are averaged over the simulated
 * data sets. The current state is measured the same way (same bootstrap size), so before
 * and after compare like with like. Costs are the times measured in the file: a backbone's
 * wall time per (model, level, task, n), scaled by the step budget for a new n, and a
 * cell's per group (scratch cells per model and setting).
 *
 * A job is a grid, so a proposal is one kind of addition for the union of the chosen
 * groups' coordinates (models x levels x tasks x fine-tuning settings): groups are added in
 * order of effect per core-hour of their own addition while the grid's cost stays within
 * the budget, and every group the grid covers is counted, chosen or not. The kind with the
 * larger total effect is proposed. */
#ifndef SYNLAW_REFINE_H
#define SYNLAW_REFINE_H

#include "synlaw/analysis.h"
#include "synlaw/job.h"

#include <stddef.h>
#include <stdint.h>

/* The quantity that decides. */
typedef enum {
    REFINE_DECISION = 0, /* settle the verdict: effect = gain in the probability of a settled verdict */
    REFINE_C = 1,        /* narrow C's interval: effect = expected narrowing */
    REFINE_GAIN = 2      /* narrow gain_10x's interval */
} refine_target;

typedef enum { REFINE_NONE = 0, REFINE_REPEATS = 1, REFINE_SIZE = 2, REFINE_KINDS = 3 } refine_kind;

typedef struct {
    refine_target target;
    double budget_hours; /* core-hours the proposal may cost */
    double width;        /* C and gain targets: also refine groups whose interval is wider */
    int sims;            /* simulated data sets per group and kind */
    int bootstrap;       /* bootstrap replicates per analysis */
    uint64_t seed;
    analysis_options ao; /* the fit's options (epsilon, level, within repeats, bounds) */
} refine_options;

/* target decision, budget 1 core-hour, width 0.02, 16 simulations of 200 replicates. */
refine_options refine_default_options(void);

/* The deciding quantity's interval and the chance that the verdict is settled (more-data or gap). */
typedef struct {
    double lo, hi;
    double settled;
} refine_quantity;

typedef struct {
    analysis_row row;                        /* the group as fitted now (bootstrap as in the options) */
    int candidate;                           /* it needs refining */
    refine_quantity now, after[REFINE_KINDS]; /* after: expected, by kind */
    double seconds[REFINE_KINDS];            /* its own addition of each kind, s of one core */
    long new_size;                           /* the n a size addition adds: 4 x its largest */
    int in_grid;                             /* covered by the proposal */
    int chosen;                              /* chosen for it (in_grid also holds the others) */
} refine_group;

typedef struct {
    refine_group *groups;
    int ngroup, ncandidate;
    refine_kind kind;          /* REFINE_NONE: nothing worth proposing within the budget */
    int new_sizes;             /* REFINE_SIZE: how many n values the job adds (new_size[]) */
    long new_size[JOB_MAX_AXIS];
    double seconds;            /* predicted cost of the proposal, s of one core */
    double uniform_seconds;    /* the same kind of addition for every group of the file */
    double effect;             /* total expected effect of the proposal (see refine_target) */
    double effect_other;       /* that of the best proposal of the other kind */
    int cells, backbones;      /* of the proposed job */
    job_spec next;             /* the proposed job (valid when kind != REFINE_NONE) */
    char job_name[64];
} refine_result;

/* The deciding quantity of an analysed group. */
refine_quantity refine_quantity_of(const analysis_row *row, refine_target t);

/* Expected quantity after adding points: the m points (n, y, repeat cluster) of a group,
 * fitted as `fit` holds (its p are the law), plus nadd new points at add_n[k] in repeat
 * add_cluster[k]: for a repeat among the points its observed offset, for a new one an offset
 * drawn with sd tau; residual noise sd sigma. Averages over sims data sets (seeded).
 * 0, or -1 with err on out-of-memory. */
int refine_simulate(refine_quantity *q, const analysis_options *o, refine_target t, const analysis_row *fit,
                    const double *n, const double *y, const int *cluster, int m, const double *add_n,
                    const int *add_cluster, int nadd, double tau, double sigma, int sims, uint64_t seed,
                    char *err, size_t errlen);

/* The repeat offsets' sd and the residual sd of a group's points about a law (for
 * refine_simulate): tau from the repeats' mean residuals, sigma from what is left. */
void refine_noise(const analysis_row *fit, const double *n, const double *y, const int *cluster, int m,
                  double *tau, double *sigma);

/* Analyse the files (fitfile_read: one design) and propose. 0, SL_EINPUT (unreadable, format
 * 1, nothing fitted) or SL_EFAIL with err. */
int refine_run(refine_result *out, const char *const *paths, int npath, const refine_options *o, char *err,
               size_t errlen);
void refine_result_free(refine_result *r);

#endif
