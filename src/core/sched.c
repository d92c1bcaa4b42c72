/* Ordering, shard splits and the cells left to do. */
#include "synlaw/sched.h"

#include "synlaw/cost.h"

#include <stdlib.h>

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

/* Nominal costs of all cells (the rates computed once). NULL on out-of-memory. */
static double *nominal_costs(const job_spec *spec, const job_cell *cells, int ncell)
{
    double *c = malloc(sizeof *c * (size_t)(ncell > 0 ? ncell : 1));
    if (!c)
        return NULL;
    cost_rates pre, ft;
    cost_nominal(&pre, spec->pretrain.batch);
    cost_nominal(&ft, spec->finetune.batch);
    for (int i = 0; i < ncell; i++)
        c[i] = cost_cell(spec, &cells[i], &pre, &ft);
    return c;
}

int sched_order(const job_spec *spec, const job_cell *cells, int ncell, int *order)
{
    ranked_cell *r = malloc(sizeof *r * (size_t)(ncell > 0 ? ncell : 1));
    double *cost = nominal_costs(spec, cells, ncell);
    if (!r || !cost) {
        free(r), free(cost);
        return -1;
    }
    for (int i = 0; i < ncell; i++)
        r[i] = (ranked_cell){cost[i], i};
    qsort(r, (size_t)ncell, sizeof *r, by_cost);
    for (int i = 0; i < ncell; i++)
        order[i] = r[i].index;
    free(r), free(cost);
    return 0;
}

/* Min-heap of bins by (load, index). */
static int bin_less(const double *load, int a, int b)
{
    return load[a] < load[b] || (load[a] == load[b] && a < b);
}

static void sift_down(int *heap, int n, const double *load, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && bin_less(load, heap[l], heap[m]))
            m = l;
        if (r < n && bin_less(load, heap[r], heap[m]))
            m = r;
        if (m == i)
            return;
        int t = heap[i];
        heap[i] = heap[m];
        heap[m] = t;
        i = m;
    }
}

double sched_greedy(const double *cost, const int *order, int n, int nbin, int *bin_of, double *load)
{
    int *heap = malloc(sizeof *heap * (size_t)(nbin > 0 ? nbin : 1));
    if (!heap || nbin <= 0) {
        free(heap);
        return -1;
    }
    for (int b = 0; b < nbin; b++) {
        load[b] = 0.0;
        heap[b] = b; /* equal loads: index order is already a heap */
    }
    for (int k = 0; k < n; k++) {
        int b = heap[0];
        if (bin_of)
            bin_of[order[k]] = b;
        load[b] += cost[order[k]];
        sift_down(heap, nbin, load, 0);
    }
    double mk = 0.0;
    for (int b = 0; b < nbin; b++)
        mk = load[b] > mk ? load[b] : mk;
    free(heap);
    return mk;
}

int sched_shards(const job_spec *spec, const job_cell *cells, int ncell, int nshard, int *owner)
{
    int *order = malloc(sizeof *order * (size_t)(ncell > 0 ? ncell : 1));
    double *load = malloc(sizeof *load * (size_t)(nshard > 0 ? nshard : 1));
    double *cost = nominal_costs(spec, cells, ncell);
    int rc = -1;
    if (order && load && cost && sched_order(spec, cells, ncell, order) == 0 &&
        sched_greedy(cost, order, ncell, nshard, owner, load) >= 0)
        rc = 0;
    free(order), free(load), free(cost);
    return rc;
}

int sched_todo(const int *order, int ncell, const int *owner, int shard_index,
               const int8_t *status, int *todo, int *nmine)
{
    int ntodo = 0, mine = 0;
    for (int k = 0; k < ncell; k++) {
        int c = order[k];
        if (owner && owner[c] != shard_index)
            continue;
        mine++;
        if (status[c] == CELL_PENDING)
            todo[ntodo++] = c;
    }
    if (nmine)
        *nmine = mine;
    return ntodo;
}
