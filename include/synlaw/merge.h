/* Joining shard files and summarising progress.
 *
 * merge_gather reads results or shard files (or directories of shard files): every input
 * must hold the same job (job_hash) and the same split (shard_count). Each cell is taken
 * from the file that finished it (done or failed); a cell finished in more than one file is
 * counted as a duplicate (with whether the copies are bitwise identical; the first file's
 * is kept). Cells finished nowhere are missing, with the shard indices to resubmit (not
 * those still running: a run holds its file's lock). merge_write writes the result with the
 * layout of an mpirun sweep (shard_count 0, merged_from = number of inputs) to a path. */
#ifndef SYNLAW_MERGE_H
#define SYNLAW_MERGE_H

#include "synlaw/job.h"
#include "synlaw/store.h"

#include <stddef.h>

/* One input file. */
typedef struct {
    char *path;             /* owned */
    int shard_index;        /* of shard_count (0 for whole-grid files) */
    int cells;              /* cells of its shard (the grid for whole-grid files) */
    int count[CELL_NSTATUS];/* of those: pending, done, failed in this file */
    double seconds;         /* cell time of its finished cells */
    int running;            /* 1: a synlaw run holds the file's lock */
    int duplicate_index;    /* 1: another input has the same shard index */
} merge_file;

typedef struct {
    char job_name[64], job_hash[24];
    job_spec spec;          /* parsed from the stored job text (grid only) */
    int ncell, nbackbone, nshard; /* nshard: the split (0: whole-grid files) */
    int nfile;
    merge_file *files;      /* [nfile] */
    int count[CELL_NSTATUS];/* over the grid, each cell from the file that finished it */
    int bb_count[CELL_NSTATUS]; /* the same for backbones (pending: finished nowhere) */
    int missing;            /* cells finished nowhere */
    int *missing_cells;     /* [missing], ascending */
    double time[6];         /* time of the finished cells and backbones, and its split: total,
                               generate, pre-train, fine-tune, evaluate, write (seconds) */
    int ndup, ndiff;        /* cells finished in more than one file; of which differing (final
                               error, status or curves) */
    int bb_dup, bb_diff;    /* the same for backbones (key, final error, status or curves);
                               the first file's copy and its weights are kept */
    int *failed_cells;      /* [count[CELL_FAILED]], ascending */
    int nabsent;            /* shards with no file */
    int *absent_shards;     /* [nabsent] */
    int *absent_cells;      /* [nabsent] cells of each */
    int nresubmit;          /* shards with missing cells, not running */
    int *resubmit;          /* [nresubmit], ascending */
    int nrunning;           /* shards still running */
} merge_summary;

typedef struct merge_state merge_state;

/* Read and check the inputs. Returns 0 with *out set, or SL_EINPUT (missing or foreign
 * files, mixed jobs or splits) / SL_EFAIL (memory) with err. */
int merge_gather(merge_state **out, char **inputs, int ninput, char *err, size_t errlen);
/* The summary of what was gathered (owned by the state). */
const merge_summary *merge_summary_of(const merge_state *g);
/* The stored row of a finished cell (NULL if missing): for its failure reason. */
const store_cell_row *merge_cell_row(const merge_state *g, int cell);
/* Write every finished cell to a new results file at path (serial). 0 or -1 with err. */
int merge_write(const merge_state *g, const char *path, char *err, size_t errlen);
void merge_free(merge_state *g);

#endif
