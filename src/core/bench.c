/* Measurements: training throughput, sgemm reference, rendering, memory, calibration. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include "synlaw/bench.h"

#include "synlaw/job.h"
#include "synlaw/nn.h"
#include "synlaw/rng.h"
#include "synlaw/synth.h"
#include "synlaw/train.h"
#include "synlaw/util.h"

#include "convfma.h"
#include "quant.h"
#include "trig.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

/* Rates are measured on Fashion-MNIST's input (cost.c scales them to other shapes). */
enum { BENCH_SIDE = 28, BENCH_CLASSES = 10 };

static int wanted(const char *list, const char *name)
{
    if (!list)
        return 1;
    size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)) != NULL; p += n)
        if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return 1;
    return 0;
}

double bench_sgemm_gflops(int n)
{
    size_t nn = (size_t)n * n;
    float *a = malloc(nn * sizeof *a), *b = malloc(nn * sizeof *b), *c = malloc(nn * sizeof *c);
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return NAN;
    }
    rng_t r;
    rng_seed(&r, 1);
    for (size_t i = 0; i < nn; i++) {
        a[i] = (float)rng_uniform(&r) - 0.5f;
        b[i] = (float)rng_uniform(&r) - 0.5f;
    }
    double best = INFINITY;
    for (int rep = 0; rep < 4; rep++) { /* the first is a warm-up */
        double t = util_clock();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        t = util_clock() - t;
        if (rep > 0 && t < best)
            best = t;
    }
    free(a), free(b), free(c);
    return 2.0 * n * (double)n * n / best * 1e-9;
}

typedef struct {
    nn_net *net;
    uint8_t *labels;
    nn_optim optim;
} bench_net;

static int bench_net_make(bench_net *b, const char *model, int batch)
{
    nn_arch a;
    memset(b, 0, sizeof *b);
    if (nn_arch_build(&a, model, BENCH_SIDE, BENCH_SIDE, 1, BENCH_CLASSES) != 0 || !(b->net = nn_create(&a, batch)) ||
        !(b->labels = malloc((size_t)batch))) {
        nn_free(b->net);
        return -1;
    }
    nn_init(b->net, 7);
    rng_t r;
    rng_seed(&r, 11);
    float *x = nn_input(b->net);
    for (size_t i = 0; i < (size_t)batch * a.in_size; i++)
        x[i] = (float)rng_normal(&r);
    for (int i = 0; i < batch; i++)
        b->labels[i] = (uint8_t)rng_below(&r, BENCH_CLASSES);
    b->optim = (nn_optim){.kind = NN_ADAM, .lr = 1e-4f, .momentum = 0.9f, .weight_decay = 1e-4f};
    return 0;
}

static void bench_net_free(bench_net *b)
{
    nn_free(b->net);
    free(b->labels);
}

/* Seconds per training step (forward, loss, backward, Adam) of a batch, best of rounds. */
static double step_time(bench_net *b, int batch, double seconds)
{
    nn_net *n = b->net;
    for (int i = 0; i < 3; i++) { /* warm-up */
        const float *out = nn_forward(n, batch);
        nn_softmax_xent(nn_dout(n), NULL, out, b->labels, batch, BENCH_CLASSES);
        nn_backward(n, batch);
        nn_step(n, &b->optim);
    }
    double best = INFINITY, t_end = util_clock() + seconds;
    do {
        int k = 0;
        double t0 = util_clock();
        do {
            const float *out = nn_forward(n, batch);
            nn_softmax_xent(nn_dout(n), NULL, out, b->labels, batch, BENCH_CLASSES);
            nn_backward(n, batch);
            nn_step(n, &b->optim);
            k++;
        } while (util_clock() - t0 < 0.2);
        double t = (util_clock() - t0) / k;
        best = t < best ? t : best;
    } while (util_clock() < t_end);
    return best;
}

/* Seconds per image of a forward pass in batches of `batch`. */
static double eval_time(bench_net *b, int batch, double seconds)
{
    nn_forward(b->net, batch);
    int k = 0;
    double t0 = util_clock();
    do {
        nn_forward(b->net, batch);
        k++;
    } while (util_clock() - t0 < seconds);
    return (util_clock() - t0) / ((double)k * batch);
}

/* From OpenBLAS's cblas.h, declared here as version.c does. */
char *openblas_get_corename(void);
int openblas_get_num_threads(void);

