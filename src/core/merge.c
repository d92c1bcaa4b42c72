/* Shard files: gather, check, summarise, merge (see merge.h). */
#include "synlaw/merge.h"

#include "synlaw/sched.h"
#include "synlaw/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct merge_state {
    merge_summary sum;
    store_results *res;    /* [nfile] */
    job_cell *cells;       /* [ncell] */
    int *src;              /* [ncell] file that finished the cell, -1: none */
    int *owner;            /* [ncell] shard of the cell (nshard > 0) */
    int *bb_src;           /* [nbackbone] file that finished the backbone, -1: none */
    int pathcap;
};

void merge_free(merge_state *g)
{
    if (!g)
        return;
    merge_summary *m = &g->sum;
    for (int i = 0; i < m->nfile; i++) {
        free(m->files[i].path);
        if (g->res)
            store_results_free(&g->res[i]);
    }
    free(m->files), free(m->missing_cells), free(m->failed_cells), free(m->absent_shards);
    free(m->absent_cells), free(m->resubmit);
    free(g->res), free(g->cells), free(g->src), free(g->owner), free(g->bb_src);
    free(g);
}

static int add_path(merge_state *g, char *p) /* takes ownership of p */
{
    merge_summary *m = &g->sum;
    if (!p)
        return -1;
    if (m->nfile == g->pathcap) {
        int cap = g->pathcap ? 2 * g->pathcap : 16;
        merge_file *nf = realloc(m->files, sizeof *nf * (size_t)cap);
        if (!nf) {
            free(p);
            return -1;
        }
        m->files = nf;
        g->pathcap = cap;
    }
    memset(&m->files[m->nfile], 0, sizeof m->files[0]);
    m->files[m->nfile++].path = p;
    return 0;
}

static int is_shard_name(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return strstr(d->d_name, "-shard-") && strstr(d->d_name, "-of-") && n > 3 &&
           strcmp(d->d_name + n - 3, ".h5") == 0;
}

