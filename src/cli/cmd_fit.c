/* synlaw fit: (re)fit a results file, or learning curves from any CSV file. */
#include "cli.h"

#include "synlaw/csvfit.h"
#include "synlaw/fitfile.h"
#include "synlaw/store.h"
#include "synlaw/util.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const usage_fit =
    "usage: synlaw fit RESULTS.h5 [MORE.h5 ...] [options] [-o FITS.csv]\n"
    "       synlaw fit --csv CURVES.csv --x COL --y [1-]COL [--group C1,C2,...] [--where COL=V]...\n"
    "                  [--last COL] [--repeat COL] [--s COL] [options] [-o FITS.csv|FITS.h5]\n"
    "\n"
    "Fit L(n) = D*n^-alpha + C per (model, complexity, task, fine-tuning size) on the finished\n"
    "cells of a results file, and the full law L(n,s) when there are several fine-tuning sizes;\n"
    "print the table and the decision per group, and replace /fits in the file. With --csv, fit\n"
    "learning curves from any CSV file instead. Several results files of one design (the same\n"
    "seed, data and recipes: an earlier job and the repeats or sizes `synlaw refine` proposed)\n"
    "are fitted together; then no file is changed and -o writes the rows.\n"
    "\n"
    "  -o, --output FILE  also write the rows: CSV, or with --csv a new HDF5 file if FILE ends in .h5\n"
    "  -q, --quiet        do not print the table\n"
    "  --law L            simple (D, alpha, C; default), power (D, alpha), full (delta, gamma,\n"
    "                     alpha, beta); a results file always gets simple (and full)\n"
    "  --fix P=V          hold parameter P at V (e.g. --fix D=0.48)\n"
    "  --bound P=LO:HI    bounds of parameter P (inf allowed); defaults D >= 0, alpha in\n"
    "                     [0.01, 3], C >= 0 (C <= 1 too for a results file)\n"
    "  --log              residuals ln f - ln y instead of f - y\n"
    "  --loss L           linear (least squares, default), huber or soft-l1 (robust, by IRLS)\n"
    "  --loss-scale C     scale of the robust loss (default 1.4826 * MAD of the LS residuals)\n"
    "  --bootstrap B      bootstrap replicates for percentile intervals (default 1000; 0: none)\n"
    "  --boot-repeats     resample whole repeats instead of points (needs many repeats; a\n"
    "                     results file knows its repeats, a CSV needs --repeat)\n"
    "  --seed S           bootstrap seed (default 1)\n"
    "  --level L          interval coverage (default 0.95)\n"
    "  --holdout K        extrapolation check: fit without the K largest n, predict them\n"
    "                     (default 1; 0: no check)\n"
    "  --epsilon E        error difference that matters for the decision (default 0.01)\n"
    "  --within-repeats   fit within repeats: remove each repeat's mean over the group's sizes\n"
    "                     (the default for a results file; a CSV needs --repeat)\n"
    "  --across-repeats   fit the points as they are, repeats as independent points\n"
    "CSV input:\n"
    "  --csv FILE         read curves from a CSV file with a header row\n"
    "  --x COL            column of n (pre-training size); rows with n <= 0 are refused\n"
    "  --y COL | 1-COL    column of y, or one minus it (accuracy -> error)\n"
    "  --group C1,C2      columns that define a group (one fit each)\n"
    "  --where COL=V      keep rows with COL equal to V; COL!=V keeps the others (repeatable)\n"
    "  --last COL         per (group, n, s, repeat) keep only the row with the largest COL\n"
    "  --repeat COL       column of the repeat (seed) id: the bootstrap resamples whole repeats\n"
    "  --s COL            column of s (fine-tuning size), needed by the full law\n";

enum { MAX_PARAM_OPTIONS = 4 * FIT_MAXP }; /* more --fix/--bound than that repeat a parameter */

/* Apply "--fix P=V" or "--bound P=LO:HI" to opt. */
static int apply_param_option(fit_options *o, char *arg, int bound)
{
    char *eq = strchr(arg, '=');
    if (!eq)
        return -1;
    *eq = '\0';
    int i = fit_param_index(o->law, arg);
    if (i < 0)
        return -1;
    char *end;
    if (!bound) {
        o->fixed[i] = 1;
        o->value[i] = strtod(eq + 1, &end);
        return *end || end == eq + 1 || !isfinite(o->value[i]) ? -1 : 0;
    }
    char *colon = strchr(eq + 1, ':');
    if (!colon)
        return -1;
    *colon = '\0';
    o->lo[i] = strtod(eq + 1, &end);
    if (*end || end == eq + 1)
        return -1;
    o->hi[i] = strtod(colon + 1, &end);
    return *end || end == colon + 1 || !(o->lo[i] < o->hi[i]) ? -1 : 0;
}

