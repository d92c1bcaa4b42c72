/* Paired gains of pre-training over scratch, with settings chosen on validation (gains.h). */
#include "synlaw/gains.h"

#include "synlaw/util.h"

#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    double lr;
    int steps, freeze;
} setting;

/* Growable output. */
typedef struct {
    gains_row *rows;
    int n, cap;
} out_rows;

static gains_row *push(out_rows *o)
{
    if (o->n == o->cap) {
        int cap = o->cap ? 2 * o->cap : 64;
        gains_row *r = realloc(o->rows, sizeof *r * (size_t)cap);
        if (!r)
            return NULL;
        o->rows = r;
        o->cap = cap;
    }
    gains_row *r = &o->rows[o->n++];
    memset(r, 0, sizeof *r);
    return r;
}

static int same_setting(const gains_cell *c, const setting *s)
{
    return (c->lr == s->lr || (isnan(c->lr) && isnan(s->lr))) && c->steps == s->steps && c->freeze == s->freeze;
}

static int in_group(const gains_cell *c, const gains_cell *g)
{
    return c->n > 0 && strcmp(c->model, g->model) == 0 && c->complexity == g->complexity &&
           strcmp(c->task, g->task) == 0 && c->finetune_size == g->finetune_size;
}

static int in_scratch(const gains_cell *c, const char *model, long s)
{
    return c->n == 0 && strcmp(c->model, model) == 0 && c->finetune_size == s;
}

/* The setting of a unit with the lowest mean validation error (scratch: group NULL). */
static int choose(const gains_cell *cells, int m, const gains_cell *group, const char *model, long s,
                  const setting *set, int nset)
{
    int best = 0;
    double bv = INFINITY;
    for (int k = 0; k < nset; k++) {
        double sum = 0;
        int cnt = 0;
        for (int i = 0; i < m; i++)
            if ((group ? in_group(&cells[i], group) : in_scratch(&cells[i], model, s)) &&
                same_setting(&cells[i], &set[k]) && isfinite(cells[i].val)) {
                sum += cells[i].val;
                cnt++;
            }
        if (cnt && sum / cnt < bv) {
            bv = sum / cnt;
            best = k;
        }
    }
    return best;
}

/* Mean, sd, interval, t and p of d[k] (k < n) into r. */
static void paired_stats(gains_row *r, const double *d, const double *pre, const double *scr, int n, double level)
{
    r->pairs = n;
    r->level = level;
    r->gain = r->gain_lo = r->gain_hi = r->sd = r->t = r->p = NAN;
    r->pretrained = r->scratch = NAN;
    if (n == 0)
        return;
    double mean = 0, mp = 0, ms = 0;
    for (int k = 0; k < n; k++) {
        mean += d[k] / n;
        mp += pre[k] / n;
        ms += scr[k] / n;
    }
    r->gain = mean;
    r->pretrained = mp;
    r->scratch = ms;
    if (n < 2)
        return;
    double ss = 0;
    for (int k = 0; k < n; k++)
        ss += (d[k] - mean) * (d[k] - mean);
    r->sd = sqrt(ss / (n - 1));
    double se = r->sd / sqrt((double)n), q = gsl_cdf_tdist_Qinv((1.0 - level) / 2.0, n - 1);
    r->gain_lo = mean - q * se;
    r->gain_hi = mean + q * se;
    if (se > 0) {
        r->t = mean / se;
        r->p = 2.0 * gsl_cdf_tdist_Q(fabs(r->t), n - 1);
    } else {
        r->t = mean == 0 ? 0 : copysign(INFINITY, mean);
        r->p = mean == 0 ? 1.0 : 0.0;
    }
}

static int by_p(const void *a, const void *b)
{
    double x = (*(gains_row *const *)a)->p, y = (*(gains_row *const *)b)->p;
    if (isnan(x) || isnan(y))
        return isnan(x) - isnan(y);
    return (x > y) - (x < y);
}

