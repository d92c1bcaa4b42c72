/* Orchestration of a sweep under MPI (see sweep.h). Rank 0 parses and broadcasts the job,
 * every rank claims cells from a shared counter and writes its own results, and rank 0
 * hands completion messages to the observer as they arrive (polled between training
 * steps). */
#include "synlaw/sweep.h"

#include "synlaw/cost.h"
#include "synlaw/idx.h"
#include "synlaw/nn.h"
#include "synlaw/sched.h"
#include "synlaw/store.h"
#include "synlaw/train.h"
#include "synlaw/util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

enum { TAG_DONE = 71, REASON_LEN = 160 };

/* A finished stage, sent to rank 0 as bytes. */
typedef struct {
    int32_t kind, index, status, rank, source;
    double final_error, seconds;
    char reason[REASON_LEN];
} done_msg;

/* An MPI call that failed: its name and what it was for, with MPI's own words. */
static int mpi_fail(int code, const char *call, const char *what, char *err, size_t errlen)
{
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(code, msg, &len);
    return util_fail(err, errlen, SL_EFAIL, "%s failed while %s: %s", call, what, msg);
}

#define MPI_TRY(call, what)                                                                      \
    do {                                                                                         \
        int mpi_rc_ = (call);                                                                    \
        if (mpi_rc_ != MPI_SUCCESS)                                                              \
            return mpi_fail(mpi_rc_, #call, what, err, errlen);                                  \
    } while (0)

/* ---- the shared work counter: MPI one-sided fetch-and-add on rank 0's window ---- */

typedef struct {
    MPI_Win win;
    long *counter;   /* rank 0's window memory */
    int ntodo;
    int live;
} work_counter;

static int counter_create(work_counter *c, MPI_Comm comm, int rank, int ntodo, char *err, size_t errlen)
{
    c->ntodo = ntodo;
    c->counter = NULL;
    c->live = 0;
    MPI_Aint size = rank == 0 ? (MPI_Aint)sizeof(long) : 0;
    MPI_TRY(MPI_Win_allocate(size, sizeof(long), MPI_INFO_NULL, comm, &c->counter, &c->win),
            "creating the shared work counter");
    c->live = 1;
    MPI_TRY(MPI_Win_set_errhandler(c->win, MPI_ERRORS_RETURN), "creating the shared work counter");
    if (rank == 0) {
        MPI_TRY(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, c->win), "resetting the work counter");
        *c->counter = 0;
        MPI_TRY(MPI_Win_unlock(0, c->win), "resetting the work counter");
    }
    MPI_TRY(MPI_Barrier(comm), "starting the sweep");
    return 0;
}

/* *pos: next position in the order to run, or -1 when all are claimed. */
static int counter_next(work_counter *c, int *pos, char *err, size_t errlen)
{
    long one = 1, got = 0;
    MPI_TRY(MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, c->win), "claiming the next cell");
    MPI_TRY(MPI_Fetch_and_op(&one, &got, MPI_LONG, 0, 0, MPI_SUM, c->win), "claiming the next cell");
    MPI_TRY(MPI_Win_unlock(0, c->win), "claiming the next cell");
    *pos = got < c->ntodo ? (int)got : -1;
    return 0;
}

static void counter_free(work_counter *c)
{
    if (c->live)
        MPI_Win_free(&c->win);
    c->live = 0;
}

/* ---- progress on rank 0 ---- */

typedef struct {
    const job_spec *spec;
    const job_cell *cells;
    const job_backbone *bb;
    const sweep_observer *obs;
    MPI_Comm comm;
    int ntodo, done;           /* cells */
    int nstage, stages;        /* messages expected and received (cells and backbones) */
    int backbones[3];          /* by source */
    double t0, total_cost, done_cost;
    cost_rates pre, ft;        /* nominal rates, for the ETA */
    int failed;                /* an MPI receive failed: stop polling */
} progress;

