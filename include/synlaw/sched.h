/* Work distribution over MPI ranks.
 *
 * Every rank computes; none is a pure dispatcher. The cells are put in one order, most
 * expensive first by a cost model (a pure function of the job), and ranks claim the next
 * position of that order from a shared counter on rank 0 (MPI one-sided MPI_Fetch_and_op):
 * dynamic balance, largest first, with no idle master. Which rank runs a cell does not change
 * what the cell computes. */
#ifndef SYNLAW_SCHED_H
#define SYNLAW_SCHED_H

#include "synlaw/job.h"

#include <mpi.h>

/* Predicted cost of a cell in floating-point operations (training, evaluation and a
 * per-image rendering charge). Used for ordering and ETA, not for results. */
double sched_cell_cost(const job_spec *spec, const job_cell *cell);
/* order[0..ncell-1]: cell indices by decreasing cost, ties by index. */
void sched_order(const job_spec *spec, const job_cell *cells, int ncell, int *order);

/* Deterministic cost-balanced split of the grid into nshard shards: cells in sched_order,
 * each given to the shard with the least predicted cost so far (ties: lowest shard index).
 * owner[cell index] = shard in 0..nshard-1. The same on every task and every machine. */
void sched_shards(const job_spec *spec, const job_cell *cells, int ncell, int nshard, int *owner);

typedef struct {
    MPI_Win win;
    long *counter;   /* rank 0's window memory */
    MPI_Comm comm;
    int ncell;
} sched_counter;

/* Collective: create the shared counter. */
int sched_counter_create(sched_counter *c, MPI_Comm comm, int ncell);
/* Next position in the order to run, or -1 when all are claimed. */
int sched_counter_next(sched_counter *c);
/* Let MPI progress one-sided requests aimed at this rank (cheap; call between steps). */
void sched_counter_poll(void *c);
/* Collective: free the counter. */
void sched_counter_free(sched_counter *c);

#endif
