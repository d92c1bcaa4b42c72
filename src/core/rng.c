/* xoshiro256** and splitmix64 (public-domain algorithms by Blackman and Vigna). */
#include "synlaw/rng.h"

#include "simd.h"

#include <math.h>
#include <string.h>

uint64_t rng_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint64_t rng_hash(uint64_t seed, const uint64_t *words, int n)
{
    uint64_t h = rng_mix(seed ^ 0x5eed5eed5eed5eedULL);
    for (int i = 0; i < n; i++)
        h = rng_mix(h ^ rng_mix(words[i] + (uint64_t)i * 0x632be59bd9b4e019ULL));
    return h;
}

uint64_t rng_hash_str(uint64_t seed, const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a, then mixed with the seed */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return rng_hash(seed, &h, 1);
}

void rng_seed(rng_t *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        x += 0x9e3779b97f4a7c15ULL;
        r->s[i] = rng_mix(x);
    }
}

/* xoshiro256**'s output function of the state's s[1] into w (rotl(s1 * 5, 7) * 9, the
 * products as shifts and adds), and one step of the state: on a word or, with GCC's vector
 * extension, on a vector of lanes (rng_fill_lanes), the one definition of both. */
#define XOSHIRO_OUTPUT(w, s1)                                                                       \
    do {                                                                                            \
        const __typeof__(s1) a_ = ((s1) << 2) + (s1), b_ = (a_ << 7) | (a_ >> 57);                 \
        (w) = (b_ << 3) + b_;                                                                       \
    } while (0)
#define XOSHIRO_ADVANCE(s0, s1, s2, s3)                                                             \
    do {                                                                                            \
        const __typeof__(s1) t_ = (s1) << 17;                                                       \
        (s2) ^= (s0);                                                                               \
        (s3) ^= (s1);                                                                               \
        (s1) ^= (s2);                                                                               \
        (s0) ^= (s3);                                                                               \
        (s2) ^= t_;                                                                                 \
        (s3) = ((s3) << 45) | ((s3) >> 19);                                                         \
    } while (0)

static inline uint64_t scramble(uint64_t s1)
{
    uint64_t w;
    XOSHIRO_OUTPUT(w, s1);
    return w;
}

static inline void advance(uint64_t *s) { XOSHIRO_ADVANCE(s[0], s[1], s[2], s[3]); }

uint64_t rng_next(rng_t *r)
{
    uint64_t result = scramble(r->s[1]);
    advance(r->s);
    return result;
}

/* 1 where the output loop of rng_fill vectorises: a CPU with AVX2 (or the AVX2 and AVX-512
 * builds of the tests' single-clone objects), not the baseline. */
static int fill_in_two_passes(void)
{
#if defined(SYNLAW_CLONE_base)
    return 0;
#elif defined(SYNLAW_CLONE_avx2) || defined(SYNLAW_CLONE_avx512f)
    return 1;
#elif defined(SYNLAW_CLONES_AT_RUN_TIME) /* GCC's clones: the CPU decides */
    return __builtin_cpu_supports("avx2");
#else
    return 0;
#endif
}

/* With AVX2, two passes: the state's steps, one after the other (each depends on the
 * last), keeping each step's s[1]; then the output function of every kept word, which does
 * not depend on the others and vectorises (GCC makes x 5 and x 9 shifts and adds). Without,
 * where that loop stays scalar, one pass is faster. */
HOT void rng_fill(rng_t *r, uint64_t *restrict out, size_t n)
{
    if (!fill_in_two_passes()) {
        rng_t t = *r; /* a local copy stays in registers */
        for (size_t i = 0; i < n; i++)
            out[i] = rng_next(&t);
        *r = t;
        return;
    }
    rng_t t = *r;
    for (size_t i = 0; i < n; i++) {
        out[i] = t.s[1];
        advance(t.s);
    }
    *r = t;
    for (size_t i = 0; i < n; i++)
        out[i] = scramble(out[i]);
}

