/* synlaw bench: training throughput, sgemm reference, data-generation share, memory. */
#define _DEFAULT_SOURCE /* wait4 */
#include "synlaw/bench.h"

#include "synlaw/job.h"
#include "synlaw/nn.h"
#include "synlaw/rng.h"
#include "synlaw/sched.h"
#include "synlaw/synth.h"
#include "synlaw/train.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* Best-of-3 single-thread sgemm rate on n x n x n, GFLOP/s. */
static double sgemm_rate(int n)
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
        double t = train_clock();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        t = train_clock() - t;
        if (rep > 0 && t < best)
            best = t;
    }
    free(a), free(b), free(c);
    return 2.0 * n * (double)n * n / best * 1e-9;
}

typedef struct {
    nn_net *net;
    uint8_t *labels;
    job_recipe recipe;
} bench_net;

static int bench_net_make(bench_net *b, const char *model, int batch)
{
    nn_arch a;
    memset(b, 0, sizeof *b);
    if (nn_arch_build(&a, model, 10) != 0 || !(b->net = nn_create(&a, batch)) ||
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
        b->labels[i] = (uint8_t)rng_below(&r, 10);
    b->recipe = (job_recipe){.steps = 1, .batch = batch, .optimizer = OPT_ADAM, .lr = 1e-4,
                             .momentum = 0.9, .weight_decay = 1e-4, .eval_every = 1, .eval_size = 1};
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
        nn_softmax_xent(nn_dout(n), NULL, out, b->labels, batch, 10);
        nn_backward(n, batch);
        nn_step(n, &b->recipe);
    }
    double best = INFINITY, t_end = train_clock() + seconds;
    do {
        int k = 0;
        double t0 = train_clock();
        do {
            const float *out = nn_forward(n, batch);
            nn_softmax_xent(nn_dout(n), NULL, out, b->labels, batch, 10);
            nn_backward(n, batch);
            nn_step(n, &b->recipe);
            k++;
        } while (train_clock() - t0 < 0.2);
        double t = (train_clock() - t0) / k;
        best = t < best ? t : best;
    } while (train_clock() < t_end);
    return best;
}

/* Seconds per image of a forward pass in batches of `batch`. */
static double eval_time(bench_net *b, int batch, double seconds)
{
    nn_forward(b->net, batch);
    int k = 0;
    double t0 = train_clock();
    do {
        nn_forward(b->net, batch);
        k++;
    } while (train_clock() - t0 < seconds);
    return (train_clock() - t0) / ((double)k * batch);
}

static volatile float sink; /* keeps the rendered pixels observable */

/* Seconds to render and standardise one image at a level. */
static double render_time(int level, double seconds)
{
    synth_sample *s = malloc(sizeof *s);
    if (!s)
        return NAN;
    float x[SYNTH_PIXELS];
    long k = 0;
    double t0 = train_clock();
    do {
        synth_render(s, 3, (uint64_t)k, level);
        for (int p = 0; p < SYNTH_PIXELS; p++)
            x[p] = (s->image[p] - TRAIN_PIXEL_MEAN) * (1.0f / TRAIN_PIXEL_STD);
        k++;
    } while ((k & 63) || train_clock() - t0 < seconds);
    double t = (train_clock() - t0) / (double)k;
    sink = x[0];
    free(s);
    return t;
}

int bench_calibrate(bench_calibration *c, const char *models, int batch, double seconds)
{
    memset(c, 0, sizeof *c);
    c->batch = batch;
    for (int m = 0; m < nn_model_count() && m < 16; m++) {
        if (!wanted(models, nn_model_name(m)))
            continue;
        bench_net b;
        if (bench_net_make(&b, nn_model_name(m), batch) != 0)
            return -1;
        c->step[m] = step_time(&b, batch, seconds);
        c->eval_img[m] = eval_time(&b, batch, seconds / 4); /* cells evaluate in such batches */
        bench_net_free(&b);
    }
    for (int l = 1; l <= SYNTH_MAX_COMPLEXITY; l++)
        c->render[l] = render_time(l, seconds / 4);
    return 0;
}

