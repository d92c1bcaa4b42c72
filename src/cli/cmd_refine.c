/* synlaw refine: propose the next job that settles the undecided groups (refine.h). */
#include "cli.h"

#include "synlaw/refine.h"
#include "synlaw/util.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const usage_refine =
    "usage: synlaw refine RESULTS.h5 [MORE.h5 ...] -o NEXT.yaml [--budget CORE-HOURS]\n"
    "                     [--target decision|C|gain] [--width W] [--sims N] [--bootstrap B]\n"
    "                     [--seed S] [--epsilon E]\n"
    "\n"
    "For every group whose verdict is undetermined or not-identified (with --target C or gain:\n"
    "also every group whose interval of C or of the 10x gain is wider than W), simulate two\n"
    "additions from the group's current fit and the repeat noise observed in it: as many\n"
    "repeats again at every n, or a new n four times the largest; analyse each simulated data\n"
    "set as `synlaw fit` does; cost the additions from the times measured in the file; and\n"
    "write the job of the kind with the largest expected effect within the budget (the\n"
    "chosen groups in order of effect per core-hour). NEXT.yaml is an ordinary job on the same\n"
    "seed and recipes: its cells are new ones. Run it, then fit the old and new files\n"
    "together: synlaw fit RESULTS.h5 NEXT.h5.\n"
    "\n"
    "  -o, --output FILE  the proposed job (YAML); not written when nothing fits the budget\n"
    "  --budget H         core-hours the proposal may cost (default 1)\n"
    "  --target T         decision: settle verdicts (default); C or gain: narrow that interval\n"
    "  --width W          C and gain targets: refine groups whose interval is wider (default 0.02)\n"
    "  --sims N           simulated data sets per group and addition (default 16)\n"
    "  --bootstrap B      bootstrap replicates per analysis (default 200)\n"
    "  --seed S           seed of the simulations and bootstraps (default 1)\n"
    "  --epsilon E        error difference that matters, as in fit (default 0.01)\n";

static const char *kind_name(const refine_result *r, refine_kind k, char *buf, size_t len)
{
    if (k == REFINE_REPEATS)
        snprintf(buf, len, "more repeats");
    else if (k == REFINE_SIZE && r->kind == REFINE_SIZE) {
        size_t used = (size_t)snprintf(buf, len, "new n =");
        for (int i = 0; i < r->new_sizes && used < len; i++)
            used += (size_t)snprintf(buf + used, len - used, "%s %ld", i ? "," : "", r->new_size[i]);
    } else if (k == REFINE_SIZE)
        snprintf(buf, len, "new n (4x the largest)");
    else
        snprintf(buf, len, "nothing");
    return buf;
}

static void print_quantity(FILE *f, const refine_quantity *q, refine_target t)
{
    if (isfinite(q->lo))
        fprintf(f, "%s %.4f-%.4f", t == REFINE_GAIN ? "gain" : "C", q->lo, q->hi);
    else
        fprintf(f, "%s -", t == REFINE_GAIN ? "gain" : "C");
    fprintf(f, ", settled %.0f%%", 100 * q->settled);
}

/* Every group: its state now and what each addition is expected to do, at what cost. */
static void print_groups(const refine_result *r, const refine_options *o, const char *path)
{
    const char *tname = o->target == REFINE_DECISION ? "decision" : o->target == REFINE_C ? "C" : "gain";
    printf("refine of %s (job %s): %d groups, %d to refine (target %s); simulated from each group's fit "
           "and repeat noise, %d data sets of %d bootstrap replicates per addition\n",
           cli_safe(path), cli_safe(r->job_name), r->ngroup, r->ncandidate, tname, o->sims, o->bootstrap);
    printf("%-34s %-15s %-32s %-38s %-40s\n", "group (model cplx task s lr)", "verdict", "now",
           "more repeats (core-h)", "new n, 4x the largest (core-h)");
    for (int g = 0; g < r->ngroup; g++) {
        const refine_group *G = &r->groups[g];
        char grp[96], buf[3][96];
        snprintf(grp, sizeof grp, "%s %d %s %lld %.3g", cli_safe(G->row.model), G->row.complexity,
                 cli_safe(G->row.pretrain_task), (long long)G->row.finetune_size, G->row.finetune_lr);
        for (int k = 0; k < 3; k++) {
            buf[k][0] = '\0';
            FILE *m = fmemopen(buf[k], sizeof buf[k], "w");
            if (!m)
                continue;
            if (k == 0)
                print_quantity(m, &G->now, o->target);
            else if (G->candidate) {
                if (k == REFINE_SIZE)
                    fprintf(m, "n=%ld: ", G->new_size);
                print_quantity(m, &G->after[k], o->target);
                fprintf(m, " (%.3f)", G->seconds[k] / 3600.0);
            } else
                fprintf(m, "-");
            fclose(m);
        }
        printf("%-34s %-15s %-32s %-38s %-40s\n", grp, G->row.verdict, buf[0], buf[1], buf[2]);
    }
}

