/* Joining shard files and summarising progress.
 *
 * merge: every input must hold the same job (job_hash) and the same split (shard_count).
 * Each cell is taken from the file that finished it (done or failed); a cell finished in
 * more than one file is reported as a duplicate (with whether the copies are bitwise
 * identical; the first is kept). Cells finished nowhere are listed as missing, with the
 * shard indices to resubmit. The output has the layout of an mpirun sweep (with
 * shard_count 0 and merged_from = number of inputs); it is written to OUT.partial and renamed
 * when complete.
 *
 * status: done / failed / pending cells and the time spent, per file and in total; for
 * several shard files (or a directory of them) the same report as merge, without writing. */
#ifndef SYNLAW_MERGE_H
#define SYNLAW_MERGE_H

#include <stddef.h>
#include <stdio.h>

typedef struct {
    const char *out_path;
    const char *csv_path;   /* NULL: OUT with .h5 replaced by -fits.csv */
    int allow_partial;      /* write even when cells are missing */
    int force;              /* replace an existing output */
    int no_fit;
} merge_options;

/* Inputs are shard files or directories (every *-shard-*-of-*.h5 in them). Returns the exit
 * status: 0 merged (complete, or partial with allow_partial), 1 incomplete or I/O failure,
 * 2 bad input (mixed jobs or splits, unreadable files, existing output). */
int merge_run(const merge_options *opt, char **inputs, int ninput, FILE *out);

/* Summarise one results/shard file, or several, or a directory. Exit status as merge_run,
 * with 1 when cells are missing or pending. */
int status_run(char **inputs, int ninput, FILE *out);

#endif
