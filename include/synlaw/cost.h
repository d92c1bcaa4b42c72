/* The one cost model of a cell: how many seconds it takes, given the rates of training,
 * evaluation and rendering.
 *
 * A cell costs its fine-tuning (steps x the step time of its model, plus the evaluation
 * passes) and, when n > 0, its pre-training (steps x (the step time scaled by the wider
 * pre-training head, plus rendering a batch), evaluation passes, and rendering the held-out
 * images). The rates come either from cost_nominal (a fixed machine of 1 GFLOP/s derived from
 * each model's FLOPs: the same numbers on every machine, which is what ordering and shard
 * splits need, since every task must compute the same split) or from a calibration measured
 * on the machine at hand (bench_calibrate, used by `synlaw plan`). */
#ifndef SYNLAW_COST_H
#define SYNLAW_COST_H

#include "synlaw/job.h"
#include "synlaw/synth.h"

enum { COST_MAX_MODEL = 16 };

typedef struct {
    int batch;                               /* batch the step times are for */
    double step[COST_MAX_MODEL];             /* s per training step, per zoo model (10-way head) */
    double eval_img[COST_MAX_MODEL];         /* s per image of a forward pass, per zoo model */
    double render[SYNTH_MAX_COMPLEXITY + 1]; /* s to render one image, per level (index = level) */
} cost_rates;

/* Nominal rates at a batch size: 1 GFLOP/s for training (3 x forward FLOPs per sample) and
 * evaluation, 2e-4 s per rendered image (4e-4 s at level 4). */
void cost_nominal(cost_rates *r, int batch);

/* Seconds of one cell with rates pre (at the pre-training batch) and ft (at the fine-tuning
 * batch); 0 for a model outside the zoo. */
double cost_cell(const job_spec *spec, const job_cell *cell, const cost_rates *pre,
                 const cost_rates *ft);

/* cost_cell with the nominal rates of the job's batch sizes. */
double cost_cell_nominal(const job_spec *spec, const job_cell *cell);

#endif
