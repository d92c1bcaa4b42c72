/* synlaw plan: predicted wall time and parallel efficiency of a job (text or --json). */
#include "cli.h"

#include "synlaw/job.h"
#include "synlaw/nn.h"
#include "synlaw/plan.h"
#include "synlaw/util.h"

#include <getopt.h>
#include <stdlib.h>

const char *const usage_plan =
    "usage: synlaw plan JOB.yaml [--ranks P] [--seconds T] [--json]\n"
    "\n"
    "Predict the wall time of the job on 1, 2, 4, ... P ranks and the parallel efficiency:\n"
    "per-cell times from a calibration measured now on this machine (training step,\n"
    "evaluation and rendering rates of the job's models and levels, about T seconds each),\n"
    "then the ranks simulated taking cells in the scheduler's order.\n"
    "\n"
    "  --ranks P     largest rank count (default 256)\n"
    "  --seconds T   calibration time per model (default 1)\n"
    "  --json        print the prediction as one JSON object (schema in the README)\n"
    "  -h, --help    show this help\n";

static void print_text(const char *path, const job_spec *spec, const plan_result *p, int ranks)
{
    printf("%s: %d cells; calibrated on this machine (one thread per rank):\n", cli_safe(path), p->ncell);
    for (int i = 0; i < spec->n_model; i++) {
        int m = nn_model_find(spec->model[i]);
        printf("  %-6s training step %.2f ms (batch %d), evaluation %.1f us/image\n", spec->model[i],
               1e3 * p->pre.step[m], spec->pretrain.batch, 1e6 * p->pre.eval_img[m]);
    }
    printf("  rendering:");
    for (int l = 1; l <= SYNTH_MAX_COMPLEXITY; l++)
        printf(" level %d %.1f us/image%s", l, 1e6 * p->pre.render[l], l < SYNTH_MAX_COMPLEXITY ? "," : "\n");
    printf("%d cells and %d backbones in %d tasks (a backbone with its cells, or a scratch cell)\n", p->ncell,
           p->nbackbone, p->ntask);
    printf("predicted time: total %.0f s (pre-training %.0f s, fine-tuning %.0f s), longest task %.1f s; "
           "one cell at a time %.0f s: the stages save %.1f%%\n", p->total, p->pretrain, p->finetune,
           p->longest, p->total_alone, p->total_alone > 0 ? 100.0 * (1.0 - p->total / p->total_alone) : 0.0);
    printf("%8s %12s %12s %11s %16s\n", "ranks", "seconds", "wall time", "efficiency", "cell at a time");
    for (int k = 0; k < p->npoint; k++) {
        char dur[32];
        double s = p->point[k].makespan;
        if (s < 60)
            snprintf(dur, sizeof dur, "%.1f s", s);
        else
            cli_duration(dur, sizeof dur, s);
        char dura[32];
        cli_duration(dura, sizeof dura, p->point[k].makespan_alone);
        printf("%8d %12.1f %12s %10.1f%% %16s\n", p->point[k].ranks, s, dur, 100.0 * p->point[k].efficiency,
               dura);
    }
    if (p->longest > p->total / ranks)
        printf("note: the longest task (%.1f s) exceeds the work per rank at %d ranks (%.1f s): "
               "more ranks than that cannot help\n", p->longest, ranks, p->total / ranks);
}

static void print_json(const char *path, const job_spec *spec, const plan_result *p)
{
    cli_json j;
    json_begin(&j, stdout);
    json_object(&j);
    json_key(&j, "file"), json_string(&j, path);
    json_key(&j, "cells"), json_int(&j, p->ncell);
    json_key(&j, "backbones"), json_int(&j, p->nbackbone);
    json_key(&j, "tasks"), json_int(&j, p->ntask);
    json_key(&j, "total_seconds"), json_number(&j, p->total);
    json_key(&j, "pretrain_seconds"), json_number(&j, p->pretrain);
    json_key(&j, "finetune_seconds"), json_number(&j, p->finetune);
    json_key(&j, "one_cell_at_a_time_seconds"), json_number(&j, p->total_alone);
    json_key(&j, "longest_seconds"), json_number(&j, p->longest);
    json_key(&j, "calibration"), json_object(&j);
    json_key(&j, "batch"), json_int(&j, spec->pretrain.batch);
    json_key(&j, "models"), json_object(&j);
    for (int i = 0; i < spec->n_model; i++) {
        int m = nn_model_find(spec->model[i]);
        json_key(&j, spec->model[i]), json_object(&j);
        json_key(&j, "step_seconds"), json_number(&j, p->pre.step[m]);
        json_key(&j, "eval_seconds_per_image"), json_number(&j, p->pre.eval_img[m]);
        json_object_end(&j);
    }
    json_object_end(&j);
    json_key(&j, "render_seconds_per_image"), json_array(&j);
    for (int l = 1; l <= SYNTH_MAX_COMPLEXITY; l++)
        json_number(&j, p->pre.render[l]);
    json_array_end(&j);
    json_object_end(&j);
    json_key(&j, "points"), json_array(&j);
    for (int k = 0; k < p->npoint; k++) {
        json_object(&j);
        json_key(&j, "ranks"), json_int(&j, p->point[k].ranks);
        json_key(&j, "seconds"), json_number(&j, p->point[k].makespan);
        json_key(&j, "efficiency"), json_number(&j, p->point[k].efficiency);
        json_key(&j, "seconds_one_cell_at_a_time"), json_number(&j, p->point[k].makespan_alone);
        json_object_end(&j);
    }
    json_array_end(&j);
    json_object_end(&j);
    json_end(&j);
}

int cmd_plan(int argc, char **argv)
{
    static const struct option opts[] = {
        {"ranks", required_argument, NULL, 'r'}, {"seconds", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},         {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    long ranks = 256;
    double secs = 1.0;
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (cli_parse_long(optarg, 1, 1000000, &ranks))
                return cli_usage_error(usage_plan, "plan: --ranks '%s': expected 1..1000000", optarg);
            break;
        case 's':
            if (cli_parse_double(optarg, 0.05, 600, &secs))
                return cli_usage_error(usage_plan, "plan: --seconds '%s': expected 0.05..600", optarg);
            break;
        case 'j': json = 1; break;
        case 'h': fputs(usage_plan, stdout); return EXIT_OK;
        default: return cli_usage_error(usage_plan, "plan: unknown option");
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error(usage_plan, "plan: expected one job file");
    const char *path = argv[optind];
    char err[1024];
    char *text = job_read_file(path, err, sizeof err);
    job_spec spec;
    if (!text || job_parse_grid(&spec, text, path, 0, err, sizeof err) != 0) {
        free(text);
        return cli_error(EXIT_USAGE, "%s", err);
    }
    free(text);
    if (spec.shape.rows == 0) { /* not Fashion-MNIST: the image size sets the costs */
        char why[1024];
        if (data_probe(&spec.shape, &spec.data, why, sizeof why) != SL_OK) {
            fprintf(stderr, "plan: the data is not readable here (%s); costs assume 28x28x1 images of 10 "
                    "classes\n", cli_safe(why));
            data_default_shape(&spec.shape);
        }
    }
    plan_result p;
    if (plan_job(&p, &spec, (int)ranks, secs, err, sizeof err) != 0)
        return cli_error(EXIT_RUNTIME, "plan: %s", err);
    if (json)
        print_json(path, &spec, &p);
    else
        print_text(path, &spec, &p, (int)ranks);
    return EXIT_OK;
}
