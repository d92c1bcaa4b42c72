/* The `run` command: parse on rank 0, broadcast, run every cell across all ranks with
 * dynamic largest-first balancing, stream results into the HDF5 file, and fit at the end. */
#ifndef SYNLAW_SWEEP_H
#define SYNLAW_SWEEP_H

#include <mpi.h>

typedef struct {
    const char *job_path;
    const char *out_path;
    const char *csv_path;   /* NULL: OUT with .h5 replaced by -fits.csv */
    int force;              /* overwrite an existing results file */
    int quiet;              /* no per-cell progress lines */
    int no_fit;             /* skip the fit at the end */
} sweep_options;

/* Collective over comm. Returns the process exit status: 0 success, 1 runtime failure,
 * 2 bad input (job file, options); the same on every rank. Messages go to stderr (errors)
 * and stdout (progress, fit table) from rank 0. */
int sweep_run(const sweep_options *opt, MPI_Comm comm);

#endif
