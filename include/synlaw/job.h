/* Job files: parsing, validation and expansion of the grid into stages.
 *
 * A job file is YAML. It is parsed once (on rank 0), validated with errors that name
 * file:line:column, and expanded into a job_spec: a plain struct with no pointers, so it can
 * be broadcast as bytes.
 *
 * Work is a graph of two kinds of stages:
 *  - a backbone (pre-training stage) per (model, complexity, task, n > 0, repeat): the
 *    network pre-trained on n synthetic images. Its seed and its weights do not depend on
 *    any fine-tuning setting.
 *  - a cell (fine-tuning stage) per (model, fine-tuning setting, repeat, n, complexity,
 *    task): its backbone (none for scratch cells, n = 0) fine-tuned on s real images with a
 *    fresh head. A fine-tuning setting is (finetune_size, finetune_lr, finetune_steps,
 *    finetune_freeze); every setting applies to scratch and pre-trained cells alike. Scratch cells do not depend on
 *    complexity or pre-training task and appear once per (model, setting, repeat).
 * Orders and seeds are pure functions of the spec. */
#ifndef SYNLAW_JOB_H
#define SYNLAW_JOB_H

#include "synlaw/data.h"

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

enum { JOB_MAX_AXIS = 32, JOB_NAME_LEN = 32, JOB_PATH_LEN = 512, JOB_MAX_REPEAT = 100000 };

/* Limits on a job file, enforced before libyaml builds its document: its size in bytes, and
 * how deeply collections may nest (a job needs 3 levels). One YAML document per file. */
enum { JOB_MAX_BYTES = 1 << 20, JOB_MAX_DEPTH = 64 };

/* Pre-training tasks. Both use a sigmoid head trained with binary cross-entropy. */
typedef enum {
    TASK_MULTILABEL = 0, /* which object classes are present: SYNTH_NCLASS outputs */
    TASK_SEGMENT = 1,    /* foreground mask: one output per pixel */
    TASK_COUNT
} job_task;

typedef enum { OPT_SGD = 0, OPT_ADAM = 1 } job_optimizer;

/* Where fine-tuning is evaluated: the test set, the validation split (training images that
 * fine-tuning never uses), or both (curves of both are recorded; the fit uses test). */
typedef enum { EVAL_TEST = 0, EVAL_VALIDATION = 1, EVAL_BOTH = 2 } job_eval_split;

/* One training recipe (pre-training or fine-tuning). */
typedef struct {
    int steps;           /* optimiser steps (pre-training with epochs: the fallback, unused) */
    int batch;           /* samples per step */
    job_optimizer optimizer;
    double lr;           /* learning rate */
    double momentum;     /* SGD momentum; Adam beta1 */
    double weight_decay; /* L2 on weights (decoupled for Adam) */
    int eval_every;      /* evaluate every this many steps (and at the last step) */
    int eval_size;       /* pre-training: held-out synthetic images; fine-tuning: images of
                            each evaluated split */
    /* pre-training only */
    double epochs;       /* > 0: steps = ceil(epochs * n / batch), within [min_steps,
                            max_steps] (a budget that grows with n); 0: `steps` for every n */
    int min_steps, max_steps;
    int transfer_conv;   /* 1 transfers the convolution layers alone (dense layers start
                            fresh), 0 the whole backbone */
    int keep;            /* 1: backbone weights are written to the results file */
    /* fine-tuning only */
    job_eval_split eval_split;
    int freeze;          /* what fine-tuning leaves fixed: 0 nothing, 1 the convolution layers, 2
                            the whole backbone (scratch cells alike: random features) */
    double scratch_lr;   /* learning rate of scratch cells (0: lr); not with a finetune_lr axis */
} job_recipe;

