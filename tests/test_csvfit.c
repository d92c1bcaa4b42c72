/* Fits of CSV learning curves (csvfit.h), on small CSV files written to a temporary
 * directory. Every group holds exact points of a known simple law y = D n^-alpha + C (or
 * another known law per group), so a correct reader recovers its parameters within 1e-6
 * relative, and a row taken from the wrong group, series or evaluation shows up as a wrong
 * parameter or point count. Checked: grouping by one and two columns in order of first
 * appearance; filters (= and !=); missing x, y or s (NA, empty, NaN, nan) skipped and
 * counted; the last-evaluation rule (largest step compared as a number, ties to the first
 * row, per group, x, s and repeat); repeat ids as bootstrap clusters; y = 1 - column;
 * quoted fields; errors naming file:line (wrong field count, non-numeric x) and the missing
 * column; the full law without an s column refused. Bootstrap off except where the repeat
 * clusters are the point. */
#include "check.h"
#include "synlaw/csvfit.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[256];
static const double NS[6] = {100, 200, 400, 800, 1600, 3200};

typedef struct {
    double D, alpha, C;
} law;

static const law L1 = {0.5, 0.5, 0.1}, L2 = {0.3, 0.7, 0.05}, L3 = {0.4, 0.3, 0.2}, L4 = {0.8, 0.4, 0.01};

static double y_of(law l, double n) { return l.D * pow(n, -l.alpha) + l.C; }

