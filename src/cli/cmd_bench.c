/* synlaw bench: training speed per model against the sgemm rate, the share of rendering,
 * and memory. Figures, never pass/fail. */
#define _DEFAULT_SOURCE /* wait4 */
#include "cli.h"

#include "synlaw/bench.h"
#include "synlaw/job.h"
#include "synlaw/nn.h"
#include "synlaw/synth.h"
#include "synlaw/train.h"
#include "synlaw/util.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

const char *const usage_bench =
    "usage: synlaw bench [--models M1,M2] [--batch B] [--seconds T] [--sgemm N] [--memory]\n"
    "                    [--stage-steps S] [--stage-n N] [--stage-level L]\n"
    "\n"
    "Print what the figures are measured on (the CPU and its vector extensions, OpenBLAS's\n"
    "kernels and threads, and the code synlaw picked for them), then, per model, training\n"
    "samples/s and achieved GFLOP/s (3 x forward FLOPs) next to the single-thread OpenBLAS\n"
    "sgemm rate on an N x N x N product measured in the same run, the share of data\n"
    "generation per complexity level, and with --memory the peak resident memory of one\n"
    "whole cell at n = 1,000 and n = 100,000. Figures, not pass/fail.\n"
    "\n"
    "  --models LIST   zoo models (default: all)\n"
    "  --batch B       training batch (default 64)\n"
    "  --seconds T     measuring time per model (default 2)\n"
    "  --sgemm N       size of the reference sgemm (default 2048)\n"
    "  --memory        also run the memory benchmark (needs the Fashion-MNIST files)\n"
    "  --stage-steps S a realistic pre-training stage per model and task, S steps (default 0:\n"
    "                  skip; 2000 shows a slowdown over time): steps/s at the start (from the\n"
    "                  end of the first step: the stage's images are rendered before it) and\n"
    "                  the end, the shares of rendering (drawing the images) and of staging\n"
    "                  (expanding the cached images into batches), the page faults (first\n"
    "                  touches of memory), and what a first touch costs on this machine,\n"
    "                  faulted in or populated in advance (as the render cache is)\n"
    "  --stage-n N     synthetic images of that stage (default 2000)\n"
    "  --stage-level L complexity level of that stage (default 3)\n"
    "  -h, --help      show this help\n";

/* Whether name is in the comma-separated list (NULL: every name). */
static int listed(const char *list, const char *name)
{
    if (!list)
        return 1;
    size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)) != NULL; p += n)
        if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return 1;
    return 0;
}

/* ---- memory: one whole cell in a child process, its peak RSS from wait4 ---- */

/* What the child sends back. */
typedef struct {
    double seconds;
    char err[512];
} cell_report;

/* The child: run the cell, report through fd. Never returns. */
static void memory_child(int fd, const char *text)
{
    cell_report rep = {NAN, ""};
    job_spec spec;
    train_data d;
    if (job_parse(&spec, text, "(memory benchmark)", rep.err, sizeof rep.err) == 0 &&
        train_data_load(&d, &spec, rep.err, sizeof rep.err) == 0) {
        job_cell cells[2];
        job_cells(&spec, cells);
        train_result res;
        if (train_cell(&res, &spec, &cells[0], &d, NULL, NULL, rep.err, sizeof rep.err) == 0) {
            rep.seconds = res.seconds;
            train_result_free(&res);
        }
        train_data_free(&d);
    }
    ssize_t w = write(fd, &rep, sizeof rep);
    _exit(w == (ssize_t)sizeof rep && !isnan(rep.seconds) ? 0 : 1);
}

static int cell_memory(long n, const char *data_dir, double *rss_mib, double *seconds, char *err,
                       size_t errlen)
{
    char text[1024];
    snprintf(text, sizeof text,
             "name: memory\nseed: 1\n%s%s%s"
             "axes:\n  pretrain_size: [%ld]\n  model: [cnn-m]\n  complexity: [3]\n"
             "  finetune_size: [1000]\n  repeats: 1\n"
             "pretrain:\n  steps: 1500\n  batch: 64\n  eval_every: 500\n  eval_size: 500\n"
             "finetune:\n  steps: 400\n  batch: 64\n  eval_every: 200\n  eval_size: 2000\n",
             data_dir ? "data_dir: " : "", data_dir ? data_dir : "", data_dir ? "\n" : "", n);
    *rss_mib = *seconds = NAN;
    int fd[2];
    if (pipe(fd) != 0)
        return util_fail(err, errlen, -1, "memory benchmark: cannot create a pipe");
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]), close(fd[1]);
        return util_fail(err, errlen, -1, "memory benchmark: cannot fork");
    }
    if (pid == 0) {
        close(fd[0]);
        memory_child(fd[1], text);
    }
    close(fd[1]);
    cell_report rep = {NAN, "the child process reported nothing"};
    if (read(fd[0], &rep, sizeof rep) != (ssize_t)sizeof rep)
        rep.seconds = NAN;
    close(fd[0]);
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return util_fail(err, errlen, -1, "memory benchmark (n = %ld): %s", n, rep.err);
    *seconds = rep.seconds;
    *rss_mib = (double)ru.ru_maxrss / 1024.0; /* Linux: KiB */
    return 0;
}

