/* Shard files: gather, check, report, merge. */
#include "synlaw/merge.h"

#include "synlaw/job.h"
#include "synlaw/report.h"
#include "synlaw/sched.h"
#include "synlaw/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    int nfile;
    char **paths;          /* [nfile], owned */
    store_results *res;    /* [nfile] */
    job_spec spec;
    job_cell *cells;       /* [ncell] */
    int ncell, nshard;     /* nshard: the split (0: whole-grid files) */
    int *src;              /* [ncell] file that finished the cell, -1: none */
    int *owner;            /* [ncell] shard of the cell (nshard > 0) */
    int *running;          /* [nfile] 1: a synlaw run holds the file's lock */
    int ndup, ndiff;       /* cells finished in more than one file; of which differing */
} gather;

static void gather_free(gather *g)
{
    for (int i = 0; i < g->nfile; i++) {
        free(g->paths[i]);
        store_results_free(&g->res[i]);
    }
    free(g->paths), free(g->res), free(g->cells), free(g->src), free(g->owner), free(g->running);
    memset(g, 0, sizeof *g);
}

static int add_path(gather *g, int *cap, const char *p)
{
    if (g->nfile == *cap) {
        *cap = *cap ? 2 * *cap : 16;
        char **np = realloc(g->paths, sizeof *np * (size_t)*cap);
        if (!np)
            return -1;
        g->paths = np;
    }
    return (g->paths[g->nfile++] = strdup(p)) ? 0 : -1;
}

static int is_shard_name(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return strstr(d->d_name, "-shard-") && strstr(d->d_name, "-of-") && n > 3 &&
           strcmp(d->d_name + n - 3, ".h5") == 0;
}

