/* Work distribution (sched.h), without MPI.
 *
 * sched_greedy against a naive O(n * bins) list scheduler: the same bin for every item (ties
 * to the lowest bin), the same loads and makespan; one bin; more bins than items; order NULL.
 * The plan of tests/tiny.yaml: one task per backbone (holding exactly the cells of that
 * backbone, in cell order) and one per scratch cell; every cell in exactly one task; the
 * task of each cell and backbone; task costs equal to the backbone's cost plus its cells'
 * fine-tuning costs, at the nominal rates or the rates given; tasks by decreasing cost, ties
 * by backbones in order then scratch cells in order. Shards: each task (so each cell) in
 * one shard of 0..N-1, the same on every call, where the naive greedy puts it, with loads
 * within the largest task cost of each other. One object per pretend rank: the todo lists
 * of the shards of a split, with statuses, are exactly the tasks with a pending cell or
 * backbone, disjoint, in task order, and nmine counts each shard's cells.
 *
 * argv[1]: the job file tests/tiny.yaml. */
#include "check.h"
#include "synlaw/cost.h"
#include "synlaw/job.h"
#include "synlaw/rng.h"
#include "synlaw/sched.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The reference: for each item in order (NULL: 0, 1, ...), scan every bin for the least
 * load (the first bin of the least load wins ties) and add the item there. Returns the
 * makespan. */
static double greedy_naive(const double *cost, const int *order, int n, int nbin, int *bin_of,
                           double *load)
{
    for (int b = 0; b < nbin; b++)
        load[b] = 0.0;
    for (int k = 0; k < n; k++) {
        int item = order ? order[k] : k, best = 0;
        for (int b = 1; b < nbin; b++)
            if (load[b] < load[best])
                best = b;
        bin_of[item] = best;
        load[best] += cost[item];
    }
    double mk = 0.0;
    for (int b = 0; b < nbin; b++)
        mk = load[b] > mk ? load[b] : mk;
    return mk;
}

/* A random permutation of 0..n-1 (Fisher-Yates). */
static void shuffle(rng_t *r, int *p, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(r, (uint64_t)i + 1), t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
}

/* sched_greedy against greedy_naive on n items, nbin bins. integer: costs drawn from 1..3
 * (many equal loads, so the tie rule matters); otherwise uniform in (0, 1]. identity: order
 * NULL. */
static void greedy_case(rng_t *r, int n, int nbin, int integer, int identity)
{
    double *cost = malloc(sizeof *cost * (size_t)(n + 1));
    int *order = malloc(sizeof *order * (size_t)(n + 1));
    int *bin = malloc(sizeof *bin * (size_t)(n + 1)), *bin_ref = malloc(sizeof *bin_ref * (size_t)(n + 1));
    double *load = malloc(sizeof *load * (size_t)nbin), *load_ref = malloc(sizeof *load_ref * (size_t)nbin);
    for (int i = 0; i < n; i++)
        cost[i] = integer ? (double)(1 + rng_below(r, 3)) : 1.0 - rng_uniform(r);
    shuffle(r, order, n);
    for (int i = 0; i < n; i++)
        bin[i] = bin_ref[i] = -1;
    double mk = sched_greedy(cost, identity ? NULL : order, n, nbin, bin, load);
    double mk_ref = greedy_naive(cost, identity ? NULL : order, n, nbin, bin_ref, load_ref);
    int bad_bin = -1, bad_load = -1;
    for (int i = 0; i < n && bad_bin < 0; i++)
        if (bin[i] != bin_ref[i])
            bad_bin = i;
    /* Both add the same costs in the same order into each bin: equal bit for bit. */
    for (int b = 0; b < nbin && bad_load < 0; b++)
        if (load[b] != load_ref[b])
            bad_load = b;
    CHECK(bad_bin < 0, "n=%d bins=%d int=%d identity=%d: item %d in bin %d, reference %d", n, nbin, integer,
          identity, bad_bin, bad_bin >= 0 ? bin[bad_bin] : 0, bad_bin >= 0 ? bin_ref[bad_bin] : 0);
    CHECK(bad_load < 0, "n=%d bins=%d int=%d identity=%d: load of bin %d is %.17g, reference %.17g", n, nbin,
          integer, identity, bad_load, bad_load >= 0 ? load[bad_load] : 0, bad_load >= 0 ? load_ref[bad_load] : 0);
    CHECK(mk == mk_ref, "n=%d bins=%d int=%d identity=%d: makespan %.17g, reference %.17g", n, nbin, integer,
          identity, mk, mk_ref);
    free(cost), free(order), free(bin), free(bin_ref), free(load), free(load_ref);
}

