/* synlaw refine: which additions settle the undecided groups, at what cost (refine.h). */
#include "synlaw/refine.h"

#include "synlaw/fit.h"
#include "synlaw/fitfile.h"
#include "synlaw/rng.h"
#include "synlaw/store.h"
#include "synlaw/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

refine_options refine_default_options(void)
{
    refine_options o;
    memset(&o, 0, sizeof o);
    o.target = REFINE_DECISION;
    o.budget_hours = 1.0;
    o.width = 0.02;
    o.sims = 16;
    o.bootstrap = 200;
    o.seed = 1;
    o.ao = fitfile_default_options();
    return o;
}

static int settled(const analysis_row *r)
{
    return strcmp(r->verdict, "more-data") == 0 || strcmp(r->verdict, "gap") == 0;
}

refine_quantity refine_quantity_of(const analysis_row *row, refine_target t)
{
    refine_quantity q = {NAN, NAN, settled(row)};
    if (t == REFINE_GAIN)
        q.lo = row->gain_10x_lo, q.hi = row->gain_10x_hi;
    else
        q.lo = row->ci_lo[2], q.hi = row->ci_hi[2]; /* C (decision: shown beside the verdict) */
    return q;
}

void refine_noise(const analysis_row *fit, const double *n, const double *y, const int *cluster, int m,
                  double *tau, double *sigma)
{
    /* residuals about the law; a repeat's mean residual is its offset */
    double sum_u = 0, sum_u2 = 0, sse = 0;
    int nrep = 0, dof = 0;
    int *seen = calloc((size_t)m + 1, sizeof *seen);
    for (int k = 0; k < m && seen; k++) {
        if (seen[k])
            continue;
        double s = 0;
        int c = 0;
        for (int j = k; j < m; j++)
            if (!seen[j] && cluster[j] == cluster[k])
                s += y[j] - fit_eval(FIT_SIMPLE, fit->p, n[j], 0), c++;
        double u = s / c;
        for (int j = k; j < m; j++)
            if (!seen[j] && cluster[j] == cluster[k]) {
                double e = y[j] - fit_eval(FIT_SIMPLE, fit->p, n[j], 0) - u;
                sse += e * e;
                seen[j] = 1;
            }
        sum_u += u, sum_u2 += u * u, nrep++;
        dof += c - 1;
    }
    free(seen);
    double mu = nrep ? sum_u / nrep : 0;
    *tau = nrep > 1 ? sqrt(fmax(0, (sum_u2 - nrep * mu * mu) / (nrep - 1))) : 0;
    *sigma = dof > 0 ? sqrt(sse / dof) : fit->rmse;
}