/* Files and directories (their shard files, sorted by name) into g->paths. */
static int expand(gather *g, char **inputs, int n, char *err, size_t errlen)
{
    int cap = 0;
    for (int i = 0; i < n; i++) {
        struct stat sb;
        if (stat(inputs[i], &sb) != 0) {
            snprintf(err, errlen, "%s: no such file or directory", inputs[i]);
            return -1;
        }
        if (!S_ISDIR(sb.st_mode)) {
            if (add_path(g, &cap, inputs[i]) != 0)
                goto oom;
            continue;
        }
        struct dirent **list;
        int k = scandir(inputs[i], &list, is_shard_name, alphasort);
        if (k < 0) {
            snprintf(err, errlen, "%s: cannot list the directory", inputs[i]);
            return -1;
        }
        if (k == 0) {
            snprintf(err, errlen, "%s: no shard files (*-shard-*-of-*.h5) in the directory", inputs[i]);
            free(list);
            return -1;
        }
        for (int j = 0; j < k; j++) {
            char p[4096];
            size_t l = strlen(inputs[i]);
            snprintf(p, sizeof p, "%s%s%s", inputs[i], l && inputs[i][l - 1] == '/' ? "" : "/",
                     list[j]->d_name);
            if (add_path(g, &cap, p) != 0)
                goto oom;
            free(list[j]);
        }
        free(list);
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

/* Whether a run holds the file's exclusive lock (see sweep.c); 0 when that cannot be told. */
static int is_locked(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    int locked = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd); /* releases the shared lock if it was taken */
    return locked;
}

static int same_bits(const float *a, const float *b, int n)
{
    return n == 0 || memcmp(a, b, sizeof(float) * (size_t)n) == 0;
}

/* Read and check every file; find who finished each cell. Returns an exit status. */
static int gather_read(gather *g, char **inputs, int n, char *err, size_t errlen)
{
    memset(g, 0, sizeof *g);
    if (expand(g, inputs, n, err, errlen) != 0)
        return 2;
    g->res = calloc((size_t)g->nfile, sizeof *g->res);
    g->running = calloc((size_t)g->nfile, sizeof *g->running);
    if (!g->res || !g->running) {
        snprintf(err, errlen, "out of memory");
        return 1;
    }
    for (int i = 0; i < g->nfile; i++) {
        g->running[i] = is_locked(g->paths[i]);
        if (store_read(&g->res[i], g->paths[i], 1, err, errlen) != 0)
            return 2;
        const store_results *a = &g->res[0], *b = &g->res[i];
        if (strcmp(a->job_hash, b->job_hash) != 0) {
            snprintf(err, errlen, "%s holds job '%s' (job_hash %s) but %s holds job '%s' (job_hash %s): "
                     "files of different jobs cannot be merged", g->paths[i], b->job_name, b->job_hash,
                     g->paths[0], a->job_name, a->job_hash);
            return 2;
        }
        if (a->shard.count != b->shard.count) {
            snprintf(err, errlen, "%s is split %d ways but %s %d ways: shards of different splits "
                     "cannot be merged", g->paths[i], b->shard.count, g->paths[0], a->shard.count);
            return 2;
        }
        if (a->n_ft != b->n_ft || a->n_pre != b->n_pre || a->ncell != b->ncell) {
            snprintf(err, errlen, "%s: layout differs from %s", g->paths[i], g->paths[0]);
            return 2;
        }
    }
    if (job_parse_grid(&g->spec, g->res[0].job_text, g->paths[0], 0, err, errlen) != 0)
        return 2;
    g->ncell = job_cell_count(&g->spec);
    g->nshard = g->res[0].shard.count;
    if (g->ncell != g->res[0].ncell) {
        snprintf(err, errlen, "%s: %d cells in the file, %d in its job", g->paths[0], g->res[0].ncell, g->ncell);
        return 2;
    }
    g->cells = malloc(sizeof *g->cells * (size_t)(g->ncell + 1));
    g->src = malloc(sizeof *g->src * (size_t)(g->ncell + 1));
    g->owner = calloc((size_t)(g->ncell + 1), sizeof *g->owner);
    if (!g->cells || !g->src || !g->owner) {
        snprintf(err, errlen, "out of memory");
        return 1;
    }
    job_cells(&g->spec, g->cells);
    if (g->nshard > 0)
        sched_shards(&g->spec, g->cells, g->ncell, g->nshard, g->owner);
    int nft = g->res[0].n_ft, npre = g->res[0].n_pre;
    for (int c = 0; c < g->ncell; c++) {
        g->src[c] = -1;
        for (int f = 0; f < g->nfile; f++) {
            const store_results *r = &g->res[f];
            if (r->rows[c].status == CELL_PENDING)
                continue;
            if (g->src[c] < 0) {
                g->src[c] = f;
                continue;
            }
            const store_results *k = &g->res[g->src[c]];
            int same = memcmp(&k->rows[c].final_error, &r->rows[c].final_error, sizeof(double)) == 0 &&
                       k->rows[c].status == r->rows[c].status &&
                       same_bits(k->ft_error + (size_t)c * nft, r->ft_error + (size_t)c * nft, nft) &&
                       same_bits(k->pre_loss + (size_t)c * npre, r->pre_loss + (size_t)c * npre, npre);
            g->ndup++;
            g->ndiff += !same;
        }
    }
    return 0;
}

static void fmt_hours(char *buf, size_t len, double s)
{
    if (!isfinite(s))
        snprintf(buf, len, "?");
    else if (s < 3600)
        snprintf(buf, len, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(buf, len, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
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

/* Per-file and total summary; returns the number of missing cells. */
static int gather_report(const gather *g, FILE *out, int *nmissing_out)
{
    int total[3] = {0}, missing = 0;
    double t[6] = {0};
    fprintf(out, "job '%s' (job_hash %s): %d cells", g->res[0].job_name, g->res[0].job_hash, g->ncell);
    if (g->nshard > 0)
        fprintf(out, ", split into %d shards", g->nshard);
    fprintf(out, "; %d file%s\n", g->nfile, g->nfile == 1 ? "" : "s");
    int *seen = calloc((size_t)(g->nshard > 0 ? g->nshard : 1), sizeof *seen);
    for (int f = 0; f < g->nfile; f++) {
        const store_results *r = &g->res[f];
        int cnt[3] = {0}, mine = 0;
        double secs = 0;
        for (int c = 0; c < g->ncell; c++) {
            if (g->nshard > 0 && g->owner[c] != r->shard.index)
                continue;
            mine++;
            cnt[r->rows[c].status]++;
            if (r->rows[c].status != CELL_PENDING && isfinite(r->rows[c].wall_time))
                secs += r->rows[c].wall_time;
        }
        char h[32];
        fmt_hours(h, sizeof h, secs);
        if (g->nshard > 0) {
            fprintf(out, "  shard %d/%d  %s: %d cells, %d done, %d failed, %d pending; %s of cell time%s%s\n",
                    r->shard.index, g->nshard, g->paths[f], mine, cnt[CELL_DONE], cnt[CELL_FAILED],
                    cnt[CELL_PENDING], h, g->running[f] ? " (running)" : "",
                    seen && seen[r->shard.index] ? " (DUPLICATE shard index)" : "");
            if (seen)
                seen[r->shard.index] = 1;
        } else {
            fprintf(out, "  %s: %d done, %d failed, %d pending; %s of cell time%s\n", g->paths[f],
                    cnt[CELL_DONE], cnt[CELL_FAILED], cnt[CELL_PENDING], h,
                    g->running[f] ? " (running)" : "");
        }
    }
    for (int s = 0; s < g->nshard && seen; s++)
        if (!seen[s]) {
            int mine = 0;
            for (int c = 0; c < g->ncell; c++)
                mine += g->owner[c] == s;
            fprintf(out, "  shard %d/%d  (no file): %d cells\n", s, g->nshard, mine);
        }
    free(seen);
    if (g->nfile == 1 && g->nshard > 0)
        fprintf(out, "  (one shard file: the other shards' cells count as missing below; give the "
                "directory or all shard files for the whole grid)\n");
    int *miss = malloc(sizeof *miss * (size_t)(g->ncell + 1));
    int *resub = calloc((size_t)(g->nshard > 0 ? g->nshard : 1), sizeof *resub);
    for (int f = 0; f < g->nfile && resub; f++) /* a running shard is not to be resubmitted */
        if (g->running[f] && g->nshard > 0)
            resub[g->res[f].shard.index] = -1;
    for (int c = 0; c < g->ncell; c++) {
        if (g->src[c] < 0) {
            if (miss)
                miss[missing] = c;
            missing++;
            if (resub && g->nshard > 0 && resub[g->owner[c]] == 0)
                resub[g->owner[c]] = 1;
            continue;
        }
        const store_cell_row *row = &g->res[g->src[c]].rows[c];
        total[row->status]++;
        const double v[6] = {row->wall_time, row->time_generate, row->time_pretrain, row->time_finetune,
                             row->time_evaluate, row->time_write};
        for (int k = 0; k < 6; k++)
            t[k] += isfinite(v[k]) ? v[k] : 0;
    }
    char h[32];
    fmt_hours(h, sizeof h, t[0]);
    fprintf(out, "cells: %d done, %d failed, %d missing of %d; %s of cell time", total[CELL_DONE],
            total[CELL_FAILED], missing, g->ncell, h);
    if (t[0] > 0)
        fprintf(out, " (generate %.1f%%, pre-train %.1f%%, fine-tune %.1f%%, evaluate %.1f%%, "
                "write %.2f%%, other %.1f%%)", 100 * t[1] / t[0], 100 * t[2] / t[0], 100 * t[3] / t[0],
                100 * t[4] / t[0], 100 * t[5] / t[0],
                100 * (t[0] - t[1] - t[2] - t[3] - t[4]) / t[0]);
    fputc('\n', out);
    if (g->ndup)
        fprintf(out, "duplicates: %d cell%s finished in more than one file (%d differ; the first "
                "file's copy is kept)\n", g->ndup, g->ndup == 1 ? "" : "s", g->ndiff);
    int shown = 0;
    for (int c = 0; c < g->ncell && shown < 20; c++)
        if (g->src[c] >= 0 && g->res[g->src[c]].rows[c].status == CELL_FAILED) {
            char d[128];
            job_cell_describe(&g->spec, &g->cells[c], d, sizeof d);
            fprintf(out, "failed: cell %d (%s): %s\n", c, d, g->res[g->src[c]].rows[c].reason);
            shown++;
        }
    if (total[CELL_FAILED] > shown)
        fprintf(out, "failed: ... and %d more (see /cells reason)\n", total[CELL_FAILED] - shown);
    if (missing && miss) {
        fprintf(out, "missing cells (%d): ", missing);
        print_ranges(out, miss, missing);
        fputc('\n', out);
        if (g->nshard > 0 && resub) {
            int idx[g->nshard > 0 ? g->nshard : 1], k = 0, nrun = 0;
            for (int s = 0; s < g->nshard; s++) {
                if (resub[s] == 1)
                    idx[k++] = s;
                nrun += resub[s] == -1;
            }
            if (k) {
                fprintf(out, "resubmit shard indices: ");
                print_ranges(out, idx, k);
                fprintf(out, "  (those not still queued; e.g. sbatch --array=");
                print_ranges(out, idx, k);
                fprintf(out, " slurm/sweep-array.sbatch, with the same JOB, OUT and NSHARDS)\n");
            }
            if (nrun)
                fprintf(out, "%d shard%s still running\n", nrun, nrun == 1 ? "" : "s");
        }
    }
    free(miss), free(resub);
    *nmissing_out = missing;
    return missing;
}

static int write_merged(const gather *g, const char *path, char *err, size_t errlen)
{
    store *st = NULL;
    store_shard sh = {0, 0, g->nfile};
    char jf[64];
    snprintf(jf, sizeof jf, "(merged from %d file%s)", g->nfile, g->nfile == 1 ? "" : "s");
    if (store_create(&st, path, MPI_COMM_SELF, &g->spec, g->res[0].job_text, jf, &sh, err, errlen) != 0)
        return -1;
    int nft = g->res[0].n_ft, npre = g->res[0].n_pre;
    for (int c = 0; c < g->ncell; c++) {
        if (g->src[c] < 0)
            continue;
        const store_results *r = &g->res[g->src[c]];
        if (store_write_row(st, &r->rows[c], r->ft_error + (size_t)c * nft, r->pre_loss + (size_t)c * npre,
                            r->pre_error + (size_t)c * npre, err, errlen) != 0) {
            store_close(st);
            return -1;
        }
    }
    if (store_close(st) != 0) {
        snprintf(err, errlen, "%s: cannot close", path);
        return -1;
    }
    return 0;
}

int merge_run(const merge_options *opt, char **inputs, int ninput, FILE *out)
{
    char err[8192] = "";
    struct stat sb;
    if (!opt->force && stat(opt->out_path, &sb) == 0) {
        fprintf(stderr, "synlaw: merge: %s: already exists (--force replaces it)\n", opt->out_path);
        return 2;
    }
    gather g;
    int rc = gather_read(&g, inputs, ninput, err, sizeof err);
    if (rc) {
        fprintf(stderr, "synlaw: merge: %s\n", err);
        gather_free(&g);
        return rc;
    }
    int missing;
    gather_report(&g, out, &missing);
    if (missing && !opt->allow_partial) {
        fprintf(out, "not merged: the grid is incomplete (--allow-partial merges anyway)\n");
        gather_free(&g);
        return 1;
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.partial", opt->out_path);
    if (write_merged(&g, tmp, err, sizeof err) != 0 || rename(tmp, opt->out_path) != 0) {
        fprintf(stderr, "synlaw: merge: %s\n", err[0] ? err : "cannot rename the merged file into place");
        remove(tmp);
        gather_free(&g);
        return 1;
    }
    fprintf(out, "merged %d file%s into %s%s\n", g.nfile, g.nfile == 1 ? "" : "s", opt->out_path,
            missing ? " (partial: missing cells stay pending)" : "");
    gather_free(&g);
    if (opt->no_fit)
        return 0;
    return report_fit_after_run(opt->out_path, opt->csv_path, out) == 0 ? 0 : 1;
}

int status_run(char **inputs, int ninput, FILE *out)
{
    char err[8192] = "";
    gather g;
    int rc = gather_read(&g, inputs, ninput, err, sizeof err);
    if (rc) {
        fprintf(stderr, "synlaw: status: %s\n", err);
        gather_free(&g);
        return rc;
    }
    int missing;
    gather_report(&g, out, &missing);
    gather_free(&g);
    return missing ? 1 : 0;
}
