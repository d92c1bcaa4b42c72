/* Rendered images to 8 bits: see quant.h. */
#include "quant.h"
#include "pick.h"

#include <string.h>

/* The one-pixel formula. Clamping first and adding 1.5 * 2^23 rounds f to an integer (in
 * the current, nearest-even mode) held in the low bits of the sum's mantissa, the byte taken
 * here: the bounds are integers, and 0 <= f <= 255. A NaN fails both comparisons: 0. Two
 * loops per 64 pixels, so that compilers vectorise each (the baseline's SSE2 included). */
static void quant_scalar(uint8_t *restrict out, const float *restrict x, int n)
{
    uint32_t bits[64];
    for (int p0 = 0; p0 < n; p0 += 64) {
        const int m = n - p0 < 64 ? n - p0 : 64;
        for (int p = 0; p < m; p++) {
            float f = x[p0 + p] * 255.0f;
            f = f > 0.0f ? f : 0.0f;
            f = f < 255.0f ? f : 255.0f;
            const float t = f + 12582912.0f;
            memcpy(&bits[p], &t, sizeof bits[p]);
        }
        for (int p = 0; p < m; p++)
            out[p0 + p] = (uint8_t)bits[p];
    }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define QUANT_VECTOR 1
#include <immintrin.h>

/* The same operations on 16 or 8 pixels at a time: max_ps(f, 0) is f > 0 ? f : 0 and
 * min_ps(f, 255) is f < 255 ? f : 255, operand for operand (the second where f is NaN), and
 * the byte kept is each sum's lowest. Compilers do not narrow the sums this way themselves
 * (GCC 12 packs them in halves, four times slower); the rest of a row goes to quant_scalar. */
__attribute__((target("avx512f"))) static void quant_avx512(uint8_t *restrict out, const float *restrict x, int n)
{
    const __m512 k255 = _mm512_set1_ps(255.0f), zero = _mm512_setzero_ps(), magic = _mm512_set1_ps(12582912.0f);
    int p = 0;
    for (; p + 16 <= n; p += 16) {
        __m512 f = _mm512_mul_ps(_mm512_loadu_ps(x + p), k255);
        f = _mm512_min_ps(_mm512_max_ps(f, zero), k255);
        const __m512i sum = _mm512_castps_si512(_mm512_add_ps(f, magic));
        _mm_storeu_si128((__m128i *)(void *)(out + p), _mm512_cvtepi32_epi8(sum));
    }
    quant_scalar(out + p, x + p, n - p);
}

__attribute__((target("avx2"))) static void quant_avx2(uint8_t *restrict out, const float *restrict x, int n)
{
    const __m256 k255 = _mm256_set1_ps(255.0f), zero = _mm256_setzero_ps(), magic = _mm256_set1_ps(12582912.0f);
    /* each 128-bit half: its four lowest bytes first; then the halves' first words together */
    const __m256i low = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8,
                                         12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m256i join = _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0);
    int p = 0;
    for (; p + 8 <= n; p += 8) {
        __m256 f = _mm256_mul_ps(_mm256_loadu_ps(x + p), k255);
        f = _mm256_min_ps(_mm256_max_ps(f, zero), k255);
        const __m256i sum = _mm256_castps_si256(_mm256_add_ps(f, magic));
        const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(sum, low), join);
        _mm_storel_epi64((__m128i *)(void *)(out + p), _mm256_castsi256_si128(bytes));
    }
    quant_scalar(out + p, x + p, n - p);
}

static int cpu_has(int impl)
{
    __builtin_cpu_init();
    if (impl == QUANT_AVX512)
        return __builtin_cpu_supports("avx512f");
    if (impl == QUANT_AVX2)
        return __builtin_cpu_supports("avx2");
    return impl == QUANT_SCALAR;
}
#else
#define QUANT_VECTOR 0
static int cpu_has(int impl) { return impl == QUANT_SCALAR; }
#endif

/* SYNLAW_QUANT=scalar, avx2 or avx512 asks for that path (to measure; the bytes are the
 * same); one the CPU cannot run gives the scalar one. Anything else: the fastest. */
static atomic_int chosen = -1;

int quant_impl(void)
{
    return pick_impl(&chosen, "SYNLAW_QUANT", QUANT_AVX512, quant_impl_name, cpu_has);
}

static void run(int impl, uint8_t *restrict out, const float *restrict x, int n)
{
#if QUANT_VECTOR
    if (impl == QUANT_AVX512) {
        quant_avx512(out, x, n);
        return;
    }
    if (impl == QUANT_AVX2) {
        quant_avx2(out, x, n);
        return;
    }
#endif
    quant_scalar(out, x, n);
}

int quant_row_with(int impl, uint8_t *restrict out, const float *restrict x, int n)
{
    if (impl == QUANT_AUTO)
        impl = quant_impl();
    if (!cpu_has(impl))
        return -1;
    run(impl, out, x, n);
    return 0;
}

void quant_row(uint8_t *restrict out, const float *restrict x, int n) { run(quant_impl(), out, x, n); }

const char *quant_impl_name(int impl)
{
    switch (impl) {
    case QUANT_SCALAR: return "scalar";
    case QUANT_AVX2: return "avx2";
    case QUANT_AVX512: return "avx512";
    default: return "?";
    }
}
