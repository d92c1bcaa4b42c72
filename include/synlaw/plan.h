/* synlaw plan: predict the wall time of a job on P ranks.
 *
 * Each stage's time comes from the cost model (cost.h) with rates calibrated on this
 * machine (bench_calibrate) for the job's models and batch sizes; the ranks are then
 * simulated taking tasks (a backbone with its cells, or a scratch cell: sched.h) in the
 * scheduler's order, each free rank claiming the next (sched_greedy). The makespan and
 * parallel efficiency are reported at 1, 2, 4, ... up to P ranks, next to the same work done
 * one cell at a time (every cell pre-training its own backbone), which is what the stages
 * save. */
#ifndef SYNLAW_PLAN_H
#define SYNLAW_PLAN_H

#include "synlaw/cost.h"
#include "synlaw/job.h"

#include <stddef.h>

enum { PLAN_MAX_POINTS = 48 };

typedef struct {
    int ranks;
    double makespan;    /* seconds */
    double efficiency;  /* total task time / (ranks x makespan) */
    double makespan_alone; /* seconds, one cell at a time */
} plan_point;

typedef struct {
    int ncell, nbackbone, ntask;
    double total, longest;  /* predicted task seconds: sum and largest */
    double total_alone;     /* predicted seconds of every cell with its own pre-training */
    double pretrain, finetune; /* of total: pre-training and fine-tuning seconds */
    cost_rates pre, ft;     /* the calibration, at the pre-training and fine-tuning batch */
    int npoint;
    plan_point point[PLAN_MAX_POINTS];
} plan_result;

/* Calibrate (about `seconds` per model) and simulate up to `ranks` ranks. Returns 0, or -1
 * on out-of-memory with err set. */
int plan_job(plan_result *out, const job_spec *spec, int ranks, double seconds, char *err,
             size_t errlen);

#endif
