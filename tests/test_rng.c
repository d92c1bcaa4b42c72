/* Random numbers (rng.h) against the reference algorithms of Blackman and Vigna written out
 * here (splitmix64, xoshiro256**), plus statistical checks with stated bounds: streams are
 * reproducible from a seed and differ between seeds; rng_below stays in [0, n) without
 * modulo bias (chi-square on n = 10, and a modulus of 2/3 of 2^64 where a plain x % n would
 * put 2/3 of the draws in the lower half); rng_uniform and rng_range stay in their half-open
 * intervals; rng_normal has mean 0 and variance 1 within stated tolerances; rng_hash and
 * rng_hash_str are deterministic and sensitive to order, length and seed; rng_fill gives the
 * reference's words. Everything is seeded: the checks give the same numbers on every run and
 * machine. */
#include "check.h"
#include "synlaw/rng.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

/* --- Reference: splitmix64 and xoshiro256** as published (prng.di.unimi.it). --- */

static uint64_t ref_splitmix64_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t ref_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t ref_xoshiro_next(uint64_t s[4])
{
    const uint64_t result = ref_rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = ref_rotl(s[3], 45);
    return result;
}

static void test_known_answers(void)
{
    /* The reference itself: the published first output of splitmix64 from state 0. */
    uint64_t st = 0;
    uint64_t first = ref_splitmix64_next(&st);
    CHECK(first == 0xe220a8397b1dcdafULL, "reference splitmix64(0) = %016" PRIx64, first);
    /* rng_mix(x) is splitmix64's output from state x. */
    CHECK(rng_mix(0) == 0xe220a8397b1dcdafULL, "rng_mix(0) = %016" PRIx64 ", want e220a8397b1dcdaf", rng_mix(0));
    const uint64_t xs[] = {1, 2, 42, 0x9e3779b97f4a7c15ULL, 0xdeadbeefcafef00dULL, UINT64_MAX};
    for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) {
        uint64_t s = xs[i], want = ref_splitmix64_next(&s);
        CHECK(rng_mix(xs[i]) == want, "rng_mix(%016" PRIx64 ") = %016" PRIx64 ", reference %016" PRIx64, xs[i],
              rng_mix(xs[i]), want);
    }

    /* xoshiro256** from the state {1, 2, 3, 4}: the first output by hand is
     * rotl(2 * 5, 7) * 9 = 1280 * 9 = 11520; then the reference. */
    rng_t r = {{1, 2, 3, 4}};
    uint64_t ref[4] = {1, 2, 3, 4};
    uint64_t a = rng_next(&r), b = ref_xoshiro_next(ref);
    CHECK(a == 11520 && b == 11520, "xoshiro256** {1,2,3,4}: first output %" PRIu64 " (reference %" PRIu64
          "), want 11520", a, b);
    int bad = -1;
    for (int k = 1; k < 10000 && bad < 0; k++)
        if (rng_next(&r) != ref_xoshiro_next(ref))
            bad = k;
    CHECK(bad < 0, "xoshiro256** {1,2,3,4}: output %d differs from the reference", bad);
    CHECK(memcmp(r.s, ref, sizeof ref) == 0, "xoshiro256** state differs from the reference after 10000 steps");

    /* Seeding: the state is four consecutive splitmix64 outputs of the stream started at the
     * seed, after skipping its first output (rng_seed adds the increment once itself and
     * rng_mix adds it again). Pinned here: changing the seeding changes every result. */
    const uint64_t seeds[] = {0, 1, 3, 12345, 0xfedcba9876543210ULL, UINT64_MAX};
    for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++) {
        uint64_t sm = seeds[i], want[4];
        ref_splitmix64_next(&sm); /* skipped */
        for (int k = 0; k < 4; k++)
            want[k] = ref_splitmix64_next(&sm);
        rng_seed(&r, seeds[i]);
        CHECK(memcmp(r.s, want, sizeof want) == 0,
              "rng_seed(%" PRIu64 "): state %016" PRIx64 " %016" PRIx64 " ..., reference %016" PRIx64
              " %016" PRIx64 " ...", seeds[i], r.s[0], r.s[1], want[0], want[1]);
        int d = -1;
        for (int k = 0; k < 1000 && d < 0; k++)
            if (rng_next(&r) != ref_xoshiro_next(want))
                d = k;
        CHECK(d < 0, "seed %" PRIu64 ": output %d differs from the reference", seeds[i], d);
    }
    /* rng_seed(0) gives a usable (non-zero) xoshiro state. */
    rng_seed(&r, 0);
    CHECK(r.s[0] | r.s[1] | r.s[2] | r.s[3], "rng_seed(0) gives the all-zero state");

    /* rng_uniform is the top 53 bits of the next output times 2^-53. */
    rng_seed(&r, 99);
    uint64_t s4[4];
    memcpy(s4, r.s, sizeof s4);
    for (int k = 0; k < 100; k++) {
        double u = rng_uniform(&r), want = (double)(ref_xoshiro_next(s4) >> 11) * 0x1.0p-53;
        CHECK(u == want, "rng_uniform draw %d: %.17g, reference %.17g", k, u, want);
    }
}