/* A parsed, validated job. Plain data: safe to MPI_Bcast as MPI_BYTE. */
typedef struct {
    char name[JOB_NAME_LEN];
    uint64_t seed;
    data_source data;   /* the real task: the data: section (Fashion-MNIST by default) */
    data_shape shape;   /* what its files hold: Fashion-MNIST's until data_probe or
                           data_measure (job_parse, sweep_validate) or a results file say
                           otherwise; rows 0 when the data was not probed */
    char pretrain_from[JOB_PATH_LEN];   /* results file whose backbones are reused ("": none) */
    int n_size;       long size[JOB_MAX_AXIS];            /* pretrain_size axis, 0 = scratch */
    int n_model;      char model[JOB_MAX_AXIS][JOB_NAME_LEN];
    int n_complexity; int complexity[JOB_MAX_AXIS];       /* 1..SYNTH_MAX_COMPLEXITY */
    int n_task;       job_task task[JOB_MAX_AXIS];
    int n_ftsize;     long ftsize[JOB_MAX_AXIS];          /* finetune_size axis */
    int n_ftlr;       double ftlr[JOB_MAX_AXIS];          /* finetune_lr axis ([finetune.lr]) */
    int n_ftsteps;    int ftsteps[JOB_MAX_AXIS];          /* finetune_steps axis ([finetune.steps]) */
    int n_ftfreeze;   int ftfreeze[JOB_MAX_AXIS];         /* finetune_freeze axis ([finetune.freeze]) */
    int repeats;
    int first_repeat; /* repeat indices first_repeat .. first_repeat + repeats - 1 (axes.first_repeat) */
    job_recipe pretrain, finetune;
} job_spec;

/* State of a stage in a results file (stored as the HDF5 enum pending/done/failed). */
typedef enum { CELL_PENDING = 0, CELL_DONE = 1, CELL_FAILED = 2, CELL_NSTATUS } cell_status;

/* A pre-training stage. */
typedef struct {
    int index;       /* position in the canonical backbone order, 0..nbackbone-1 */
    long size;       /* n > 0 */
    int model;       /* index into job_spec.model */
    int complexity;
    int task;        /* job_task */
    int repeat;
    int steps;       /* pre-training steps: the budget of n */
} job_backbone;

/* A fine-tuning stage: one cell of the grid. Scratch cells have size 0, complexity 0,
 * task -1 and backbone -1. */
typedef struct {
    int index;       /* position in the canonical cell order, 0..ncell-1 */
    long size;       /* n: synthetic pre-training images */
    int model;       /* index into job_spec.model */
    int complexity;  /* level, 0 for scratch */
    int task;        /* job_task, -1 for scratch */
    long ftsize;     /* s: real fine-tuning images */
    int ftlr;        /* index into job_spec.ftlr */
    int ftsteps;     /* index into job_spec.ftsteps */
    int ftfreeze;    /* index into job_spec.ftfreeze */
    int repeat;      /* first_repeat .. first_repeat + repeats - 1 */
    int backbone;    /* index of its backbone, -1 for scratch */
} job_cell;

/* Parse the YAML text `text` (named `file` in messages). Returns 0, or -1 with a message
 * "file:line:col: ..." in err. Refuses a text of more than JOB_MAX_BYTES, collections nested
 * deeper than JOB_MAX_DEPTH, a second document, and names that cannot name a file (see
 * util_safe_name), before or while it builds the document. */
int job_parse(job_spec *spec, const char *text, const char *file, char *err, size_t errlen);
/* As job_parse; check_data 1 probes the data (data_probe: headers and labels, not the
 * statistics) into spec->shape, 0 skips it (for commands that only need the grid, e.g. merge
 * on a login node: spec->shape is then Fashion-MNIST's for the default data, and has rows 0
 * for other data). */
int job_parse_grid(job_spec *spec, const char *text, const char *file, int check_data, char *err,
                   size_t errlen);
/* Read a whole file into a malloc'ed NUL-terminated buffer (caller frees), or NULL + err;
 * refuses a file of more than JOB_MAX_BYTES (it stops reading there) or with a NUL byte. */
char *job_read_file(const char *path, char *err, size_t errlen);

/* Number of cells of the grid. */
int job_cell_count(const job_spec *spec);
/* The same, split into pre-trained cells and scratch baselines (either may be NULL). */
void job_cell_counts(const job_spec *spec, long *pretrained, long *scratch);
/* Number of backbones (pre-training stages). */
int job_backbone_count(const job_spec *spec);
/* Fill cells[0..job_cell_count-1] in canonical order: model, finetune_size, finetune_lr,
 * finetune_steps, finetune_freeze, repeat, then pretrain_size, complexity, task. */
void job_cells(const job_spec *spec, job_cell *cells);
/* Fill bb[0..job_backbone_count-1] in canonical order: model, repeat, pretrain_size,
 * complexity, task (the backbones of a model are contiguous). */
void job_backbones(const job_spec *spec, job_backbone *bb);

/* Pre-training steps for n synthetic images: the fixed steps, or the epoch budget. */
int job_pretrain_steps(const job_spec *spec, long n);
/* The fine-tuning recipe of a cell: the job's, with the cell's learning rate (scratch_lr for
 * scratch cells when set), steps and freeze. */
