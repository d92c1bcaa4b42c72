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

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* xoshiro256**'s output function, of the state's s[1]. */
static inline uint64_t scramble(uint64_t s1) { return rotl(s1 * 5, 7) * 9; }

/* One step of the state. */
static inline void advance(uint64_t *s)
{
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
}

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

/* The state of RNG_LANES generators as four vectors of lanes (GCC's vector extension: one
 * AVX-512 register each, two AVX2 or four SSE2 ones), advanced together: each step a few
 * vector operations. The output function's words are kept 8 steps at a time, a vector per
 * step, then transposed in registers so that each lane's 8 words are stored together in its
 * own row of out (row length n). x 5 and x 9 are written as shifts and adds (a 64-bit vector
 * multiply needs AVX-512DQ): the same words modulo 2^64. */
typedef uint64_t lanes_u64 __attribute__((vector_size(64)));
_Static_assert(RNG_LANES == 8, "fill_lanes transposes 8 x 8 words");

/* Words 8 steps x 8 lanes: w[i] holds step i of each lane; afterwards w[l] holds lane l's 8
 * steps (three rounds of interleaving pairs, of 1, 2 and 4 words). */
static inline __attribute__((always_inline)) void transpose8(lanes_u64 *w)
{
    const lanes_u64 lo1 = {0, 8, 2, 10, 4, 12, 6, 14}, hi1 = {1, 9, 3, 11, 5, 13, 7, 15};
    const lanes_u64 lo2 = {0, 1, 8, 9, 4, 5, 12, 13}, hi2 = {2, 3, 10, 11, 6, 7, 14, 15};
    const lanes_u64 lo4 = {0, 1, 2, 3, 8, 9, 10, 11}, hi4 = {4, 5, 6, 7, 12, 13, 14, 15};
    lanes_u64 a[8], b[8];
    for (int k = 0; k < 8; k += 2) {
        a[k] = __builtin_shuffle(w[k], w[k + 1], lo1);
        a[k + 1] = __builtin_shuffle(w[k], w[k + 1], hi1);
    }
    for (int k = 0; k < 8; k += 4)
        for (int j = 0; j < 2; j++) {
            b[k + j] = __builtin_shuffle(a[k + j], a[k + j + 2], lo2);
            b[k + j + 2] = __builtin_shuffle(a[k + j], a[k + j + 2], hi2);
        }
    for (int j = 0; j < 4; j++) {
        w[j] = __builtin_shuffle(b[j], b[j + 4], lo4);
        w[j + 4] = __builtin_shuffle(b[j], b[j + 4], hi4);
    }
}

HOT static void fill_lanes(lanes_u64 *restrict st, uint64_t *restrict out, size_t n)
{
    lanes_u64 s0 = st[0], s1 = st[1], s2 = st[2], s3 = st[3];
    for (size_t i0 = 0; i0 < n; i0 += 8) {
        lanes_u64 w[8];
        for (int i = 0; i < 8; i++) {
            const lanes_u64 a = (s1 << 2) + s1, b = (a << 7) | (a >> 57); /* scramble */
            w[i] = (b << 3) + b;
            const lanes_u64 t = s1 << 17;
            s2 ^= s0;
            s3 ^= s1;
            s1 ^= s2;
            s0 ^= s3;
            s2 ^= t;
            s3 = (s3 << 45) | (s3 >> 19);
        }
        transpose8(w);
        /* lane l's words of steps i0 .. i0 + 7 (past n when n is not a multiple of 8: those
         * steps are undone below) */
        const size_t m = n - i0 < 8 ? n - i0 : 8;
        if (m == 8)
            for (int l = 0; l < 8; l++)
                memcpy(out + (size_t)l * n + i0, &w[l], sizeof w[l]);
        else
            for (int l = 0; l < 8; l++)
                for (size_t i = 0; i < m; i++)
                    out[(size_t)l * n + i0 + i] = w[l][i];
        if (m < 8) { /* the state at step n: the steps past it taken again from the start */
            s0 = st[0], s1 = st[1], s2 = st[2], s3 = st[3];
            for (size_t i = 0; i < n; i++) {
                const lanes_u64 t = s1 << 17;
                s2 ^= s0;
                s3 ^= s1;
                s1 ^= s2;
                s0 ^= s3;
                s2 ^= t;
                s3 = (s3 << 45) | (s3 >> 19);
            }
        }
    }
    st[0] = s0;
    st[1] = s1;
    st[2] = s2;
    st[3] = s3;
}

/* Where the lanes pay: with AVX-512 (a register per state word, rotations in one
 * instruction) 8 lanes cost about what 3 generators one after the other do. With AVX2 the
 * transposition is not made of whole-register shuffles and 8 lanes cost about what 8 do. */
int rng_lanes_fast(void)
{
#if defined(SYNLAW_CLONE_avx512f)
    return 1;
#elif defined(SYNLAW_CLONE_avx2) || defined(SYNLAW_CLONE_base)
    return 0;
#elif defined(SYNLAW_CLONES_AT_RUN_TIME)
    return __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

void rng_fill_lanes(rng_t *r, int lanes, uint64_t *out, size_t n)
{
    lanes_u64 st[4];
    for (int l = 0; l < RNG_LANES; l++)
        for (int j = 0; j < 4; j++)
            st[j][l] = r[l < lanes ? l : 0].s[j];
    fill_lanes(st, out, n);
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
