/* Cost model and the shared work counter. */
#include "synlaw/sched.h"

#include "synlaw/nn.h"
#include "synlaw/synth.h"
#include "synlaw/train.h"

#include <stdlib.h>

/* Rendering one image costs roughly as much as this many flops of training. */
#define RENDER_FLOP_EQUIV 2.0e5

double sched_cell_cost(const job_spec *spec, const job_cell *cell)
{
    nn_arch a;
    if (nn_arch_build(&a, spec->model[cell->model], 10) != 0)
        return 0.0;
    const job_recipe *p = &spec->pretrain, *f = &spec->finetune;
    double fl = a.flops;
    double cost = 3.0 * fl * f->batch * f->steps + fl * f->eval_size * train_eval_count(f);
    if (cell->size > 0) {
        double images = (double)p->batch * p->steps + p->eval_size;
        cost += 3.0 * fl * p->batch * p->steps + fl * p->eval_size * train_eval_count(p) +
                RENDER_FLOP_EQUIV * images * (cell->complexity >= 4 ? 2.0 : 1.0);
    }
    return cost;
}

typedef struct {
    double cost;
    int index;
} ranked_cell;

static int by_cost(const void *a, const void *b)
{
    const ranked_cell *x = a, *y = b;
    if (x->cost != y->cost)
        return x->cost > y->cost ? -1 : 1;
    return x->index - y->index;
}

void sched_order(const job_spec *spec, const job_cell *cells, int ncell, int *order)
{
    /* Each cost once (it builds the model's architecture), then sort. */
    ranked_cell *r = malloc(sizeof *r * (size_t)(ncell > 0 ? ncell : 1));
    if (!r) { /* keep the canonical order rather than fail: only speed depends on it */
        for (int i = 0; i < ncell; i++)
            order[i] = i;
        return;
    }
    for (int i = 0; i < ncell; i++)
        r[i] = (ranked_cell){sched_cell_cost(spec, &cells[i]), i};
    qsort(r, (size_t)ncell, sizeof *r, by_cost);
    for (int i = 0; i < ncell; i++)
        order[i] = r[i].index;
    free(r);
}

void sched_shards(const job_spec *spec, const job_cell *cells, int ncell, int nshard, int *owner)
{
    int *order = malloc(sizeof *order * (size_t)(ncell > 0 ? ncell : 1));
    double *load = calloc((size_t)(nshard > 0 ? nshard : 1), sizeof *load);
    if (!order || !load) { /* round robin: still deterministic, only less balanced */
        for (int i = 0; i < ncell; i++)
            owner[i] = i % nshard;
        free(order), free(load);
        return;
    }
    sched_order(spec, cells, ncell, order);
    for (int k = 0; k < ncell; k++) {
        int best = 0;
        for (int j = 1; j < nshard; j++)
            if (load[j] < load[best])
                best = j;
        owner[order[k]] = best;
        load[best] += sched_cell_cost(spec, &cells[order[k]]);
    }
    free(order), free(load);
}

int sched_counter_create(sched_counter *c, MPI_Comm comm, int ncell)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    c->comm = comm;
    c->ncell = ncell;
    c->counter = NULL;
    MPI_Aint size = rank == 0 ? (MPI_Aint)sizeof(long) : 0;
    if (MPI_Win_allocate(size, sizeof(long), MPI_INFO_NULL, comm, &c->counter, &c->win) != MPI_SUCCESS)
        return -1;
    if (rank == 0) {
        MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, c->win);
        *c->counter = 0;
        MPI_Win_unlock(0, c->win);
    }
    MPI_Barrier(comm);
    return 0;
}

int sched_counter_next(sched_counter *c)
{
    long one = 1, got = 0;
    MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, c->win);
    MPI_Fetch_and_op(&one, &got, MPI_LONG, 0, 0, MPI_SUM, c->win);
    MPI_Win_unlock(0, c->win);
    return got < c->ncell ? (int)got : -1;
}

void sched_counter_poll(void *p)
{
    sched_counter *c = p;
    int flag;
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, c->comm, &flag, MPI_STATUS_IGNORE);
}

void sched_counter_free(sched_counter *c) { MPI_Win_free(&c->win); }
