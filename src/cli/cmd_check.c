/* synlaw check: validate a job file and show the expanded grid (text or --json). */
#include "cli.h"

#include "synlaw/cost.h"
#include "synlaw/job.h"
#include "synlaw/sweep.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>

const char *const usage_check =
    "usage: synlaw check JOB.yaml [--json]\n"
    "\n"
    "Validate a job file (errors name file:line:column) and its data (both splits read in\n"
    "full: shapes, types, labels, values; the file of pretrain.from) as synlaw run would\n"
    "before starting, and print the data (images, classes, split sizes, chance level,\n"
    "pixel statistics) and the expanded grid: the number of cells and one line per axis.\n"
    "Exit status 2 if the job file or its data is invalid.\n"
    "\n"
    "  --json      print the grid as one JSON object (schema in the README)\n"
    "  -h, --help  show this help\n";

static const char *split_name(const job_recipe *r, int pretrain)
{
    if (pretrain)
        return "held-out synthetic images";
    return r->eval_split == EVAL_VALIDATION ? "validation images (not the test set)"
           : r->eval_split == EVAL_BOTH     ? "validation and test images each"
                                            : "test images";
}

/* Nominal seconds (GFLOP-equivalents) of the shared stages and of one cell at a time. */
static int predicted_work(const job_spec *s, double *shared, double *alone)
{
    int ncell = job_cell_count(s), nbb = job_backbone_count(s);
    job_cell *cells = malloc(sizeof *cells * (size_t)(ncell + 1));
    job_backbone *bb = malloc(sizeof *bb * (size_t)(nbb + 1));
    if (!cells || !bb) {
        free(cells), free(bb);
        return -1;
    }
    job_cells(s, cells);
    job_backbones(s, bb);
    cost_rates pre, ft;
    cost_nominal(&pre, s->pretrain.batch);
    cost_nominal(&ft, s->finetune.batch);
    *shared = *alone = 0;
    for (int b = 0; b < nbb; b++)
        *shared += cost_backbone(s, &bb[b], &pre);
    for (int i = 0; i < ncell; i++) {
        *shared += cost_finetune(s, &cells[i], &ft);
        *alone += cost_cell_alone(s, &cells[i], &pre, &ft);
    }
    free(cells), free(bb);
    return 0;
}

