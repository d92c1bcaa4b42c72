/* Conventions shared by every library module.
 *
 * Errors: a library function returns 0 on success or a negative status, and writes a
 * message naming the file, line, cell or value into the caller's buffer (char *err, size_t
 * errlen). SL_EFAIL is a runtime failure (I/O, memory, MPI); SL_EINPUT is bad input (a job
 * file, a data file, an option value). Functions whose failures are all of one kind say so
 * and return -1; the entry points an application calls (sweep_run, merge_gather, ...) return
 * the distinction, and only the application turns it into an exit status (1 or 2). The
 * library never prints, never exits and never aborts. */
#ifndef SYNLAW_UTIL_H
#define SYNLAW_UTIL_H

#include <stddef.h>

enum { SL_OK = 0, SL_EFAIL = -1, SL_EINPUT = -2 };

/* Monotonic clock in seconds, for phase times and benchmarks. */
double util_clock(void);

/* Have the kernel back the whole pages of [p, p + bytes) with memory now, in one call
 * (madvise MADV_POPULATE_WRITE, Linux 5.14 on), rather than in one page fault at each page's
 * first touch. For large buffers about to be written (the render cache's samples): on the
 * virtual machines synlaw is tested on a fault costs 11-17 us and the call about half of
 * that per page. Best effort: where the kernel cannot, the pages fault in as before. The
 * contents are not changed. */
void util_populate(void *p, size_t bytes);
/* util_populate of the marked items of an array (n items of `size` bytes from base, item i
 * where marked[i] is non-zero), in one call per stretch of them: stretches are joined across
 * gaps shorter than 4 KiB, which hold no whole page, so every page populated holds part of a
 * marked item, and a process that then writes the marked items uses no more memory. */
void util_populate_marked(void *base, const unsigned char *marked, long n, size_t size);

/* snprintf into err (when err is not NULL); returns code, so that a failure path reads
 * `return util_fail(err, errlen, SL_EINPUT, "%s: ...", path);`. */
int util_fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Duplicate s (NULL on out-of-memory). */
char *util_strdup(const char *s);

/* "path/name" joined with exactly one '/' into a malloc'ed string (NULL on out-of-memory). */
char *util_join_path(const char *dir, const char *name);

/* 1 if name is safe as a file-name component: non-empty, printable ASCII, no '/', not "."
 * or "..". Job names become file names (shards), so the parser refuses others. */
int util_safe_name(const char *name);

#endif