/* A string field made safe to print in place (see cli_safe; cut to the field's size). */
static void safe_field(char *field, size_t len, const char *keep)
{
    char src[512];
    size_t n = strnlen(field, len < sizeof src ? len : sizeof src - 1);
    memcpy(src, field, n);
    src[n] = '\0';
    cli_safe_copy(field, len, src, keep);
}

/* The strings of fit rows made safe to print, in place (a CSV's values, a results file's
 * names). Tabs separate the group's fields and stay. */
static void safe_rows(analysis_row *rows, int n)
{
    for (int i = 0; i < n; i++) {
        safe_field(rows[i].group, sizeof rows[i].group, "\t");
        safe_field(rows[i].model, sizeof rows[i].model, "");
        safe_field(rows[i].pretrain_task, sizeof rows[i].pretrain_task, "");
    }
}

static void safe_gains(gains_row *rows, int n)
{
    for (int i = 0; i < n; i++) {
        safe_field(rows[i].model, sizeof rows[i].model, "");
        safe_field(rows[i].task, sizeof rows[i].task, "");
    }
}

static int fit_csv(const csvfit_spec *sp, const char *outp, int quiet)
{
    char err[1024];
    csvfit_result res;
    if (csvfit_run(&res, sp, err, sizeof err) != 0)
        return cli_error(EXIT_RUNTIME, "fit: %s", err);
    if (!quiet) {
        if (res.nmissing)
            printf("warning: %d row%s with a missing (NA) x, y or s skipped\n", res.nmissing,
                   res.nmissing == 1 ? "" : "s");
        printf("%s: %d group%s, y = %s%s, x = %s\n", cli_safe(sp->path), res.nrows, res.nrows == 1 ? "" : "s",
               sp->y_one_minus ? "1 - " : "", cli_safe(sp->y_col), cli_safe(sp->x_col));
        analysis_row *shown = malloc(sizeof *shown * (size_t)(res.nrows + 1));
        if (!shown) {
            csvfit_result_free(&res);
            return cli_error(EXIT_RUNTIME, "fit: out of memory");
        }
        memcpy(shown, res.rows, sizeof *shown * (size_t)res.nrows);
        safe_rows(shown, res.nrows);
        char cols[sizeof res.group_columns];
        cli_safe_copy(cols, sizeof cols, res.group_columns, "\t");
        cli_print_fits(stdout, shown, res.nrows, cols, &sp->opt, 0);
        free(shown);
    }
    int rc = 0;
    if (outp) {
        size_t n = strlen(outp);
        int h5 = (n >= 3 && strcmp(outp + n - 3, ".h5") == 0) || (n >= 5 && strcmp(outp + n - 5, ".hdf5") == 0);
        rc = h5 ? store_write_fits(outp, 1, res.rows, res.nrows, res.group_columns, sp->path, err, sizeof err)
                : analysis_write_csv(outp, res.rows, res.nrows, res.group_columns, err, sizeof err);
    }
    csvfit_result_free(&res);
    return rc ? cli_error(EXIT_RUNTIME, "fit: %s", err) : EXIT_OK;
}

