/* Work distribution: pure functions of the job, testable without MPI.
 *
 * The unit a rank takes whole is a task: a backbone with all its cells (pre-train once, then
 * fine-tune every setting on the rank that holds the weights, with no transfer of weights
 * between ranks), or one scratch cell. Tasks are put in one order, most expensive first by
 * the nominal cost model (cost.h), and the ranks of a sweep claim the next position of that
 * order from a shared counter (sweep.c): dynamic balance, largest first, no idle master. A
 * Slurm array splits the tasks into shards with the same greedy rule, so a backbone's cells
 * stay in its shard. Which rank or shard runs a stage never changes what it computes. */
#ifndef SYNLAW_SCHED_H
#define SYNLAW_SCHED_H

#include "synlaw/cost.h"
#include "synlaw/job.h"

#include <stdint.h>

typedef struct {
    int backbone;      /* its backbone, or -1 for a scratch cell */
    int first, count;  /* its cells: cells[first .. first + count) of the plan, in cell order */
    double cost;       /* seconds at the plan's rates: pre-training plus every fine-tuning */
} sched_task;

typedef struct {
    int ntask, ncell, nbackbone;
    sched_task *tasks;     /* [ntask] by decreasing cost (ties: backbones in order, then scratch
                              cells in order) */
    int *cells;            /* [ncell] cell indices grouped by task */
    int *task_of_cell;     /* [ncell] position in tasks[] */
    int *task_of_backbone; /* [nbackbone] position in tasks[] */
} sched_plan;

/* Build the tasks of a grid with the rates pre and ft (NULL: the nominal rates of the job's
 * batch sizes). Returns 0, or -1 on out-of-memory. */
int sched_plan_build(sched_plan *p, const job_spec *spec, const job_cell *cells, int ncell,
                     const job_backbone *bb, int nbb, const cost_rates *pre, const cost_rates *ft);
void sched_plan_free(sched_plan *p);

/* Greedy list scheduling: items taken in `order` (NULL: 0, 1, 2, ...), each given to the
 * bin with the least load so far (ties: the lowest bin index); cost[item] is its load.
 * bin_of[item] receives the bin (may be NULL), load[nbin] the final loads. Returns the
 * largest load (the makespan), or -1 on out-of-memory. O(n log nbin). */
double sched_greedy(const double *cost, const int *order, int n, int nbin, int *bin_of, double *load);

/* Deterministic cost-balanced split of the tasks into nshard shards (sched_greedy over the
 * nominal costs in task order): owner[task] = shard in 0..nshard-1, the same on every task
 * and every machine. Returns 0, or -1 on out-of-memory. */
int sched_shards(const sched_plan *p, int nshard, int *owner);

/* The tasks a run still has to do, in order: those of shard `shard_index` (owner NULL: the
 * whole grid) with a pending cell or a pending backbone. todo[] receives their positions in
 * p->tasks; *nmine (may be NULL) the number of cells of the shard. Returns the count. */
int sched_todo(const sched_plan *p, const int *owner, int shard_index, const int8_t *cell_status,
               const int8_t *backbone_status, int *todo, int *nmine);

#endif