static void test_greedy(void)
{
    rng_t r;
    rng_seed(&r, 20261128);
    const int sizes[] = {1, 2, 5, 17, 100, 1000};
    const int bins[] = {1, 2, 3, 4, 7, 16, 64};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        for (size_t j = 0; j < sizeof bins / sizeof *bins; j++)
            for (int integer = 0; integer < 2; integer++)
                for (int identity = 0; identity < 2; identity++)
                    greedy_case(&r, sizes[i], bins[j], integer, identity);

    /* One bin: everything in bin 0, the makespan is the sum. */
    double cost[5] = {0.5, 2.0, 0.25, 1.0, 4.0}, load[8];
    int order[5] = {4, 1, 3, 0, 2}, bin[5];
    double mk = sched_greedy(cost, order, 5, 1, bin, load);
    CHECK(mk == 7.75 && load[0] == 7.75, "one bin: makespan %g load %g, want 7.75", mk, load[0]);
    for (int i = 0; i < 5; i++)
        CHECK(bin[i] == 0, "one bin: item %d in bin %d", i, bin[i]);

    /* More bins than items: the k-th item of the order opens bin k; the other bins stay
     * empty; the makespan is the largest cost. */
    mk = sched_greedy(cost, order, 5, 8, bin, load);
    CHECK(mk == 4.0, "8 bins, 5 items: makespan %g, want 4", mk);
    for (int k = 0; k < 5; k++)
        CHECK(bin[order[k]] == k, "8 bins: item %d (position %d) in bin %d", order[k], k, bin[order[k]]);
    for (int b = 0; b < 8; b++)
        CHECK(load[b] == (b < 5 ? cost[order[b]] : 0.0), "8 bins: load[%d] = %g", b, load[b]);

    /* No items: all loads 0, makespan 0; bin_of may be NULL. */
    mk = sched_greedy(cost, order, 0, 3, NULL, load);
    CHECK(mk == 0.0 && load[0] == 0 && load[1] == 0 && load[2] == 0, "no items: makespan %g", mk);
    mk = sched_greedy(cost, order, 5, 2, NULL, load);
    CHECK(mk == 4.0 && load[0] == 4.0 && load[1] == 3.75, "bin_of NULL: makespan %g loads %g %g", mk, load[0],
          load[1]);
}

/* The grid of a spec: cells and backbones (owned by the caller). */
typedef struct {
    int ncell, nbb;
    job_cell *cells;
    job_backbone *bb;
} grid;

static grid grid_of(const job_spec *spec)
{
    grid g = {job_cell_count(spec), job_backbone_count(spec), NULL, NULL};
    g.cells = malloc(sizeof *g.cells * (size_t)(g.ncell + 1));
    g.bb = malloc(sizeof *g.bb * (size_t)(g.nbb + 1));
    job_cells(spec, g.cells);
    job_backbones(spec, g.bb);
    return g;
}

/* Rank of a task in the tie order: backbones in order, then scratch cells in cell order. */
static int tie_rank(const sched_plan *p, const sched_task *t)
{
    return t->backbone >= 0 ? t->backbone : p->nbackbone + p->cells[t->first];
}

