/* Bounded nonlinear least squares for the scaling laws, on gsl_multifit_nlinear. */
#include "synlaw/fit.h"

#include "synlaw/rng.h"

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_vector.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[3][FIT_MAXP] = {
    {"D", "alpha", "C", NULL}, {"D", "alpha", NULL, NULL}, {"delta", "gamma", "alpha", "beta"}};

static const char *const law_names[3] = {[FIT_SIMPLE] = "simple", [FIT_POWER] = "power",
                                         [FIT_FULL] = "full"};
static const char *const loss_names[3] = {[FIT_LOSS_LINEAR] = "linear", [FIT_LOSS_HUBER] = "huber",
                                          [FIT_LOSS_SOFT_L1] = "soft-l1"};

int fit_param_count(fit_law law) { return law == FIT_SIMPLE ? 3 : law == FIT_POWER ? 2 : 4; }
const char *fit_param_name(fit_law law, int i) { return names[law][i]; }

int fit_param_index(fit_law law, const char *name)
{
    for (int i = 0; i < fit_param_count(law); i++)
        if (strcmp(names[law][i], name) == 0)
            return i;
    return -1;
}

const char *fit_law_name(fit_law law) { return law_names[law]; }

int fit_law_parse(const char *name, fit_law *law)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(law_names[i], name) == 0) {
            *law = (fit_law)i;
            return 0;
        }
    return -1;
}

const char *fit_loss_name(fit_loss loss) { return loss_names[loss]; }

int fit_loss_parse(const char *name, fit_loss *loss)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(loss_names[i], name) == 0) {
            *loss = (fit_loss)i;
            return 0;
        }
    return -1;
}

fit_options fit_default_options(fit_law law)
{
    fit_options o;
    memset(&o, 0, sizeof o);
    o.law = law;
    o.max_iter = 500;
    for (int i = 0; i < FIT_MAXP; i++) {
        o.lo[i] = 0.0;
        o.hi[i] = INFINITY;
    }
    int ia = law == FIT_FULL ? 2 : 1; /* alpha */
    o.lo[ia] = 0.01;
    o.hi[ia] = 3.0;
    if (law == FIT_FULL)
        o.hi[3] = 3.0; /* beta */
    return o;
}

/* Value and gradient with respect to the physical parameters. */
static double law_eval(fit_law law, const double *p, double n, double s, double *grad)
{
    double na = pow(n, -p[law == FIT_FULL ? 2 : 1]), ln_n = log(n);
    switch (law) {
    case FIT_SIMPLE:
        if (grad) {
            grad[0] = na;
            grad[1] = -p[0] * na * ln_n;
            grad[2] = 1.0;
        }
        return p[0] * na + p[2];
    case FIT_POWER:
        if (grad) {
            grad[0] = na;
            grad[1] = -p[0] * na * ln_n;
        }
        return p[0] * na;
    case FIT_FULL: {
        double sb = pow(s, -p[3]);
        double f = p[0] * (p[1] + na) * sb;
        if (grad) {
            grad[0] = (p[1] + na) * sb;
            grad[1] = p[0] * sb;
            grad[2] = -p[0] * na * ln_n * sb;
            grad[3] = -f * log(s);
        }
        return f;
    }
    }
    return NAN;
}

double fit_eval(fit_law law, const double *p, double n, double s) { return law_eval(law, p, n, s, NULL); }

typedef struct {
    const fit_options *opt;
    int np, nfree, freeidx[FIT_MAXP];
    const double *n, *s, *y;
    const double *w; /* square roots of the robust weights, NULL: all 1 */
    int m;
} problem;

static double logistic(double u) { return 1.0 / (1.0 + exp(-u)); }

/* theta from u for free parameter j; derivative in *dtheta. */
static double to_theta(const fit_options *o, int i, double u, double *dtheta)
{
    double lo = o->lo[i], hi = o->hi[i];
    if (isfinite(lo) && isfinite(hi)) {
        double g = logistic(u);
        *dtheta = (hi - lo) * g * (1.0 - g);
        return lo + (hi - lo) * g;
    }
    if (isfinite(lo)) {
        double e = exp(u > 700 ? 700 : u);
        *dtheta = e;
        return lo + e;
    }
    if (isfinite(hi)) {
        double e = exp(u > 700 ? 700 : u);
        *dtheta = -e;
        return hi - e;
    }
    *dtheta = 1.0;
    return u;
}

