/* Measurements behind figures of the README that synlaw's own commands do not print (issue 12).
 * Built by results/bench/harness/build.sh against build/libsynlaw_core.a.
 *   harness bce ROUNDS      the sigmoid cross-entropy against the libm formula it replaced:
 *                           gradients that differ, the loss's largest relative difference,
 *                           and the time of each (ROUNDS batches of 64 x 784 logits)
 *   harness render L N      render N 28x28 images at level L (for perf record)
 *   harness rates           28x28 images/s at levels 1-4 (best of 5 times 10,000 images) and
 *                           a hash of all the images, masks and labels rendered; since
 *                           80cc886 the same for synth_render_batch of 8 (the same hash)
 *   harness lanes L         synth_render_batch against one image at a time, per group size
 *                           1-8, at level L (HARNESS_CLONE=avx2 build.sh: the AVX2 clone's)
 *   harness stage M L T S   one pre-training stage (bench_pretrain): model M, level L, task T
 *                           (0 multilabel, 1 segment), S steps of 64 on 16 S images (4 epochs)
 *   harness cache L N       N level-L samples rendered into a fresh render cache as a
 *                           pre-training stage does (train_render_sample), then again into the
 *                           same, now touched, memory: us per image, the page faults of each
 *                           pass, and from them the cost of a first touch per 4 KiB page
 *   harness rng             rng_fill of 784 words (a 28 x 28 plane's noise) against the one
 *                           pass it had before 3890015, written out here (the same words,
 *                           checked): ns per word, best of 5 times 100,000 calls
 *   harness trig            the textures' sinf and cosf (src/core/trig.c), each implementation
 *                           this CPU runs, against the C library's for every float (all 2^32
 *                           bit patterns; NaN for NaN counts as equal), and the time per value
 *                           of each on the textures' arguments (best of 5)
 *   harness quant           the render cache's 8-bit quantiser (src/core/quant.c), each path
 *                           this CPU runs, against the one-pixel formula (the scalar path) for
 *                           every float (all 2^32 bit patterns), and the time per image of
 *                           784 pixels of each (best of 5), and of the loop before 57dc090 */