/* The proposal, and per group of its grid what it is expected to achieve. */
static void print_proposal(const refine_result *r, const refine_options *o)
{
    char kb[64];
    int chosen = 0, covered = 0;
    for (int g = 0; g < r->ngroup; g++)
        chosen += r->groups[g].chosen, covered += r->groups[g].in_grid;
    printf("proposal: %s for %d group%s (the grid of their coordinates covers %d): %d cells, %d backbones, "
           "%.3f core-hours predicted (budget %.3g); expected effect %.3g%s (the other kind: %.3g); the same "
           "addition for every group: %.3f core-hours\n",
           kind_name(r, r->kind, kb, sizeof kb), chosen, chosen == 1 ? "" : "s", covered, r->cells,
           r->backbones, r->seconds / 3600.0, o->budget_hours, r->effect,
           o->target == REFINE_DECISION ? " more settled groups" : " total narrowing", r->effect_other,
           r->uniform_seconds / 3600.0);
    for (int g = 0; g < r->ngroup; g++) {
        const refine_group *G = &r->groups[g];
        if (!G->in_grid)
            continue;
        const refine_quantity *a = &G->after[r->kind];
        printf("  %s %d %s s=%lld lr %.3g: %s; ", cli_safe(G->row.model), G->row.complexity,
               cli_safe(G->row.pretrain_task), (long long)G->row.finetune_size, G->row.finetune_lr, G->row.verdict);
        const char *q = o->target == REFINE_GAIN ? "10x gain" : "C";
        if (G->candidate && isfinite(G->now.lo) && isfinite(a->lo))
            printf("%s interval %.4f-%.4f -> about %.4f-%.4f; ", q, G->now.lo, G->now.hi, a->lo, a->hi);
        if (G->candidate)
            printf("settled %.0f%% -> %.0f%%; %.3f core-hours on its own\n", 100 * G->now.settled,
                   100 * a->settled, G->seconds[r->kind] / 3600.0);
        else
            printf("settled already (covered by the grid)\n");
    }
}

/* The proposed job, written whole to OUT.tmp and renamed; the comment names the files with
 * control characters escaped (a path cannot add lines to the YAML). 0 or -1. */