/* The plan against the grid and the cost model at rates pre, ft (NULL: nominal). */
static void check_plan(const sched_plan *p, const job_spec *spec, const grid *g, const cost_rates *pre,
                       const cost_rates *ft, const char *what)
{
    int nscratch = 0;
    for (int c = 0; c < g->ncell; c++)
        nscratch += g->cells[c].backbone < 0;
    CHECK(p->ncell == g->ncell && p->nbackbone == g->nbb && p->ntask == g->nbb + nscratch,
          "%s: %d cells, %d backbones, %d tasks; want %d, %d, %d", what, p->ncell, p->nbackbone, p->ntask, g->ncell,
          g->nbb, g->nbb + nscratch);
    if (p->ncell != g->ncell || p->nbackbone != g->nbb || p->ntask != g->nbb + nscratch)
        return;
    cost_rates npre, nft;
    cost_nominal(&npre, spec->pretrain.batch);
    cost_nominal(&nft, spec->finetune.batch);
    pre = pre ? pre : &npre;
    ft = ft ? ft : &nft;
    int *cell_seen = calloc((size_t)g->ncell + 1, sizeof *cell_seen);
    int *bb_seen = calloc((size_t)g->nbb + 1, sizeof *bb_seen);
    for (int k = 0; k < p->ntask; k++) {
        const sched_task *t = &p->tasks[k];
        double want = 0;
        if (t->backbone >= 0) {
            if (t->backbone >= g->nbb) {
                CHECK(0, "%s: task %d names backbone %d", what, k, t->backbone);
                continue;
            }
            bb_seen[t->backbone]++;
            CHECK(p->task_of_backbone[t->backbone] == k, "%s: task_of_backbone[%d] = %d, want %d", what,
                  t->backbone, p->task_of_backbone[t->backbone], k);
            want = cost_backbone(spec, &g->bb[t->backbone], pre);
            /* Exactly the cells of this backbone, in cell order. */
            int n = 0, prev = -1, ok = 1;
            for (int c = 0; c < g->ncell; c++)
                n += g->cells[c].backbone == t->backbone;
            CHECK(t->count == n, "%s: task %d (backbone %d) holds %d cells, the backbone has %d", what, k,
                  t->backbone, t->count, n);
            for (int j = 0; j < t->count && t->first + j < g->ncell; j++) {
                int c = p->cells[t->first + j];
                ok &= c > prev && c >= 0 && c < g->ncell && g->cells[c].backbone == t->backbone;
                prev = c;
            }
            CHECK(ok, "%s: task %d: its cells are not those of backbone %d in cell order", what, k, t->backbone);
        } else {
            int c = t->first >= 0 && t->first < g->ncell ? p->cells[t->first] : -1;
            CHECK(t->count == 1 && c >= 0 && c < g->ncell && g->cells[c].backbone < 0,
                  "%s: task %d: no backbone, %d cells (first %d): not one scratch cell", what, k, t->count, c);
        }
        for (int j = 0; j < t->count && t->first + j < g->ncell && t->first >= 0; j++) {
            int c = p->cells[t->first + j];
            if (c < 0 || c >= g->ncell)
                continue;
            cell_seen[c]++;
            CHECK(p->task_of_cell[c] == k, "%s: task_of_cell[%d] = %d, want %d", what, c, p->task_of_cell[c], k);
            want += cost_finetune(spec, &g->cells[c], ft);
        }
        CHECK(fabs(t->cost - want) <= 1e-12 * want && want > 0, "%s: task %d costs %.17g s, the cost model says %.17g",
              what, k, t->cost, want);
        if (k > 0) {
            const sched_task *u = &p->tasks[k - 1];
            CHECK(u->cost > t->cost || (u->cost == t->cost && tie_rank(p, u) < tie_rank(p, t)),
                  "%s: task %d (cost %.17g, tie rank %d) after task %d (cost %.17g, tie rank %d)", what, k, t->cost,
                  tie_rank(p, t), k - 1, u->cost, tie_rank(p, u));
        }
    }
    int bad = -1;
    for (int c = 0; c < g->ncell && bad < 0; c++)
        if (cell_seen[c] != 1)
            bad = c;
    CHECK(bad < 0, "%s: cell %d is in %d tasks", what, bad, bad >= 0 ? cell_seen[bad] : 0);
    bad = -1;
    for (int b = 0; b < g->nbb && bad < 0; b++)
        if (bb_seen[b] != 1)
            bad = b;
    CHECK(bad < 0, "%s: backbone %d is in %d tasks", what, bad, bad >= 0 ? bb_seen[bad] : 0);
    free(cell_seen), free(bb_seen);
}

