/* Orchestration of a sweep under MPI (see sweep.h). Rank 0 parses and broadcasts the job,
 * every rank claims cells from a shared counter and writes its own results, and rank 0
 * hands completion messages to the observer as they arrive (polled between training
 * steps). */
#include "synlaw/sweep.h"

#include "synlaw/cost.h"
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

/* A finished cell, sent to rank 0 as bytes. */
typedef struct {
    int32_t index, status, rank;
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
    const sweep_observer *obs;
    MPI_Comm comm;
    int ntodo, done;
    double t0, total_cost, done_cost;
    cost_rates pre, ft;  /* nominal rates, for the ETA */
    int failed;          /* an MPI receive failed: stop polling */
} progress;

static void report_done(progress *p, const done_msg *m)
{
    const job_cell *c = &p->cells[m->index];
    p->done++;
    p->done_cost += cost_cell(p->spec, c, &p->pre, &p->ft);
    if (!p->obs || !p->obs->cell)
        return;
    double elapsed = util_clock() - p->t0;
    sweep_event e = {.spec = p->spec, .cell = c, .status = m->status, .final_error = m->final_error,
                     .seconds = m->seconds, .rank = m->rank, .done = p->done, .total = p->ntodo,
                     .eta = p->done_cost > 0 ? elapsed * (p->total_cost - p->done_cost) / p->done_cost : NAN,
                     .reason = m->reason};
    p->obs->cell(p->obs->user, &e);
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

/* Rank 0: job, output path, mode and lock. */
static int prepare(const sweep_options *opt, plan_t *pl, char *err, size_t errlen)
{
    struct stat sb;
    pl->text = job_read_file(opt->job_path, err, errlen);
    if (!pl->text || job_parse(&pl->spec, pl->text, opt->job_path, err, errlen) != 0)
        return SL_EINPUT;
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

/* A results row from a trained cell. */
static void row_of(store_cell_row *row, const job_spec *spec, const job_cell *cell,
                   const train_result *res, int rank)
{
    store_cell_row_init(row, spec, cell);
    row->status = (int8_t)res->status;
    row->rank = rank;
    row->final_error = res->final_error;
    row->wall_time = res->seconds;
    row->time_generate = res->times.generate;
    row->time_pretrain = res->times.pretrain;
    row->time_finetune = res->times.finetune;
    row->time_evaluate = res->times.evaluate;
    snprintf(row->reason, sizeof row->reason, "%s", res->reason);
}

/* This rank's cells: claim, train, write, report. Returns 0 or SL_EFAIL (local failure). */
static int run_cells(work_counter *counter, progress *prog, store *st, const job_spec *spec,
                     const job_cell *cells, const int *todo, const train_data *data, int rank,
                     int size, char *err, size_t errlen)
{
    int pos = -1;
    for (;;) {
        if (counter_next(counter, &pos, err, errlen) != 0)
            return SL_EFAIL;
        if (pos < 0)
            return 0;
        const job_cell *cell = &cells[todo[pos]];
        train_result res;
        char desc[128], why[768];
        job_cell_describe(spec, cell, desc, sizeof desc);
        if (train_cell(&res, spec, cell, data, rank == 0 && size > 1 ? poll_rank0 : NULL, prog, why,
                       sizeof why) != 0)
            return util_fail(err, errlen, SL_EFAIL, "rank %d: cell %d (%s): %s", rank, cell->index, desc, why);
        store_cell_row row;
        row_of(&row, spec, cell, &res, rank);
        int w = store_write_cell(st, &row, res.ft_error, res.n_pre ? res.pre_loss : NULL,
                                 res.n_pre ? res.pre_error : NULL, why, sizeof why);
        done_msg m = {cell->index, res.status, rank, res.final_error, res.seconds, ""};
        snprintf(m.reason, sizeof m.reason, "%s", res.reason);
        train_result_free(&res);
        if (w != 0)
            return util_fail(err, errlen, SL_EFAIL, "rank %d: cell %d (%s): %s", rank, cell->index, desc, why);
        if (rank == 0)
            report_done(prog, &m);
        else
            MPI_TRY(MPI_Send(&m, (int)sizeof m, MPI_BYTE, 0, TAG_DONE, prog->comm),
                    "reporting a finished cell to rank 0");
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
    int have_data = 0, ncell = 0;
    job_cell *cells = NULL;
    int *order = NULL, *owner = NULL, *todo = NULL;
    int8_t *status = NULL;
    store *st = NULL;
    work_counter counter = {0};

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
    cells = malloc(sizeof *cells * (size_t)(ncell + 1));
    order = malloc(sizeof *order * (size_t)(ncell + 1));
    owner = malloc(sizeof *owner * (size_t)(ncell + 1));
    todo = malloc(sizeof *todo * (size_t)(ncell + 1));
    status = calloc((size_t)ncell + 1, sizeof *status);
    rc = 0;
    if (!cells || !order || !owner || !todo || !status)
        rc = util_fail(err, errlen, SL_EFAIL, "rank %d: out of memory for %d cells", rank, ncell);
    if (rc == 0) {
        job_cells(&pl.spec, cells);
        if (sched_order(&pl.spec, cells, ncell, order) != 0 ||
            (opt->shard_count > 0 && sched_shards(&pl.spec, cells, ncell, opt->shard_count, owner) != 0))
            rc = util_fail(err, errlen, SL_EFAIL, "rank %d: out of memory ordering %d cells", rank, ncell);
    }
    if ((rc = agree(rc, comm, err, errlen)) != 0)
        goto cleanup;

    store_shard shard = {opt->shard_count > 0 ? opt->shard_index : 0, opt->shard_count, 0};
    if (pl.mode == MODE_RESUME)
        rc = store_open(&st, pl.path, comm, &pl.spec, pl.text, &shard, status, err, errlen) != 0 ? SL_EINPUT : 0;
    else
        rc = store_create(&st, pl.path, comm, &pl.spec, pl.text, opt->job_path, &shard, err, errlen) != 0
                 ? SL_EFAIL : 0;
    if ((rc = agree(rc, comm, err, errlen)) != 0)
        goto cleanup;

    /* This run's cells, in the cost order: this shard's, not finished in the file. */
    int nmine = 0;
    int ntodo = sched_todo(order, ncell, opt->shard_count > 0 ? owner : NULL, opt->shard_index, status,
                           todo, &nmine);
    progress prog = {.spec = &pl.spec, .cells = cells, .obs = obs, .comm = comm, .ntodo = ntodo,
                     .t0 = util_clock()};
    cost_nominal(&prog.pre, pl.spec.pretrain.batch);
    cost_nominal(&prog.ft, pl.spec.finetune.batch);
    for (int k = 0; k < ntodo; k++)
        prog.total_cost += cost_cell(&pl.spec, &cells[todo[k]], &prog.pre, &prog.ft);
    if (rank == 0 && obs && obs->start) {
        sweep_start s = {&pl.spec, pl.path, pl.mode == MODE_RESUME, ncell, nmine, ntodo, size,
                         opt->shard_index, opt->shard_count};
        obs->start(obs->user, &s);
    }
    if ((rc = agree(counter_create(&counter, comm, rank, ntodo, err, errlen), comm, err, errlen)) != 0)
        goto cleanup;

    rc = run_cells(&counter, &prog, st, &pl.spec, cells, todo, &data, rank, size, err, errlen);
    if (rc != 0) {
        sum->local_failure = 1; /* the other ranks go on claiming cells: only an abort stops them */
        goto cleanup;
    }
    if (rank == 0)
        while (prog.done < ntodo)
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
    sum->ncell_run = ntodo;
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
    free(cells), free(order), free(owner), free(todo), free(status), free(pl.text), free(pl.path);
    return rc;
}

void sweep_summary_free(sweep_summary *s)
{
    if (!s)
        return;
    free(s->path);
    s->path = NULL;
}
