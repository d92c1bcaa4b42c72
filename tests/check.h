/* Minimal test harness: CHECK counts failures and prints where; test_summary() returns the
 * exit status (non-zero on any failure) and prints "N passed, M failed". */
#ifndef SYNLAW_TEST_CHECK_H
#define SYNLAW_TEST_CHECK_H

#include <stdio.h>

static int check_pass, check_fail;

#define CHECK(cond, ...)                                                                        \
    do {                                                                                        \
        if (cond)                                                                               \
            check_pass++;                                                                       \
        else {                                                                                  \
            check_fail++;                                                                       \
            fprintf(stderr, "%s:%d: FAILED %s: ", __FILE__, __LINE__, #cond);                   \
            fprintf(stderr, __VA_ARGS__);                                                       \
            fputc('\n', stderr);                                                                \
        }                                                                                       \
    } while (0)

static inline int test_summary(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, check_pass, check_fail);
    return check_fail != 0;
}

#endif