void bench_machine(char *buf, size_t len)
{
    char cpu[128] = "unknown CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "model name", 10) == 0) {
                const char *v = strchr(line, ':');
                if (v) {
                    v += strspn(v + 1, " \t") + 1;
                    snprintf(cpu, sizeof cpu, "%.*s", (int)strcspn(v, "\n"), v);
                }
                break;
            }
        fclose(f);
    }
    char isa[64] = "";
#if defined(__GNUC__) && defined(__x86_64__)
    __builtin_cpu_init();
    snprintf(isa, sizeof isa, "%s%s%s", __builtin_cpu_supports("avx512f") ? " avx512f" : "",
             __builtin_cpu_supports("avx2") ? " avx2" : "", __builtin_cpu_supports("fma") ? " fma" : "");
#endif
    snprintf(buf, len,
             "machine: %s (%s); OpenBLAS %s kernels, %d thread%s; synlaw loops %s, convolution kernels %s "
             "(where they give OpenBLAS's bits), sinf/cosf %s, 8-bit samples %s",
             cpu, isa[0] ? isa + 1 : "no AVX2", openblas_get_corename(), openblas_get_num_threads(),
             openblas_get_num_threads() == 1 ? "" : "s", nn_clone_name(), convfma_name(convfma_impl()),
             trig_impl_name(trig_impl()), quant_impl_name(quant_impl()));
}

static volatile float sink; /* keeps the rendered pixels observable */

double bench_render_seconds(int level, double seconds)
{
    synth_sample *s = malloc(SYNTH_BATCH * sizeof *s);
    if (!s)
        return NAN;
    float x[SYNTH_PIXELS];
    data_shape shape;
    train_input in;
    data_default_shape(&shape); /* Fashion-MNIST's 28 x 28 x 1, which the rates are for */
    train_input_init(&in, &shape);
    /* as pre-training renders new images: SYNTH_BATCH at a time into compact samples, each
     * then expanded */
    uint8_t buf[SYNTH_BATCH][SYNTH_PIXELS + SYNTH_NCLASS];
    uint8_t *dst[SYNTH_BATCH];
    uint64_t idx[SYNTH_BATCH];
    for (int j = 0; j < SYNTH_BATCH; j++)
        dst[j] = buf[j];
    long k = 0;
    double t0 = util_clock();
    do {
        for (int j = 0; j < SYNTH_BATCH; j++)
            idx[j] = (uint64_t)(k + j);
        train_render_samples(dst, s, &in, 3, idx, SYNTH_BATCH, level, TASK_MULTILABEL);
        for (int j = 0; j < SYNTH_BATCH; j++)
            train_expand_sample(x, NULL, dst[j], &in, TASK_MULTILABEL);
        k += SYNTH_BATCH;
    } while ((k & 63) || util_clock() - t0 < seconds);
    double t = (util_clock() - t0) / (double)k;
    sink = x[0];
    free(s);
    return t;
}

static long minor_faults(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
}

/* The seconds to write one byte of each page of a fresh mapping of `bytes` (populated in
 * advance with util_populate when populate is set, the call counted in), less the seconds to
 * do it again, into *seconds (noise can make it negative); the minor faults of the first pass
 * into *faults. -1 if the mapping fails. */
static int fresh_touch_seconds(size_t bytes, int populate, double *seconds, long *faults)
{
    const size_t page = 4096;
    /* fresh anonymous memory, as a large malloc is: no page of it touched yet */
    volatile unsigned char *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if ((void *)m == MAP_FAILED)
        return -1;
    double t[2];
    for (int pass = 0; pass < 2; pass++) { /* first touch, then the same pages again */
        long f0 = minor_faults();
        double t0 = util_clock();
        if (pass == 0 && populate)
            util_populate((void *)m, bytes);
        for (size_t o = 0; o < bytes; o += page)
            m[o] = (unsigned char)(pass + 1);
        t[pass] = util_clock() - t0;
        if (pass == 0)
            *faults = minor_faults() - f0;
    }
    munmap((void *)m, bytes);
    *seconds = t[0] - t[1];
    return 0;
}

