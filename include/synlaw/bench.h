/* Measurements for benchmarks and for the calibration of the cost model. Each function
 * measures and returns figures; printing them is the application's business.
 *
 *  - the single-thread OpenBLAS sgemm rate on a large square product;
 *  - per model: the time of a training step (forward, softmax loss, backward, Adam) and of
 *    a forward pass per image;
 *  - rendering (and standardising) one synthetic image per complexity level. */
#ifndef SYNLAW_BENCH_H
#define SYNLAW_BENCH_H

#include "synlaw/cost.h"

#include <stddef.h>

/* What the figures were measured on, one line into buf: the CPU's model name and vector
 * extensions, OpenBLAS's kernels and threads, and the code synlaw picked for them (the
 * clone of its loops, the convolution kernels it tries, the textures' sinf/cosf). */
void bench_machine(char *buf, size_t len);

/* Best-of-3 single-thread sgemm rate on n x n x n, GFLOP/s (NaN on out-of-memory). */
double bench_sgemm_gflops(int n);

typedef struct {
    size_t nparam;    /* parameters (10-way head) */
    double flops;     /* forward FLOPs per sample */
    double step;      /* seconds per training step of a batch (best of rounds) */
    double eval_img;  /* seconds per image of a forward pass in batches of `batch` */
} bench_model;

/* Time zoo model `name` at a batch size, about `seconds` for the step and eval_seconds for
 * the forward pass (0: skip it). Returns 0, or -1 (unknown model, out of memory). */
int bench_model_rates(bench_model *out, const char *name, int batch, double seconds,
                      double eval_seconds);

/* Seconds to render and standardise one image at a level, over about `seconds`: as
 * pre-training renders, SYNTH_BATCH images at a time. */
double bench_render_seconds(int level, double seconds);

/* The cost of a page fault on fresh memory (the fault and the kernel's clearing of the
 * page), in microseconds per fault: the time to write one byte of each 4 KiB of a fresh
 * 32 MiB mapping, less the time to do it again, over the faults of the first pass (*faults:
 * 8,192 with 4 KiB pages, far fewer where the kernel backs the mapping with huge pages, each
 * fault then costing more). Usually well under a microsecond for a 4 KiB page (not measured
 * by us); 10-17 on the virtual machines synlaw is developed on, where the render cache's
 * first touch becomes a visible part of a stage. NaN if the mapping fails or took no fault.
 * *populated_us: the same on another fresh 32 MiB mapping whose pages are first populated in
 * one call (util_populate, as the render cache's are), per 4 KiB page, the call included
 * (NaN if the mapping fails). */
double bench_first_touch_us(long *faults, double *populated_us);

/* A realistic pre-training stage: steps/s at the start and at the end of a long run (a
 * slowdown such as subnormal arithmetic shows as a lower end rate). */
typedef struct {
    int steps;
    double start_rate, end_rate; /* steps/s over the first tenth of the steps after the first
                                    (which follows the rendering), and over the last tenth */
    double seconds;              /* the whole stage */
    double render_share;         /* rendering time / stage time (the render cache's misses and
                                  * the held-out images, drawn and quantised; with the first
                                  * touch of the cache's memory) */
    double staging_share;        /* staging time / stage time (cached samples expanded into
                                  * the batches) */
    double final_error;          /* held-out synthetic error at the end */
    long page_faults;            /* the process's minor page faults during the stage */
} bench_stage;

/* Pre-train zoo model `name` for `steps` steps on n synthetic images at `level` for `task`
 * (job_task), batch `batch`, Adam as the default recipe: the real stage (rendering and render
 * cache, task head, evaluation). Returns 0, or -1 with err. */
int bench_pretrain(bench_stage *out, const char *name, int level, int task, long n, int steps, int batch,
                   char *err, size_t errlen);

/* Calibrate the cost model on this machine: rates of the models listed in `models`
 * (comma-separated zoo names; NULL: all) at `batch`, about `seconds` each, and of
 * rendering. Returns 0, or -1 on out-of-memory. */
int bench_calibrate(cost_rates *r, const char *models, int batch, double seconds);

#endif
