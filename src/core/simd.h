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

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define HOT __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define HOT
#endif

#endif
