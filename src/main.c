/* synlaw command line: parses arguments and dispatches; only this file exits. */
#include "synlaw/bench.h"
#include "synlaw/csvfit.h"
#include "synlaw/image.h"
#include "synlaw/job.h"
#include "synlaw/merge.h"
#include "synlaw/nn.h"
#include "synlaw/report.h"
#include "synlaw/sched.h"
#include "synlaw/sweep.h"
#include "synlaw/synth.h"
#include "synlaw/version.h"

#include <getopt.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *usage_main =
    "usage: synlaw COMMAND [OPTIONS]\n"
    "\n"
    "Measure how much synthetic pre-training data is worth: run a grid of (pre-training size,\n"
    "model, synthetic complexity, task, fine-tuning size, repeat) cells, record learning curves\n"
    "in HDF5 and fit L(n) = D*n^-alpha + C.\n"
    "\n"
    "commands:\n"
    "  run JOB.yaml -o OUT.h5   run a sweep (under mpirun: all ranks compute)\n"
    "  check JOB.yaml           validate a job file and print the expanded grid\n"
    "  fit RESULTS.h5           (re)fit the scaling law of a results file\n"
    "  merge -o OUT.h5 SHARDS   join shard files (or a directory of them) into one results file\n"
    "  status FILE.h5|DIR       done / failed / missing cells and time spent\n"
    "  render -o SHEET.png      draw synthetic images as a PNG contact sheet\n"
    "  bench                    training speed per model against the sgemm rate, memory\n"
    "  plan JOB.yaml --ranks P  predict a job's wall time and parallel efficiency on P ranks\n"
    "  models                   list the model zoo with sizes and costs\n"
    "\n"
    "options:\n"
    "  -h, --help               show this help (synlaw COMMAND --help for a command)\n"
    "  -V, --version            show versions of synlaw and its libraries\n"
    "\n"
    "exit status: 0 success, 1 runtime failure, 2 bad input or usage\n";

static const char *usage_run =
    "usage: [mpirun -np P] synlaw run JOB.yaml -o OUT.h5 [--resume] [--force] [--csv FITS.csv] [--quiet] [--no-fit]\n"
    "       [mpirun -np P] synlaw run JOB.yaml --shard I/N -o DIR/ [--resume]\n"
    "\n"
    "Run every cell of the job's grid across the MPI ranks (largest first, dynamically\n"
    "balanced), streaming each finished cell into OUT.h5, then fit the law on rank 0.\n"
    "With --shard I/N, run only shard I (0-based) of a deterministic cost-balanced split into\n"
    "N shards, into DIR/JOBNAME-shard-I-of-N.h5; join the shards with synlaw merge.\n"
    "\n"
    "  -o, --output FILE   results file (HDF5); refused if it exists, unless --resume or --force\n"
    "      --resume        continue OUT.h5: skip finished cells, rerun cells in flight when it\n"
    "                      stopped (starts a new file if OUT.h5 does not exist)\n"
    "      --shard I/N     run shard I of N (0 <= I < N); -o names a directory (or the file)\n"
    "      --csv FILE      fit table as CSV (default: OUT with .h5 replaced by -fits.csv)\n"
    "  -f, --force         replace an existing results file\n"
    "A second run on the same output stops with an error while the first holds its lock\n"
    "(flock); on file systems without locks set HDF5_USE_FILE_LOCKING=FALSE.\n"
    "  -q, --quiet         no per-cell progress lines\n"
    "      --no-fit        skip the fit at the end\n"
    "  -h, --help          show this help\n";

static const char *usage_check =
    "usage: synlaw check JOB.yaml\n"
    "\n"
    "Validate a job file (errors name file:line:column) and print the expanded grid: the\n"
    "number of cells and one line per axis. Exit status 2 if the job file is invalid.\n";