job_recipe job_cell_recipe(const job_spec *spec, const job_cell *cell);
/* Evaluations of `steps` steps evaluated every eval_every: at every multiple and at the last
 * step. job_eval_steps writes their 1-based step numbers to out[job_eval_count(...)]. */
int job_eval_count(int steps, int eval_every);
void job_eval_steps(int steps, int eval_every, int *out);
/* The most evaluations of any cell's fine-tuning / any backbone's pre-training: the widths
 * of the curve matrices. */
int job_max_finetune_evals(const job_spec *spec);
int job_max_pretrain_evals(const job_spec *spec);

/* Every random stream of a sweep is seeded here, from the job seed and coordinates only.
 * The salts keep the streams apart; their values are fixed (changing one changes every
 * result), so they are listed once, here. */
enum job_salt {
    JOB_SALT_PRETRAIN_ORDER = 0x9e7,   /* batch order of pre-training, from the backbone seed */
    JOB_SALT_FINETUNE_ORDER = 0xf7,    /* batch order of fine-tuning: (s, repeat) */
    JOB_SALT_SUBSET = 0xf17e,          /* real fine-tuning subset: (repeat) */
    JOB_SALT_INIT = 0x1417,            /* backbone initialisation: (model, repeat) */
    JOB_SALT_DATA = 0xda7a,            /* synthetic data set: (complexity, repeat) */
    JOB_SALT_BACKBONE = 0xbb,          /* backbone seed: (n, model, complexity, task, repeat) */
};
/* Seed of a cell: an identifier from the job seed and the cell's coordinates only. */
uint64_t job_cell_seed(const job_spec *spec, const job_cell *cell);
/* Whether two jobs compute stages the same way, so that their results may be pooled (new
 * repeats or sizes of an earlier job): the same seed, data set and pre-training and
 * fine-tuning recipes; the axes may differ. 1, or 0 with the first difference in why. */
int job_same_design(const job_spec *a, const job_spec *b, char *why, size_t len);

/* The job as YAML that job_parse reads back to the same grid, seeds and recipes (every
 * key written out; fine-tuning settings as axes). 0, or -1 when writing failed. */
int job_write_yaml(FILE *f, const job_spec *spec);

/* Seed of a backbone: from the job seed and (n, model, complexity, task, repeat) only, never
 * from a fine-tuning setting. */
uint64_t job_backbone_seed(const job_spec *spec, const job_backbone *bb);
/* What determines a backbone's weights and curves bit for bit: its seed and coordinates,
 * the pre-training recipe, its step count and the synlaw version. Equal keys mean the same
 * backbone, whichever job or file it comes from (pretrain.from, resume). */
uint64_t job_backbone_key(const job_spec *spec, const job_backbone *bb);
/* Seed of the synthetic data set of (complexity, repeat): shared by every n, so the set of
 * size n is a prefix of the set of size 4n, as subsampling a pool would give. */
uint64_t job_data_seed(const job_spec *spec, int complexity, int repeat);
/* Initial weights of (model, repeat): scratch and pre-trained cells of a repeat start from
 * the same weights, which pairs the comparison. */
uint64_t job_init_seed(const job_spec *spec, int model, int repeat);
/* Permutation of the real training pool whose first s items are the fine-tuning subset of
 * a repeat (the same for every n and s, so subsets are nested). */
uint64_t job_subset_seed(const job_spec *spec, int repeat);
/* Batch order of fine-tuning on s images in a repeat (the same for every n and setting:
 * the comparisons are paired). */
uint64_t job_finetune_order_seed(const job_spec *spec, long ftsize, int repeat);
/* Batch order of pre-training, from the backbone seed. */
uint64_t job_pretrain_order_seed(uint64_t backbone_seed);

const char *job_task_name(int task);        /* "multilabel", "segment", "none" for -1 */
const char *job_status_name(int status);    /* "pending", "done", "failed" */
const char *job_optimizer_name(job_optimizer o);
const char *job_eval_split_name(job_eval_split s); /* "test", "validation", "both" */
const char *job_freeze_name(int freeze);           /* "none", "conv", "backbone" */
/* Short human descriptions, e.g. "n=4000 mlp-s c3 multilabel s=500 r0" (with lr=/steps= when
 * those axes have several values) and "n=4000 mlp-s c3 multilabel r0". */
void job_cell_describe(const job_spec *spec, const job_cell *cell, char *buf, size_t len);
void job_backbone_describe(const job_spec *spec, const job_backbone *bb, char *buf, size_t len);
/* FNV-1a 64 hash of the job text (identifies a job across shards and files). */
uint64_t job_text_hash(const char *text);

#endif
