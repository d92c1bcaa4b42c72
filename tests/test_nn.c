/* Models: fast kernels against their naive references; analytic gradients of whole
 * networks (every layer kind, both losses) against central finite differences; optimisers
 * lower the loss on a fixed batch; the backbone copy moves exactly the backbone. */
#include "bce_libm.h"
#include "check.h"
#include "convfma.h"
#include "synlaw/job.h"
#include "synlaw/nn.h"
#include "synlaw/rng.h"
#include "synlaw/synth.h"
#include "synlaw/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void fill(float *x, size_t n, rng_t *r)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)rng_normal(r);
}

static double max_rel_diff(const float *a, const float *b, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]) / (1.0 + fabs((double)b[i]));
        if (!(d <= worst)) /* a NaN makes the result NaN, which fails every "< tolerance" */
            worst = d;
    }
    return worst;
}

static void test_kernels(void)
{
    rng_t r;
    rng_seed(&r, 5);
    int B = 3, C = 37, K = 11;
    float x[3 * 37], w[11 * 37], b[11], y1[3 * 11], y2[3 * 11];
    fill(x, sizeof x / 4, &r), fill(w, sizeof w / 4, &r), fill(b, sizeof b / 4, &r);
    nn_linear_forward(y1, x, w, b, B, C, K);
    nn_linear_forward_naive(y2, x, w, b, B, C, K);
    CHECK(max_rel_diff(y1, y2, (size_t)B * K) < 1e-5, "linear fast vs naive: %g", max_rel_diff(y1, y2, (size_t)B * K));

    int Cc = 3, H = 10, W = 8, Kc = 5;
    size_t nx = (size_t)B * Cc * H * W, ny = (size_t)B * Kc * H * W;
    float *cx = malloc(nx * 4), *cw = malloc((size_t)Kc * Cc * 9 * 4), *cb = malloc((size_t)Kc * 4);
    float *cy1 = malloc(ny * 4), *cy2 = malloc(ny * 4), *col = malloc((size_t)B * Cc * 9 * H * W * 4);
    fill(cx, nx, &r), fill(cw, (size_t)Kc * Cc * 9, &r), fill(cb, (size_t)Kc, &r);
    nn_conv3_forward(cy1, col, cx, cw, cb, B, Cc, H, W, Kc);
    nn_conv3_forward_naive(cy2, cx, cw, cb, B, Cc, H, W, Kc);
    CHECK(max_rel_diff(cy1, cy2, ny) < 1e-5, "conv fast vs naive: %g", max_rel_diff(cy1, cy2, ny));
    /* Backward: weight, bias and input gradients of the batched GEMM path against loops. */
    size_t nw = (size_t)Kc * Cc * 9;
    float *dy = malloc(ny * 4), *dcol = malloc((size_t)B * Cc * 9 * H * W * 4);
    float *dw1 = malloc(nw * 4), *dw2 = malloc(nw * 4), db1[5], db2[5];
    float *dx1 = malloc(nx * 4), *dx2 = malloc(nx * 4);
    fill(dy, ny, &r);
    nn_conv3_backward(dw1, db1, dx1, dcol, dy, col, cw, B, Cc, H, W, Kc);
    nn_conv3_backward_naive(dw2, db2, dx2, dy, cx, cw, B, Cc, H, W, Kc);
    CHECK(max_rel_diff(dw1, dw2, nw) < 1e-4, "conv dw fast vs naive: %g", max_rel_diff(dw1, dw2, nw));
    CHECK(max_rel_diff(db1, db2, 5) < 1e-4, "conv db fast vs naive: %g", max_rel_diff(db1, db2, 5));
    CHECK(max_rel_diff(dx1, dx2, nx) < 1e-4, "conv dx fast vs naive: %g", max_rel_diff(dx1, dx2, nx));
    free(cx), free(cw), free(cb), free(cy1), free(cy2), free(col);
    free(dy), free(dcol), free(dw1), free(dw2), free(dx1), free(dx2);
}

/* The direct first-layer convolution (no im2col) against the naive loops: forward, weight
 * and bias gradients, at several shapes (odd sides, the smallest, colour, a tail that is not
 * a multiple of the 16 lanes). */
static void test_direct_conv(void)
{
    const int shapes[][5] = {{3, 1, 10, 8, 5}, {2, 3, 11, 9, 4}, {5, 1, 8, 8, 8}, {2, 2, 28, 28, 3},
                             {1, 4, 13, 17, 7}, {4, 1, 64, 64, 2}};
    rng_t r;
    rng_seed(&r, 8);
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
        int B = shapes[k][0], C = shapes[k][1], H = shapes[k][2], W = shapes[k][3], K = shapes[k][4];
        size_t nx = (size_t)B * C * H * W, ny = (size_t)B * K * H * W, nw = (size_t)K * C * 9;
        float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc((size_t)K * 4), *y1 = malloc(ny * 4);
        float *y2 = malloc(ny * 4), *dy = malloc(ny * 4), *dw1 = malloc(nw * 4), *dw2 = malloc(nw * 4);
        float *db1 = malloc((size_t)K * 4), *db2 = malloc((size_t)K * 4);
        float *scratch = malloc(nn_conv3_direct_scratch(C, H, W, K) * 4);
        fill(x, nx, &r), fill(w, nw, &r), fill(b, (size_t)K, &r), fill(dy, ny, &r);
        nn_conv3_direct_forward(y1, scratch, x, w, b, B, C, H, W, K);
        nn_conv3_forward_naive(y2, x, w, b, B, C, H, W, K);
        CHECK(max_rel_diff(y1, y2, ny) < 1e-5, "direct conv %dx%dx%d K %d: forward %g", C, H, W, K,
              max_rel_diff(y1, y2, ny));
        nn_conv3_direct_backward(dw1, db1, scratch, dy, x, B, C, H, W, K);
        nn_conv3_backward_naive(dw2, db2, NULL, dy, x, w, B, C, H, W, K);
        CHECK(max_rel_diff(dw1, dw2, nw) < 1e-4, "direct conv %dx%dx%d K %d: dw %g", C, H, W, K,
              max_rel_diff(dw1, dw2, nw));
        CHECK(max_rel_diff(db1, db2, (size_t)K) < 1e-4, "direct conv %dx%dx%d K %d: db %g", C, H, W, K,
              max_rel_diff(db1, db2, (size_t)K));
        free(x), free(w), free(b), free(y1), free(y2), free(dy), free(dw1), free(dw2), free(db1), free(db2);
        free(scratch);
    }
}