static double to_u(const fit_options *o, int i, double theta)
{
    double lo = o->lo[i], hi = o->hi[i];
    if (isfinite(lo) && isfinite(hi)) {
        double t = (theta - lo) / (hi - lo);
        t = t < 1e-9 ? 1e-9 : t > 1 - 1e-9 ? 1 - 1e-9 : t;
        return log(t / (1.0 - t));
    }
    if (isfinite(lo))
        return log(theta - lo > 1e-12 ? theta - lo : 1e-12);
    if (isfinite(hi))
        return log(hi - theta > 1e-12 ? hi - theta : 1e-12);
    return theta;
}

static void unpack(const problem *pb, const gsl_vector *u, double *theta, double *dtheta)
{
    for (int i = 0; i < pb->np; i++) {
        theta[i] = pb->opt->value[i];
        dtheta[i] = 0.0;
    }
    for (int j = 0; j < pb->nfree; j++) {
        int i = pb->freeidx[j];
        theta[i] = to_theta(pb->opt, i, gsl_vector_get(u, (size_t)j), &dtheta[i]);
    }
}

static int resid_f(const gsl_vector *u, void *data, gsl_vector *f)
{
    const problem *pb = data;
    double th[FIT_MAXP], dth[FIT_MAXP];
    unpack(pb, u, th, dth);
    for (int k = 0; k < pb->m; k++) {
        double v = law_eval(pb->opt->law, th, pb->n[k], pb->s ? pb->s[k] : 1.0, NULL);
        double r = pb->opt->log_residuals ? log(v > 1e-300 ? v : 1e-300) - log(pb->y[k]) : v - pb->y[k];
        gsl_vector_set(f, (size_t)k, pb->w ? pb->w[k] * r : r);
    }
    return GSL_SUCCESS;
}

static int resid_df(const gsl_vector *u, void *data, gsl_matrix *J)
{
    const problem *pb = data;
    double th[FIT_MAXP], dth[FIT_MAXP], g[FIT_MAXP];
    unpack(pb, u, th, dth);
    for (int k = 0; k < pb->m; k++) {
        double v = law_eval(pb->opt->law, th, pb->n[k], pb->s ? pb->s[k] : 1.0, g);
        double scale = pb->opt->log_residuals ? 1.0 / (v > 1e-300 ? v : 1e-300) : 1.0;
        if (pb->w)
            scale *= pb->w[k];
        for (int j = 0; j < pb->nfree; j++) {
            int i = pb->freeidx[j];
            gsl_matrix_set(J, (size_t)k, (size_t)j, g[i] * dth[i] * scale);
        }
    }
    return GSL_SUCCESS;
}

/* Least squares of y ~ a * x + b over m points; returns 0 on success. */
static int linear_ls(const double *x, const double *y, int m, double *a, double *b)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int k = 0; k < m; k++) {
        sx += x[k];
        sy += y[k];
        sxx += x[k] * x[k];
        sxy += x[k] * y[k];
    }
    double den = m * sxx - sx * sx;
    if (m < 2 || fabs(den) < 1e-300)
        return -1;
    *a = (m * sxy - sx * sy) / den;
    *b = (sy - *a * sx) / m;
    return 0;
}

static double clampb(const fit_options *o, int i, double v)
{
    double lo = o->lo[i], hi = o->hi[i];
    double span = isfinite(lo) && isfinite(hi) ? hi - lo : 1.0;
    if (isfinite(lo) && v <= lo)
        v = lo + 1e-3 * span;
    if (isfinite(hi) && v >= hi)
        v = hi - 1e-3 * span;
    return v;
}

