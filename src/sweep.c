/* Orchestration of a sweep under MPI. Rank 0 parses and broadcasts the job, every rank
 * claims cells from the shared counter and writes its own results, rank 0 prints progress
 * as completion messages arrive (polled between training steps) and fits at the end. */
#include "synlaw/sweep.h"

#include "synlaw/report.h"
#include "synlaw/sched.h"
#include "synlaw/store.h"
#include "synlaw/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

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

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

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
    double elapsed = now() - p->t0;
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

static void default_csv(char *buf, size_t len, const char *out)
{
    size_t n = strlen(out);
    if (n > 3 && strcmp(out + n - 3, ".h5") == 0)
        snprintf(buf, len, "%.*s-fits.csv", (int)(n - 3), out);
    else
        snprintf(buf, len, "%s-fits.csv", out);
}

/* Rank 0 decides; every rank returns the same status. */
static int agree(int rc, MPI_Comm comm)
{
    int worst = rc;
    MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, comm);
    return worst;
}

int sweep_run(const sweep_options *opt, MPI_Comm comm)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    char err[1024] = "";
    job_spec spec;
    char *text = NULL;
    long text_len = 0;
    int rc = 0;

    if (rank == 0) {
        struct stat sb;
        text = job_read_file(opt->job_path, err, sizeof err);
        if (!text)
            rc = 2;
        else if (job_parse(&spec, text, opt->job_path, err, sizeof err) != 0)
            rc = 2;
        else if (!opt->force && stat(opt->out_path, &sb) == 0) {
            snprintf(err, sizeof err, "%s: already exists; results are never overwritten silently "
                     "(pass --force to replace it, or choose another -o)", opt->out_path);
            rc = 2;
        }
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
    MPI_Bcast(&text_len, 1, MPI_LONG, 0, comm);
    if (rank != 0)
        text = malloc((size_t)text_len + 1);
    MPI_Bcast(text, (int)text_len + 1, MPI_CHAR, 0, comm);

    train_data data;
    rc = train_data_load(&data, &spec, err, sizeof err) != 0 ? 2 : 0;
    if (rc && rank == 0)
        fprintf(stderr, "synlaw: %s\n", err);
    if ((rc = agree(rc, comm)) != 0) {
        free(text);
        return rc;
    }

    int ncell = job_cell_count(&spec);
    job_cell *cells = malloc(sizeof *cells * (size_t)ncell);
    int *order = malloc(sizeof *order * (size_t)ncell);
    if (!cells || !order) {
        fprintf(stderr, "synlaw: rank %d: out of memory for %d cells\n", rank, ncell);
        MPI_Abort(comm, 1);
    }
    job_cells(&spec, cells);
    sched_order(&spec, cells, ncell, order);

    store *st = NULL;
    rc = store_create(&st, opt->out_path, comm, &spec, text, opt->job_path, err, sizeof err) != 0;
    if (rc && rank == 0)
        fprintf(stderr, "synlaw: %s\n", err);
    if ((rc = agree(rc, comm)) != 0) {
        free(cells), free(order), free(text);
        train_data_free(&data);
        return 1;
    }

    progress prog = {.spec = &spec, .cells = cells, .comm = comm, .ncell = ncell,
                     .quiet = opt->quiet, .t0 = now()};
    for (int i = 0; i < ncell; i++)
        prog.total_cost += sched_cell_cost(&spec, &cells[i]);
    if (rank == 0 && !opt->quiet) {
        printf("synlaw %s: %d cells on %d rank%s -> %s\n", spec.name, ncell, size,
               size == 1 ? "" : "s", opt->out_path);
        fflush(stdout);
    }
    sched_counter counter;
    if (sched_counter_create(&counter, comm, ncell) != 0) {
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
        while (prog.done < ncell)
            drain(&prog, 1);
    MPI_Barrier(comm);
    sched_counter_free(&counter);
    rc = store_close(st) != 0;
    if (rc)
        fprintf(stderr, "synlaw: rank %d: cannot close %s\n", rank, opt->out_path);
    rc = agree(rc, comm);
    double wall = now() - prog.t0;
    train_data_free(&data);
    free(cells), free(order), free(text);
    if (rc)
        return 1;

    if (rank == 0) {
        char dur[32];
        fmt_duration(dur, sizeof dur, wall);
        printf("sweep done: %d cells in %s (%.1f s) on %d rank%s\n", ncell, dur, wall, size,
               size == 1 ? "" : "s");
        if (!opt->no_fit) {
            char csv[4096];
            if (opt->csv_path)
                snprintf(csv, sizeof csv, "%s", opt->csv_path);
            else
                default_csv(csv, sizeof csv, opt->out_path);
            analysis_options ao = analysis_default_options(FIT_SIMPLE);
            ao.bootstrap = 1000;
            if (report_fit_file(opt->out_path, &ao, csv, stdout, err, sizeof err) < 0) {
                fprintf(stderr, "synlaw: fit: %s\n", err);
                rc = 1;
            } else
                printf("fits written to %s:/fits and %s\n", opt->out_path, csv);
        }
        fflush(stdout);
    }
    MPI_Bcast(&rc, 1, MPI_INT, 0, comm);
    return rc;
}