int refine_simulate(refine_quantity *q, const analysis_options *o, refine_target t, const analysis_row *fit,
                    const double *n, const double *y, const int *cluster, int m, const double *add_n,
                    const int *add_cluster, int nadd, double tau, double sigma, int sims, uint64_t seed,
                    char *err, size_t errlen)
{
    int tot = m + nadd;
    double *nn = malloc(sizeof *nn * (size_t)tot), *yy = malloc(sizeof *yy * (size_t)tot);
    double *ss = calloc((size_t)tot, sizeof *ss), *off = malloc(sizeof *off * (size_t)(nadd + 1));
    int *cc = malloc(sizeof *cc * (size_t)tot);
    if (!nn || !yy || !ss || !off || !cc) {
        free(nn), free(yy), free(ss), free(off), free(cc);
        return util_fail(err, errlen, SL_EFAIL, "out of memory");
    }
    for (int k = 0; k < tot; k++) /* s: the group's fine-tuning size (the simple law ignores it) */
        ss[k] = fit->finetune_size > 0 ? (double)fit->finetune_size : 1.0;
    memcpy(nn, n, sizeof *nn * (size_t)m);
    memcpy(yy, y, sizeof *yy * (size_t)m);
    memcpy(cc, cluster, sizeof *cc * (size_t)m);
    for (int k = 0; k < nadd; k++)
        nn[m + k] = add_n[k], cc[m + k] = add_cluster[k];
    /* the same in every simulation: an added point's repeat offset where the points show it
     * (their mean residual), else the earlier added point of its repeat (-1: draw one) */
    double *obs = malloc(sizeof *obs * (size_t)(nadd + 1));
    int *prev = malloc(sizeof *prev * (size_t)(nadd + 1));
    if (!obs || !prev) {
        free(nn), free(yy), free(ss), free(off), free(cc), free(obs), free(prev);
        return util_fail(err, errlen, SL_EFAIL, "out of memory");
    }
    for (int k = 0; k < nadd; k++) {
        double sum = 0;
        int known = 0;
        for (int j = 0; j < m; j++)
            if (cluster[j] == add_cluster[k])
                sum += y[j] - fit_eval(FIT_SIMPLE, fit->p, n[j], 0), known++;
        obs[k] = known ? sum / known : NAN;
        prev[k] = -1;
        for (int j = 0; j < k; j++)
            if (add_cluster[j] == add_cluster[k])
                prev[k] = j;
    }
    double wsum = 0, settled_sum = 0, mid = 0;
    int ok = 0;
    for (int sim = 0; sim < sims; sim++) {
        rng_t r;
        rng_seed(&r, rng_hash(seed, (const uint64_t[]){(uint64_t)sim}, 1));
        /* offsets: observed for a repeat among the points, drawn for a new one (once each) */
        for (int k = 0; k < nadd; k++)
            off[k] = isfinite(obs[k]) ? obs[k] : prev[k] >= 0 ? off[prev[k]] : tau * rng_normal(&r);
        for (int k = 0; k < nadd; k++)
            yy[m + k] = fit_eval(FIT_SIMPLE, fit->p, add_n[k], 0) + off[k] + sigma * rng_normal(&r);
        analysis_options so = *o;
        so.seed = rng_next(&r);
        analysis_row row;
        memset(&row, 0, sizeof row);
        int rc = analysis_group(&row, &so, nn, ss, yy, cc, tot, err, errlen);
        if (rc < 0) {
            free(nn), free(yy), free(ss), free(off), free(cc), free(obs), free(prev);
            return -1;
        }
        refine_quantity one = refine_quantity_of(&row, t);
        settled_sum += rc == 0 && settled(&row);
        if (rc == 0 && isfinite(one.lo) && isfinite(one.hi)) {
            wsum += one.hi - one.lo;
            mid += 0.5 * (one.hi + one.lo);
            ok++;
        }
    }
    q->settled = sims ? settled_sum / sims : 0;
    q->lo = ok ? mid / ok - 0.5 * wsum / ok : NAN;
    q->hi = ok ? mid / ok + 0.5 * wsum / ok : NAN;
    free(nn), free(yy), free(ss), free(off), free(cc), free(obs), free(prev);
    return 0;
}

/* ---- the results file: groups, their points, measured costs ---- */

typedef struct {
    const store_cell_row *key; /* a row of the group (its coordinates) */
    double *n, *y;
    int *cluster;
    int m;
} group_points;

/* Mean measured seconds of the backbones of (model, level, task, n); for an n the file does not
 * have, the largest one's scaled by the step budget. -1 when the file has none of that kind. */
static double backbone_seconds(const store_results *res, const job_spec *spec, const char *model, int level,
                               const char *task, long n)
{
    double sum = 0;
    int k = 0;
    long best_n = 0;
    for (int i = 0; i < res->nbackbone; i++) {
        const store_backbone_row *b = &res->bb[i];
        if (b->status != CELL_DONE || strcmp(b->model, model) || b->complexity != level || strcmp(b->pretrain_task, task))
            continue;
        if (b->pretrain_size == n)
            sum += b->wall_time, k++;
        if (b->pretrain_size > best_n)
            best_n = b->pretrain_size;
    }
    if (k)
        return sum / k;
    if (!best_n)
        return -1;
    double t = backbone_seconds(res, spec, model, level, task, best_n);
    return t * (double)job_pretrain_steps(spec, n) / (double)job_pretrain_steps(spec, best_n);
}

