/* Job files: parsing, validation and expansion of the grid into cells.
 *
 * A job file is YAML. It is parsed once (on rank 0), validated with errors that name
 * file:line:column, and expanded into a job_spec: a plain struct with no pointers, so it can
 * be broadcast as bytes. The grid is the product of the axes, except that scratch cells
 * (pretrain_size 0) do not depend on complexity or pre-training task and appear once per
 * (model, finetune_size, repeat). Cell order and cell seeds are pure functions of the spec. */
#ifndef SYNLAW_JOB_H
#define SYNLAW_JOB_H

#include <stddef.h>
#include <stdint.h>

enum { JOB_MAX_AXIS = 32, JOB_NAME_LEN = 32, JOB_PATH_LEN = 512 };

/* Pre-training tasks. Both use a sigmoid head trained with binary cross-entropy. */
typedef enum {
    TASK_MULTILABEL = 0, /* which object classes are present: SYNTH_NCLASS outputs */
    TASK_SEGMENT = 1,    /* foreground mask: one output per pixel */
    TASK_COUNT
} job_task;

typedef enum { OPT_SGD = 0, OPT_ADAM = 1 } job_optimizer;

/* One training recipe (pre-training or fine-tuning). */
typedef struct {
    int steps;           /* optimiser steps, fixed whatever the data size */
    int batch;           /* samples per step */
    job_optimizer optimizer;
    double lr;           /* learning rate */
    double momentum;     /* SGD momentum; Adam beta1 */
    double weight_decay; /* L2 on weights (decoupled for Adam) */
    int eval_every;      /* evaluate every this many steps (and at the last step) */
    int eval_size;       /* pre-training: held-out synthetic images; fine-tuning: test images */
    int eval_validation; /* fine-tuning only: 1 evaluates on the validation split (training
                            images never used for fine-tuning) instead of the test set */
    double scratch_lr;   /* fine-tuning only: learning rate of scratch cells (0: lr) */
    int transfer_conv;   /* pre-training only: 1 transfers the convolution layers alone
                            (dense layers start fresh), 0 the whole backbone */
} job_recipe;

/* A parsed, validated job. Plain data: safe to MPI_Bcast as MPI_BYTE. */
typedef struct {
    char name[JOB_NAME_LEN];
    uint64_t seed;
    char data_dir[JOB_PATH_LEN];
    int n_size;       long size[JOB_MAX_AXIS];            /* pretrain_size axis, 0 = scratch */
    int n_model;      char model[JOB_MAX_AXIS][JOB_NAME_LEN];
    int n_complexity; int complexity[JOB_MAX_AXIS];       /* 1..SYNTH_MAX_COMPLEXITY */
    int n_task;       job_task task[JOB_MAX_AXIS];
    int n_ftsize;     long ftsize[JOB_MAX_AXIS];          /* finetune_size axis */
    int repeats;
    job_recipe pretrain, finetune;
} job_spec;

/* State of a cell in a results file (stored as the HDF5 enum pending/done/failed). */
typedef enum { CELL_PENDING = 0, CELL_DONE = 1, CELL_FAILED = 2, CELL_NSTATUS } cell_status;

/* One grid point. Scratch cells have size 0, complexity 0 and task -1. */
typedef struct {
    int index;       /* position in the canonical cell order, 0..ncell-1 */
    long size;       /* n: synthetic pre-training images */
    int model;       /* index into job_spec.model */
    int complexity;  /* level, 0 for scratch */
    int task;        /* job_task, -1 for scratch */
    long ftsize;     /* s: real fine-tuning images */
    int repeat;      /* 0..repeats-1 */
} job_cell;

/* Parse the YAML text `text` (named `file` in messages). Returns 0, or -1 with a message
 * "file:line:col: ..." in err. */
int job_parse(job_spec *spec, const char *text, const char *file, char *err, size_t errlen);
/* As job_parse; check_data 0 skips the check that data_dir holds the IDX files (for
 * commands that only need the grid, e.g. merge on a login node). */
int job_parse_grid(job_spec *spec, const char *text, const char *file, int check_data, char *err,
                   size_t errlen);
/* Read a whole file into a malloc'ed NUL-terminated buffer (caller frees), or NULL + err. */
char *job_read_file(const char *path, char *err, size_t errlen);

/* Number of cells of the grid. */
int job_cell_count(const job_spec *spec);
/* The same, split into pre-trained cells and scratch baselines (either may be NULL). */
void job_cell_counts(const job_spec *spec, long *pretrained, long *scratch);
/* Evaluations of a recipe: every eval_every steps and at the last step. job_eval_steps
 * writes their 1-based step numbers to steps[job_eval_count(r)]. */
int job_eval_count(const job_recipe *r);
void job_eval_steps(const job_recipe *r, int *steps);
/* Fill cells[0..job_cell_count-1] in canonical order. */
void job_cells(const job_spec *spec, job_cell *cells);
/* Every random stream of a sweep is seeded here, from the job seed and coordinates only.
 * The salts keep the streams apart; their values are fixed (changing one changes every
 * result), so they are listed once, here. */
enum job_salt {
    JOB_SALT_PRETRAIN_ORDER = 0x9e7,   /* batch order of pre-training, from the cell seed */
    JOB_SALT_FINETUNE_ORDER = 0xf7,    /* batch order of fine-tuning: (s, repeat) */
    JOB_SALT_SUBSET = 0xf17e,          /* real fine-tuning subset: (repeat) */
    JOB_SALT_INIT = 0x1417,            /* backbone initialisation: (model, repeat) */
    JOB_SALT_DATA = 0xda7a,            /* synthetic data set: (complexity, repeat) */
};
/* Seed of a cell: a function of the job seed and the cell's coordinates only. */
uint64_t job_cell_seed(const job_spec *spec, const job_cell *cell);
/* Seed of the synthetic data set of (complexity, repeat): shared by every n, so the set of
 * size n is a prefix of the set of size 4n, as subsampling a pool would give. */
uint64_t job_data_seed(const job_spec *spec, int complexity, int repeat);
/* Initial weights of (model, repeat): scratch and pre-trained cells of a repeat start from
 * the same weights, which pairs the comparison. */
uint64_t job_init_seed(const job_spec *spec, int model, int repeat);
/* Permutation of the real training pool whose first s items are the fine-tuning subset of
 * a repeat (the same for every n and s, so subsets are nested). */
uint64_t job_subset_seed(const job_spec *spec, int repeat);
/* Batch order of fine-tuning on s images in a repeat. */
uint64_t job_finetune_order_seed(const job_spec *spec, long ftsize, int repeat);
/* Batch order of pre-training, from the cell seed. */
uint64_t job_pretrain_order_seed(uint64_t cell_seed);

const char *job_task_name(int task);        /* "multilabel", "segment", "none" for -1 */
const char *job_status_name(int status);    /* "pending", "done", "failed" */
const char *job_optimizer_name(job_optimizer o);
/* Short human description of a cell, e.g. "n=4000 mlp-s c3 multilabel s=500 r0". */
void job_cell_describe(const job_spec *spec, const job_cell *cell, char *buf, size_t len);
/* FNV-1a 64 hash of the job text (identifies a job across shards and files). */
uint64_t job_text_hash(const char *text);

#endif