static const char *usage_fit =
    "usage: synlaw fit RESULTS.h5 [options] [-o FITS.csv]\n"
    "       synlaw fit --csv CURVES.csv --x COL --y [1-]COL [--group C1,C2,...] [--where COL=V]...\n"
    "                  [--last COL] [--repeat COL] [--s COL] [options] [-o FITS.csv|FITS.h5]\n"
    "\n"
    "Fit L(n) = D*n^-alpha + C per (model, complexity, task, fine-tuning size) on the finished\n"
    "cells of a results file, and the full law L(n,s) when there are several fine-tuning sizes;\n"
    "print the table and the decision per group, and replace /fits in the file. With --csv, fit\n"
    "learning curves from any CSV file instead.\n"
    "\n"
    "  -o, --output FILE  also write the rows: CSV, or with --csv a new HDF5 file if FILE ends in .h5\n"
    "  -q, --quiet        do not print the table\n"
    "  --law L            simple (D, alpha, C; default), power (D, alpha), full (delta, gamma,\n"
    "                     alpha, beta); a results file always gets simple (and full)\n"
    "  --fix P=V          hold parameter P at V (e.g. --fix D=0.48)\n"
    "  --bound P=LO:HI    bounds of parameter P (inf allowed); defaults D >= 0, alpha in\n"
    "                     [0.01, 3], C >= 0 (C <= 1 too for a results file)\n"
    "  --log              residuals ln f - ln y instead of f - y\n"
    "  --loss L           linear (least squares, default), huber or soft-l1 (robust, by IRLS)\n"
    "  --loss-scale C     scale of the robust loss (default 1.4826 * MAD of the LS residuals)\n"
    "  --bootstrap B      bootstrap replicates for percentile intervals (default 1000; 0: none)\n"
    "  --boot-repeats     resample whole repeats instead of points (needs many repeats; a\n"
    "                     results file knows its repeats, a CSV needs --repeat)\n"
    "  --seed S           bootstrap seed (default 1)\n"
    "  --level L          interval coverage (default 0.95)\n"
    "  --holdout K        extrapolation check: fit without the K largest n, predict them\n"
    "                     (default 1; 0: no check)\n"
    "  --epsilon E        error difference that matters for the decision (default 0.01)\n"
    "CSV input:\n"
    "  --csv FILE         read curves from a CSV file with a header row\n"
    "  --x COL            column of n (pre-training size); rows with n <= 0 are refused\n"
    "  --y COL | 1-COL    column of y, or one minus it (accuracy -> error)\n"
    "  --group C1,C2      columns that define a group (one fit each)\n"
    "  --where COL=V      keep rows with COL equal to V; COL!=V keeps the others (repeatable)\n"
    "  --last COL         per (group, n, s, repeat) keep only the row with the largest COL\n"
    "  --repeat COL       column of the repeat (seed) id: the bootstrap resamples whole repeats\n"
    "  --s COL            column of s (fine-tuning size), needed by the full law\n";

static const char *usage_render =
    "usage: synlaw render --complexity K --count N -o SHEET.png [--seed S] [--cols C] [--scale X]\n"
    "\n"
    "Render images 0..N-1 of the synthetic data set with seed S at complexity K (1-4) into a\n"
    "PNG contact sheet, and report the rendering rate.\n"
    "\n"
    "  -c, --complexity K   level 1..4 (default 1)\n"
    "  -n, --count N        images on the sheet (default 64)\n"
    "  -s, --seed S         data-set seed (default 1)\n"
    "      --cols C         tiles per row (default 16)\n"
    "      --scale X        pixels per image pixel (default 2)\n"
    "  -o, --output FILE    PNG file to write\n";

