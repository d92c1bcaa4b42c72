/* The textures' sinf and cosf (src/core/trig.c): every implementation this CPU runs, and the
 * probe accepts, gives the C library's bits: on one float in 257 of all 2^32 (every sign and
 * exponent, NaNs), on the neighbourhoods of the thresholds where the algorithm changes path
 * and of the inputs where an evaluation without fused multiply-adds rounds differently, on
 * the arguments the renderer's textures take and on special values; again with
 * flush-to-zero and denormals-are-zero, as synlaw runs. The whole range, every float, is
 * checked by `harness trig` (results/bench/harness), as it takes minutes.
 * test_trig --expect-libm: the probe must refuse every kernel (ctest runs it with glibc told
 * not to use AVX2, so that its sinf is the SSE2 variant, which rounds differently). */
#include <stdio.h>

#include "check.h"
#include "synlaw/nn.h"
#include "trig.h"

#if defined(__GLIBC__)
#include <gnu/libc-version.h>
#endif
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { CHUNK = 4096 };

/* Through a pointer, so that the compiler never substitutes values of its own. */
static float (*volatile lib_sin)(float) = sinf;
static float (*volatile lib_cos)(float) = cosf;

/* Compares impl with the library on in[0..n-1]; returns the number of lanes that differ. */
static long compare(int impl, const float *in, int n, const char *what)
{
    static float out[CHUNK];
    long bad = 0;
    for (int cosine = 0; cosine < 2; cosine++) {
        if (trig_row_with(impl, out, in, NULL, n, cosine) != 0)
            return 0;
        for (int i = 0; i < n; i++) {
            float want = cosine ? lib_cos(in[i]) : lib_sin(in[i]);
            /* NaN in, NaN out: the payload is the library's business */
            if (isnan(want) && isnan(out[i]))
                continue;
            if (check_bits(want) != check_bits(out[i]) && bad++ < 3)
                fprintf(stderr, "%s %s(%a): library %a, %s %a\n", what, cosine ? "cosf" : "sinf", in[i],
                        want, trig_impl_name(impl), out[i]);
        }
    }
    return bad;
}

/* Every 257th bit pattern of all 2^32. */
static void test_strided(int impl)
{
    static float in[CHUNK];
    long bad = 0, count = 0;
    int n = 0;
    for (uint64_t b = 0; b < (1ULL << 32); b += 257) {
        in[n++] = check_float((uint32_t)b);
        if (n == CHUNK || b + 257 >= (1ULL << 32)) {
            bad += compare(impl, in, n, "strided");
            count += n;
            n = 0;
        }
    }
    CHECK(bad == 0, "%s: %ld of %ld strided inputs differ from the library", trig_impl_name(impl), bad, count);
}

/* 2,048 floats either side of each path threshold, and of the inputs an evaluation without
 * fused multiply-adds rounds differently, each sign. */
static void test_edges(int impl)
{
    static const float centres[] = {0x1p-12f, 0.75f, 120.0f, 0x1.1475b6p+4f, 0x1.78edb2p+4f,
                                    0x1.d0f4aap+5f, 0x1.019c5p+6f, 0x1.0e1c8p+6f, 0x1.46b80ep+6f,
                                    0x1.9eb0a8p+6f, 0x1.d0f4aap+6f, 1.5707964f, 3.1415927f, 0x1p-126f};
    static float in[CHUNK];
    long bad = 0;
    for (size_t c = 0; c < sizeof centres / sizeof *centres; c++)
        for (int sign = 0; sign < 2; sign++) {
            uint32_t mid = check_bits(centres[c]) | (sign ? 0x80000000u : 0);
            for (int k = 0; k < CHUNK; k++)
                in[k] = check_float(mid - CHUNK / 2 + (uint32_t)k);
            bad += compare(impl, in, CHUNK, "edge");
        }
    CHECK(bad == 0, "%s: %ld inputs near the thresholds differ from the library", trig_impl_name(impl), bad);
}

/* The textures' arguments: frequencies 4 .. 12 times distances up to 2 (radial) or
 * projections (stripes), here a fine grid over [-30, 30]; and the special values. */