/* Realistic pre-training stages: both tasks per model. */
static int bench_stages(const char *models, int B, int steps, long n, int level)
{
    printf("\npre-training stage: %d steps on n = %ld images at level %d, batch %d (real rendering, "
           "task heads, Adam, evaluation)\n", steps, n, level, B);
    long faults;
    double populated;
    double us = bench_first_touch_us(&faults, &populated);
    printf("first touch of fresh memory: %.2f us per page fault (%ld faults for 32 MiB), %.2f us per "
           "4 KiB page populated in advance (as the render cache is, in a stage's render share)\n",
           us, faults, populated);
    printf("%-7s %-10s %12s %12s %9s %9s %9s %7s %10s\n", "model", "task", "steps/s start", "steps/s end",
           "end/start", "render", "staging", "faults", "seconds");
    for (int m = 0; m < nn_model_count(); m++) {
        const char *name = nn_model_name(m);
        if (!listed(models, name))
            continue;
        for (int task = 0; task < TASK_COUNT; task++) {
            bench_stage st;
            char err[1024];
            if (bench_pretrain(&st, name, level, task, n, steps, B, err, sizeof err) != 0)
                return cli_error(EXIT_RUNTIME, "bench: %s", err);
            printf("%-7s %-10s %12.1f %12.1f %9.2f %8.1f%% %8.1f%% %7ld %10.1f\n", name, job_task_name(task),
                   st.start_rate, st.end_rate, st.end_rate / st.start_rate, 100 * st.render_share,
                   100 * st.staging_share, st.page_faults, st.seconds);
            fflush(stdout);
        }
    }
    return EXIT_OK;
}

static int bench(const char *models, int B, double seconds, int sgemm_n, int memory)
{
    char machine[512];
    bench_machine(machine, sizeof machine);
    printf("%s\n", machine);
    double gemm = bench_sgemm_gflops(sgemm_n);
    printf("single-thread OpenBLAS sgemm %dx%dx%d: %.1f GFLOP/s\n\n", sgemm_n, sgemm_n, sgemm_n, gemm);
    printf("training step (forward, softmax loss, backward, Adam), batch %d, one thread:\n", B);
    printf("%-7s %9s %12s %11s %10s %9s %11s\n", "model", "params", "MFLOP/sample", "samples/s", "ms/step",
           "GFLOP/s", "of sgemm");
    double steps[COST_MAX_MODEL] = {0};
    for (int m = 0; m < nn_model_count() && m < COST_MAX_MODEL; m++) {
        const char *name = nn_model_name(m);
        if (!listed(models, name))
            continue;
        bench_model bm;
        if (bench_model_rates(&bm, name, B, seconds, 0) != 0)
            return cli_error(EXIT_RUNTIME, "bench: out of memory for %s", name);
        steps[m] = bm.step;
        double sps = B / bm.step, gf = sps * 3.0 * bm.flops * 1e-9;
        printf("%-7s %9zu %12.3f %11.0f %10.3f %9.2f %10.1f%%\n", name, bm.nparam, bm.flops * 1e-6, sps,
               1e3 * bm.step, gf, 100.0 * gf / gemm);
        fflush(stdout);
    }
    printf("\ndata generation: rendering a batch of %d against one training step "
           "(share of pre-training time)\n", B);
    double rt[SYNTH_MAX_COMPLEXITY + 1];
    printf("%-7s", "level");
    for (int l = 1; l <= SYNTH_MAX_COMPLEXITY; l++) {
        rt[l] = bench_render_seconds(l, 0.5);
        printf(" %9d", l);
    }
    printf("\n%-7s", "img/s");
    for (int l = 1; l <= SYNTH_MAX_COMPLEXITY; l++)
        printf(" %9.0f", 1.0 / rt[l]);
    putchar('\n');
    for (int m = 0; m < nn_model_count() && m < COST_MAX_MODEL; m++) {
        if (!steps[m])
            continue;
        printf("%-7s", nn_model_name(m));
        for (int l = 1; l <= SYNTH_MAX_COMPLEXITY; l++)
            printf(" %8.1f%%", 100.0 * B * rt[l] / (B * rt[l] + steps[m]));
        putchar('\n');
    }
    if (memory) {
        printf("\nmemory: one whole cell (cnn-m, level 3, 1500 pre-training steps, 400 fine-tuning "
               "steps), peak resident set of a child process\n");
        const long ns[2] = {1000, 100000};
        double rss[2];
        for (int i = 0; i < 2; i++) {
            double secs;
            char err[1024];
            if (cell_memory(ns[i], NULL, &rss[i], &secs, err, sizeof err) != 0)
                return cli_error(EXIT_RUNTIME, "bench: %s", err);
            printf("n = %6ld: peak RSS %.1f MiB (cell %.1f s)\n", ns[i], rss[i], secs);
            fflush(stdout);
        }
        printf("ratio n=100000 / n=1000: %.3f\n", rss[1] / rss[0]);
    }
    return EXIT_OK;
}