/* Mean measured seconds of the cells like c (pre-trained: of its group; scratch: of its model
 * and setting); -1 when there are none. */
static double cell_seconds(const store_results *res, const store_cell_row *c)
{
    double sum = 0;
    int k = 0;
    for (int i = 0; i < res->ncell; i++) {
        const store_cell_row *r = &res->rows[i];
        if (r->status != CELL_DONE || (r->pretrain_size == 0) != (c->pretrain_size == 0) ||
            strcmp(r->model, c->model) || r->finetune_size != c->finetune_size || r->finetune_steps != c->finetune_steps ||
            r->finetune_freeze != c->finetune_freeze)
            continue;
        if (c->pretrain_size > 0 && (r->complexity != c->complexity || strcmp(r->pretrain_task, c->pretrain_task) ||
                                     r->finetune_lr != c->finetune_lr))
            continue;
        sum += r->wall_time, k++;
    }
    return k ? sum / k : -1;
}

/* Predicted seconds of a whole job from the times measured in res. */
static int job_seconds(double *out, const store_results *res, const job_spec *spec, char *err, size_t errlen)
{
    int nc = job_cell_count(spec), nb = job_backbone_count(spec);
    job_cell *cells = malloc(sizeof *cells * (size_t)(nc + 1));
    job_backbone *bb = malloc(sizeof *bb * (size_t)(nb + 1));
    if (!cells || !bb) {
        free(cells), free(bb);
        return util_fail(err, errlen, SL_EFAIL, "out of memory");
    }
    job_cells(spec, cells);
    job_backbones(spec, bb);
    double t = 0;
    int rc = SL_OK;
    for (int b = 0; b < nb && rc == SL_OK; b++) {
        double s = backbone_seconds(res, spec, spec->model[bb[b].model], bb[b].complexity, job_task_name(bb[b].task),
                                    bb[b].size);
        if (s < 0)
            rc = util_fail(err, errlen, SL_EINPUT, "no measured backbone of %s at level %d to cost from",
                           spec->model[bb[b].model], bb[b].complexity);
        t += s;
    }
    for (int i = 0; i < nc && rc == SL_OK; i++) {
        const job_cell *c = &cells[i];
        store_cell_row key;
        memset(&key, 0, sizeof key);
        snprintf(key.model, sizeof key.model, "%s", spec->model[c->model]);
        snprintf(key.pretrain_task, sizeof key.pretrain_task, "%s", job_task_name(c->task));
        key.pretrain_size = c->size;
        key.complexity = c->complexity;
        key.finetune_size = c->ftsize;
        job_recipe r = job_cell_recipe(spec, c);
        key.finetune_lr = r.lr;
        key.finetune_steps = r.steps;
        key.finetune_freeze = (int8_t)r.freeze;
        double s = cell_seconds(res, &key);
        if (s < 0)
            rc = util_fail(err, errlen, SL_EINPUT, "no measured cell like %s s=%ld to cost from", key.model, c->ftsize);
        t += s;
    }
    free(cells), free(bb);
    *out = t;
    return rc;
}

/* Add v to a list of longs/ints/doubles/strings if absent (the grid's axes). */
static void add_long(long *a, int *n, long v)
{
    for (int i = 0; i < *n; i++)
        if (a[i] == v)
            return;
    a[(*n)++] = v;
}
static void add_int(int *a, int *n, int v)
{
    for (int i = 0; i < *n; i++)
        if (a[i] == v)
            return;
    a[(*n)++] = v;
}
static void add_double(double *a, int *n, double v)
{
    for (int i = 0; i < *n; i++)
        if (a[i] == v)
            return;
    a[(*n)++] = v;
}

/* The job of one kind of addition for the groups with in[g] set: the base job's recipes and
 * seed, the union of those groups' coordinates. */
