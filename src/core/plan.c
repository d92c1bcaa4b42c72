/* Predicted wall time of a job (see plan.h). */
#include "synlaw/plan.h"

#include "synlaw/bench.h"
#include "synlaw/sched.h"
#include "synlaw/util.h"

#include <stdlib.h>
#include <string.h>

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
    int n = job_cell_count(spec), rc = SL_EFAIL;
    out->ncell = n;
    job_cell *cells = malloc(sizeof *cells * (size_t)(n + 1));
    int *order = malloc(sizeof *order * (size_t)(n + 1));
    double *secs = malloc(sizeof *secs * (size_t)(n + 1));
    double *load = malloc(sizeof *load * (size_t)ranks);
    if (!cells || !order || !secs || !load)
        goto out;
    job_cells(spec, cells);
    if (sched_order(spec, cells, n, order) != 0)
        goto out;
    for (int i = 0; i < n; i++) {
        secs[i] = cost_cell(spec, &cells[i], &out->pre, &out->ft);
        out->total += secs[i];
        out->longest = secs[i] > out->longest ? secs[i] : out->longest;
    }
    for (int P = 1; out->npoint < PLAN_MAX_POINTS; P = P * 2 > ranks && P < ranks ? ranks : P * 2) {
        double mk = sched_greedy(secs, order, n, P, NULL, load);
        if (mk < 0)
            goto out;
        out->point[out->npoint++] = (plan_point){P, mk, mk > 0 ? out->total / (P * mk) : 1.0};
        if (P >= ranks)
            break;
    }
    rc = 0;
out:
    if (rc)
        util_fail(err, errlen, SL_EFAIL, "out of memory for the %d cells of the plan", n);
    free(cells), free(order), free(secs), free(load);
    return rc;
}
