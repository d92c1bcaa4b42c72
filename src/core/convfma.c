/* The 3x3 convolution as OpenBLAS computes it, without im2col: see convfma.h. */
#include "convfma.h"
#include "pick.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define CONVFMA_VECTOR 1

/* Output channels k0 .. k0 + nk - 1 (nk <= 16, a constant after inlining: the sums stay in
 * registers), 16 pixels at a time: per pixel and channel, the inner dimension (c, tap) in
 * the GEMM's order, one fused multiply-add each, from +0. Each sum is stored plus +0, as
 * OpenBLAS adds it to an output it zeroed (beta 0): a sum that underflowed to -0 is +0. */
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
            _mm512_storeu_ps(out + (size_t)(k0 + k) * L + q, _mm512_add_ps(acc[k], _mm512_setzero_ps()));
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
            _mm256_storeu_ps(out + (size_t)(k0 + k) * L + q, _mm256_add_ps(acc[k], _mm256_setzero_ps()));
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
            _mm512_storeu_ps(dcol + (size_t)(r0 + r) * n + j, _mm512_add_ps(acc[r], _mm512_setzero_ps()));
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
            _mm512_mask_storeu_ps(dcol + (size_t)(r0 + r) * n + j, m, _mm512_add_ps(acc[r], _mm512_setzero_ps()));
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
            _mm256_storeu_ps(dcol + (size_t)(r0 + r) * n + j, _mm256_add_ps(acc[r], _mm256_setzero_ps()));
    }
    for (; j < n; j++)
        for (int r = 0; r < nr; r++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++)
                acc = __builtin_fmaf(w[(size_t)k * C9 + r0 + r], dy[(size_t)k * ldy + j], acc);
            dcol[(size_t)(r0 + r) * n + j] = acc + 0.0f;
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

/* The weight gradient's chains for output channels k0 .. k0 + 15 (lanes past K masked) and
 * input channels c0 and, if two, c0 + 1 (a constant after inlining; the 18 sums are named
 * variables, which GCC keeps in registers where an array of them it would not) over columns
 * j0 .. j1 - 1 in order, added to dwT [C*9][K]. Column j is pixel (y, x) of sample
 * b = j / HW: dyT row j, and the taps of padded plane c of that sample. */
#define DW_TAPS(F) F(0, 0, 0) F(1, 0, 1) F(2, 0, 2) F(3, 1, 0) F(4, 1, 1) F(5, 1, 2) F(6, 2, 0) F(7, 2, 1) F(8, 2, 2)
static inline __attribute__((always_inline, target("avx512f,fma"))) void
dw_block_avx512(float *restrict dwT, const float *restrict pads, size_t PP, const float *restrict dyT, int C,
                int H, int W, int K, size_t j0, size_t j1, int k0, int c0, const int two)
{
    const int Wp = W + 2;
    const size_t HW = (size_t)H * W;
    const __mmask16 m = (__mmask16)(K - k0 >= 16 ? 0xffffu : (1u << (K - k0)) - 1);
#define DW_ZERO(t, ky, kx) __m512 a##t = _mm512_setzero_ps(), b##t = _mm512_setzero_ps();
    DW_TAPS(DW_ZERO)
    size_t b = j0 / HW;
    int p = (int)(j0 - b * HW), y = p / W, x = p - y * W;
    const float *row = pads + (b * C + c0) * PP + (size_t)y * Wp + x;
    for (size_t j = j0; j < j1; j++) {
        const __m512 v = _mm512_maskz_loadu_ps(m, dyT + j * K + k0);
        const float *r0 = row, *r1 = row + Wp, *r2 = r1 + Wp;
#define DW_FMA_A(t, ky, kx) a##t = _mm512_fmadd_ps(v, _mm512_set1_ps(r##ky[kx]), a##t);
        DW_TAPS(DW_FMA_A)
        if (two) {
            r0 += PP, r1 += PP, r2 += PP;
#define DW_FMA_B(t, ky, kx) b##t = _mm512_fmadd_ps(v, _mm512_set1_ps(r##ky[kx]), b##t);
            DW_TAPS(DW_FMA_B)
        }
        row++;
        if (++x == W) {
            x = 0, row += 2;
            if (++y == H)
                y = 0, b++, row = pads + (b * C + c0) * PP;
        }
    }
#define DW_ADD(t, ky, kx)                                                                                      \
    {                                                                                                          \
        float *d = dwT + (size_t)(c0 * 9 + t) * K + k0;                                                        \
        _mm512_mask_storeu_ps(d, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, d), a##t));                         \
        if (two) {                                                                                             \
            d += (size_t)9 * K;                                                                                \
            _mm512_mask_storeu_ps(d, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, d), b##t));                     \
        }                                                                                                      \
    }
    DW_TAPS(DW_ADD)
}