static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static void grid_for(job_spec *next, const job_spec *base, const refine_group *g, const int *in, int ng,
                     refine_kind kind, int nrep, int first_new, int first_old)
{
    *next = *base;
    next->pretrain_from[0] = '\0';
    next->n_model = next->n_complexity = next->n_task = next->n_ftsize = 0;
    next->n_ftlr = next->n_ftsteps = next->n_ftfreeze = 0;
    for (int m = 0; m < base->n_model; m++) /* the base job's order */
        for (int i = 0; i < ng; i++)
            if (in[i] && strcmp(g[i].row.model, base->model[m]) == 0) {
                snprintf(next->model[next->n_model++], JOB_NAME_LEN, "%s", base->model[m]);
                break;
            }
    for (int i = 0; i < ng; i++) {
        if (!in[i])
            continue;
        add_int(next->complexity, &next->n_complexity, g[i].row.complexity);
        int t = strcmp(g[i].row.pretrain_task, "segment") == 0 ? TASK_SEGMENT : TASK_MULTILABEL;
        int nt = next->n_task, tt[JOB_MAX_AXIS];
        for (int k = 0; k < nt; k++)
            tt[k] = (int)next->task[k];
        add_int(tt, &nt, t);
        next->n_task = nt;
        for (int k = 0; k < nt; k++)
            next->task[k] = (job_task)tt[k];
        add_long(next->ftsize, &next->n_ftsize, g[i].row.finetune_size);
        add_double(next->ftlr, &next->n_ftlr, g[i].row.finetune_lr);
        add_int(next->ftsteps, &next->n_ftsteps, g[i].row.finetune_steps);
        add_int(next->ftfreeze, &next->n_ftfreeze, g[i].row.finetune_freeze);
    }
    if (base->finetune.scratch_lr > 0) { /* one lr, finetune.lr: keep it */
        next->n_ftlr = 1;
        next->ftlr[0] = base->finetune.lr;
    }
    if (kind == REFINE_REPEATS) {
        next->first_repeat = first_new;
        next->repeats = nrep;
    } else {
        next->n_size = 0;
        for (int i = 0; i < ng; i++)
            if (in[i])
                add_long(next->size, &next->n_size, g[i].new_size);
        qsort(next->size, (size_t)next->n_size, sizeof *next->size, cmp_long);
        next->first_repeat = first_old;
        next->repeats = nrep;
    }
}

/* Whether group g lies in the grid of next. */
static int covered(const refine_group *g, const job_spec *next)
{
    int ok = 0;
    for (int m = 0; m < next->n_model; m++)
        ok |= strcmp(next->model[m], g->row.model) == 0;
    int c = 0, s = 0, t = 0, l = 0, st = 0, f = 0;
    for (int k = 0; k < next->n_complexity; k++)
        c |= next->complexity[k] == g->row.complexity;
    for (int k = 0; k < next->n_ftsize; k++)
        s |= next->ftsize[k] == g->row.finetune_size;
    for (int k = 0; k < next->n_task; k++)
        t |= strcmp(job_task_name(next->task[k]), g->row.pretrain_task) == 0;
    for (int k = 0; k < next->n_ftlr; k++)
        l |= next->ftlr[k] == g->row.finetune_lr;
    if (next->finetune.scratch_lr > 0)
        l = 1;
    for (int k = 0; k < next->n_ftsteps; k++)
        st |= next->ftsteps[k] == g->row.finetune_steps;
    for (int k = 0; k < next->n_ftfreeze; k++)
        f |= next->ftfreeze[k] == g->row.finetune_freeze;
    return ok && c && s && t && l && st && f;
}

static double effect(const refine_group *g, refine_kind k, refine_target t)
{
    if (!g->candidate)
        return 0;
    if (t == REFINE_DECISION)
        return g->after[k].settled - g->now.settled;
    double w0 = g->now.hi - g->now.lo, w1 = g->after[k].hi - g->after[k].lo;
    return isfinite(w0) && isfinite(w1) ? w0 - w1 : 0;
}

static int cmp_ratio(const void *a, const void *b)
{
    const double *x = a, *y = b; /* {ratio, index} */
    return x[0] < y[0] ? 1 : x[0] > y[0] ? -1 : (x[1] > y[1]) - (x[1] < y[1]);
}