/* Files and directories (their shard files, sorted by name) into the file list. */
static int expand(merge_state *g, char **inputs, int n, char *err, size_t errlen)
{
    for (int i = 0; i < n; i++) {
        struct stat sb;
        if (stat(inputs[i], &sb) != 0)
            return util_fail(err, errlen, SL_EINPUT, "%s: no such file or directory", inputs[i]);
        if (!S_ISDIR(sb.st_mode)) {
            if (add_path(g, util_strdup(inputs[i])) != 0)
                goto oom;
            continue;
        }
        struct dirent **list;
        int k = scandir(inputs[i], &list, is_shard_name, alphasort);
        if (k < 0)
            return util_fail(err, errlen, SL_EINPUT, "%s: cannot list the directory: %s", inputs[i],
                             strerror(errno));
        int bad = 0;
        for (int j = 0; j < k; j++) {
            if (!bad && add_path(g, util_join_path(inputs[i], list[j]->d_name)) != 0)
                bad = 1;
            free(list[j]);
        }
        free(list);
        if (bad)
            goto oom;
        if (k == 0)
            return util_fail(err, errlen, SL_EINPUT, "%s: no shard files (*-shard-*-of-*.h5) in the directory",
                             inputs[i]);
    }
    return 0;
oom:
    return util_fail(err, errlen, SL_EFAIL, "out of memory");
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

/* Counts, times, missing and failed cells, resubmission. */
static int summarise(merge_state *g)
{
    merge_summary *m = &g->sum;
    int nshard = m->nshard;
    int *seen = calloc((size_t)(nshard > 0 ? nshard : 1), sizeof *seen);
    int *resub = calloc((size_t)(nshard > 0 ? nshard : 1), sizeof *resub);
    m->missing_cells = malloc(sizeof(int) * (size_t)(m->ncell + 1));
    m->failed_cells = malloc(sizeof(int) * (size_t)(m->ncell + 1));
    m->absent_shards = malloc(sizeof(int) * (size_t)(nshard + 1));
    m->absent_cells = calloc((size_t)(nshard + 1), sizeof(int));
    m->resubmit = malloc(sizeof(int) * (size_t)(nshard + 1));
    if (!seen || !resub || !m->missing_cells || !m->failed_cells || !m->absent_shards ||
        !m->absent_cells || !m->resubmit) {
        free(seen), free(resub);
        return -1;
    }
    for (int f = 0; f < m->nfile; f++) {
        merge_file *mf = &m->files[f];
        const store_results *r = &g->res[f];
        mf->shard_index = r->shard.index;
        for (int c = 0; c < m->ncell; c++) {
            if (nshard > 0 && g->owner[c] != r->shard.index)
                continue;
            mf->cells++;
            int st = r->rows[c].status;
            mf->count[st]++;
            if (st != CELL_PENDING && isfinite(r->rows[c].wall_time))
                mf->seconds += r->rows[c].wall_time;
        }
        if (nshard > 0) {
            mf->duplicate_index = seen[r->shard.index];
            seen[r->shard.index] = 1;
            if (mf->running)
                resub[r->shard.index] = -1; /* a running shard is not to be resubmitted */
        }
    }
    for (int s = 0; s < nshard; s++)
        if (!seen[s]) {
            for (int c = 0; c < m->ncell; c++)
                m->absent_cells[m->nabsent] += g->owner[c] == s;
            m->absent_shards[m->nabsent++] = s;
        }
    for (int c = 0; c < m->ncell; c++) {
        if (g->src[c] < 0) {
            m->missing_cells[m->missing++] = c;
            if (nshard > 0 && resub[g->owner[c]] == 0)
                resub[g->owner[c]] = 1;
            continue;
        }
        const store_cell_row *row = &g->res[g->src[c]].rows[c];
        m->count[row->status]++;
        if (row->status == CELL_FAILED)
            m->failed_cells[m->count[CELL_FAILED] - 1] = c;
        const double v[6] = {row->wall_time, row->time_generate, row->time_pretrain, row->time_finetune,
                             row->time_evaluate, row->time_write};
        for (int k = 0; k < 6; k++)
            m->time[k] += isfinite(v[k]) ? v[k] : 0;
    }
    for (int b = 0; b < m->nbackbone; b++) {
        if (g->bb_src[b] < 0)
            continue;
        const store_backbone_row *row = &g->res[g->bb_src[b]].bb[b];
        m->bb_count[row->status]++;
        const double v[6] = {row->wall_time, row->time_generate, row->time_pretrain, 0,
                             row->time_evaluate, row->time_write};
        for (int k = 0; k < 6; k++)
            m->time[k] += isfinite(v[k]) ? v[k] : 0;
    }
    m->bb_count[CELL_PENDING] = m->nbackbone - m->bb_count[CELL_DONE] - m->bb_count[CELL_FAILED];
    for (int s = 0; s < nshard; s++) {
        if (resub[s] == 1)
            m->resubmit[m->nresubmit++] = s;
        m->nrunning += resub[s] == -1;
    }
    free(seen), free(resub);
    return 0;
}

/* Read every input and check that they belong together. Returns 0 or a status. */
static int read_inputs(merge_state *g, char *err, size_t errlen)
{
    merge_summary *m = &g->sum;
    g->res = calloc((size_t)m->nfile, sizeof *g->res);
    if (!g->res)
        return util_fail(err, errlen, SL_EFAIL, "out of memory");
    for (int i = 0; i < m->nfile; i++) {
        const char *path = m->files[i].path;
        m->files[i].running = is_locked(path);
        if (store_read(&g->res[i], path, 1, err, errlen) != 0)
            return SL_EINPUT;
        const store_results *a = &g->res[0], *b = &g->res[i];
        if (b->version != a->version || (b->version != STORE_FORMAT_VERSION && b->shard.count > 0))
            return util_fail(err, errlen, SL_EINPUT, "%s: written in results format %d%s; status and merge of "
                             "shard files need format %d (synlaw fit and status read a whole-grid file of "
                             "format 1)", path, b->version, b->version != a->version ? ", unlike the first file" : "",
                             STORE_FORMAT_VERSION);
        if (strcmp(a->job_hash, b->job_hash) != 0)
            return util_fail(err, errlen, SL_EINPUT, "%s holds job '%s' (job_hash %s) but %s holds job '%s' "
                             "(job_hash %s): files of different jobs cannot be merged", path, b->job_name,
                             b->job_hash, m->files[0].path, a->job_name, a->job_hash);
        if (a->shard.count != b->shard.count)
            return util_fail(err, errlen, SL_EINPUT, "%s is split %d ways but %s %d ways: shards of different "
                             "splits cannot be merged", path, b->shard.count, m->files[0].path, a->shard.count);
        if (a->n_ft != b->n_ft || a->n_pre != b->n_pre || a->ncell != b->ncell || a->nbackbone != b->nbackbone)
            return util_fail(err, errlen, SL_EINPUT, "%s: layout differs from %s", path, m->files[0].path);
        if (!data_shape_same(&a->shape, &b->shape))
            return util_fail(err, errlen, SL_EINPUT, "%s was run on other data than %s (its /data differs: "
                             "shape, classes, split sizes or pixel statistics)", path, m->files[0].path);
        if (b->shard.count > 0 && (b->shard.index < 0 || b->shard.index >= b->shard.count))
            return util_fail(err, errlen, SL_EINPUT, "%s: shard index %d outside 0..%d", path, b->shard.index,
                             b->shard.count - 1);
    }
    snprintf(m->job_name, sizeof m->job_name, "%s", g->res[0].job_name);
    snprintf(m->job_hash, sizeof m->job_hash, "%s", g->res[0].job_hash);
    if (job_parse_grid(&m->spec, g->res[0].job_text, m->files[0].path, 0, err, errlen) != 0)
        return SL_EINPUT;
    m->spec.shape = g->res[0].shape; /* the data the shards were run on, not probed here */
    m->ncell = job_cell_count(&m->spec);
    m->nbackbone = g->res[0].version >= 2 ? job_backbone_count(&m->spec) : 0; /* format 1: none */
    m->nshard = g->res[0].shard.count;
    if (m->ncell != g->res[0].ncell || m->nbackbone != g->res[0].nbackbone)
        return util_fail(err, errlen, SL_EINPUT, "%s: %d cells and %d backbones in the file, %d and %d in its job",
                         m->files[0].path, g->res[0].ncell, g->res[0].nbackbone, m->ncell, m->nbackbone);
    return 0;
}

/* The grid's cells and, for shard files, the shard of each cell (that of its task). */
static int ownership(merge_state *g)
{
    merge_summary *m = &g->sum;
    int nbb = job_backbone_count(&m->spec), rc = -1; /* format 1 files hold none of them */
    g->cells = malloc(sizeof *g->cells * (size_t)(m->ncell + 1));
    g->owner = calloc((size_t)(m->ncell + 1), sizeof *g->owner);
    job_backbone *bb = malloc(sizeof *bb * (size_t)(nbb + 1));
    int *task_owner = NULL;
    sched_plan sp = {0};
    if (!g->cells || !g->owner || !bb)
        goto out;
    job_cells(&m->spec, g->cells);
    job_backbones(&m->spec, bb);
    if (m->nshard > 0) {
        if (sched_plan_build(&sp, &m->spec, g->cells, m->ncell, bb, nbb, NULL, NULL) != 0 ||
            !(task_owner = malloc(sizeof *task_owner * (size_t)(sp.ntask + 1))) ||
            sched_shards(&sp, m->nshard, task_owner) != 0)
            goto out;
        for (int c = 0; c < m->ncell; c++)
            g->owner[c] = task_owner[sp.task_of_cell[c]];
    }
    rc = 0;
out:
    sched_plan_free(&sp);
    free(task_owner), free(bb);
    return rc;
}

/* Which file finished each cell and backbone (the first), and the duplicates. */
static int sources(merge_state *g)
{
    merge_summary *m = &g->sum;
    g->src = malloc(sizeof *g->src * (size_t)(m->ncell + 1));
    g->bb_src = malloc(sizeof *g->bb_src * (size_t)(m->nbackbone + 1));
    if (!g->src || !g->bb_src)
        return -1;
    int nft = g->res[0].n_ft, npre = g->res[0].n_pre;
    for (int c = 0; c < m->ncell; c++) {
        g->src[c] = -1;
        for (int f = 0; f < m->nfile; f++) {
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
                       same_bits(k->ft_val + (size_t)c * nft, r->ft_val + (size_t)c * nft, nft) &&
                       same_bits(k->ft_test + (size_t)c * nft, r->ft_test + (size_t)c * nft, nft);
            m->ndup++;
            m->ndiff += !same;
        }
    }
    for (int b = 0; b < m->nbackbone; b++) {
        g->bb_src[b] = -1;
        for (int f = 0; f < m->nfile; f++) {
            const store_results *r = &g->res[f];
            if (r->bb[b].status == CELL_PENDING)
                continue;
            if (g->bb_src[b] < 0) {
                g->bb_src[b] = f;
                continue;
            }
            const store_results *k = &g->res[g->bb_src[b]];
            int same = k->bb[b].status == r->bb[b].status && k->bb[b].key == r->bb[b].key &&
                       memcmp(&k->bb[b].final_error, &r->bb[b].final_error, sizeof(double)) == 0 &&
                       same_bits(k->pre_loss + (size_t)b * npre, r->pre_loss + (size_t)b * npre, npre) &&
                       same_bits(k->pre_error + (size_t)b * npre, r->pre_error + (size_t)b * npre, npre);
            m->bb_dup++;
            m->bb_diff += !same;
        }
    }
    return 0;
}

int merge_gather(merge_state **out, char **inputs, int n, char *err, size_t errlen)
{
    *out = NULL;
    merge_state *g = calloc(1, sizeof *g);
    if (!g)
        return util_fail(err, errlen, SL_EFAIL, "out of memory");
    int rc = expand(g, inputs, n, err, errlen);
    if (rc == 0)
        rc = read_inputs(g, err, errlen);
    if (rc == 0 && (ownership(g) != 0 || sources(g) != 0 || summarise(g) != 0))
        rc = util_fail(err, errlen, SL_EFAIL, "out of memory");
    if (rc != 0) {
        merge_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

const merge_summary *merge_summary_of(const merge_state *g) { return &g->sum; }

const store_cell_row *merge_cell_row(const merge_state *g, int cell)
{
    if (cell < 0 || cell >= g->sum.ncell || g->src[cell] < 0)
        return NULL;
    return &g->res[g->src[cell]].rows[cell];
}

int merge_write(const merge_state *g, const char *path, char *err, size_t errlen)
{
    const merge_summary *m = &g->sum;
    if (g->res[0].version != STORE_FORMAT_VERSION)
        return util_fail(err, errlen, -1, "%s: results format %d cannot be merged (this synlaw writes "
                         "format %d)", m->files[0].path, g->res[0].version, STORE_FORMAT_VERSION);
    store *st = NULL;
    store_shard sh = {0, 0, m->nfile};
    char jf[64];
    snprintf(jf, sizeof jf, "(merged from %d file%s)", m->nfile, m->nfile == 1 ? "" : "s");
    if (store_create(&st, path, MPI_COMM_SELF, &m->spec, g->res[0].job_text, jf, &sh, err, errlen) != 0)
        return -1;
    int nft = g->res[0].n_ft, npre = g->res[0].n_pre, rc = -1;
    store_reader **readers = calloc((size_t)m->nfile, sizeof *readers);
    float *params = NULL;
    size_t cap = 0;
    if (!readers) {
        util_fail(err, errlen, -1, "out of memory");
        goto out;
    }
    /* Backbones first (their weights read from the file that finished them), then cells. */
    for (int b = 0; b < m->nbackbone; b++) {
        if (g->bb_src[b] < 0)
            continue;
        int f = g->bb_src[b];
        const store_results *r = &g->res[f];
        const store_backbone_row *row = &r->bb[b];
        const float *w = NULL;
        if (row->weights && m->spec.pretrain.keep) {
            if ((size_t)row->nparam + 1 > cap) {
                float *np = realloc(params, sizeof *params * ((size_t)row->nparam + 1));
                if (!np) {
                    util_fail(err, errlen, -1, "out of memory");
                    goto out;
                }
                params = np;
                cap = (size_t)row->nparam + 1;
            }
            if ((!readers[f] && store_reader_open(&readers[f], m->files[f].path, err, errlen) != 0) ||
                store_reader_weights(readers[f], row, params, err, errlen) != 0)
                goto out;
            w = params;
        }
        if (store_write_backbone(st, row, r->pre_loss + (size_t)b * npre, r->pre_error + (size_t)b * npre, w,
                                 err, errlen) != 0)
            goto out;
    }
    for (int c = 0; c < m->ncell; c++) {
        if (g->src[c] < 0)
            continue;
        const store_results *r = &g->res[g->src[c]];
        if (store_write_cell(st, &r->rows[c], r->ft_val + (size_t)c * nft, r->ft_test + (size_t)c * nft, err,
                             errlen) != 0)
            goto out;
    }
    rc = 0;
out:
    for (int f = 0; readers && f < m->nfile; f++)
        store_reader_close(readers[f]);
    free(readers), free(params);
    if (store_close(st) != 0 && rc == 0)
        rc = util_fail(err, errlen, -1, "%s: cannot close", path);
    return rc;
}