static void print_text(const char *path, const job_spec *s, double work, double alone)
{
    long pre, scr;
    job_cell_counts(s, &pre, &scr);
    int nbb = job_backbone_count(s);
    const data_shape *d = &s->shape;
    char train[DATA_WHERE_LEN], test[sizeof train];
    data_describe(&s->data, DATA_TRAIN, train, sizeof train);
    data_describe(&s->data, DATA_TEST, test, sizeof test);
    printf("%s: job '%s', seed %llu\n", cli_safe(path), s->name, (unsigned long long)s->seed);
    printf("data (%s): %s, %s\n", data_format_name(s->data.format), cli_safe(train), cli_safe(test));
    printf("  images %dx%d, %d channel%s; %d classes, chance level %.3f (the test error of always "
           "answering the most frequent training class)\n", d->rows, d->cols, d->channels,
           d->channels == 1 ? "" : "s", d->classes, d->chance);
    if (d->class_names[0])
        printf("  classes: %s\n", cli_safe(d->class_names));
    printf("  %d training images (the last %d the validation split, %d to fine-tune from), %d test images\n",
           d->train_count, d->validation, d->pool, d->test_count);
    printf("  standardised with pixel mean");
    for (int c = 0; c < d->channels; c++)
        printf(" %.4f", (double)d->mean[c]);
    printf(", sd");
    for (int c = 0; c < d->channels; c++)
        printf(" %.4f", (double)d->std[c]);
    printf(" (of the training split)\n");
    printf("cells: %d (%ld pre-trained, %ld scratch baselines); backbones: %d, each pre-trained once and "
           "fine-tuned for %ld cell%s\n", job_cell_count(s), pre, scr, nbb, nbb ? pre / nbb : 0,
           nbb && pre / nbb == 1 ? "" : "s");
    printf("  %-14s (%d):", "pretrain_size", s->n_size);
    for (int i = 0; i < s->n_size; i++)
        printf(" %ld%s", s->size[i], s->size[i] == 0 ? "(scratch)" : "");
    printf("\n  %-14s (%d):", "model", s->n_model);
    for (int i = 0; i < s->n_model; i++)
        printf(" %s", s->model[i]);
    printf("\n  %-14s (%d):", "complexity", s->n_complexity);
    for (int i = 0; i < s->n_complexity; i++)
        printf(" %d", s->complexity[i]);
    printf("\n  %-14s (%d):", "pretrain_task", s->n_task);
    for (int i = 0; i < s->n_task; i++)
        printf(" %s", job_task_name(s->task[i]));
    printf("\n  %-14s (%d):", "finetune_size", s->n_ftsize);
    for (int i = 0; i < s->n_ftsize; i++)
        printf(" %ld", s->ftsize[i]);
    printf("\n  %-14s (%d):", "finetune_lr", s->n_ftlr);
    for (int i = 0; i < s->n_ftlr; i++)
        printf(" %g", s->ftlr[i]);
    printf("\n  %-14s (%d):", "finetune_steps", s->n_ftsteps);
    for (int i = 0; i < s->n_ftsteps; i++)
        printf(" %d", s->ftsteps[i]);
    printf("\n  %-14s (%d):", "finetune_freeze", s->n_ftfreeze);
    for (int i = 0; i < s->n_ftfreeze; i++)
        printf(" %s", job_freeze_name(s->ftfreeze[i]));
    if (s->first_repeat)
        printf("\n  %-14s (%d): %d..%d\n", "repeats", s->repeats, s->first_repeat, s->first_repeat + s->repeats - 1);
    else
        printf("\n  %-14s (%d)\n", "repeats", s->repeats);
    const job_recipe *r[2] = {&s->pretrain, &s->finetune};
    const char *nm[2] = {"pretrain", "finetune"};
    for (int i = 0; i < 2; i++) {
        printf("%s: ", nm[i]);
        if (i == 0 && r[i]->epochs > 0)
            printf("%g epochs of n within [%d, %d] steps", r[i]->epochs, r[i]->min_steps, r[i]->max_steps);
        else if (i == 0)
            printf("%d steps whatever n", r[i]->steps);
        else if (s->n_ftsteps == 1)
            printf("%d steps", s->ftsteps[0]);
        else
            printf("steps per cell (axis)");
        printf(", batch %d, %s", r[i]->batch, job_optimizer_name(r[i]->optimizer));
        if (i == 0 || s->n_ftlr == 1)
            printf(" lr %g", i == 0 ? r[i]->lr : s->ftlr[0]);
        printf(" momentum %g weight_decay %g, eval every %d on %d %s", r[i]->momentum, r[i]->weight_decay,
               r[i]->eval_every, r[i]->eval_size, split_name(r[i], i == 0));
        if (i == 1 && r[i]->scratch_lr > 0)
            printf(", scratch cells lr %g", r[i]->scratch_lr);

        if (i == 0)
            printf(", transfers the %s%s", r[i]->transfer_conv ? "convolution layers" : "backbone",
                   r[i]->keep ? "" : ", weights not kept in the results file");
        putchar('\n');
    }
    if (s->pretrain.epochs > 0) {
        printf("pre-training budget (steps per n):");
        for (int i = 0; i < s->n_size; i++)
            if (s->size[i] > 0)
                printf(" %ld:%d", s->size[i], job_pretrain_steps(s, s->size[i]));
        putchar('\n');
    }
    if (s->pretrain_from[0])
        printf("pretrain.from: %s (backbones with the same key are read from it, not pre-trained)\n",
               cli_safe(s->pretrain_from));
    printf("predicted work: %.3g GFLOP-equivalents (%.3g one cell at a time)\n", work, alone);
}