/* Shards: owner[task] in 0..N-1, deterministic, where the naive greedy over the tasks in
 * order puts it, loads within the largest task. */
static void test_shards(const sched_plan *p, int nshard, int *owner)
{
    int n = p->ntask;
    int *again = malloc(sizeof *again * (size_t)(n + 1)), *ref = malloc(sizeof *ref * (size_t)(n + 1));
    double *cost = malloc(sizeof *cost * (size_t)(n + 1));
    double *load = calloc((size_t)nshard, sizeof *load), *load_ref = malloc(sizeof *load_ref * (size_t)nshard);
    CHECK(sched_shards(p, nshard, owner) == 0, "sched_shards N=%d failed", nshard);
    CHECK(sched_shards(p, nshard, again) == 0, "sched_shards N=%d failed", nshard);
    CHECK(memcmp(owner, again, sizeof *owner * (size_t)n) == 0, "N=%d: two calls differ", nshard);
    double cmax = 0;
    for (int k = 0; k < n; k++) {
        cost[k] = p->tasks[k].cost;
        CHECK(owner[k] >= 0 && owner[k] < nshard, "N=%d: task %d owned by shard %d", nshard, k, owner[k]);
        if (owner[k] >= 0 && owner[k] < nshard)
            load[owner[k]] += cost[k];
        cmax = cost[k] > cmax ? cost[k] : cmax;
    }
    greedy_naive(cost, NULL, n, nshard, ref, load_ref);
    int first_diff = -1;
    for (int k = 0; k < n && first_diff < 0; k++)
        if (owner[k] != ref[k])
            first_diff = k;
    CHECK(first_diff < 0, "N=%d: task %d in shard %d, the greedy reference over the task order says %d", nshard,
          first_diff, first_diff >= 0 ? owner[first_diff] : 0, first_diff >= 0 ? ref[first_diff] : 0);
    double lo = INFINITY, hi = 0;
    for (int s = 0; s < nshard; s++) {
        lo = load[s] < lo ? load[s] : lo;
        hi = load[s] > hi ? load[s] : hi;
    }
    /* Greedy list scheduling: the fullest shard was the emptiest when it got its last task. */
    CHECK(hi - lo <= cmax * (1 + 1e-12), "N=%d: loads from %g to %g s differ by more than the largest task, %g s",
          nshard, lo, hi, cmax);
    /* Every cell in exactly one shard, through its task (a backbone's cells stay together). */
    int total = 0;
    for (int s = 0; s < nshard; s++)
        for (int c = 0; c < p->ncell; c++)
            total += owner[p->task_of_cell[c]] == s;
    CHECK(total == p->ncell, "N=%d: the shards hold %d cells, the grid %d", nshard, total, p->ncell);
    free(again), free(ref), free(cost), free(load), free(load_ref);
}

/* Whether task k has work: a pending backbone or a pending cell. */
static int has_work(const sched_plan *p, int k, const int8_t *cst, const int8_t *bst)
{
    const sched_task *t = &p->tasks[k];
    int w = t->backbone >= 0 && bst[t->backbone] == CELL_PENDING;
    for (int j = 0; j < t->count; j++)
        w |= cst[p->cells[t->first + j]] == CELL_PENDING;
    return w;
}

/* One object per pretend rank: shard s of N computes its own todo list from the shared
 * statuses; together they cover the tasks with work exactly once, each list in task order. */
