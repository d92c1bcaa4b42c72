/* The results file (parallel HDF5).
 *
 * Layout (format "synlaw-results", format_version 2), documented in README.md:
 *   /                          attributes: format, format_version, synlaw_version, job_name,
 *                              job_file, job_text, job_hash, created, ranks, n_cells,
 *                              n_backbones, shard_index, shard_count (0, 0: the whole grid),
 *                              merged_from (shard files joined by merge, 0 otherwise),
 *                              eval_split, keep_backbones, hdf5_version, mpi_library,
 *                              openblas_config, gsl_version
 *   /cells                     [ncell] compound, one row per cell = fine-tuning stage
 *                              (store_cell_row)
 *   /cell                      [ncell] int32 dimension scale: cell index
 *   /backbones                 [nbackbone] compound, one row per pre-training stage
 *                              (store_backbone_row)
 *   /backbone                  [nbackbone] int32 dimension scale: backbone index
 *   /curves/finetune_step      [ncell, n_ft] int32: step of each evaluation of the cell (0 past
 *                              its last evaluation: cells may have different step counts)
 *   /curves/finetune_val_error [ncell, n_ft] float32: validation error (NaN when not evaluated)
 *   /curves/finetune_test_error[ncell, n_ft] float32: test error (NaN when not evaluated)
 *   /curves/pretrain_step      [nbackbone, n_pre] int32: step of each evaluation (0 past the last)
 *   /curves/pretrain_loss      [nbackbone, n_pre] float32: mean training loss since the
 *                              previous evaluation
 *   /curves/pretrain_error     [nbackbone, n_pre] float32: held-out synthetic error
 *   /weights/MODEL             [backbones of MODEL, nparam] float32: the pre-trained backbone
 *                              parameters (with keep_backbones); row = backbone index -
 *                              attribute first_backbone
 *   /fits                      [nfit] compound (analysis_row), written after the sweep
 *   /gains                     [ngain] compound (gains_row), written with /fits
 *
 * Files of format_version 1 (one row per cell with its own pre-training) are read by
 * store_read for fit and status: their fine-tuning curve becomes the test or validation
 * curve of the job's eval_split, and they have no backbones. They cannot be resumed or merged.
 *
 * Writing: store_create is collective and builds the whole layout, flushed to disk, with
 * every stage pending. store_write_backbone and store_write_cell are independent: the rank
 * that ran a stage writes its rows straight through MPI-IO (contiguous datasets, no
 * caching), curves and weights first and the status last, so a row marked done is
 * complete; a killed job loses only the stages in flight. Reading and fit writing are serial. */
#ifndef SYNLAW_STORE_H
#define SYNLAW_STORE_H

#include "synlaw/analysis.h"
#include "synlaw/gains.h"
#include "synlaw/job.h"

#include <mpi.h>
#include <stdint.h>

#define STORE_FORMAT "synlaw-results"
#define STORE_FORMAT_VERSION 2

enum { STORE_REASON_LEN = 160, STORE_WORD_LEN = 16 };

typedef struct {
    int32_t index;
    int64_t pretrain_size;
    char model[JOB_NAME_LEN];
    int32_t complexity;          /* 0 for scratch */
    char pretrain_task[STORE_WORD_LEN]; /* "none" for scratch */
    int64_t finetune_size;
    double finetune_lr;
    int32_t finetune_steps;
    int8_t finetune_freeze;      /* 0 none, 1 conv, 2 backbone (job_freeze_name) */
    int32_t repeat;
    int32_t backbone;            /* index into /backbones, -1 for scratch */
    uint64_t seed;               /* job_cell_seed: an identifier */
    int8_t status;               /* cell_status (job.h): HDF5 enum pending/done/failed */
    int32_t rank;                /* MPI rank that ran the cell, -1 while pending */
    double final_error;          /* last evaluation on the fit's split: test when evaluated,
                                    else validation */
    double final_val_error, final_test_error; /* NaN when the split is not evaluated */
    double wall_time;            /* seconds of the fine-tuning stage */
    double time_generate, time_pretrain; /* 0: pre-training is the backbone's (format 1: the
                                    cell's own) */
    double time_finetune, time_evaluate; /* seconds */
    double time_write;           /* seconds to write the cell's curves to this file */
    char reason[STORE_REASON_LEN]; /* failure reason, empty otherwise */
} store_cell_row;

typedef struct {
    int32_t index;
    int64_t pretrain_size;
    char model[JOB_NAME_LEN];
    int32_t complexity;
    char pretrain_task[STORE_WORD_LEN];
    int32_t repeat;
    int32_t steps;               /* pre-training steps: the budget of n */
    uint64_t seed;               /* job_backbone_seed */
    uint64_t key;                /* job_backbone_key: same key, same bits */
    int8_t status;               /* cell_status */
    int8_t weights;              /* 1: the parameters are in /weights/MODEL */
    int8_t reused;               /* 1: copied from the file of pretrain.from */
    int32_t rank;                /* MPI rank that pre-trained it (or copied it), -1 while pending */
    int64_t nparam;              /* backbone parameters */
    double final_loss, final_error; /* last evaluation */
    double wall_time, time_generate, time_pretrain, time_evaluate, time_write; /* seconds */
    char reason[STORE_REASON_LEN];
} store_backbone_row;

