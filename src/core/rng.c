/* xoshiro256** and splitmix64 (public-domain algorithms by Blackman and Vigna). */
#include "synlaw/rng.h"

#include "simd.h"

#include <math.h>

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
