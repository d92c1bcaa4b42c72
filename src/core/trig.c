/* sinf and cosf of a row of floats with the C library's bits: see trig.h. */
#include "trig.h"
#include "pick.h"

#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The library's sinf or cosf of the wanted lanes; 0 in the others. */
static void row_libm(float *restrict out, const float *restrict in, const float *restrict want, int n,
                     int cosine)
{
    for (int i = 0; i < n; i++)
        out[i] = want && !(want[i] > 0) ? 0.0f : cosine ? cosf(in[i]) : sinf(in[i]);
}

#if defined(__GNUC__) && defined(__x86_64__)
#define TRIG_VECTOR 1

/* The top 12 bits of a float's representation without its sign, as glibc compares them:
 * <= SMALL is |y| < 0.75, <= TINY is |y| < 2^-12 and <= REDUCE is |y| < 120. */
enum { TOP_TINY = 0x397, TOP_SMALL = 0x3f3, TOP_REDUCE = 0x42e };

/* One lane at a time the operations of glibc's sinf and cosf for |y| < 120, with its
 * constants (its table __sincosf_table, whose second entry has the cosine coefficients
 * negated: chosen here per lane) and its fused multiply-adds (the FMA variant, as GCC
 * contracted it; only the reduction's changes a result, but all are kept as glibc has them):
 *   |y| < 2^-12: sin y = y, cos y = 1;
 *   |y| < 0.75:  the sine or cosine polynomial of x = y;
 *   otherwise:   q = the nearest quadrant, from y 2/pi 2^24 truncated to an integer; the
 *                remainder r = y - q pi/2 (one rounding); the sine polynomial of r, its
 *                sign that of the quadrant, or the cosine polynomial of r, its sign flipped
 *                in quadrants 2 and 3, whichever the quadrant and the function call for.
 * Every lane computes both polynomials and chooses, so that the loop vectorises. Returns
 * 1 if a lane has |y| >= 120 or is not finite (its value is then wrong: the caller calls
 * the library for it). */
static inline __attribute__((always_inline)) int
row_kernel(float *restrict out, const float *restrict in, int n, int cosine)
{
    const double hpi_inv = 0x1.45f306dc9c883p+23, hpi = 0x1.921fb54442d18p+0;
    const double c0 = 1.0, c1 = -0x1.ffffffd0c621cp-2, c2 = 0x1.55553e1068f19p-5,
                 c3 = -0x1.6c087e89a359dp-10, c4 = 0x1.99343027bf8c3p-16;
    const double s1 = -0x1.555545995a603p-3, s2 = 0x1.1107605230bc4p-7, s3 = -0x1.994eb3774cf24p-13;
    int big = 0;
    for (int i = 0; i < n; i++) {
        const float y = in[i];
        uint32_t bits;
        memcpy(&bits, &y, sizeof bits);
        const uint32_t top = (bits >> 20) & 0x7ff;
        big |= top > TOP_REDUCE;
        const double x = y;
        /* the quadrant (0 for a lane the library takes: no out-of-range conversion) */
        const double r = top > TOP_REDUCE ? 0.0 : x * hpi_inv;
        const int32_t q = ((int32_t)r + 0x800000) >> 24;
        const double xr = __builtin_fma(-(double)q, hpi, x);
        const int small = top <= TOP_SMALL;
        const double sign = ((q + 1) & 2) ? -1.0 : 1.0; /* quadrants 0 .. 3: + - - + */
        const double xs = small ? x : xr * sign, x2 = small ? x * x : xr * xr;
        const int use_cos = small ? cosine : (q & 1) ^ cosine, flip = !small && (q & 2);
        /* the table's second entry in quadrants 2 and 3: its negated cosine coefficients (a
         * negated result would be the same bits only when rounding to nearest) */
        const double k0 = flip ? -c0 : c0, k1 = flip ? -c1 : c1, k2 = flip ? -c2 : c2;
        const double k3 = flip ? -c3 : c3, k4 = flip ? -c4 : c4;
        const double x3 = xs * x2, sa = __builtin_fma(x2, s3, s2), x5 = x3 * x2;
        const double sb = __builtin_fma(x3, s1, xs), ps = __builtin_fma(sa, x5, sb);
        const double x4 = x2 * x2, ca = __builtin_fma(x2, k1, k0), cb = __builtin_fma(x2, k4, k3);
        const double x6 = x4 * x2, cc = __builtin_fma(x4, k2, ca), pc = __builtin_fma(cb, x6, cc);
        const float v = (float)(use_cos ? pc : ps);
        out[i] = top <= TOP_TINY ? (cosine ? 1.0f : y) : v;
    }
    return big;
}

__attribute__((target("avx512f"))) static int row_avx512(float *restrict out, const float *restrict in,
                                                         int n, int cosine)
{
    return row_kernel(out, in, n, cosine);
}

__attribute__((target("avx2,fma"))) static int row_avx2(float *restrict out, const float *restrict in,
                                                       int n, int cosine)
{
    return row_kernel(out, in, n, cosine);
}