typedef struct store store;

/* Which part of the grid a file holds. */
typedef struct {
    int index, count;            /* shard index of count; count 0: the whole grid */
    int merged_from;             /* shard files joined into this one by merge (0: none) */
} store_shard;

/* Collective over comm: create path (truncating), write the layout, attributes and pending
 * rows, flush. Every file has rows for every stage of the grid; a shard file fills only its
 * own. Returns 0 or -1 with err. */
int store_create(store **out, const char *path, MPI_Comm comm, const job_spec *spec,
                 const char *job_text, const char *job_file, const store_shard *shard,
                 char *err, size_t errlen);
/* Collective: reopen an existing results file to continue it (--resume). Refuses a file of
 * another job (job_hash), another shard, or another format version. cell_status[ncell] and
 * backbone_status[nbackbone] receive the statuses (pending for stages in flight when the run
 * stopped), has_weights[nbackbone] whether a backbone's parameters are in the file. */
int store_open(store **out, const char *path, MPI_Comm comm, const job_spec *spec,
               const char *job_text, const store_shard *shard, int8_t *cell_status,
               int8_t *backbone_status, int8_t *has_weights, char *err, size_t errlen);
/* Independent: a backbone's curves (loss, error [row->steps evaluations]; NULL leaves them
 * NaN) and parameters (params[row->nparam]; NULL: not kept), then its row. A row whose
 * time_write is NaN gets the time this write took. */
int store_write_backbone(store *st, const store_backbone_row *row, const float *loss,
                         const float *error, const float *params, char *err, size_t errlen);
/* Independent: a cell's curves (val, test [evaluations of its steps]; NULL leaves them NaN),
 * then its row. A row whose time_write is NaN gets the time this write took. */
int store_write_cell(store *st, const store_cell_row *row, const float *val, const float *test,
                     char *err, size_t errlen);
/* Independent: read the stored parameters of backbone `index` (of model `model`) into
 * params[nparam]. 0 or -1 with err. */
int store_read_weights(store *st, int index, const char *model, float *params, size_t nparam,
                       char *err, size_t errlen);
/* Collective: close the file. Accepts NULL. */
int store_close(store *st);

/* Serial reading of a results file. */
typedef struct {
    int version;            /* format_version */
    int ncell, nbackbone;
    store_cell_row *rows;   /* [ncell] */
    store_backbone_row *bb; /* [nbackbone] */
    char *job_text;
    char job_name[64];
    char job_hash[24];
    store_shard shard;
    data_shape shape;       /* /data; Fashion-MNIST's for files written before it existed */
    int has_data;           /* the file has /data */
    int n_ft, n_pre;        /* evaluations per curve (widths of the curve matrices) */
    float *ft_val, *ft_test;        /* [ncell * n_ft]; with curves only */
    float *pre_loss, *pre_error;    /* [nbackbone * n_pre]; with curves only */
} store_results;

/* Serial. curves: also read the curve matrices. */
int store_read(store_results *out, const char *path, int curves, char *err, size_t errlen);
void store_results_free(store_results *r);

/* Serial, read-only access to the backbone weights of a results file (merge, pretrain.from);
 * opened without HDF5's file lock, so it works while another run holds the file. */
typedef struct store_reader store_reader;
int store_reader_open(store_reader **out, const char *path, char *err, size_t errlen);
/* The parameters of a done backbone with weights (row from store_read of the same file). */
int store_reader_weights(store_reader *r, const store_backbone_row *row, float *params, char *err,
                         size_t errlen);
void store_reader_close(store_reader *r);

/* Serial: replace /fits of an existing results file, or with create = 1 write a new file
 * holding only /fits (root attribute format "synlaw-fits"). group_columns names the
 * tab-separated fields of each row's group; source describes where the curves came from. */
int store_write_fits(const char *path, int create, const analysis_row *rows, int n,
                     const char *group_columns, const char *source, char *err, size_t errlen);
/* Serial: replace /gains of an existing results file (pre-trained against scratch). */
int store_write_gains(const char *path, const gains_row *rows, int n, char *err, size_t errlen);
/* Pending rows of a cell and of a backbone: coordinates and seeds, no result (NaN times,
 * rank -1). */
void store_cell_row_init(store_cell_row *row, const job_spec *spec, const job_cell *cell);
void store_backbone_row_init(store_backbone_row *row, const job_spec *spec, const job_backbone *bb);

#endif
