/* The two stages of the pipeline: pre-train a backbone on n synthetic images, and fine-tune
 * a backbone (or fresh weights: scratch) on s real images with a fresh head, recording the
 * learning curves of each.
 *
 * Everything a stage computes is a function of the job spec and its coordinates: the
 * initial weights of (model, repeat), the synthetic set of (complexity, repeat), the
 * pre-training batch order of the backbone seed, the real subset of (repeat), the
 * fine-tuning batch order of (s, repeat). So a stage gives the same bits on any rank, in any
 * order, and a backbone is the same whichever cell it is fine-tuned for. */
#ifndef SYNLAW_TRAIN_H
#define SYNLAW_TRAIN_H

#include "synlaw/idx.h"
#include "synlaw/job.h"
#include "synlaw/synth.h"

/* What the networks see of an image: its geometry and the standardised value of each 8-bit
 * level in each channel ((level / 255 - mean) / std with the statistics of the real training
 * split: spec->shape), for real and synthetic inputs alike. */
typedef struct {
    int rows, cols, channels;
    int pixels;                                /* rows * cols * channels */
    float mean[DATA_MAX_CHANNELS], inv_std[DATA_MAX_CHANNELS]; /* pixel v of channel c is fed
                                                                  as (v / 255 - mean) * inv_std */
} train_input;

/* From a job's data shape; -1 when its statistics were not measured (std 0). */
int train_input_init(train_input *in, const data_shape *shape);

/* A synthetic image as the network sees it, compactly (train_sample_bytes): 8-bit pixels in
 * channel planes (as real images are; every rendered image is quantised to 256 levels,
 * cached or not), then its target as bits (the foreground mask, or the classes present).
 * 882 bytes for a 28 x 28 segmentation sample. */
size_t train_sample_bytes(const train_input *in, int task);

/* Pre-training sets whose samples fit in this many bytes (about 152,000 28 x 28 images) are kept
 * once rendered, so each image is rendered once; larger ones are rendered on the fly every
 * time an image is drawn. SYNLAW_RENDER_CACHE=0 turns the cache off (the test suite checks
 * that the results are the same bits either way). */
#define TRAIN_CACHE_BYTES (128u << 20)

/* Real data, loaded once per process and shared by all its cells. The last
 * shape.validation images of the training split are the validation split: fine-tuning
 * subsets are drawn from the images before them only, so fine-tuning settings can be tuned
 * on validation error without touching the test set. */
typedef struct {
    idx_set train, test;
    idx_set validation;   /* a view into train (not owned): its last images, at most eval_size */
    int pool;             /* images fine-tuning subsets are drawn from: train.count - validation */
    train_input input;
    int classes;
} train_data;

/* Time spent in each phase of a stage, seconds. staging is the part of generate spent
 * expanding cached synthetic samples into batches (the step real data has too); the rest of
 * generate is rendering. Without the render cache, each draw is rendered and expanded at
 * once, and all of it counts as rendering. */
typedef struct {
    double generate, pretrain, finetune, evaluate, staging;
} train_times;

/* A pre-trained backbone. Owned arrays: train_backbone_free releases them. */
typedef struct {
    int steps;          /* optimiser steps (the budget of n) */
    int n_pre;          /* evaluations */
    float *loss;        /* [n_pre] mean training loss since the previous evaluation */
    float *error;       /* [n_pre] held-out synthetic error (per output) */
    size_t nparam;      /* parameters of the backbone */
    float *params;      /* [nparam] the backbone: the prefix of the model's parameter block
                           before the head (nn.h) */
    double seconds;     /* wall time */
    train_times times;
    cell_status status; /* CELL_DONE or CELL_FAILED (diverged) */
    char reason[160];   /* why it failed */
} train_backbone;

/* A fine-tuned cell. Owned arrays: train_result_free releases them. */
typedef struct {
    int n_ft;               /* evaluations */
    float *val_error;       /* [n_ft] validation error (NaN when the split is not evaluated) */
    float *test_error;      /* [n_ft] test error (NaN when the split is not evaluated) */
    double final_val_error; /* last evaluations (NaN when not evaluated) */
    double final_test_error;
    double final_error;     /* the fit's error: test when evaluated, else validation */
    double seconds;         /* wall time */
    train_times times;
    cell_status status;     /* CELL_DONE or CELL_FAILED (diverged) */
    char reason[160];       /* why it failed */
} train_result;

/* Load the real data of a job (train split and the first finetune.eval_size test images).
 * The data must be what spec->shape says (geometry, labels below its classes, statistics
 * measured): a file that changed since it was measured is an error naming it. Every failure
 * is bad input except out-of-memory (-1 either way). */
int train_data_load(train_data *d, const job_spec *spec, char *err, size_t errlen);
void train_data_free(train_data *d);

/* Called between training steps; lets the MPI scheduler make progress. May be NULL. */
typedef void (*train_poll_fn)(void *user);

/* Parameters of the backbone of a job model (the same for every head). */
size_t train_backbone_params(const job_spec *spec, int model);

/* Pre-train backbone bb. Returns 0 with out->status CELL_DONE or CELL_FAILED (divergence), or
 * -1 on an internal error (out of memory) with err set. The caller frees out with
 * train_backbone_free either way. */
int train_pretrain(train_backbone *out, const job_spec *spec, const job_backbone *bb,
                   train_poll_fn poll, void *poll_user, char *err, size_t errlen);
void train_backbone_free(train_backbone *b);

/* Fine-tune cell from backbone (its train_backbone_params(spec, cell->model) parameters; NULL
 * for a scratch cell). Returns 0 with res->status CELL_DONE or CELL_FAILED, or -1 with err
 * set; the caller frees res with train_result_free either way. */
int train_finetune(train_result *res, const job_spec *spec, const job_cell *cell,
                   const float *backbone, const train_data *d, train_poll_fn poll, void *poll_user,
                   char *err, size_t errlen);

/* One cell on its own: its backbone pre-trained (n > 0), then fine-tuned (benchmarks). A
 * diverged pre-training fails the cell with the backbone's reason. */
int train_cell(train_result *res, const job_spec *spec, const job_cell *cell, const train_data *d,
               train_poll_fn poll, void *poll_user, char *err, size_t errlen);
void train_result_free(train_result *res);

/* Output size of a pre-training head for images of in's geometry. */
int train_task_outputs(const train_input *in, int task);

/* Render synthetic image `index` of the set `seed` at `complexity`, at in's geometry, into a
 * compact sample out[train_sample_bytes(in, task)] (target of `task`). s is scratch space. */
void train_render_sample(uint8_t *out, synth_sample *s, const train_input *in, uint64_t seed,
                         uint64_t index, int complexity, int task);
/* train_render_sample of images index[0 .. count-1] into out[0 .. count-1], the same bits,
 * SYNTH_BATCH at a time (synth_render_batch); s is scratch space of SYNTH_BATCH samples. */
void train_render_samples(uint8_t *const *out, synth_sample *s, const train_input *in, uint64_t seed,
                          const uint64_t *index, int count, int complexity, int task);
/* Expand a sample into x[in->pixels], standardised, and target[train_task_outputs(in, task)]
 * (target may be NULL). */
void train_expand_sample(float *x, float *target, const uint8_t *sample, const train_input *in, int task);

#endif