/* Starting point for given alpha (and beta), linear parameters by least squares. */
static void start_point(const problem *pb, double alpha, double beta, double *th, double *xbuf,
                        double *ybuf)
{
    const fit_options *o = pb->opt;
    int m = pb->m;
    double a = 0, b = 0;
    for (int k = 0; k < m; k++) {
        xbuf[k] = pow(pb->n[k], -alpha);
        ybuf[k] = o->law == FIT_FULL ? pb->y[k] * pow(pb->s[k], beta) : pb->y[k];
    }
    if (o->law == FIT_POWER) { /* y = D x: D = sum xy / sum xx */
        double sxx = 0, sxy = 0;
        for (int k = 0; k < m; k++) {
            sxx += xbuf[k] * xbuf[k];
            sxy += xbuf[k] * ybuf[k];
        }
        th[0] = sxy / (sxx > 0 ? sxx : 1);
        th[1] = alpha;
    } else {
        if (linear_ls(xbuf, ybuf, m, &a, &b) != 0) {
            a = 0.1;
            b = ybuf[0];
        }
        if (o->law == FIT_SIMPLE) {
            th[0] = a;
            th[1] = alpha;
            th[2] = b;
        } else {
            th[0] = a;
            th[1] = a > 0 ? b / a : 0.1;
            th[2] = alpha;
            th[3] = beta;
        }
    }
    for (int i = 0; i < pb->np; i++)
        th[i] = o->fixed[i] ? o->value[i] : clampb(o, i, th[i]);
}

static void setup_problem(problem *pb, const fit_options *opt)
{
    memset(pb, 0, sizeof *pb);
    pb->opt = opt;
    pb->np = fit_param_count(opt->law);
    for (int i = 0; i < pb->np; i++)
        if (!opt->fixed[i])
            pb->freeidx[pb->nfree++] = i;
}

int fit_residuals(const fit_options *opt, const double *u, const double *n, const double *s,
                  const double *y, int m, double *r, double *J)
{
    problem pb;
    setup_problem(&pb, opt);
    pb.n = n, pb.s = s, pb.y = y, pb.m = m;
    gsl_vector_const_view uv = gsl_vector_const_view_array(u, (size_t)pb.nfree);
    gsl_vector_view rv = gsl_vector_view_array(r, (size_t)m);
    gsl_matrix_view Jv = gsl_matrix_view_array(J, (size_t)m, (size_t)pb.nfree);
    resid_f(&uv.vector, &pb, &rv.vector);
    resid_df(&uv.vector, &pb, &Jv.matrix);
    return pb.nfree;
}

void fit_theta_from_u(const fit_options *opt, const double *u, double *theta)
{
    problem pb;
    double dth[FIT_MAXP];
    setup_problem(&pb, opt);
    gsl_vector_const_view uv = gsl_vector_const_view_array(u, (size_t)(pb.nfree ? pb.nfree : 1));
    unpack(&pb, &uv.vector, theta, dth);
}

void fit_u_from_theta(const fit_options *opt, const double *theta, double *u)
{
    problem pb;
    setup_problem(&pb, opt);
    for (int j = 0; j < pb.nfree; j++)
        u[j] = to_u(opt, pb.freeidx[j], theta[pb.freeidx[j]]);
}