static int write_proposal(const char *outp, const refine_result *r, const char *const *paths, int npath)
{
    char kb[64];
    size_t n = strlen(outp);
    char *tmp = malloc(n + 5);
    if (!tmp)
        return -1;
    snprintf(tmp, n + 5, "%s.tmp", outp);
    FILE *f = fopen(tmp, "w");
    int bad = !f;
    if (f) {
        fprintf(f, "# Proposed by synlaw refine from %s (job %s): %s, %.3f core-hours predicted.\n",
                cli_safe(paths[0]), cli_safe(r->job_name), kind_name(r, r->kind, kb, sizeof kb), r->seconds / 3600.0);
        fprintf(f, "# Same seed and recipes: its cells are new. Then: synlaw fit");
        for (int k = 0; k < npath; k++)
            fprintf(f, " %s", cli_safe(paths[k]));
        fprintf(f, " NEXT.h5\n");
        bad = job_write_yaml(f, &r->next) != 0;
        bad |= fclose(f) != 0;
    }
    if (bad || rename(tmp, outp) != 0) {
        remove(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

int cmd_refine(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'}, {"budget", required_argument, NULL, 'B'},
        {"target", required_argument, NULL, 't'}, {"width", required_argument, NULL, 'w'},
        {"sims", required_argument, NULL, 'n'},   {"bootstrap", required_argument, NULL, 'b'},
        {"seed", required_argument, NULL, 's'},   {"epsilon", required_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    refine_options o = refine_default_options();
    const char *outp = NULL;
    int c;
    char *end;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': outp = optarg; break;
        case 'B':
            o.budget_hours = strtod(optarg, &end);
            if (*end || !(o.budget_hours > 0) || !isfinite(o.budget_hours))
                return cli_usage_error(usage_refine, "refine: --budget '%s': expected core-hours > 0", optarg);
            break;
        case 't':
            if (strcmp(optarg, "decision") == 0)
                o.target = REFINE_DECISION;
            else if (strcmp(optarg, "C") == 0 || strcmp(optarg, "c") == 0)
                o.target = REFINE_C;
            else if (strcmp(optarg, "gain") == 0)
                o.target = REFINE_GAIN;
            else
                return cli_usage_error(usage_refine, "refine: --target '%s': expected decision, C or gain", optarg);
            break;
        case 'w':
            o.width = strtod(optarg, &end);
            if (*end || !(o.width >= 0) || !isfinite(o.width))
                return cli_usage_error(usage_refine, "refine: --width '%s': expected a number >= 0", optarg);
            break;
        case 'n': {
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 10000)
                return cli_usage_error(usage_refine, "refine: --sims '%s': expected 1..10000", optarg);
            o.sims = (int)v;
            break;
        }
        case 'b': {
            long v = strtol(optarg, &end, 10);
            if (*end || v < 20 || v > 100000)
                return cli_usage_error(usage_refine, "refine: --bootstrap '%s': expected 20..100000", optarg);
            o.bootstrap = (int)v;
            break;
        }
        case 's': {
            unsigned long long v = strtoull(optarg, &end, 10);
            if (*end || optarg[0] == '-')
                return cli_usage_error(usage_refine, "refine: --seed '%s': expected an integer >= 0", optarg);
            o.seed = v;
            break;
        }
        case 'e':
            o.ao.epsilon = strtod(optarg, &end);
            if (*end || !(o.ao.epsilon > 0) || !isfinite(o.ao.epsilon))
                return cli_usage_error(usage_refine, "refine: --epsilon '%s': expected a number > 0", optarg);
            break;
        case 'h': fputs(usage_refine, stdout); return EXIT_OK;
        default: return cli_usage_error(usage_refine, "refine: unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error(usage_refine, "refine: expected a results file");
    if (!outp)
        return cli_usage_error(usage_refine, "refine: expected -o NEXT.yaml");
    const char *const *paths = (const char *const *)argv + optind;
    int npath = argc - optind;
    char err[1024];
    refine_result r;
    int rc = refine_run(&r, paths, npath, &o, err, sizeof err);
    if (rc != SL_OK)
        return cli_error(rc == SL_EINPUT ? EXIT_USAGE : EXIT_RUNTIME, "refine: %s", err);
    print_groups(&r, &o, paths[0]);
    if (r.kind == REFINE_NONE) {
        printf("proposal: none; no addition is expected to help within %.3g core-hours (raise --budget)\n",
               o.budget_hours);
        refine_result_free(&r);
        return EXIT_OK;
    }
    print_proposal(&r, &o);
    if (write_proposal(outp, &r, paths, npath) != 0) {
        refine_result_free(&r);
        return cli_error(EXIT_RUNTIME, "refine: cannot write %s", cli_safe(outp));
    }
    printf("wrote %s: run it (mpirun -np P synlaw run %s -o NEXT.h5), then synlaw fit", cli_safe(outp), cli_safe(outp));
    for (int k = 0; k < npath; k++)
        printf(" %s", cli_safe(paths[k]));
    printf(" NEXT.h5\n");
    refine_result_free(&r);
    return EXIT_OK;
}