static int bad_usage(const char *usage, const char *fmt, const char *arg)
{
    fprintf(stderr, "synlaw: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n\n%s", usage);
    return 2;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int cmd_version(void)
{
    char h5[64], mpi[256];
    version_hdf5(h5, sizeof h5);
    version_mpi(mpi, sizeof mpi);
    printf("synlaw %s\nHDF5 %s\nMPI: %s\nOpenBLAS: %s\nGSL %s\n", version_synlaw(), h5, mpi,
           version_openblas(), version_gsl());
    return 0;
}

static int cmd_check(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage_check, stdout);
            return 0;
        }
        return bad_usage(usage_check, "check: unknown option%s", "");
    }
    if (optind + 1 != argc)
        return bad_usage(usage_check, "check: expected one job file%s", "");
    const char *path = argv[optind];
    char err[1024];
    char *text = job_read_file(path, err, sizeof err);
    job_spec s;
    if (!text || job_parse(&s, text, path, err, sizeof err) != 0) {
        fprintf(stderr, "synlaw: %s\n", err);
        free(text);
        return 2;
    }
    free(text);
    int ncell = job_cell_count(&s), nscratch = 0;
    for (int i = 0; i < s.n_size; i++)
        nscratch += s.size[i] == 0;
    printf("%s: job '%s', seed %llu, data %s\n", path, s.name, (unsigned long long)s.seed, s.data_dir);
    printf("cells: %d (%d pre-trained, %d scratch baselines)\n", ncell,
           s.n_model * s.n_ftsize * s.repeats * (s.n_size - nscratch) * s.n_complexity * s.n_task,
           s.n_model * s.n_ftsize * s.repeats * nscratch);
    printf("  pretrain_size (%d):", s.n_size);
    for (int i = 0; i < s.n_size; i++)
        printf(" %ld%s", s.size[i], s.size[i] == 0 ? "(scratch)" : "");
    printf("\n  model         (%d):", s.n_model);
    for (int i = 0; i < s.n_model; i++)
        printf(" %s", s.model[i]);
    printf("\n  complexity    (%d):", s.n_complexity);
    for (int i = 0; i < s.n_complexity; i++)
        printf(" %d", s.complexity[i]);
    printf("\n  pretrain_task (%d):", s.n_task);
    for (int i = 0; i < s.n_task; i++)
        printf(" %s", job_task_name(s.task[i]));
    printf("\n  finetune_size (%d):", s.n_ftsize);
    for (int i = 0; i < s.n_ftsize; i++)
        printf(" %ld", s.ftsize[i]);
    printf("\n  repeats       (%d)\n", s.repeats);
    const job_recipe *r[2] = {&s.pretrain, &s.finetune};
    const char *nm[2] = {"pretrain", "finetune"};
    for (int i = 0; i < 2; i++) {
        printf("%s: %d steps, batch %d, %s lr %g momentum %g weight_decay %g, eval every %d on %d %s",
               nm[i], r[i]->steps, r[i]->batch, job_optimizer_name(r[i]->optimizer), r[i]->lr,
               r[i]->momentum, r[i]->weight_decay, r[i]->eval_every, r[i]->eval_size,
               i == 0 ? "held-out synthetic images"
                      : r[i]->eval_validation ? "validation images (not the test set)" : "test images");
        if (i == 1 && r[i]->scratch_lr > 0)
            printf(", scratch cells lr %g", r[i]->scratch_lr);
        if (i == 0)
            printf(", transfers the %s", r[i]->transfer_conv ? "convolution layers" : "backbone");
        putchar('\n');
    }
    job_cell *cells = malloc(sizeof *cells * (size_t)ncell);
    if (cells) {
        job_cells(&s, cells);
        double total = 0;
        for (int i = 0; i < ncell; i++)
            total += sched_cell_cost(&s, &cells[i]);
        printf("predicted work: %.3g GFLOP-equivalents\n", total * 1e-9);
        free(cells);
    }
    return 0;
}

