/* The results file (parallel HDF5).
 *
 * Layout (format "synlaw-results", format_version 1), documented in README.md:
 *   /                          attributes: format, format_version, synlaw_version, job_name,
 *                              job_file, job_text, job_hash, created, ranks, n_cells,
 *                              shard_index, shard_count (0, 0: the whole grid), merged_from
 *                              (shard files joined by merge, 0 otherwise), hdf5_version,
 *                              mpi_library, openblas_config, gsl_version
 *   /cells                     [ncell] compound, one row per cell (store_cell_row)
 *   /cell                      [ncell] int32 dimension scale: cell index
 *   /curves/finetune_step      [n_ft] int32 dimension scale: fine-tuning step of each evaluation
 *   /curves/finetune_error     [ncell, n_ft] float32, real test error (NaN until written)
 *   /curves/pretrain_step      [n_pre] int32 dimension scale
 *   /curves/pretrain_loss      [ncell, n_pre] float32, training loss (NaN for scratch cells)
 *   /curves/pretrain_error     [ncell, n_pre] float32, held-out synthetic error
 *   /fits                      [nfit] compound (store_fit_row), written after the sweep
 *
 * Writing: store_create is collective and builds the whole layout, flushed to disk, with
 * every cell pending. store_write_cell is independent: the rank that ran a cell writes its
 * rows straight through MPI-IO (contiguous datasets, no caching), curves first and the
 * status last, so a row marked done is complete; a killed job loses only cells in flight.
 * Reading and fit writing are serial (one process, after the parallel file is closed). */
#ifndef SYNLAW_STORE_H
#define SYNLAW_STORE_H

#include "synlaw/job.h"
#include "synlaw/train.h"

#include <mpi.h>
#include <stdint.h>

#define STORE_FORMAT "synlaw-results"
#define STORE_FORMAT_VERSION 1

typedef struct {
    int32_t index;
    int64_t pretrain_size;
    char model[JOB_NAME_LEN];
    int32_t complexity;          /* 0 for scratch */
    char pretrain_task[16];      /* "none" for scratch */
    int64_t finetune_size;
    int32_t repeat;
    uint64_t seed;
    int8_t status;               /* cell_status: HDF5 enum pending/done/failed */
    int32_t rank;                /* MPI rank that ran the cell, -1 while pending */
    double final_error;          /* last fine-tuning test error */
    double wall_time;            /* seconds */
    double time_generate, time_pretrain, time_finetune, time_evaluate; /* seconds */
    double time_write;           /* seconds to write the cell's curves to this file */
    char reason[160];            /* failure reason, empty otherwise */
} store_cell_row;

/* One fitted group and law (see analysis.h for how each field is computed). */
typedef struct {
    char group[128];             /* the group's values, tab-separated (columns: /fits attribute
                                    group_columns) */
    char model[JOB_NAME_LEN];    /* synlaw results: the group's coordinates; from a CSV: "", */
    int32_t complexity;          /* -1, "", -1 */
    char pretrain_task[16];
    int64_t finetune_size;       /* 0 for the full law across fine-tuning sizes */
    char law[16];                /* simple, power, full */
    char loss[16];               /* linear, huber, soft-l1 (with "+log" for log residuals) */
    int32_t n_points, n_sizes;   /* points fitted; distinct n among them */
    double p[4], se[4];          /* simple: D alpha C; power: D alpha; full: delta gamma alpha beta */
    double ci_lo[4], ci_hi[4];   /* bootstrap percentile interval (NaN without bootstrap) */
    int32_t boot_samples;        /* bootstrap replicates that fitted */
    double rmse, r2, aic, bic;
    int8_t converged;
    int8_t at_bound;             /* bit i set: parameter i on a bound */
    int32_t extrap_points;       /* held-out (n, s) for the extrapolation check, 0: none */
    int64_t extrap_from;         /* smallest held-out n */
    double extrap_error;         /* mean |predicted - observed mean| over the held-out (n, s) */
    int64_t n_max;               /* largest n fitted */
    double pred_2x, pred_10x;    /* law at 2 n_max and 10 n_max */
    double gain_10x, gain_10x_lo, gain_10x_hi; /* L(n_max) - L(10 n_max), bootstrap interval */
    double n_within_eps;         /* n where L(n) - C = epsilon */
    char verdict[16];            /* more-data, gap, undetermined, no-fit, "-" (full law) */
    double scratch_error;        /* mean final error of the scratch cells of (model, s) */
    double best_error;           /* lowest mean final error over the group's n */
    int64_t best_size;           /* n of best_error */
} store_fit_row;

typedef struct store store;

/* Which part of the grid a file holds. */
typedef struct {
    int index, count;            /* shard index of count; count 0: the whole grid */
    int merged_from;             /* shard files joined into this one by merge (0: none) */
} store_shard;

/* Collective over comm: create path (truncating), write the layout, attributes and pending
 * rows, flush. Every file has rows for every cell of the grid; a shard file fills only its
 * own. Returns 0 or -1 with err (identical on every rank for argument errors). */
int store_create(store **out, const char *path, MPI_Comm comm, const job_spec *spec,
                 const char *job_text, const char *job_file, const store_shard *shard,
                 char *err, size_t errlen);
/* Collective: reopen an existing results file to continue it (--resume). Refuses a file of
 * another job (job_hash), another shard, or another format version. status[ncell] receives
 * each cell's status (CELL_PENDING for cells in flight when the run stopped). */
int store_open(store **out, const char *path, MPI_Comm comm, const job_spec *spec,
               const char *job_text, const store_shard *shard, int8_t *status, char *err,
               size_t errlen);
/* Independent: write one finished cell. */
int store_write_cell(store *st, const job_spec *spec, const job_cell *cell, const train_result *res,
                     int rank, char *err, size_t errlen);
/* Independent: write a complete row and its curves (ft[n_ft], pl and pe [n_pre]; NULL
 * leaves them NaN), curves first and the row last. Used by merge. */
int store_write_row(store *st, const store_cell_row *row, const float *ft, const float *pl,
                    const float *pe, char *err, size_t errlen);
/* Collective: close the file. Accepts NULL. */
int store_close(store *st);

/* Serial reading of a results file. */
typedef struct {
    int ncell;
    store_cell_row *rows;   /* [ncell] */
    char *job_text;
    char job_name[64];
    char job_hash[24];
    store_shard shard;
    int n_ft, n_pre;        /* evaluations per curve */
    float *ft_error;        /* [ncell * n_ft]; with curves only */
    float *pre_loss, *pre_error; /* [ncell * n_pre]; with curves only */
} store_results;

/* Serial. curves: also read the three curve matrices. */
int store_read(store_results *out, const char *path, int curves, char *err, size_t errlen);
void store_results_free(store_results *r);
/* Serial: replace /fits of an existing results file, or with create = 1 write a new file
 * holding only /fits (root attribute format "synlaw-fits"). group_columns names the
 * tab-separated fields of each row's group; source describes where the curves came from. */
int store_write_fits(const char *path, int create, const store_fit_row *rows, int n,
                     const char *group_columns, const char *source, char *err, size_t errlen);
/* Fill a cell row (coordinates, seed, status, result) for writing. res may be NULL. */
void store_fill_row(store_cell_row *row, const job_spec *spec, const job_cell *cell,
                    const train_result *res, int rank);

#endif