static void test_reproducible(void)
{
    rng_t a, b;
    rng_seed(&a, 12345);
    rng_seed(&b, 12345);
    int same = 1;
    for (int k = 0; k < 1000; k++)
        same &= rng_next(&a) == rng_next(&b);
    CHECK(same, "two streams from seed 12345 differ");
    /* Different seeds: distinct first outputs over 1000 consecutive seeds, and streams that
     * share no output in their first 100 draws for two neighbouring seeds. */
    enum { NSEED = 1000 };
    static uint64_t firsts[NSEED];
    for (int s = 0; s < NSEED; s++) {
        rng_seed(&a, (uint64_t)s);
        firsts[s] = rng_next(&a);
    }
    int clash = 0;
    for (int i = 0; i < NSEED; i++)
        for (int j = 0; j < i; j++)
            clash += firsts[i] == firsts[j];
    CHECK(clash == 0, "%d equal first outputs among seeds 0..%d", clash, NSEED - 1);
    rng_seed(&a, 7);
    rng_seed(&b, 8);
    int equal = 0;
    for (int k = 0; k < 100; k++)
        equal += rng_next(&a) == rng_next(&b);
    CHECK(equal == 0, "seeds 7 and 8: %d equal outputs in 100 draws", equal);
}

static void test_below(void)
{
    rng_t r;
    rng_seed(&r, 2026);
    /* Range, including n = 1 and moduli near 2^64. */
    const uint64_t ns[] = {1, 2, 3, 7, 10, 1000, (1ULL << 32) + 1, (1ULL << 63) + 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
        int out = 0;
        for (int k = 0; k < 10000; k++)
            out += rng_below(&r, ns[i]) >= ns[i];
        CHECK(out == 0, "rng_below(%" PRIu64 "): %d of 10000 draws out of range", ns[i], out);
    }
    int ones = 0;
    for (int k = 0; k < 1000; k++)
        ones += rng_below(&r, 1) == 0;
    CHECK(ones == 1000, "rng_below(1) returned non-zero");

    /* Chi-square on n = 10 with 100000 draws: 9 degrees of freedom; P(chi2_9 > 35) is about
     * 6e-5, so a correct generator fails this fixed-seed check with negligible probability,
     * while an excess of 6% on one value (600 draws) alone exceeds the bound. */
    enum { N = 10, DRAWS = 100000 };
    long count[N] = {0};
    for (int k = 0; k < DRAWS; k++)
        count[rng_below(&r, N)]++;
    double chi2 = 0, e = (double)DRAWS / N;
    for (int v = 0; v < N; v++)
        chi2 += (count[v] - e) * (count[v] - e) / e;
    CHECK(chi2 < 35.0, "rng_below(10): chi-square %.2f over 100000 draws, bound 35", chi2);

    /* Modulo bias: n = 0xAAAA...AA is about 2/3 of 2^64; x % n over uniform 64-bit x would give
     * values below 2^64 - n (about n / 2) twice as often, so 2/3 of the draws would fall in
     * the lower half. Unbiased: 1/2, with a standard deviation of 0.0035 over 20000 draws;
     * the bound 0.02 is more than 5 of them and far below the bias of 0.167. */
    const uint64_t big = 0xAAAAAAAAAAAAAAAAULL;
    int lower = 0;
    for (int k = 0; k < 20000; k++)
        lower += rng_below(&r, big) < big / 2;
    double frac = lower / 20000.0;
    CHECK(fabs(frac - 0.5) < 0.02, "rng_below(2/3 * 2^64): %.4f of draws in the lower half, want 0.5 +- 0.02",
          frac);
}

static void test_uniform_normal(void)
{
    rng_t r;
    rng_seed(&r, 77);
    enum { DRAWS = 100000 };
    int out = 0, rout = 0;
    double sum = 0;
    for (int k = 0; k < DRAWS; k++) {
        double u = rng_uniform(&r);
        out += !(u >= 0.0 && u < 1.0);
        sum += u;
        double x = rng_range(&r, -3.0, 5.0);
        rout += !(x >= -3.0 && x < 5.0);
    }
    CHECK(out == 0, "rng_uniform: %d of %d draws outside [0, 1)", out, DRAWS);
    CHECK(rout == 0, "rng_range(-3, 5): %d of %d draws outside [-3, 5)", rout, DRAWS);
    /* Mean of U(0,1): 0.5 with a standard error of 0.289 / sqrt(1e5) = 0.0009; bound 0.005. */
    CHECK(fabs(sum / DRAWS - 0.5) < 0.005, "rng_uniform mean %.5f, want 0.5 +- 0.005", sum / DRAWS);

    /* Normal: over 1e5 draws the mean has a standard error of 0.0032 and the variance one of
     * sqrt(2 / 1e5) = 0.0045; bounds 0.015 and 0.025 (about 5 standard errors). The fraction
     * beyond 1.96 is 0.05 with a standard error of 0.0007; bound 0.004. */
    double s1 = 0, s2 = 0;
    int nonfinite = 0, tail = 0;
    for (int k = 0; k < DRAWS; k++) {
        double z = rng_normal(&r);
        nonfinite += !isfinite(z);
        s1 += z;
        s2 += z * z;
        tail += fabs(z) > 1.959963984540054;
    }
    double mean = s1 / DRAWS, var = s2 / DRAWS - mean * mean;
    CHECK(nonfinite == 0, "rng_normal: %d non-finite draws", nonfinite);
    CHECK(fabs(mean) < 0.015, "rng_normal mean %.5f, want 0 +- 0.015", mean);
    CHECK(fabs(var - 1.0) < 0.025, "rng_normal variance %.5f, want 1 +- 0.025", var);
    CHECK(fabs((double)tail / DRAWS - 0.05) < 0.004, "rng_normal: %.4f of draws beyond 1.96, want 0.05 +- 0.004",
          (double)tail / DRAWS);
}

