/* Scaling-law fits with GSL's nonlinear least squares (multifit_nlinear, trust region).
 *
 * Laws (n = pre-training size, s = fine-tuning size, y = test error):
 *   FIT_SIMPLE  y = D * n^-alpha + C                   parameters D, alpha, C
 *   FIT_POWER   y = D * n^-alpha                       parameters D, alpha
 *   FIT_FULL    y = delta * (gamma + n^-alpha) * s^-beta parameters delta, gamma, alpha, beta
 *
 * Bounds are handled by reparametrisation, so the trust-region solver works on unbounded
 * variables u: a parameter with two finite bounds is lo + (hi - lo) * logistic(u), one with a
 * lower bound only is lo + exp(u), an unbounded one is u. Jacobians are analytic (chain rule
 * through the map). Several starting points are tried (a grid over alpha, and beta for the
 * full law, with the linear parameters solved by least squares at each) and the best kept.
 * Standard errors come from the covariance (J^T J)^-1 * SSR / (m - p) in the physical
 * parameters; a parameter at a bound is flagged, since its error bar means little there. */
#ifndef SYNLAW_FIT_H
#define SYNLAW_FIT_H

enum { FIT_MAXP = 4 };

typedef enum { FIT_SIMPLE = 0, FIT_POWER = 1, FIT_FULL = 2 } fit_law;

/* Loss on the residuals. The robust ones are fitted by iteratively reweighted least squares
 * from the least-squares optimum: weights 1 / max(1, |r| / c) (Huber) or 1 / sqrt(1 + (r/c)^2)
 * (soft-L1), re-solved until the parameters change by less than 1e-9 relative. The scale c is
 * loss_scale, or when that is 0, 1.4826 * the median absolute deviation of the least-squares
 * residuals (a robust estimate of their standard deviation). */
typedef enum { FIT_LOSS_LINEAR = 0, FIT_LOSS_HUBER = 1, FIT_LOSS_SOFT_L1 = 2 } fit_loss;

typedef struct {
    fit_law law;
    double lo[FIT_MAXP], hi[FIT_MAXP]; /* bounds (may be -INFINITY / INFINITY) */
    int fixed[FIT_MAXP];               /* 1: held at value[i] */
    double value[FIT_MAXP];
    int log_residuals;                 /* 1: residuals ln f - ln y instead of f - y */
    fit_loss loss;
    double loss_scale;                 /* c of the robust loss; 0: from the residuals' MAD */
    int max_iter;
} fit_options;

typedef struct {
    fit_law law;
    int np;                      /* parameters of the law */
    int nfree;                   /* of which not fixed */
    double p[FIT_MAXP];          /* estimates */
    double se[FIT_MAXP];         /* standard errors (0 for fixed, NaN when undefined) */
    int at_bound[FIT_MAXP];      /* 1 if the estimate sits on a bound */
    int npoints;
    double rmse;                 /* sqrt(mean (f - y)^2), in units of y */
    double r2;                   /* 1 - SSR / SST, linear space */
    double cost;                 /* sum of squared residuals in the fitted space (weighted for
                                    a robust loss) */
    double ssr;                  /* unweighted sum of squared residuals in the fitted space */
    double aic, bic;             /* Gaussian: m ln(ssr/m) + 2k and + k ln m, k = nfree + 1 */
    double loss_scale;           /* c used by a robust loss (NaN for least squares) */
    int downweighted;            /* points with robust weight below 1 */
    int converged;               /* GSL driver reported success for the kept start */
    int iterations;
    int starts;                  /* starting points tried */
} fit_result;

/* Default options for a law: D, delta >= 0; alpha in [0.01, 3]; C, gamma >= 0; beta in [0, 3]. */
fit_options fit_default_options(fit_law law);
int fit_param_count(fit_law law);
const char *fit_param_name(fit_law law, int i);
/* Index of the parameter called name in law, or -1. */
int fit_param_index(fit_law law, const char *name);
/* The one vocabulary of laws and losses: "simple", "power", "full"; "linear", "huber",
 * "soft-l1". The parsers return 0, or -1 for an unknown name. */
const char *fit_law_name(fit_law law);
int fit_law_parse(const char *name, fit_law *law);
const char *fit_loss_name(fit_loss loss);
int fit_loss_parse(const char *name, fit_loss *loss);

/* Fit npts points (n[i], s[i], y[i]); s may be NULL except for FIT_FULL. Returns 0, or -1
 * when the fit is impossible (too few points, non-positive n or s, y not finite, no start
 * converged to a finite cost); res is filled as far as it can be either way. */
int fit_run(fit_result *res, const fit_options *opt, const double *n, const double *s,
            const double *y, int npts);
/* As fit_run, trying the parameters start[np] first; the grid of starting points is used
 * only if that start fails. For bootstrap replicates, started at the full-data estimate. */
int fit_run_from(fit_result *res, const fit_options *opt, const double *n, const double *s,
                 const double *y, int npts, const double *start);
/* Bootstrap: B replicates of the fit on data resampled with replacement, seeded. With
 * cluster == NULL single points are resampled; otherwise whole clusters (cluster[k] is the
 * id of point k, e.g. its repeat: each replicate draws as many clusters as there are, with
 * replacement, and takes all their points). A resample with fewer distinct (n, s) than free
 * parameters is drawn again. Replicate b's parameters go to samples[b * FIT_MAXP + i]
 * (NaN when that fit failed). Each replicate starts at full->p. Returns the number of
 * replicates that fitted, or -1 on out-of-memory (samples then unwritten). */
int fit_bootstrap(double *samples, const fit_options *opt, const fit_result *full, const double *n,
                  const double *s, const double *y, const int *cluster, int npts, int B,
                  unsigned long long seed);
/* Distinct (n, s) pairs among m points (s may be NULL: distinct n). */
int fit_distinct_points(const double *n, const double *s, int m);
/* Law value at (n, s) for parameters p. */
double fit_eval(fit_law law, const double *p, double n, double s);
/* Residuals r[m] and Jacobian J[m, nfree] (row-major) at the unbounded free variables u
 * exactly as the solver sees them; for checking the analytic Jacobian. Returns nfree. */
int fit_residuals(const fit_options *opt, const double *u, const double *n, const double *s,
                  const double *y, int m, double *r, double *J);
/* Physical parameters from the unbounded variables u (free ones only), and back. */
void fit_theta_from_u(const fit_options *opt, const double *u, double *theta);
void fit_u_from_theta(const fit_options *opt, const double *theta, double *u);

#endif
