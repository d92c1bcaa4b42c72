/* synlaw merge: join shard files into one results file, then fit it. */
#include "cli.h"

#include "synlaw/merge.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *const usage_merge =
    "usage: synlaw merge -o OUT.h5 SHARD.h5...|DIR [--allow-partial] [--force] [--csv FITS.csv] [--no-fit]\n"
    "\n"
    "Join shard files (synlaw run --shard) into one results file of the same layout as an\n"
    "mpirun sweep, then fit it. Refuses files of different jobs or splits, reports cells\n"
    "finished twice, lists failed and missing cells and the shard indices to resubmit, and\n"
    "exits 1 without writing when cells are missing.\n"
    "\n"
    "  -o, --output FILE   merged results file (written as FILE.partial, then renamed)\n"
    "      --allow-partial merge even when cells are missing (they stay pending)\n"
    "  -f, --force         replace an existing OUT.h5\n"
    "      --csv FILE      fit table as CSV (default: OUT with .h5 replaced by -fits.csv)\n"
    "      --no-fit        do not fit\n"
    "  -h, --help          show this help\n";

static int merge(const char *out_path, const char *csv, int allow_partial, int no_fit, char **inputs,
                 int ninput)
{
    char err[8192] = "";
    merge_state *g;
    int rc = merge_gather(&g, inputs, ninput, err, sizeof err);
    if (rc != 0)
        return cli_error(cli_exit_status(rc), "merge: %s", err);
    cli_print_merge_summary(stdout, g);
    const merge_summary *m = merge_summary_of(g);
    int missing = m->missing, nfile = m->nfile;
    if (missing && !allow_partial) {
        printf("not merged: the grid is incomplete (--allow-partial merges anyway)\n");
        merge_free(g);
        return EXIT_RUNTIME;
    }
    size_t n = strlen(out_path);
    char *tmp = malloc(n + 16);
    if (!tmp) {
        merge_free(g);
        return cli_error(EXIT_RUNTIME, "merge: out of memory");
    }
    snprintf(tmp, n + 16, "%s.partial", out_path);
    rc = merge_write(g, tmp, err, sizeof err);
    merge_free(g);
    if (rc != 0 || rename(tmp, out_path) != 0) {
        remove(tmp);
        free(tmp);
        return cli_error(EXIT_RUNTIME, "merge: %s", err[0] ? err : "cannot rename the merged file into place");
    }
    free(tmp);
    printf("merged %d file%s into %s%s\n", nfile, nfile == 1 ? "" : "s", cli_safe(out_path),
           missing ? " (partial: missing cells stay pending)" : "");
    if (no_fit)
        return EXIT_OK;
    return cli_fit_after_run(out_path, csv, stdout);
}

int cmd_merge(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'}, {"allow-partial", no_argument, NULL, 'p'},
        {"force", no_argument, NULL, 'f'},         {"csv", required_argument, NULL, 'c'},
        {"no-fit", no_argument, NULL, 'F'},        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *out = NULL, *csv = NULL;
    int allow_partial = 0, force = 0, no_fit = 0, c;
    while ((c = getopt_long(argc, argv, "o:fh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'p': allow_partial = 1; break;
        case 'f': force = 1; break;
        case 'c': csv = optarg; break;
        case 'F': no_fit = 1; break;
        case 'h': fputs(usage_merge, stdout); return EXIT_OK;
        default: return cli_usage_error(usage_merge, "merge: unknown option");
        }
    }
    if (!out)
        return cli_usage_error(usage_merge, "merge: -o OUT.h5 is required");
    if (optind >= argc)
        return cli_usage_error(usage_merge, "merge: expected shard files or a directory");
    struct stat sb;
    if (!force && stat(out, &sb) == 0)
        return cli_error(EXIT_USAGE, "merge: %s: already exists (--force replaces it)", out);
    cli_mpi_init("merge");
    int rc = merge(out, csv, allow_partial, no_fit, argv + optind, argc - optind);
    MPI_Finalize();
    return rc;
}