static int cmd_render(int argc, char **argv)
{
    static const struct option opts[] = {
        {"complexity", required_argument, NULL, 'c'}, {"count", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'},       {"cols", required_argument, NULL, 'C'},
        {"scale", required_argument, NULL, 'x'},      {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},             {NULL, 0, NULL, 0}};
    long complexity = 1, count = 64, seed = 1, cols = 16, scale = 2;
    const char *out = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "c:n:s:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            if (parse_long(optarg, 1, SYNTH_MAX_COMPLEXITY, &complexity))
                return bad_usage(usage_render, "render: --complexity '%s': expected 1..4", optarg);
            break;
        case 'n':
            if (parse_long(optarg, 1, 100000, &count))
                return bad_usage(usage_render, "render: --count '%s': expected 1..100000", optarg);
            break;
        case 's':
            if (parse_long(optarg, 0, 0x7fffffffL, &seed))
                return bad_usage(usage_render, "render: --seed '%s': expected a non-negative integer", optarg);
            break;
        case 'C':
            if (parse_long(optarg, 1, 1000, &cols))
                return bad_usage(usage_render, "render: --cols '%s': expected 1..1000", optarg);
            break;
        case 'x':
            if (parse_long(optarg, 1, 16, &scale))
                return bad_usage(usage_render, "render: --scale '%s': expected 1..16", optarg);
            break;
        case 'o': out = optarg; break;
        case 'h': fputs(usage_render, stdout); return 0;
        default: return bad_usage(usage_render, "render: unknown option%s", "");
        }
    }
    if (optind != argc)
        return bad_usage(usage_render, "render: unexpected argument '%s'", argv[optind]);
    if (!out)
        return bad_usage(usage_render, "render: -o SHEET.png is required%s", "");
    float *images = malloc(sizeof(float) * SYNTH_PIXELS * (size_t)count);
    synth_sample *s = malloc(sizeof *s);
    if (!images || !s) {
        fprintf(stderr, "synlaw: render: out of memory\n");
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < count; i++) {
        synth_render(s, (uint64_t)seed, (uint64_t)i, (int)complexity);
        memcpy(images + (size_t)i * SYNTH_PIXELS, s->image, sizeof s->image);
    }
    /* A fixed-size timing run, so the rate does not depend on --count. */
    long bench = 20000;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    double mean = 0;
    for (long i = 0; i < bench; i++) {
        synth_render(s, (uint64_t)seed, (uint64_t)(1000000 + i), (int)complexity);
        for (int p = 0; p < SYNTH_PIXELS; p++)
            mean += s->image[p];
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    char err[512];
    int rc = image_write_sheet(out, images, (int)count, SYNTH_SIDE, (int)(cols < count ? cols : count),
                               (int)scale, err, sizeof err);
    free(images);
    free(s);
    if (rc) {
        fprintf(stderr, "synlaw: render: %s\n", err);
        return 1;
    }
    printf("wrote %s: %ld images at complexity %ld (seed %ld)\n", out, count, complexity, seed);
    printf("rendering rate: %.0f images/s on one core (%ld images, mean pixel %.3f)\n",
           (double)bench / secs, bench, mean / ((double)bench * SYNTH_PIXELS));
    return 0;
}

static int param_index(fit_law law, const char *name)
{
    for (int i = 0; i < fit_param_count(law); i++)
        if (strcmp(fit_param_name(law, i), name) == 0)
            return i;
    return -1;
}

/* Apply "--fix P=V" or "--bound P=LO:HI" to opt. */
static int apply_param_option(fit_options *o, char *arg, int bound)
{
    char *eq = strchr(arg, '=');
    if (!eq)
        return -1;
    *eq = '\0';
    int i = param_index(o->law, arg);
    if (i < 0)
        return -1;
    char *end;
    if (!bound) {
        o->fixed[i] = 1;
        o->value[i] = strtod(eq + 1, &end);
        return *end || end == eq + 1 ? -1 : 0;
    }
    char *colon = strchr(eq + 1, ':');
    if (!colon)
        return -1;
    *colon = '\0';
    o->lo[i] = strtod(eq + 1, &end);
    if (*end || end == eq + 1)
        return -1;
    o->hi[i] = strtod(colon + 1, &end);
    return *end || end == colon + 1 || !(o->lo[i] < o->hi[i]) ? -1 : 0;
}

/* A number option in [lo, hi]; returns -1 on anything else. */
static int parse_double(const char *arg, double lo, double hi, double *v)
{
    char *end;
    *v = strtod(arg, &end);
    return end == arg || *end || !(*v >= lo && *v <= hi) ? -1 : 0;
}