/* tmpdir/name in one of 32 static buffers, reused round robin. */
static const char *in_tmp(const char *name)
{
    static char buf[32][512];
    static int k;
    k = (k + 1) % 32;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static void remove_tmpdir(void)
{
    DIR *d = opendir(tmpdir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlink(in_tmp(e->d_name));
    closedir(d);
    rmdir(tmpdir);
}

/* A new file tmpdir/name for writing. */
static FILE *csv_open(const char *name) { return fopen(in_tmp(name), "w"); }

/* A spec reading name with x column n, y column err, the simple law, no bootstrap. */
static csvfit_spec spec_for(const char *name)
{
    csvfit_spec s;
    memset(&s, 0, sizeof s);
    s.path = in_tmp(name);
    s.x_col = "n";
    s.y_col = "err";
    s.opt = analysis_default_options(FIT_SIMPLE);
    s.opt.bootstrap = 0;
    return s;
}

static int run(csvfit_result *r, const csvfit_spec *s, char *err, size_t errlen)
{
    err[0] = '\0';
    int rc = csvfit_run(r, s, err, errlen);
    CHECK(rc == 0, "csvfit_run %s: %s", s->path, err);
    return rc;
}

static int close_rel(double got, double want, double tol) { return fabs(got - want) <= tol * fabs(want); }

/* Row `g` of r is group `label` with `m` points fitted to law l within 1e-6 relative. */
static void expect_group(const csvfit_result *r, int g, const char *label, int m, const law *l,
                         const char *what)
{
    if (g >= r->nrows) {
        CHECK(0, "%s: no group %d ('%s'), only %d", what, g, label, r->nrows);
        return;
    }
    const analysis_row *row = &r->rows[g];
    CHECK(strcmp(row->group, label) == 0, "%s: group %d is '%s', want '%s'", what, g, row->group, label);
    CHECK(row->n_points == m, "%s: group '%s' has %d points, want %d", what, row->group, row->n_points, m);
    if (l)
        CHECK(close_rel(row->p[0], l->D, 1e-6) && close_rel(row->p[1], l->alpha, 1e-6) &&
                  close_rel(row->p[2], l->C, 1e-6),
              "%s: group '%s' fitted D %.9g alpha %.9g C %.9g, want %g %g %g", what, row->group, row->p[0],
              row->p[1], row->p[2], l->D, l->alpha, l->C);
}

/* Four groups (model, task) interleaved row by row, "b" before "a", each an exact law. */
static void test_grouping(void)
{
    FILE *f = csv_open("groups.csv");
    fprintf(f, "model,task,n,err\n");
    const char *m[4] = {"b", "a", "b", "a"}, *t[4] = {"x", "x", "y", "y"};
    const law *l[4] = {&L1, &L2, &L3, &L4};
    for (int i = 0; i < 6; i++)
        for (int g = 0; g < 4; g++)
            fprintf(f, "%s,%s,%.17g,%.17g\n", m[g], t[g], NS[i], y_of(*l[g], NS[i]));
    fclose(f);
    char err[1024];
    csvfit_result r;

    csvfit_spec s = spec_for("groups.csv");
    s.group_cols[0] = "model", s.group_cols[1] = "task", s.n_group = 2;
    if (run(&r, &s, err, sizeof err) == 0) {
        CHECK(r.nrows == 4, "two columns: %d groups, want 4", r.nrows);
        CHECK(strcmp(r.group_columns, "model\ttask") == 0, "group_columns '%s'", r.group_columns);
        CHECK(r.nmissing == 0, "nmissing %d", r.nmissing);
        expect_group(&r, 0, "b\tx", 6, &L1, "two columns");
        expect_group(&r, 1, "a\tx", 6, &L2, "two columns");
        expect_group(&r, 2, "b\ty", 6, &L3, "two columns");
        expect_group(&r, 3, "a\ty", 6, &L4, "two columns");
        csvfit_result_free(&r);
    }
    /* One column, in order of first appearance: b, a (not sorted). */
    s.n_group = 1;
    if (run(&r, &s, err, sizeof err) == 0) {
        CHECK(r.nrows == 2, "one column: %d groups, want 2", r.nrows);
        CHECK(strcmp(r.group_columns, "model") == 0, "group_columns '%s'", r.group_columns);
        expect_group(&r, 0, "b", 12, NULL, "one column");
        expect_group(&r, 1, "a", 12, NULL, "one column");
        csvfit_result_free(&r);
    }
    s.group_cols[0] = "task";
    if (run(&r, &s, err, sizeof err) == 0) {
        CHECK(r.nrows == 2, "by task: %d groups, want 2", r.nrows);
        expect_group(&r, 0, "x", 12, NULL, "by task");
        expect_group(&r, 1, "y", 12, NULL, "by task");
        csvfit_result_free(&r);
    }
    /* No group column: one group of every row. */
    s.n_group = 0;
    if (run(&r, &s, err, sizeof err) == 0) {
        CHECK(r.nrows == 1 && r.rows[0].n_points == 24 && strcmp(r.group_columns, "") == 0,
              "no groups: %d groups, %d points", r.nrows, r.nrows ? r.rows[0].n_points : 0);
        csvfit_result_free(&r);
    }

    /* Filters: model=a by task gives L2 and L4; model!=a and task=y gives b/y alone. */
    s = spec_for("groups.csv");
    s.group_cols[0] = "task", s.n_group = 1;
    s.filters[0] = (csvfit_filter){"model", "a", 0}, s.n_filter = 1;
    if (run(&r, &s, err, sizeof err) == 0) {
        CHECK(r.nrows == 2, "model=a: %d groups, want 2", r.nrows);
        expect_group(&r, 0, "x", 6, &L2, "model=a");
        expect_group(&r, 1, "y", 6, &L4, "model=a");
        csvfit_result_free(&r);
    }
    s.group_cols[0] = "model";
    s.filters[0] = (csvfit_filter){"model", "a", 1};
    s.filters[1] = (csvfit_filter){"task", "y", 0}, s.n_filter = 2;
    if (run(&r, &s, err, sizeof err) == 0) {
        CHECK(r.nrows == 1, "model!=a task=y: %d groups, want 1", r.nrows);
        expect_group(&r, 0, "b", 6, &L3, "model!=a task=y");
        csvfit_result_free(&r);
    }
    s.filters[0] = (csvfit_filter){"task", "x", 1}, s.n_filter = 1;
    s.group_cols[0] = "model";
    if (run(&r, &s, err, sizeof err) == 0) {
        CHECK(r.nrows == 2, "task!=x: %d groups, want 2", r.nrows);
        expect_group(&r, 0, "b", 6, &L3, "task!=x");
        expect_group(&r, 1, "a", 6, &L4, "task!=x");
        csvfit_result_free(&r);
    }
    /* A filter no row passes: no group. */
    s.filters[0] = (csvfit_filter){"model", "zzz", 0}, s.n_filter = 1;
    if (run(&r, &s, err, sizeof err) == 0) {
        CHECK(r.nrows == 0, "model=zzz: %d groups, want none", r.nrows);
        csvfit_result_free(&r);
    }
}

static void test_parse_filter(void)
{
    csvfit_filter f;
    char a[] = "model=mlp-s", b[] = "task!=segment", c[] = "=x", d[] = "noequals", e[] = "!=x",
         g[] = "k=a=b", h[] = "k=";
    CHECK(csvfit_parse_filter(&f, a) == 0 && strcmp(f.col, "model") == 0 && strcmp(f.value, "mlp-s") == 0 &&
              !f.negate,
          "parse 'model=mlp-s'");
    CHECK(csvfit_parse_filter(&f, b) == 0 && strcmp(f.col, "task") == 0 && strcmp(f.value, "segment") == 0 &&
              f.negate,
          "parse 'task!=segment'");
    CHECK(csvfit_parse_filter(&f, c) == -1, "'=x' accepted");
    CHECK(csvfit_parse_filter(&f, d) == -1, "'noequals' accepted");
    CHECK(csvfit_parse_filter(&f, e) == -1, "'!=x' accepted");
    CHECK(csvfit_parse_filter(&f, g) == 0 && strcmp(f.col, "k") == 0 && strcmp(f.value, "a=b") == 0,
          "parse 'k=a=b': col '%s' value '%s'", f.col, f.value);
    CHECK(csvfit_parse_filter(&f, h) == 0 && strcmp(f.col, "k") == 0 && strcmp(f.value, "") == 0,
          "parse 'k=': an empty value is a value");
}

/* Missing values in x, y and s: skipped and counted, the rest fitted exactly. */
static void test_missing(void)
{
    FILE *f = csv_open("missing.csv");
    fprintf(f, "n,s,err\n");
    for (int i = 0; i < 6; i++) {
        fprintf(f, "%.17g,1,%.17g\n", NS[i], y_of(L1, NS[i]));
        if (i == 1)
            fprintf(f, "NA,1,0.9\n");   /* x NA */
        if (i == 2)
            fprintf(f, "300,1,\n");     /* y empty */
        if (i == 3)
            fprintf(f, "500,1,NaN\n");  /* y NaN */
        if (i == 4)
            fprintf(f, "nan,1,0.9\n");  /* x nan */
    }
    fprintf(f, "6400,NA,%.17g\n", y_of(L1, 6400)); /* s NA: missing only when s is read */
    fclose(f);
    char err[1024];
    csvfit_result r;
    csvfit_spec s = spec_for("missing.csv");
    if (run(&r, &s, err, sizeof err) == 0) {
        CHECK(r.nmissing == 4, "without s: nmissing %d, want 4", r.nmissing);
        expect_group(&r, 0, "", 7, &L1, "missing, without s");
        csvfit_result_free(&r);
    }
    s.s_col = "s";
    if (run(&r, &s, err, sizeof err) == 0) {
        CHECK(r.nmissing == 5, "with s: nmissing %d, want 5", r.nmissing);
        expect_group(&r, 0, "", 6, &L1, "missing, with s");
        csvfit_result_free(&r);
    }
}

/* The last evaluation of each series: per (model, n) the row with the largest step, compared
 * as numbers (9 < 10 < 100, unlike strings); a tie at the largest step keeps the first row.
 * The exact value is at step 100; the other rows hold 0.9 or 0.8. */
static void test_last(void)
{
    FILE *f = csv_open("last.csv");
    fprintf(f, "model,n,step,err\n");
    const char *models[2] = {"b", "a"};
    const law *laws[2] = {&L1, &L2};
    for (int i = 0; i < 6; i++)
        for (int g = 0; g < 2; g++) {
            double y = y_of(*laws[g], NS[i]);
            if (i % 2 == 0)
                fprintf(f, "%s,%.17g,100,%.17g\n%s,%.17g,9,0.9\n%s,%.17g,10,0.9\n", models[g], NS[i], y,
                        models[g], NS[i], models[g], NS[i]);
            else
                fprintf(f, "%s,%.17g,10,0.9\n%s,%.17g,9,0.9\n%s,%.17g,100,%.17g\n", models[g], NS[i], models[g],
                        NS[i], models[g], NS[i], y);
            if (i == 3) /* a tie at the largest step: the first row (the exact one) wins */
                fprintf(f, "%s,%.17g,100,0.8\n", models[g], NS[i]);
        }
    fclose(f);
    char err[1024];
    csvfit_result r;
    csvfit_spec s = spec_for("last.csv");
    s.group_cols[0] = "model", s.n_group = 1;
    s.last_col = "step";
    if (run(&r, &s, err, sizeof err) == 0) {
        CHECK(r.nrows == 2, "last: %d groups", r.nrows);
        expect_group(&r, 0, "b", 6, &L1, "last step");
        expect_group(&r, 1, "a", 6, &L2, "last step");
        csvfit_result_free(&r);
    }
    s.last_col = NULL;
    if (run(&r, &s, err, sizeof err) == 0) {
        expect_group(&r, 0, "b", 19, NULL, "every step");
        csvfit_result_free(&r);
    }
    /* A non-numeric step is an error naming the line (header line 1; the first row of n = 100
     * for model b is line 2). */
    f = csv_open("badstep.csv");
    fprintf(f, "n,step,err\n100,10,0.5\n100,ten,0.4\n");
    fclose(f);
    s = spec_for("badstep.csv");
    s.last_col = "step";
    err[0] = '\0';
    CHECK(csvfit_run(&r, &s, err, sizeof err) == -1, "a non-numeric step accepted");
    char want[600];
    snprintf(want, sizeof want, "%s:3:", s.path);
    CHECK(strstr(err, want) != NULL, "non-numeric step: '%s' does not name %s", err, want);
}

/* Repeats: two repeats of the same curve shifted in C (0.1 and 0.2). The last rule keeps a
 * row per repeat; resampling whole repeats (boot_repeats) draws {r1, r1}, {r1, r2} or
 * {r2, r2}, whose exact fits have C = 0.1, 0.15 and 0.2, so the 95% interval of C is
 * exactly [0.1, 0.2]. Resampling points mixes the repeats point by point and gives other
 * ends (C down to its bound 0 when small n come from r2 and large n from r1). */
static void test_repeats(void)
{
    FILE *f = csv_open("repeats.csv");
    fprintf(f, "rep,n,step,err\n");
    const law r1 = {0.5, 0.5, 0.1}, r2 = {0.5, 0.5, 0.2}, mid = {0.5, 0.5, 0.15};
    for (int i = 0; i < 6; i++) {
        fprintf(f, "r1,%.17g,10,0.9\nr2,%.17g,10,0.9\n", NS[i], NS[i]);
        fprintf(f, "r2,%.17g,20,%.17g\nr1,%.17g,20,%.17g\n", NS[i], y_of(r2, NS[i]), NS[i], y_of(r1, NS[i]));
    }
    fclose(f);
    char err[1024];
    csvfit_result r;
    csvfit_spec s = spec_for("repeats.csv");
    s.last_col = "step";
    s.repeat_col = "rep";
    if (run(&r, &s, err, sizeof err) == 0) {
        /* Equal numbers of points of C = 0.1 and 0.2 at every n: least squares gives 0.15. */
        expect_group(&r, 0, "", 12, &mid, "last per repeat");
        csvfit_result_free(&r);
    }
    /* Without the repeat column, the two repeats form one series per n: the first row of
     * step 20 (repeat r2's) is kept. */
    s.repeat_col = NULL;
    if (run(&r, &s, err, sizeof err) == 0) {
        expect_group(&r, 0, "", 6, &r2, "last without repeats");
        csvfit_result_free(&r);
    }
    s.repeat_col = "rep";
    s.opt.bootstrap = 100;
    s.opt.seed = 7;
    s.opt.boot_repeats = 1;
    if (run(&r, &s, err, sizeof err) == 0) {
        const analysis_row *row = &r.rows[0];
        CHECK(row->boot_samples == 100, "repeat bootstrap: %d replicates fitted, want 100", row->boot_samples);
        CHECK(fabs(row->ci_lo[2] - 0.1) < 1e-6 && fabs(row->ci_hi[2] - 0.2) < 1e-6,
              "resampling repeats: C interval [%.9g, %.9g], want [0.1, 0.2]", row->ci_lo[2], row->ci_hi[2]);
        csvfit_result_free(&r);
    }
    s.opt.boot_repeats = 0;
    if (run(&r, &s, err, sizeof err) == 0) {
        const analysis_row *row = &r.rows[0];
        CHECK(row->boot_samples > 0 && !(fabs(row->ci_lo[2] - 0.1) < 1e-6 && fabs(row->ci_hi[2] - 0.2) < 1e-6),
              "resampling points: C interval [%.9g, %.9g] (%d replicates), the same as resampling repeats",
              row->ci_lo[2], row->ci_hi[2], row->boot_samples);
        csvfit_result_free(&r);
    }
}

/* y = 1 - accuracy, and a quoted field with a comma as a group value. */
static void test_one_minus_quoted(void)
{
    FILE *f = csv_open("acc.csv");
    fprintf(f, "model,n,acc\n");
    for (int i = 0; i < 6; i++)
        fprintf(f, "\"m,1\",%.17g,%.17g\n", NS[i], 1.0 - y_of(L1, NS[i]));
    fclose(f);
    char err[1024];
    csvfit_result r;
    csvfit_spec s = spec_for("acc.csv");
    s.y_col = "acc";
    s.y_one_minus = 1;
    s.group_cols[0] = "model", s.n_group = 1;
    if (run(&r, &s, err, sizeof err) == 0) {
        CHECK(r.nrows == 1, "acc: %d groups", r.nrows);
        expect_group(&r, 0, "m,1", 6, &L1, "1 - acc, quoted group");
        csvfit_result_free(&r);
    }
}

/* Errors: -1 with a message naming the file and line, or the column. */
static void expect_error(const csvfit_spec *s, const char *want, const char *what)
{
    csvfit_result r;
    char err[1024] = "";
    int rc = csvfit_run(&r, s, err, sizeof err);
    CHECK(rc == -1, "%s: accepted (rc %d)", what, rc);
    CHECK(strstr(err, want) != NULL, "%s: message '%s' lacks '%s'", what, err, want);
    CHECK(r.rows == NULL && r.nrows == 0, "%s: a refused run returns rows", what);
    if (rc == 0)
        csvfit_result_free(&r);
}

static void test_errors(void)
{
    char want[700];
    FILE *f = csv_open("fields.csv");
    fprintf(f, "n,err\n100,0.5\n200,0.4\n400,0.3,7\n800,0.2\n");
    fclose(f);
    csvfit_spec s = spec_for("fields.csv");
    snprintf(want, sizeof want, "%s:4:", s.path);
    expect_error(&s, want, "a row with 3 fields");

    f = csv_open("badx.csv");
    fprintf(f, "n,err\n100,0.5\n200,0.4\n400,0.3\nabc,0.2\n1600,0.1\n");
    fclose(f);
    s = spec_for("badx.csv");
    snprintf(want, sizeof want, "%s:5:", s.path);
    expect_error(&s, want, "a non-numeric x");
    /* blank lines are skipped but still counted: "abc" is on line 5 of the file */
    f = csv_open("blank.csv");
    fprintf(f, "n,err\n100,0.5\n\n200,0.4\nabc,0.3\n");
    fclose(f);
    s = spec_for("blank.csv");
    snprintf(want, sizeof want, "%s:5:", s.path);
    expect_error(&s, want, "a non-numeric x after a blank line");
    f = csv_open("bady.csv");
    fprintf(f, "n,err\n100,0.5\n200,0.4x\n");
    fclose(f);
    s = spec_for("bady.csv");
    snprintf(want, sizeof want, "%s:3:", s.path);
    expect_error(&s, want, "a non-numeric y");

    s = spec_for("groups.csv");
    s.x_col = "size";
    expect_error(&s, "'size'", "a missing x column");
    s = spec_for("groups.csv");
    s.y_col = "error";
    expect_error(&s, "'error'", "a missing y column");
    s = spec_for("groups.csv");
    s.group_cols[0] = "model", s.group_cols[1] = "arch", s.n_group = 2;
    expect_error(&s, "'arch'", "a missing group column");
    s = spec_for("groups.csv");
    s.filters[0] = (csvfit_filter){"split", "test", 0}, s.n_filter = 1;
    expect_error(&s, "'split'", "a missing filter column");
    s = spec_for("groups.csv");
    s.last_col = "epoch";
    expect_error(&s, "'epoch'", "a missing last column");
    s = spec_for("groups.csv");
    s.repeat_col = "seed";
    expect_error(&s, "'seed'", "a missing repeat column");
    s = spec_for("groups.csv");
    s.s_col = "ftsize";
    expect_error(&s, "'ftsize'", "a missing s column");
    expect_error(&s, s.path, "a missing column names the file");

    s = spec_for("groups.csv");
    s.opt = analysis_default_options(FIT_FULL);
    expect_error(&s, "s column", "the full law without s");

    s = spec_for("no-such-file.csv");
    expect_error(&s, s.path, "a missing file");
    f = csv_open("empty.csv");
    fclose(f);
    s = spec_for("empty.csv");
    expect_error(&s, s.path, "an empty file");
}

int main(void)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/synlaw-test-csvfit-XXXXXX", base);
    if (!mkdtemp(tmpdir)) {
        perror(tmpdir);
        return 2;
    }
    test_parse_filter();
    test_grouping();
    test_missing();
    test_last();
    test_repeats();
    test_one_minus_quoted();
    test_errors();
    remove_tmpdir();
    return test_summary("csvfit");
}
