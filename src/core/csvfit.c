/* CSV learning curves -> groups -> fits (see csvfit.h). */
#include "synlaw/csvfit.h"

#include "synlaw/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int ncol, nrow;
    char **cells; /* [nrow * ncol], owned strings */
    char **head;  /* [ncol] */
    int *line;    /* [nrow] line number of each row in the file (blank lines are skipped) */
} table;

static void table_free(table *t)
{
    if (t->cells)
        for (long i = 0; i < (long)t->nrow * t->ncol; i++)
            free(t->cells[i]);
    if (t->head)
        for (int i = 0; i < t->ncol; i++)
            free(t->head[i]);
    free(t->cells);
    free(t->head);
    free(t->line);
    memset(t, 0, sizeof *t);
}

/* Split one line in place into at most max fields; returns the count (which may exceed
 * max: the caller then refuses the line). */
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
    if (!f)
        return util_fail(err, errlen, -1, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, rcap = 0, rc = -1;
    char *fields[CSVFIT_MAX_FIELDS];
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        int n = split(line, fields, CSVFIT_MAX_FIELDS);
        if (!t->head) {
            if (n > CSVFIT_MAX_FIELDS) {
                util_fail(err, errlen, -1, "%s:%d: more than %d columns", path, lineno, CSVFIT_MAX_FIELDS);
                goto out;
            }
            t->head = calloc((size_t)n, sizeof *t->head);
            if (!t->head)
                goto oom;
            t->ncol = n;
            for (int i = 0; i < n; i++)
                if (!(t->head[i] = util_strdup(fields[i])))
                    goto oom;
            continue;
        }
        if (n != t->ncol) {
            util_fail(err, errlen, -1, "%s:%d: %d fields, expected %d as in the header", path, lineno, n,
                      t->ncol);
            goto out;
        }
        if (t->nrow == rcap) {
            int ncap = rcap ? 2 * rcap : 1024;
            char **nc = realloc(t->cells, sizeof *nc * (size_t)ncap * (size_t)t->ncol);
            if (!nc)
                goto oom;
            t->cells = nc;
            int *nl = realloc(t->line, sizeof *nl * (size_t)ncap);
            if (!nl)
                goto oom;
            t->line = nl;
            rcap = ncap;
        }
        char **row = t->cells + (size_t)t->nrow * (size_t)t->ncol;
        for (int i = 0; i < n; i++)
            row[i] = NULL;
        t->line[t->nrow] = lineno;
        t->nrow++; /* counted before filling, so table_free releases a partial row */
        for (int i = 0; i < n; i++)
            if (!(row[i] = util_strdup(fields[i])))
                goto oom;
    }
    if (ferror(f)) {
        util_fail(err, errlen, -1, "%s: read error: %s", path, strerror(errno));
        goto out;
    }
    if (!t->head) {
        util_fail(err, errlen, -1, "%s: empty file (expected a header row)", path);
        goto out;
    }
    rc = 0;
    goto out;
oom:
    util_fail(err, errlen, -1, "%s:%d: out of memory", path, lineno);
out:
    free(line);
    fclose(f);
    if (rc)
        table_free(t);
    return rc;
}

static int column(const table *t, const char *name, const char *path, const char *role, char *err,
                  size_t errlen)
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
    f->negate = eq[-1] == '!';
    if (f->negate)
        eq[-1] = '\0';
    *eq = '\0';
    f->col = arg;
    f->value = eq + 1;
    return f->col[0] ? 0 : -1;
}

/* The state the sort comparators need (qsort has no context argument). */
typedef struct {
    const table *t;
    char **label;          /* [nrow] group label of each kept row */
    const double *n, *s, *last;
    int rcol;
} sort_ctx;
static const sort_ctx *ctx;

#define CELL(t, r, c) ((t)->cells[(size_t)(r) * (size_t)(t)->ncol + (size_t)(c)])

/* Series order: (label, n, s, repeat), then the largest last value, then the first row. */
static int by_series(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b, c;
    if ((c = strcmp(ctx->label[i], ctx->label[j])) != 0)
        return c;
    if (ctx->n[i] != ctx->n[j])
        return ctx->n[i] < ctx->n[j] ? -1 : 1;
    if (ctx->s[i] != ctx->s[j])
        return ctx->s[i] < ctx->s[j] ? -1 : 1;
    if (ctx->rcol >= 0 && (c = strcmp(CELL(ctx->t, i, ctx->rcol), CELL(ctx->t, j, ctx->rcol))) != 0)
        return c;
    if (ctx->last[i] != ctx->last[j])
        return ctx->last[i] > ctx->last[j] ? -1 : 1;
    return i - j;
}

static int same_series(int i, int j)
{
    return strcmp(ctx->label[i], ctx->label[j]) == 0 && ctx->n[i] == ctx->n[j] && ctx->s[i] == ctx->s[j] &&
           (ctx->rcol < 0 || strcmp(CELL(ctx->t, i, ctx->rcol), CELL(ctx->t, j, ctx->rcol)) == 0);
}

static int by_repeat(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b;
    int c = strcmp(CELL(ctx->t, i, ctx->rcol), CELL(ctx->t, j, ctx->rcol));
    return c ? c : i - j;
}

