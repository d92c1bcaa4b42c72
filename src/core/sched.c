/* Tasks, their order, shard splits and the tasks left to do (see sched.h). */
#include "synlaw/sched.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    double cost;
    int index;
} ranked;

static int by_cost(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->cost != y->cost)
        return x->cost > y->cost ? -1 : 1;
    return x->index - y->index;
}

void sched_plan_free(sched_plan *p)
{
    if (!p)
        return;
    free(p->tasks), free(p->cells), free(p->task_of_cell), free(p->task_of_backbone);
    memset(p, 0, sizeof *p);
}

int sched_plan_build(sched_plan *p, const job_spec *spec, const job_cell *cells, int ncell,
                     const job_backbone *bb, int nbb, const cost_rates *pre, const cost_rates *ft)
{
    memset(p, 0, sizeof *p);
    cost_rates npre, nft;
    if (!pre) {
        cost_nominal(&npre, spec->pretrain.batch);
        pre = &npre;
    }
    if (!ft) {
        cost_nominal(&nft, spec->finetune.batch);
        ft = &nft;
    }
    int nscratch = 0;
    for (int c = 0; c < ncell; c++)
        nscratch += cells[c].backbone < 0;
    int n = nbb + nscratch;
    sched_task *raw = malloc(sizeof *raw * (size_t)(n + 1));
    ranked *rk = malloc(sizeof *rk * (size_t)(n + 1));
    int *count = calloc((size_t)nbb + 1, sizeof *count), *fill = malloc(sizeof *fill * (size_t)(nbb + 1));
    p->tasks = malloc(sizeof *p->tasks * (size_t)(n + 1));
    p->cells = malloc(sizeof *p->cells * (size_t)(ncell + 1));
    p->task_of_cell = malloc(sizeof *p->task_of_cell * (size_t)(ncell + 1));
    p->task_of_backbone = malloc(sizeof *p->task_of_backbone * (size_t)(nbb + 1));
    int *slot = malloc(sizeof *slot * (size_t)(n + 1));
    if (!raw || !rk || !count || !fill || !p->tasks || !p->cells || !p->task_of_cell ||
        !p->task_of_backbone || !slot) {
        free(raw), free(rk), free(count), free(fill), free(slot);
        sched_plan_free(p);
        return -1;
    }
    p->ntask = n, p->ncell = ncell, p->nbackbone = nbb;
    /* Raw tasks: backbones in order, then scratch cells in order; cells grouped by task. */
    for (int c = 0; c < ncell; c++)
        if (cells[c].backbone >= 0)
            count[cells[c].backbone]++;
    int pos = 0;
    for (int b = 0; b < nbb; b++) {
        raw[b] = (sched_task){b, pos, count[b], cost_backbone(spec, &bb[b], pre)};
        fill[b] = pos;
        pos += count[b];
    }
    int t = nbb;
    for (int c = 0; c < ncell; c++) {
        double f = cost_finetune(spec, &cells[c], ft);
        if (cells[c].backbone >= 0) {
            int b = cells[c].backbone;
            p->cells[fill[b]++] = c;
            raw[b].cost += f;
        } else {
            raw[t] = (sched_task){-1, pos, 1, f};
            p->cells[pos++] = c;
            t++;
        }
    }
    for (int k = 0; k < n; k++)
        rk[k] = (ranked){raw[k].cost, k};
    qsort(rk, (size_t)n, sizeof *rk, by_cost);
    for (int k = 0; k < n; k++) {
        p->tasks[k] = raw[rk[k].index];
        slot[rk[k].index] = k;
    }
    for (int k = 0; k < n; k++) {
        const sched_task *tk = &p->tasks[k];
        if (tk->backbone >= 0)
            p->task_of_backbone[tk->backbone] = k;
        for (int j = 0; j < tk->count; j++)
            p->task_of_cell[p->cells[tk->first + j]] = k;
    }
    free(raw), free(rk), free(count), free(fill), free(slot);
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
        int item = order ? order[k] : k, b = heap[0];
        if (bin_of)
            bin_of[item] = b;
        load[b] += cost[item];
        sift_down(heap, nbin, load, 0);
    }
    double mk = 0.0;
    for (int b = 0; b < nbin; b++)
        mk = load[b] > mk ? load[b] : mk;
    free(heap);
    return mk;
}

int sched_shards(const sched_plan *p, int nshard, int *owner)
{
    double *cost = malloc(sizeof *cost * (size_t)(p->ntask + 1));
    double *load = malloc(sizeof *load * (size_t)(nshard > 0 ? nshard : 1));
    int rc = -1;
    if (cost && load) {
        for (int k = 0; k < p->ntask; k++)
            cost[k] = p->tasks[k].cost;
        rc = sched_greedy(cost, NULL, p->ntask, nshard, owner, load) >= 0 ? 0 : -1;
    }
    free(cost), free(load);
    return rc;
}

int sched_todo(const sched_plan *p, const int *owner, int shard_index, const int8_t *cell_status,
               const int8_t *backbone_status, int *todo, int *nmine)
{
    int ntodo = 0, mine = 0;
    for (int k = 0; k < p->ntask; k++) {
        if (owner && owner[k] != shard_index)
            continue;
        const sched_task *t = &p->tasks[k];
        mine += t->count;
        int work = t->backbone >= 0 && backbone_status[t->backbone] == CELL_PENDING;
        for (int j = 0; j < t->count && !work; j++)
            work = cell_status[p->cells[t->first + j]] == CELL_PENDING;
        if (work)
            todo[ntodo++] = k;
    }
    if (nmine)
        *nmine = mine;
    return ntodo;
}