/* Residual of point k in the fitted space at theta. */
static double residual(const fit_options *opt, const double *th, double n, double s, double y)
{
    double v = law_eval(opt->law, th, n, s, NULL);
    return opt->log_residuals ? log(v > 1e-300 ? v : 1e-300) - log(y) : v - y;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Solver state shared by the starts of one fit. */
typedef struct {
    problem pb;
    gsl_multifit_nlinear_fdf fdf;
    gsl_multifit_nlinear_workspace *w;
    gsl_vector *u0;
} solver;

/* Solve from theta th; on a finite cost below *best_cost keep it in best_th. */
static void solve_from(solver *sv, fit_result *res, const double *th, double *best_th, double *best_cost)
{
    const problem *pb = &sv->pb;
    for (int j = 0; j < pb->nfree; j++)
        gsl_vector_set(sv->u0, (size_t)j, to_u(pb->opt, pb->freeidx[j], th[pb->freeidx[j]]));
    if (gsl_multifit_nlinear_init(sv->u0, &sv->fdf, sv->w) != GSL_SUCCESS)
        return;
    int info;
    int status = gsl_multifit_nlinear_driver((size_t)pb->opt->max_iter, 1e-10, 1e-10, 1e-12, NULL,
                                             NULL, &info, sv->w);
    res->starts++;
    gsl_vector *fres = gsl_multifit_nlinear_residual(sv->w);
    double cost;
    gsl_blas_ddot(fres, fres, &cost);
    if (!isfinite(cost) || !(cost < *best_cost * (1 - 1e-12)))
        return;
    double dth[FIT_MAXP];
    *best_cost = cost;
    unpack(pb, gsl_multifit_nlinear_position(sv->w), best_th, dth);
    res->converged = status == GSL_SUCCESS;
    res->iterations = (int)gsl_multifit_nlinear_niter(sv->w);
}

/* The grid of starting points: alpha over its range (and beta for the full law), the
 * linear parameters by least squares at each. */
static void solve_grid(solver *sv, fit_result *res, double *best_th, double *best_cost,
                       double *xbuf, double *ybuf)
{
    const problem *pb = &sv->pb;
    const fit_options *opt = pb->opt;
    int ia = opt->law == FIT_FULL ? 2 : 1;
    double alphas[6], betas[3] = {0.1, 0.4, 1.0};
    int na = 6, nb = opt->law == FIT_FULL ? 3 : 1;
    double alo = isfinite(opt->lo[ia]) ? opt->lo[ia] : 0.01, ahi = isfinite(opt->hi[ia]) ? opt->hi[ia] : 3;
    const double frac[6] = {0.03, 0.1, 0.2, 0.35, 0.55, 0.8};
    for (int i = 0; i < na; i++)
        alphas[i] = opt->fixed[ia] ? opt->value[ia] : alo + (ahi - alo) * frac[i];
    if (opt->fixed[ia])
        na = 1;
    if (opt->law == FIT_FULL && opt->fixed[3]) {
        betas[0] = opt->value[3];
        nb = 1;
    }
    for (int ai = 0; ai < na; ai++)
        for (int bi = 0; bi < nb; bi++) {
            double th[FIT_MAXP];
            start_point(pb, alphas[ai], betas[bi], th, xbuf, ybuf);
            solve_from(sv, res, th, best_th, best_cost);
        }
}

/* Iteratively reweighted least squares for a robust loss, from the least-squares optimum
 * in best_th; sqw[m] receives the square roots of the final weights; r and a are scratch
 * arrays of m. */
static void solve_robust(solver *sv, fit_result *res, double *best_th, double *best_cost, double *sqw,
                         double *r, double *a)
{
    problem *pb = &sv->pb;
    const fit_options *opt = pb->opt;
    int m = pb->m;
    for (int k = 0; k < m; k++) {
        r[k] = residual(opt, best_th, pb->n[k], pb->s ? pb->s[k] : 1.0, pb->y[k]);
        a[k] = r[k];
    }
    double c = opt->loss_scale;
    if (!(c > 0)) {
        qsort(a, (size_t)m, sizeof *a, cmp_double);
        double med = m % 2 ? a[m / 2] : 0.5 * (a[m / 2 - 1] + a[m / 2]);
        for (int k = 0; k < m; k++)
            a[k] = fabs(r[k] - med);
        qsort(a, (size_t)m, sizeof *a, cmp_double);
        c = 1.4826 * (m % 2 ? a[m / 2] : 0.5 * (a[m / 2 - 1] + a[m / 2]));
    }
    res->loss_scale = c;
    for (int k = 0; k < m; k++)
        sqw[k] = 1.0;
    if (!(c > 0)) /* the points lie on the curve: nothing to down-weight */
        return;
    pb->w = sqw;
    for (int it = 0; it < 100; it++) {
        for (int k = 0; k < m; k++) {
            double z = fabs(residual(opt, best_th, pb->n[k], pb->s ? pb->s[k] : 1.0, pb->y[k])) / c;
            double wk = opt->loss == FIT_LOSS_HUBER ? (z <= 1 ? 1.0 : 1.0 / z) : 1.0 / sqrt(1.0 + z * z);
            sqw[k] = sqrt(wk);
        }
        double prev[FIT_MAXP], cost = INFINITY;
        memcpy(prev, best_th, sizeof prev);
        int conv = res->converged, iters = res->iterations;
        solve_from(sv, res, prev, best_th, &cost);
        if (!isfinite(cost)) { /* keep the previous point */
            memcpy(best_th, prev, sizeof prev);
            res->converged = conv, res->iterations = iters;
            break;
        }
        *best_cost = cost;
        double change = 0;
        for (int i = 0; i < pb->np; i++)
            change = fmax(change, fabs(best_th[i] - prev[i]) / (fabs(prev[i]) + 1e-12));
        if (change < 1e-9)
            break;
    }
    res->downweighted = 0;
    for (int k = 0; k < m; k++)
        res->downweighted += sqw[k] < 1.0 - 1e-12;
}

int fit_run_from(fit_result *res, const fit_options *opt, const double *n, const double *s,
                 const double *y, int m, const double *start)
{
    gsl_set_error_handler_off();
    memset(res, 0, sizeof *res);
    solver sv;
    memset(&sv, 0, sizeof sv);
    problem *pb = &sv.pb;
    setup_problem(pb, opt);
    pb->n = n, pb->s = s, pb->y = y, pb->m = m;
    res->law = opt->law;
    res->np = pb->np;
    res->npoints = m;
    for (int i = 0; i < pb->np; i++)
        res->p[i] = res->se[i] = NAN;
    res->nfree = pb->nfree;
    res->rmse = res->r2 = res->cost = res->ssr = res->aic = res->bic = res->loss_scale = NAN;
    if (m < pb->nfree || pb->nfree == 0 || (opt->law == FIT_FULL && !s))
        return -1;
    for (int k = 0; k < m; k++)
        if (!(n[k] > 0) || !isfinite(y[k]) || (s && !(s[k] > 0)) || (opt->log_residuals && !(y[k] > 0)))
            return -1;

    sv.fdf = (gsl_multifit_nlinear_fdf){.f = resid_f, .df = resid_df, .fvv = NULL, .n = (size_t)m,
                                        .p = (size_t)pb->nfree, .params = pb};
    gsl_multifit_nlinear_parameters params = gsl_multifit_nlinear_default_parameters();
    sv.w = gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &params, (size_t)m, (size_t)pb->nfree);
    sv.u0 = gsl_vector_alloc((size_t)pb->nfree);
    gsl_matrix *J = gsl_matrix_alloc((size_t)m, (size_t)pb->nfree);
    gsl_matrix *cov = gsl_matrix_alloc((size_t)pb->nfree, (size_t)pb->nfree);
    /* scratch: robust weights, and two arrays of m for the starts and the robust loss */
    double *sqw = malloc(sizeof *sqw * 3 * (size_t)m);
    int rc = -1;
    if (!sv.w || !sv.u0 || !J || !cov || !sqw)
        goto out;

    double best_cost = INFINITY, best_th[FIT_MAXP] = {0};
    if (start) {
        double th[FIT_MAXP];
        for (int i = 0; i < pb->np; i++)
            th[i] = opt->fixed[i] ? opt->value[i] : clampb(opt, i, start[i]);
        solve_from(&sv, res, th, best_th, &best_cost);
    }
    if (!isfinite(best_cost))
        solve_grid(&sv, res, best_th, &best_cost, sqw + m, sqw + 2 * (size_t)m);
    if (!isfinite(best_cost))
        goto out;
    if (opt->loss != FIT_LOSS_LINEAR)
        solve_robust(&sv, res, best_th, &best_cost, sqw, sqw + m, sqw + 2 * (size_t)m);

    /* Statistics at the best point, in the physical parameters. */
    for (int i = 0; i < pb->np; i++)
        res->p[i] = best_th[i];
    res->cost = best_cost;
    double ssr = 0, fssr = 0, mean = 0, sst = 0;
    for (int k = 0; k < m; k++)
        mean += y[k] / m;
    for (int k = 0; k < m; k++) {
        double g[FIT_MAXP];
        double v = law_eval(opt->law, best_th, n[k], s ? s[k] : 1.0, g);
        double rk = residual(opt, best_th, n[k], s ? s[k] : 1.0, y[k]);
        ssr += (v - y[k]) * (v - y[k]);
        fssr += rk * rk;
        sst += (y[k] - mean) * (y[k] - mean);
        double scale = opt->log_residuals ? 1.0 / (v > 1e-300 ? v : 1e-300) : 1.0;
        if (pb->w)
            scale *= pb->w[k];
        for (int j = 0; j < pb->nfree; j++)
            gsl_matrix_set(J, (size_t)k, (size_t)j, g[pb->freeidx[j]] * scale);
    }
    res->rmse = sqrt(ssr / m);
    res->r2 = sst > 0 ? 1.0 - ssr / sst : NAN;
    res->ssr = fssr;
    int k = pb->nfree + 1;
    res->aic = m * log(fssr / m) + 2.0 * k;
    res->bic = m * log(fssr / m) + k * log((double)m);
    for (int i = 0; i < pb->np; i++) {
        if (opt->fixed[i]) {
            res->se[i] = 0.0;
            continue;
        }
        double lo = opt->lo[i], hi = opt->hi[i];
        double tol = 1e-5 * (isfinite(lo) && isfinite(hi) ? hi - lo : 1.0 + fabs(best_th[i]));
        res->at_bound[i] = (isfinite(lo) && best_th[i] - lo < tol) || (isfinite(hi) && hi - best_th[i] < tol);
    }
    if (m > pb->nfree && gsl_multifit_nlinear_covar(J, 0.0, cov) == GSL_SUCCESS) {
        double sigma2 = best_cost / (m - pb->nfree);
        for (int j = 0; j < pb->nfree; j++) {
            double c = gsl_matrix_get(cov, (size_t)j, (size_t)j);
            res->se[pb->freeidx[j]] = c >= 0 && isfinite(c) ? sqrt(c * sigma2) : NAN;
        }
    }
    rc = 0;
out:
    if (sv.w)
        gsl_multifit_nlinear_free(sv.w);
    gsl_vector_free(sv.u0);
    gsl_matrix_free(J);
    gsl_matrix_free(cov);
    free(sqw);
    return rc;
}

