/* synlaw run: a sweep under MPI, with per-cell progress on rank 0 and the fit at the end. */
#include "cli.h"

#include "synlaw/sweep.h"
#include "synlaw/util.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const usage_run =
    "usage: [mpirun -np P] synlaw run JOB.yaml -o OUT.h5 [--resume] [--force] [--csv FITS.csv] [--quiet] [--no-fit]\n"
    "       [mpirun -np P] synlaw run JOB.yaml --shard I/N -o DIR/ [--resume]\n"
    "\n"
    "Run every cell of the job's grid across the MPI ranks (largest first, dynamically\n"
    "balanced), streaming each finished cell into OUT.h5, then fit the law on rank 0.\n"
    "With --shard I/N, run only shard I (0-based) of a deterministic cost-balanced split into\n"
    "N shards, into DIR/JOBNAME-shard-I-of-N.h5; join the shards with synlaw merge.\n"
    "\n"
    "  -o, --output FILE   results file (HDF5); refused if it exists, unless --resume or --force\n"
    "      --resume        continue OUT.h5: skip finished cells, rerun cells in flight when it\n"
    "                      stopped (starts a new file if OUT.h5 does not exist)\n"
    "      --shard I/N     run shard I of N (0 <= I < N); -o names a directory (or the file)\n"
    "      --csv FILE      fit table as CSV (default: OUT with .h5 replaced by -fits.csv)\n"
    "  -f, --force         replace an existing results file\n"
    "A second run on the same output stops with an error while the first holds its lock\n"
    "(flock); on file systems without locks set HDF5_USE_FILE_LOCKING=FALSE.\n"
    "  -q, --quiet         no per-cell progress lines\n"
    "      --no-fit        skip the fit at the end\n"
    "  -h, --help          show this help\n";

typedef struct {
    int quiet;
    int width; /* digits of the cell count */
} progress_view;

static void on_start(void *user, const sweep_start *s)
{
    progress_view *v = user;
    v->width = s->ntodo > 0 ? (int)log10(s->ntodo) + 1 : 1;
    if (v->quiet)
        return;
    char part[64] = "", from[96] = "";
    if (s->shard_count > 0)
        snprintf(part, sizeof part, " (shard %d/%d of %d)", s->shard_index, s->shard_count, s->ncell);
    if (s->nfrom > 0)
        snprintf(from, sizeof from, "; %d backbone%s from pretrain.from", s->nfrom, s->nfrom == 1 ? "" : "s");
    if (s->resume)
        printf("synlaw %s: resuming %s: %d of %d cells%s already finished, %d to run in %d task%s on %d "
               "rank%s%s\n", s->spec->name, cli_safe(s->path), s->nmine - s->ntodo, s->nmine, part, s->ntodo, s->ntask,
               s->ntask == 1 ? "" : "s", s->ranks, s->ranks == 1 ? "" : "s", from);
    else
        printf("synlaw %s: %d cells%s, %d backbones, in %d task%s on %d rank%s -> %s%s\n", s->spec->name,
               s->nmine, part, s->nbackbone, s->ntask, s->ntask == 1 ? "" : "s", s->ranks,
               s->ranks == 1 ? "" : "s", cli_safe(s->path), from);
    fflush(stdout);
}

static void on_backbone(progress_view *v, const sweep_event *e)
{
    char desc[128];
    job_backbone_describe(e->spec, e->backbone, desc, sizeof desc);
    if (e->status == CELL_FAILED) /* its cells fail too; the sweep goes on */
        fprintf(stderr, "synlaw: backbone %d (%s) failed: %s\n", e->backbone->index, desc, cli_safe(e->reason));
    if (v->quiet)
        return;
    static const char *const how[3] = {"pre-trained", "read back", "copied (pretrain.from)"};
    if (e->status == CELL_DONE)
        printf("  backbone %-32s %-22s synthetic error %.4f  %6.1fs  rank %d\n", desc, how[e->source],
               e->final_error, e->seconds, e->rank);
    else
        printf("  backbone %-32s FAILED (see /backbones reason)  %6.1fs  rank %d\n", desc, e->seconds, e->rank);
    fflush(stdout);
}

