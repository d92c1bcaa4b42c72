/* synlaw status: what a results file, shard files or a directory of them hold (text or
 * --json); the same summary opens synlaw merge. */
#include "cli.h"

#include "synlaw/merge.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>

const char *const usage_status =
    "usage: synlaw status FILE.h5|DIR... [--json]\n"
    "\n"
    "Summarise results or shard files (or a directory of shard files): cells done, failed,\n"
    "pending or missing, time spent and its split by phase, duplicates, and the shard indices\n"
    "to resubmit. Safe while a run is writing. Exit status 1 if cells are missing.\n"
    "\n"
    "  --json      print the summary as one JSON object (schema in the README)\n"
    "  -h, --help  show this help\n";

static void hours(char *buf, size_t len, double s)
{
    if (!isfinite(s))
        snprintf(buf, len, "?");
    else if (s < 3600)
        snprintf(buf, len, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        cli_duration(buf, len, s);
}

/* Print "a-b, c, ..." for the sorted integers v[n]. */
static void print_ranges(FILE *out, const int *v, int n)
{
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && v[j + 1] == v[j] + 1)
            j++;
        fprintf(out, "%s%d", i ? "," : "", v[i]);
        if (j > i)
            fprintf(out, "-%d", v[j]);
        i = j + 1;
    }
}

void cli_print_merge_summary(FILE *out, const merge_state *g)
{
    const merge_summary *m = merge_summary_of(g);
    char h[32];
    fprintf(out, "job '%s' (job_hash %s): %d cells", cli_safe(m->job_name), cli_safe(m->job_hash), m->ncell);
    if (m->nshard > 0)
        fprintf(out, ", split into %d shards", m->nshard);
    fprintf(out, "; %d file%s\n", m->nfile, m->nfile == 1 ? "" : "s");
    const data_shape *d = &m->spec.shape;
    fprintf(out, "data: %dx%dx%d images, %d classes (chance level %.3f), %d training images (%d validation)\n",
            d->rows, d->cols, d->channels, d->classes, d->chance, d->train_count, d->validation);
    for (int f = 0; f < m->nfile; f++) {
        const merge_file *mf = &m->files[f];
        hours(h, sizeof h, mf->seconds);
        if (m->nshard > 0)
            fprintf(out, "  shard %d/%d  %s: %d cells, %d done, %d failed, %d pending; %s of cell time%s%s\n",
                    mf->shard_index, m->nshard, cli_safe(mf->path), mf->cells, mf->count[CELL_DONE],
                    mf->count[CELL_FAILED], mf->count[CELL_PENDING], h, mf->running ? " (running)" : "",
                    mf->duplicate_index ? " (DUPLICATE shard index)" : "");
        else
            fprintf(out, "  %s: %d done, %d failed, %d pending; %s of cell time%s\n", cli_safe(mf->path),
                    mf->count[CELL_DONE], mf->count[CELL_FAILED], mf->count[CELL_PENDING], h,
                    mf->running ? " (running)" : "");
    }
    for (int k = 0; k < m->nabsent; k++)
        fprintf(out, "  shard %d/%d  (no file): %d cells\n", m->absent_shards[k], m->nshard, m->absent_cells[k]);
    if (m->nfile == 1 && m->nshard > 0)
        fprintf(out, "  (one shard file: the other shards' cells count as missing below; give the "
                "directory or all shard files for the whole grid)\n");
    const double *t = m->time;
    hours(h, sizeof h, t[0]);
    fprintf(out, "cells: %d done, %d failed, %d missing of %d; %s of cell and backbone time", m->count[CELL_DONE],
            m->count[CELL_FAILED], m->missing, m->ncell, h);
    if (t[0] > 0)
        fprintf(out, " (generate %.1f%%, pre-train %.1f%%, fine-tune %.1f%%, evaluate %.1f%%, "
                "write %.2f%%, other %.1f%%)", 100 * t[1] / t[0], 100 * t[2] / t[0], 100 * t[3] / t[0],
                100 * t[4] / t[0], 100 * t[5] / t[0], 100 * (t[0] - t[1] - t[2] - t[3] - t[4]) / t[0]);
    fputc('\n', out);
    if (m->nbackbone)
        fprintf(out, "backbones: %d done, %d failed, %d pending of %d\n", m->bb_count[CELL_DONE],
                m->bb_count[CELL_FAILED], m->bb_count[CELL_PENDING], m->nbackbone);
    if (m->bb_dup)
        fprintf(out, "duplicates: %d backbone%s finished in more than one file (%d differ; the first "
                "file's copy is kept)\n", m->bb_dup, m->bb_dup == 1 ? "" : "s", m->bb_diff);
    if (m->ndup)
        fprintf(out, "duplicates: %d cell%s finished in more than one file (%d differ; the first "
                "file's copy is kept)\n", m->ndup, m->ndup == 1 ? "" : "s", m->ndiff);
    int shown = 0;
    job_cell *cells = m->count[CELL_FAILED] ? malloc(sizeof *cells * (size_t)(m->ncell + 1)) : NULL;
    if (cells)
        job_cells(&m->spec, cells); /* coordinates of the failed cells, from the stored job */
    for (int k = 0; k < m->count[CELL_FAILED] && shown < 20; k++, shown++) {
        int c = m->failed_cells[k];
        char d[128] = "?";
        if (cells)
            job_cell_describe(&m->spec, &cells[c], d, sizeof d);
        fprintf(out, "failed: cell %d (%s): %s\n", c, cli_safe(d), cli_safe(merge_cell_row(g, c)->reason));
    }
    free(cells);
    if (m->count[CELL_FAILED] > shown)
        fprintf(out, "failed: ... and %d more (see /cells reason)\n", m->count[CELL_FAILED] - shown);
    if (m->missing) {
        fprintf(out, "missing cells (%d): ", m->missing);
        print_ranges(out, m->missing_cells, m->missing);
        fputc('\n', out);
        if (m->nshard > 0) {
            if (m->nresubmit) {
                fprintf(out, "resubmit shard indices: ");
                print_ranges(out, m->resubmit, m->nresubmit);
                fprintf(out, "  (those not still queued; e.g. sbatch --array=");
                print_ranges(out, m->resubmit, m->nresubmit);
                fprintf(out, " slurm/sweep-array.sbatch, with the same JOB, OUT and NSHARDS)\n");
            }
            if (m->nrunning)
                fprintf(out, "%d shard%s still running\n", m->nrunning, m->nrunning == 1 ? "" : "s");
        }
    }
}