static void json_recipe(cli_json *j, const job_recipe *r, int pretrain)
{
    json_object(j);
    json_key(j, "steps"), json_int(j, r->steps);
    json_key(j, "batch"), json_int(j, r->batch);
    json_key(j, "optimizer"), json_string(j, job_optimizer_name(r->optimizer));
    json_key(j, "lr"), json_number(j, r->lr);
    json_key(j, "momentum"), json_number(j, r->momentum);
    json_key(j, "weight_decay"), json_number(j, r->weight_decay);
    json_key(j, "eval_every"), json_int(j, r->eval_every);
    json_key(j, "eval_size"), json_int(j, r->eval_size);
    if (pretrain) {
        json_key(j, "epochs"), json_number(j, r->epochs);
        json_key(j, "min_steps"), json_int(j, r->min_steps);
        json_key(j, "max_steps"), json_int(j, r->max_steps);
        json_key(j, "transfer"), json_string(j, r->transfer_conv ? "conv" : "backbone");
        json_key(j, "keep"), json_bool(j, r->keep);
    } else {
        json_key(j, "eval_split"), json_string(j, job_eval_split_name(r->eval_split));
        json_key(j, "scratch_lr"), json_number(j, r->scratch_lr > 0 ? r->scratch_lr : NAN);
    }
    json_object_end(j);
}