__attribute__((target("avx512f,fma"))) static void dw_avx512(float *restrict dwT, const float *restrict pads,
                                                             size_t PP, const float *restrict dyT, int C, int H,
                                                             int W, int K, size_t j0, size_t j1)
{
    for (int k0 = 0; k0 < K; k0 += 16) {
        int c0 = 0;
        for (; c0 + 2 <= C; c0 += 2)
            dw_block_avx512(dwT, pads, PP, dyT, C, H, W, K, j0, j1, k0, c0, 1);
        if (c0 < C)
            dw_block_avx512(dwT, pads, PP, dyT, C, H, W, K, j0, j1, k0, c0, 0);
    }
}

/* The same with 8 output channels per vector and one input channel at a time. */
static inline __attribute__((always_inline, target("avx2,fma"))) void
dw_block_avx2(float *restrict dwT, const float *restrict pads, size_t PP, const float *restrict dyT, int C, int H,
              int W, int K, size_t j0, size_t j1, int k0, int c0)
{
    const int Wp = W + 2, nk = K - k0 < 8 ? K - k0 : 8;
    const size_t HW = (size_t)H * W;
    const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(nk), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
#define DW_ZERO8(t, ky, kx) __m256 a##t = _mm256_setzero_ps();
    DW_TAPS(DW_ZERO8)
    size_t b = j0 / HW;
    int p = (int)(j0 - b * HW), y = p / W, x = p - y * W;
    const float *row = pads + (b * C + c0) * PP + (size_t)y * Wp + x;
    for (size_t j = j0; j < j1; j++) {
        const __m256 v = nk == 8 ? _mm256_loadu_ps(dyT + j * K + k0) : _mm256_maskload_ps(dyT + j * K + k0, m);
        const float *r0 = row, *r1 = row + Wp, *r2 = r1 + Wp;
#define DW_FMA8(t, ky, kx) a##t = _mm256_fmadd_ps(v, _mm256_broadcast_ss(r##ky + kx), a##t);
        DW_TAPS(DW_FMA8)
        row++;
        if (++x == W) {
            x = 0, row += 2;
            if (++y == H)
                y = 0, b++, row = pads + (b * C + c0) * PP;
        }
    }
#define DW_ADD8(t, ky, kx)                                                                                     \
    {                                                                                                          \
        float *d = dwT + (size_t)(c0 * 9 + t) * K + k0;                                                        \
        for (int k = 0; k < nk; k++)                                                                           \
            d[k] += a##t[k];                                                                                   \
    }
    DW_TAPS(DW_ADD8)
}

__attribute__((target("avx2,fma"))) static void dw_avx2(float *restrict dwT, const float *restrict pads, size_t PP,
                                                        const float *restrict dyT, int C, int H, int W, int K,
                                                        size_t j0, size_t j1)
{
    for (int k0 = 0; k0 < K; k0 += 8)
        for (int c0 = 0; c0 < C; c0++)
            dw_block_avx2(dwT, pads, PP, dyT, C, H, W, K, j0, j1, k0, c0);
}

/* 2 x 2 max-pool of a plane, 16 outputs of a row at a time (masked at the row's end): the
 * window's four values deinterleaved from two loads of each of its rows, then the scalar
 * loop's sequence of strict comparisons (ordered: false with a NaN, as C's >). */
