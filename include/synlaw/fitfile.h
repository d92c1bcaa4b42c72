/* Fitting a results file: groups its finished cells, fits the laws, writes /fits and a CSV.
 *
 * Groups are (model, complexity, pretrain_task, finetune_size, finetune_lr, finetune_steps,
 * finetune_freeze);
 * each fits the simple law
 * L(n) = D n^-alpha + C to the final fine-tuning error of every done cell with n > 0, all
 * repeats as separate points (the repeat is the bootstrap cluster), with D >= 0, alpha in
 * [0.01, 3], C in [0, 1 - 1/K] for K classes (a uniform guess's error). The scratch cells (n = 0) of (model, finetune_size) are the
 * reference of every group (with the same fine-tuning setting): their mean error is reported
 * beside the fit. The error is each cell's final_error: test when the job evaluates the test
 * set, validation otherwise. When the job has two or more fine-tuning sizes, the full law
 * L(n, s) = delta (gamma + n^-alpha) s^-beta is also fitted per (model, complexity, task,
 * learning rate, steps). */
#ifndef SYNLAW_FITFILE_H
#define SYNLAW_FITFILE_H

#include "synlaw/analysis.h"
#include "synlaw/gains.h"
#include "synlaw/store.h"

#include <stddef.h>

/* Names of the tab-separated fields of each row's group. */
#define FITFILE_GROUP_COLUMNS "model\tcplx\ttask\ts\tlr\tsteps\tfreeze"

typedef struct {
    analysis_row *rows;   /* [nrows], owned */
    int nrows;
    gains_row *gains;     /* [ngains], owned: pre-trained against scratch (gains.h) */
    int ngains;
    int failed;           /* failed cells, skipped by the fit */
    int classes;          /* of the real task (/data; 10 for files written before it) */
    double chance;        /* its chance level (data_shape.chance) */
    char job_name[64];
} fitfile_result;

/* The default options of a results-file fit (the simple law, 1000 bootstrap replicates,
 * fitted within repeats). */
analysis_options fitfile_default_options(void);

/* Fit path's results with o (whose fit part is for the simple law), compare pre-trained
 * with scratch cells (gains.h, at o->level), replace /fits and /gains in the file and write
 * the rows to csv_path and the gains beside it (fitfile_gains_csv; NULL: no CSV). Returns 0, or SL_EINPUT (unreadable
 * or foreign file) / SL_EFAIL (writing, memory) with err. The caller frees out. */
int fitfile_run(fitfile_result *out, const char *path, const analysis_options *o,
                const char *csv_path, char *err, size_t errlen);
/* The cells of several files of one design fitted together (job_same_design: the same seed,
 * data and recipes, e.g. an earlier job and the new repeats or sizes synlaw refine proposed
 * for it); a cell in two files is kept once and must have the same error. No file is
 * written but the CSV. fitfile_run is this with one file, which gets /fits and /gains. */
int fitfile_run_files(fitfile_result *out, const char *const *paths, int npath, const analysis_options *o,
                      const char *csv_path, char *err, size_t errlen);
/* Read and join the cells of the files (as fitfile_run_files does; the job, name and /data
 * are the first file's). SL_OK, SL_EINPUT or SL_EFAIL with err. */
int fitfile_read(store_results *res, const char *const *paths, int npath, char *err, size_t errlen);
/* A cell the simple law is fitted to: done, pre-trained (n > 0), a finite error. */
int fitfile_usable(const store_cell_row *r);
/* Whether two cells belong to the same group of the simple law (model, complexity, task,
 * fine-tuning size and setting). */
int fitfile_same_group(const store_cell_row *a, const store_cell_row *b);
void fitfile_result_free(fitfile_result *r);

/* The CSV a run or merge writes beside OUT.h5: OUT with .h5 replaced by -fits.csv (or
 * -fits.csv appended). Returns a malloc'ed string, NULL on out-of-memory. */
char *fitfile_default_csv(const char *path);
/* The gains CSV beside a fits CSV: X-fits.csv becomes X-gains.csv, anything else gets
 * -gains.csv appended. malloc'ed, NULL on out-of-memory. */
char *fitfile_gains_csv(const char *fits_csv);

#endif