int cmd_bench(int argc, char **argv)
{
    static const struct option opts[] = {
        {"models", required_argument, NULL, 'm'}, {"batch", required_argument, NULL, 'b'},
        {"seconds", required_argument, NULL, 's'}, {"sgemm", required_argument, NULL, 'g'},
        {"memory", no_argument, NULL, 'M'},        {"help", no_argument, NULL, 'h'},
        {"stage-steps", required_argument, NULL, 'S'}, {"stage-n", required_argument, NULL, 'N'},
        {"stage-level", required_argument, NULL, 'L'}, {NULL, 0, NULL, 0}};
    const char *models = NULL;
    long batch = 64, sgemm = 2048, stage_steps = 0, stage_n = 2000, stage_level = 3;
    double seconds = 2.0;
    int memory = 0, c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': models = optarg; break;
        case 'b':
            if (cli_parse_long(optarg, 1, 4096, &batch))
                return cli_usage_error(usage_bench, "bench: --batch '%s': expected 1..4096", optarg);
            break;
        case 's':
            if (cli_parse_double(optarg, 0.01, 3600, &seconds))
                return cli_usage_error(usage_bench, "bench: --seconds '%s': expected 0.01..3600", optarg);
            break;
        case 'g':
            if (cli_parse_long(optarg, 16, 16384, &sgemm))
                return cli_usage_error(usage_bench, "bench: --sgemm '%s': expected 16..16384", optarg);
            break;
        case 'M': memory = 1; break;
        case 'S':
            if (cli_parse_long(optarg, 0, 10000000, &stage_steps))
                return cli_usage_error(usage_bench, "bench: --stage-steps '%s': expected 0..10000000", optarg);
            break;
        case 'N':
            if (cli_parse_long(optarg, 1, 100000000, &stage_n))
                return cli_usage_error(usage_bench, "bench: --stage-n '%s': expected 1..100000000", optarg);
            break;
        case 'L':
            if (cli_parse_long(optarg, 1, SYNTH_MAX_COMPLEXITY, &stage_level))
                return cli_usage_error(usage_bench, "bench: --stage-level '%s': expected 1..4", optarg);
            break;
        case 'h': fputs(usage_bench, stdout); return EXIT_OK;
        default: return cli_usage_error(usage_bench, "bench: unknown option");
        }
    }
    if (optind != argc)
        return cli_usage_error(usage_bench, "bench: unexpected argument '%s'", argv[optind]);
    if (models) {
        char *copy = strdup(models);
        if (!copy)
            return cli_error(EXIT_RUNTIME, "bench: out of memory");
        for (char *t = strtok(copy, ","); t; t = strtok(NULL, ","))
            if (nn_model_find(t) < 0) {
                int rc = cli_usage_error(usage_bench, "bench: --models: unknown model '%s'", t);
                free(copy);
                return rc;
            }
        free(copy);
    }
    int rc = bench(models, (int)batch, seconds, (int)sgemm, memory);
    if (rc == EXIT_OK && stage_steps > 0)
        rc = bench_stages(models, (int)batch, (int)stage_steps, stage_n, (int)stage_level);
    return rc;
}