static void json_ints(cli_json *j, const int *v, int n)
{
    json_array(j);
    for (int i = 0; i < n; i++)
        json_int(j, v[i]);
    json_array_end(j);
}

static void print_json(const merge_state *g)
{
    const merge_summary *m = merge_summary_of(g);
    static const char *const phase[6] = {"total", "generate", "pretrain", "finetune", "evaluate", "write"};
    cli_json j;
    json_begin(&j, stdout);
    json_object(&j);
    json_key(&j, "job"), json_string(&j, m->job_name);
    json_key(&j, "job_hash"), json_string(&j, m->job_hash);
    json_key(&j, "cells"), json_int(&j, m->ncell);
    json_key(&j, "shards"), json_int(&j, m->nshard);
    json_key(&j, "done"), json_int(&j, m->count[CELL_DONE]);
    json_key(&j, "failed"), json_int(&j, m->count[CELL_FAILED]);
    json_key(&j, "missing"), json_int(&j, m->missing);
    json_key(&j, "backbones"), json_object(&j);
    json_key(&j, "total"), json_int(&j, m->nbackbone);
    json_key(&j, "done"), json_int(&j, m->bb_count[CELL_DONE]);
    json_key(&j, "failed"), json_int(&j, m->bb_count[CELL_FAILED]);
    json_key(&j, "pending"), json_int(&j, m->bb_count[CELL_PENDING]);
    json_key(&j, "duplicates"), json_int(&j, m->bb_dup);
    json_key(&j, "duplicates_differing"), json_int(&j, m->bb_diff);
    json_object_end(&j);
    json_key(&j, "cell_seconds"), json_object(&j);
    for (int k = 0; k < 6; k++)
        json_key(&j, phase[k]), json_number(&j, m->time[k]);
    json_object_end(&j);
    json_key(&j, "duplicates"), json_int(&j, m->ndup);
    json_key(&j, "duplicates_differing"), json_int(&j, m->ndiff);
    json_key(&j, "files"), json_array(&j);
    for (int f = 0; f < m->nfile; f++) {
        const merge_file *mf = &m->files[f];
        json_object(&j);
        json_key(&j, "path"), json_string(&j, mf->path);
        json_key(&j, "shard_index"), json_int(&j, mf->shard_index);
        json_key(&j, "cells"), json_int(&j, mf->cells);
        json_key(&j, "done"), json_int(&j, mf->count[CELL_DONE]);
        json_key(&j, "failed"), json_int(&j, mf->count[CELL_FAILED]);
        json_key(&j, "pending"), json_int(&j, mf->count[CELL_PENDING]);
        json_key(&j, "cell_seconds"), json_number(&j, mf->seconds);
        json_key(&j, "running"), json_bool(&j, mf->running);
        json_key(&j, "duplicate_shard_index"), json_bool(&j, mf->duplicate_index);
        json_object_end(&j);
    }
    json_array_end(&j);
    json_key(&j, "absent_shards"), json_ints(&j, m->absent_shards, m->nabsent);
    json_key(&j, "missing_cells"), json_ints(&j, m->missing_cells, m->missing);
    json_key(&j, "failed_cells"), json_array(&j);
    for (int k = 0; k < m->count[CELL_FAILED]; k++) {
        json_object(&j);
        json_key(&j, "cell"), json_int(&j, m->failed_cells[k]);
        json_key(&j, "reason"), json_string(&j, merge_cell_row(g, m->failed_cells[k])->reason);
        json_object_end(&j);
    }
    json_array_end(&j);
    json_key(&j, "resubmit_shards"), json_ints(&j, m->resubmit, m->nresubmit);
    json_key(&j, "running_shards"), json_int(&j, m->nrunning);
    json_object_end(&j);
    json_end(&j);
}

int cmd_status(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
                                         {"json", no_argument, NULL, 'j'},
                                         {NULL, 0, NULL, 0}};
    int c, json = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage_status, stdout);
            return EXIT_OK;
        }
        if (c == 'j') {
            json = 1;
            continue;
        }
        return cli_usage_error(usage_status, "status: unknown option");
    }
    if (optind >= argc)
        return cli_usage_error(usage_status, "status: expected a results file, shard files or a directory");
    char err[8192];
    merge_state *g;
    int rc = merge_gather(&g, argv + optind, argc - optind, err, sizeof err);
    if (rc != 0)
        return cli_error(cli_exit_status(rc), "status: %s", err);
    if (json)
        print_json(g);
    else
        cli_print_merge_summary(stdout, g);
    int missing = merge_summary_of(g)->missing;
    merge_free(g);
    return missing ? EXIT_RUNTIME : EXIT_OK;
}