/* Holm's step-down adjustment over the rows with averaged == (pretrain_size == 0). */
static int holm(gains_row *rows, int n, int averaged)
{
    gains_row **f = malloc(sizeof *f * (size_t)(n + 1));
    if (!f)
        return -1;
    int k = 0;
    for (int i = 0; i < n; i++)
        if ((rows[i].pretrain_size == 0) == averaged && !isnan(rows[i].p))
            f[k++] = &rows[i];
    qsort(f, (size_t)k, sizeof *f, by_p);
    double run = 0;
    for (int i = 0; i < k; i++) {
        double adj = fmin(1.0, (k - i) * f[i]->p);
        run = fmax(run, adj);
        f[i]->p_holm = run;
    }
    for (int i = 0; i < n; i++)
        if ((rows[i].pretrain_size == 0) == averaged) {
            rows[i].family = k;
            if (isnan(rows[i].p))
                rows[i].p_holm = NAN;
        }
    free(f);
    return 0;
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* Scratch buffers of one comparison: per-repeat differences and errors, and per-repeat
 * accumulators over n. */
typedef struct {
    double *d, *pre, *scr;      /* [m] */
    long *ns;                   /* [m] the group's sizes */
    double *acc, *accp, *accs;  /* [nrep] */
    int *cnt;                   /* [nrep] */
    int nrep;
} work;

/* The per-n rows and the averaged row of pre-trained group G (setting sp) against scratch
 * (setting ss), appended to o. Returns 0 or -1 on out-of-memory. */
static int compare_group(out_rows *o, work *w, const gains_cell *cells, int m, const gains_cell *G,
                         const setting *set, int sp, int ss, int nset, const char *selected, int has_test,
                         double level)
{
    int nn = 0;
    for (int i = 0; i < m; i++)
        if (in_group(&cells[i], G) && same_setting(&cells[i], &set[sp])) {
            int seen = 0;
            for (int k = 0; k < nn && !seen; k++)
                seen = w->ns[k] == cells[i].n;
            if (!seen)
                w->ns[nn++] = cells[i].n;
        }
    qsort(w->ns, (size_t)nn, sizeof *w->ns, cmp_long);
    for (int r = 0; r < w->nrep; r++)
        w->acc[r] = w->accp[r] = w->accs[r] = 0, w->cnt[r] = 0;
    for (int j = 0; j < nn; j++) { /* one row per n */
        int k = 0;
        for (int r = 0; r < w->nrep; r++) {
            double e_pre = NAN, e_scr = NAN;
            for (int i = 0; i < m; i++) {
                const gains_cell *c = &cells[i];
                if (c->repeat != r)
                    continue;
                double e = has_test ? c->test : c->val;
                if (in_group(c, G) && c->n == w->ns[j] && same_setting(c, &set[sp]))
                    e_pre = e;
                else if (in_scratch(c, G->model, G->finetune_size) && same_setting(c, &set[ss]))
                    e_scr = e;
            }
            if (isfinite(e_pre) && isfinite(e_scr)) {
                w->d[k] = e_scr - e_pre, w->pre[k] = e_pre, w->scr[k] = e_scr;
                k++;
                w->acc[r] += e_scr - e_pre, w->accp[r] += e_pre, w->accs[r] += e_scr;
                w->cnt[r]++;
            }
        }
        gains_row *row = push(o);
        if (!row)
            return -1;
        row->pretrain_size = w->ns[j];
        paired_stats(row, w->d, w->pre, w->scr, k, level);
    }
    /* averaged over n: the repeats that have every n */
    int k = 0;
    for (int r = 0; r < w->nrep; r++)
        if (nn > 0 && w->cnt[r] == nn) {
            w->d[k] = w->acc[r] / nn, w->pre[k] = w->accp[r] / nn, w->scr[k] = w->accs[r] / nn;
            k++;
        }
    gains_row *row = push(o);
    if (!row)
        return -1;
    row->pretrain_size = 0;
    paired_stats(row, w->d, w->pre, w->scr, k, level);
    for (int i = o->n - nn - 1; i < o->n; i++) { /* the fields common to the group's rows */
        gains_row *g = &o->rows[i];
        snprintf(g->model, sizeof g->model, "%s", G->model);
        g->complexity = G->complexity;
        snprintf(g->task, sizeof g->task, "%s", G->task);
        g->finetune_size = G->finetune_size;
        g->lr = set[sp].lr, g->steps = set[sp].steps;
        g->scratch_lr = set[ss].lr, g->scratch_steps = set[ss].steps;
        g->freeze = (int8_t)set[sp].freeze, g->scratch_freeze = (int8_t)set[ss].freeze;
        g->settings = nset;
        snprintf(g->selected_on, sizeof g->selected_on, "%s", selected);
        snprintf(g->reported_on, sizeof g->reported_on, "%s", has_test ? "test" : "validation");
    }
    return 0;
}

int gains_compute(gains_row **rows_out, int *nrows, const gains_cell *cells, int m, double level, char *err,
                  size_t errlen)
{
    *rows_out = NULL;
    *nrows = 0;
    out_rows o = {0};
    work w = {0};
    for (int i = 0; i < m; i++)
        w.nrep = cells[i].repeat + 1 > w.nrep ? cells[i].repeat + 1 : w.nrep;
    setting *set = malloc(sizeof *set * (size_t)(m + 1));
    int *grp = malloc(sizeof *grp * (size_t)(m + 1)); /* first cell of each pre-trained group */
    w.ns = malloc(sizeof *w.ns * (size_t)(m + 1));
    w.d = malloc(sizeof *w.d * (size_t)(m + 1) * 3);
    w.acc = malloc(sizeof *w.acc * (size_t)(w.nrep + 1) * 3);
    w.cnt = malloc(sizeof *w.cnt * (size_t)(w.nrep + 1));
    int nset = 0, ngrp = 0, has_val = 1, has_test = 1, rc = -1;
    if (!set || !grp || !w.ns || !w.d || !w.acc || !w.cnt)
        goto oom;
    w.pre = w.d + m + 1, w.scr = w.pre + m + 1;
    w.accp = w.acc + w.nrep + 1, w.accs = w.accp + w.nrep + 1;
    for (int i = 0; i < m; i++) {
        has_val &= isfinite(cells[i].val);
        has_test &= isfinite(cells[i].test);
        int seen = 0;
        for (int k = 0; k < nset && !seen; k++)
            seen = same_setting(&cells[i], &set[k]);
        if (!seen)
            set[nset++] = (setting){cells[i].lr, cells[i].steps, cells[i].freeze};
        if (cells[i].n > 0) {
            int g = 0;
            while (g < ngrp && !in_group(&cells[i], &cells[grp[g]]))
                g++;
            if (g == ngrp)
                grp[ngrp++] = i;
        }
    }
    const char *selected = nset == 1 ? "-" : has_val ? "validation" : "none";
    for (int g = 0; g < ngrp; g++) {
        const gains_cell *G = &cells[grp[g]];
        if (nset > 1 && has_val) { /* each arm's setting chosen on validation */
            int sp = choose(cells, m, G, G->model, 0, set, nset);
            int ss = choose(cells, m, NULL, G->model, G->finetune_size, set, nset);
            if (compare_group(&o, &w, cells, m, G, set, sp, ss, nset, selected, has_test, level) != 0)
                goto oom;
        } else { /* one setting, or no validation: every setting against itself */
            for (int k = 0; k < nset; k++)
                if (compare_group(&o, &w, cells, m, G, set, k, k, nset, selected, has_test, level) != 0)
                    goto oom;
        }
    }
    if (holm(o.rows, o.n, 0) != 0 || holm(o.rows, o.n, 1) != 0)
        goto oom;
    *rows_out = o.rows;
    *nrows = o.n;
    o.rows = NULL;
    rc = 0;
    goto out;
oom:
    util_fail(err, errlen, -1, "out of memory while comparing %d cells with scratch", m);
out:
    free(o.rows), free(set), free(grp), free(w.ns), free(w.d), free(w.acc), free(w.cnt);
    return rc;
}

int gains_write_csv(const char *path, const gains_row *rows, int nrow, char *err, size_t errlen)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + 8);
    if (!tmp)
        return util_fail(err, errlen, -1, "out of memory");
    snprintf(tmp, n + 8, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        free(tmp);
        return util_fail(err, errlen, -1, "%s: cannot write", path);
    }
    fprintf(f, "model,cplx,task,s,n,lr,steps,freeze,scratch_lr,scratch_steps,scratch_freeze,settings,selected_on,reported_on,"
               "pairs,pretrained,scratch,gain,gain_lo,gain_hi,level,sd,t,p,p_holm,family\n");
    for (int i = 0; i < nrow; i++) {
        const gains_row *r = &rows[i];
        fprintf(f, "%s,%d,%s,%lld,%lld,%.10g,%d,%d,%.10g,%d,%d,%d,%s,%s,%d,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,"
                   "%.10g,%.10g,%.10g,%.10g,%d\n", r->model, r->complexity, r->task, (long long)r->finetune_size,
                (long long)r->pretrain_size, r->lr, r->steps, r->freeze, r->scratch_lr, r->scratch_steps,
                r->scratch_freeze, r->settings,
                r->selected_on, r->reported_on, r->pairs, r->pretrained, r->scratch, r->gain, r->gain_lo,
                r->gain_hi, r->level, r->sd, r->t, r->p, r->p_holm, r->family);
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
        remove(tmp);
        free(tmp);
        return util_fail(err, errlen, -1, "%s: cannot write", path);
    }
    free(tmp);
    return 0;
}