static void report_done(progress *p, const done_msg *m)
{
    p->stages++;
    sweep_event e = {.kind = m->kind, .spec = p->spec, .status = m->status,
                     .final_error = m->final_error, .seconds = m->seconds, .rank = m->rank,
                     .reason = m->reason};
    if (m->kind == SWEEP_EVENT_CELL) {
        e.cell = &p->cells[m->index];
        p->done++;
        p->done_cost += cost_finetune(p->spec, e.cell, &p->ft);
    } else {
        e.backbone = &p->bb[m->index];
        e.source = (sweep_source)m->source;
        p->backbones[m->source]++;
        if (m->source == SWEEP_PRETRAINED)
            p->done_cost += cost_backbone(p->spec, e.backbone, &p->pre);
    }
    if (!p->obs || !p->obs->event)
        return;
    double elapsed = util_clock() - p->t0;
    e.done = p->done;
    e.total = p->ntodo;
    e.eta = p->done_cost > 0 ? elapsed * (p->total_cost - p->done_cost) / p->done_cost : NAN;
    p->obs->event(p->obs->user, &e);
}

/* Rank 0: hand every completion message that has arrived to the observer (block: wait for
 * one); this also drives MPI progress for the one-sided counter. */
static int drain(progress *p, int block, char *err, size_t errlen)
{
    for (;;) {
        int flag = 0;
        MPI_Status stt;
        if (block) {
            MPI_TRY(MPI_Probe(MPI_ANY_SOURCE, TAG_DONE, p->comm, &stt), "waiting for finished cells");
            flag = 1;
        } else {
            MPI_TRY(MPI_Iprobe(MPI_ANY_SOURCE, TAG_DONE, p->comm, &flag, &stt), "polling for finished cells");
        }
        if (!flag)
            return 0;
        done_msg m;
        MPI_TRY(MPI_Recv(&m, (int)sizeof m, MPI_BYTE, stt.MPI_SOURCE, TAG_DONE, p->comm, MPI_STATUS_IGNORE),
                "receiving a finished cell");
        m.reason[REASON_LEN - 1] = '\0';
        report_done(p, &m);
        if (block)
            return 0;
    }
}

static void poll_rank0(void *user)
{
    progress *p = user;
    char err[256];
    if (!p->failed && drain(p, 0, err, sizeof err) != 0)
        p->failed = 1; /* the final blocking drain reports the error */
}

/* ---- agreement ---- */

/* Every rank learns the worst status (SL_EINPUT before SL_EFAIL) and the message of the
 * lowest rank that failed with it. */
static int agree(int rc, MPI_Comm comm, char *err, size_t errlen)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int worst = rc;
    if (MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS)
        return util_fail(err, errlen, SL_EFAIL, "MPI_Allreduce failed while agreeing on a status");
    if (worst == 0)
        return 0;
    int mine = rc == worst ? rank : size, first = size;
    if (MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS ||
        MPI_Bcast(err, (int)errlen, MPI_CHAR, first, comm) != MPI_SUCCESS)
        return util_fail(err, errlen, SL_EFAIL, "MPI failed while passing on an error");
    return worst;
}

/* ---- output file ---- */

char *sweep_shard_path(const char *dir, const char *job_name, int index, int count)
{
    int w = snprintf(NULL, 0, "%d", count);
    char name[256];
    snprintf(name, sizeof name, "%s-shard-%0*d-of-%0*d.h5", job_name, w, index, w, count);
    return util_join_path(dir, name);
}

static int locking_disabled(void)
{
    const char *e = getenv("HDF5_USE_FILE_LOCKING");
    return e && (strcasecmp(e, "FALSE") == 0 || strcmp(e, "0") == 0);
}

/* Rank 0: an exclusive flock on the output for the duration of the run (-1 when refused,
 * -2 when locking is disabled). The lock goes with the process, so a killed run leaves none. */