/* The kernels of convfma.h against one fmaf chain per output (per block of columns for the
 * weight gradient: the same bits, not merely close), at shapes whose sides, channels and column counts are not multiples of any vector
 * width; and the same chain without fused multiply-adds must differ somewhere, or the
 * comparison would prove nothing. */
static void test_conv_kernels(void)
{
    const int shapes[][4] = {{1, 28, 28, 8}, {3, 11, 9, 17}, {8, 14, 14, 16}, {16, 5, 4, 32}, {5, 7, 13, 1}, {32, 14, 14, 64}};
    rng_t r;
    rng_seed(&r, 31);
    for (int impl = CONVFMA_AVX2; impl <= CONVFMA_AVX512; impl++) {
        if (!convfma_cpu(impl)) {
            printf("conv kernels: this CPU does not run %s\n", convfma_name(impl));
            continue;
        }
        long outputs = 0, plain_differ = 0;
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
            const int C = shapes[s][0], H = shapes[s][1], W = shapes[s][2], K = shapes[s][3], Wp = W + 2, C9 = 9 * C;
            const size_t PP = (size_t)(H + 2) * Wp + 32, L = ((size_t)H * Wp + 15) / 16 * 16;
            float *pads = calloc((size_t)C * PP, sizeof(float)), *w = malloc(sizeof(float) * K * C9);
            float *out = malloc(sizeof(float) * K * L);
            for (int c = 0; c < C; c++)
                for (int y = 0; y < H; y++)
                    fill(pads + c * PP + (size_t)(y + 1) * Wp + 1, (size_t)W, &r);
            fill(w, (size_t)K * C9, &r);
            convfma_out(impl, out, pads, PP, w, C, Wp, L, K);
            for (int k = 0; k < K; k++)
                for (int y = 0; y < H; y++)
                    for (int x = 0; x < W; x++) {
                        float f = 0.0f, p = 0.0f;
                        for (int c = 0; c < C; c++)
                            for (int t = 0; t < 9; t++) {
                                float a = w[(size_t)k * C9 + c * 9 + t], b = pads[c * PP + (size_t)(y + t / 3) * Wp + x + t % 3];
                                f = fmaf(a, b, f);
                                p += a * b;
                            }
                        f += 0.0f; /* added to a zeroed output, as OpenBLAS does */
                        float got = out[(size_t)k * L + (size_t)y * Wp + x];
                        CHECK(memcmp(&got, &f, sizeof f) == 0, "convfma_out %s C %d %dx%d K %d: (%d, %d, %d) %a, fmaf chain %a",
                              convfma_name(impl), C, H, W, K, k, y, x, got, f);
                        outputs++;
                        plain_differ += p != f;
                    }
            /* the input gradient's product, n columns out of a wider dy */
            const int n = H * W * 3 + 5;
            const size_t ldy = (size_t)n + 7;
            float *dy = malloc(sizeof(float) * K * ldy), *dcol = malloc(sizeof(float) * C9 * n);
            fill(dy, (size_t)K * ldy, &r);
            convfma_dcol(impl, dcol, w, dy, ldy, C9, n, K);
            for (int row = 0; row < C9; row++)
                for (int j = 0; j < n; j++) {
                    float f = 0.0f, p = 0.0f;
                    for (int k = 0; k < K; k++) {
                        f = fmaf(w[(size_t)k * C9 + row], dy[k * ldy + j], f);
                        p += w[(size_t)k * C9 + row] * dy[k * ldy + j];
                    }
                    f += 0.0f;
                    float got = dcol[(size_t)row * n + j];
                    CHECK(memcmp(&got, &f, sizeof f) == 0, "convfma_dcol %s C9 %d n %d K %d: (%d, %d) %a, fmaf chain %a",
                          convfma_name(impl), C9, n, K, row, j, got, f);
                    outputs++;
                    plain_differ += p != f;
                }
            /* the weight gradient over B = 3 samples, in blocks of q = 50 columns (the last
             * two balanced to a multiple of 16), from the padded planes of every sample */
            const int B = 3, q = 50;
            const size_t N = (size_t)B * H * W;
            float *bpads = calloc((size_t)B * C * PP, sizeof(float)), *dyT = malloc(sizeof(float) * N * K);
            float *dwT = malloc(sizeof(float) * C9 * K);
            for (int b = 0; b < B; b++)
                for (int c = 0; c < C; c++)
                    for (int y = 0; y < H; y++)
                        fill(bpads + ((size_t)b * C + c) * PP + (size_t)(y + 1) * Wp + 1, (size_t)W, &r);
            fill(dyT, N * K, &r);
            convfma_dw(impl, dwT, bpads, PP, dyT, C, H, W, K, N, q, 16);
            for (int k = 0; k < K; k++)
                for (int row = 0; row < C9; row++) {
                    const int c = row / 9, t = row % 9;
                    float f = 0.0f, p = 0.0f;
                    for (size_t j0 = 0; j0 < N;) {
                        size_t len = N - j0 >= 2 * (size_t)q ? (size_t)q
                                     : N - j0 > (size_t)q    ? ((N - j0) / 2 + 15) / 16 * 16
                                                             : N - j0;
                        float a = 0.0f, pa = 0.0f;
                        for (size_t j = j0; j < j0 + len; j++) {
                            size_t b = j / ((size_t)H * W), pix = j % ((size_t)H * W);
                            float v = bpads[(b * C + c) * PP + (pix / W + t / 3) * Wp + pix % W + t % 3];
                            a = fmaf(dyT[j * K + k], v, a);
                            pa += dyT[j * K + k] * v;
                        }
                        f += a;
                        p += pa;
                        j0 += len;
                    }
                    float got = dwT[(size_t)row * K + k];
                    CHECK(memcmp(&got, &f, sizeof f) == 0, "convfma_dw %s C %d %dx%d K %d: (%d, %d) %a, fmaf chains %a",
                          convfma_name(impl), C, H, W, K, k, row, got, f);
                    outputs++;
                    plain_differ += p != f;
                }
            free(pads), free(w), free(out), free(dy), free(dcol), free(bpads), free(dyT), free(dwT);
        }
        { /* sums that underflow to -0 come out +0, as from OpenBLAS's zeroed outputs */
            const int C = 2, H = 3, W = 5, K = 3, Wp = W + 2, C9 = 9 * C;
            const size_t PP = (size_t)(H + 2) * Wp + 32, L = 16;
            float pads[2 * ((3 + 2) * 7 + 32)], w[3 * 18], out[3 * 16], dy[3 * 20], dcol[18 * 20], dwT[18 * 3];
            for (size_t j = 0; j < sizeof pads / sizeof *pads; j++)
                pads[j] = 1e-23f;
            for (int j = 0; j < K * C9; j++)
                w[j] = -1e-23f;
            for (int j = 0; j < 60; j++)
                dy[j] = 1e-23f;
            convfma_out(impl, out, pads, PP, w, C, Wp, L, K);
            convfma_dcol(impl, dcol, w, dy, 20, C9, 20, K);
            convfma_dw(impl, dwT, pads, PP, dy, 1, H, W, K, 15, 50, 16);
            int plus = 1;
            for (int j = 0; j < K * 16; j++)
                plus &= signbit(out[j]) == 0 && out[j] == 0;
            for (int j = 0; j < C9 * 20; j++)
                plus &= signbit(dcol[j]) == 0 && dcol[j] == 0;
            for (int j = 0; j < 9 * K; j++)
                plus &= signbit(dwT[j]) == 0 && dwT[j] == 0;
            CHECK(plus, "%s: a sum that underflowed is not +0", convfma_name(impl));
        }
        CHECK(plain_differ > 0, "%s: no output where fused multiply-adds round differently", convfma_name(impl));
        printf("conv kernels: %s gives the fmaf chain's bits for %ld outputs (%ld of them differ without FMA)\n",
               convfma_name(impl), outputs, plain_differ);
    }
}

