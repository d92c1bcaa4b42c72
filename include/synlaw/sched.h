/* Work distribution: pure functions of the job, testable without MPI.
 *
 * The cells are put in one order, most expensive first by the nominal cost model
 * (cost.h), and the ranks of a sweep claim the next position of that order from a shared
 * counter (sweep.c): dynamic balance, largest first, no idle master. A Slurm array splits
 * the grid into shards with the same greedy rule. Which rank or shard runs a cell never
 * changes what the cell computes. */
#ifndef SYNLAW_SCHED_H
#define SYNLAW_SCHED_H

#include "synlaw/job.h"

#include <stdint.h>

/* order[0..ncell-1]: cell indices by decreasing nominal cost, ties by index. Returns 0, or
 * -1 on out-of-memory. */
int sched_order(const job_spec *spec, const job_cell *cells, int ncell, int *order);

/* Greedy list scheduling: items taken in `order`, each given to the bin with the least load
 * so far (ties: the lowest bin index); cost[item] is its load. bin_of[item] receives the
 * bin (bin_of may be NULL), load[nbin] the final loads. Returns the largest load (the
 * makespan), or -1 on out-of-memory. O(n log nbin). */
double sched_greedy(const double *cost, const int *order, int n, int nbin, int *bin_of, double *load);

/* Deterministic cost-balanced split of the grid into nshard shards (sched_greedy over the
 * nominal costs in sched_order): owner[cell index] = shard in 0..nshard-1, the same on every
 * task and every machine. Returns 0, or -1 on out-of-memory. */
int sched_shards(const job_spec *spec, const job_cell *cells, int ncell, int nshard, int *owner);

/* The cells a run still has to do: the positions of `order` that belong to shard
 * `shard_index` (owner may be NULL: the whole grid) and are pending in status[]. todo[]
 * receives them in order; *nmine (may be NULL) the number of cells of the shard. Returns the
 * number of cells to do. */
int sched_todo(const int *order, int ncell, const int *owner, int shard_index,
               const int8_t *status, int *todo, int *nmine);

#endif
