/* The cell cost model (see cost.h). */
#include "synlaw/cost.h"

#include "synlaw/nn.h"
#include "synlaw/train.h"

#include <string.h>

/* Nominal machine: seconds per floating-point operation, and per rendered image. */
#define NOMINAL_SECONDS_PER_FLOP 1e-9
#define NOMINAL_RENDER_SECONDS 2e-4
/* The input the rates are measured on (synlaw bench): Fashion-MNIST's. */
#define REF_SIDE 28
#define REF_CLASSES 10

void cost_nominal(cost_rates *r, int batch)
{
    memset(r, 0, sizeof *r);
    r->batch = batch;
    for (int m = 0; m < nn_model_count() && m < COST_MAX_MODEL; m++) {
        nn_arch a;
        if (nn_arch_build(&a, nn_model_name(m), REF_SIDE, REF_SIDE, 1, REF_CLASSES) != 0)
            continue;
        r->step[m] = 3.0 * a.flops * batch * NOMINAL_SECONDS_PER_FLOP;
        r->eval_img[m] = a.flops * NOMINAL_SECONDS_PER_FLOP;
    }
    for (int l = 1; l <= SYNTH_MAX_COMPLEXITY; l++)
        r->render[l] = NOMINAL_RENDER_SECONDS * (l >= SYNTH_MAX_COMPLEXITY ? 2.0 : 1.0);
}

/* The job's image geometry (Fashion-MNIST's when the data was not probed). */
static void geometry(const job_spec *spec, int *rows, int *cols, int *channels)
{
    int known = spec->shape.rows > 0;
    *rows = known ? spec->shape.rows : REF_SIDE;
    *cols = known ? spec->shape.cols : REF_SIDE;
    *channels = known ? spec->shape.channels : 1;
}

/* The zoo index of a job model and the FLOP ratio of the model on the job's images with a
 * head of `outputs` to the model the rates are measured on (28 x 28 x 1, 10 classes); -1 for
 * a model outside the zoo. */
static int model_of(const job_spec *spec, int model, int outputs, double *ratio)
{
    int m = nn_model_find(spec->model[model]), R, W, C;
    geometry(spec, &R, &W, &C);
    nn_arch ref, ah;
    if (m < 0 || m >= COST_MAX_MODEL || nn_arch_build(&ref, spec->model[model], REF_SIDE, REF_SIDE, 1, REF_CLASSES) != 0 ||
        nn_arch_build(&ah, spec->model[model], R, W, C, outputs) != 0)
        return -1;
    *ratio = ah.flops / ref.flops;
    return m;
}

double cost_backbone(const job_spec *spec, const job_backbone *b, const cost_rates *pre)
{
    double head;
    int R, W, C;
    geometry(spec, &R, &W, &C);
    int m = model_of(spec, b->model, b->task == TASK_SEGMENT ? R * W : SYNTH_NCLASS, &head);
    if (m < 0 || b->complexity < 1 || b->complexity > SYNTH_MAX_COMPLEXITY)
        return 0.0;
    const job_recipe *p = &spec->pretrain;
    /* a wider pre-training head costs more; rendering grows with the pixels */
    double r = pre->render[b->complexity] * ((double)R * W * C / (REF_SIDE * REF_SIDE));
    return b->steps * (pre->step[m] * head + p->batch * r) +
           (double)job_eval_count(b->steps, p->eval_every) * p->eval_size * pre->eval_img[m] * head +
           p->eval_size * r;
}

double cost_finetune(const job_spec *spec, const job_cell *c, const cost_rates *ft)
{
    double head;
    int m = model_of(spec, c->model, spec->shape.classes > 0 ? spec->shape.classes : REF_CLASSES, &head);
    if (m < 0)
        return 0.0;
    const job_recipe *f = &spec->finetune;
    int steps = spec->ftsteps[c->ftsteps], splits = f->eval_split == EVAL_BOTH ? 2 : 1;
    return (steps * ft->step[m] +
            (double)job_eval_count(steps, f->eval_every) * splits * f->eval_size * ft->eval_img[m]) * head;
}

double cost_cell_alone(const job_spec *spec, const job_cell *c, const cost_rates *pre, const cost_rates *ft)
{
    double t = cost_finetune(spec, c, ft);
    if (c->size > 0) {
        job_backbone b = {.size = c->size, .model = c->model, .complexity = c->complexity,
                          .task = c->task, .repeat = c->repeat,
                          .steps = job_pretrain_steps(spec, c->size)};
        t += cost_backbone(spec, &b, pre);
    }
    return t;
}