static int fit_file(const char *const *paths, int npath, const analysis_options *ao, const char *outp, int quiet)
{
    char err[1024];
    fitfile_result fr;
    const char *path = paths[0];
    int frc = fitfile_run_files(&fr, paths, npath, ao, outp, err, sizeof err);
    if (frc != 0)
        return cli_error(frc == SL_EINPUT ? EXIT_USAGE : EXIT_RUNTIME, "fit: %s", err);
    if (!quiet) {
        if (fr.failed)
            printf("warning: %d failed cell%s skipped by the fit (see /cells reason)\n", fr.failed,
                   fr.failed == 1 ? "" : "s");
        printf("fit of %s (job %s): one group per (model, complexity, task, s)\n", cli_safe(path),
               cli_safe(fr.job_name));
        for (int k = 1; k < npath; k++)
            printf("  joined with %s (no file changed)\n", cli_safe(paths[k]));
        printf("real task: %d classes, chance level %.3f (the error of always answering the most frequent "
               "class: compare the scratch column with it)\n", fr.classes, fr.chance);
        int stuck = 0;
        for (int i = 0; i < fr.nrows; i++)
            stuck += isfinite(fr.rows[i].scratch_error) && fr.rows[i].scratch_error >= fr.chance - 0.01;
        if (stuck)
            printf("warning: in %d group%s the scratch error is at the chance level: the baseline learnt "
                   "nothing (too few steps, too low a learning rate, or too few images)\n", stuck,
                   stuck == 1 ? "" : "s");
        safe_rows(fr.rows, fr.nrows); /* already written to the file and the CSV */
        safe_gains(fr.gains, fr.ngains);
        cli_print_fits(stdout, fr.rows, fr.nrows, FITFILE_GROUP_COLUMNS, ao, 1);
        cli_print_gains(stdout, fr.gains, fr.ngains, ao->level);
    }
    fitfile_result_free(&fr);
    return EXIT_OK;
}