/* The state of RNG_LANES generators as vectors of lanes (GCC's vector extension), advanced
 * together: each step a few vector operations. The output function's words are kept a
 * vector per step, then transposed in registers so that each lane's words are stored
 * together in its own row of out (row length n). x 5 and x 9 are written as shifts and adds
 * (a 64-bit vector multiply needs AVX-512DQ): the same words modulo 2^64.
 * - fill_lanes8, for AVX-512: a register of 8 lanes per state word, 8 steps at a time.
 * - fill_lanes4, for AVX2: two sets of 4 lanes (a register per state word each), 4 steps at
 *   a time, as AVX2 shuffles whole registers of 4 words but not pairs of registers. */
typedef uint64_t v8u64 __attribute__((vector_size(64)));
typedef uint64_t v4u64 __attribute__((vector_size(32)));
_Static_assert(RNG_LANES == 8, "the lanes are 8 (fill_lanes8) or two sets of 4 (fill_lanes4)");

/* Words 8 steps x 8 lanes: w[i] holds step i of each lane; afterwards w[l] holds lane l's 8
 * steps (three rounds of interleaving pairs, of 1, 2 and 4 words). __builtin_shufflevector:
 * GCC 12 and later, and Clang. */
static inline __attribute__((always_inline)) void transpose8(v8u64 *w)
{
    v8u64 a[8], b[8];
    for (int k = 0; k < 8; k += 2) {
        a[k] = __builtin_shufflevector(w[k], w[k + 1], 0, 8, 2, 10, 4, 12, 6, 14);
        a[k + 1] = __builtin_shufflevector(w[k], w[k + 1], 1, 9, 3, 11, 5, 13, 7, 15);
    }
    for (int k = 0; k < 8; k += 4)
        for (int j = 0; j < 2; j++) {
            b[k + j] = __builtin_shufflevector(a[k + j], a[k + j + 2], 0, 1, 8, 9, 4, 5, 12, 13);
            b[k + j + 2] = __builtin_shufflevector(a[k + j], a[k + j + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        }
    for (int j = 0; j < 4; j++) {
        w[j] = __builtin_shufflevector(b[j], b[j + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        w[j + 4] = __builtin_shufflevector(b[j], b[j + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    }
}

/* The same for 4 steps x 4 lanes. */
static inline __attribute__((always_inline)) void transpose4(v4u64 *w)
{
    const v4u64 a0 = __builtin_shufflevector(w[0], w[1], 0, 4, 2, 6);
    const v4u64 a1 = __builtin_shufflevector(w[0], w[1], 1, 5, 3, 7);
    const v4u64 a2 = __builtin_shufflevector(w[2], w[3], 0, 4, 2, 6);
    const v4u64 a3 = __builtin_shufflevector(w[2], w[3], 1, 5, 3, 7);
    w[0] = __builtin_shufflevector(a0, a2, 0, 1, 4, 5);
    w[1] = __builtin_shufflevector(a1, a3, 0, 1, 4, 5);
    w[2] = __builtin_shufflevector(a0, a2, 2, 3, 6, 7);
    w[3] = __builtin_shufflevector(a1, a3, 2, 3, 6, 7);
}

/* Lane l's words of steps i0 .. i0 + m - 1 (m of the block's steps: the last block of a row
 * may hold steps past n) from w into its row of out. */
#define LANES_STORE(out, n, l, i0, m, w, block)                                                     \
    do {                                                                                            \
        if ((m) == (block))                                                                         \
            memcpy((out) + (size_t)(l) * (n) + (i0), &(w), sizeof(w));                               \
        else                                                                                        \
            for (size_t i_ = 0; i_ < (m); i_++)                                                     \
                (out)[(size_t)(l) * (n) + (i0) + i_] = (w)[i_];                                     \
    } while (0)

HOT static void fill_lanes8(uint64_t (*restrict st)[RNG_LANES], uint64_t *restrict out, size_t n)
{
    v8u64 s[4];
    memcpy(s, st, sizeof s);
    v8u64 s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3];
    for (size_t i0 = 0; i0 < n; i0 += 8) {
        v8u64 w[8];
        for (int i = 0; i < 8; i++) {
            XOSHIRO_OUTPUT(w[i], s1);
            XOSHIRO_ADVANCE(s0, s1, s2, s3);
        }
        transpose8(w);
        const size_t m = n - i0 < 8 ? n - i0 : 8;
        for (int l = 0; l < 8; l++)
            LANES_STORE(out, n, l, i0, m, w[l], 8);
    }
    /* the state at step n: the steps past it (n not a multiple of 8) taken again from the
     * start */
    if (n % 8) {
        s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3];
        for (size_t i = 0; i < n; i++)
            XOSHIRO_ADVANCE(s0, s1, s2, s3);
    }
    s[0] = s0, s[1] = s1, s[2] = s2, s[3] = s3;
    memcpy(st, s, sizeof s);
}

HOT static void fill_lanes4(uint64_t (*restrict st)[RNG_LANES], uint64_t *restrict out, size_t n)
{
    v4u64 s[4][2]; /* state word j of lanes 0-3 and 4-7 */
    memcpy(s, st, sizeof s);
    v4u64 a0 = s[0][0], a1 = s[1][0], a2 = s[2][0], a3 = s[3][0];
    v4u64 b0 = s[0][1], b1 = s[1][1], b2 = s[2][1], b3 = s[3][1];
    for (size_t i0 = 0; i0 < n; i0 += 4) {
        v4u64 wa[4], wb[4];
        for (int i = 0; i < 4; i++) {
            XOSHIRO_OUTPUT(wa[i], a1);
            XOSHIRO_OUTPUT(wb[i], b1);
            XOSHIRO_ADVANCE(a0, a1, a2, a3);
            XOSHIRO_ADVANCE(b0, b1, b2, b3);
        }
        transpose4(wa);
        transpose4(wb);
        const size_t m = n - i0 < 4 ? n - i0 : 4;
        for (int l = 0; l < 4; l++) {
            LANES_STORE(out, n, l, i0, m, wa[l], 4);
            LANES_STORE(out, n, l + 4, i0, m, wb[l], 4);
        }
    }
    if (n % 4) {
        a0 = s[0][0], a1 = s[1][0], a2 = s[2][0], a3 = s[3][0];
        b0 = s[0][1], b1 = s[1][1], b2 = s[2][1], b3 = s[3][1];
        for (size_t i = 0; i < n; i++) {
            XOSHIRO_ADVANCE(a0, a1, a2, a3);
            XOSHIRO_ADVANCE(b0, b1, b2, b3);
        }
    }
    s[0][0] = a0, s[1][0] = a1, s[2][0] = a2, s[3][0] = a3;
    s[0][1] = b0, s[1][1] = b1, s[2][1] = b2, s[3][1] = b3;
    memcpy(st, s, sizeof s);
}

/* Which: 8 lanes with AVX-512 (2), else two sets of 4 (AVX2: 1; baseline: 0). */
static int lanes_isa(void)
{
#if defined(SYNLAW_CLONE_avx512f)
    return 2;
#elif defined(SYNLAW_CLONE_avx2)
    return 1;
#elif defined(SYNLAW_CLONE_base)
    return 0;
#elif defined(SYNLAW_CLONES_AT_RUN_TIME)
    return __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0;
#else
    return 0;
#endif
}

/* Where the lanes pay (28 x 28 images of level 4, 8 lanes against one generator after
 * another, on an AMD EPYC): with AVX-512 from 3 generators, with AVX2 from 5; the
 * baseline's SSE2 registers hold 2 words, and 8 lanes there cost what 8 generators do. */
int rng_lanes_min(void)
{
    static const int min[3] = {RNG_LANES + 1, 5, 3};
    return min[lanes_isa()];
}

void rng_fill_lanes(rng_t *r, int lanes, uint64_t *out, size_t n)
{
    uint64_t st[4][RNG_LANES];
    for (int l = 0; l < RNG_LANES; l++)
        for (int j = 0; j < 4; j++)
            st[j][l] = r[l < lanes ? l : 0].s[j];
    if (lanes_isa() == 2)
        fill_lanes8(st, out, n);
    else
        fill_lanes4(st, out, n);
    for (int l = 0; l < lanes; l++)
        for (int j = 0; j < 4; j++)
            r[l].s[j] = st[j][l];
}

double rng_uniform(rng_t *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

double rng_range(rng_t *r, double lo, double hi) { return lo + (hi - lo) * rng_uniform(r); }

double rng_normal(rng_t *r)
{
    double u1 = rng_uniform(r), u2 = rng_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t rng_below(rng_t *r, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = rng_next(r);
    while (x >= limit);
    return x % n;
}