static int cmd_fit(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},   {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},            {"csv", required_argument, NULL, 'C'},
        {"x", required_argument, NULL, 'x'},         {"y", required_argument, NULL, 'y'},
        {"s", required_argument, NULL, 's'},         {"group", required_argument, NULL, 'g'},
        {"where", required_argument, NULL, 'w'},     {"last", required_argument, NULL, 'l'},
        {"law", required_argument, NULL, 'L'},       {"fix", required_argument, NULL, 'X'},
        {"bound", required_argument, NULL, 'B'},     {"log", no_argument, NULL, 'G'},
        {"loss", required_argument, NULL, 'S'},      {"loss-scale", required_argument, NULL, 'c'},
        {"bootstrap", required_argument, NULL, 'b'}, {"boot-repeats", no_argument, NULL, 'P'},
        {"seed", required_argument, NULL, 'e'},      {"level", required_argument, NULL, 'v'},
        {"holdout", required_argument, NULL, 'H'},   {"epsilon", required_argument, NULL, 'E'},
        {"repeat", required_argument, NULL, 'r'},    {NULL, 0, NULL, 0}};
    const char *outp = NULL;
    int quiet = 0, c, nfix = 0, nbound = 0;
    char *fixes[16], *bounds[16];
    csvfit_spec sp;
    memset(&sp, 0, sizeof sp);
    fit_law law = FIT_SIMPLE;
    analysis_options ao = report_default_options();
    fit_loss loss = FIT_LOSS_LINEAR;
    double loss_scale = 0, v;
    int log_res = 0;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': outp = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': fputs(usage_fit, stdout); return 0;
        case 'C': sp.path = optarg; break;
        case 'x': sp.x_col = optarg; break;
        case 'y':
            sp.y_one_minus = strncmp(optarg, "1-", 2) == 0;
            sp.y_col = optarg + (sp.y_one_minus ? 2 : 0);
            break;
        case 's': sp.s_col = optarg; break;
        case 'g':
            for (char *tok = strtok(optarg, ","); tok; tok = strtok(NULL, ",")) {
                if (sp.n_group == CSVFIT_MAX_COLS)
                    return bad_usage(usage_fit, "fit: too many --group columns%s", "");
                sp.group_cols[sp.n_group++] = tok;
            }
            break;
        case 'w':
            if (sp.n_filter == CSVFIT_MAX_COLS || csvfit_parse_filter(&sp.filters[sp.n_filter++], optarg))
                return bad_usage(usage_fit, "fit: --where '%s': expected COL=VALUE or COL!=VALUE", optarg);
            break;
        case 'l': sp.last_col = optarg; break;
        case 'r': sp.repeat_col = optarg; break;
        case 'L':
            if (!strcmp(optarg, "simple")) law = FIT_SIMPLE;
            else if (!strcmp(optarg, "power")) law = FIT_POWER;
            else if (!strcmp(optarg, "full")) law = FIT_FULL;
            else return bad_usage(usage_fit, "fit: --law '%s': expected simple, power or full", optarg);
            break;
        case 'X': if (nfix < 16) fixes[nfix++] = optarg; break;
        case 'B': if (nbound < 16) bounds[nbound++] = optarg; break;
        case 'G': log_res = 1; break;
        case 'S':
            if (!strcmp(optarg, "linear")) loss = FIT_LOSS_LINEAR;
            else if (!strcmp(optarg, "huber")) loss = FIT_LOSS_HUBER;
            else if (!strcmp(optarg, "soft-l1")) loss = FIT_LOSS_SOFT_L1;
            else return bad_usage(usage_fit, "fit: --loss '%s': expected linear, huber or soft-l1", optarg);
            break;
        case 'c':
            if (parse_double(optarg, 1e-300, INFINITY, &loss_scale))
                return bad_usage(usage_fit, "fit: --loss-scale '%s': expected a positive number", optarg);
            break;
        case 'b':
            if (parse_double(optarg, 0, 1e7, &v) || v != (int)v)
                return bad_usage(usage_fit, "fit: --bootstrap '%s': expected a whole number 0..10000000", optarg);
            ao.bootstrap = (int)v;
            break;
        case 'P': ao.boot_repeats = 1; break;
        case 'e':
            if (parse_double(optarg, 0, 1.8e19, &v) || v != floor(v))
                return bad_usage(usage_fit, "fit: --seed '%s': expected a whole number >= 0", optarg);
            ao.seed = strtoull(optarg, NULL, 10);
            break;
        case 'v':
            if (parse_double(optarg, 0.5, 0.9999, &ao.level))
                return bad_usage(usage_fit, "fit: --level '%s': expected a coverage in [0.5, 0.9999]", optarg);
            break;
        case 'H':
            if (parse_double(optarg, 0, 1000, &v) || v != (int)v)
                return bad_usage(usage_fit, "fit: --holdout '%s': expected a whole number >= 0", optarg);
            ao.holdout = (int)v;
            break;
        case 'E':
            if (parse_double(optarg, 1e-300, INFINITY, &ao.epsilon))
                return bad_usage(usage_fit, "fit: --epsilon '%s': expected a positive number", optarg);
            break;
        default: return bad_usage(usage_fit, "fit: unknown option%s", "");
        }
    }
    if (!sp.path && law != FIT_SIMPLE)
        return bad_usage(usage_fit, "fit: --law is for --csv; a results file gets the simple and full laws%s", "");
    ao.fit = fit_default_options(law);
    ao.fit.log_residuals = log_res;
    ao.fit.loss = loss;
    ao.fit.loss_scale = loss_scale;
    for (int i = 0; i < nbound; i++) {
        char keep[256];
        snprintf(keep, sizeof keep, "%s", bounds[i]);
        if (apply_param_option(&ao.fit, bounds[i], 1))
            return bad_usage(usage_fit, "fit: --bound '%s': expected PARAM=LO:HI with a parameter of the law", keep);
    }
    for (int i = 0; i < nfix; i++) {
        char keep[256];
        snprintf(keep, sizeof keep, "%s", fixes[i]);
        if (apply_param_option(&ao.fit, fixes[i], 0))
            return bad_usage(usage_fit, "fit: --fix '%s': expected PARAM=VALUE with a parameter of the law", keep);
    }
    char err[1024];
    if (sp.path) {
        if (optind != argc)
            return bad_usage(usage_fit, "fit: --csv takes no results file ('%s')", argv[optind]);
        if (!sp.x_col || !sp.y_col)
            return bad_usage(usage_fit, "fit: --csv needs --x and --y%s", "");
        sp.opt = ao;
        if (csvfit_run(&sp, quiet ? NULL : stdout, outp, err, sizeof err) < 0) {
            fprintf(stderr, "synlaw: fit: %s\n", err);
            return 1;
        }
        return 0;
    }
    if (optind + 1 != argc)
        return bad_usage(usage_fit, "fit: expected one results file (or --csv FILE)%s", "");
    if (report_fit_file(argv[optind], &ao, outp, quiet ? NULL : stdout, err, sizeof err) < 0) {
        fprintf(stderr, "synlaw: fit: %s\n", err);
        return 1;
    }
    return 0;
}