int fit_run(fit_result *res, const fit_options *opt, const double *n, const double *s,
            const double *y, int m)
{
    return fit_run_from(res, opt, n, s, y, m, NULL);
}

typedef struct {
    double n, s;
} pair;

static int by_pair(const void *a, const void *b)
{
    const pair *x = a, *y = b;
    if (x->n != y->n)
        return x->n < y->n ? -1 : 1;
    return (x->s > y->s) - (x->s < y->s);
}

int fit_distinct_points(const double *n, const double *s, int m)
{
    pair *p = malloc(sizeof *p * (size_t)(m > 0 ? m : 1));
    if (!p)
        return -1;
    for (int k = 0; k < m; k++)
        p[k] = (pair){n[k], s ? s[k] : 1.0};
    qsort(p, (size_t)m, sizeof *p, by_pair);
    int d = 0;
    for (int k = 0; k < m; k++)
        d += k == 0 || by_pair(&p[k], &p[k - 1]) != 0;
    free(p);
    return d;
}

/* Whether m points have at least `need` distinct (n, s): stops as soon as they do, so a
 * bootstrap replicate costs O(m * need), not a sort. */
static int has_distinct(const double *n, const double *s, int m, int need)
{
    double seen_n[FIT_MAXP + 1], seen_s[FIT_MAXP + 1];
    int d = 0;
    if (need > FIT_MAXP + 1)
        return fit_distinct_points(n, s, m) >= need;
    for (int k = 0; k < m && d < need; k++) {
        int seen = 0;
        for (int j = 0; j < d && !seen; j++)
            seen = seen_n[j] == n[k] && (!s || seen_s[j] == s[k]);
        if (!seen) {
            seen_n[d] = n[k];
            seen_s[d] = s ? s[k] : 1.0;
            d++;
        }
    }
    return d >= need;
}