static int lock_output(const char *path, char *err, size_t errlen)
{
    if (locking_disabled())
        return -2;
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0) {
        util_fail(err, errlen, SL_EFAIL, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            util_fail(err, errlen, SL_EFAIL, "%s: in use by another synlaw run (it holds the file lock); "
                      "wait for it or stop it, or write elsewhere", path);
        else
            util_fail(err, errlen, SL_EFAIL, "%s: cannot lock: %s (on file systems without locks, set "
                      "HDF5_USE_FILE_LOCKING=FALSE and make sure only one run writes the file)",
                      path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static void unlock_output(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the flock */
}

enum { MODE_CREATE = 0, MODE_RESUME = 1 };

/* What rank 0 decides before anything runs. */
typedef struct {
    job_spec spec;
    char *text;          /* job file text */
    char *path;          /* results file */
    int mode;
    int lock_fd;
    int created;         /* rank 0 created the (empty) file: remove it if setup fails */
} plan_t;

int sweep_validate(job_spec *spec, char *err, size_t errlen)
{
    int rc = data_measure(&spec->shape, &spec->data, err, errlen);
    if (rc != SL_OK)
        return rc;
    const data_shape *sh = &spec->shape;
    char train[DATA_WHERE_LEN], test[sizeof train];
    data_describe(&spec->data, DATA_TRAIN, train, sizeof train);
    data_describe(&spec->data, DATA_TEST, test, sizeof test);
    for (int i = 0; i < spec->n_ftsize; i++)
        if (spec->ftsize[i] > sh->pool)
            return util_fail(err, errlen, SL_EINPUT, "axes.finetune_size: %ld exceeds the %d training "
                             "images of %s that fine-tuning may use (the last %d are the validation "
                             "split)", spec->ftsize[i], sh->pool, train, sh->validation);
    if (spec->finetune.eval_split != EVAL_VALIDATION && spec->finetune.eval_size > sh->test_count)
        return util_fail(err, errlen, SL_EINPUT, "finetune.eval_size: %d exceeds the %d test images of "
                         "%s", spec->finetune.eval_size, sh->test_count, test);
    for (int m = 0; m < spec->n_model; m++) {
        nn_arch a;
        if (nn_arch_build(&a, spec->model[m], sh->rows, sh->cols, sh->channels, sh->classes) != 0)
            return util_fail(err, errlen, SL_EINPUT, "axes.model: %s cannot take %dx%d images (its "
                             "pooling would leave nothing)", spec->model[m], sh->rows, sh->cols);
    }
    if (spec->pretrain_from[0]) {
        store_results res;
        char why[1024];
        if (store_read(&res, spec->pretrain_from, 0, why, sizeof why) != 0)
            return util_fail(err, errlen, SL_EINPUT, "pretrain.from: %s", why);
        int version = res.version;
        store_results_free(&res);
        if (version < 2)
            return util_fail(err, errlen, SL_EINPUT, "pretrain.from: %s is in results format %d, which "
                             "keeps no backbones", spec->pretrain_from, version);
    }
    return SL_OK;
}

/* Rank 0: job, output path, mode and lock. */
static int prepare(const sweep_options *opt, plan_t *pl, char *err, size_t errlen)
{
    struct stat sb;
    int rc;
    pl->text = job_read_file(opt->job_path, err, errlen);
    if (!pl->text || job_parse(&pl->spec, pl->text, opt->job_path, err, errlen) != 0)
        return SL_EINPUT;
    if ((rc = sweep_validate(&pl->spec, err, errlen)) != SL_OK)
        return rc;
    int ncell = job_cell_count(&pl->spec);
    if (opt->shard_count > 0 && opt->shard_count > ncell)
        return util_fail(err, errlen, SL_EINPUT, "--shard %d/%d: more shards than the %d cells of the grid",
                         opt->shard_index, opt->shard_count, ncell);
    size_t ol = strlen(opt->out_path);
    int is_dir = stat(opt->out_path, &sb) == 0 && S_ISDIR(sb.st_mode);
    if (opt->shard_count > 0 && (is_dir || (ol && opt->out_path[ol - 1] == '/'))) {
        if (!is_dir && mkdir(opt->out_path, 0755) != 0 && errno != EEXIST)
            return util_fail(err, errlen, SL_EFAIL, "%s: cannot create the shard directory: %s",
                             opt->out_path, strerror(errno));
        pl->path = sweep_shard_path(opt->out_path, pl->spec.name, opt->shard_index, opt->shard_count);
    } else if (is_dir) {
        return util_fail(err, errlen, SL_EINPUT,
                         "%s: is a directory; -o takes a file name (a directory only with --shard)",
                         opt->out_path);
    } else {
        pl->path = util_strdup(opt->out_path);
    }
    if (!pl->path)
        return util_fail(err, errlen, SL_EFAIL, "out of memory");
    int exists = stat(pl->path, &sb) == 0;
    if (exists && sb.st_size == 0) /* created, then killed before the layout was written */
        exists = 0;
    if (exists && !opt->resume && !opt->force)
        return util_fail(err, errlen, SL_EINPUT, "%s: already exists; results are never overwritten silently "
                         "(--resume continues it, --force replaces it, or choose another -o)", pl->path);
    pl->mode = exists && opt->resume ? MODE_RESUME : MODE_CREATE;
    pl->created = stat(pl->path, &sb) != 0;
    pl->lock_fd = lock_output(pl->path, err, errlen);
    return pl->lock_fd == -1 ? SL_EFAIL : 0;
}

/* Broadcast a malloc'ed string from rank 0 (*s allocated on the other ranks). */
static int bcast_string(char **s, int rank, MPI_Comm comm, const char *what, char *err, size_t errlen)
{
    long len = rank == 0 ? (long)strlen(*s) : 0;
    MPI_TRY(MPI_Bcast(&len, 1, MPI_LONG, 0, comm), what);
    if (rank != 0) {
        *s = malloc((size_t)len + 1);
        if (!*s)
            return util_fail(err, errlen, SL_EFAIL, "out of memory for %ld bytes while %s", len + 1, what);
    }
    if (len + 1 > 0x7fffffffL)
        return util_fail(err, errlen, SL_EINPUT, "%ld bytes are too many to broadcast while %s", len, what);
    MPI_TRY(MPI_Bcast(*s, (int)len + 1, MPI_CHAR, 0, comm), what);
    return 0;
}

/* Every rank: the job, mode and path from rank 0. */
static int share_plan(plan_t *pl, int rank, MPI_Comm comm, char *err, size_t errlen)
{
    MPI_TRY(MPI_Bcast(&pl->spec, (int)sizeof pl->spec, MPI_BYTE, 0, comm), "broadcasting the job");
    MPI_TRY(MPI_Bcast(&pl->mode, 1, MPI_INT, 0, comm), "broadcasting the job");
    int rc = bcast_string(&pl->path, rank, comm, "broadcasting the output path", err, errlen);
    if (rc == 0)
        rc = bcast_string(&pl->text, rank, comm, "broadcasting the job text", err, errlen);
    return rc;
}

/* Backbones of the file of pretrain.from that this job can reuse (same key, done, weights). */
typedef struct {
    store_results res;   /* that file's tables and curves */
    int *match;          /* [nbackbone] row in res.bb, or -1 */
    int nmatch;
    store_reader *reader;/* opened on first use */
} from_file;

static void from_free(from_file *f)
{
    store_results_free(&f->res);
    free(f->match);
    store_reader_close(f->reader);
    memset(f, 0, sizeof *f);
}

static int from_load(from_file *f, const job_spec *spec, const job_backbone *bb, int nbb, char *err,
                     size_t errlen)
{
    memset(f, 0, sizeof *f);
    if (!spec->pretrain_from[0])
        return 0;
    char why[1024];
    if (store_read(&f->res, spec->pretrain_from, 1, why, sizeof why) != 0)
        return util_fail(err, errlen, SL_EINPUT, "pretrain.from: %s", why);
    if (f->res.version < 2)
        return util_fail(err, errlen, SL_EINPUT, "pretrain.from: %s is in results format %d, which keeps "
                         "no backbones", spec->pretrain_from, f->res.version);
    f->match = malloc(sizeof *f->match * (size_t)(nbb + 1));
    if (!f->match)
        return util_fail(err, errlen, SL_EFAIL, "out of memory for %d backbones", nbb);
    for (int b = 0; b < nbb; b++) {
        uint64_t key = job_backbone_key(spec, &bb[b]);
        f->match[b] = -1;
        for (int i = 0; i < f->res.nbackbone && f->match[b] < 0; i++) {
            const store_backbone_row *r = &f->res.bb[i];
            if (r->key == key && r->status == CELL_DONE && r->weights)
                f->match[b] = i;
        }
        f->nmatch += f->match[b] >= 0;
    }
    return 0;
}

/* Everything a rank needs to run its tasks. */
typedef struct {
    const job_spec *spec;
    const job_cell *cells;
    const job_backbone *bb;
    const sched_plan *plan;
    const int8_t *cell_status, *bb_status, *has_weights;
    const train_data *data;
    store *st;
    from_file *from;
    progress *prog;
    int rank, size;
} runner;

/* Hand a finished stage to rank 0 (or report it, on rank 0). */
static int send_done(runner *r, const done_msg *m, char *err, size_t errlen)
{
    if (r->rank == 0)
        report_done(r->prog, m);
    else
        MPI_TRY(MPI_Send(m, (int)sizeof *m, MPI_BYTE, 0, TAG_DONE, r->prog->comm),
                "reporting a finished stage to rank 0");
    return 0;
}

/* The parameters of a task's backbone: read back, copied from pretrain.from, or pre-trained
 * (and written). *params is malloc'ed, NULL when the backbone failed (*why says why). */
static int get_backbone(runner *r, const job_backbone *b, float **params, char *why, size_t whylen,
                        char *err, size_t errlen)
{
    const job_spec *spec = r->spec;
    char desc[96];
    job_backbone_describe(spec, b, desc, sizeof desc);
    store_backbone_row row;
    store_backbone_row_init(&row, spec, b);
    *params = NULL;
    if (r->bb_status[b->index] == CELL_FAILED) {
        snprintf(why, whylen, "its backbone %d (%s) failed (see /backbones reason)", b->index, desc);
        return 0;
    }
    size_t nparam = (size_t)row.nparam;
    done_msg m = {SWEEP_EVENT_BACKBONE, b->index, CELL_DONE, r->rank, SWEEP_RESUMED, NAN, 0, ""};
    double t0 = util_clock();
    if (r->bb_status[b->index] == CELL_DONE && r->has_weights[b->index]) {
        if (!(*params = malloc(sizeof **params * (nparam + 1))))
            return util_fail(err, errlen, SL_EFAIL, "rank %d: out of memory for backbone %d", r->rank, b->index);
        if (store_read_weights(r->st, b->index, spec->model[b->model], *params, nparam, err, errlen) != 0)
            return SL_EFAIL;
        m.seconds = util_clock() - t0;
        return send_done(r, &m, err, errlen);
    }
    int from = r->from->match ? r->from->match[b->index] : -1;
    if (from >= 0) {
        const store_results *fr = &r->from->res;
        if (!r->from->reader && store_reader_open(&r->from->reader, spec->pretrain_from, err, errlen) != 0)
            return SL_EINPUT;
        if (!(*params = malloc(sizeof **params * (nparam + 1))))
            return util_fail(err, errlen, SL_EFAIL, "rank %d: out of memory for backbone %d", r->rank, b->index);
        if (store_reader_weights(r->from->reader, &fr->bb[from], *params, err, errlen) != 0)
            return SL_EINPUT;
        row = fr->bb[from]; /* its times, losses and key; this job's index and rank */
        row.index = b->index;
        row.reused = 1;
        row.rank = r->rank;
        row.time_write = NAN;
        const float *loss = fr->pre_loss + (size_t)from * (size_t)fr->n_pre;
        const float *error = fr->pre_error + (size_t)from * (size_t)fr->n_pre;
        if (store_write_backbone(r->st, &row, loss, error, spec->pretrain.keep ? *params : NULL, err, errlen) != 0)
            return SL_EFAIL;
        m.source = SWEEP_FROM_FILE;
        m.final_error = row.final_error;
        m.seconds = util_clock() - t0;
        return send_done(r, &m, err, errlen);
    }
    train_backbone tb;
    char terr[768];
    if (train_pretrain(&tb, spec, b, r->rank == 0 && r->size > 1 ? poll_rank0 : NULL, r->prog, terr,
                       sizeof terr) != 0) {
        train_backbone_free(&tb);
        return util_fail(err, errlen, SL_EFAIL, "rank %d: backbone %d (%s): %s", r->rank, b->index, desc, terr);
    }
    row.status = (int8_t)tb.status;
    row.rank = r->rank;
    row.final_loss = tb.n_pre ? tb.loss[tb.n_pre - 1] : NAN;
    row.final_error = tb.n_pre ? tb.error[tb.n_pre - 1] : NAN;
    row.wall_time = tb.seconds;
    row.time_generate = tb.times.generate;
    row.time_pretrain = tb.times.pretrain;
    row.time_evaluate = tb.times.evaluate;
    snprintf(row.reason, sizeof row.reason, "%s", tb.reason);
    /* A backbone done in an earlier run whose weights were not kept is computed again (the
     * same bits); its row stays as it is. */
    if (r->bb_status[b->index] != CELL_DONE &&
        store_write_backbone(r->st, &row, tb.loss, tb.error,
                             tb.status == CELL_DONE && spec->pretrain.keep ? tb.params : NULL, err, errlen) != 0) {
        train_backbone_free(&tb);
        return SL_EFAIL;
    }
    m.source = SWEEP_PRETRAINED;
    m.status = tb.status;
    m.final_error = row.final_error;
    m.seconds = tb.seconds;
    snprintf(m.reason, sizeof m.reason, "%s", tb.reason);
    if (tb.status == CELL_DONE) {
        *params = tb.params;
        tb.params = NULL;
    } else {
        snprintf(why, whylen, "its backbone %d (%s) failed: %s", b->index, desc, tb.reason);
    }
    train_backbone_free(&tb);
    return send_done(r, &m, err, errlen);
}

/* A results row from a fine-tuned cell. */
static void row_of(store_cell_row *row, const job_spec *spec, const job_cell *cell,
                   const train_result *res, int rank)
{
    store_cell_row_init(row, spec, cell);
    row->status = (int8_t)res->status;
    row->rank = rank;
    row->final_error = res->final_error;
    row->final_val_error = res->final_val_error;
    row->final_test_error = res->final_test_error;
    row->wall_time = res->seconds;
    row->time_generate = res->times.generate;
    row->time_pretrain = res->times.pretrain;
    row->time_finetune = res->times.finetune;
    row->time_evaluate = res->times.evaluate;
    snprintf(row->reason, sizeof row->reason, "%s", res->reason);
}

/* One task: its backbone, then its pending cells. */
static int run_task(runner *r, const sched_task *t, char *err, size_t errlen)
{
    const job_spec *spec = r->spec;
    float *params = NULL;
    char why[512] = "";
    int rc = 0;
    if (t->backbone >= 0 &&
        (rc = get_backbone(r, &r->bb[t->backbone], &params, why, sizeof why, err, errlen)) != 0)
        return rc;
    for (int j = 0; j < t->count && rc == 0; j++) {
        const job_cell *cell = &r->cells[r->plan->cells[t->first + j]];
        if (r->cell_status[cell->index] != CELL_PENDING)
            continue;
        char desc[128], terr[768];
        job_cell_describe(spec, cell, desc, sizeof desc);
        train_result res;
        if (t->backbone >= 0 && !params) { /* the backbone failed: so does the cell */
            memset(&res, 0, sizeof res);
            res.status = CELL_FAILED;
            res.final_error = res.final_val_error = res.final_test_error = NAN;
            snprintf(res.reason, sizeof res.reason, "%.159s", why);
        } else if (train_finetune(&res, spec, cell, params, r->data, r->rank == 0 && r->size > 1 ? poll_rank0 : NULL,
                                  r->prog, terr, sizeof terr) != 0) {
            train_result_free(&res);
            rc = util_fail(err, errlen, SL_EFAIL, "rank %d: cell %d (%s): %s", r->rank, cell->index, desc, terr);
            break;
        }
        store_cell_row row;
        row_of(&row, spec, cell, &res, r->rank);
        int w = store_write_cell(r->st, &row, res.val_error, res.test_error, terr, sizeof terr);
        done_msg m = {SWEEP_EVENT_CELL, cell->index, res.status, r->rank, 0, res.final_error, res.seconds, ""};
        snprintf(m.reason, sizeof m.reason, "%s", res.reason);
        train_result_free(&res);
        if (w != 0)
            rc = util_fail(err, errlen, SL_EFAIL, "rank %d: cell %d (%s): %s", r->rank, cell->index, desc, terr);
        else
            rc = send_done(r, &m, err, errlen);
    }
    free(params);
    return rc;
}

/* This rank's tasks: claim, run, report. Returns 0 or a local failure. */
static int run_tasks(runner *r, work_counter *counter, const int *todo, char *err, size_t errlen)
{
    int pos = -1;
    for (;;) {
        if (counter_next(counter, &pos, err, errlen) != 0)
            return SL_EFAIL;
        if (pos < 0)
            return 0;
        int rc = run_task(r, &r->plan->tasks[todo[pos]], err, errlen);
        if (rc != 0)
            return rc;
    }
}

int sweep_run(const sweep_options *opt, MPI_Comm parent, const sweep_observer *obs,
              sweep_summary *sum, char *err, size_t errlen)
{
    memset(sum, 0, sizeof *sum);
    if (err && errlen)
        err[0] = '\0';
    MPI_Comm comm;
    MPI_TRY(MPI_Comm_dup(parent, &comm), "setting up the sweep's communicator");
    int rank, size, rc = 0;
    MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    sum->ranks = size;
    plan_t pl = {.lock_fd = -2};
    train_data data;
    int have_data = 0, ncell = 0, nbb = 0;
    job_cell *cells = NULL;
    job_backbone *bb = NULL;
    sched_plan sp = {0};
    int *owner = NULL, *todo = NULL;
    int8_t *status = NULL, *bb_status = NULL, *has_weights = NULL;
    store *st = NULL;
    work_counter counter = {0};
    from_file from = {0};

    if (rank == 0)
        rc = prepare(opt, &pl, err, errlen);
    if ((rc = agree(rc, comm, err, errlen)) != 0)
        goto cleanup;
    if ((rc = agree(share_plan(&pl, rank, comm, err, errlen), comm, err, errlen)) != 0)
        goto cleanup;

    rc = train_data_load(&data, &pl.spec, err, errlen) != 0 ? SL_EINPUT : 0;
    have_data = rc == 0;
    if ((rc = agree(rc, comm, err, errlen)) != 0)
        goto cleanup;

    ncell = job_cell_count(&pl.spec);
    nbb = job_backbone_count(&pl.spec);
    cells = malloc(sizeof *cells * (size_t)(ncell + 1));
    bb = malloc(sizeof *bb * (size_t)(nbb + 1));
    todo = malloc(sizeof *todo * (size_t)(ncell + 1));
    status = calloc((size_t)ncell + 1, sizeof *status);
    bb_status = calloc((size_t)nbb + 1, sizeof *bb_status);
    has_weights = calloc((size_t)nbb + 1, sizeof *has_weights);
    rc = 0;
    if (!cells || !bb || !todo || !status || !bb_status || !has_weights)
        rc = util_fail(err, errlen, SL_EFAIL, "rank %d: out of memory for %d cells", rank, ncell);
    if (rc == 0) {
        job_cells(&pl.spec, cells);
        job_backbones(&pl.spec, bb);
        if (sched_plan_build(&sp, &pl.spec, cells, ncell, bb, nbb, NULL, NULL) != 0 ||
            !(owner = malloc(sizeof *owner * (size_t)(sp.ntask + 1))) ||
            (opt->shard_count > 0 && sched_shards(&sp, opt->shard_count, owner) != 0))
            rc = util_fail(err, errlen, SL_EFAIL, "rank %d: out of memory ordering %d cells", rank, ncell);
    }
    if ((rc = agree(rc, comm, err, errlen)) != 0)
        goto cleanup;
    if ((rc = agree(from_load(&from, &pl.spec, bb, nbb, err, errlen), comm, err, errlen)) != 0)
        goto cleanup;

    store_shard shard = {opt->shard_count > 0 ? opt->shard_index : 0, opt->shard_count, 0};
    if (pl.mode == MODE_RESUME)
        rc = store_open(&st, pl.path, comm, &pl.spec, pl.text, &shard, status, bb_status, has_weights, err,
                        errlen) != 0 ? SL_EINPUT : 0;
    else
        rc = store_create(&st, pl.path, comm, &pl.spec, pl.text, opt->job_path, &shard, err, errlen) != 0
                 ? SL_EFAIL : 0;
    if ((rc = agree(rc, comm, err, errlen)) != 0)
        goto cleanup;

    /* This run's tasks, in the cost order: this shard's, with work left. */
    int nmine = 0;
    int ntask = sched_todo(&sp, opt->shard_count > 0 ? owner : NULL, opt->shard_index, status, bb_status,
                           todo, &nmine);
    progress prog = {.spec = &pl.spec, .cells = cells, .bb = bb, .obs = obs, .comm = comm,
                     .t0 = util_clock()};
    cost_nominal(&prog.pre, pl.spec.pretrain.batch);
    cost_nominal(&prog.ft, pl.spec.finetune.batch);
    for (int k = 0; k < ntask; k++) {
        const sched_task *t = &sp.tasks[todo[k]];
        if (t->backbone >= 0 && bb_status[t->backbone] != CELL_FAILED) {
            prog.nstage++;
            if (bb_status[t->backbone] == CELL_PENDING && !(from.match && from.match[t->backbone] >= 0))
                prog.total_cost += cost_backbone(&pl.spec, &bb[t->backbone], &prog.pre);
        }
        for (int j = 0; j < t->count; j++) {
            const job_cell *c = &cells[sp.cells[t->first + j]];
            if (status[c->index] == CELL_PENDING) {
                prog.ntodo++;
                prog.nstage++;
                prog.total_cost += cost_finetune(&pl.spec, c, &prog.ft);
            }
        }
    }
    if (rank == 0 && obs && obs->start) {
        sweep_start s = {&pl.spec, pl.path, pl.mode == MODE_RESUME, ncell, nbb, nmine, prog.ntodo, ntask,
                         from.nmatch, size, opt->shard_index, opt->shard_count};
        obs->start(obs->user, &s);
    }
    if ((rc = agree(counter_create(&counter, comm, rank, ntask, err, errlen), comm, err, errlen)) != 0)
        goto cleanup;

    runner run = {&pl.spec, cells, bb, &sp, status, bb_status, has_weights, &data, st, &from, &prog, rank, size};
    rc = run_tasks(&run, &counter, todo, err, errlen);
    if (rc != 0) {
        sum->local_failure = 1; /* the other ranks go on claiming tasks: only an abort stops them */
        goto cleanup;
    }
    if (rank == 0)
        while (prog.stages < prog.nstage)
            if ((rc = drain(&prog, 1, err, errlen)) != 0) {
                sum->local_failure = 1;
                goto cleanup;
            }
    rc = MPI_Barrier(comm) == MPI_SUCCESS ? 0 : util_fail(err, errlen, SL_EFAIL, "MPI_Barrier failed at the end of the sweep");
    counter_free(&counter);
    if (store_close(st) != 0 && rc == 0)
        rc = util_fail(err, errlen, SL_EFAIL, "rank %d: cannot close %s", rank, pl.path);
    st = NULL;
    if ((rc = agree(rc, comm, err, errlen)) != 0)
        goto cleanup;
    sum->ncell_run = prog.ntodo;
    memcpy(sum->backbones, prog.backbones, sizeof sum->backbones);
    MPI_Bcast(sum->backbones, 3, MPI_INT, 0, comm);
    sum->seconds = util_clock() - prog.t0;
    sum->path = pl.path;
    pl.path = NULL;

cleanup:
    if (!sum->local_failure) {
        counter_free(&counter);
        if (st && store_close(st) != 0 && rc == 0)
            rc = util_fail(err, errlen, SL_EFAIL, "cannot close %s", pl.path);
        if (rc != 0 && rank == 0 && pl.created && pl.path)
            remove(pl.path);
        MPI_Comm_free(&comm);
    }
    unlock_output(pl.lock_fd);
    if (have_data)
        train_data_free(&data);
    from_free(&from);
    sched_plan_free(&sp);
    free(cells), free(bb), free(owner), free(todo), free(status), free(bb_status), free(has_weights);
    free(pl.text), free(pl.path);
    return rc;
}

void sweep_summary_free(sweep_summary *s)
{
    if (!s)
        return;
    free(s->path);
    s->path = NULL;
}