static void test_hash(void)
{
    const uint64_t ab[2] = {1, 2}, ba[2] = {2, 1}, a0[2] = {1, 0}, a[1] = {1};
    CHECK(rng_hash(5, ab, 2) == rng_hash(5, ab, 2), "rng_hash is not deterministic");
    CHECK(rng_hash(5, ab, 2) != rng_hash(5, ba, 2), "rng_hash(a, b) == rng_hash(b, a)");
    CHECK(rng_hash(5, ab, 2) != rng_hash(6, ab, 2), "rng_hash ignores the seed");
    CHECK(rng_hash(5, a, 1) != rng_hash(5, a0, 2), "rng_hash(a) == rng_hash(a, 0): length ignored");
    CHECK(rng_hash(5, a, 1) != rng_hash(5, a, 0), "rng_hash(a) == rng_hash() ");
    CHECK(rng_hash(5, NULL, 0) != rng_hash(6, NULL, 0), "rng_hash of no words ignores the seed");
    /* Swapping any two different words of a longer list changes the hash. */
    uint64_t w[6] = {3, 1, 4, 1, 5, 9};
    uint64_t h = rng_hash(11, w, 6);
    int same = 0;
    for (int i = 0; i < 6; i++)
        for (int j = i + 1; j < 6; j++) {
            if (w[i] == w[j])
                continue;
            uint64_t t = w[i];
            w[i] = w[j], w[j] = t;
            same += rng_hash(11, w, 6) == h;
            t = w[i], w[i] = w[j], w[j] = t;
        }
    CHECK(same == 0, "rng_hash: %d swaps of two words leave the hash unchanged", same);
    /* No collisions over a small grid of (i, j) coordinates, as cell seeds need. */
    enum { G = 64 };
    static uint64_t hs[G * G];
    for (int i = 0; i < G; i++)
        for (int j = 0; j < G; j++) {
            uint64_t c[2] = {(uint64_t)i, (uint64_t)j};
            hs[i * G + j] = rng_hash(3, c, 2);
        }
    int clash = 0;
    for (int i = 0; i < G * G; i++)
        for (int j = 0; j < i; j++)
            clash += hs[i] == hs[j];
    CHECK(clash == 0, "rng_hash: %d collisions over a %dx%d grid", clash, G, G);

    CHECK(rng_hash_str(1, "mlp-s") == rng_hash_str(1, "mlp-s"), "rng_hash_str is not deterministic");
    CHECK(rng_hash_str(1, "ab") != rng_hash_str(1, "ba"), "rng_hash_str(ab) == rng_hash_str(ba)");
    CHECK(rng_hash_str(1, "mlp-s") != rng_hash_str(2, "mlp-s"), "rng_hash_str ignores the seed");
    CHECK(rng_hash_str(1, "") != rng_hash_str(1, "a"), "rng_hash_str('') == rng_hash_str('a')");
}

/* rng_fill against the reference, word for word, for lengths around a vector's and the
 * renderer's (784 words a 28 x 28 plane), and the state it leaves. */
static void test_fill(void)
{
    static const size_t lengths[] = {0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 63, 784, 4096, 4099};
    static uint64_t got[4099];
    for (size_t i = 0; i < sizeof lengths / sizeof *lengths; i++) {
        const size_t n = lengths[i];
        rng_t r;
        rng_seed(&r, 1000 + i);
        uint64_t ref[4];
        memcpy(ref, r.s, sizeof ref);
        rng_fill(&r, got, n);
        size_t bad = n;
        for (size_t k = 0; k < n; k++)
            if (got[k] != ref_xoshiro_next(ref) && bad == n)
                bad = k;
        CHECK(bad == n, "rng_fill of %zu words: word %zu differs from the reference", n, bad);
        CHECK(memcmp(r.s, ref, sizeof ref) == 0, "rng_fill of %zu words: the state differs from the "
              "reference's after them", n);
    }
}

int main(void)
{
    test_known_answers();
    test_fill();
    test_reproducible();
    test_below();
    test_uniform_normal();
    test_hash();
    return test_summary("rng");
}
