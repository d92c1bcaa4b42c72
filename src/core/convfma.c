/* The 3x3 convolution as OpenBLAS computes it, without im2col: see convfma.h. */
#include "convfma.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define CONVFMA_VECTOR 1

/* Output channels k0 .. k0 + nk - 1 (nk <= 16, a constant after inlining: the sums stay in
 * registers), 16 pixels at a time: per pixel and channel, the inner dimension (c, tap) in
 * the GEMM's order, one fused multiply-add each, from +0. */
static inline __attribute__((always_inline, target("avx512f,fma"))) void
block_avx512(float *restrict out, const float *restrict pads, size_t PP, const float *restrict w, int C,
             int Wp, size_t L, int k0, const int nk)
{
    const size_t C9 = (size_t)C * 9;
    const int off[9] = {0, 1, 2, Wp, Wp + 1, Wp + 2, 2 * Wp, 2 * Wp + 1, 2 * Wp + 2};
    for (size_t q = 0; q < L; q += 16) {
        __m512 acc[16];
        for (int k = 0; k < nk; k++)
            acc[k] = _mm512_setzero_ps();
        for (int c = 0; c < C; c++) {
            const float *p = pads + (size_t)c * PP + q, *wc = w + k0 * C9 + (size_t)c * 9;
            for (int t = 0; t < 9; t++) {
                const __m512 v = _mm512_loadu_ps(p + off[t]);
                for (int k = 0; k < nk; k++)
                    acc[k] = _mm512_fmadd_ps(_mm512_set1_ps(wc[k * C9 + t]), v, acc[k]);
            }
        }
        for (int k = 0; k < nk; k++)
            _mm512_storeu_ps(out + (size_t)(k0 + k) * L + q, acc[k]);
    }
}

__attribute__((target("avx512f,fma"))) static void out_avx512(float *restrict out, const float *restrict pads,
                                                              size_t PP, const float *restrict w, int C,
                                                              int Wp, size_t L, int K)
{
    int k0 = 0;
    for (; k0 + 16 <= K; k0 += 16)
        block_avx512(out, pads, PP, w, C, Wp, L, k0, 16);
    for (; k0 + 4 <= K; k0 += 4)
        block_avx512(out, pads, PP, w, C, Wp, L, k0, 4);
    for (; k0 < K; k0++)
        block_avx512(out, pads, PP, w, C, Wp, L, k0, 1);
}

/* The same with 8 pixels and up to 8 channels at a time (AVX2 has 16 vector registers). */
static inline __attribute__((always_inline, target("avx2,fma"))) void
block_avx2(float *restrict out, const float *restrict pads, size_t PP, const float *restrict w, int C, int Wp,
           size_t L, int k0, const int nk)
{
    const size_t C9 = (size_t)C * 9;
    const int off[9] = {0, 1, 2, Wp, Wp + 1, Wp + 2, 2 * Wp, 2 * Wp + 1, 2 * Wp + 2};
    for (size_t q = 0; q < L; q += 8) {
        __m256 acc[8];
        for (int k = 0; k < nk; k++)
            acc[k] = _mm256_setzero_ps();
        for (int c = 0; c < C; c++) {
            const float *p = pads + (size_t)c * PP + q, *wc = w + k0 * C9 + (size_t)c * 9;
            for (int t = 0; t < 9; t++) {
                const __m256 v = _mm256_loadu_ps(p + off[t]);
                for (int k = 0; k < nk; k++)
                    acc[k] = _mm256_fmadd_ps(_mm256_broadcast_ss(wc + k * C9 + t), v, acc[k]);
            }
        }
        for (int k = 0; k < nk; k++)
            _mm256_storeu_ps(out + (size_t)(k0 + k) * L + q, acc[k]);
    }
}

__attribute__((target("avx2,fma"))) static void out_avx2(float *restrict out, const float *restrict pads,
                                                         size_t PP, const float *restrict w, int C, int Wp,
                                                         size_t L, int K)
{
    int k0 = 0;
    for (; k0 + 8 <= K; k0 += 8)
        block_avx2(out, pads, PP, w, C, Wp, L, k0, 8);
    for (; k0 < K; k0++)
        block_avx2(out, pads, PP, w, C, Wp, L, k0, 1);
}

/* Rows r0 .. r0 + nr - 1 of dcol (nr <= 16, a constant after inlining), 16 columns at a
 * time (the last ones masked): per element, the inner dimension k in order, one fused
 * multiply-add each, from +0. */
static inline __attribute__((always_inline, target("avx512f,fma"))) void
dcol_block_avx512(float *restrict dcol, const float *restrict w, const float *restrict dy, size_t ldy, int C9,
                  int n, int K, int r0, const int nr)
{
    int j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 acc[16];
        for (int r = 0; r < nr; r++)
            acc[r] = _mm512_setzero_ps();
        for (int k = 0; k < K; k++) {
            const __m512 v = _mm512_loadu_ps(dy + (size_t)k * ldy + j);
            const float *wk = w + (size_t)k * C9 + r0;
            for (int r = 0; r < nr; r++)
                acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(wk[r]), v, acc[r]);
        }
        for (int r = 0; r < nr; r++)
            _mm512_storeu_ps(dcol + (size_t)(r0 + r) * n + j, acc[r]);
    }
    if (j < n) { /* the last columns, masked */
        const __mmask16 m = (__mmask16)((1u << (n - j)) - 1);
        __m512 acc[16];
        for (int r = 0; r < nr; r++)
            acc[r] = _mm512_setzero_ps();
        for (int k = 0; k < K; k++) {
            const __m512 v = _mm512_maskz_loadu_ps(m, dy + (size_t)k * ldy + j);
            const float *wk = w + (size_t)k * C9 + r0;
            for (int r = 0; r < nr; r++)
                acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(wk[r]), v, acc[r]);
        }
        for (int r = 0; r < nr; r++)
            _mm512_mask_storeu_ps(dcol + (size_t)(r0 + r) * n + j, m, acc[r]);
    }
}