static int cmd_models(void)
{
    printf("%-8s %10s %14s  %s\n", "model", "params", "MFLOP/sample", "layers (10-way head)");
    for (int i = 0; i < nn_model_count(); i++) {
        nn_arch a;
        nn_arch_build(&a, nn_model_name(i), 10);
        char layers[256] = "";
        for (int l = 0; l < a.nlayer; l++) {
            const nn_layer *y = &a.layer[l];
            char t[48];
            switch (y->kind) {
            case NN_LINEAR: snprintf(t, sizeof t, "fc%d", y->K); break;
            case NN_CONV3: snprintf(t, sizeof t, "conv3x3-%d", y->K); break;
            case NN_POOL2: snprintf(t, sizeof t, "pool2"); break;
            case NN_RELU:
            case NN_FLAT: t[0] = '\0'; break;
            }
            if (t[0]) {
                if (layers[0])
                    strncat(layers, " ", sizeof layers - strlen(layers) - 1);
                strncat(layers, t, sizeof layers - strlen(layers) - 1);
            }
        }
        printf("%-8s %10zu %14.3f  %s\n", a.name, a.nparam, a.flops * 1e-6, layers);
    }
    return 0;
}

static const char *usage_merge =
    "usage: synlaw merge -o OUT.h5 SHARD.h5...|DIR [--allow-partial] [--force] [--csv FITS.csv] [--no-fit]\n"
    "\n"
    "Join shard files (synlaw run --shard) into one results file of the same layout as an\n"
    "mpirun sweep, then fit it. Refuses files of different jobs or splits, reports cells\n"
    "finished twice, lists failed and missing cells and the shard indices to resubmit, and\n"
    "exits 1 without writing when cells are missing.\n"
    "\n"
    "  -o, --output FILE   merged results file (written as FILE.partial, then renamed)\n"
    "      --allow-partial merge even when cells are missing (they stay pending)\n"
    "  -f, --force         replace an existing OUT.h5\n"
    "      --csv FILE      fit table as CSV (default: OUT with .h5 replaced by -fits.csv)\n"
    "      --no-fit        do not fit\n";

static const char *usage_status =
    "usage: synlaw status FILE.h5|DIR...\n"
    "\n"
    "Summarise results or shard files (or a directory of shard files): cells done, failed,\n"
    "pending or missing, time spent and its split by phase, duplicates, and the shard indices\n"
    "to resubmit. Safe while a run is writing. Exit status 1 if cells are missing.\n";

