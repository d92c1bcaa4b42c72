/* synlaw plan: predict the wall time of a job on P ranks.
 *
 * Each cell's time comes from the cost model (cost.h) with rates calibrated on this machine
 * (bench_calibrate) for the job's models and batch sizes; the ranks are then simulated
 * taking cells in the scheduler's order, each free rank claiming the next (sched_greedy).
 * The makespan and parallel efficiency are reported at 1, 2, 4, ... up to P ranks. */
#ifndef SYNLAW_PLAN_H
#define SYNLAW_PLAN_H

#include "synlaw/cost.h"
#include "synlaw/job.h"

#include <stddef.h>

enum { PLAN_MAX_POINTS = 48 };

typedef struct {
    int ranks;
    double makespan;    /* seconds */
    double efficiency;  /* total cell time / (ranks x makespan) */
} plan_point;

typedef struct {
    int ncell;
    double total, longest;  /* predicted cell seconds: sum and largest */
    cost_rates pre, ft;     /* the calibration, at the pre-training and fine-tuning batch */
    int npoint;
    plan_point point[PLAN_MAX_POINTS];
} plan_result;

/* Calibrate (about `seconds` per model) and simulate up to `ranks` ranks. Returns 0, or -1
 * on out-of-memory with err set. */
int plan_job(plan_result *out, const job_spec *spec, int ranks, double seconds, char *err,
             size_t errlen);

#endif
