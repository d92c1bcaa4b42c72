/* Status codes, clock, memory and small string helpers shared by the library modules. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* madvise */
#endif
#include "synlaw/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

double util_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Headers older than glibc 2.35 lack the constant; the kernel's value is fixed (and a kernel
 * before 5.14 refuses it with EINVAL, which util_populate ignores). */
#if defined(__linux__) && !defined(MADV_POPULATE_WRITE)
#define MADV_POPULATE_WRITE 23
#endif

void util_populate(void *p, size_t bytes)
{
#ifdef MADV_POPULATE_WRITE
    const long ps = sysconf(_SC_PAGESIZE);
    if (!p || ps <= 0)
        return;
    const uintptr_t page = (uintptr_t)ps, a = ((uintptr_t)p + page - 1) & ~(page - 1),
                    b = ((uintptr_t)p + bytes) & ~(page - 1);
    if (a >= (uintptr_t)p && b > a) { /* a wraps only for p in the address space's last page */
        const int saved = errno; /* EINVAL before Linux 5.14: the pages fault in as before */
        (void)madvise((void *)a, b - a, MADV_POPULATE_WRITE);
        errno = saved;
    }
#else
    (void)p, (void)bytes;
#endif
}

void util_populate_marked(void *base, const unsigned char *marked, long n, size_t size)
{
    const size_t page = 4096; /* the smallest page: no gap under it holds a whole page */
    unsigned char *b = base;
    size_t rs = 0, re = 0; /* the stretch of bytes so far, [rs, re); empty while re == rs */
    for (long i = 0; i < n; i++) {
        if (!marked[i])
            continue;
        const size_t at = (size_t)i * size;
        if (re == rs || at - re >= page) {
            if (re > rs)
                util_populate(b + rs, re - rs);
            rs = at;
        }
        re = at + size;
    }
    if (re > rs)
        util_populate(b + rs, re - rs);
}

int util_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

char *util_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

char *util_join_path(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    int slash = dl > 0 && dir[dl - 1] != '/';
    char *p = malloc(dl + (size_t)slash + nl + 1);
    if (!p)
        return NULL;
    memcpy(p, dir, dl);
    if (slash)
        p[dl] = '/';
    memcpy(p + dl + slash, name, nl + 1);
    return p;
}

int util_safe_name(const char *name)
{
    if (!name[0] || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return 0;
    for (const char *p = name; *p; p++)
        if (*p == '/' || (unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            return 0;
    return 1;
}