/* The vector max-pool against the scalar loop (the same sequence of strict comparisons) on
 * planes of every width up to 41 with ties, both zeros and NaNs: the same values and
 * argmax, bit for bit. */
static void test_pool_kernel(void)
{
    if (!convfma_cpu(CONVFMA_AVX512)) {
        printf("pool kernel: this CPU has no AVX-512\n");
        return;
    }
    rng_t r;
    rng_seed(&r, 43);
    long windows = 0;
    for (int W = 2; W <= 41; W++)
        for (int H = 2; H <= 9; H += 7) {
            const int P = H / 2, Q = W / 2, ldx = W + (W % 3);
            float *x = malloc(sizeof(float) * (size_t)H * ldx), *y = malloc(sizeof(float) * P * Q);
            float *y2 = malloc(sizeof(float) * P * Q);
            int *arg = malloc(sizeof(int) * P * Q), *arg2 = malloc(sizeof(int) * P * Q);
            const float special[] = {0.0f, -0.0f, NAN, 1.0f, -1.0f};
            for (int i = 0; i < H * ldx; i++)
                x[i] = rng_below(&r, 3) == 0 ? special[rng_below(&r, 5)] : (float)rng_range(&r, -1, 1);
            CHECK(convfma_pool2(CONVFMA_AVX512, y, arg, x, P, Q, W, ldx) == 1, "convfma_pool2 refused");
            for (int py = 0; py < P; py++)
                for (int px = 0; px < Q; px++) {
                    const float *r0 = x + (size_t)(2 * py) * ldx, *r1 = r0 + ldx;
                    int best = 2 * px;
                    float bv = r0[best];
                    if (r0[best + 1] > bv) bv = r0[best + 1], best = 2 * px + 1;
                    if (r1[2 * px] > bv) bv = r1[2 * px], best = W + 2 * px;
                    if (r1[2 * px + 1] > bv) bv = r1[2 * px + 1], best = W + 2 * px + 1;
                    y2[py * Q + px] = bv;
                    arg2[py * Q + px] = 2 * py * W + best;
                }
            CHECK(memcmp(y, y2, sizeof(float) * P * Q) == 0 && memcmp(arg, arg2, sizeof(int) * P * Q) == 0,
                  "pool kernel %dx%d (rows %d apart): not the scalar loop's values and argmax", H, W, ldx);
            windows += P * Q;
            free(x), free(y), free(y2), free(arg), free(arg2);
        }
    printf("pool kernel: the scalar loop's values and argmax in %ld windows\n", windows);
}

/* Every CNN of the zoo, with the direct first layer and with every layer a GEMM, at batch
 * sizes where OpenBLAS takes its small-matrix kernels (which sum in another order: the check
 * must turn the kernel down there) and where it does not: trained four steps with Adam, an
 * evaluation pass at another batch size after each, with each kernel this CPU runs and with
 * OpenBLAS alone: the outputs, gradients and weights are the same bits. */
