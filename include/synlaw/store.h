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
 *   /fits                      [nfit] compound (analysis_row), written after the sweep
 *
 * Writing: store_create is collective and builds the whole layout, flushed to disk, with
 * every cell pending. store_write_cell is independent: the rank that ran a cell writes its
 * rows straight through MPI-IO (contiguous datasets, no caching), curves first and the
 * status last, so a row marked done is complete; a killed job loses only cells in flight.
 * Reading and fit writing are serial (one process, after the parallel file is closed). */
#ifndef SYNLAW_STORE_H
#define SYNLAW_STORE_H

#include "synlaw/analysis.h"
#include "synlaw/job.h"

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
    int8_t status;               /* cell_status (job.h): HDF5 enum pending/done/failed */
    int32_t rank;                /* MPI rank that ran the cell, -1 while pending */
    double final_error;          /* last fine-tuning test error */
    double wall_time;            /* seconds */
    double time_generate, time_pretrain, time_finetune, time_evaluate; /* seconds */
    double time_write;           /* seconds to write the cell's curves to this file */
    char reason[160];            /* failure reason, empty otherwise */
} store_cell_row;

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
/* Independent: write a complete row and its curves (ft[n_ft], pl and pe [n_pre]; NULL
 * leaves them NaN), curves first and the row last, so a row marked done is complete. A row
 * whose time_write is NaN gets the time this write took. */
int store_write_cell(store *st, const store_cell_row *row, const float *ft, const float *pl,
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
int store_write_fits(const char *path, int create, const analysis_row *rows, int n,
                     const char *group_columns, const char *source, char *err, size_t errlen);
/* A pending row of cell: coordinates and seed, no result (NaN times, rank -1). */
void store_cell_row_init(store_cell_row *row, const job_spec *spec, const job_cell *cell);

#endif
