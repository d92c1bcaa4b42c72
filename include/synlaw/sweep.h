/* A sweep under MPI: parse on rank 0, broadcast, run every cell (or one shard's cells)
 * across all ranks with dynamic largest-first balancing, and stream results into the HDF5
 * file. With resume, cells already done or failed in the file are skipped and cells that
 * were in flight are run again. Rank 0 holds an exclusive flock on the output while the run
 * lasts, so a second run on the same file stops with an error (unless
 * HDF5_USE_FILE_LOCKING=FALSE, for file systems without locks).
 *
 * The unit of work is a task (sched.h): a backbone pre-trained once and fine-tuned for every
 * setting on the same rank, or a scratch cell. Backbones whose weights are already in the
 * output (resume) or in the file of pretrain.from (same key) are read instead of pre-trained.
 *
 * The library reports progress through an observer (called on rank 0 only) and returns a
 * status; it prints nothing and never aborts. MPI calls run on a duplicate of the caller's
 * communicator with MPI_ERRORS_RETURN, and each failure comes back as a message naming the
 * call and what it was doing. */
#ifndef SYNLAW_SWEEP_H
#define SYNLAW_SWEEP_H

#include "synlaw/job.h"

#include <mpi.h>
#include <stddef.h>

typedef struct {
    const char *job_path;
    const char *out_path;   /* a file; with shards, a directory (or the shard file) */
    int force;              /* overwrite an existing results file */
    int resume;             /* continue an existing output file (or start it if missing) */
    int shard_index, shard_count; /* run shard I of N (count 0: the whole grid) */
} sweep_options;

/* The start of the run, after the output is set up. */
typedef struct {
    const job_spec *spec;
    const char *path;       /* the results file being written */
    int resume;             /* 1: an existing file is continued */
    int ncell;              /* cells of the grid */
    int nbackbone;          /* backbones of the grid */
    int nmine;              /* cells of this run's part (the shard, or the grid) */
    int ntodo;              /* of which still to run */
    int ntask;              /* tasks with work left (a backbone and its cells, or a scratch cell) */
    int nfrom;              /* backbones available in the file of pretrain.from */
    int ranks;
    int shard_index, shard_count;
} sweep_start;

/* Where a backbone a task needed came from. */
typedef enum {
    SWEEP_PRETRAINED = 0,   /* pre-trained by this run */
    SWEEP_RESUMED = 1,      /* read from the output file (pre-trained by an earlier run) */
    SWEEP_FROM_FILE = 2,    /* copied from the file of pretrain.from */
} sweep_source;

typedef enum { SWEEP_EVENT_CELL = 0, SWEEP_EVENT_BACKBONE = 1 } sweep_event_kind;

/* A finished stage: a cell (done or failed), or a backbone made available to its cells. */
typedef struct {
    sweep_event_kind kind;
    const job_spec *spec;
    const job_cell *cell;         /* kind CELL */
    const job_backbone *backbone; /* kind BACKBONE */
    sweep_source source;          /* kind BACKBONE */
    int status;             /* CELL_DONE or CELL_FAILED */
    double final_error;     /* cell: last fine-tuning error on the fit's split; backbone: last
                               held-out synthetic error (NaN when failed) */
    double seconds;         /* wall time of the stage */
    int rank;               /* that ran it */
    int done, total;        /* cells finished in this run so far, of total */
    double eta;             /* predicted seconds left, from the cost model */
    const char *reason;     /* why it failed ("" when done) */
} sweep_event;

/* Called on rank 0 only, between training steps of rank 0's own stages; either may be NULL. */
typedef struct {
    void (*start)(void *user, const sweep_start *s);
    void (*event)(void *user, const sweep_event *e);
    void *user;
} sweep_observer;

typedef struct {
    char *path;             /* the results file (owned; free with sweep_summary_free) */
    int ncell_run;          /* cells run by this invocation (all ranks) */
    int backbones[3];       /* backbones by sweep_source: pre-trained, read back, copied (all ranks) */
    double seconds;         /* wall time of the run */
    int ranks;
    int local_failure;      /* 1: this rank failed while the others went on; they cannot
                               finish, so the caller must MPI_Abort */
} sweep_summary;

/* The file name of shard I of N in a directory: DIR/JOBNAME-shard-III-of-NNN.h5, with the
 * indices zero-padded to the width of N. Returns a malloc'ed string, NULL on out-of-memory. */
char *sweep_shard_path(const char *dir, const char *job_name, int index, int count);

/* Everything about a job that sweep_run refuses before any work starts, checked without
 * running (serial, no MPI): the data (data_measure: both splits read in full, their shapes,
 * types, label range and values checked, the training split's statistics measured into
 * spec->shape), every finetune_size within the fine-tuning pool, finetune.eval_size within
 * the test set (and the validation split) when it is evaluated, the models' fit to the image
 * size, and the file of pretrain.from (a readable results file of format 2). `synlaw check`
 * and sweep_run (rank 0, before creating any output) both call it, so check passes exactly
 * the jobs run accepts. SL_OK, or SL_EINPUT with err naming the file (SL_EFAIL: out of
 * memory). */
int sweep_validate(job_spec *spec, char *err, size_t errlen);

/* Collective over comm. Returns SL_OK, SL_EINPUT (job file, options, data, an output of
 * another job) or SL_EFAIL (I/O, memory, MPI), the same on every rank, with the message in
 * err on every rank; except when summary->local_failure is set (see above). obs may be NULL. */
int sweep_run(const sweep_options *opt, MPI_Comm comm, const sweep_observer *obs,
              sweep_summary *summary, char *err, size_t errlen);
void sweep_summary_free(sweep_summary *s);

#endif