/* The groups of the file's finished pre-trained cells, with their points; the range of the
 * repeats among the finished cells. */
typedef struct {
    group_points *g;
    int n;
    int rep_min, rep_max;
} group_set;

static void group_set_free(group_set *s)
{
    for (int g = 0; g < s->n; g++)
        free(s->g[g].n), free(s->g[g].y), free(s->g[g].cluster);
    free(s->g);
    memset(s, 0, sizeof *s);
}

static int collect_groups(group_set *s, const store_results *res, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->rep_min = 1 << 30, s->rep_max = -1;
    s->g = calloc((size_t)res->ncell + 1, sizeof *s->g);
    if (!s->g)
        return util_fail(err, errlen, SL_EFAIL, "out of memory");
    for (int i = 0; i < res->ncell; i++) {
        const store_cell_row *r = &res->rows[i];
        if (r->status == CELL_DONE) {
            s->rep_min = r->repeat < s->rep_min ? r->repeat : s->rep_min;
            s->rep_max = r->repeat > s->rep_max ? r->repeat : s->rep_max;
        }
        if (!fitfile_usable(r))
            continue;
        int g = 0;
        while (g < s->n && !fitfile_same_group(s->g[g].key, r))
            g++;
        group_points *p = &s->g[g];
        if (g == s->n) {
            s->n++;
            p->key = r;
            p->n = malloc(sizeof *p->n * (size_t)res->ncell);
            p->y = malloc(sizeof *p->y * (size_t)res->ncell);
            p->cluster = malloc(sizeof *p->cluster * (size_t)res->ncell);
            if (!p->n || !p->y || !p->cluster)
                return util_fail(err, errlen, SL_EFAIL, "out of memory");
        }
        p->n[p->m] = (double)r->pretrain_size;
        p->y[p->m] = r->final_error;
        p->cluster[p->m] = r->repeat;
        p->m++;
    }
    return SL_OK;
}

/* A group now (analysed as fit does) and, when it needs refining, after each addition. */
static int assess_group(refine_group *G, const group_points *p, const group_set *s, const analysis_options *ao,
                        const refine_options *o, int index, char *err, size_t errlen)
{
    const store_cell_row *k = p->key;
    double *sz = malloc(sizeof *sz * ((size_t)p->m + 1)); /* s of every point */
    if (!sz)
        return util_fail(err, errlen, SL_EFAIL, "out of memory");
    for (int j = 0; j < p->m; j++)
        sz[j] = (double)k->finetune_size;
    int arc = analysis_group(&G->row, ao, p->n, sz, p->y, p->cluster, p->m, err, errlen);
    free(sz);
    if (arc < 0)
        return SL_EFAIL;
    snprintf(G->row.model, sizeof G->row.model, "%s", k->model);
    G->row.complexity = k->complexity;
    snprintf(G->row.pretrain_task, sizeof G->row.pretrain_task, "%s", k->pretrain_task);
    G->row.finetune_size = k->finetune_size;
    G->row.finetune_lr = k->finetune_lr;
    G->row.finetune_steps = k->finetune_steps;
    G->row.finetune_freeze = k->finetune_freeze;
    G->now = refine_quantity_of(&G->row, o->target);
    G->new_size = 4 * (long)G->row.n_max;
    double w = G->now.hi - G->now.lo;
    G->candidate = !G->now.settled || (o->target != REFINE_DECISION && (!isfinite(w) || w > o->width));
    if (!G->candidate)
        return SL_OK;
    double tau, sigma;
    refine_noise(&G->row, p->n, p->y, p->cluster, p->m, &tau, &sigma);
    int nrep = s->rep_max - s->rep_min + 1, cap = p->m + nrep + 1, nadd = 0;
    double *an = malloc(sizeof *an * (size_t)cap);
    int *ac = malloc(sizeof *ac * (size_t)cap), rc = SL_OK;
    if (!an || !ac) {
        free(an), free(ac);
        return util_fail(err, errlen, SL_EFAIL, "out of memory");
    }
    /* more repeats: every point again, in a new repeat after the file's last */
    for (int j = 0; j < p->m; j++)
        an[nadd] = p->n[j], ac[nadd] = p->cluster[j] - s->rep_min + s->rep_max + 1, nadd++;
    uint64_t seed = rng_hash(o->seed, (const uint64_t[]){(uint64_t)index, 1}, 2);
    if (refine_simulate(&G->after[REFINE_REPEATS], ao, o->target, &G->row, p->n, p->y, p->cluster, p->m, an, ac,
                        nadd, tau, sigma, o->sims, seed, err, errlen) != 0)
        rc = SL_EFAIL;
    /* a new size: 4 x the largest n, in each repeat */
    nadd = 0;
    for (int r = s->rep_min; r <= s->rep_max; r++)
        an[nadd] = (double)G->new_size, ac[nadd] = r, nadd++;
    seed = rng_hash(o->seed, (const uint64_t[]){(uint64_t)index, 2}, 2);
    if (rc == SL_OK && refine_simulate(&G->after[REFINE_SIZE], ao, o->target, &G->row, p->n, p->y, p->cluster, p->m,
                                       an, ac, nadd, tau, sigma, o->sims, seed, err, errlen) != 0)
        rc = SL_EFAIL;
    free(an), free(ac);
    return rc;
}