static void test_conv_kernel_nets(void)
{
    const int shapes[][4] = {{28, 28, 1, 10}, {11, 9, 3, 5}, {16, 16, 3, 12}};
    const int batches[] = {1, 2, 3, 8, 37};
    int tried = 0, fwd = 0, back = 0, wgrad = 0;
    for (int impl = CONVFMA_AVX2; impl <= CONVFMA_AVX512; impl++) {
        if (!convfma_cpu(impl))
            continue;
        for (int m = 0; m < nn_model_count(); m++)
            for (int direct = 0; direct < 2 && strncmp(nn_model_name(m), "cnn", 3) == 0; direct++)
                for (size_t sh = 0; sh < sizeof shapes / sizeof *shapes; sh++)
                    for (size_t bi = 0; bi < sizeof batches / sizeof *batches; bi++) {
                        const int B = batches[bi];
                        nn_arch a;
                        nn_arch_build(&a, nn_model_name(m), shapes[sh][0], shapes[sh][1], shapes[sh][2], shapes[sh][3]);
                        setenv("SYNLAW_DIRECT_CONV", direct ? "1" : "0", 1);
                        nn_net *k = nn_create(&a, B), *o = nn_create(&a, B);
                        unsetenv("SYNLAW_DIRECT_CONV");
                        k->conv_kernel = impl;
                        o->conv_kernel = CONVFMA_BLAS;
                        nn_init(k, 41);
                        nn_init(o, 41);
                        rng_t r;
                        rng_seed(&r, 42);
                        uint8_t labels[64];
                        for (int i = 0; i < B; i++)
                            labels[i] = (uint8_t)(i % shapes[sh][3]);
                        nn_optim adam = {.kind = NN_ADAM, .lr = 0.01f, .momentum = 0.9f, .weight_decay = 1e-4f};
                        int same = 1;
                        for (int step = 0; step < 4; step++) {
                            fill(nn_input(k), (size_t)B * a.in_size, &r);
                            memcpy(nn_input(o), nn_input(k), (size_t)B * a.in_size * sizeof(float));
                            const float *ok = nn_forward(k, B), *oo = nn_forward(o, B);
                            same &= memcmp(ok, oo, (size_t)B * a.out_size * sizeof(float)) == 0;
                            nn_softmax_xent(nn_dout(k), NULL, ok, labels, B, a.out_size);
                            nn_softmax_xent(nn_dout(o), NULL, oo, labels, B, a.out_size);
                            nn_backward(k, B);
                            nn_backward(o, B);
                            same &= memcmp(k->grad, o->grad, a.nparam * sizeof(float)) == 0;
                            nn_step(k, &adam);
                            nn_step(o, &adam);
                            /* an evaluation pass at another batch size between steps, as
                             * training has (its own checks, the next step's reused) */
                            const int Be = step % 2 ? (B + 1) / 2 : B > 1 ? B - 1 : 1;
                            fill(nn_input(k), (size_t)Be * a.in_size, &r);
                            memcpy(nn_input(o), nn_input(k), (size_t)Be * a.in_size * sizeof(float));
                            ok = nn_forward(k, Be), oo = nn_forward(o, Be);
                            same &= memcmp(ok, oo, (size_t)Be * a.out_size * sizeof(float)) == 0;
                        }
                        same &= memcmp(k->param, o->param, a.nparam * sizeof(float)) == 0;
                        CHECK(same, "%s %s %dx%dx%d batch %d%s: not OpenBLAS's bits", convfma_name(impl), nn_model_name(m),
                              shapes[sh][0], shapes[sh][1], shapes[sh][2], B, direct ? "" : " (every layer a GEMM)");
                        for (int i = 0; i < a.nlayer; i++)
                            for (int sl = 0; sl < NN_CONV_CHECKS; sl++)
                                if (k->conv_check[i][sl].batch == B) {
                                    tried++;
                                    fwd += k->conv_check[i][sl].ok & 1;
                                    back += (k->conv_check[i][sl].ok & 2) != 0;
                                    wgrad += (k->conv_check[i][sl].ok & 4) != 0;
                                }
                        nn_free(k);
                        nn_free(o);
                    }
    }
    printf("conv kernel nets: of %d layer and batch sizes checked, the kernels gave OpenBLAS's bits for the forward "
           "pass in %d, the input gradient in %d and the weight gradient in %d (elsewhere OpenBLAS ran); every net "
           "the same bits\n", tried, fwd, back, wgrad);
    /* not a failure where none matched: the kernels are then simply not used (OpenBLAS's
     * Haswell kernels, for one, sum in another order) */
}

/* Every CNN of the zoo with its direct first layer (fused with the pool) against the same
 * network with every layer a GEMM (SYNLAW_DIRECT_CONV=0, checked against the naive loops
 * above): outputs and every parameter gradient agree to rounding. */
static void test_direct_vs_gemm(void)
{
    const int shapes[][4] = {{28, 28, 1, 10}, {11, 9, 3, 5}, {8, 8, 1, 12}, {17, 20, 3, 4}};
    for (int m = 0; m < nn_model_count(); m++) {
        if (strncmp(nn_model_name(m), "cnn", 3) != 0)
            continue;
        for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
            nn_arch a;
            nn_arch_build(&a, nn_model_name(m), shapes[k][0], shapes[k][1], shapes[k][2], shapes[k][3]);
            nn_net *d = nn_create(&a, 6);
            setenv("SYNLAW_DIRECT_CONV", "0", 1);
            nn_net *g = nn_create(&a, 6);
            unsetenv("SYNLAW_DIRECT_CONV");
            CHECK(d->direct_first && !g->direct_first, "SYNLAW_DIRECT_CONV=0 not honoured");
            nn_init(d, 21);
            nn_init(g, 21);
            rng_t r;
            rng_seed(&r, 22);
            fill(nn_input(d), (size_t)6 * a.in_size, &r);
            memcpy(nn_input(g), nn_input(d), (size_t)6 * a.in_size * sizeof(float));
            uint8_t labels[6];
            for (int i = 0; i < 6; i++)
                labels[i] = (uint8_t)(i % shapes[k][3]);
            const float *od = nn_forward(d, 6), *og = nn_forward(g, 6);
            CHECK(max_rel_diff(od, og, (size_t)6 * a.out_size) < 1e-5, "%s %dx%dx%d: outputs differ by %g",
                  nn_model_name(m), shapes[k][0], shapes[k][1], shapes[k][2],
                  max_rel_diff(od, og, (size_t)6 * a.out_size));
            nn_softmax_xent(nn_dout(d), NULL, od, labels, 6, a.out_size);
            nn_softmax_xent(nn_dout(g), NULL, og, labels, 6, a.out_size);
            nn_backward(d, 6);
            nn_backward(g, 6);
            CHECK(max_rel_diff(d->grad, g->grad, a.nparam) < 1e-4, "%s %dx%dx%d: gradients differ by %g",
                  nn_model_name(m), shapes[k][0], shapes[k][1], shapes[k][2],
                  max_rel_diff(d->grad, g->grad, a.nparam));
            nn_free(d);
            nn_free(g);
        }
    }
}

