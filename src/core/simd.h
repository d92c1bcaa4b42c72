/* Multi-versioned loops (internal to the core library).
 *
 * A HOT function is compiled three times, for AVX-512, AVX2 and the baseline x86-64, and the
 * loader picks the one the CPU supports (GCC function multi-versioning): fast on today's
 * nodes, still correct on old ones. Loops under HOT are written so that every clone computes
 * the same operations in the same order per element (no reassociated reductions, no fused
 * multiply-add: ISO C mode leaves floating-point contraction off), hence the same bits on
 * AVX2, AVX-512 and baseline machines. Pointers are restrict so that the loops vectorise;
 * the files that use HOT are built with -fno-math-errno so that sqrtf vectorises too. */
#ifndef SYNLAW_SIMD_H
#define SYNLAW_SIMD_H

/* The tests also build the files with HOT loops once per clone, with that clone alone
 * (SYNLAW_CLONE_avx512f, _avx2 or _base: the same target options as the clone), so that every
 * clone is checked on one machine and compared bit for bit with the others. */
#if defined(SYNLAW_CLONE_avx512f)
#define HOT __attribute__((target("avx512f")))
#elif defined(SYNLAW_CLONE_avx2)
#define HOT __attribute__((target("avx2")))
#elif defined(SYNLAW_CLONE_base)
#define HOT
#elif defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define HOT __attribute__((target_clones("avx512f", "avx2", "default")))
#define SYNLAW_CLONES_AT_RUN_TIME 1
#else
#define HOT
#endif

/* The name of the clone that runs in this file's HOT functions: fixed for a single-clone
 * build, else the one GCC's resolver picks (the first of avx512f, avx2 that the CPU has). */
static inline const char *simd_clone_name(void)
{
#if defined(SYNLAW_CLONE_avx512f)
    return "avx512f";
#elif defined(SYNLAW_CLONE_avx2)
    return "avx2";
#elif defined(SYNLAW_CLONES_AT_RUN_TIME)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") ? "avx512f" : __builtin_cpu_supports("avx2") ? "avx2" : "baseline";
#else
    return "baseline";
#endif
}

#endif