__attribute__((target("avx512f"))) static void pool2_avx512(float *restrict y, int *restrict arg,
                                                            const float *restrict x, int P, int Q, int W, int ldx)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512i one = _mm512_set1_epi32(1), below = _mm512_set1_epi32(W), below1 = _mm512_set1_epi32(W + 1);
    for (int py = 0; py < P; py++) {
        const float *r0 = x + (size_t)(2 * py) * ldx, *r1 = r0 + ldx;
        for (int px = 0; px < Q; px += 16) {
            const int n = Q - px < 16 ? Q - px : 16, nin = 2 * n;
            const __mmask16 mo = (__mmask16)((1u << n) - 1);
            const __mmask16 m0 = (__mmask16)(nin >= 16 ? 0xffffu : (1u << nin) - 1);
            const __mmask16 m1 = (__mmask16)(nin > 16 ? (1u << (nin - 16)) - 1 : 0);
            __m512 lo = _mm512_maskz_loadu_ps(m0, r0 + 2 * px), hi = _mm512_maskz_loadu_ps(m1, r0 + 2 * px + 16);
            __m512 best = _mm512_permutex2var_ps(lo, even, hi), b = _mm512_permutex2var_ps(lo, odd, hi);
            lo = _mm512_maskz_loadu_ps(m0, r1 + 2 * px), hi = _mm512_maskz_loadu_ps(m1, r1 + 2 * px + 16);
            const __m512 c = _mm512_permutex2var_ps(lo, even, hi), d = _mm512_permutex2var_ps(lo, odd, hi);
            __mmask16 k = _mm512_cmp_ps_mask(b, best, _CMP_GT_OQ);
            best = _mm512_mask_mov_ps(best, k, b);
            __m512i at = _mm512_maskz_mov_epi32(k, one);
            k = _mm512_cmp_ps_mask(c, best, _CMP_GT_OQ);
            best = _mm512_mask_mov_ps(best, k, c);
            at = _mm512_mask_mov_epi32(at, k, below);
            k = _mm512_cmp_ps_mask(d, best, _CMP_GT_OQ);
            best = _mm512_mask_mov_ps(best, k, d);
            at = _mm512_mask_mov_epi32(at, k, below1);
            at = _mm512_add_epi32(_mm512_add_epi32(_mm512_set1_epi32(2 * py * W + 2 * px), even), at);
            _mm512_mask_storeu_ps(y + (size_t)py * Q + px, mo, best);
            _mm512_mask_storeu_epi32(arg + (size_t)py * Q + px, mo, at);
        }
    }
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

void convfma_dw(int impl, float *restrict dwT, const float *restrict pads, size_t PP, const float *restrict dyT,
                int C, int H, int W, int K, size_t N, int q, int unroll)
{
    memset(dwT, 0, sizeof(float) * (size_t)C * 9 * K);
    /* the blocks of the inner dimension as OpenBLAS's level-3 driver takes them: q at a time
     * while at least 2 q remain, then the rest in two about equal parts (a multiple of unroll
     * first) if it is more than q */
    for (size_t j0 = 0; j0 < N;) {
        size_t len = N - j0;
        if (len >= 2 * (size_t)q)
            len = (size_t)q;
        else if (len > (size_t)q)
            len = (len / 2 + unroll - 1) / unroll * unroll;
#if CONVFMA_VECTOR
        if (impl == CONVFMA_AVX512)
            dw_avx512(dwT, pads, PP, dyT, C, H, W, K, j0, j0 + len);
        else if (impl == CONVFMA_AVX2)
            dw_avx2(dwT, pads, PP, dyT, C, H, W, K, j0, j0 + len);
#else
        (void)impl, (void)pads, (void)PP, (void)dyT, (void)H, (void)W;
#endif
        j0 += len;
    }
}

int convfma_pool2(int impl, float *restrict y, int *restrict arg, const float *restrict x, int P, int Q, int W,
                  int ldx)
{
#if CONVFMA_VECTOR
    if (impl == CONVFMA_AVX512) {
        pool2_avx512(y, arg, x, P, Q, W, ldx);
        return 1;
    }
#else
    (void)y, (void)arg, (void)x, (void)P, (void)Q, (void)W, (void)ldx;
#endif
    (void)impl;
    return 0;
}

static atomic_int chosen = -1;

int convfma_impl(void)
{
    return pick_impl(&chosen, "SYNLAW_CONV_KERNEL", CONVFMA_AVX512, convfma_name, convfma_cpu);
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
