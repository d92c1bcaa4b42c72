/* The one cost model of the stages: how many seconds a backbone or a cell takes, given the
 * rates of training, evaluation and rendering.
 *
 * Work is backbones (pre-training) and cells (fine-tuning), costed apart. The rates come either from cost_nominal (a fixed machine of 1 GFLOP/s derived from
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

/* Seconds of a backbone's pre-training (rates at the pre-training batch): steps x (the step
 * time scaled by the wider pre-training head, plus rendering a batch), the evaluation
 * passes, and rendering the held-out images. 0 for a model outside the zoo. */
double cost_backbone(const job_spec *spec, const job_backbone *bb, const cost_rates *pre);
/* Seconds of a cell's fine-tuning (rates at the fine-tuning batch): steps x the step time,
 * plus the evaluation passes on each evaluated split. */
double cost_finetune(const job_spec *spec, const job_cell *cell, const cost_rates *ft);
/* Seconds of a cell computed on its own, with its own pre-training (when n > 0): what one
 * cell at a time would cost, without sharing backbones. */
double cost_cell_alone(const job_spec *spec, const job_cell *cell, const cost_rates *pre,
                       const cost_rates *ft);

#endif
