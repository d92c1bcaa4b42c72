/* Rendered images to 8 bits (src/core/quant.c): every path this CPU runs gives the bytes of
 * the definition (x * 255 rounded to nearest, ties to even, clamped to 0 .. 255, NaN 0) on
 * one float in 97 of all 2^32 (every sign and exponent, NaNs), on the neighbourhoods of the
 * rounding ties and of the clamps, on special values, and for every length 0 .. 70 from any
 * alignment (the scalar rest of a row); again with flush-to-zero and denormals-are-zero, as
 * synlaw runs. The whole range is checked by `harness quant`
 * (results/bench/harness). */
#include <stdio.h>

#include "check.h"
#include "quant.h"
#include "synlaw/nn.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { CHUNK = 4096 };

/* The definition, written apart from the library's formula. */
static uint8_t reference(float x)
{
    if (isnan(x))
        return 0;
    const float f = x * 255.0f;
    if (!(f > 0.0f))
        return 0;
    if (!(f < 255.0f))
        return 255;
    return (uint8_t)lrintf(f); /* the default mode: nearest, ties to even */
}

/* Compares impl with the reference on in[0..n-1]; the number of bytes that differ, or -1 if
 * this CPU cannot run impl. */
static long compare(int impl, const float *in, int n, const char *what)
{
    static uint8_t out[CHUNK + 64];
    memset(out, 0xa5, sizeof out);
    if (quant_row_with(impl, out, in, n) != 0)
        return -1;
    long bad = 0;
    for (int i = 0; i < n; i++)
        if (out[i] != reference(in[i]) && bad++ < 3)
            fprintf(stderr, "%s %s(%a): %d, expected %d\n", what, quant_impl_name(impl), in[i], out[i],
                    reference(in[i]));
    for (int i = n; i < n + 64; i++) /* nothing written past the row */
        if (out[i] != 0xa5 && bad++ < 3)
            fprintf(stderr, "%s %s: byte %d past a row of %d written\n", what, quant_impl_name(impl), i, n);
    return bad;
}

int main(void)
{
    static float in[CHUNK + 8];
    int ran = 0;
    /* as the library runs by default, then as synlaw runs: subnormals flushed to zero */
    for (int flush = 0; flush < 2; flush++) {
        const char *mode = flush ? "flush-to-zero" : "default";
        if (flush)
            nn_flush_denormals();
        for (int impl = QUANT_SCALAR; impl <= QUANT_AUTO; impl++) {
            uint8_t probe;
            float one = 0.5f;
            if (quant_row_with(impl, &probe, &one, 1) != 0) {
                if (!flush)
                    printf("quant: %s not run (this CPU lacks it)\n", quant_impl_name(impl));
                continue;
            }
            ran += !flush;
            /* one float in 97 */
            long bad = 0, n = 0;
            uint64_t u = 0;
            while (u < (1ULL << 32)) {
                int k = 0;
                for (; k < CHUNK && u < (1ULL << 32); k++, u += 97)
                    in[k] = check_float((uint32_t)u);
                bad += compare(impl, in, k, "stride");
                n += k;
            }
            CHECK(bad == 0, "%s, %s: %ld of %ld floats (one in 97) differ from the definition", mode,
                  quant_impl_name(impl), bad, n);
            /* around every tie (k + 0.5) / 255 and every byte k / 255, 16 floats each way, and the
             * clamps */
            bad = 0;
            for (int k = 0; k <= 256; k++)
                for (int half = 0; half < 2; half++) {
                    float c = ((float)k + 0.5f * (float)half) / 255.0f;
                    int m = 0;
                    float lo = c, hi = c;
                    for (int j = 0; j < 16; j++) {
                        lo = nextafterf(lo, -INFINITY);
                        hi = nextafterf(hi, INFINITY);
                        in[m++] = lo;
                        in[m++] = hi;
                    }
                    in[m++] = c;
                    bad += compare(impl, in, m, "tie");
                }
            const float special[] = {0.0f, -0.0f, 1.0f, -1.0f, INFINITY, -INFINITY, NAN, -NAN, 1e-45f, -1e-45f,
                                     1.17549435e-38f, 0.5f / 255.0f, 1.5f / 255.0f, 254.5f / 255.0f, 1.0f + 1e-7f,
                                     3.4028235e38f, -3.4028235e38f, check_float(0x7f800001u), check_float(0xffc00000u)};
            bad += compare(impl, special, (int)(sizeof special / sizeof *special), "special");
            CHECK(bad == 0, "%s, %s: %ld bytes near the ties, clamps and special values differ", mode,
                  quant_impl_name(impl), bad);
            /* every length 0 .. 70 from each of 8 alignments */
            bad = 0;
            for (int i = 0; i < 78; i++)
                in[i] = (float)(i % 29) / 27.0f - 0.05f;
            for (int off = 0; off < 8; off++)
                for (int len = 0; len <= 70; len++)
                    bad += compare(impl, in + off, len, "length");
            CHECK(bad == 0, "%s, %s: %ld bytes differ over lengths 0 .. 70", mode, quant_impl_name(impl), bad);
        }
    }
    CHECK(ran >= 2, "only %d paths ran (scalar and auto always should)", ran);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    /* or the cache has silently lost its vector path (unless SYNLAW_QUANT asks for one) */
    __builtin_cpu_init();
    const int want = __builtin_cpu_supports("avx512f") ? QUANT_AVX512
                     : __builtin_cpu_supports("avx2")  ? QUANT_AVX2
                                                       : QUANT_SCALAR;
    CHECK(getenv("SYNLAW_QUANT") || quant_impl() == want, "quant_row runs the %s path where the CPU has %s",
          quant_impl_name(quant_impl()), quant_impl_name(want));
#endif
    return test_summary("quant");
}
