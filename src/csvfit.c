/* CSV learning curves -> groups -> fits. The CSV reader handles a header row, comma
 * separators and double-quoted fields without embedded newlines. */
#include "synlaw/csvfit.h"

#include "synlaw/store.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int ncol, nrow;
    char **cells; /* [nrow * ncol], owned strings */
    char **head;  /* [ncol] */
} table;

static void table_free(table *t)
{
    for (int i = 0; i < t->nrow * t->ncol; i++)
        free(t->cells[i]);
    for (int i = 0; i < t->ncol; i++)
        free(t->head[i]);
    free(t->cells);
    free(t->head);
    memset(t, 0, sizeof *t);
}

/* Split one line in place into at most max fields; returns the count. */
static int split(char *line, char **out, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        char *start = p;
        if (*p == '"') {
            start = ++p;
            while (*p && *p != '"')
                p++;
            if (*p == '"')
                *p++ = '\0';
        }
        while (*p && *p != ',')
            p++;
        int last = *p == '\0';
        *p = '\0';
        if (n < max)
            out[n] = start;
        n++;
        if (last)
            break;
        p++;
    }
    return n;
}

static int table_read(table *t, const char *path, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, rcap = 0, rc = -1;
    char *fields[256];
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        int n = split(line, fields, 256);
        if (!t->head) {
            if (n > 256) {
                snprintf(err, errlen, "%s:1: more than 256 columns", path);
                goto out;
            }
            t->ncol = n;
            t->head = calloc((size_t)n, sizeof *t->head);
            for (int i = 0; i < n; i++)
                t->head[i] = strdup(fields[i]);
            continue;
        }
        if (n != t->ncol) {
            snprintf(err, errlen, "%s:%d: %d fields, expected %d as in the header", path, lineno, n, t->ncol);
            goto out;
        }
        if (t->nrow == rcap) {
            rcap = rcap ? 2 * rcap : 1024;
            char **nc = realloc(t->cells, sizeof *nc * (size_t)rcap * (size_t)t->ncol);
            if (!nc) {
                snprintf(err, errlen, "%s: out of memory", path);
                goto out;
            }
            t->cells = nc;
        }
        for (int i = 0; i < n; i++)
            t->cells[t->nrow * t->ncol + i] = strdup(fields[i]);
        t->nrow++;
    }
    if (!t->head) {
        snprintf(err, errlen, "%s: empty file (expected a header row)", path);
        goto out;
    }
    rc = 0;
out:
    free(line);
    fclose(f);
    if (rc)
        table_free(t);
    return rc;
}

static int column(const table *t, const char *name, const char *path, const char *role, char *err, size_t errlen)
{
    for (int i = 0; i < t->ncol; i++)
        if (strcmp(t->head[i], name) == 0)
            return i;
    int off = snprintf(err, errlen, "%s: no column '%s' (%s); columns are:", path, name, role);
    for (int i = 0; i < t->ncol && off > 0 && (size_t)off < errlen; i++)
        off += snprintf(err + off, errlen - (size_t)off, " %s", t->head[i]);
    return -1;
}

/* R and pandas spellings of a missing value. */
static int missing(const char *s)
{
    return s[0] == '\0' || strcmp(s, "NA") == 0 || strcmp(s, "NaN") == 0 || strcmp(s, "nan") == 0;
}

static int number(const char *s, double *v)
{
    char *end;
    *v = strtod(s, &end);
    return end != s && *end == '\0' && isfinite(*v) ? 0 : -1;
}