/* Logits at every scale a network produces and past exp's range (+-700 .. +-1e30, where exp
 * overflows or underflows), targets 0, 1 and in between. */
static void bce_inputs(float *z, float *t, size_t n, rng_t *r)
{
    static const float special[] = {0.0f, 1e-30f, 1e-8f, 0.5f, 20.0f, 36.0f, 700.0f, 708.2f, 709.9f,
                                    745.5f, 800.0f, 1e30f};
    const size_t ns = sizeof special / sizeof *special;
    for (size_t j = 0; j < n; j++) {
        if (j < 2 * ns)
            z[j] = j % 2 ? -special[j / 2] : special[j / 2];
        else
            z[j] = (float)(rng_normal(r) * (double)(j % 7 == 0 ? 300 : j % 3 == 0 ? 20 : 3));
        t[j] = j % 11 == 0 ? 0.25f : rng_uniform(r) < 0.3 ? 1.0f : 0.0f;
    }
}

/* The vectorised sigmoid cross-entropy of z, t against libm's: every gradient within one
 * unit in the last place of a float (in practice the same bits), the same wrong decisions,
 * and the loss within rel_tol of libm's. Returns the gradients that differ at all. */
static size_t bce_compare(const char *what, const float *z, const float *t, size_t n, double rel_tol)
{
    float *d = malloc(n * 4), *dr = malloc(n * 4);
    long w = 0, wr = 0;
    double loss = nn_sigmoid_bce(d, &w, z, t, 1, (int)n), ref = bce_libm(dr, &wr, z, t, n);
    size_t differ = 0, far = 0;
    for (size_t j = 0; j < n; j++) {
        const float gap = fmaxf(nextafterf(dr[j], INFINITY) - dr[j], dr[j] - nextafterf(dr[j], -INFINITY));
        differ += memcmp(&d[j], &dr[j], sizeof(float)) != 0;
        far += !(fabsf(d[j] - dr[j]) <= gap);
    }
    CHECK(far == 0, "sigmoid bce, %s: %zu of %zu gradients more than one ulp from libm's", what, far, n);
    CHECK(fabs(loss - ref) <= rel_tol * fabs(ref), "sigmoid bce, %s: loss %.17g, libm %.17g", what, loss, ref);
    CHECK(w == wr, "sigmoid bce, %s: %ld wrong decisions, libm %ld", what, w, wr);
    free(d), free(dr);
    return differ;
}

/* Two sets: logits of every scale and past exp's range (the gradients, the decisions; the
 * loss is dominated by the largest logits there), and logits within +-12 on the side of
 * their targets, where each term of the loss is log1p(e^-|z|) alone: the loss to 1e-15. */
/* A compact sample's target bits (train_render_sample) against the rendered sample it was
 * packed from: bit k is mask[k] > 0.5 (segmentation) or present[k] > 0.5 (multilabel), the
 * last byte's unused bits are 0, and train_expand_sample gives them back as 0 and 1; for
 * shapes whose bit count is and is not a multiple of 8. */
static void test_sample_bits(void)
{
    const int dims[][3] = {{28, 28, 1}, {20, 33, 1}, {17, 17, 3}, {8, 9, 1}};
    synth_sample *s = malloc(sizeof *s);
    uint8_t buf[DATA_MAX_CHANNELS * SYNTH_MAX_PIXELS + SYNTH_MAX_PIXELS / 8 + 8];
    static float x[DATA_MAX_CHANNELS * SYNTH_MAX_PIXELS], target[SYNTH_MAX_PIXELS];
    long bad = 0, spare = 0, n = 0;
    for (int d = 0; d < 4; d++) {
        train_input in = {.rows = dims[d][0], .cols = dims[d][1], .channels = dims[d][2]};
        in.pixels = in.rows * in.cols * in.channels;
        for (int c = 0; c < in.channels; c++)
            in.mean[c] = 0.5f, in.inv_std[c] = 1.0f;
        for (int T = TASK_MULTILABEL; T <= TASK_SEGMENT; T++)
            for (int level = 1; level <= SYNTH_MAX_COMPLEXITY; level++)
                for (int i = 0; i < 50; i++) {
                    memset(buf, 0xff, sizeof buf);
                    train_render_sample(buf, s, &in, 11, (uint64_t)i, level, T); /* s: what was packed */
                    const int K = train_task_outputs(&in, T);
                    const float *want = T == TASK_SEGMENT ? s->mask : s->present;
                    const uint8_t *bits = buf + in.pixels;
                    train_expand_sample(x, target, buf, &in, T);
                    for (int k = 0; k < K; k++, n++) {
                        const int b = (bits[k >> 3] >> (k & 7)) & 1, w = want[k] > 0.5f;
                        bad += b != w || target[k] != (float)w;
                    }
                    if (K % 8)
                        spare += bits[K >> 3] >> (K % 8) != 0;
                }
    }
    CHECK(bad == 0, "%ld of %ld target bits differ from the rendered mask or labels", bad, n);
    CHECK(spare == 0, "%ld samples with a bit set past the target's last", spare);
    free(s);
}