__attribute__((target("avx512f,fma"))) static void dcol_avx512(float *restrict dcol, const float *restrict w,
                                                               const float *restrict dy, size_t ldy, int C9,
                                                               int n, int K)
{
    int r0 = 0;
    for (; r0 + 16 <= C9; r0 += 16)
        dcol_block_avx512(dcol, w, dy, ldy, C9, n, K, r0, 16);
    for (; r0 + 4 <= C9; r0 += 4)
        dcol_block_avx512(dcol, w, dy, ldy, C9, n, K, r0, 4);
    for (; r0 < C9; r0++)
        dcol_block_avx512(dcol, w, dy, ldy, C9, n, K, r0, 1);
}

/* The same, 8 columns and up to 8 rows at a time, the last columns one by one. */
static inline __attribute__((always_inline, target("avx2,fma"))) void
dcol_block_avx2(float *restrict dcol, const float *restrict w, const float *restrict dy, size_t ldy, int C9,
                int n, int K, int r0, const int nr)
{
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 acc[8];
        for (int r = 0; r < nr; r++)
            acc[r] = _mm256_setzero_ps();
        for (int k = 0; k < K; k++) {
            const __m256 v = _mm256_loadu_ps(dy + (size_t)k * ldy + j);
            const float *wk = w + (size_t)k * C9 + r0;
            for (int r = 0; r < nr; r++)
                acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(wk + r), v, acc[r]);
        }
        for (int r = 0; r < nr; r++)
            _mm256_storeu_ps(dcol + (size_t)(r0 + r) * n + j, acc[r]);
    }
    for (; j < n; j++)
        for (int r = 0; r < nr; r++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++)
                acc = __builtin_fmaf(w[(size_t)k * C9 + r0 + r], dy[(size_t)k * ldy + j], acc);
            dcol[(size_t)(r0 + r) * n + j] = acc;
        }
}

__attribute__((target("avx2,fma"))) static void dcol_avx2(float *restrict dcol, const float *restrict w,
                                                          const float *restrict dy, size_t ldy, int C9, int n,
                                                          int K)
{
    int r0 = 0;
    for (; r0 + 8 <= C9; r0 += 8)
        dcol_block_avx2(dcol, w, dy, ldy, C9, n, K, r0, 8);
    for (; r0 < C9; r0++)
        dcol_block_avx2(dcol, w, dy, ldy, C9, n, K, r0, 1);
}

int convfma_cpu(int impl)
{
    __builtin_cpu_init();
    if (impl == CONVFMA_AVX512)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
    if (impl == CONVFMA_AVX2)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return impl == CONVFMA_BLAS;
}
#else
#define CONVFMA_VECTOR 0
int convfma_cpu(int impl) { return impl == CONVFMA_BLAS; }
#endif

void convfma_out(int impl, float *restrict out, const float *restrict pads, size_t PP,
                 const float *restrict w, int C, int Wp, size_t L, int K)
{
#if CONVFMA_VECTOR
    if (impl == CONVFMA_AVX512)
        out_avx512(out, pads, PP, w, C, Wp, L, K);
    else if (impl == CONVFMA_AVX2)
        out_avx2(out, pads, PP, w, C, Wp, L, K);
#else
    (void)impl, (void)out, (void)pads, (void)PP, (void)w, (void)C, (void)Wp, (void)L, (void)K;
#endif
}

void convfma_dcol(int impl, float *restrict dcol, const float *restrict w, const float *restrict dy, size_t ldy,
                  int C9, int n, int K)
{
#if CONVFMA_VECTOR
    if (impl == CONVFMA_AVX512)
        dcol_avx512(dcol, w, dy, ldy, C9, n, K);
    else if (impl == CONVFMA_AVX2)
        dcol_avx2(dcol, w, dy, ldy, C9, n, K);
#else
    (void)impl, (void)dcol, (void)w, (void)dy, (void)ldy, (void)C9, (void)n, (void)K;
#endif
}

static int choose(void)
{
    const char *want = getenv("SYNLAW_CONV_KERNEL");
    for (int impl = CONVFMA_BLAS; want && impl <= CONVFMA_AVX512; impl++)
        if (strcmp(want, convfma_name(impl)) == 0)
            return convfma_cpu(impl) ? impl : CONVFMA_BLAS;
    return convfma_cpu(CONVFMA_AVX512) ? CONVFMA_AVX512 : convfma_cpu(CONVFMA_AVX2) ? CONVFMA_AVX2 : CONVFMA_BLAS;
}

static atomic_int chosen = -1;

int convfma_impl(void)
{
    int c = atomic_load_explicit(&chosen, memory_order_relaxed);
    if (c < 0) { /* every thread that gets here chooses the same */
        c = choose();
        atomic_store_explicit(&chosen, c, memory_order_relaxed);
    }
    return c;
}

const char *convfma_name(int impl)
{
    switch (impl) {
    case CONVFMA_AVX512: return "avx512";
    case CONVFMA_AVX2: return "avx2";
    case CONVFMA_BLAS: return "blas";
    default: return "?";
    }
}