#include "../../../tests/bce_libm.h" /* the libm formula, as test_nn checks against */
#include "synlaw/bench.h"
#include "synlaw/nn.h"
#include "synlaw/rng.h"
#include "synlaw/synth.h"
#include "synlaw/train.h"
#if __has_include("trig.h") /* build.sh: -I src/core; clones.sh builds older trees without it */
#include "trig.h"
#define HARNESS_TRIG 1
#endif
#if __has_include("quant.h")
#include "quant.h"
#define HARNESS_QUANT 1
#endif

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int bce(int rounds)
{
    const size_t n = 64 * 784;
    float *z = malloc(n * 4), *t = malloc(n * 4), *d1 = malloc(n * 4), *d2 = malloc(n * 4);
    const double sd[] = {1, 3, 10, 30, 300};
    rng_t r;
    rng_seed(&r, 5);
    long differ = 0, total = 0;
    double worst = 0, t_libm = 0, t_new = 0;
    for (int k = 0; k < rounds; k++) {
        for (size_t j = 0; j < n; j++) {
            z[j] = (float)(rng_normal(&r) * sd[k % 5]);
            t[j] = rng_uniform(&r) < 0.3 ? 1.0f : 0.0f;
        }
        double a = now(), l1 = bce_libm(d1, NULL, z, t, n), b = now();
        double l2 = nn_sigmoid_bce(d2, NULL, z, t, 1, (int)n), c = now();
        t_libm += b - a, t_new += c - b;
        worst = fmax(worst, fabs(l1 - l2) / fabs(l1));
        for (size_t j = 0; j < n; j++, total++)
            differ += memcmp(&d1[j], &d2[j], 4) != 0;
    }
    printf("gradients: %ld of %ld differ from the libm formula's; loss: largest relative difference %.3g\n"
           "time: libm formula %.3f s, nn_sigmoid_bce %.3f s (%.1fx)\n",
           differ, total, worst, t_libm, t_new, t_libm / t_new);
    free(z), free(t), free(d1), free(d2);
    return 0;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

static int rates(void)
{
    synth_sample *a = malloc(sizeof *a);
    const synth_shape sh = {28, 28, 1};
    const int count = 10000;
    uint64_t h = 0xcbf29ce484222325ULL;
    printf("images/s, levels 1-4:");
    for (int level = 1; level <= 4; level++) {
        double best = 1e30;
        for (int rep = 0; rep < 5; rep++) {
            double t0 = now();
            for (int i = 0; i < count; i++)
                synth_render_shape(a, &sh, 42, (uint64_t)i, level);
            best = fmin(best, now() - t0);
        }
        for (int i = 0; i < count; i++) {
            synth_render_shape(a, &sh, 42, (uint64_t)i, level);
            h = fnv(h, a->image, 784 * sizeof(float));
            h = fnv(h, a->mask, 784 * sizeof(float));
            h = fnv(h, a->present, sizeof a->present);
        }
        printf(" %.0f", count / best);
    }
    printf("; hash %016llx\n", (unsigned long long)h);
#ifdef RNG_LANES /* synth_render_batch (since RNG_LANES): the same images, 8 at a time */
    enum { B = 8 };
    synth_sample *batch = malloc(B * sizeof *batch);
    uint64_t idx[B];
    h = 0xcbf29ce484222325ULL;
    printf("images/s, levels 1-4, synth_render_batch of %d:", B);
    for (int level = 1; level <= 4; level++) {
        double best = 1e30;
        for (int rep = 0; rep < 5; rep++) {
            double t0 = now();
            for (int i = 0; i < count; i += B) {
                const int m = count - i < B ? count - i : B;
                for (int k = 0; k < m; k++)
                    idx[k] = (uint64_t)(i + k);
                synth_render_batch(batch, &sh, 42, idx, m, level);
            }
            best = fmin(best, now() - t0);
        }
        for (int i = 0; i < count; i += B) {
            const int m = count - i < B ? count - i : B;
            for (int k = 0; k < m; k++)
                idx[k] = (uint64_t)(i + k);
            synth_render_batch(batch, &sh, 42, idx, m, level);
            for (int k = 0; k < m; k++) {
                h = fnv(h, batch[k].image, 784 * sizeof(float));
                h = fnv(h, batch[k].mask, 784 * sizeof(float));
                h = fnv(h, batch[k].present, sizeof batch[k].present);
            }
        }
        printf(" %.0f", count / best);
    }
    printf("; hash %016llx\n", (unsigned long long)h);
    free(batch);
#endif
    free(a);
    return 0;
}

#ifdef RNG_LANES
/* synth_render_batch against synth_render_shape one image at a time, per group size 1-8 (the
 * lanes pay from rng_lanes_min() images a group): level-L 28x28 images/s, best of 5 times
 * 8,000 images each. */
static int lanes(int level)
{
    synth_sample *batch = malloc(8 * sizeof *batch);
    const synth_shape sh = {28, 28, 1};
    const int count = 8000;
    printf("level %d, images/s (best of 5 x %d); the lanes are used from %d images a group\n", level, count,
           rng_lanes_min());
    for (int B = 1; B <= 8; B++) {
        double best = 1e30, best1 = 1e30;
        for (int rep = 0; rep < 5; rep++) {
            double t0 = now();
            for (int i = 0; i < count; i += B) {
                uint64_t idx[8];
                const int m = count - i < B ? count - i : B;
                for (int k = 0; k < m; k++)
                    idx[k] = (uint64_t)(i + k);
                synth_render_batch(batch, &sh, 42, idx, m, level);
            }
            best = fmin(best, now() - t0);
            t0 = now();
            for (int i = 0; i < count; i++)
                synth_render_shape(batch, &sh, 42, (uint64_t)i, level);
            best1 = fmin(best1, now() - t0);
        }
        printf("groups of %d: synth_render_batch %.0f, one at a time %.0f (%+.1f%%)\n", B, count / best,
               count / best1, 100 * (best1 / best - 1));
    }
    free(batch);
    return 0;
}
#endif

static long minor_faults(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
}

/* The render cache's cost in a stage beyond the drawing: the first touch of its memory. */
static int cache_cost(int level, long n)
{
    train_input in = {28, 28, 1, 784, {0.5f}, {2.0f}};
    size_t sb = train_sample_bytes(&in, 0);
    synth_sample *s = malloc(sizeof *s);
    uint8_t *cache = malloc((size_t)n * sb);
    if (n < 1 || level < 1 || level > SYNTH_MAX_COMPLEXITY) {
        fprintf(stderr, "harness cache: expected a level 1..%d and a count >= 1\n", SYNTH_MAX_COMPLEXITY);
        free(s), free(cache);
        return 2;
    }
    if (!s || !cache) {
        fprintf(stderr, "harness cache: out of memory\n");
        free(s), free(cache);
        return 1;
    }
    double t[2];
    long faults[2];
    for (int pass = 0; pass < 2; pass++) {
        long f0 = minor_faults();
        double t0 = now();
        for (long i = 0; i < n; i++)
            train_render_sample(cache + (size_t)i * sb, s, &in, 42, (uint64_t)i, level, 0);
        t[pass] = now() - t0;
        faults[pass] = minor_faults() - f0;
    }
    printf("level %d, %ld samples of %zu bytes: into fresh memory %.2f us per image (%ld page faults), "
           "into the same memory again %.2f us (%ld); a first touch costs %.1f us per 4 KiB page\n",
           level, n, sb, 1e6 * t[0] / n, faults[0], 1e6 * t[1] / n, faults[1],
           faults[0] > faults[1] ? 1e6 * (t[0] - t[1]) / (faults[0] - faults[1]) : NAN);
    free(s), free(cache);
    return 0;
}

#ifdef HARNESS_TRIG
/* Through a pointer: never a value the compiler computed itself. */
static float (*volatile lib_sin)(float) = sinf;
static float (*volatile lib_cos)(float) = cosf;

static int trig(void)
{
    enum { N = 4096 };
    static float in[N], out[N];
    printf("trig_row uses %s\n", trig_impl_name(trig_impl()));
    for (int impl = TRIG_LIBM; impl <= TRIG_AVX512; impl++) {
        if (trig_row_with(impl, out, in, NULL, 1, 0) != 0) {
            printf("%-9s not on this CPU\n", trig_impl_name(impl));
            continue;
        }
        long differ[2] = {0, 0};
        for (uint64_t b = 0; impl != TRIG_LIBM && b < (1ULL << 32); b += N) { /* the library itself: no check */
            for (int i = 0; i < N; i++) {
                uint32_t u = (uint32_t)(b + (uint64_t)i);
                memcpy(&in[i], &u, sizeof u);
            }
            for (int c = 0; c < 2; c++) {
                trig_row_with(impl, out, in, NULL, N, c);
                for (int i = 0; i < N; i++) {
                    float want = c ? lib_cos(in[i]) : lib_sin(in[i]);
                    differ[c] += !(isnan(want) && isnan(out[i])) && memcmp(&want, &out[i], sizeof want) != 0;
                }
            }
        }
        /* the textures' arguments: frequencies 4 .. 12 times up to about 2 */
        for (int i = 0; i < N; i++)
            in[i] = -30.0f + 60.0f * (float)i / N;
        double best = 1e30;
        for (int rep = 0; rep < 5; rep++) {
            double t0 = now();
            for (int k = 0; k < 200; k++)
                trig_row_with(impl, out, in, NULL, N, k & 1);
            best = fmin(best, now() - t0);
        }
        if (impl != TRIG_LIBM)
            printf("%-9s of 4294967296 floats, %ld sinf and %ld cosf differ from the library's; ",
                   trig_impl_name(impl), differ[0], differ[1]);
        else
            printf("%-9s ", trig_impl_name(impl));
        printf("%.2f ns per value\n", 1e9 * best / (200.0 * N));
    }
    return 0;
}

#endif

#ifdef HARNESS_QUANT
/* The quantiser as it was before 57dc090 (train.c's HOT quantise, two loops per 64 pixels,
 * GCC's vectorisation), for its AVX-512 and AVX2 clones: the options train.c is built with. */
#define OLD_QUANTISE(name, isa)                                                                 \
    __attribute__((target(isa), optimize("no-trapping-math", "no-math-errno"), noinline)) static void \
    name(uint8_t *restrict out, const float *restrict x, int n)                                 \
    {                                                                                           \
        const float magic = 12582912.0f;                                                        \
        uint32_t bits[64];                                                                      \
        for (int p0 = 0; p0 < n; p0 += 64) {                                                    \
            int m = n - p0 < 64 ? n - p0 : 64;                                                  \
            for (int p = 0; p < m; p++) {                                                       \
                float f = x[p0 + p] * 255.0f;                                                   \
                f = f > 0.0f ? f : 0.0f;                                                        \
                f = f < 255.0f ? f : 255.0f;                                                    \
                float t = f + magic;                                                            \
                memcpy(&bits[p], &t, sizeof bits[p]);                                           \
            }                                                                                   \
            for (int p = 0; p < m; p++)                                                         \
                out[p0 + p] = (uint8_t)bits[p];                                                 \
        }                                                                                       \
    }
OLD_QUANTISE(old_quantise_avx512, "avx512f")
OLD_QUANTISE(old_quantise_avx2, "avx2")

static int quant(void)
{
    enum { N = 4096 };
    static float in[N];
    static uint8_t want[N], out[N];
    printf("quant_row uses %s\n", quant_impl_name(quant_impl()));
    for (int impl = QUANT_SCALAR; impl <= QUANT_AVX512; impl++) {
        if (quant_row_with(impl, out, in, 1) != 0) {
            printf("%-7s not on this CPU\n", quant_impl_name(impl));
            continue;
        }
        long differ = 0;
        for (uint64_t b = 0; impl != QUANT_SCALAR && b < (1ULL << 32); b += N) {
            for (int i = 0; i < N; i++) {
                uint32_t u = (uint32_t)(b + (uint64_t)i);
                memcpy(&in[i], &u, sizeof u);
            }
            quant_row_with(QUANT_SCALAR, want, in, N);
            quant_row_with(impl, out, in, N);
            for (int i = 0; i < N; i++)
                differ += out[i] != want[i];
        }
        /* images' values: a little under 0 to a little over 1 */
        for (int i = 0; i < N; i++)
            in[i] = -0.05f + 1.1f * (float)((i * 2654435761u) % 1000u) / 1000.0f;
        double best = 1e30;
        for (int rep = 0; rep < 5; rep++) {
            double t0 = now();
            for (int k = 0; k < 20000; k++)
                quant_row_with(impl, out, in + (k % 4) * 784, 784);
            best = fmin(best, now() - t0);
        }
        if (impl != QUANT_SCALAR)
            printf("%-7s of 4294967296 floats, %ld bytes differ from the scalar path's; ", quant_impl_name(impl), differ);
        else
            printf("%-7s ", quant_impl_name(impl));
        printf("%.1f ns per image of 784 pixels\n", 1e9 * best / 20000.0);
    }
    /* the loop before 57dc090, on the same values (and its bytes, checked) */
    __builtin_cpu_init();
    for (int k = 0; k < 2; k++) {
        const char *isa = k == 0 ? "avx512f" : "avx2";
        if (!(k == 0 ? __builtin_cpu_supports("avx512f") : __builtin_cpu_supports("avx2")))
            continue;
        void (*old)(uint8_t *restrict, const float *restrict, int) = k == 0 ? old_quantise_avx512 : old_quantise_avx2;
        long differ = 0;
        for (int j = 0; j < 4; j++) {
            old(out, in + j * 784, 784);
            quant_row_with(QUANT_SCALAR, want, in + j * 784, 784);
            differ += memcmp(out, want, 784) != 0;
        }
        double best = 1e30;
        for (int rep = 0; rep < 5; rep++) {
            double t0 = now();
            for (int j = 0; j < 20000; j++)
                old(out, in + (j % 4) * 784, 784);
            best = fmin(best, now() - t0);
        }
        printf("before 57dc090 (train.c's loop, its %s clone): %.1f ns per image of 784 pixels%s\n", isa,
               1e9 * best / 20000.0, differ ? " (BYTES DIFFER)" : "");
    }
    return 0;
}
#endif

/* rng_fill as it was before 3890015: xoshiro256** one word at a time, state in registers. */
static __attribute__((noinline)) void fill_one_pass(rng_t *r, uint64_t *out, size_t n)
{
    uint64_t s0 = r->s[0], s1 = r->s[1], s2 = r->s[2], s3 = r->s[3];
    for (size_t i = 0; i < n; i++) {
        const uint64_t x = s1 * 5;
        out[i] = ((x << 7) | (x >> 57)) * 9;
        const uint64_t t = s1 << 17;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = (s3 << 45) | (s3 >> 19);
    }
    r->s[0] = s0, r->s[1] = s1, r->s[2] = s2, r->s[3] = s3;
}

/* rng_fill against that one pass. */
static int rng_rates(void)
{
    enum { W = 784, CALLS = 100000 };
    static uint64_t a[W], b[W];
    rng_t ra, rb;
    rng_seed(&ra, 5);
    rb = ra;
    double best[2] = {1e30, 1e30};
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
        for (int k = 0; k < CALLS; k++)
            rng_fill(&ra, a, W);
        double t1 = now();
        for (int k = 0; k < CALLS; k++)
            fill_one_pass(&rb, b, W);
        double t2 = now();
        best[0] = fmin(best[0], t1 - t0);
        best[1] = fmin(best[1], t2 - t1);
        if (memcmp(a, b, sizeof a) != 0 || memcmp(&ra, &rb, sizeof ra) != 0) {
            printf("rng_fill and the one pass differ\n");
            return 1;
        }
    }
    printf("ns per word, %d words a call: rng_fill %.3f, one pass %.3f\n", W,
           1e9 * best[0] / ((double)CALLS * W), 1e9 * best[1] / ((double)CALLS * W));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "rng") == 0)
        return rng_rates();