static int cpu_has(int impl)
{
    __builtin_cpu_init();
    if (impl == TRIG_AVX512) /* its code has AVX2 and FMA instructions too */
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
               __builtin_cpu_supports("fma");
    if (impl == TRIG_AVX2)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return impl == TRIG_LIBM;
}
#else
#define TRIG_VECTOR 0
static int cpu_has(int impl) { return impl == TRIG_LIBM; }
#endif

static void run(int impl, float *restrict out, const float *restrict in, const float *restrict want, int n,
                int cosine)
{
#if TRIG_VECTOR
    if (impl == TRIG_AVX512 || impl == TRIG_AVX2) {
        int big = impl == TRIG_AVX512 ? row_avx512(out, in, n, cosine) : row_avx2(out, in, n, cosine);
        if (big)
            for (int i = 0; i < n; i++) {
                uint32_t bits;
                memcpy(&bits, &in[i], sizeof bits);
                if (((bits >> 20) & 0x7ff) > TOP_REDUCE)
                    out[i] = cosine ? cosf(in[i]) : sinf(in[i]);
            }
        return;
    }
#endif
    (void)impl;
    row_libm(out, in, want, n, cosine);
}

/* Inputs whose sinf or cosf an evaluation without fused multiply-adds rounds differently:
 * 8 of the 17 magnitudes below 120 where it does (found by comparing the two over every
 * float; only the reduction's fused multiply-add matters), one per multiple of pi/2 near
 * which they lie. A library that reduces without one (glibc's SSE2 variant) fails the probe
 * on these. */
static const float probe_cos[] = {0x1.1475b6p+4f, 0x1.78edb2p+4f, 0x1.d0f4aap+5f, 0x1.019c5p+6f,
                                  0x1.0e1c8p+6f};
static const float probe_sin[] = {0x1.46b80ep+6f, 0x1.9eb0a8p+6f, 0x1.d0f4aap+6f};

/* 1 if impl gives the library's bits on the probe: the inputs above with each sign, 1,024
 * others across (-120, 120) and 24 small ones (2^-15 .. 0.81: each path), both functions.
 * (A correctly rounded sinf differs from glibc's on 1-1.5% of inputs: 14 to 20 of the
 * sweep's.) */
static int probe(int impl)
{
    enum { SWEEP = 1024, NSMALL = 24 };
    float in[SWEEP + NSMALL + 16], got[SWEEP + NSMALL + 16];
    for (int cosine = 0; cosine < 2; cosine++) {
        int n = 0;
        for (int k = 0; k < SWEEP; k++)
            in[n++] = ((float)k - SWEEP / 2 + 0.37f) * (119.0f / (SWEEP / 2));
        for (int k = 0; k < NSMALL; k++) /* 2^-15 to 0.81, about 1.6x apart */
            in[n++] = ldexpf(1.37f + 0.011f * (float)k, -15 + (int)((float)k * 0.625f));
        const float *extra = cosine ? probe_cos : probe_sin;
        int ne = cosine ? (int)(sizeof probe_cos / sizeof *probe_cos) : (int)(sizeof probe_sin / sizeof *probe_sin);
        for (int k = 0; k < ne; k++) {
            in[n++] = extra[k];
            in[n++] = -extra[k];
        }
        run(impl, got, in, NULL, n, cosine);
        /* through a pointer: never a value the compiler computed itself */
        float (*volatile lib)(float) = cosine ? cosf : sinf;
        for (int k = 0; k < n; k++) {
            float want = lib(in[k]);
            if (memcmp(&want, &got[k], sizeof want) != 0)
                return 0;
        }
    }
    return 1;
}

int trig_usable(int impl)
{
    return cpu_has(impl) && (impl == TRIG_LIBM || probe(impl));
}

/* SYNLAW_TRIG=libm, avx2 or avx512 asks for that implementation (to check the bits or
 * measure); a kernel the CPU cannot run or the probe rejected gives the library instead, so
 * the bits never change. Anything else: the fastest usable. */
static atomic_int chosen = -1;

int trig_impl(void)
{
    return pick_impl(&chosen, "SYNLAW_TRIG", TRIG_AVX512, trig_impl_name, trig_usable);
}

const char *trig_impl_name(int impl)
{
    switch (impl) {
    case TRIG_AVX512: return "avx512";
    case TRIG_AVX2: return "avx2";
    case TRIG_LIBM: return "libm";
    default: return "?";
    }
}

int trig_row_with(int impl, float *restrict out, const float *restrict in, const float *restrict want, int n,
                  int cosine)
{
    if (impl == TRIG_AUTO)
        impl = trig_impl();
    if (!cpu_has(impl))
        return -1;
    run(impl, out, in, want, n, cosine);
    return 0;
}

void trig_row(float *restrict out, const float *restrict in, const float *restrict want, int n, int cosine)
{
    run(trig_impl(), out, in, want, n, cosine);
}