static void test_sigmoid_bce(void)
{
    const size_t n = 200003; /* not a multiple of any chunk or vector */
    float *z = malloc(n * 4), *t = malloc(n * 4);
    rng_t r;
    rng_seed(&r, 17);
    bce_inputs(z, t, n, &r);
    size_t d1 = bce_compare("every scale", z, t, n, 1e-15);
    for (size_t j = 0; j < n; j++) {
        z[j] = (float)rng_range(&r, -12.0, 12.0);
        t[j] = z[j] > 0 ? 1.0f : 0.0f;
    }
    size_t d2 = bce_compare("log1p terms", z, t, n, 1e-15);
    printf("sigmoid bce: %zu and %zu of %zu gradients differ from libm's in the last bit\n", d1, d2, n);
    free(z), free(t);
}

/* Loss of the net on its current input; writes dlogits when grad is set. */
static double net_loss(nn_net *n, int B, int bce, const uint8_t *labels, const float *targets, int grad)
{
    const float *out = nn_forward(n, B);
    float *d = grad ? nn_dout(n) : NULL;
    if (bce)
        return nn_sigmoid_bce(d, NULL, out, targets, B, n->arch.out_size);
    return nn_softmax_xent(d, NULL, out, labels, B, n->arch.out_size);
}

static void gradient_check(const char *model, int rows, int cols, int channels, int out_size, int bce)
{
    nn_arch a;
    CHECK(nn_arch_build(&a, model, rows, cols, channels, out_size) == 0, "build %s", model);
    int B = 4;
    nn_net *n = nn_create(&a, B);
    nn_init(n, 11);
    rng_t r;
    rng_seed(&r, 12);
    float *x = nn_input(n);
    fill(x, (size_t)B * a.in_size, &r);
    float *xsave = malloc((size_t)B * a.in_size * 4);
    memcpy(xsave, x, (size_t)B * a.in_size * 4);
    uint8_t labels[4] = {1, 7, 3, 9};
    for (int i = 0; i < B; i++)
        labels[i] %= (uint8_t)out_size; /* labels in range for every class count */
    float *targets = malloc((size_t)B * out_size * 4);
    for (int i = 0; i < B * out_size; i++)
        targets[i] = rng_uniform(&r) < 0.3 ? 1.0f : 0.0f;
    /* small biases so that ReLUs are not exactly at their kinks */
    for (size_t j = 0; j < a.nparam; j++)
        if (n->param[j] == 0.0f)
            n->param[j] = 0.01f * (float)rng_normal(&r);
    net_loss(n, B, bce, labels, targets, 1);
    nn_backward(n, B);
    float *g = malloc(a.nparam * 4);
    memcpy(g, n->grad, a.nparam * 4);
    double gmax = 0;
    for (size_t j = 0; j < a.nparam; j++)
        gmax = fmax(gmax, fabs(g[j]));
    /* Check parameters from every layer: the first, last and random ones of each block. */
    int checked = 0, bad = 0;
    const float eps = 2e-3f;
    for (int l = 0; l < a.nlayer; l++) {
        const nn_layer *ly = &a.layer[l];
        if (ly->kind != NN_LINEAR && ly->kind != NN_CONV3)
            continue;
        size_t nw = ly->b - ly->w, nb = (size_t)ly->K;
        size_t picks[12] = {ly->w, ly->w + nw - 1, ly->b, ly->b + nb - 1};
        for (int k = 4; k < 12; k++)
            picks[k] = k < 10 ? ly->w + rng_below(&r, nw) : ly->b + rng_below(&r, nb);
        for (int k = 0; k < 12; k++) {
            size_t j = picks[k];
            float keep = n->param[j];
            n->param[j] = keep + eps;
            memcpy(nn_input(n), xsave, (size_t)B * a.in_size * 4);
            double lp = net_loss(n, B, bce, labels, targets, 0);
            n->param[j] = keep - eps;
            memcpy(nn_input(n), xsave, (size_t)B * a.in_size * 4);
            double lm = net_loss(n, B, bce, labels, targets, 0);
            n->param[j] = keep;
            double fd = (lp - lm) / (2.0 * eps);
            /* float32 forward passes: the finite difference carries ~1e-7 * loss / eps of
             * rounding; 1% of the largest gradient plus 5% relative absorbs that and the
             * occasional ReLU/max-pool switch inside [p - eps, p + eps]. */
            double tol = 0.01 * gmax + 0.05 * fabs(fd);
            checked++;
            if (fabs(fd - g[j]) > tol) {
                bad++;
                fprintf(stderr, "%s %s layer %d param %zu: analytic %g, finite difference %g\n",
                        model, bce ? "bce" : "xent", l, j, g[j], fd);
            }
        }
    }
    /* At most one in 40 checks may straddle a kink; more means a wrong gradient. */
    CHECK(bad * 40 <= checked, "%s %s: %d of %d gradients disagree", model, bce ? "bce" : "xent", bad, checked);
    free(g), free(xsave), free(targets);
    nn_free(n);
}