static int cmd_merge(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'}, {"allow-partial", no_argument, NULL, 'p'},
        {"force", no_argument, NULL, 'f'},         {"csv", required_argument, NULL, 'c'},
        {"no-fit", no_argument, NULL, 'F'},        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    merge_options o = {0};
    int c;
    while ((c = getopt_long(argc, argv, "o:fh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': o.out_path = optarg; break;
        case 'p': o.allow_partial = 1; break;
        case 'f': o.force = 1; break;
        case 'c': o.csv_path = optarg; break;
        case 'F': o.no_fit = 1; break;
        case 'h': fputs(usage_merge, stdout); return 0;
        default: return bad_usage(usage_merge, "merge: unknown option%s", "");
        }
    }
    if (!o.out_path)
        return bad_usage(usage_merge, "merge: -o OUT.h5 is required%s", "");
    if (optind >= argc)
        return bad_usage(usage_merge, "merge: expected shard files or a directory%s", "");
    MPI_Init(NULL, NULL);
    int rc = merge_run(&o, argv + optind, argc - optind, stdout);
    MPI_Finalize();
    return rc;
}

static int cmd_status(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage_status, stdout);
            return 0;
        }
        return bad_usage(usage_status, "status: unknown option%s", "");
    }
    if (optind >= argc)
        return bad_usage(usage_status, "status: expected a results file, shard files or a directory%s", "");
    return status_run(argv + optind, argc - optind, stdout);
}

static const char *usage_bench =
    "usage: synlaw bench [--models M1,M2] [--batch B] [--seconds T] [--sgemm N] [--memory]\n"
    "\n"
    "Print, per model, training samples/s and achieved GFLOP/s (3 x forward FLOPs) next to the\n"
    "single-thread OpenBLAS sgemm rate on an N x N x N product measured in the same run, the\n"
    "share of data generation per complexity level, and with --memory the peak resident\n"
    "memory of one whole cell at n = 1,000 and n = 100,000. Figures, not pass/fail.\n"
    "\n"
    "  --models LIST   zoo models (default: all)\n"
    "  --batch B       training batch (default 64)\n"
    "  --seconds T     measuring time per model (default 2)\n"
    "  --sgemm N       size of the reference sgemm (default 2048)\n"
    "  --memory        also run the memory benchmark (needs the Fashion-MNIST files)\n";

static int cmd_bench(int argc, char **argv)
{
    static const struct option opts[] = {
        {"models", required_argument, NULL, 'm'}, {"batch", required_argument, NULL, 'b'},
        {"seconds", required_argument, NULL, 's'}, {"sgemm", required_argument, NULL, 'g'},
        {"memory", no_argument, NULL, 'M'},        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    bench_options o = {NULL, 64, 2.0, 2048, 0, NULL};
    int c;
    double v;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': o.models = optarg; break;
        case 'b':
            if (parse_double(optarg, 1, 4096, &v) || v != (int)v)
                return bad_usage(usage_bench, "bench: --batch '%s': expected 1..4096", optarg);
            o.batch = (int)v;
            break;
        case 's':
            if (parse_double(optarg, 0.01, 3600, &o.seconds))
                return bad_usage(usage_bench, "bench: --seconds '%s': expected 0.01..3600", optarg);
            break;
        case 'g':
            if (parse_double(optarg, 16, 16384, &v) || v != (int)v)
                return bad_usage(usage_bench, "bench: --sgemm '%s': expected 16..16384", optarg);
            o.sgemm_n = (int)v;
            break;
        case 'M': o.memory = 1; break;
        case 'h': fputs(usage_bench, stdout); return 0;
        default: return bad_usage(usage_bench, "bench: unknown option%s", "");
        }
    }
    if (optind != argc)
        return bad_usage(usage_bench, "bench: unexpected argument '%s'", argv[optind]);
    if (o.models) {
        char copy[512];
        snprintf(copy, sizeof copy, "%s", o.models);
        for (char *t = strtok(copy, ","); t; t = strtok(NULL, ","))
            if (nn_model_find(t) < 0)
                return bad_usage(usage_bench, "bench: --models: unknown model '%s'", t);
    }
    return bench_run(&o, stdout);
}

