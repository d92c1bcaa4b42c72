/* Joining shard files (merge.h), on one MPI rank (singleton MPI_Init).
 *
 * The grid of tests/tiny.yaml is split 4 ways with sched_shards (a cell and a backbone
 * belong to the shard of their task); files exist for shards 0, 1 and 2, shard 3 is absent.
 * Each file finishes most of its own cells and backbones, leaves some pending and fails some
 * with a reason; a few stages are also finished in another shard's file (an identical cell,
 * a cell with another final_error, a done copy of a failed cell, a backbone with other
 * curves and weights) and some stages missing from their own file are finished elsewhere.
 * The expected summary is computed here from that plan, independently of merge.c: counts of
 * done, failed and missing cells and of finished backbones, duplicates and differing ones,
 * the missing and failed lists, the shards to resubmit, the absent shard and its cells,
 * per-file counts and times, and that the first input's copy of a stage is the one kept.
 * The same from the directory of shard files. A shard file locked by a (pretend) running job
 * is reported as running and not resubmitted. Files of another job or another split are
 * refused (SL_EINPUT) naming both paths. merge_write followed by store_read gives every
 * finished cell and backbone (and the kept weights) back bit for bit and keeps the missing
 * ones pending.
 *
 * argv[1]: the job file tests/tiny.yaml. */
#include "check.h"
#include "synlaw/job.h"
#include "synlaw/merge.h"
#include "synlaw/sched.h"
#include "synlaw/store.h"
#include "synlaw/util.h"

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

enum { NSHARD = 4, NFILE = 3, MAXCOPY = 4, NEV = 3 };

static char tmpdir[256];