static const int *sort_cluster; /* qsort has no context argument */

static int by_cluster(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b;
    if (sort_cluster[i] != sort_cluster[j])
        return sort_cluster[i] < sort_cluster[j] ? -1 : 1;
    return i - j;
}

/* Double the capacity of three buffers of doubles; 0, or -1 (they stay as they were). */
static int grow3(double **a, double **b, double **c, size_t *cap)
{
    double **buf[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        double *p = realloc(*buf[i], sizeof(double) * *cap * 2);
        if (!p)
            return -1;
        *buf[i] = p;
    }
    *cap *= 2;
    return 0;
}

int fit_bootstrap(double *samples, const fit_options *opt, const fit_result *full, const double *n,
                  const double *s, const double *y, const int *cluster, int m, int B,
                  unsigned long long seed)
{
    int np = fit_param_count(opt->law), nfree = 0, ok = 0, nclu = 0, rc = -1;
    for (int i = 0; i < np; i++)
        nfree += !opt->fixed[i];
    size_t mm = (size_t)(m > 0 ? m : 1);
    /* Clusters: ids in first-appearance order, members of each listed in point order
     * (start[c] .. start[c + 1] in member[]). Without ids every point is its own cluster.
     * Sorting makes this O(m log m) and a replicate O(m), whatever the cluster sizes. */
    int *cid = malloc(sizeof(int) * mm), *ord = malloc(sizeof(int) * mm);
    int *start = malloc(sizeof(int) * (mm + 1)), *member = malloc(sizeof(int) * mm);
    int *first = malloc(sizeof(int) * mm);
    double *bn = NULL, *bs = NULL, *by = NULL;
    if (!cid || !ord || !start || !member || !first)
        goto out;
    if (cluster) {
        for (int k = 0; k < m; k++)
            ord[k] = k;
        sort_cluster = cluster;
        qsort(ord, (size_t)m, sizeof *ord, by_cluster);
        sort_cluster = NULL;
        /* runs of equal ids; a run's first element is its first appearance */
        int nrun = 0;
        for (int k = 0; k < m; k++) {
            if (k == 0 || cluster[ord[k]] != cluster[ord[k - 1]])
                first[nrun++] = ord[k];
            cid[ord[k]] = nrun - 1;
        }
        /* renumber runs by first appearance */
        for (int c = 0; c < nrun; c++)
            start[c] = -1;
        for (int k = 0; k < m; k++)
            if (start[cid[k]] < 0)
                start[cid[k]] = nclu++;
        for (int k = 0; k < m; k++)
            cid[k] = start[cid[k]];
    } else {
        for (int k = 0; k < m; k++)
            cid[k] = k;
        nclu = m;
    }
    for (int c = 0; c <= nclu; c++)
        start[c] = 0;
    for (int k = 0; k < m; k++)
        start[cid[k] + 1]++;
    for (int c = 0; c < nclu; c++)
        start[c + 1] += start[c];
    int big = 0;
    for (int c = 0; c < nclu; c++) {
        first[c] = start[c]; /* fill position */
        big = start[c + 1] - start[c] > big ? start[c + 1] - start[c] : big;
    }
    for (int k = 0; k < m; k++)
        member[first[cid[k]]++] = k;
    /* A replicate has m points on average and at most nclu * (largest cluster): the buffers
     * start at m + the largest cluster and grow when a replicate needs more. */
    size_t cap = mm + (size_t)big;
    bn = malloc(sizeof(double) * cap), bs = malloc(sizeof(double) * cap);
    by = malloc(sizeof(double) * cap);
    if (!bn || !bs || !by)
        goto out;
    uint64_t words[1] = {0x626f6f74}; /* "boot" */
    rng_t r;
    rng_seed(&r, rng_hash(seed, words, 1));
    for (int b = 0; b < B; b++) {
        int mb = 0;
        for (int tries = 0; tries < 100; tries++) {
            mb = 0;
            for (int d = 0; d < nclu; d++) {
                int c = (int)rng_below(&r, (uint64_t)nclu);
                if ((size_t)mb + (size_t)big > cap && grow3(&bn, &bs, &by, &cap) != 0)
                    goto out;
                for (int j = start[c]; j < start[c + 1]; j++) {
                    int k = member[j];
                    bn[mb] = n[k], bs[mb] = s ? s[k] : 1.0, by[mb] = y[k];
                    mb++;
                }
            }
            if (has_distinct(bn, s ? bs : NULL, mb, nfree))
                break;
        }
        fit_result fr;
        double *out = samples + (size_t)b * FIT_MAXP;
        for (int i = 0; i < FIT_MAXP; i++)
            out[i] = NAN;
        if (fit_run_from(&fr, opt, bn, s ? bs : NULL, by, mb, full->p) == 0) {
            for (int i = 0; i < np; i++)
                out[i] = fr.p[i];
            ok++;
        }
    }
    rc = ok;
out:
    free(cid), free(ord), free(start), free(member), free(first);
    free(bn), free(bs), free(by);
    return rc;
}
