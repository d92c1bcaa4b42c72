/* The application layer: one file per command. Commands parse their options, call the
 * library, print, and choose the exit status (0 success, 1 runtime failure, 2 bad input or
 * usage); only this layer prints, exits or calls MPI_Abort. */
#ifndef SYNLAW_CLI_H
#define SYNLAW_CLI_H

#include "synlaw/analysis.h"
#include "synlaw/gains.h"
#include "synlaw/merge.h"

#include <mpi.h>
#include <stdio.h>

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* A command: its name, entry point, one-line summary and usage text (--help, the man page). */
typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
    const char *const *usage;
} cli_command;

/* The command table (main.c), NULL-terminated by name. */
extern const cli_command cli_commands[];
extern const char *const cli_usage_main;

int cmd_run(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_fit(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_render(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_models(int argc, char **argv);
int cmd_refine(int argc, char **argv);
extern const char *const usage_run, *const usage_check, *const usage_fit, *const usage_merge,
    *const usage_status, *const usage_render, *const usage_bench, *const usage_plan,
    *const usage_models, *const usage_refine;

/* s made safe to print: control characters, DEL, C1 controls and invalid UTF-8 written as
 * \xNN, so that text read from a file (a job name, a failure reason, a CSV value, a path)
 * cannot move the cursor, recolour or retitle the terminal, or fake lines of output. The
 * result lives in one of 16 rotating buffers: use it before 16 more calls. */
const char *cli_safe(const char *s);
/* The same into out[cap] (terminated when cap > 0), letting the control characters in keep
 * through (e.g. "\t", the separator of fit groups). Returns the length the whole copy needs,
 * as snprintf does. */
size_t cli_safe_copy(char *out, size_t cap, const char *s, const char *keep);
/* "synlaw: <message>\n\n<usage>" on stderr (the message made safe); returns EXIT_USAGE. */
int cli_usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "synlaw: <message>\n" on stderr (the message made safe, as cli_safe); returns code. */
int cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The exit status of a library status (SL_EINPUT -> 2, other failures -> 1). */
int cli_exit_status(int sl_status);
/* A whole decimal integer in [lo, hi] / a finite number in [lo, hi]: 0, or -1. */
int cli_parse_long(const char *s, long lo, long hi, long *out);
/* "HxWxC" (or "HxW": one channel) into rows, cols and channels; 0, or -1 when malformed
 * (the ranges are the caller's). */
int cli_parse_shape(const char *s, int *rows, int *cols, int *channels);
int cli_parse_double(const char *s, double lo, double hi, double *out);
/* A handful of options that take no argument but --help (check, status, models): returns
 * -1 when the command should go on, or an exit status. */
int cli_help_only(int argc, char **argv, const char *usage, const char *cmd);
/* Human duration: "42s", "3m07s", "2h05m", "?" for non-finite. */
void cli_duration(char *buf, size_t len, double seconds);

/* MPI for the commands that need it: MPI_Init, and an error handler on MPI_COMM_WORLD that
 * names the command and MPI's message before aborting. Before MPI_Init it sets
 * OMPI_MCA_sharedfp=^lockedfile unless the variable is set (Open MPI 4.1's lockedfile
 * component smashes its stack on long paths; synlaw uses no shared file pointers). */
void cli_mpi_init(const char *command);

/* The fit tables and decisions of analysis rows (group columns tab-separated), for
 * results files (scratch: also the scratch and best columns) and CSV curves alike. */
void cli_print_fits(FILE *out, const analysis_row *rows, int nrow, const char *group_columns,
                    const analysis_options *o, int scratch);
/* The table of pre-trained against scratch (gains.h). */
void cli_print_gains(FILE *out, const gains_row *rows, int n, double level);
/* The fit at the end of run and merge: default options, CSV at csv_path or beside the file,
 * the table to out, then "fits written to ...". Returns an exit status. */
int cli_fit_after_run(const char *path, const char *csv_path, FILE *out);

/* The summary of gathered shard or results files (status, and the start of merge). */
void cli_print_merge_summary(FILE *out, const merge_state *g);

/* A streaming JSON writer (UTF-8 passed through, control characters escaped). */
typedef struct {
    FILE *f;
    int depth;
    int count[32]; /* values written at each depth */
    int key;       /* a key was just written */
} cli_json;
void json_begin(cli_json *j, FILE *f);
void json_end(cli_json *j); /* newline */
void json_object(cli_json *j);
void json_object_end(cli_json *j);
void json_array(cli_json *j);
void json_array_end(cli_json *j);
void json_key(cli_json *j, const char *key);
void json_string(cli_json *j, const char *s);
void json_number(cli_json *j, double v); /* null when not finite */
void json_int(cli_json *j, long long v);
void json_bool(cli_json *j, int v);

#endif
