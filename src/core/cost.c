/* The cell cost model (see cost.h). */
#include "synlaw/cost.h"

#include "synlaw/nn.h"
#include "synlaw/train.h"

#include <string.h>

/* Nominal machine: seconds per floating-point operation, and per rendered image. */
#define NOMINAL_SECONDS_PER_FLOP 1e-9
#define NOMINAL_RENDER_SECONDS 2e-4

void cost_nominal(cost_rates *r, int batch)
{
    memset(r, 0, sizeof *r);
    r->batch = batch;
    for (int m = 0; m < nn_model_count() && m < COST_MAX_MODEL; m++) {
        nn_arch a;
        if (nn_arch_build(&a, nn_model_name(m), TRAIN_CLASSES) != 0)
            continue;
        r->step[m] = 3.0 * a.flops * batch * NOMINAL_SECONDS_PER_FLOP;
        r->eval_img[m] = a.flops * NOMINAL_SECONDS_PER_FLOP;
    }
    for (int l = 1; l <= SYNTH_MAX_COMPLEXITY; l++)
        r->render[l] = NOMINAL_RENDER_SECONDS * (l >= SYNTH_MAX_COMPLEXITY ? 2.0 : 1.0);
}

double cost_cell(const job_spec *spec, const job_cell *c, const cost_rates *pre, const cost_rates *ft)
{
    int m = nn_model_find(spec->model[c->model]);
    nn_arch a10, ah;
    if (m < 0 || m >= COST_MAX_MODEL || nn_arch_build(&a10, spec->model[c->model], TRAIN_CLASSES) != 0)
        return 0.0;
    const job_recipe *p = &spec->pretrain, *f = &spec->finetune;
    double t = f->steps * ft->step[m] + (double)job_eval_count(f) * f->eval_size * ft->eval_img[m];
    if (c->size > 0 && c->complexity >= 1 && c->complexity <= SYNTH_MAX_COMPLEXITY &&
        nn_arch_build(&ah, spec->model[c->model], train_task_outputs(c->task)) == 0) {
        double head = ah.flops / a10.flops; /* a wider pre-training head costs more */
        double r = pre->render[c->complexity];
        t += p->steps * (pre->step[m] * head + p->batch * r) +
             (double)job_eval_count(p) * p->eval_size * pre->eval_img[m] * head + p->eval_size * r;
    }
    return t;
}

double cost_cell_nominal(const job_spec *spec, const job_cell *cell)
{
    cost_rates pre, ft;
    cost_nominal(&pre, spec->pretrain.batch);
    cost_nominal(&ft, spec->finetune.batch);
    return cost_cell(spec, cell, &pre, &ft);
}