#ifdef HARNESS_TRIG
    if (argc == 2 && strcmp(argv[1], "trig") == 0)
        return trig();
#endif
#ifdef HARNESS_QUANT
    if (argc == 2 && strcmp(argv[1], "quant") == 0)
        return quant();
#endif
    if (argc == 2 && strcmp(argv[1], "rates") == 0)
        return rates();
    if (argc == 3 && strcmp(argv[1], "bce") == 0)
        return bce(atoi(argv[2]));
    if (argc == 4 && strcmp(argv[1], "render") == 0) {
        synth_sample *a = malloc(sizeof *a);
        const synth_shape sh = {28, 28, 1};
        const long count = atol(argv[3]); /* parsed once: strtol was 2.4% of a profile */
        const int level = atoi(argv[2]);
        for (long i = 0; i < count; i++)
            synth_render_shape(a, &sh, 42, (uint64_t)i, level);
        free(a);
        return 0;
    }
#ifdef RNG_LANES
    if (argc == 3 && strcmp(argv[1], "lanes") == 0)
        return lanes(atoi(argv[2]));
#endif
    if (argc == 4 && strcmp(argv[1], "cache") == 0)
        return cache_cost(atoi(argv[2]), atol(argv[3]));
    if (argc == 6 && strcmp(argv[1], "stage") == 0) {
        bench_stage st;
        char err[512];
        int steps = atoi(argv[5]);
        if (bench_pretrain(&st, argv[2], atoi(argv[3]), atoi(argv[4]), 16L * steps, steps, 64, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        printf("%s level %s task %s: %.2f s, render share %.1f%%, staging share %.1f%%; render %.1f ms, "
               "staging %.1f ms\n", argv[2], argv[3], argv[4], st.seconds, 100 * st.render_share,
               100 * st.staging_share, 1e3 * st.seconds * st.render_share, 1e3 * st.seconds * st.staging_share);
        return 0;
    }
    fprintf(stderr, "usage: harness bce ROUNDS | cache LEVEL COUNT | lanes LEVEL | render LEVEL COUNT | rates | rng | quant | stage MODEL LEVEL TASK STEPS | trig\n");
    return 2;
}