/* The best job of one kind within the budget: groups by effect per core-hour of their own
 * addition, each kept while the grid of the chosen stays within the budget. in[] receives
 * the chosen groups; *seconds and *total the grid's cost and effect (0 when none fits). */
static int best_of_kind(job_spec *next, int *in, double *seconds, double *total, refine_result *out,
                        const store_results *res, const job_spec *base, const group_set *s, refine_kind kind,
                        const refine_options *o, char *err, size_t errlen)
{
    int ng = out->ngroup, nrep = s->rep_max - s->rep_min + 1, nord = 0, rc = SL_OK;
    *seconds = *total = 0;
    double *order = malloc(sizeof *order * 2 * ((size_t)ng + 1));
    if (!order)
        return util_fail(err, errlen, SL_EFAIL, "out of memory");
    for (int g = 0; g < ng && rc == SL_OK; g++) {
        refine_group *G = &out->groups[g];
        memset(in, 0, sizeof *in * (size_t)ng);
        in[g] = 1;
        grid_for(next, base, out->groups, in, ng, kind, nrep, s->rep_max + 1, s->rep_min);
        rc = job_seconds(&G->seconds[kind], res, next, err, errlen);
        double e = effect(G, kind, o->target);
        if (e > 0)
            order[2 * nord] = e / fmax(G->seconds[kind], 1e-9), order[2 * nord + 1] = g, nord++;
    }
    qsort(order, (size_t)nord, 2 * sizeof *order, cmp_ratio);
    memset(in, 0, sizeof *in * (size_t)ng);
    *seconds = *total = 0;
    for (int j = 0; j < nord && rc == SL_OK; j++) {
        int g = (int)order[2 * j + 1];
        double t;
        in[g] = 1;
        grid_for(next, base, out->groups, in, ng, kind, nrep, s->rep_max + 1, s->rep_min);
        rc = job_seconds(&t, res, next, err, errlen);
        if (t > o->budget_hours * 3600.0)
            in[g] = 0;
        else
            *seconds = t;
    }
    free(order);
    grid_for(next, base, out->groups, in, ng, kind, nrep, s->rep_max + 1, s->rep_min);
    for (int g = 0; g < ng && *seconds > 0; g++)
        if (covered(&out->groups[g], next))
            *total += effect(&out->groups[g], kind, o->target);
    return rc;
}

