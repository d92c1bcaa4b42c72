/* Minimal test harness: CHECK counts failures and prints where; test_summary() returns the
 * exit status (non-zero on any failure) and prints "N passed, M failed". */
#ifndef SYNLAW_TEST_CHECK_H
#define SYNLAW_TEST_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

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

/* FNV-1a over n bytes, continuing h (start with 0xcbf29ce484222325). */
static inline unsigned long long check_fnv(unsigned long long h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* A float from its bit pattern, and back. */
static inline float check_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint32_t check_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* In a test built with one clone of the HOT loops forced (SYNLAW_CLONE_*, see simd.h): exit
 * with 77 (ctest's "skipped") when this CPU cannot run it. */
#if defined(SYNLAW_CLONE_avx512f)
#define CHECK_CLONE_ISA "avx512f"
#elif defined(SYNLAW_CLONE_avx2)
#define CHECK_CLONE_ISA "avx2"
#endif
#ifdef CHECK_CLONE_ISA
#define CHECK_CLONE_RUNS()                                                                      \
    do {                                                                                        \
        if (!__builtin_cpu_supports(CHECK_CLONE_ISA)) {                                         \
            printf("skipped: this CPU has no %s\n", CHECK_CLONE_ISA);                           \
            return 77;                                                                          \
        }                                                                                       \
    } while (0)
#else
#define CHECK_CLONE_RUNS() ((void)0)
#endif

static inline int test_summary(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, check_pass, check_fail);
    return check_fail != 0;
}

#endif