int csvfit_run(csvfit_result *out, const csvfit_spec *sp, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    table t;
    if (table_read(&t, sp->path, err, errlen) != 0)
        return -1;
    int rc = -1, xc, yc, sc = -1, lc = -1, rcol = -1, gc[CSVFIT_MAX_COLS], fc[CSVFIT_MAX_COLS];
    int *keep = NULL, *idx = NULL, *clu = NULL;
    double *n = NULL, *s = NULL, *y = NULL, *last = NULL;
    char **label = NULL;
    analysis_points pts = {0};
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
        util_fail(err, errlen, -1, "the full law needs an s column (--s COLUMN)");
        goto out;
    }
    size_t cap = (size_t)t.nrow + 1;
    keep = calloc(cap, sizeof *keep);
    idx = malloc(cap * sizeof *idx);
    clu = malloc(cap * sizeof *clu);
    n = malloc(sizeof *n * cap), s = malloc(sizeof *s * cap), y = malloc(sizeof *y * cap);
    last = calloc(cap, sizeof *last);
    label = calloc(cap, sizeof *label);
    if (!keep || !idx || !clu || !n || !s || !y || !last || !label)
        goto oom;
    /* Filters, then numeric x, y, s; missing values skip the row. */
    for (int r = 0; r < t.nrow; r++) {
        int ok = 1;
        for (int i = 0; i < sp->n_filter && ok; i++)
            ok = (strcmp(CELL(&t, r, fc[i]), sp->filters[i].value) == 0) != sp->filters[i].negate;
        if (!ok)
            continue;
        double v;
        if (missing(CELL(&t, r, xc)) || missing(CELL(&t, r, yc)) || (sc >= 0 && missing(CELL(&t, r, sc)))) {
            out->nmissing++;
            continue;
        }
        if (number(CELL(&t, r, xc), &n[r]) || number(CELL(&t, r, yc), &v) ||
            (sc >= 0 && number(CELL(&t, r, sc), &s[r]))) {
            util_fail(err, errlen, -1, "%s:%d: non-numeric x, y or s value", sp->path, t.line[r]);
            goto out;
        }
        y[r] = sp->y_one_minus ? 1.0 - v : v;
        if (sc < 0)
            s[r] = 1.0;
        keep[r] = 1;
    }
    /* Group labels: the group columns' values, tab-separated. */
    for (int r = 0; r < t.nrow; r++) {
        if (!keep[r])
            continue;
        size_t len = 1;
        for (int i = 0; i < sp->n_group; i++)
            len += strlen(CELL(&t, r, gc[i])) + 1;
        if (!(label[r] = malloc(len)))
            goto oom;
        label[r][0] = '\0';
        for (int i = 0; i < sp->n_group; i++) {
            if (i)
                strcat(label[r], "\t");
            strcat(label[r], CELL(&t, r, gc[i]));
        }
    }
    sort_ctx sc_ = {&t, label, n, s, last, rcol};
    /* Last row of each series (group, x, s, repeat): the largest value of the step column,
     * ties to the first row. */
    if (lc >= 0) {
        int m = 0;
        for (int r = 0; r < t.nrow; r++) {
            if (!keep[r])
                continue;
            if (number(CELL(&t, r, lc), &last[r])) {
                util_fail(err, errlen, -1, "%s:%d: non-numeric value in column %s", sp->path, t.line[r],
                          sp->last_col);
                goto out;
            }
            idx[m++] = r;
        }
        ctx = &sc_;
        qsort(idx, (size_t)m, sizeof *idx, by_series);
        for (int k = 1; k < m; k++)
            if (same_series(idx[k], idx[k - 1]))
                keep[idx[k]] = 0; /* the first of a series is its last evaluation */
        ctx = NULL;
    }
    /* Repeat ids: the index of the first row with the same repeat value. */
    if (rcol >= 0) {
        for (int r = 0; r < t.nrow; r++)
            idx[r] = r;
        ctx = &sc_;
        qsort(idx, (size_t)t.nrow, sizeof *idx, by_repeat);
        ctx = NULL;
        for (int k = 0; k < t.nrow; k++)
            clu[idx[k]] = k > 0 && strcmp(CELL(&t, idx[k], rcol), CELL(&t, idx[k - 1], rcol)) == 0
                              ? clu[idx[k - 1]]
                              : idx[k];
    }
    for (int r = 0; r < t.nrow; r++)
        if (keep[r] && analysis_points_add(&pts, label[r], n[r], s[r], y[r], rcol >= 0 ? clu[r] : 0) != 0)
            goto oom;
    for (int i = 0; i < sp->n_group; i++) {
        size_t used = strlen(out->group_columns);
        snprintf(out->group_columns + used, sizeof out->group_columns - used, "%s%s", i ? "\t" : "",
                 sp->group_cols[i]);
    }
    if (analysis_fit_groups(&out->rows, &out->nrows, &pts, &sp->opt, sc >= 0, rcol >= 0, NULL, NULL,
                            err, errlen) != 0)
        goto out;
    rc = 0;
    goto out;
oom:
    util_fail(err, errlen, -1, "%s: out of memory", sp->path);
out:
    if (label)
        for (int r = 0; r < t.nrow; r++)
            free(label[r]);
    free(label), free(keep), free(idx), free(clu), free(n), free(s), free(y), free(last);
    analysis_points_free(&pts);
    table_free(&t);
    if (rc)
        csvfit_result_free(out);
    return rc;
}

void csvfit_result_free(csvfit_result *r)
{
    if (!r)
        return;
    free(r->rows);
    r->rows = NULL;
    r->nrows = 0;
}
#undef CELL