double bench_first_touch_us(long *faults, double *populated_us)
{
    const size_t bytes = (size_t)32 << 20;
    double plain, populated;
    long pf = 0;
    *faults = 0;
    const int ok = fresh_touch_seconds(bytes, 0, &plain, faults) == 0;
    *populated_us = fresh_touch_seconds(bytes, 1, &populated, &pf) == 0 ? 1e6 * populated / (double)(bytes / 4096)
                                                                         : NAN;
    return ok && *faults > 0 ? 1e6 * plain / (double)*faults : NAN;
}

int bench_model_rates(bench_model *out, const char *name, int batch, double seconds,
                      double eval_seconds)
{
    bench_net b;
    memset(out, 0, sizeof *out);
    if (bench_net_make(&b, name, batch) != 0)
        return -1;
    out->nparam = b.net->arch.nparam;
    out->flops = b.net->arch.flops;
    out->step = step_time(&b, batch, seconds);
    out->eval_img = eval_seconds > 0 ? eval_time(&b, batch, eval_seconds) : NAN;
    bench_net_free(&b);
    return 0;
}

int bench_calibrate(cost_rates *c, const char *models, int batch, double seconds)
{
    memset(c, 0, sizeof *c);
    c->batch = batch;
    for (int m = 0; m < nn_model_count() && m < COST_MAX_MODEL; m++) {
        if (!wanted(models, nn_model_name(m)))
            continue;
        bench_model bm;
        /* cells evaluate in batches of the training batch */
        if (bench_model_rates(&bm, nn_model_name(m), batch, seconds, seconds / 4) != 0)
            return -1;
        c->step[m] = bm.step;
        c->eval_img[m] = bm.eval_img;
    }
    for (int l = 1; l <= SYNTH_MAX_COMPLEXITY; l++)
        c->render[l] = bench_render_seconds(l, seconds / 4);
    return 0;
}


/* The clock at every training step (the poll callback of a stage). */
typedef struct {
    double *t;
    int n, cap;
} step_clock;

static void tick(void *user)
{
    step_clock *c = user;
    if (c->n < c->cap)
        c->t[c->n++] = util_clock();
}

int bench_pretrain(bench_stage *out, const char *name, int level, int task, long n, int steps, int batch,
                   char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    char text[1024];
    snprintf(text, sizeof text,
             "name: bench\nseed: 1\naxes:\n  pretrain_size: [%ld]\n  model: [%s]\n  complexity: [%d]\n"
             "  pretrain_task: [%s]\n  finetune_size: [100]\npretrain:\n  steps: %d\n  batch: %d\n"
             "  eval_every: %d\n  eval_size: 500\nfinetune:\n  steps: 10\n  eval_every: 10\n",
             n, name, level, job_task_name(task), steps, batch, steps);
    job_spec spec;
    if (job_parse_grid(&spec, text, "(stage benchmark)", 0, err, errlen) != 0)
        return -1;
    job_backbone bb;
    job_backbones(&spec, &bb);
    step_clock clk = {malloc(sizeof(double) * ((size_t)steps + 1)), 0, steps + 1};
    if (!clk.t)
        return util_fail(err, errlen, -1, "out of memory");
    clk.t[clk.n++] = util_clock();
    train_backbone tb;
    long faults0 = minor_faults();
    int rc = train_pretrain(&tb, &spec, &bb, tick, &clk, err, errlen);
    long faults1 = minor_faults();
    if (rc == 0 && tb.status != CELL_DONE)
        rc = util_fail(err, errlen, -1, "the stage diverged: %s", tb.reason);
    if (rc == 0) {
        int tenth = clk.n / 10 > 0 ? clk.n / 10 : 1, last = clk.n - 1;
        out->steps = last;
        /* from the end of the first step: pre-training renders every sample the stage
         * draws before it (when they fit the cache), which is in the render share */
        const int first = clk.n > tenth + 1 ? 1 : 0;
        out->start_rate = tenth / (clk.t[first + tenth] - clk.t[first]);
        out->end_rate = tenth / (clk.t[last] - clk.t[last - tenth]);
        out->seconds = tb.seconds;
        out->render_share = tb.seconds > 0 ? (tb.times.generate - tb.times.staging) / tb.seconds : NAN;
        out->staging_share = tb.seconds > 0 ? tb.times.staging / tb.seconds : NAN;
        out->final_error = tb.n_pre ? tb.error[tb.n_pre - 1] : NAN;
        out->page_faults = faults1 - faults0;
    }
    train_backbone_free(&tb);
    free(clk.t);
    return rc;
}