static void test_todo(const sched_plan *p, const int *owner, int nshard, const int8_t *cst, const int8_t *bst,
                      const char *what)
{
    int n = p->ntask;
    int *hits = calloc((size_t)n + 1, sizeof *hits), *todo = malloc(sizeof *todo * (size_t)(n + 1));
    int *cell_hits = calloc((size_t)p->ncell + 1, sizeof *cell_hits);
    for (int s = 0; s < nshard; s++) {
        int nmine = -1, want_mine = 0, want_todo = 0;
        for (int k = 0; k < n; k++)
            if (!owner || owner[k] == s) {
                want_mine += p->tasks[k].count;
                want_todo += has_work(p, k, cst, bst);
            }
        int nt = sched_todo(p, owner, s, cst, bst, todo, &nmine);
        CHECK(nt == want_todo, "%s, N=%d shard %d: %d tasks to do, want %d", what, nshard, s, nt, want_todo);
        CHECK(nmine == want_mine, "%s, N=%d shard %d: nmine %d, want %d", what, nshard, s, nmine, want_mine);
        for (int j = 0; j < nt && j < n; j++) {
            int k = todo[j];
            if (k < 0 || k >= n) {
                CHECK(0, "%s, N=%d shard %d: todo[%d] = %d is not a task", what, nshard, s, j, k);
                continue;
            }
            hits[k]++;
            for (int i = 0; i < p->tasks[k].count; i++)
                cell_hits[p->cells[p->tasks[k].first + i]]++;
            CHECK(!owner || owner[k] == s, "%s, N=%d shard %d: task %d of shard %d in its todo", what, nshard, s, k,
                  owner[k]);
            CHECK(has_work(p, k, cst, bst), "%s, N=%d shard %d: task %d has nothing pending", what, nshard, s, k);
            if (j > 0)
                CHECK(todo[j - 1] < k, "%s, N=%d shard %d: todo[%d] = %d after %d: not in task order", what, nshard, s,
                      j, k, todo[j - 1]);
        }
        CHECK(sched_todo(p, owner, s, cst, bst, todo, NULL) == nt, "%s: nmine NULL changes the count", what);
    }
    int bad = -1;
    for (int k = 0; k < n && bad < 0; k++)
        if (hits[k] != has_work(p, k, cst, bst))
            bad = k;
    CHECK(bad < 0, "%s, N=%d: task %d is in %d todo lists", what, nshard, bad, bad >= 0 ? hits[bad] : 0);
    /* Every pending cell is in exactly one todo list. */
    bad = -1;
    for (int c = 0; c < p->ncell && bad < 0; c++)
        if (cst[c] == CELL_PENDING && cell_hits[c] != 1)
            bad = c;
    CHECK(bad < 0, "%s, N=%d: pending cell %d is in %d todo lists", what, nshard, bad, bad >= 0 ? cell_hits[bad] : 0);
    free(hits), free(todo), free(cell_hits);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_sched JOB.yaml (tests/tiny.yaml)\n");
        return 2;
    }
    test_greedy();

    char err[1024] = "";
    char *text = job_read_file(argv[1], err, sizeof err);
    job_spec spec;
    if (!text || job_parse_grid(&spec, text, argv[1], 0, err, sizeof err) != 0) {
        CHECK(0, "cannot parse %s: %s", argv[1], err);
        free(text);
        return test_summary("sched");
    }
    grid g = grid_of(&spec);
    CHECK(g.ncell == 52 && g.nbb == 24, "tiny.yaml: %d cells and %d backbones, expected 52 and 24", g.ncell, g.nbb);
    sched_plan p;
    CHECK(sched_plan_build(&p, &spec, g.cells, g.ncell, g.bb, g.nbb, NULL, NULL) == 0, "sched_plan_build failed");
    check_plan(&p, &spec, &g, NULL, NULL, "tiny, nominal rates");

    /* Rates given: every rate doubled doubles every cost (exactly: a factor of 2), and the
     * plan must use them. */
    {
        cost_rates pre, ft;
        cost_nominal(&pre, spec.pretrain.batch);
        cost_nominal(&ft, spec.finetune.batch);
        for (int m = 0; m < COST_MAX_MODEL; m++)
            pre.step[m] *= 2, pre.eval_img[m] *= 2, ft.step[m] *= 2, ft.eval_img[m] *= 2;
        for (int l = 0; l <= SYNTH_MAX_COMPLEXITY; l++)
            pre.render[l] *= 2, ft.render[l] *= 2;
        sched_plan p2;
        CHECK(sched_plan_build(&p2, &spec, g.cells, g.ncell, g.bb, g.nbb, &pre, &ft) == 0, "sched_plan_build failed");
        check_plan(&p2, &spec, &g, &pre, &ft, "tiny, doubled rates");
        for (int k = 0; k < p.ntask && k < p2.ntask; k++)
            CHECK(p2.tasks[k].cost == 2 * p.tasks[k].cost && p2.tasks[k].backbone == p.tasks[k].backbone,
                  "doubled rates: task %d costs %g, twice the nominal %g", k, p2.tasks[k].cost, p.tasks[k].cost);
        sched_plan_free(&p2);
        sched_plan_free(&p2); /* a freed plan is empty: freeing it again is harmless */
    }
    /* Two repeats: tasks that differ only by repeat cost the same, so ties are certain. A
     * fine-tuning batch unlike the pre-training one: each recipe's nominal rates are at its
     * own batch. */
    {
        job_spec two = spec;
        two.repeats = 2;
        two.finetune.batch = 2 * spec.pretrain.batch;
        grid g2 = grid_of(&two);
        sched_plan p2;
        CHECK(sched_plan_build(&p2, &two, g2.cells, g2.ncell, g2.bb, g2.nbb, NULL, NULL) == 0, "sched_plan_build");
        check_plan(&p2, &two, &g2, NULL, NULL, "two repeats");
        int ties = 0;
        for (int k = 1; k < p2.ntask; k++)
            ties += p2.tasks[k - 1].cost == p2.tasks[k].cost;
        CHECK(ties >= p2.ntask / 2, "two repeats: only %d ties among %d tasks", ties, p2.ntask);
        sched_plan_free(&p2);
        free(g2.cells), free(g2.bb);
    }

    int n = p.ntask;
    int *owner = malloc(sizeof *owner * (size_t)(n + 1));
    int8_t *cst = malloc((size_t)g.ncell + 1), *bst = malloc((size_t)g.nbb + 1);
    memset(cst, CELL_PENDING, (size_t)g.ncell);
    memset(bst, CELL_PENDING, (size_t)g.nbb);
    test_todo(&p, NULL, 1, cst, bst, "whole grid, all pending");
    const int splits[] = {1, 2, 3, 7};
    for (size_t i = 0; i < sizeof splits / sizeof *splits; i++) {
        int N = splits[i];
        test_shards(&p, N, owner);
        memset(cst, CELL_PENDING, (size_t)g.ncell);
        memset(bst, CELL_PENDING, (size_t)g.nbb);
        test_todo(&p, owner, N, cst, bst, "all pending");
        /* Cells done or failed, backbones mostly done: a task with every cell finished but
         * its backbone pending still has work. */
        for (int c = 0; c < g.ncell; c++)
            cst[c] = c % 3 == 1 ? CELL_DONE : c % 5 == 2 ? CELL_FAILED : CELL_PENDING;
        for (int b = 0; b < g.nbb; b++)
            bst[b] = b % 4 == 0 ? CELL_PENDING : b % 4 == 1 ? CELL_FAILED : CELL_DONE;
        test_todo(&p, owner, N, cst, bst, "some cells and backbones finished");
        memset(cst, CELL_DONE, (size_t)g.ncell);
        test_todo(&p, owner, N, cst, bst, "cells done, some backbones pending");
        memset(bst, CELL_DONE, (size_t)g.nbb);
        test_todo(&p, owner, N, cst, bst, "all done");
    }
    for (int c = 0; c < g.ncell; c++)
        cst[c] = c % 4 == 0 ? CELL_PENDING : CELL_FAILED;
    test_todo(&p, NULL, 1, cst, bst, "whole grid, some failed");
    {
        int todo[1] = {-1}, nmine = -1;
        memset(cst, CELL_DONE, (size_t)g.ncell);
        CHECK(sched_todo(&p, NULL, 0, cst, bst, todo, &nmine) == 0 && nmine == g.ncell,
              "whole grid done: nmine %d, want %d", nmine, g.ncell);
    }

    sched_plan_free(&p);
    free(text), free(g.cells), free(g.bb), free(owner), free(cst), free(bst);
    return test_summary("sched");
}
