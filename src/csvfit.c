/* CSV learning curves -> groups -> fits. The CSV reader handles a header row, comma
 * separators and double-quoted fields without embedded newlines. */
#include "synlaw/csvfit.h"

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

typedef struct {
    int row;       /* representative row (for group labels) */
    int group;     /* group id */
} series;

int csvfit_run(const csvfit_spec *sp, FILE *out, const char *out_csv, char *err, size_t errlen)
{
    table t;
    if (table_read(&t, sp->path, err, errlen) != 0)
        return -1;
    int rc = -1, xc, yc, sc = -1, lc = -1, gc[CSVFIT_MAX_COLS], fc[CSVFIT_MAX_COLS];
    int *keep = NULL, *gid = NULL;
    double *n = NULL, *s = NULL, *y = NULL;
    FILE *csv = NULL;
    if ((xc = column(&t, sp->x_col, sp->path, "x", err, errlen)) < 0 ||
        (yc = column(&t, sp->y_col, sp->path, "y", err, errlen)) < 0)
        goto out;
    if (sp->s_col && (sc = column(&t, sp->s_col, sp->path, "s", err, errlen)) < 0)
        goto out;
    if (sp->last_col && (lc = column(&t, sp->last_col, sp->path, "last", err, errlen)) < 0)
        goto out;
    for (int i = 0; i < sp->n_group; i++)
        if ((gc[i] = column(&t, sp->group_cols[i], sp->path, "group", err, errlen)) < 0)
            goto out;
    for (int i = 0; i < sp->n_filter; i++)
        if ((fc[i] = column(&t, sp->filters[i].col, sp->path, "filter", err, errlen)) < 0)
            goto out;
    if (sp->opt.law == FIT_FULL && sc < 0) {
        snprintf(err, errlen, "the full law needs an s column (--s COLUMN)");
        goto out;
    }
    keep = calloc((size_t)t.nrow + 1, sizeof *keep);
    gid = calloc((size_t)t.nrow + 1, sizeof *gid);
    n = malloc(sizeof *n * ((size_t)t.nrow + 1));
    s = malloc(sizeof *s * ((size_t)t.nrow + 1));
    y = malloc(sizeof *y * ((size_t)t.nrow + 1));
    if (!keep || !gid || !n || !s || !y) {
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
    int *first = malloc(sizeof *first * ((size_t)t.nrow + 1));
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
    /* Last row of each series (group, x, s): the largest value of the step column. */
    if (lc >= 0)
        for (int r = 0; r < t.nrow; r++) {
            if (!keep[r])
                continue;
            double lr;
            if (number(CELL(r, lc), &lr)) {
                snprintf(err, errlen, "%s:%d: non-numeric value in column %s", sp->path, r + 2, sp->last_col);
                free(first);
                goto out;
            }
            for (int q = 0; q < t.nrow; q++) {
                double lq;
                if (q == r || !keep[q] || gid[q] != gid[r] || n[q] != n[r] || s[q] != s[r])
                    continue;
                number(CELL(q, lc), &lq);
                if (lq > lr || (lq == lr && q < r)) {
                    keep[r] = 0;
                    break;
                }
            }
        }
    if (out_csv && !(csv = fopen(out_csv, "w"))) {
        snprintf(err, errlen, "%s: cannot write", out_csv);
        free(first);
        goto out;
    }
    int np = fit_param_count(sp->opt.law);
    if (csv) {
        for (int i = 0; i < sp->n_group; i++)
            fprintf(csv, "%s,", sp->group_cols[i]);
        fprintf(csv, "law,n_points");
        for (int i = 0; i < np; i++)
            fprintf(csv, ",%s,se_%s,at_bound_%s", fit_param_name(sp->opt.law, i),
                    fit_param_name(sp->opt.law, i), fit_param_name(sp->opt.law, i));
        fprintf(csv, ",rmse,r2,converged\n");
    }
    if (out && nmissing)
        fprintf(out, "warning: %d row%s with a missing (NA) x, y or s skipped\n", nmissing,
                nmissing == 1 ? "" : "s");
    if (out) {
        fprintf(out, "%s: law %s, y = %s%s, x = %s\n", sp->path, fit_law_name(sp->opt.law),
                sp->y_one_minus ? "1 - " : "", sp->y_col, sp->x_col);
        for (int i = 0; i < sp->n_group; i++)
            fprintf(out, "%-10s ", sp->group_cols[i]);
        fprintf(out, "%4s", "pts");
        for (int i = 0; i < np; i++)
            fprintf(out, " %-19s", fit_param_name(sp->opt.law, i));
        fprintf(out, " %8s %7s flags\n", "RMSE", "R2");
    }
    double *gn = malloc(sizeof *gn * ((size_t)t.nrow + 1)), *gs = malloc(sizeof *gs * ((size_t)t.nrow + 1));
    double *gy = malloc(sizeof *gy * ((size_t)t.nrow + 1));
    for (int g = 0; g < ngroup; g++) {
        int m = 0;
        for (int r = 0; r < t.nrow; r++)
            if (keep[r] && gid[r] == g) {
                gn[m] = n[r], gs[m] = s[r], gy[m] = y[r];
                m++;
            }
        fit_result f;
        fit_run(&f, &sp->opt, gn, gs, gy, m);
        char flags[128] = "";
        if (!f.converged)
            strcat(flags, "not-converged ");
        for (int i = 0; i < np; i++)
            if (f.at_bound[i]) {
                strncat(flags, fit_param_name(sp->opt.law, i), sizeof flags - strlen(flags) - 8);
                strcat(flags, "@bound ");
            }
        if (out) {
            for (int i = 0; i < sp->n_group; i++)
                fprintf(out, "%-10s ", CELL(first[g], gc[i]));
            fprintf(out, "%4d", m);
            for (int i = 0; i < np; i++) {
                char b[48];
                snprintf(b, sizeof b, "%.4g ± %.2g", f.p[i], f.se[i]);
                fprintf(out, " %-19s", b);
            }
            fprintf(out, " %8.5f %7.4f %s\n", f.rmse, f.r2, flags);
        }
        if (csv) {
            for (int i = 0; i < sp->n_group; i++)
                fprintf(csv, "%s,", CELL(first[g], gc[i]));
            fprintf(csv, "%s,%d", fit_law_name(sp->opt.law), m);
            for (int i = 0; i < np; i++)
                fprintf(csv, ",%.10g,%.10g,%d", f.p[i], f.se[i], f.at_bound[i]);
            fprintf(csv, ",%.10g,%.10g,%d\n", f.rmse, f.r2, f.converged);
        }
    }
#undef CELL
    free(gn), free(gs), free(gy), free(first);
    rc = ngroup;
out:
    if (csv && fclose(csv) != 0 && rc >= 0) {
        snprintf(err, errlen, "%s: cannot write", out_csv);
        rc = -1;
    }
    free(keep), free(gid), free(n), free(s), free(y);
    table_free(&t);
    return rc;
}
