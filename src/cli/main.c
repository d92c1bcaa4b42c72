/* synlaw command line: the command table and dispatch. Each command lives in its own file
 * (cmd_*.c); the library below never prints, exits or aborts. */
#include "cli.h"

#include "synlaw/nn.h"
#include "synlaw/version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const cli_usage_main =
    "usage: synlaw COMMAND [OPTIONS]\n"
    "\n"
    "Measure how much synthetic pre-training data is worth: run a grid of (pre-training size,\n"
    "model, synthetic complexity, task, fine-tuning size, repeat) cells, record learning curves\n"
    "in HDF5 and fit L(n) = D*n^-alpha + C.\n"
    "\n"
    "commands:\n"
    "  run JOB.yaml -o OUT.h5   run a sweep (under mpirun: all ranks compute)\n"
    "  check JOB.yaml           validate a job file and print the expanded grid\n"
    "  fit RESULTS.h5           (re)fit the scaling law of a results file\n"
    "  merge -o OUT.h5 SHARDS   join shard files (or a directory of them) into one results file\n"
    "  status FILE.h5|DIR       done / failed / missing cells and time spent\n"
    "  render -o SHEET.png      draw synthetic images as a PNG contact sheet\n"
    "  bench                    training speed per model against the sgemm rate, memory\n"
    "  plan JOB.yaml --ranks P  predict a job's wall time and parallel efficiency on P ranks\n"
    "  models                   list the model zoo with sizes and costs\n"
    "  refine RESULTS.h5 -o NEXT.yaml  propose the runs that settle undecided groups\n"
    "\n"
    "options:\n"
    "  -h, --help               show this help (synlaw COMMAND --help for a command)\n"
    "  -V, --version            show versions of synlaw and its libraries\n"
    "\n"
    "exit status: 0 success, 1 runtime failure, 2 bad input or usage\n";

const cli_command cli_commands[] = {
    {"run", cmd_run, "run a sweep under MPI", &usage_run},
    {"check", cmd_check, "validate a job file and show its grid", &usage_check},
    {"fit", cmd_fit, "fit the scaling law of a results file or CSV curves", &usage_fit},
    {"merge", cmd_merge, "join shard files into one results file", &usage_merge},
    {"status", cmd_status, "summarise results or shard files", &usage_status},
    {"render", cmd_render, "draw synthetic images as a PNG contact sheet", &usage_render},
    {"bench", cmd_bench, "training, rendering and memory benchmarks", &usage_bench},
    {"plan", cmd_plan, "predict a job's wall time on P ranks", &usage_plan},
    {"models", cmd_models, "list the model zoo", &usage_models},
    {"refine", cmd_refine, "propose the next job that settles undecided groups", &usage_refine},
    {NULL, NULL, NULL, NULL}};

static int cmd_version(void)
{
    char h5[64], mpi[256];
    version_hdf5(h5, sizeof h5);
    version_mpi(mpi, sizeof mpi);
    printf("synlaw %s\nHDF5 %s\nMPI: %s\nOpenBLAS: %s\nGSL %s\n", version_synlaw(), h5, mpi,
           version_openblas(), version_gsl());
    return EXIT_OK;
}

/* Text for a roff .nf block: backslashes doubled, a leading '.' or '\'' escaped. */
static void roff_block(const char *text)
{
    puts(".nf");
    int bol = 1;
    for (const char *p = text; *p; p++) {
        if (bol && (*p == '.' || *p == '\''))
            fputs("\\&", stdout);
        if (*p == '\\')
            fputs("\\e", stdout);
        else if (*p == '-')
            fputs("\\-", stdout);
        else
            putchar(*p);
        bol = *p == '\n';
    }
    if (!bol)
        putchar('\n');
    puts(".fi");
}

/* synlaw(1), from the same help texts as --help: generated at build time. */
static int cmd_man(void)
{
    printf(".TH SYNLAW 1 \"\" \"synlaw %s\" \"User Commands\"\n", version_synlaw());
    puts(".SH NAME\nsynlaw \\- measure how much synthetic pre-training data is worth");
    puts(".SH SYNOPSIS\n.B synlaw\n.I COMMAND\n[\n.I OPTIONS\n]");
    puts(".SH DESCRIPTION");
    roff_block(cli_usage_main);
    puts(".SH COMMANDS");
    for (const cli_command *c = cli_commands; c->name; c++) {
        printf(".SS %s \\(em %s\n", c->name, c->summary);
        roff_block(*c->usage);
    }
    puts(".SH ENVIRONMENT\n.TP\n.B OPENBLAS_NUM_THREADS\nthreads per rank (default 1: ranks are "
         "synlaw's parallelism)\n.TP\n.B HDF5_USE_FILE_LOCKING\nFALSE on file systems without "
         "locks (then make sure only one run writes a file)\n.TP\n.B OMPI_MCA_sharedfp\nset by "
         "synlaw to ^lockedfile when unset (that Open MPI component crashes on long paths)\n.TP\n"
         ".B SYNLAW_RESERVE\nstatvfs: check the free space instead of reserving it (fallocate) "
         "before writing a results file; 0: neither (for tests)\n.TP\n.B SYNLAW_DIRECT_CONV\n0: "
         "compute the first convolution as a GEMM too, as synlaw did before 0.2.1 (reproduces "
         "older CNN results bit for bit; slower)\n.TP\n.B SYNLAW_DENORMALS\nkeep: leave subnormal "
         "arithmetic on (to measure its cost; the default flushes subnormals to zero)\n.TP\n"
         ".B SYNLAW_RENDER_CACHE\n0: render every synthetic image at every draw (the same bits, "
         "slower; for checks)\n.TP\n.B SYNLAW_TRIG\nlibm, avx2 or avx512: the textures' sinf and "
         "cosf from the C library per pixel, or from that vector kernel (the same bits; a kernel "
         "this CPU or C library cannot match gives the library's; for checks). Default: the "
         "fastest that matches\n.TP\n.B SYNLAW_CONV_KERNEL\nblas, avx2 or avx512: the convolutions "
         "that are a GEMM from OpenBLAS alone, or through that kernel without im2col wherever it "
         "gives OpenBLAS's bits (checked per layer and batch size; for checks). Default: the "
         "widest this CPU runs");
    puts(".SH EXIT STATUS\n0 success, 1 runtime failure, 2 bad input or usage.");
    puts(".SH SEE ALSO\n.BR mpirun (1),\n.BR sbatch (1),\n.BR h5dump (1);\nthe README of the "
         "synlaw sources for the job-file reference and the HDF5 layout.");
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    /* Before any training (nn.h). SYNLAW_DENORMALS=keep leaves subnormal arithmetic on, only to
     * measure what it costs (results then differ from a normal run). */
    const char *dn = getenv("SYNLAW_DENORMALS");
    if (!dn || strcmp(dn, "keep") != 0)
        nn_flush_denormals();
    version_blas_threads_default();
    if (argc < 2)
        return cli_usage_error(cli_usage_main, "missing command");
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        fputs(cli_usage_main, stdout);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version"))
        return cmd_version();
    if (!strcmp(cmd, "--man"))
        return cmd_man();
    /* Commands see argv[1..] so getopt reports errors against their own options. */
    for (const cli_command *c = cli_commands; c->name; c++)
        if (!strcmp(cmd, c->name))
            return c->run(argc - 1, argv + 1);
    return cli_usage_error(cli_usage_main, "unknown command '%s'", cmd);
}
