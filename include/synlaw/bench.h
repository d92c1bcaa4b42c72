/* Benchmarks that print figures (never pass/fail):
 *
 *  - training throughput per model (forward, softmax loss, backward, Adam step on a batch),
 *    as samples/s and achieved GFLOP/s (3 x the forward FLOPs per sample, the usual count
 *    for forward + backward), next to the single-thread OpenBLAS sgemm rate measured in the
 *    same run on a large square product, and their ratio;
 *  - the share of data generation: rendering a batch at each complexity level against one
 *    training step of each model;
 *  - with memory: the peak resident memory of one whole cell (pre-training and fine-tuning)
 *    at two pre-training sizes, each in a child process. */
#ifndef SYNLAW_BENCH_H
#define SYNLAW_BENCH_H

#include <stdio.h>

typedef struct {
    const char *models;   /* comma-separated zoo names; NULL: all */
    int batch;            /* training batch (default 64) */
    double seconds;       /* measuring time per model (default 2) */
    int sgemm_n;          /* size of the square sgemm (default 2048) */
    int memory;           /* 1: also the memory benchmark */
    const char *data_dir; /* Fashion-MNIST for the memory benchmark (NULL: the default) */
} bench_options;

int bench_run(const bench_options *o, FILE *out);

/* Measured per-step costs used by synlaw plan (seconds, single thread). */
typedef struct {
    double step[16];      /* training step of a batch of `batch`, per zoo model */
    double eval_img[16];  /* forward pass per image, per zoo model */
    double render[5];     /* rendering one image at levels 1..4 (index = level) */
    int batch;
} bench_calibration;

/* Measure the calibration for the given models (NULL: all), about `seconds` each. */
int bench_calibrate(bench_calibration *c, const char *models, int batch, double seconds);

/* synlaw plan: predict the wall time of a job on P ranks. Each cell's time comes from the
 * measured calibration (training steps of its model at the job's batch sizes, scaled by
 * FLOPs for the pre-training head; rendering at its level; evaluation passes); the ranks
 * are then simulated taking cells in the scheduler's order (largest predicted FLOPs first,
 * each free rank claiming the next). Prints the makespan and parallel efficiency at 1, 2,
 * 4, ... up to P ranks. */
int bench_plan(const char *job_path, int ranks, double seconds, FILE *out);

#endif
