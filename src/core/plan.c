/* Predicted wall time of a job (see plan.h). */
#include "synlaw/plan.h"

#include "synlaw/bench.h"
#include "synlaw/sched.h"
#include "synlaw/util.h"

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

int plan_job(plan_result *out, const job_spec *spec, int ranks, double seconds, char *err,
             size_t errlen)
{
    memset(out, 0, sizeof *out);
    char models[JOB_MAX_AXIS * (JOB_NAME_LEN + 1)] = "";
    for (int i = 0; i < spec->n_model; i++) {
        strcat(models, spec->model[i]);
        if (i + 1 < spec->n_model)
            strcat(models, ",");
    }
    if (bench_calibrate(&out->pre, models, spec->pretrain.batch, seconds) != 0 ||
        (spec->finetune.batch != spec->pretrain.batch &&
         bench_calibrate(&out->ft, models, spec->finetune.batch, seconds) != 0))
        return util_fail(err, errlen, SL_EFAIL, "out of memory while calibrating");
    if (spec->finetune.batch == spec->pretrain.batch)
        out->ft = out->pre;
    int n = job_cell_count(spec), nbb = job_backbone_count(spec), rc = SL_EFAIL;
    out->ncell = n;
    out->nbackbone = nbb;
    sched_plan sp = {0};
    job_cell *cells = malloc(sizeof *cells * (size_t)(n + 1));
    job_backbone *bb = malloc(sizeof *bb * (size_t)(nbb + 1));
    int *order = malloc(sizeof *order * (size_t)(n + 1));
    double *secs = malloc(sizeof *secs * (size_t)(n + 1)), *alone = malloc(sizeof *alone * (size_t)(n + 1));
    double *load = malloc(sizeof *load * (size_t)ranks);
    ranked *rk = malloc(sizeof *rk * (size_t)(n + 1));
    if (!cells || !bb || !order || !secs || !alone || !load || !rk)
        goto out;
    job_cells(spec, cells);
    job_backbones(spec, bb);
    if (sched_plan_build(&sp, spec, cells, n, bb, nbb, &out->pre, &out->ft) != 0)
        goto out;
    out->ntask = sp.ntask;
    for (int k = 0; k < sp.ntask; k++) {
        secs[k] = sp.tasks[k].cost;
        out->total += secs[k];
        out->longest = secs[k] > out->longest ? secs[k] : out->longest;
    }
    for (int b = 0; b < nbb; b++)
        out->pretrain += cost_backbone(spec, &bb[b], &out->pre);
    out->finetune = out->total - out->pretrain;
    /* One cell at a time: largest first, as the scheduler would order them. */
    for (int i = 0; i < n; i++) {
        alone[i] = cost_cell_alone(spec, &cells[i], &out->pre, &out->ft);
        out->total_alone += alone[i];
        rk[i] = (ranked){alone[i], i};
    }
    qsort(rk, (size_t)n, sizeof *rk, by_cost);
    for (int i = 0; i < n; i++)
        order[i] = rk[i].index;
    for (int P = 1; out->npoint < PLAN_MAX_POINTS; P = P * 2 > ranks && P < ranks ? ranks : P * 2) {
        double mk = sched_greedy(secs, NULL, sp.ntask, P, NULL, load);
        double ma = sched_greedy(alone, order, n, P, NULL, load);
        if (mk < 0 || ma < 0)
            goto out;
        out->point[out->npoint++] = (plan_point){P, mk, mk > 0 ? out->total / (P * mk) : 1.0, ma};
        if (P >= ranks)
            break;
    }
    rc = 0;
out:
    if (rc)
        util_fail(err, errlen, SL_EFAIL, "out of memory for the %d cells of the plan", n);
    sched_plan_free(&sp);
    free(cells), free(bb), free(order), free(secs), free(alone), free(load), free(rk);
    return rc;
}