static void on_event(void *user, const sweep_event *e)
{
    progress_view *v = user;
    if (e->kind == SWEEP_EVENT_BACKBONE) {
        on_backbone(v, e);
        return;
    }
    char desc[128], eta[32];
    job_cell_describe(e->spec, e->cell, desc, sizeof desc);
    if (e->status == CELL_FAILED) /* a diverged cell: the sweep goes on, the reason is kept */
        fprintf(stderr, "synlaw: cell %d (%s) failed: %s\n", e->cell->index, desc, cli_safe(e->reason));
    if (v->quiet)
        return;
    cli_duration(eta, sizeof eta, e->eta);
    if (e->status == CELL_DONE)
        printf("[%*d/%d] %-40s error %.4f  %6.1fs  rank %d  ETA %s\n", v->width, e->done, e->total, desc,
               e->final_error, e->seconds, e->rank, eta);
    else
        printf("[%*d/%d] %-40s FAILED (see /cells reason)  %6.1fs  rank %d  ETA %s\n", v->width, e->done,
               e->total, desc, e->seconds, e->rank, eta);
    fflush(stdout);
}

int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'}, {"csv", required_argument, NULL, 'c'},
        {"force", no_argument, NULL, 'f'},        {"quiet", no_argument, NULL, 'q'},
        {"no-fit", no_argument, NULL, 'F'},       {"help", no_argument, NULL, 'h'},
        {"resume", no_argument, NULL, 'r'},       {"shard", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0}};
    sweep_options o = {0};
    const char *csv = NULL;
    int quiet = 0, no_fit = 0, c;
    char *end;
    while ((c = getopt_long(argc, argv, "o:fqh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': o.out_path = optarg; break;
        case 'c': csv = optarg; break;
        case 'f': o.force = 1; break;
        case 'q': quiet = 1; break;
        case 'F': no_fit = 1; break;
        case 'r': o.resume = 1; break;
        case 's':
            o.shard_index = (int)strtol(optarg, &end, 10);
            if (end == optarg || *end != '/' || (o.shard_count = (int)strtol(end + 1, &end, 10)) <= 0 ||
                *end || o.shard_index < 0 || o.shard_index >= o.shard_count)
                return cli_usage_error(usage_run, "run: --shard '%s': expected I/N with 0 <= I < N", optarg);
            break;
        case 'h': fputs(usage_run, stdout); return EXIT_OK;
        default: return cli_usage_error(usage_run, "run: unknown option");
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error(usage_run, "run: expected one job file");
    if (!o.out_path)
        return cli_usage_error(usage_run, "run: -o OUT.h5 is required");
    if (o.resume && o.force)
        return cli_usage_error(usage_run, "run: --resume and --force contradict each other");
    o.job_path = argv[optind];

    cli_mpi_init("run");
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    progress_view view = {quiet, 1};
    sweep_observer obs = {on_start, on_event, &view};
    sweep_summary sum;
    char err[2048] = "";
    int rc = sweep_run(&o, MPI_COMM_WORLD, &obs, &sum, err, sizeof err);
    if (rc != 0 && sum.local_failure) {
        /* this rank failed alone: the others cannot finish the sweep */
        fprintf(stderr, "synlaw: %s\n", cli_safe(err));
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, EXIT_RUNTIME);
    }
    int status = cli_exit_status(rc);
    if (rank == 0) {
        if (rc != 0) {
            fprintf(stderr, "synlaw: %s\n", cli_safe(err));
        } else {
            char dur[32];
            cli_duration(dur, sizeof dur, sum.seconds);
            printf("sweep done: %d cells in %s (%.1f s) on %d rank%s; backbones: %d pre-trained, %d read "
                   "back, %d copied\n", sum.ncell_run, dur, sum.seconds, sum.ranks, sum.ranks == 1 ? "" : "s",
                   sum.backbones[SWEEP_PRETRAINED], sum.backbones[SWEEP_RESUMED], sum.backbones[SWEEP_FROM_FILE]);
            if (o.shard_count > 0)
                printf("shard %d/%d written to %s; join the shards with synlaw merge\n", o.shard_index,
                       o.shard_count, cli_safe(sum.path));
            else if (!no_fit)
                status = cli_fit_after_run(sum.path, csv, stdout);
            fflush(stdout);
        }
    }
    MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
    sweep_summary_free(&sum);
    MPI_Finalize();
    return status;
}
