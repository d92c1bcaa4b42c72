/* Fitting learning curves read from any CSV file (e.g. the original study's published
 * curves): choose the x column, y as a column or 1 - column, the grouping columns, row
 * filters, and which row of a repeated series counts (the largest value of a step column,
 * as the study took its last evaluation). Each group is analysed with analysis_fit_groups.
 *
 * The reader takes a header row, comma separators and double-quoted fields without
 * embedded newlines; rows whose x, y or s is missing (empty, NA, NaN) are skipped and
 * counted. Grouping, the last-row rule and repeat ids are by sorting, O(rows log rows). */
#ifndef SYNLAW_CSVFIT_H
#define SYNLAW_CSVFIT_H

#include "synlaw/analysis.h"

#include <stddef.h>

enum { CSVFIT_MAX_COLS = 16, CSVFIT_MAX_FIELDS = 256 };

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

typedef struct {
    analysis_row *rows;       /* [nrows], one per group, owned */
    int nrows;
    int nmissing;             /* rows skipped for a missing x, y or s */
    char group_columns[512];  /* the group columns, tab-separated */
} csvfit_result;

/* Parse "name=value" / "name!=value" into a filter (pointers into arg, which is modified).
 * Returns 0, or -1 when arg has no '=' or no name. */
int csvfit_parse_filter(csvfit_filter *f, char *arg);

/* Read, group, analyse. Returns 0, or -1 with err naming the file, line or column. The
 * caller frees out with csvfit_result_free. */
int csvfit_run(csvfit_result *out, const csvfit_spec *spec, char *err, size_t errlen);
void csvfit_result_free(csvfit_result *r);

#endif