int cmd_fit(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},   {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},            {"csv", required_argument, NULL, 'C'},
        {"x", required_argument, NULL, 'x'},         {"y", required_argument, NULL, 'y'},
        {"s", required_argument, NULL, 's'},         {"group", required_argument, NULL, 'g'},
        {"where", required_argument, NULL, 'w'},     {"last", required_argument, NULL, 'l'},
        {"law", required_argument, NULL, 'L'},       {"fix", required_argument, NULL, 'X'},
        {"bound", required_argument, NULL, 'B'},     {"log", no_argument, NULL, 'G'},
        {"loss", required_argument, NULL, 'S'},      {"loss-scale", required_argument, NULL, 'c'},
        {"bootstrap", required_argument, NULL, 'b'}, {"boot-repeats", no_argument, NULL, 'P'},
        {"seed", required_argument, NULL, 'e'},      {"level", required_argument, NULL, 'v'},
        {"holdout", required_argument, NULL, 'H'},   {"epsilon", required_argument, NULL, 'E'},
        {"repeat", required_argument, NULL, 'r'},    {"within-repeats", no_argument, NULL, 'W'},
        {"across-repeats", no_argument, NULL, 'A'},  {NULL, 0, NULL, 0}};
    const char *outp = NULL;
    int quiet = 0, c, nfix = 0, nbound = 0;
    char *fixes[MAX_PARAM_OPTIONS], *bounds[MAX_PARAM_OPTIONS];
    csvfit_spec sp;
    memset(&sp, 0, sizeof sp);
    fit_law law = FIT_SIMPLE;
    analysis_options ao = fitfile_default_options();
    fit_loss loss = FIT_LOSS_LINEAR;
    double loss_scale = 0, v;
    int log_res = 0, within = -1; /* -1: the default (results file: within; CSV: across) */
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': outp = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': fputs(usage_fit, stdout); return EXIT_OK;
        case 'C': sp.path = optarg; break;
        case 'x': sp.x_col = optarg; break;
        case 'y':
            sp.y_one_minus = strncmp(optarg, "1-", 2) == 0;
            sp.y_col = optarg + (sp.y_one_minus ? 2 : 0);
            break;
        case 's': sp.s_col = optarg; break;
        case 'g':
            for (char *tok = strtok(optarg, ","); tok; tok = strtok(NULL, ",")) {
                if (sp.n_group == CSVFIT_MAX_COLS)
                    return cli_usage_error(usage_fit, "fit: more than %d --group columns", CSVFIT_MAX_COLS);
                sp.group_cols[sp.n_group++] = tok;
            }
            break;
        case 'w':
            if (sp.n_filter == CSVFIT_MAX_COLS)
                return cli_usage_error(usage_fit, "fit: more than %d --where filters", CSVFIT_MAX_COLS);
            if (csvfit_parse_filter(&sp.filters[sp.n_filter++], optarg))
                return cli_usage_error(usage_fit, "fit: --where '%s': expected COL=VALUE or COL!=VALUE", optarg);
            break;
        case 'l': sp.last_col = optarg; break;
        case 'r': sp.repeat_col = optarg; break;
        case 'L':
            if (fit_law_parse(optarg, &law) != 0)
                return cli_usage_error(usage_fit, "fit: --law '%s': expected simple, power or full", optarg);
            break;
        case 'X':
            if (nfix == MAX_PARAM_OPTIONS)
                return cli_usage_error(usage_fit, "fit: more than %d --fix options", MAX_PARAM_OPTIONS);
            fixes[nfix++] = optarg;
            break;
        case 'B':
            if (nbound == MAX_PARAM_OPTIONS)
                return cli_usage_error(usage_fit, "fit: more than %d --bound options", MAX_PARAM_OPTIONS);
            bounds[nbound++] = optarg;
            break;
        case 'G': log_res = 1; break;
        case 'S':
            if (fit_loss_parse(optarg, &loss) != 0)
                return cli_usage_error(usage_fit, "fit: --loss '%s': expected linear, huber or soft-l1", optarg);
            break;
        case 'c':
            if (cli_parse_double(optarg, 1e-300, 1e300, &loss_scale))
                return cli_usage_error(usage_fit, "fit: --loss-scale '%s': expected a positive number", optarg);
            break;
        case 'b':
            if (cli_parse_double(optarg, 0, 1e7, &v) || v != (int)v)
                return cli_usage_error(usage_fit, "fit: --bootstrap '%s': expected a whole number 0..10000000", optarg);
            ao.bootstrap = (int)v;
            break;
        case 'P': ao.boot_repeats = 1; break;
        case 'W': within = 1; break;
        case 'A': within = 0; break;
        case 'e':
            if (cli_parse_double(optarg, 0, 1.8e19, &v) || v != floor(v))
                return cli_usage_error(usage_fit, "fit: --seed '%s': expected a whole number >= 0", optarg);
            ao.seed = strtoull(optarg, NULL, 10);
            break;
        case 'v':
            if (cli_parse_double(optarg, 0.5, 0.9999, &ao.level))
                return cli_usage_error(usage_fit, "fit: --level '%s': expected a coverage in [0.5, 0.9999]", optarg);
            break;
        case 'H':
            if (cli_parse_double(optarg, 0, 1000, &v) || v != (int)v)
                return cli_usage_error(usage_fit, "fit: --holdout '%s': expected a whole number >= 0", optarg);
            ao.holdout = (int)v;
            break;
        case 'E':
            if (cli_parse_double(optarg, 1e-300, 1e300, &ao.epsilon))
                return cli_usage_error(usage_fit, "fit: --epsilon '%s': expected a positive number", optarg);
            break;
        default: return cli_usage_error(usage_fit, "fit: unknown option");
        }
    }
    if (!sp.path && law != FIT_SIMPLE)
        return cli_usage_error(usage_fit, "fit: --law is for --csv; a results file gets the simple and full laws");
    ao.fit = fit_default_options(law);
    if (within >= 0)
        ao.within_repeats = within;
    else if (sp.path)
        ao.within_repeats = 0;
    if (sp.path && ao.within_repeats && !sp.repeat_col)
        return cli_usage_error(usage_fit, "fit: --within-repeats needs --repeat COL for a CSV");
    ao.fit.log_residuals = log_res;
    ao.fit.loss = loss;
    ao.fit.loss_scale = loss_scale;
    for (int i = 0; i < nbound; i++) {
        char keep[256];
        snprintf(keep, sizeof keep, "%s", bounds[i]);
        if (apply_param_option(&ao.fit, bounds[i], 1))
            return cli_usage_error(usage_fit, "fit: --bound '%s': expected PARAM=LO:HI with a parameter of the law", keep);
    }
    for (int i = 0; i < nfix; i++) {
        char keep[256];
        snprintf(keep, sizeof keep, "%s", fixes[i]);
        if (apply_param_option(&ao.fit, fixes[i], 0))
            return cli_usage_error(usage_fit, "fit: --fix '%s': expected PARAM=VALUE with a parameter of the law", keep);
    }
    if (sp.path) {
        if (optind != argc)
            return cli_usage_error(usage_fit, "fit: --csv takes no results file ('%s')", argv[optind]);
        if (!sp.x_col || !sp.y_col)
            return cli_usage_error(usage_fit, "fit: --csv needs --x and --y");
        if (law == FIT_FULL && !sp.s_col)
            return cli_usage_error(usage_fit, "fit: --law full needs an s column (--s COLUMN)");
        sp.opt = ao;
        return fit_csv(&sp, outp, quiet);
    }
    if (optind >= argc)
        return cli_usage_error(usage_fit, "fit: expected a results file (or --csv FILE)");
    return fit_file((const char *const *)argv + optind, argc - optind, &ao, outp, quiet);
}
