/* synlaw check: validate a job file and show the expanded grid (text or --json). */
#include "cli.h"

#include "synlaw/cost.h"
#include "synlaw/job.h"

#include <getopt.h>
#include <stdlib.h>

const char *const usage_check =
    "usage: synlaw check JOB.yaml [--json]\n"
    "\n"
    "Validate a job file (errors name file:line:column) and print the expanded grid: the\n"
    "number of cells and one line per axis. Exit status 2 if the job file is invalid.\n"
    "\n"
    "  --json      print the grid as one JSON object (schema in the README)\n"
    "  -h, --help  show this help\n";

static const char *split_name(const job_recipe *r, int pretrain)
{
    if (pretrain)
        return "held-out synthetic images";
    return r->eval_validation ? "validation images (not the test set)" : "test images";
}

static void print_text(const char *path, const job_spec *s, double work)
{
    long pre, scr;
    job_cell_counts(s, &pre, &scr);
    printf("%s: job '%s', seed %llu, data %s\n", path, s->name, (unsigned long long)s->seed, s->data_dir);
    printf("cells: %d (%ld pre-trained, %ld scratch baselines)\n", job_cell_count(s), pre, scr);
    printf("  pretrain_size (%d):", s->n_size);
    for (int i = 0; i < s->n_size; i++)
        printf(" %ld%s", s->size[i], s->size[i] == 0 ? "(scratch)" : "");
    printf("\n  model         (%d):", s->n_model);
    for (int i = 0; i < s->n_model; i++)
        printf(" %s", s->model[i]);
    printf("\n  complexity    (%d):", s->n_complexity);
    for (int i = 0; i < s->n_complexity; i++)
        printf(" %d", s->complexity[i]);
    printf("\n  pretrain_task (%d):", s->n_task);
    for (int i = 0; i < s->n_task; i++)
        printf(" %s", job_task_name(s->task[i]));
    printf("\n  finetune_size (%d):", s->n_ftsize);
    for (int i = 0; i < s->n_ftsize; i++)
        printf(" %ld", s->ftsize[i]);
    printf("\n  repeats       (%d)\n", s->repeats);
    const job_recipe *r[2] = {&s->pretrain, &s->finetune};
    const char *nm[2] = {"pretrain", "finetune"};
    for (int i = 0; i < 2; i++) {
        printf("%s: %d steps, batch %d, %s lr %g momentum %g weight_decay %g, eval every %d on %d %s",
               nm[i], r[i]->steps, r[i]->batch, job_optimizer_name(r[i]->optimizer), r[i]->lr,
               r[i]->momentum, r[i]->weight_decay, r[i]->eval_every, r[i]->eval_size,
               split_name(r[i], i == 0));
        if (i == 1 && r[i]->scratch_lr > 0)
            printf(", scratch cells lr %g", r[i]->scratch_lr);
        if (i == 0)
            printf(", transfers the %s", r[i]->transfer_conv ? "convolution layers" : "backbone");
        putchar('\n');
    }
    printf("predicted work: %.3g GFLOP-equivalents\n", work);
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
    json_key(j, "evaluations"), json_int(j, job_eval_count(r));
    if (pretrain) {
        json_key(j, "transfer"), json_string(j, r->transfer_conv ? "conv" : "backbone");
    } else {
        json_key(j, "eval_split"), json_string(j, r->eval_validation ? "validation" : "test");
        json_key(j, "scratch_lr"), json_number(j, r->scratch_lr > 0 ? r->scratch_lr : r->lr);
    }
    json_object_end(j);
}

static void print_json(const char *path, const job_spec *s, double work)
{
    long pre, scr;
    job_cell_counts(s, &pre, &scr);
    cli_json j;
    json_begin(&j, stdout);
    json_object(&j);
    json_key(&j, "file"), json_string(&j, path);
    json_key(&j, "name"), json_string(&j, s->name);
    json_key(&j, "seed"), json_int(&j, (long long)s->seed);
    json_key(&j, "data_dir"), json_string(&j, s->data_dir);
    json_key(&j, "cells"), json_int(&j, job_cell_count(s));
    json_key(&j, "pretrained_cells"), json_int(&j, pre);
    json_key(&j, "scratch_cells"), json_int(&j, scr);
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
    json_key(&j, "repeats"), json_int(&j, s->repeats);
    json_object_end(&j);
    json_key(&j, "pretrain"), json_recipe(&j, &s->pretrain, 1);
    json_key(&j, "finetune"), json_recipe(&j, &s->finetune, 0);
    json_key(&j, "predicted_gflop"), json_number(&j, work);
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
    int ncell = job_cell_count(&s);
    job_cell *cells = malloc(sizeof *cells * (size_t)(ncell + 1));
    if (!cells)
        return cli_error(EXIT_RUNTIME, "check: out of memory for %d cells", ncell);
    job_cells(&s, cells);
    cost_rates pre, ft;
    cost_nominal(&pre, s.pretrain.batch);
    cost_nominal(&ft, s.finetune.batch);
    double total = 0; /* nominal seconds at 1 GFLOP/s = GFLOP-equivalents */
    for (int i = 0; i < ncell; i++)
        total += cost_cell(&s, &cells[i], &pre, &ft);
    free(cells);
    if (json)
        print_json(path, &s, total);
    else
        print_text(path, &s, total);
    return EXIT_OK;
}