/* One whole cell of a generated job in a child process; returns its peak RSS in MiB. */
static double cell_peak_rss(long n, const char *data_dir, double *seconds)
{
    char text[1024];
    snprintf(text, sizeof text,
             "name: memory\nseed: 1\n%s%s%s"
             "axes:\n  pretrain_size: [%ld]\n  model: [cnn-m]\n  complexity: [3]\n"
             "  finetune_size: [1000]\n  repeats: 1\n"
             "pretrain:\n  steps: 1500\n  batch: 64\n  eval_every: 500\n  eval_size: 500\n"
             "finetune:\n  steps: 400\n  batch: 64\n  eval_every: 200\n  eval_size: 2000\n",
             data_dir ? "data_dir: " : "", data_dir ? data_dir : "", data_dir ? "\n" : "", n);
    int fd[2];
    if (pipe(fd) != 0)
        return NAN;
    pid_t pid = fork();
    if (pid < 0)
        return NAN;
    if (pid == 0) {
        close(fd[0]);
        job_spec spec;
        train_data d;
        char err[512];
        double secs = NAN;
        if (job_parse(&spec, text, "(memory benchmark)", err, sizeof err) == 0 &&
            train_data_load(&d, &spec, err, sizeof err) == 0) {
            job_cell cells[2];
            job_cells(&spec, cells);
            train_result res;
            if (train_cell(&res, &spec, &cells[0], &d, NULL, NULL, err, sizeof err) == 0) {
                secs = res.seconds;
                train_result_free(&res);
            }
        } else {
            fprintf(stderr, "synlaw: bench: %s\n", err);
        }
        if (write(fd[1], &secs, sizeof secs) != sizeof secs)
            _exit(1);
        _exit(isnan(secs) ? 1 : 0);
    }
    close(fd[1]);
    double secs = NAN;
    if (read(fd[0], &secs, sizeof secs) != sizeof secs)
        secs = NAN;
    close(fd[0]);
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return NAN;
    *seconds = secs;
    return (double)ru.ru_maxrss / 1024.0; /* Linux: KiB */
}

int bench_run(const bench_options *o, FILE *out)
{
    int B = o->batch;
    double gemm = sgemm_rate(o->sgemm_n);
    fprintf(out, "single-thread OpenBLAS sgemm %dx%dx%d: %.1f GFLOP/s\n\n", o->sgemm_n, o->sgemm_n,
            o->sgemm_n, gemm);
    fprintf(out, "training step (forward, softmax loss, backward, Adam), batch %d, one thread:\n", B);
    fprintf(out, "%-7s %9s %12s %11s %10s %9s %11s\n", "model", "params", "MFLOP/sample", "samples/s",
            "ms/step", "GFLOP/s", "of sgemm");
    double steps[16] = {0};
    for (int m = 0; m < nn_model_count() && m < 16; m++) {
        const char *name = nn_model_name(m);
        if (!wanted(o->models, name))
            continue;
        bench_net b;
        if (bench_net_make(&b, name, B) != 0) {
            fprintf(stderr, "synlaw: bench: out of memory for %s\n", name);
            return 1;
        }
        double t = step_time(&b, B, o->seconds);
        steps[m] = t;
        double sps = B / t, gf = sps * 3.0 * b.net->arch.flops * 1e-9;
        fprintf(out, "%-7s %9zu %12.3f %11.0f %10.3f %9.2f %10.1f%%\n", name, b.net->arch.nparam,
                b.net->arch.flops * 1e-6, sps, 1e3 * t, gf, 100.0 * gf / gemm);
        fflush(out);
        bench_net_free(&b);
    }
    fprintf(out, "\ndata generation: rendering a batch of %d against one training step "
                 "(share of pre-training time)\n", B);
    double rt[SYNTH_MAX_COMPLEXITY + 1];
    fprintf(out, "%-7s", "level");
    for (int l = 1; l <= SYNTH_MAX_COMPLEXITY; l++) {
        rt[l] = render_time(l, 0.5);
        fprintf(out, " %9d", l);
    }
    fprintf(out, "\n%-7s", "img/s");
    for (int l = 1; l <= SYNTH_MAX_COMPLEXITY; l++)
        fprintf(out, " %9.0f", 1.0 / rt[l]);
    fputc('\n', out);
    for (int m = 0; m < nn_model_count() && m < 16; m++) {
        if (!steps[m])
            continue;
        fprintf(out, "%-7s", nn_model_name(m));
        for (int l = 1; l <= SYNTH_MAX_COMPLEXITY; l++)
            fprintf(out, " %8.1f%%", 100.0 * B * rt[l] / (B * rt[l] + steps[m]));
        fputc('\n', out);
    }
    if (o->memory) {
        fprintf(out, "\nmemory: one whole cell (cnn-m, level 3, 1500 pre-training steps, 400 "
                     "fine-tuning steps), peak resident set of a child process\n");
        const long ns[2] = {1000, 100000};
        double rss[2];
        for (int i = 0; i < 2; i++) {
            double secs = NAN;
            rss[i] = cell_peak_rss(ns[i], o->data_dir, &secs);
            fprintf(out, "n = %6ld: peak RSS %.1f MiB (cell %.1f s)\n", ns[i], rss[i], secs);
            fflush(out);
        }
        fprintf(out, "ratio n=100000 / n=1000: %.3f\n", rss[1] / rss[0]);
    }
    return 0;
}

/* Predicted seconds of one cell from the calibration (cal_pre for the pre-training batch,
 * cal_ft for the fine-tuning batch). */
