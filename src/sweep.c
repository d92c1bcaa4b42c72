/* Orchestration of a sweep under MPI. Rank 0 parses and broadcasts the job, every rank
 * claims cells from the shared counter and writes its own results, rank 0 prints progress
 * as completion messages arrive (polled between training steps) and fits at the end. */
#include "synlaw/sweep.h"

#include "synlaw/report.h"
#include "synlaw/sched.h"
#include "synlaw/store.h"
#include "synlaw/train.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { TAG_DONE = 71 };

typedef struct {
    double index, final_error, seconds, status, rank;
} done_msg;

typedef struct {
    const job_spec *spec;
    const job_cell *cells;
    sched_counter *counter;
    MPI_Comm comm;
    int ncell, done, quiet;
    double t0, total_cost, done_cost;
} progress;

static void fmt_duration(char *buf, size_t len, double s)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, len, "?");
    else if (s < 60)
        snprintf(buf, len, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, len, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(buf, len, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

static void report_done(progress *p, const done_msg *m)
{
    const job_cell *c = &p->cells[(int)m->index];
    p->done++;
    p->done_cost += sched_cell_cost(p->spec, c);
    if (p->quiet)
        return;
    char desc[128], eta[32];
    job_cell_describe(p->spec, c, desc, sizeof desc);
    double elapsed = train_clock() - p->t0;
    fmt_duration(eta, sizeof eta, elapsed * (p->total_cost - p->done_cost) / p->done_cost);
    if ((int)m->status == CELL_DONE)
        printf("[%*d/%d] %-40s error %.4f  %6.1fs  rank %d  ETA %s\n", (int)log10(p->ncell) + 1,
               p->done, p->ncell, desc, m->final_error, m->seconds, (int)m->rank, eta);
    else
        printf("[%*d/%d] %-40s FAILED (see /cells reason)  %6.1fs  rank %d  ETA %s\n",
               (int)log10(p->ncell) + 1, p->done, p->ncell, desc, m->seconds, (int)m->rank, eta);
    fflush(stdout);
}

/* Rank 0: print every completion message that has arrived; also drives MPI progress for
 * the one-sided counter. */
static void drain(progress *p, int block)
{
    for (;;) {
        int flag = 0;
        MPI_Status stt;
        if (block)
            MPI_Probe(MPI_ANY_SOURCE, TAG_DONE, p->comm, &stt), flag = 1;
        else
            MPI_Iprobe(MPI_ANY_SOURCE, TAG_DONE, p->comm, &flag, &stt);
        if (!flag)
            return;
        done_msg m;
        MPI_Recv(&m, 5, MPI_DOUBLE, stt.MPI_SOURCE, TAG_DONE, p->comm, MPI_STATUS_IGNORE);
        report_done(p, &m);
        if (block)
            return;
    }
}

static void poll_rank0(void *user) { drain(user, 0); }

/* Rank 0 decides; every rank returns the same status. */
static int agree(int rc, MPI_Comm comm)
{
    int worst = rc;
    MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, comm);
    return worst;
}

void sweep_shard_path(char *buf, size_t len, const char *dir, const char *job_name, int index,
                      int count)
{
    int w = snprintf(NULL, 0, "%d", count);
    size_t dl = strlen(dir);
    snprintf(buf, len, "%s%s%s-shard-%0*d-of-%0*d.h5", dir, dl && dir[dl - 1] == '/' ? "" : "/",
             job_name, w, index, w, count);
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
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            snprintf(err, errlen, "%s: in use by another synlaw run (it holds the file lock); "
                     "wait for it or stop it, or write elsewhere", path);
        else
            snprintf(err, errlen, "%s: cannot lock: %s (on file systems without locks, set "
                     "HDF5_USE_FILE_LOCKING=FALSE and make sure only one run writes the file)",
                     path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

enum { MODE_CREATE = 0, MODE_RESUME = 1 };

/* Rank 0: job, output path, mode and lock; returns an exit status. */
static int prepare(const sweep_options *opt, job_spec *spec, char **text, char *path, size_t plen,
                   int *mode, int *lock_fd, int *created, char *err, size_t errlen)
{
    struct stat sb;
    *text = job_read_file(opt->job_path, err, errlen);
    if (!*text || job_parse(spec, *text, opt->job_path, err, errlen) != 0)
        return 2;
    int ncell = job_cell_count(spec);
    if (opt->shard_count > 0 && opt->shard_count > ncell) {
        snprintf(err, errlen, "--shard %d/%d: more shards than the %d cells of the grid",
                 opt->shard_index, opt->shard_count, ncell);
        return 2;
    }
    size_t ol = strlen(opt->out_path);
    int is_dir = stat(opt->out_path, &sb) == 0 && S_ISDIR(sb.st_mode);
    if (opt->shard_count > 0 && (is_dir || (ol && opt->out_path[ol - 1] == '/'))) {
        if (!is_dir && mkdir(opt->out_path, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s: cannot create the shard directory: %s", opt->out_path, strerror(errno));
            return 1;
        }
        sweep_shard_path(path, plen, opt->out_path, spec->name, opt->shard_index, opt->shard_count);
    } else if (is_dir) {
        snprintf(err, errlen, "%s: is a directory; -o takes a file name (a directory only with --shard)",
                 opt->out_path);
        return 2;
    } else {
        snprintf(path, plen, "%s", opt->out_path);
    }
    int exists = stat(path, &sb) == 0;
    if (exists && sb.st_size == 0) /* created, then killed before the layout was written */
        exists = 0;
    if (exists && !opt->resume && !opt->force) {
        snprintf(err, errlen, "%s: already exists; results are never overwritten silently "
                 "(--resume continues it, --force replaces it, or choose another -o)", path);
        return 2;
    }
    *mode = exists && opt->resume ? MODE_RESUME : MODE_CREATE;
    *created = stat(path, &sb) != 0;
    *lock_fd = lock_output(path, err, errlen);
    return *lock_fd == -1 ? 1 : 0;
}

static void unlock_output(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the flock */
}

int sweep_run(const sweep_options *opt, MPI_Comm comm)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    char err[1024] = "", path[JOB_PATH_LEN + 128] = "";
    job_spec spec;
    char *text = NULL;
    long text_len = 0;
    int rc = 0, mode = MODE_CREATE, lock_fd = -2, created = 0;

    if (rank == 0) {
        rc = prepare(opt, &spec, &text, path, sizeof path, &mode, &lock_fd, &created, err, sizeof err);
        if (rc)
            fprintf(stderr, "synlaw: %s\n", err);
        text_len = text ? (long)strlen(text) : 0;
    }
    MPI_Bcast(&rc, 1, MPI_INT, 0, comm);
    if (rc) {
        free(text);
        return rc;
    }
    MPI_Bcast(&spec, (int)sizeof spec, MPI_BYTE, 0, comm);
    MPI_Bcast(&mode, 1, MPI_INT, 0, comm);
    MPI_Bcast(path, (int)sizeof path, MPI_CHAR, 0, comm);
    MPI_Bcast(&text_len, 1, MPI_LONG, 0, comm);
    if (rank != 0)
        text = malloc((size_t)text_len + 1);
    MPI_Bcast(text, (int)text_len + 1, MPI_CHAR, 0, comm);

    train_data data;
    rc = train_data_load(&data, &spec, err, sizeof err) != 0 ? 2 : 0;
    if (rc && rank == 0)
        fprintf(stderr, "synlaw: %s\n", err);
    if ((rc = agree(rc, comm)) != 0) {
        if (rank == 0 && created)
            remove(path);
        unlock_output(lock_fd);
        free(text);
        return rc;
    }

    int ncell = job_cell_count(&spec);
    job_cell *cells = malloc(sizeof *cells * (size_t)ncell);
    int *order = malloc(sizeof *order * (size_t)ncell);
    int *owner = malloc(sizeof *owner * (size_t)ncell);
    int8_t *status = calloc((size_t)ncell, sizeof *status);
    if (!cells || !order || !owner || !status) {
        fprintf(stderr, "synlaw: rank %d: out of memory for %d cells\n", rank, ncell);
        MPI_Abort(comm, 1);
    }
    job_cells(&spec, cells);
    sched_order(&spec, cells, ncell, order);
    if (opt->shard_count > 0)
        sched_shards(&spec, cells, ncell, opt->shard_count, owner);

    store *st = NULL;
    store_shard shard = {opt->shard_count > 0 ? opt->shard_index : 0, opt->shard_count, 0};
    if (mode == MODE_RESUME)
        rc = store_open(&st, path, comm, &spec, text, &shard, status, err, sizeof err) != 0;
    else
        rc = store_create(&st, path, comm, &spec, text, opt->job_path, &shard, err, sizeof err) != 0;
    if (rc && rank == 0)
        fprintf(stderr, "synlaw: %s\n", err);
    if ((rc = agree(rc, comm)) != 0) {
        if (rank == 0 && created)
            remove(path);
        unlock_output(lock_fd);
        free(cells), free(order), free(owner), free(status), free(text);
        train_data_free(&data);
        return mode == MODE_RESUME ? 2 : 1;
    }
    /* This run's cells, in the cost order: this shard's, not finished in the file. */
    int ntodo = 0, nmine = 0;
    for (int k = 0; k < ncell; k++) {
        int c = order[k];
        if (opt->shard_count > 0 && owner[c] != opt->shard_index)
            continue;
        nmine++;
        if (status[c] == CELL_PENDING)
            order[ntodo++] = c;
    }

    progress prog = {.spec = &spec, .cells = cells, .comm = comm, .ncell = ntodo,
                     .quiet = opt->quiet, .t0 = train_clock()};
    for (int k = 0; k < ntodo; k++)
        prog.total_cost += sched_cell_cost(&spec, &cells[order[k]]);
    if (rank == 0 && !opt->quiet) {
        char part[64] = "";
        if (opt->shard_count > 0)
            snprintf(part, sizeof part, " (shard %d/%d of %d)", opt->shard_index, opt->shard_count, ncell);
        if (mode == MODE_RESUME)
            printf("synlaw %s: resuming %s: %d of %d cells%s already finished, %d to run on %d rank%s\n",
                   spec.name, path, nmine - ntodo, nmine, part, ntodo, size, size == 1 ? "" : "s");
        else
            printf("synlaw %s: %d cells%s on %d rank%s -> %s\n", spec.name, nmine, part, size,
                   size == 1 ? "" : "s", path);
        fflush(stdout);
    }
    sched_counter counter;
    if (sched_counter_create(&counter, comm, ntodo) != 0) {
        fprintf(stderr, "synlaw: rank %d: cannot create the MPI work counter\n", rank);
        MPI_Abort(comm, 1);
    }
    prog.counter = &counter;

    int pos;
    while ((pos = sched_counter_next(&counter)) >= 0) {
        const job_cell *cell = &cells[order[pos]];
        train_result res;
        if (train_cell(&res, &spec, cell, &data, rank == 0 && size > 1 ? poll_rank0 : NULL, &prog,
                       err, sizeof err) != 0 ||
            store_write_cell(st, &spec, cell, &res, rank, err, sizeof err) != 0) {
            fprintf(stderr, "synlaw: rank %d: cell %d: %s\n", rank, cell->index, err);
            MPI_Abort(comm, 1);
        }
        if (res.status == CELL_FAILED) {
            char desc[128];
            job_cell_describe(&spec, cell, desc, sizeof desc);
            fprintf(stderr, "synlaw: cell %d (%s) failed: %s\n", cell->index, desc, res.reason);
        }
        done_msg m = {cell->index, res.final_error, res.seconds, res.status, rank};
        if (rank == 0)
            report_done(&prog, &m);
        else
            MPI_Send(&m, 5, MPI_DOUBLE, 0, TAG_DONE, comm);
        train_result_free(&res);
    }
    if (rank == 0)
        while (prog.done < ntodo)
            drain(&prog, 1);
    MPI_Barrier(comm);
    sched_counter_free(&counter);
    rc = store_close(st) != 0;
    if (rc)
        fprintf(stderr, "synlaw: rank %d: cannot close %s\n", rank, path);
    rc = agree(rc, comm);
    unlock_output(lock_fd);
    double wall = train_clock() - prog.t0;
    train_data_free(&data);
    free(cells), free(order), free(owner), free(status), free(text);
    if (rc)
        return 1;

    if (rank == 0) {
        char dur[32];
        fmt_duration(dur, sizeof dur, wall);
        printf("sweep done: %d cells in %s (%.1f s) on %d rank%s\n", ntodo, dur, wall, size,
               size == 1 ? "" : "s");
        if (opt->shard_count > 0)
            printf("shard %d/%d written to %s; join the shards with synlaw merge\n", opt->shard_index,
                   opt->shard_count, path);
        else if (!opt->no_fit && report_fit_after_run(path, opt->csv_path, stdout) != 0)
            rc = 1;
        fflush(stdout);
    }
    MPI_Bcast(&rc, 1, MPI_INT, 0, comm);
    return rc;
}