static void print_json(const char *path, const job_spec *s, double work, double alone)
{
    long pre, scr;
    job_cell_counts(s, &pre, &scr);
    cli_json j;
    json_begin(&j, stdout);
    json_object(&j);
    json_key(&j, "file"), json_string(&j, path);
    json_key(&j, "name"), json_string(&j, s->name);
    json_key(&j, "seed"), json_int(&j, (long long)s->seed);
    const data_shape *d = &s->shape;
    char where[DATA_WHERE_LEN];
    json_key(&j, "data"), json_object(&j);
    json_key(&j, "format"), json_string(&j, data_format_name(s->data.format));
    data_describe(&s->data, DATA_TRAIN, where, sizeof where);
    json_key(&j, "train"), json_string(&j, where);
    data_describe(&s->data, DATA_TEST, where, sizeof where);
    json_key(&j, "test"), json_string(&j, where);
    json_key(&j, "rows"), json_int(&j, d->rows);
    json_key(&j, "cols"), json_int(&j, d->cols);
    json_key(&j, "channels"), json_int(&j, d->channels);
    json_key(&j, "classes"), json_int(&j, d->classes);
    json_key(&j, "class_names"), json_string(&j, d->class_names);
    json_key(&j, "chance"), json_number(&j, d->chance);
    json_key(&j, "train_images"), json_int(&j, d->train_count);
    json_key(&j, "validation_images"), json_int(&j, d->validation);
    json_key(&j, "test_images"), json_int(&j, d->test_count);
    json_key(&j, "pixel_mean"), json_array(&j);
    for (int c = 0; c < d->channels; c++)
        json_number(&j, round(d->mean[c] * 1e4) / 1e4); /* the 4 decimals it was rounded to */
    json_array_end(&j);
    json_key(&j, "pixel_std"), json_array(&j);
    for (int c = 0; c < d->channels; c++)
        json_number(&j, round(d->std[c] * 1e4) / 1e4);
    json_array_end(&j);
    json_object_end(&j);
    json_key(&j, "cells"), json_int(&j, job_cell_count(s));
    json_key(&j, "pretrained_cells"), json_int(&j, pre);
    json_key(&j, "scratch_cells"), json_int(&j, scr);
    json_key(&j, "backbones"), json_int(&j, job_backbone_count(s));
    json_key(&j, "pretrain_from"), json_string(&j, s->pretrain_from);
    json_key(&j, "axes"), json_object(&j);
    json_key(&j, "pretrain_size"), json_array(&j);
    for (int i = 0; i < s->n_size; i++)
        json_int(&j, s->size[i]);
    json_array_end(&j);
    json_key(&j, "model"), json_array(&j);
    for (int i = 0; i < s->n_model; i++)
        json_string(&j, s->model[i]);
    json_array_end(&j);
    json_key(&j, "complexity"), json_array(&j);
    for (int i = 0; i < s->n_complexity; i++)
        json_int(&j, s->complexity[i]);
    json_array_end(&j);
    json_key(&j, "pretrain_task"), json_array(&j);
    for (int i = 0; i < s->n_task; i++)
        json_string(&j, job_task_name(s->task[i]));
    json_array_end(&j);
    json_key(&j, "finetune_size"), json_array(&j);
    for (int i = 0; i < s->n_ftsize; i++)
        json_int(&j, s->ftsize[i]);
    json_array_end(&j);
    json_key(&j, "finetune_lr"), json_array(&j);
    for (int i = 0; i < s->n_ftlr; i++)
        json_number(&j, s->ftlr[i]);
    json_array_end(&j);
    json_key(&j, "finetune_steps"), json_array(&j);
    for (int i = 0; i < s->n_ftsteps; i++)
        json_int(&j, s->ftsteps[i]);
    json_array_end(&j);
    json_key(&j, "finetune_freeze"), json_array(&j);
    for (int i = 0; i < s->n_ftfreeze; i++)
        json_string(&j, job_freeze_name(s->ftfreeze[i]));
    json_array_end(&j);
    json_key(&j, "repeats"), json_int(&j, s->repeats);
    json_key(&j, "first_repeat"), json_int(&j, s->first_repeat);
    json_object_end(&j);
    json_key(&j, "pretrain"), json_recipe(&j, &s->pretrain, 1);
    json_key(&j, "finetune"), json_recipe(&j, &s->finetune, 0);
    json_key(&j, "pretrain_steps"), json_object(&j);
    for (int i = 0; i < s->n_size; i++)
        if (s->size[i] > 0) {
            char k[32];
            snprintf(k, sizeof k, "%ld", s->size[i]);
            json_key(&j, k), json_int(&j, job_pretrain_steps(s, s->size[i]));
        }
    json_object_end(&j);
    json_key(&j, "predicted_gflop"), json_number(&j, work);
    json_key(&j, "predicted_gflop_one_cell_at_a_time"), json_number(&j, alone);
    json_object_end(&j);
    json_end(&j);
}

int cmd_check(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
                                         {"json", no_argument, NULL, 'j'},
                                         {NULL, 0, NULL, 0}};
    int c, json = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage_check, stdout);
            return EXIT_OK;
        }
        if (c == 'j') {
            json = 1;
            continue;
        }
        return cli_usage_error(usage_check, "check: unknown option");
    }
    if (optind + 1 != argc)
        return cli_usage_error(usage_check, "check: expected one job file");
    const char *path = argv[optind];
    char err[1024];
    char *text = job_read_file(path, err, sizeof err);
    job_spec s;
    if (!text || job_parse(&s, text, path, err, sizeof err) != 0) {
        free(text);
        return cli_error(EXIT_USAGE, "%s", err);
    }
    free(text);
    int rc = sweep_validate(&s, err, sizeof err); /* what run would refuse before starting */
    if (rc != 0)
        return cli_error(cli_exit_status(rc), "%s", err);
    double total, alone; /* nominal seconds at 1 GFLOP/s = GFLOP-equivalents */
    if (predicted_work(&s, &total, &alone) != 0)
        return cli_error(EXIT_RUNTIME, "check: out of memory for %d cells", job_cell_count(&s));
    if (json)
        print_json(path, &s, total, alone);
    else
        print_text(path, &s, total, alone);
    return EXIT_OK;
}
