/* Fitting learning curves read from any CSV file (e.g. the original study's published
 * curves): choose the x column, y as a column or 1 - column, the grouping columns, row
 * filters, and which row of a repeated series counts (the largest value of a step column,
 * as the study took its last evaluation). Each group is fitted with fit_run. */
#ifndef SYNLAW_CSVFIT_H
#define SYNLAW_CSVFIT_H

#include "synlaw/analysis.h"

#include <stddef.h>
#include <stdio.h>

enum { CSVFIT_MAX_COLS = 16 };

typedef struct {
    const char *col, *value;
    int negate; /* 1: keep rows where col != value */
} csvfit_filter;

typedef struct {
    const char *path;
    const char *x_col;                        /* n */
    const char *y_col;                        /* y = y_col, or 1 - y_col */
    int y_one_minus;
    const char *s_col;                        /* s, for the full law (NULL otherwise) */
    const char *group_cols[CSVFIT_MAX_COLS];
    int n_group;
    csvfit_filter filters[CSVFIT_MAX_COLS];
    int n_filter;
    const char *last_col;                     /* keep the row with the largest value per series */
    const char *repeat_col;                   /* repeat id, for the bootstrap (NULL: none) */
    analysis_options opt;
} csvfit_spec;

/* Parse "name=value" / "name!=value" into a filter (pointers into arg, which is modified). */
int csvfit_parse_filter(csvfit_filter *f, char *arg);

/* Read, group, analyse; print the table to out (may be NULL) and write the rows to out_path
 * (may be NULL): HDF5 /fits when it ends in .h5 or .hdf5, CSV otherwise. Returns the number
 * of groups, or -1 with err naming the file, line or column. */
int csvfit_run(const csvfit_spec *spec, FILE *out, const char *out_path, char *err, size_t errlen);

#endif