int csvfit_parse_filter(csvfit_filter *f, char *arg)
{
    char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return -1;
    f->negate = eq > arg && eq[-1] == '!';
    if (f->negate)
        eq[-1] = '\0';
    *eq = '\0';
    f->col = arg;
    f->value = eq + 1;
    return f->col[0] ? 0 : -1;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

int csvfit_run(const csvfit_spec *sp, FILE *out, const char *out_path, char *err, size_t errlen)
{
    table t;
    if (table_read(&t, sp->path, err, errlen) != 0)
        return -1;
    int rc = -1, xc, yc, sc = -1, lc = -1, rcol = -1, gc[CSVFIT_MAX_COLS], fc[CSVFIT_MAX_COLS];
    int *keep = NULL, *gid = NULL, *first = NULL, *grep = NULL;
    double *n = NULL, *s = NULL, *y = NULL, *gn = NULL, *gs = NULL, *gy = NULL;
    store_fit_row *rows = NULL;
    if ((xc = column(&t, sp->x_col, sp->path, "x", err, errlen)) < 0 ||
        (yc = column(&t, sp->y_col, sp->path, "y", err, errlen)) < 0)
        goto out;
    if (sp->s_col && (sc = column(&t, sp->s_col, sp->path, "s", err, errlen)) < 0)
        goto out;
    if (sp->last_col && (lc = column(&t, sp->last_col, sp->path, "last", err, errlen)) < 0)
        goto out;
    if (sp->repeat_col && (rcol = column(&t, sp->repeat_col, sp->path, "repeat", err, errlen)) < 0)
        goto out;
    for (int i = 0; i < sp->n_group; i++)
        if ((gc[i] = column(&t, sp->group_cols[i], sp->path, "group", err, errlen)) < 0)
            goto out;
    for (int i = 0; i < sp->n_filter; i++)
        if ((fc[i] = column(&t, sp->filters[i].col, sp->path, "filter", err, errlen)) < 0)
            goto out;
    if (sp->opt.fit.law == FIT_FULL && sc < 0) {
        snprintf(err, errlen, "the full law needs an s column (--s COLUMN)");
        goto out;
    }
    size_t cap = (size_t)t.nrow + 1;
    keep = calloc(cap, sizeof *keep);
    gid = calloc(cap, sizeof *gid);
    first = calloc(cap, sizeof *first);
    grep = calloc(cap, sizeof *grep);
    n = malloc(sizeof *n * cap), s = malloc(sizeof *s * cap), y = malloc(sizeof *y * cap);
    gn = malloc(sizeof *gn * cap), gs = malloc(sizeof *gs * cap), gy = malloc(sizeof *gy * cap);
    if (!keep || !gid || !first || !grep || !n || !s || !y || !gn || !gs || !gy) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
#define CELL(r, c) t.cells[(r) * t.ncol + (c)]
    /* Filters, then numeric x, y, s (CSV line = row + 2); missing values skip the row. */
    int nmissing = 0;
    for (int r = 0; r < t.nrow; r++) {
        int ok = 1;
        for (int i = 0; i < sp->n_filter && ok; i++)
            ok = (strcmp(CELL(r, fc[i]), sp->filters[i].value) == 0) != sp->filters[i].negate;
        if (!ok)
            continue;
        double v;
        if (missing(CELL(r, xc)) || missing(CELL(r, yc)) || (sc >= 0 && missing(CELL(r, sc)))) {
            nmissing++;
            continue;
        }
        if (number(CELL(r, xc), &n[r]) || number(CELL(r, yc), &v) ||
            (sc >= 0 && number(CELL(r, sc), &s[r]))) {
            snprintf(err, errlen, "%s:%d: non-numeric x, y or s value", sp->path, r + 2);
            goto out;
        }
        y[r] = sp->y_one_minus ? 1.0 - v : v;
        if (sc < 0)
            s[r] = 1.0;
        keep[r] = 1;
    }
    /* Group ids by the grouping columns, in order of first appearance. */
    int ngroup = 0;
    for (int r = 0; r < t.nrow; r++) {
        if (!keep[r])
            continue;
        gid[r] = -1;
        for (int g = 0; g < ngroup && gid[r] < 0; g++) {
            int same = 1;
            for (int i = 0; i < sp->n_group && same; i++)
                same = strcmp(CELL(r, gc[i]), CELL(first[g], gc[i])) == 0;
            if (same)
                gid[r] = g;
        }
        if (gid[r] < 0) {
            first[ngroup] = r;
            gid[r] = ngroup++;
        }
    }
    /* Last row of each series (group, x, s, repeat): the largest value of the step column. */
    if (lc >= 0)
        for (int r = 0; r < t.nrow; r++) {
            if (!keep[r])
                continue;
            double lr;
            if (number(CELL(r, lc), &lr)) {
                snprintf(err, errlen, "%s:%d: non-numeric value in column %s", sp->path, r + 2, sp->last_col);
                goto out;
            }
            for (int q = 0; q < t.nrow; q++) {
                double lq;
                if (q == r || !keep[q] || gid[q] != gid[r] || n[q] != n[r] || s[q] != s[r] ||
                    (rcol >= 0 && strcmp(CELL(q, rcol), CELL(r, rcol)) != 0))
                    continue;
                number(CELL(q, lc), &lq);
                if (lq > lr || (lq == lr && q < r)) {
                    keep[r] = 0;
                    break;
                }
            }
        }
    if (out && nmissing)
        fprintf(out, "warning: %d row%s with a missing (NA) x, y or s skipped\n", nmissing,
                nmissing == 1 ? "" : "s");
    rows = calloc((size_t)ngroup + 1, sizeof *rows);
    if (!rows) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    char gcols[512] = "";
    for (int i = 0; i < sp->n_group; i++) {
        if (i)
            strncat(gcols, "\t", sizeof gcols - strlen(gcols) - 1);
        strncat(gcols, sp->group_cols[i], sizeof gcols - strlen(gcols) - 1);
    }
    for (int g = 0; g < ngroup; g++) {
        int m = 0;
        for (int r = 0; r < t.nrow; r++)
            if (keep[r] && gid[r] == g) {
                gn[m] = n[r], gs[m] = s[r], gy[m] = y[r];
                grep[m] = 0;
                if (rcol >= 0) /* repeat id: index of the first row with this value */
                    for (int q = 0; q <= r; q++)
                        if (strcmp(CELL(q, rcol), CELL(r, rcol)) == 0) {
                            grep[m] = q;
                            break;
                        }
                m++;
            }
        store_fit_row *row = &rows[g];
        snprintf(row->model, sizeof row->model, "%s", "");
        row->complexity = -1;
        row->finetune_size = -1;
        row->scratch_error = row->best_error = NAN;
        size_t off = 0;
        for (int i = 0; i < sp->n_group && off < sizeof row->group; i++)
            off += (size_t)snprintf(row->group + off, sizeof row->group - off, "%s%s", i ? "\t" : "",
                                    CELL(first[g], gc[i]));
        analysis_group(row, &sp->opt, gn, sc >= 0 ? gs : NULL, gy, rcol >= 0 ? grep : NULL, m);
    }
#undef CELL
    if (out) {
        fprintf(out, "%s: %d group%s, y = %s%s, x = %s\n", sp->path, ngroup, ngroup == 1 ? "" : "s",
                sp->y_one_minus ? "1 - " : "", sp->y_col, sp->x_col);
        analysis_print(out, rows, ngroup, gcols, &sp->opt, 0);
    }
    if (out_path) {
        int h5 = ends_with(out_path, ".h5") || ends_with(out_path, ".hdf5");
        if (h5 ? store_write_fits(out_path, 1, rows, ngroup, gcols, sp->path, err, errlen)
               : analysis_write_csv(out_path, rows, ngroup, gcols, err, errlen))
            goto out;
    }
    rc = ngroup;
out:
    free(keep), free(gid), free(first), free(grep), free(n), free(s), free(y);
    free(gn), free(gs), free(gy), free(rows);
    table_free(&t);
    return rc;
}