static void test_optimisers(void)
{
    for (int opt = 0; opt < 2; opt++) {
        nn_arch a;
        nn_arch_build(&a, "cnn-s", 28, 28, 1, 10);
        nn_net *n = nn_create(&a, 16);
        nn_init(n, 3);
        rng_t r;
        rng_seed(&r, 4);
        float *xs = malloc(16 * 784 * 4);
        fill(xs, 16 * 784, &r);
        uint8_t labels[16];
        for (int i = 0; i < 16; i++)
            labels[i] = (uint8_t)(i % 10);
        nn_optim rc = {.kind = opt ? NN_ADAM : NN_SGD, .lr = opt ? 1e-3f : 0.02f, .momentum = 0.9f,
                       .weight_decay = 1e-4f};
        double first = 0, last = 0;
        for (int step = 0; step < 60; step++) {
            memcpy(nn_input(n), xs, 16 * 784 * 4);
            double l = net_loss(n, 16, 0, labels, NULL, 1);
            if (step == 0)
                first = l;
            last = l;
            nn_backward(n, 16);
            nn_step(n, &rc);
        }
        CHECK(last < 0.5 * first, "%s did not fit a fixed batch: loss %g -> %g", opt ? "adam" : "sgd", first, last);
        free(xs);
        nn_free(n);
    }
}

static void test_backbone_copy(void)
{
    nn_arch a, b;
    nn_arch_build(&a, "mlp-s", 28, 28, 1, 12);
    nn_arch_build(&b, "mlp-s", 28, 28, 1, 10);
    CHECK(a.nparam_backbone == b.nparam_backbone, "backbone sizes differ");
    nn_net *src = nn_create(&a, 4), *dst = nn_create(&b, 4);
    nn_init(src, 1);
    nn_init(dst, 2);
    float head_before = dst->param[b.nparam - 1];
    nn_copy_backbone(dst, src, 0);
    CHECK(memcmp(dst->param, src->param, a.nparam_backbone * 4) == 0, "backbone not copied");
    CHECK(dst->param[b.nparam - 1] == head_before, "head overwritten");
    /* Same init seed: the backbone of a 12-way and a 10-way net start identical. */
    nn_init(dst, 1);
    CHECK(memcmp(dst->param, src->param, a.nparam_backbone * 4) == 0, "init differs across heads");
    nn_free(src);
    nn_free(dst);
    /* Convolution layers only: a CNN's conv weights move, its dense layers do not. */
    nn_arch_build(&a, "cnn-s", 28, 28, 1, 12);
    nn_arch_build(&b, "cnn-s", 28, 28, 1, 10);
    src = nn_create(&a, 4), dst = nn_create(&b, 4);
    nn_init(src, 1);
    nn_init(dst, 2);
    size_t conv_end = 0;
    for (int i = 0; i < a.nlayer; i++)
        if (a.layer[i].kind == NN_LINEAR) {
            conv_end = a.layer[i].w;
            break;
        }
    float fc_before = dst->param[conv_end];
    nn_copy_backbone(dst, src, 1);
    CHECK(conv_end > 0 && memcmp(dst->param, src->param, conv_end * 4) == 0, "conv layers not copied");
    CHECK(dst->param[conv_end] == fc_before, "dense layer copied with conv_only");
    nn_free(src);
    nn_free(dst);
    nn_free(NULL);
}

/* FTZ/DAZ: a product whose exact result is subnormal comes out as zero, and a subnormal
 * input reads as zero. */
static void test_denormals(void)
{
#if !defined(__x86_64__)
    return; /* FTZ/DAZ are x86 settings */
#endif
    volatile float tiny = 1e-30f, small = 1e-10f, sub = 1e-41f;
    CHECK(nn_flush_denormals() == 0, "FTZ/DAZ not available on this x86-64 build");
    volatile float p = tiny * small; /* 1e-40: subnormal */
    CHECK(p == 0.0f, "1e-30 * 1e-10 = %g with FTZ, expected 0", (double)p);
    volatile float q = sub * 1.0f;
    CHECK(q == 0.0f, "a subnormal input read as %g with DAZ, expected 0", (double)q);
}