static void test_texture_range(int impl)
{
    static float in[CHUNK];
    long bad = 0;
    for (int block = 0; block < 64; block++) {
        for (int k = 0; k < CHUNK; k++)
            in[k] = -30.0f + 60.0f * (float)(block * CHUNK + k) / (64.0f * CHUNK);
        bad += compare(impl, in, CHUNK, "texture");
    }
    const float special[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e30f, -1e30f, 119.99999f, 1e-45f};
    bad += compare(impl, special, (int)(sizeof special / sizeof *special), "special");
    CHECK(bad == 0, "%s: %ld texture-range or special inputs differ from the library", trig_impl_name(impl), bad);
}

/* Lanes that are not wanted: the library path leaves 0, the vector paths compute them. */
static void test_want(void)
{
    float in[20], want[20], out[20];
    for (int i = 0; i < 20; i++) {
        in[i] = 0.3f * (float)i - 2.0f;
        want[i] = i % 3 == 0 ? 1.0f : i % 3 == 1 ? 0.0f : -0.5f;
    }
    for (int impl = TRIG_LIBM; impl <= TRIG_AVX512; impl++) {
        if (trig_row_with(impl, out, in, want, 20, 0) != 0)
            continue;
        int ok = 1;
        for (int i = 0; i < 20; i++) {
            float lib = lib_sin(in[i]);
            if (want[i] > 0 ? check_bits(out[i]) != check_bits(lib)
                            : impl == TRIG_LIBM ? out[i] != 0.0f : check_bits(out[i]) != check_bits(lib))
                ok = 0;
        }
        CHECK(ok, "%s: wanted lanes not the library's, or other lanes not as documented", trig_impl_name(impl));
    }
}

static const char *libc_version(void)
{
#if defined(__GLIBC__)
    return gnu_get_libc_version();
#else
    return "(not glibc)";
#endif
}

/* 1 where the kernels must be usable: glibc 2.28 or later, left to its own choices, on an
 * x86-64 CPU with AVX2 and FMA, no implementation asked for. */
static int kernels_expected(void)
{
#if defined(__GLIBC__) && defined(__x86_64__)
    int major = 0, minor = 0;
    if (sscanf(gnu_get_libc_version(), "%d.%d", &major, &minor) != 2 || major * 100 + minor < 228)
        return 0;
    if (getenv("GLIBC_TUNABLES") || getenv("SYNLAW_TRIG"))
        return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

static int check_all(int pass)
{
    int ran = 0;
    for (int impl = TRIG_LIBM; impl <= TRIG_AVX512; impl++) {
        float probe = 1.0f, out;
        if (trig_row_with(impl, &out, &probe, NULL, 1, 0) != 0) {
            printf("%s: not on this CPU\n", trig_impl_name(impl));
            continue;
        }
        if (!trig_usable(impl)) {
            printf("%s: refused by the probe (the library computes otherwise): not compared\n", trig_impl_name(impl));
            continue;
        }
        ran++;
        if (pass == 0)
            test_strided(impl);
        test_edges(impl);
        test_texture_range(impl);
    }
    return ran;
}

int main(int argc, char **argv)
{
    const int expect_libm = argc > 1 && strcmp(argv[1], "--expect-libm") == 0;
    const int chosen = trig_impl();
    printf("C library %s; trig_row uses %s\n", libc_version(), trig_impl_name(chosen));
    CHECK(check_all(0) >= 1, "no implementation ran");
    test_want();
    /* as synlaw runs: subnormals flushed to zero, in and out */
    nn_flush_denormals();
    check_all(1);
    if (expect_libm)
        CHECK(chosen == TRIG_LIBM && !trig_usable(TRIG_AVX2) && !trig_usable(TRIG_AVX512),
              "a kernel was accepted although the library computes otherwise (trig_row uses %s)",
              trig_impl_name(chosen));
    else if (kernels_expected()) /* or the renderer has silently lost its vector path */
        CHECK(chosen != TRIG_LIBM, "glibc %s on a CPU with AVX2 and FMA: the probe failed, the textures call "
              "the library per pixel", libc_version());
    return test_summary("trig");
}