static const char *usage_plan =
    "usage: synlaw plan JOB.yaml [--ranks P] [--seconds T]\n"
    "\n"
    "Predict the wall time of the job on 1, 2, 4, ... P ranks and the parallel efficiency:\n"
    "per-cell times from a calibration measured now on this machine (training step,\n"
    "evaluation and rendering rates of the job's models and levels, about T seconds each),\n"
    "then the ranks simulated taking cells in the scheduler's order.\n"
    "\n"
    "  --ranks P     largest rank count (default 256)\n"
    "  --seconds T   calibration time per model (default 1)\n";

static int cmd_plan(int argc, char **argv)
{
    static const struct option opts[] = {
        {"ranks", required_argument, NULL, 'r'}, {"seconds", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    int c, ranks = 256;
    double v, secs = 1.0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (parse_double(optarg, 1, 1e6, &v) || v != (int)v)
                return bad_usage(usage_plan, "plan: --ranks '%s': expected 1..1000000", optarg);
            ranks = (int)v;
            break;
        case 's':
            if (parse_double(optarg, 0.05, 600, &secs))
                return bad_usage(usage_plan, "plan: --seconds '%s': expected 0.05..600", optarg);
            break;
        case 'h': fputs(usage_plan, stdout); return 0;
        default: return bad_usage(usage_plan, "plan: unknown option%s", "");
        }
    }
    if (optind + 1 != argc)
        return bad_usage(usage_plan, "plan: expected one job file%s", "");
    return bench_plan(argv[optind], ranks, secs, stdout);
}

static int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'}, {"csv", required_argument, NULL, 'c'},
        {"force", no_argument, NULL, 'f'},        {"quiet", no_argument, NULL, 'q'},
        {"no-fit", no_argument, NULL, 'F'},       {"help", no_argument, NULL, 'h'},
        {"resume", no_argument, NULL, 'r'},       {"shard", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0}};
    sweep_options o = {0};
    char *end;
    int c;
    while ((c = getopt_long(argc, argv, "o:fqh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': o.out_path = optarg; break;
        case 'c': o.csv_path = optarg; break;
        case 'f': o.force = 1; break;
        case 'q': o.quiet = 1; break;
        case 'F': o.no_fit = 1; break;
        case 'r': o.resume = 1; break;
        case 's':
            o.shard_index = (int)strtol(optarg, &end, 10);
            if (end == optarg || *end != '/' || (o.shard_count = (int)strtol(end + 1, &end, 10)) <= 0 ||
                *end || o.shard_index < 0 || o.shard_index >= o.shard_count)
                return bad_usage(usage_run, "run: --shard '%s': expected I/N with 0 <= I < N", optarg);
            break;
        case 'h': fputs(usage_run, stdout); return 0;
        default: return bad_usage(usage_run, "run: unknown option%s", "");
        }
    }
    if (optind + 1 != argc)
        return bad_usage(usage_run, "run: expected one job file%s", "");
    if (!o.out_path)
        return bad_usage(usage_run, "run: -o OUT.h5 is required%s", "");
    if (o.resume && o.force)
        return bad_usage(usage_run, "run: --resume and --force contradict each other%s", "");
    o.job_path = argv[optind];
    MPI_Init(NULL, NULL);
    int rc = sweep_run(&o, MPI_COMM_WORLD);
    MPI_Finalize();
    return rc;
}

int main(int argc, char **argv)
{
    version_blas_threads_default();
    if (argc < 2)
        return bad_usage(usage_main, "missing command%s", "");
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        fputs(usage_main, stdout);
        return 0;
    }
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version"))
        return cmd_version();
    /* Subcommands see argv[1..] so getopt reports errors against their own options. */
    argc--;
    argv++;
    if (!strcmp(cmd, "run"))
        return cmd_run(argc, argv);
    if (!strcmp(cmd, "check"))
        return cmd_check(argc, argv);
    if (!strcmp(cmd, "fit"))
        return cmd_fit(argc, argv);
    if (!strcmp(cmd, "plan"))
        return cmd_plan(argc, argv);
    if (!strcmp(cmd, "bench"))
        return cmd_bench(argc, argv);
    if (!strcmp(cmd, "merge"))
        return cmd_merge(argc, argv);
    if (!strcmp(cmd, "status"))
        return cmd_status(argc, argv);
    if (!strcmp(cmd, "render"))
        return cmd_render(argc, argv);
    if (!strcmp(cmd, "models"))
        return cmd_models();
    return bad_usage(usage_main, "unknown command '%s'", cmd);
}