/* A frozen prefix of the parameter block does not move; the rest does. */
static void test_frozen(void)
{
    nn_arch a;
    nn_arch_build(&a, "cnn-s", 28, 28, 1, 10);
    nn_net *n = nn_create(&a, 8);
    nn_init(n, 5);
    rng_t r;
    rng_seed(&r, 6);
    fill(nn_input(n), 8 * 784, &r);
    uint8_t labels[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    size_t conv = nn_conv_params(&a);
    float *before = malloc(sizeof(float) * a.nparam);
    memcpy(before, n->param, sizeof(float) * a.nparam);
    nn_optim o = {.kind = NN_ADAM, .lr = 1e-2f, .momentum = 0.9f, .weight_decay = 1e-4f, .frozen = conv};
    for (int step = 0; step < 3; step++) {
        net_loss(n, 8, 0, labels, NULL, 1);
        nn_backward(n, 8);
        nn_step(n, &o);
    }
    CHECK(conv > 0 && memcmp(before, n->param, sizeof(float) * conv) == 0, "frozen convolution layers moved");
    CHECK(memcmp(before + conv, n->param + conv, sizeof(float) * (a.nparam - conv)) != 0, "the dense layers did not move");
    free(before);
    nn_free(n);
}

/* A colour input's channel planes: each sample's output is the same in a batch as alone
 * (a layout that mixed samples' channels would pass the gradient check but not this). */
static void test_planes(void)
{
    nn_arch a;
    CHECK(nn_arch_build(&a, "cnn-s", 12, 10, 3, 5) == 0 && a.layer[0].kind == NN_PLANES && a.in_size == 360,
          "cnn-s on 12x10x3");
    nn_arch g;
    CHECK(nn_arch_build(&g, "cnn-s", 12, 10, 1, 5) == 0 && g.layer[0].kind == NN_CONV3, "no planes layer for grey");
    CHECK(nn_arch_build(&g, "cnn-s", 3, 3, 1, 5) == -1, "a 3x3 input pooled twice was accepted");
    int B = 3;
    nn_net *n = nn_create(&a, B);
    nn_init(n, 5);
    rng_t r;
    rng_seed(&r, 6);
    float x[3 * 360], alone[3 * 5];
    fill(x, sizeof x / sizeof *x, &r);
    for (int i = 0; i < B; i++) {
        memcpy(nn_input(n), x + i * 360, sizeof(float) * 360);
        memcpy(alone + i * 5, nn_forward(n, 1), sizeof(float) * 5);
    }
    memcpy(nn_input(n), x, sizeof x);
    const float *out = nn_forward(n, B);
    double worst = 0;
    for (int j = 0; j < B * 5; j++)
        worst = fmax(worst, fabs(out[j] - alone[j]));
    CHECK(worst < 1e-5, "batch of 3 against one at a time: %g", worst);
    nn_free(n);
}

/* A hash of everything the HOT loops compute: every zoo model at two input shapes trained 6
 * steps with Adam and with SGD from fixed data (parameters, outputs), and rendered, quantised
 * samples of every level and both tasks, and their expansion into network inputs and targets. The same on every clone of one machine (the
 * `clones` test compares the builds; OpenBLAS picks its kernels by CPU, the same for all). */
static unsigned long long fingerprint(void)
{
    unsigned long long h = 0xcbf29ce484222325ULL;
    const int shapes[][4] = {{28, 28, 1, 10}, {11, 9, 3, 5}};
    for (int m = 0; m < nn_model_count(); m++)
        for (int sh = 0; sh < 2; sh++)
            for (int opt = 0; opt < 2; opt++) {
                nn_arch a;
                nn_arch_build(&a, nn_model_name(m), shapes[sh][0], shapes[sh][1], shapes[sh][2], shapes[sh][3]);
                nn_net *n = nn_create(&a, 8);
                nn_init(n, 11);
                rng_t r;
                rng_seed(&r, 12);
                uint8_t labels[8];
                for (int i = 0; i < 8; i++)
                    labels[i] = (uint8_t)(i % shapes[sh][3]);
                nn_optim rc = {.kind = opt ? NN_ADAM : NN_SGD, .lr = 0.01f, .momentum = 0.9f,
                               .weight_decay = 1e-4f};
                for (int step = 0; step < 6; step++) {
                    fill(nn_input(n), (size_t)8 * a.in_size, &r);
                    const float *out = nn_forward(n, 8);
                    h = check_fnv(h, out, (size_t)8 * a.out_size * sizeof(float));
                    nn_softmax_xent(nn_dout(n), NULL, out, labels, 8, a.out_size);
                    nn_backward(n, 8);
                    nn_step(n, &rc);
                }
                h = check_fnv(h, n->param, a.nparam * sizeof(float));
                nn_free(n);
            }
    { /* the sigmoid cross-entropy (the pre-training loss) */
        enum { NB = 4099 };
        static float z[NB], t[NB], d[NB];
        rng_t r;
        rng_seed(&r, 13);
        bce_inputs(z, t, NB, &r);
        long wrong = 0;
        double loss = nn_sigmoid_bce(d, &wrong, z, t, 1, NB);
        h = check_fnv(h, d, sizeof d);
        h = check_fnv(h, &loss, sizeof loss);
        h = check_fnv(h, &wrong, sizeof wrong);
    }
    synth_sample *s = malloc(sizeof *s);
    const int dims[][3] = {{28, 28, 1}, {32, 32, 3}, {20, 33, 1}};
    uint8_t buf[DATA_MAX_CHANNELS * SYNTH_MAX_PIXELS + SYNTH_MAX_PIXELS / 8 + 8];
    static float x[DATA_MAX_CHANNELS * SYNTH_MAX_PIXELS], target[SYNTH_MAX_PIXELS];
    for (int d = 0; d < 3; d++) {
        train_input in = {.rows = dims[d][0], .cols = dims[d][1], .channels = dims[d][2]};
        in.pixels = in.rows * in.cols * in.channels;
        for (int c = 0; c < in.channels; c++)
            in.mean[c] = 0.2f + 0.1f * (float)c, in.inv_std[c] = 1.0f / (0.3f + 0.05f * (float)c);
        for (int task = 0; task < 2; task++)
            for (int level = 1; level <= SYNTH_MAX_COMPLEXITY; level++)
                for (int i = 0; i < 100; i++) {
                    int T = task ? TASK_SEGMENT : TASK_MULTILABEL;
                    train_render_sample(buf, s, &in, 5, (uint64_t)i, level, T);
                    h = check_fnv(h, buf, train_sample_bytes(&in, T));
                    train_expand_sample(x, target, buf, &in, T);
                    h = check_fnv(h, x, (size_t)in.pixels * sizeof(float));
                    h = check_fnv(h, target, (size_t)train_task_outputs(&in, T) * sizeof(float));
                }
    }
    free(s);
    return h;
}

int main(int argc, char **argv)
{
    CHECK_CLONE_RUNS();
    if (argc > 1 && strcmp(argv[1], "--fingerprint") == 0) {
        nn_flush_denormals();
        printf("%016llx\n", fingerprint());
        return 0;
    }
    test_denormals();
    test_planes();
    test_kernels();
    test_direct_conv();
    test_direct_vs_gemm();
    test_conv_kernels();
    test_pool_kernel();
    test_conv_kernel_nets();
    test_sigmoid_bce();
    test_sample_bits();
    for (int m = 0; m < nn_model_count(); m++) {
        gradient_check(nn_model_name(m), 28, 28, 1, 10, 0);
        gradient_check(nn_model_name(m), 28, 28, 1, 12, 1);
        /* other inputs: colour (the planes layer before the first convolution), odd sides
         * (pooling drops the last row and column), the smallest size, 5 classes */
        gradient_check(nn_model_name(m), 16, 16, 3, 5, 0);
        gradient_check(nn_model_name(m), 11, 9, 3, 12, 1);
        gradient_check(nn_model_name(m), 8, 8, 1, 5, 0);
    }
    test_optimisers();
    test_backbone_copy();
    test_frozen();
    return test_summary("test_nn");
}
