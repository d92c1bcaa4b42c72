/* Fitting a results file: groups the finished cells, fits the laws, prints the table and
 * writes /fits and a CSV.
 *
 * Groups are (model, complexity, pretrain_task, finetune_size); each fits the simple law
 * L(n) = D n^-alpha + C to the final fine-tuning error of every done cell with n > 0, all
 * repeats as separate points, with D >= 0, alpha in [0.01, 3], C in [0, 1]. The scratch
 * cells (n = 0) of (model, finetune_size) are the reference of every group: their mean error
 * is reported beside the fit. When the job has two or more fine-tuning sizes, the full law
 * L(n, s) = delta (gamma + n^-alpha) s^-beta is also fitted per (model, complexity, task). */
#ifndef SYNLAW_REPORT_H
#define SYNLAW_REPORT_H

#include "synlaw/analysis.h"

#include <stddef.h>
#include <stdio.h>

/* Fit path's results with the options o (whose fit part is for the simple law); print the
 * table and decisions to out (may be NULL), write /fits into the file and the rows to
 * csv_path (NULL: no CSV). Returns the number of fitted rows, or -1 with err. */
int report_fit_file(const char *path, const analysis_options *o, const char *csv_path, FILE *out,
                    char *err, size_t errlen);

/* The default options of a results-file fit (the simple law, 1000 bootstrap replicates). */
analysis_options report_default_options(void);

/* The fit at the end of synlaw run and merge: default options, the CSV at csv_path or (NULL)
 * at OUT with .h5 replaced by -fits.csv, the table to out, then "fits written to ...".
 * Returns 0, or -1 after printing the error to stderr. */
int report_fit_after_run(const char *path, const char *csv_path, FILE *out);

#endif