static double cell_seconds(const job_spec *spec, const job_cell *c, const bench_calibration *cal_pre,
                           const bench_calibration *cal_ft)
{
    int m = nn_model_find(spec->model[c->model]);
    nn_arch a10, ah;
    nn_arch_build(&a10, spec->model[c->model], 10);
    const job_recipe *p = &spec->pretrain, *f = &spec->finetune;
    double evals_ft = train_eval_count(f);
    double t = f->steps * cal_ft->step[m] + evals_ft * f->eval_size * cal_ft->eval_img[m];
    if (c->size > 0) {
        nn_arch_build(&ah, spec->model[c->model], train_task_outputs(c->task));
        double head = ah.flops / a10.flops; /* a wider pre-training head costs more */
        double r = cal_pre->render[c->complexity];
        t += p->steps * (cal_pre->step[m] * head + p->batch * r) +
             train_eval_count(p) * p->eval_size * cal_pre->eval_img[m] * head + p->eval_size * r;
    }
    return t;
}

/* List scheduling in the given order on P ranks; returns the makespan. */
static double simulate(const double *secs, const int *order, int n, int P, double *free_at)
{
    for (int r = 0; r < P; r++)
        free_at[r] = 0.0;
    for (int k = 0; k < n; k++) {
        int best = 0;
        for (int r = 1; r < P; r++)
            if (free_at[r] < free_at[best])
                best = r;
        free_at[best] += secs[order[k]];
    }
    double mk = 0.0;
    for (int r = 0; r < P; r++)
        mk = free_at[r] > mk ? free_at[r] : mk;
    return mk;
}

int bench_plan(const char *job_path, int ranks, double seconds, FILE *out)
{
    char err[1024];
    char *text = job_read_file(job_path, err, sizeof err);
    job_spec spec;
    if (!text || job_parse_grid(&spec, text, job_path, 0, err, sizeof err) != 0) {
        fprintf(stderr, "synlaw: %s\n", err);
        free(text);
        return 2;
    }
    free(text);
    char models[JOB_MAX_AXIS * (JOB_NAME_LEN + 1)] = "";
    for (int i = 0; i < spec.n_model; i++) {
        strcat(models, spec.model[i]);
        if (i + 1 < spec.n_model)
            strcat(models, ",");
    }
    bench_calibration cp, cf;
    if (bench_calibrate(&cp, models, spec.pretrain.batch, seconds) != 0 ||
        (spec.finetune.batch != spec.pretrain.batch &&
         bench_calibrate(&cf, models, spec.finetune.batch, seconds) != 0)) {
        fprintf(stderr, "synlaw: plan: out of memory while calibrating\n");
        return 1;
    }
    if (spec.finetune.batch == spec.pretrain.batch)
        cf = cp;
    int n = job_cell_count(&spec);
    job_cell *cells = malloc(sizeof *cells * (size_t)n);
    int *order = malloc(sizeof *order * (size_t)n);
    double *secs = malloc(sizeof *secs * (size_t)n);
    double *free_at = malloc(sizeof *free_at * (size_t)ranks);
    if (!cells || !order || !secs || !free_at) {
        free(cells), free(order), free(secs), free(free_at);
        fprintf(stderr, "synlaw: plan: out of memory\n");
        return 1;
    }
    job_cells(&spec, cells);
    sched_order(&spec, cells, n, order);
    double total = 0, longest = 0;
    for (int i = 0; i < n; i++) {
        secs[i] = cell_seconds(&spec, &cells[i], &cp, &cf);
        total += secs[i];
        longest = secs[i] > longest ? secs[i] : longest;
    }
    fprintf(out, "%s: %d cells; calibrated on this machine (one thread per rank):\n", job_path, n);
    for (int i = 0; i < spec.n_model; i++) {
        int m = nn_model_find(spec.model[i]);
        fprintf(out, "  %-6s training step %.2f ms (batch %d), evaluation %.1f us/image\n", spec.model[i],
                1e3 * cp.step[m], spec.pretrain.batch, 1e6 * cp.eval_img[m]);
    }
    fprintf(out, "  rendering:");
    for (int l = 1; l <= SYNTH_MAX_COMPLEXITY; l++)
        fprintf(out, " level %d %.1f us/image%s", l, 1e6 * cp.render[l], l < SYNTH_MAX_COMPLEXITY ? "," : "\n");
    char dur[32];
    fprintf(out, "predicted cell time: total %.0f s, longest cell %.1f s, mean %.1f s\n", total, longest,
            total / n);
    fprintf(out, "%8s %12s %12s %11s\n", "ranks", "seconds", "wall time", "efficiency");
    for (int P = 1;; P = P * 2 > ranks && P < ranks ? ranks : P * 2) {
        double mk = simulate(secs, order, n, P, free_at);
        double s = mk;
        if (s < 60)
            snprintf(dur, sizeof dur, "%.1f s", s);
        else if (s < 3600)
            snprintf(dur, sizeof dur, "%dm%02ds", (int)s / 60, (int)s % 60);
        else
            snprintf(dur, sizeof dur, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
        fprintf(out, "%8d %12.1f %12s %10.1f%%\n", P, mk, dur, 100.0 * total / (P * mk));
        if (P >= ranks)
            break;
    }
    if (longest > total / ranks)
        fprintf(out, "note: the longest cell (%.1f s) exceeds the work per rank at %d ranks (%.1f s): "
                "more ranks than that cannot help\n", longest, ranks, total / ranks);
    free(cells), free(order), free(secs), free(free_at);
    return 0;
}