static const char *in_tmp(const char *name)
{
    static char buf[32][512];
    static int k;
    k = (k + 1) % 32;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static void remove_tmpdir(void)
{
    DIR *d = opendir(tmpdir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlink(in_tmp(e->d_name));
    closedir(d);
    rmdir(tmpdir);
}

static int same_double(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* One finished copy of a cell in one file. */
typedef struct {
    int file;
    store_cell_row row;
    float val[NEV], test[NEV];
} cell_copy;

/* One finished copy of a backbone in one file (weights: a seed for make_weights, -1: none). */
typedef struct {
    int file;
    store_backbone_row row;
    float loss[NEV], error[NEV];
    int weights;
} bb_copy;

typedef struct {
    int n;
    cell_copy c[MAXCOPY]; /* in the order of the files */
} cell_plan;

typedef struct {
    int n;
    bb_copy c[MAXCOPY];
} bb_plan;

/* Deterministic weights: a function of (backbone, variant). */
static float *make_weights(int64_t n, int seed)
{
    float *w = malloc(sizeof *w * (size_t)(n + 1));
    for (int64_t i = 0; w && i < n; i++)
        w[i] = (float)((double)((i * 7919 + seed * 104729) % 20001 - 10000) * 1e-4);
    return w;
}

/* A finished copy of cell c for file f: the curves are a function of the cell, so copies of
 * the same cell are identical unless changed afterwards. */
static cell_copy make_cell(const job_spec *spec, const job_cell *cell, int f, int status)
{
    cell_copy k;
    memset(&k, 0, sizeof k);
    k.file = f;
    store_cell_row_init(&k.row, spec, cell);
    int c = cell->index;
    k.row.status = (int8_t)status;
    k.row.rank = f;
    k.row.final_error = k.row.final_test_error = status == CELL_DONE ? 0.5 - 0.004 * c : NAN;
    k.row.wall_time = 1.0 + 0.25 * c;
    k.row.time_generate = 0, k.row.time_pretrain = 0, k.row.time_finetune = 0.25 + c;
    k.row.time_evaluate = 0.0625, k.row.time_write = 0.001 * c;
    if (status == CELL_FAILED)
        snprintf(k.row.reason, sizeof k.row.reason, "loss diverged in cell %d", c);
    for (int j = 0; j < NEV; j++) {
        k.test[j] = (float)(0.9 - 0.1 * j - 0.001 * c);
        k.val[j] = NAN; /* tiny.yaml evaluates the test split only */
    }
    if (status == CELL_FAILED)
        k.test[2] = NAN;
    return k;
}

static bb_copy make_bb(const job_spec *spec, const job_backbone *bb, int f, int status, int weights)
{
    bb_copy k;
    memset(&k, 0, sizeof k);
    k.file = f;
    store_backbone_row_init(&k.row, spec, bb);
    int b = bb->index;
    k.row.status = (int8_t)status;
    k.row.rank = f;
    k.row.final_loss = status == CELL_DONE ? 0.5 + 0.01 * b : NAN;
    k.row.final_error = status == CELL_DONE ? 0.25 + 0.001 * b : NAN;
    k.row.wall_time = 10.0 + 0.5 * b, k.row.time_generate = 1, k.row.time_pretrain = 8.5 + 0.5 * b;
    k.row.time_evaluate = 0.5, k.row.time_write = 0.002 * b;
    k.row.weights = weights >= 0 && status == CELL_DONE;
    k.weights = k.row.weights ? weights : -1;
    if (status == CELL_FAILED)
        snprintf(k.row.reason, sizeof k.row.reason, "out of memory in backbone %d", b);
    for (int j = 0; j < NEV; j++) {
        k.loss[j] = (float)(2.0 - 0.5 * j + 0.01 * b);
        k.error[j] = j == 1 ? NAN : (float)(0.4 - 0.1 * j);
    }
    return k;
}

/* Insert keeping the order of the files. */
#define ADD_COPY(plan, k)                                                                          \
    do {                                                                                         \
        if ((plan)->n < MAXCOPY) {                                                               \
            int i_ = (plan)->n++;                                                                \
            while (i_ > 0 && (plan)->c[i_ - 1].file > (k).file) {                                \
                (plan)->c[i_] = (plan)->c[i_ - 1];                                               \
                i_--;                                                                            \
            }                                                                                    \
            (plan)->c[i_] = (k);                                                                 \
        }                                                                                        \
    } while (0)

static int write_file(const char *path, const job_spec *spec, const char *text, const store_shard *sh,
                      const cell_plan *cp, int ncell, const bb_plan *bp, int nbb, int f)
{
    store *st = NULL;
    char err[1024] = "";
    int rc = store_create(&st, path, MPI_COMM_WORLD, spec, text, "tiny.yaml", sh, err, sizeof err);
    CHECK(rc == 0, "store_create %s: %s", path, err);
    if (rc != 0)
        return -1;
    for (int b = 0; b < nbb; b++)
        for (int i = 0; i < bp[b].n; i++) {
            const bb_copy *k = &bp[b].c[i];
            if (k->file != f)
                continue;
            float *w = k->weights >= 0 ? make_weights(k->row.nparam, k->weights) : NULL;
            rc = store_write_backbone(st, &k->row, k->loss, k->error, w, err, sizeof err);
            CHECK(rc == 0, "store_write_backbone %s backbone %d: %s", path, b, err);
            free(w);
        }
    for (int c = 0; c < ncell; c++)
        for (int i = 0; i < cp[c].n; i++) {
            const cell_copy *k = &cp[c].c[i];
            if (k->file == f) {
                rc = store_write_cell(st, &k->row, k->val, k->test, err, sizeof err);
                CHECK(rc == 0, "store_write_cell %s cell %d: %s", path, c, err);
            }
        }
    CHECK(store_close(st) == 0, "store_close %s", path);
    return 0;
}

static void check_cell(const store_cell_row *got, const store_cell_row *w, const char *what)
{
    int c = w->index;
    CHECK(got->index == w->index && got->pretrain_size == w->pretrain_size && strcmp(got->model, w->model) == 0 &&
              got->complexity == w->complexity && strcmp(got->pretrain_task, w->pretrain_task) == 0 &&
              got->finetune_size == w->finetune_size && got->repeat == w->repeat && got->backbone == w->backbone &&
              got->seed == w->seed && got->finetune_steps == w->finetune_steps &&
              same_double(got->finetune_lr, w->finetune_lr),
          "%s cell %d: coordinates or seed differ", what, c);
    CHECK(got->status == w->status && got->rank == w->rank, "%s cell %d: status %d rank %d, want %d %d", what, c,
          got->status, got->rank, w->status, w->rank);
    CHECK(same_double(got->final_error, w->final_error) && same_double(got->final_test_error, w->final_test_error) &&
              same_double(got->final_val_error, w->final_val_error) && same_double(got->wall_time, w->wall_time) &&
              same_double(got->time_generate, w->time_generate) && same_double(got->time_pretrain, w->time_pretrain) &&
              same_double(got->time_finetune, w->time_finetune) && same_double(got->time_evaluate, w->time_evaluate) &&
              same_double(got->time_write, w->time_write),
          "%s cell %d: final_error %.17g (want %.17g) or times differ", what, c, got->final_error, w->final_error);
    CHECK(strcmp(got->reason, w->reason) == 0, "%s cell %d: reason '%s', want '%s'", what, c, got->reason, w->reason);
}

static void check_bb(const store_backbone_row *got, const store_backbone_row *w, const char *what)
{
    int b = w->index;
    CHECK(got->index == w->index && got->pretrain_size == w->pretrain_size && strcmp(got->model, w->model) == 0 &&
              got->complexity == w->complexity && got->repeat == w->repeat && got->steps == w->steps &&
              got->seed == w->seed && got->key == w->key && got->nparam == w->nparam,
          "%s backbone %d: coordinates, seed or key differ", what, b);
    CHECK(got->status == w->status && got->rank == w->rank && got->weights == w->weights,
          "%s backbone %d: status %d rank %d weights %d, want %d %d %d", what, b, got->status, got->rank,
          got->weights, w->status, w->rank, w->weights);
    CHECK(same_double(got->final_loss, w->final_loss) && same_double(got->final_error, w->final_error) &&
              same_double(got->wall_time, w->wall_time) && same_double(got->time_pretrain, w->time_pretrain) &&
              same_double(got->time_write, w->time_write),
          "%s backbone %d: final_loss %.17g (want %.17g) or times differ", what, b, got->final_loss, w->final_loss);
    CHECK(strcmp(got->reason, w->reason) == 0, "%s backbone %d: reason '%s', want '%s'", what, b, got->reason,
          w->reason);
}

static void check_curve(const float *got, const float *want, int row, const char *name)
{
    for (int j = 0; j < NEV; j++) {
        int ok = want ? memcmp(&got[j], &want[j], sizeof(float)) == 0 : isnan(got[j]);
        CHECK(ok, "merged row %d %s[%d] = %.9g, want %.9g", row, name, j, got[j], want ? want[j] : NAN);
    }
}

/* merge_gather must refuse inputs with SL_EINPUT and a message naming both paths. */
static void expect_refused(char **inputs, int n, const char *p1, const char *p2, const char *what)
{
    merge_state *g = NULL;
    char err[2048] = "";
    int rc = merge_gather(&g, inputs, n, err, sizeof err);
    CHECK(rc == SL_EINPUT && g == NULL, "%s: merge_gather returned %d, want SL_EINPUT", what, rc);
    CHECK(strstr(err, p1) != NULL, "%s: message '%s' does not name %s", what, err, p1);
    if (p2)
        CHECK(strstr(err, p2) != NULL, "%s: message '%s' does not name %s", what, err, p2);
    merge_free(g);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    if (argc != 2) {
        fprintf(stderr, "usage: test_merge JOB.yaml (tests/tiny.yaml)\n");
        MPI_Finalize();
        return 2;
    }
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/synlaw-test-merge-XXXXXX", base);
    if (!mkdtemp(tmpdir)) {
        perror(tmpdir);
        MPI_Finalize();
        return 2;
    }
    char err[2048] = "";
    char *text = job_read_file(argv[1], err, sizeof err);
    job_spec spec;
    if (!text || job_parse_grid(&spec, text, argv[1], 0, err, sizeof err) != 0) {
        CHECK(0, "cannot read %s: %s", argv[1], err);
        free(text);
        remove_tmpdir();
        MPI_Finalize();
        return test_summary("merge");
    }
    int ncell = job_cell_count(&spec), nbb = job_backbone_count(&spec);
    CHECK(job_max_finetune_evals(&spec) == NEV && job_max_pretrain_evals(&spec) == NEV && spec.pretrain.keep,
          "tiny.yaml no longer has %d evaluations per curve and kept backbones", NEV);
    job_cell *cells = malloc(sizeof *cells * (size_t)ncell);
    job_backbone *bbs = malloc(sizeof *bbs * (size_t)nbb);
    int *owner = malloc(sizeof *owner * (size_t)ncell), *bowner = malloc(sizeof *bowner * (size_t)nbb);
    cell_plan *cp = calloc((size_t)ncell, sizeof *cp);
    bb_plan *bp = calloc((size_t)nbb, sizeof *bp);
    job_cells(&spec, cells);
    job_backbones(&spec, bbs);

    /* Ownership as a sharded run computes it: the shard of each stage's task. */
    sched_plan sp;
    CHECK(sched_plan_build(&sp, &spec, cells, ncell, bbs, nbb, NULL, NULL) == 0, "sched_plan_build failed");
    int *task_owner = malloc(sizeof *task_owner * (size_t)(sp.ntask + 1));
    CHECK(sched_shards(&sp, NSHARD, task_owner) == 0, "sched_shards failed");
    for (int c = 0; c < ncell; c++)
        owner[c] = task_owner[sp.task_of_cell[c]];
    for (int b = 0; b < nbb; b++)
        bowner[b] = task_owner[sp.task_of_backbone[b]];
    sched_plan_free(&sp);
    free(task_owner);

    /* The plan. In its own file (shards 0..2) a cell is missing when c % 5 == 0, failed when
     * c % 7 == 3, done otherwise; a backbone pending when b % 6 == 4, failed when b % 6 == 5,
     * done otherwise, with weights when b % 3 == 0. Then the extra copies. */
    for (int c = 0; c < ncell; c++)
        if (owner[c] < NFILE && c % 5 != 0) {
            cell_copy k = make_cell(&spec, &cells[c], owner[c], c % 7 == 3 ? CELL_FAILED : CELL_DONE);
            ADD_COPY(&cp[c], k);
        }
    for (int b = 0; b < nbb; b++)
        if (bowner[b] < NFILE && b % 6 != 4) {
            bb_copy k = make_bb(&spec, &bbs[b], bowner[b], b % 6 == 5 ? CELL_FAILED : CELL_DONE, b % 3 == 0 ? b : -1);
            ADD_COPY(&bp[b], k);
        }
    int c_same = -1, c_diff = -1, c_elsewhere = -1, c_failed_done = -1, c_absent = -1;
    for (int c = 0; c < ncell; c++) {
        int own = owner[c], st = cp[c].n ? cp[c].c[0].row.status : -1;
        if (c_same < 0 && own == 1 && st == CELL_DONE)
            c_same = c; /* identical copy in shard 2's file */
        else if (c_diff < 0 && own == 2 && st == CELL_DONE)
            c_diff = c; /* another final_error in shard 0's file, which comes first */
        else if (c_elsewhere < 0 && own == 0 && cp[c].n == 0)
            c_elsewhere = c; /* missing in its own file, done in shard 1's */
        else if (c_failed_done < 0 && own == 1 && st == CELL_FAILED)
            c_failed_done = c; /* failed in its file, done in shard 2's (later) */
        else if (c_absent < 0 && own == 3)
            c_absent = c; /* of the absent shard, done in shard 0's file */
    }
    int b_dup = -1, b_absent = -1;
    for (int b = 0; b < nbb; b++) {
        if (b_dup < 0 && bowner[b] == 1 && bp[b].n && bp[b].c[0].row.status == CELL_DONE && bp[b].c[0].weights >= 0)
            b_dup = b; /* also in shard 0's file (first), with other curves and weights */
        if (b_absent < 0 && bowner[b] == 3)
            b_absent = b; /* of the absent shard, done with weights in shard 2's file */
    }
    CHECK(c_same >= 0 && c_diff >= 0 && c_elsewhere >= 0 && c_failed_done >= 0 && c_absent >= 0 && b_dup >= 0 &&
              b_absent >= 0,
          "the split of tiny.yaml lacks a stage for a case: %d %d %d %d %d %d %d", c_same, c_diff, c_elsewhere,
          c_failed_done, c_absent, b_dup, b_absent);
    if (c_same >= 0) {
        cell_copy k = make_cell(&spec, &cells[c_same], 2, CELL_DONE);
        ADD_COPY(&cp[c_same], k);
    }
    if (c_diff >= 0) {
        cell_copy k = make_cell(&spec, &cells[c_diff], 0, CELL_DONE);
        k.row.final_error += 0.5;
        ADD_COPY(&cp[c_diff], k);
    }
    if (c_elsewhere >= 0) {
        cell_copy k = make_cell(&spec, &cells[c_elsewhere], 1, CELL_DONE);
        ADD_COPY(&cp[c_elsewhere], k);
    }
    if (c_failed_done >= 0) {
        cell_copy k = make_cell(&spec, &cells[c_failed_done], 2, CELL_DONE);
        ADD_COPY(&cp[c_failed_done], k);
    }
    if (c_absent >= 0) {
        cell_copy k = make_cell(&spec, &cells[c_absent], 0, CELL_DONE);
        ADD_COPY(&cp[c_absent], k);
    }
    if (b_dup >= 0) {
        bb_copy k = make_bb(&spec, &bbs[b_dup], 0, CELL_DONE, 1000 + b_dup);
        k.row.final_loss += 1, k.loss[0] += 1;
        ADD_COPY(&bp[b_dup], k);
    }
    if (b_absent >= 0) {
        bb_copy k = make_bb(&spec, &bbs[b_absent], 2, CELL_DONE, b_absent);
        ADD_COPY(&bp[b_absent], k);
    }

    char *paths[NFILE];
    for (int f = 0; f < NFILE; f++) {
        char name[64];
        snprintf(name, sizeof name, "tiny-shard-%d-of-%d.h5", f, NSHARD);
        paths[f] = util_strdup(in_tmp(name));
        store_shard sh = {f, NSHARD, 0};
        write_file(paths[f], &spec, text, &sh, cp, ncell, bp, nbb, f);
    }

    /* The expected summary, from the plan. */
    int want_count[CELL_NSTATUS] = {0}, want_bb[CELL_NSTATUS] = {0}, want_missing = 0, want_ndup = 0,
        want_ndiff = 0;
    int *want_missing_cells = malloc(sizeof(int) * (size_t)ncell), *want_failed = malloc(sizeof(int) * (size_t)ncell);
    int want_nfailed = 0, resub[NSHARD] = {0}, absent_cells = 0;
    double want_time = 0;
    int file_cells[NFILE] = {0}, file_count[NFILE][CELL_NSTATUS] = {{0}};
    double file_seconds[NFILE] = {0};
    for (int c = 0; c < ncell; c++) {
        absent_cells += owner[c] == 3;
        if (owner[c] < NFILE) {
            file_cells[owner[c]]++;
            int st = CELL_PENDING;
            for (int i = 0; i < cp[c].n; i++)
                if (cp[c].c[i].file == owner[c]) {
                    st = cp[c].c[i].row.status;
                    file_seconds[owner[c]] += cp[c].c[i].row.wall_time;
                }
            file_count[owner[c]][st]++;
        }
        if (cp[c].n == 0) {
            want_missing_cells[want_missing++] = c;
            resub[owner[c]] = 1;
            continue;
        }
        const cell_copy *kept = &cp[c].c[0];
        want_count[kept->row.status]++;
        if (kept->row.status == CELL_FAILED)
            want_failed[want_nfailed++] = c;
        want_time += kept->row.wall_time;
        for (int i = 1; i < cp[c].n; i++) {
            const cell_copy *o = &cp[c].c[i];
            want_ndup++;
            want_ndiff += !same_double(o->row.final_error, kept->row.final_error) ||
                          o->row.status != kept->row.status || memcmp(o->val, kept->val, sizeof o->val) != 0 ||
                          memcmp(o->test, kept->test, sizeof o->test) != 0;
        }
    }
    for (int b = 0; b < nbb; b++) {
        if (bp[b].n == 0) {
            want_bb[CELL_PENDING]++;
            continue;
        }
        want_bb[bp[b].c[0].row.status]++;
        want_time += bp[b].c[0].row.wall_time;
    }
    CHECK(want_ndup == 3 && want_ndiff == 2, "the plan should hold 3 duplicates, 2 differing (%d, %d)", want_ndup,
          want_ndiff);
    CHECK(resub[3] == 1 && want_nfailed > 0 && want_missing > absent_cells && want_bb[CELL_FAILED] > 0 &&
              want_bb[CELL_PENDING] > 0,
          "the plan lacks a case");

    /* Gather the three files, and the directory holding them (shard files by name). */
    for (int pass = 0; pass < 2; pass++) {
        merge_state *g = NULL;
        char *dir[1] = {tmpdir};
        int rc = pass == 0 ? merge_gather(&g, paths, NFILE, err, sizeof err) : merge_gather(&g, dir, 1, err, sizeof err);
        const char *what = pass == 0 ? "files" : "directory";
        CHECK(rc == 0 && g != NULL, "%s: merge_gather: %s", what, err);
        if (rc != 0)
            continue;
        const merge_summary *m = merge_summary_of(g);
        CHECK(strcmp(m->job_name, "tiny") == 0 && m->ncell == ncell && m->nbackbone == nbb && m->nshard == NSHARD &&
                  m->nfile == NFILE,
              "%s: job '%s', %d cells, %d backbones, %d shards, %d files", what, m->job_name, m->ncell, m->nbackbone,
              m->nshard, m->nfile);
        CHECK(m->count[CELL_DONE] == want_count[CELL_DONE] && m->count[CELL_FAILED] == want_count[CELL_FAILED] &&
                  m->count[CELL_PENDING] == 0,
              "%s: cells done %d failed %d pending %d, want %d %d 0", what, m->count[CELL_DONE],
              m->count[CELL_FAILED], m->count[CELL_PENDING], want_count[CELL_DONE], want_count[CELL_FAILED]);
        CHECK(m->bb_count[CELL_DONE] == want_bb[CELL_DONE] && m->bb_count[CELL_FAILED] == want_bb[CELL_FAILED] &&
                  m->bb_count[CELL_PENDING] == nbb - want_bb[CELL_DONE] - want_bb[CELL_FAILED],
              "%s: backbones done %d failed %d pending %d, want %d %d %d", what, m->bb_count[CELL_DONE],
              m->bb_count[CELL_FAILED], m->bb_count[CELL_PENDING], want_bb[CELL_DONE], want_bb[CELL_FAILED],
              nbb - want_bb[CELL_DONE] - want_bb[CELL_FAILED]);
        CHECK(m->missing == want_missing, "%s: %d missing, want %d", what, m->missing, want_missing);
        CHECK(m->missing == want_missing &&
                  memcmp(m->missing_cells, want_missing_cells, sizeof(int) * (size_t)want_missing) == 0,
              "%s: missing_cells differ", what);
        CHECK(m->count[CELL_FAILED] == want_nfailed &&
                  memcmp(m->failed_cells, want_failed, sizeof(int) * (size_t)want_nfailed) == 0,
              "%s: failed_cells differ", what);
        CHECK(m->ndup == want_ndup && m->ndiff == want_ndiff, "%s: ndup %d ndiff %d, want %d %d", what, m->ndup,
              m->ndiff, want_ndup, want_ndiff);
        CHECK(m->nabsent == 1 && m->absent_shards[0] == 3 && m->absent_cells[0] == absent_cells,
              "%s: %d absent shards (first %d with %d cells), want shard 3 with %d cells", what, m->nabsent,
              m->nabsent ? m->absent_shards[0] : -1, m->nabsent ? m->absent_cells[0] : -1, absent_cells);
        int want_resub[NSHARD], nres = 0;
        for (int s = 0; s < NSHARD; s++)
            if (resub[s])
                want_resub[nres++] = s;
        CHECK(m->nresubmit == nres && memcmp(m->resubmit, want_resub, sizeof(int) * (size_t)nres) == 0,
              "%s: %d shards to resubmit, want %d", what, m->nresubmit, nres);
        CHECK(m->nrunning == 0, "%s: %d shards running", what, m->nrunning);
        CHECK(fabs(m->time[0] - want_time) <= 1e-9 * want_time, "%s: stage time %.17g, want %.17g", what, m->time[0],
              want_time);
        for (int f = 0; f < NFILE && f < m->nfile; f++) {
            const merge_file *mf = &m->files[f];
            CHECK(strcmp(mf->path, paths[f]) == 0, "%s: file %d is %s, want %s", what, f, mf->path, paths[f]);
            CHECK(mf->shard_index == f && mf->cells == file_cells[f] && !mf->running && !mf->duplicate_index,
                  "%s: file %d: shard %d, %d cells (want %d), running %d", what, f, mf->shard_index, mf->cells,
                  file_cells[f], mf->running);
            CHECK(memcmp(mf->count, file_count[f], sizeof mf->count) == 0,
                  "%s: file %d counts pending/done/failed %d %d %d, want %d %d %d", what, f, mf->count[0],
                  mf->count[1], mf->count[2], file_count[f][0], file_count[f][1], file_count[f][2]);
            CHECK(fabs(mf->seconds - file_seconds[f]) <= 1e-9 * file_seconds[f], "%s: file %d: %.17g s, want %.17g",
                  what, f, mf->seconds, file_seconds[f]);
        }
        /* The first file's copy is kept. */
        for (int c = 0; c < ncell; c++) {
            const store_cell_row *row = merge_cell_row(g, c);
            if (cp[c].n == 0) {
                CHECK(row == NULL, "%s: merge_cell_row of missing cell %d is not NULL", what, c);
                continue;
            }
            CHECK(row != NULL, "%s: merge_cell_row of finished cell %d is NULL", what, c);
            if (row)
                check_cell(row, &cp[c].c[0].row, "merge_cell_row");
        }
        CHECK(merge_cell_row(g, -1) == NULL && merge_cell_row(g, ncell) == NULL, "merge_cell_row out of range");
        if (c_diff >= 0 && merge_cell_row(g, c_diff))
            CHECK(merge_cell_row(g, c_diff)->final_error == 0.5 - 0.004 * c_diff + 0.5,
                  "%s: cell %d: the copy of shard 0's file (first) should be kept", what, c_diff);
        if (c_failed_done >= 0 && merge_cell_row(g, c_failed_done))
            CHECK(merge_cell_row(g, c_failed_done)->status == CELL_FAILED &&
                      strstr(merge_cell_row(g, c_failed_done)->reason, "loss diverged") != NULL,
                  "%s: cell %d: the failed copy (first file) should be kept with its reason", what, c_failed_done);

        /* merge_write, then read back: rows, curves and weights of the kept copies. */
        if (pass == 0) {
            const char *out = in_tmp("merged.h5");
            rc = merge_write(g, out, err, sizeof err);
            CHECK(rc == 0, "merge_write: %s", err);
            store_results r;
            rc = rc == 0 ? store_read(&r, out, 1, err, sizeof err) : -1;
            CHECK(rc == 0, "store_read of the merged file: %s", err);
            if (rc == 0) {
                CHECK(r.shard.index == 0 && r.shard.count == 0 && r.shard.merged_from == NFILE,
                      "merged file: shard %d/%d merged_from %d", r.shard.index, r.shard.count, r.shard.merged_from);
                CHECK(strcmp(r.job_text, text) == 0 && strcmp(r.job_hash, m->job_hash) == 0,
                      "merged file: another job text or hash");
                int shape = r.ncell == ncell && r.nbackbone == nbb && r.n_ft == NEV && r.n_pre == NEV;
                CHECK(shape, "merged file: %d cells, %d backbones, curves %d and %d wide", r.ncell, r.nbackbone,
                      r.n_ft, r.n_pre);
                for (int c = 0; shape && c < ncell; c++) {
                    if (cp[c].n == 0) {
                        store_cell_row pend;
                        store_cell_row_init(&pend, &spec, &cells[c]);
                        check_cell(&r.rows[c], &pend, "merged missing");
                        check_curve(r.ft_val + c * NEV, NULL, c, "finetune_val_error");
                        check_curve(r.ft_test + c * NEV, NULL, c, "finetune_test_error");
                        continue;
                    }
                    const cell_copy *k = &cp[c].c[0];
                    check_cell(&r.rows[c], &k->row, "merged");
                    check_curve(r.ft_val + c * NEV, k->val, c, "finetune_val_error");
                    check_curve(r.ft_test + c * NEV, k->test, c, "finetune_test_error");
                }
                store_reader *rd = NULL;
                CHECK(store_reader_open(&rd, out, err, sizeof err) == 0, "store_reader_open: %s", err);
                for (int b = 0; shape && b < nbb; b++) {
                    if (bp[b].n == 0) {
                        store_backbone_row pend;
                        store_backbone_row_init(&pend, &spec, &bbs[b]);
                        check_bb(&r.bb[b], &pend, "merged pending");
                        check_curve(r.pre_loss + b * NEV, NULL, b, "pretrain_loss");
                        check_curve(r.pre_error + b * NEV, NULL, b, "pretrain_error");
                        continue;
                    }
                    const bb_copy *k = &bp[b].c[0];
                    check_bb(&r.bb[b], &k->row, "merged");
                    check_curve(r.pre_loss + b * NEV, k->loss, b, "pretrain_loss");
                    check_curve(r.pre_error + b * NEV, k->error, b, "pretrain_error");
                    if (k->weights >= 0 && rd) {
                        float *want = make_weights(k->row.nparam, k->weights);
                        float *got = malloc(sizeof *got * (size_t)(k->row.nparam + 1));
                        CHECK(store_reader_weights(rd, &r.bb[b], got, err, sizeof err) == 0 &&
                                  memcmp(got, want, sizeof *got * (size_t)k->row.nparam) == 0,
                              "merged backbone %d: weights differ from the kept copy's (%s)", b, err);
                        free(want), free(got);
                    }
                }
                store_reader_close(rd);
                if (b_dup >= 0 && shape)
                    CHECK(r.bb[b_dup].final_loss == bp[b_dup].c[0].row.final_loss && bp[b_dup].c[0].file == 0,
                          "backbone %d: the copy of shard 0's file (first) should be kept", b_dup);
                store_results_free(&r);
            }
        }
        merge_free(g);
    }

    /* A running shard (its file locked, as a synlaw run holds it) is not to be resubmitted. */
    int fd = open(paths[0], O_RDONLY);
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
        merge_state *g = NULL;
        int rc = merge_gather(&g, paths, NFILE, err, sizeof err);
        CHECK(rc == 0, "merge_gather with a locked file: %s", err);
        if (rc == 0) {
            const merge_summary *m = merge_summary_of(g);
            int listed = 0;
            for (int k = 0; k < m->nresubmit; k++)
                listed += m->resubmit[k] == 0;
            CHECK(m->files[0].running == 1 && m->nrunning == 1 && listed == 0 && resub[0],
                  "locked shard 0: running %d, nrunning %d, in the resubmit list %d", m->files[0].running,
                  m->nrunning, listed);
            merge_free(g);
        }
        flock(fd, LOCK_UN);
    } else
        CHECK(0, "cannot lock %s", paths[0]);
    if (fd >= 0)
        close(fd);

    /* Another job: the same grid with another seed. Another split: 2 shards. */
    char *other = malloc(strlen(text) + 2);
    const char *seed = strstr(text, "seed: 3");
    if (seed) {
        size_t k = (size_t)(seed - text);
        memcpy(other, text, k);
        strcpy(other + k, "seed: 4");
        strcat(other, seed + 7);
        job_spec ospec;
        CHECK(job_parse_grid(&ospec, other, "other.yaml", 0, err, sizeof err) == 0, "other job: %s", err);
        char *other_path = util_strdup(in_tmp("other.h5"));
        store_shard sh = {1, NSHARD, 0};
        cell_plan *none = calloc((size_t)ncell, sizeof *none);
        bb_plan *nobb = calloc((size_t)nbb, sizeof *nobb);
        write_file(other_path, &ospec, other, &sh, none, ncell, nobb, nbb, 1);
        char *mixed[2] = {paths[0], other_path};
        expect_refused(mixed, 2, paths[0], other_path, "files of two jobs");
        char *mixed2[2] = {other_path, paths[1]};
        expect_refused(mixed2, 2, paths[1], other_path, "files of two jobs, other first");
        char *split_path = util_strdup(in_tmp("split2.h5"));
        store_shard sh2 = {0, 2, 0};
        write_file(split_path, &spec, text, &sh2, none, ncell, nobb, nbb, 0);
        char *splits[2] = {paths[0], split_path};
        expect_refused(splits, 2, paths[0], split_path, "shards of two splits");
        free(other_path), free(split_path), free(none), free(nobb);
    } else
        CHECK(0, "tiny.yaml has no 'seed: 3' line");
    char *nofile[2] = {paths[0], (char *)in_tmp("no-such-shard.h5")};
    expect_refused(nofile, 2, nofile[1], NULL, "a missing input");

    for (int f = 0; f < NFILE; f++)
        free(paths[f]);
    free(other), free(want_missing_cells), free(want_failed), free(cp), free(bp), free(owner), free(bowner);
    free(cells), free(bbs), free(text);
    remove_tmpdir();
    MPI_Finalize();
    return test_summary("merge");
}