int refine_run(refine_result *out, const char *const *paths, int npath, const refine_options *o, char *err,
               size_t errlen)
{
    memset(out, 0, sizeof *out);
    store_results res;
    int rc = fitfile_read(&res, paths, npath, err, errlen);
    if (rc != SL_OK)
        return rc;
    job_spec base;
    char why[512];
    group_set s = {0};
    int *in = NULL;
    if (res.version < 2 || job_parse_grid(&base, res.job_text, paths[0], 0, why, sizeof why) != 0) {
        rc = util_fail(err, errlen, SL_EINPUT, "%s: refine needs a results file of format 2 (with its job and "
                       "backbones)", paths[0]);
        goto done;
    }
    base.shape = res.shape;
    snprintf(out->job_name, sizeof out->job_name, "%s", res.job_name);
    if ((rc = collect_groups(&s, &res, err, errlen)) != SL_OK)
        goto done;
    if (s.n == 0) {
        rc = util_fail(err, errlen, SL_EINPUT, "%s: no finished pre-trained cells to refine", paths[0]);
        goto done;
    }
    out->groups = calloc((size_t)s.n, sizeof *out->groups);
    in = calloc((size_t)s.n, sizeof *in);
    if (!out->groups || !in) {
        rc = util_fail(err, errlen, SL_EFAIL, "out of memory");
        goto done;
    }
    out->ngroup = s.n;
    analysis_options ao = o->ao;
    ao.bootstrap = o->bootstrap;
    ao.seed = o->seed;
    if (!ao.fit.fixed[2] && !isfinite(ao.fit.hi[2]))
        ao.fit.hi[2] = 1.0 - 1.0 / (res.shape.classes >= 2 ? res.shape.classes : 2);
    for (int g = 0; g < s.n; g++) {
        if ((rc = assess_group(&out->groups[g], &s.g[g], &s, &ao, o, g, err, errlen)) != SL_OK)
            goto done;
        out->ncandidate += out->groups[g].candidate;
    }
    double effects[REFINE_KINDS] = {0}, best_seconds = 0;
    out->kind = REFINE_NONE;
    for (int kind = REFINE_REPEATS; kind <= REFINE_SIZE; kind++) {
        job_spec next;
        double seconds = 0, total = 0;
        if ((rc = best_of_kind(&next, in, &seconds, &total, out, &res, &base, &s, kind, o, err, errlen)) != SL_OK)
            goto done;
        effects[kind] = total;
        if (seconds <= 0 || total <= 0)
            continue;
        if (total > out->effect || (total == out->effect && seconds < best_seconds)) {
            out->effect = total, best_seconds = seconds, out->kind = kind, out->next = next;
            for (int g = 0; g < s.n; g++)
                out->groups[g].chosen = in[g];
        }
    }
    out->effect_other = out->kind == REFINE_REPEATS ? effects[REFINE_SIZE] : effects[REFINE_REPEATS];
    if (out->kind != REFINE_NONE) {
        out->seconds = best_seconds;
        char name[JOB_NAME_LEN];
        snprintf(name, sizeof name, "%.23s-refine", res.job_name);
        snprintf(out->next.name, sizeof out->next.name, "%s", name);
        out->cells = job_cell_count(&out->next);
        out->backbones = job_backbone_count(&out->next);
        if (out->kind == REFINE_SIZE) {
            out->new_sizes = out->next.n_size;
            memcpy(out->new_size, out->next.size, sizeof *out->new_size * (size_t)out->next.n_size);
        }
        for (int g = 0; g < s.n; g++) {
            out->groups[g].in_grid = covered(&out->groups[g], &out->next);
            in[g] = 1;
        }
        job_spec uni; /* the same addition for every group of the file */
        grid_for(&uni, &base, out->groups, in, s.n, out->kind, s.rep_max - s.rep_min + 1, s.rep_max + 1, s.rep_min);
        rc = job_seconds(&out->uniform_seconds, &res, &uni, err, errlen);
    }
done:
    free(in);
    group_set_free(&s);
    store_results_free(&res);
    if (rc != SL_OK)
        refine_result_free(out);
    return rc;
}

void refine_result_free(refine_result *r)
{
    if (!r)
        return;
    free(r->groups);
    r->groups = NULL;
    r->ngroup = 0;
}
