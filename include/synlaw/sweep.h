/* The `run` command: parse on rank 0, broadcast, run every cell (or one shard's cells)
 * across all ranks with dynamic largest-first balancing, stream results into the HDF5 file,
 * and fit at the end. With resume, cells already done or failed in the file are skipped and
 * cells that were in flight are run again. Rank 0 holds an exclusive flock on the output
 * while the run lasts, so a second run on the same file stops with an error (unless
 * HDF5_USE_FILE_LOCKING=FALSE, for file systems without locks). */
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
    int resume;             /* continue an existing output file (or start it if missing) */
    int shard_index, shard_count; /* run shard I of N (count 0: the whole grid) */
} sweep_options;

/* The file name of shard I of N in a directory: DIR/JOBNAME-shard-III-of-NNN.h5, with the
 * indices zero-padded to the width of N. */
void sweep_shard_path(char *buf, size_t len, const char *dir, const char *job_name, int index,
                      int count);

/* Collective over comm. Returns the process exit status: 0 success, 1 runtime failure,
 * 2 bad input (job file, options); the same on every rank. Messages go to stderr (errors)
 * and stdout (progress, fit table) from rank 0. */
int sweep_run(const sweep_options *opt, MPI_Comm comm);

#endif
