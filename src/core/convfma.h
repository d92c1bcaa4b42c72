/* The 3x3 convolution as OpenBLAS computes it, without im2col (internal to the core library;
 * used by nn.c for the convolutions that are a GEMM).
 *
 * A convolution layer that is a GEMM, y [K, B*H*W] = w [K, C*9] x im2col(x), gets from
 * OpenBLAS 0.3.21's large-matrix kernels for SkylakeX and Cooperlake (AVX-512), whenever
 * C*9 fits one block of its inner dimension, each output as one chain of fused
 * multiply-adds over the inner dimension in order, from zero, added to the zeroed output.
 * (Its Haswell kernels, which AVX2 CPUs get, sum part of the outputs as two chains, the
 * model of which is results/bench/haswell-order.c: there the check below turns these
 * kernels down and OpenBLAS runs.) The kernels here compute that same chain straight from the
 * zero-padded input planes, 16 (AVX-512) or 8 (AVX2) output pixels and up to 16 output
 * channels at a time, so that the im2col matrix is neither written nor packed. They are used
 * only on a CPU with FMA, and only for a layer shape and batch size for which nn.c has
 * checked, on random data, that they give OpenBLAS's bits (OpenBLAS takes other kernels for
 * small products, and other builds may sum in another order); elsewhere the GEMM is
 * OpenBLAS's, as before. Either way the bits are OpenBLAS's. */
#ifndef SYNLAW_CONVFMA_H
#define SYNLAW_CONVFMA_H

#include <stddef.h>

enum { CONVFMA_BLAS, CONVFMA_AVX2, CONVFMA_AVX512 };

/* out [K][L] = the convolution without bias of the C padded input planes pads (plane c at
 * pads + c*PP, rows of Wp = W + 2 floats, the image at row 1, column 1, zeros around it),
 * output pixel (y, x) at q = y*Wp + x (the columns x >= W of each row are computed and not
 * meaningful), for q < L; L a multiple of 16, and pads readable up to q + 2*Wp + 2 for
 * q < L. w [K][C*9] as for the GEMM. impl: CONVFMA_AVX2 or CONVFMA_AVX512, on a CPU that runs
 * it (convfma_cpu). */
void convfma_out(int impl, float *restrict out, const float *restrict pads, size_t PP,
                 const float *restrict w, int C, int Wp, size_t L, int K);

/* dcol [C9][n] = w^T dy, the GEMM of the input gradient: dcol[r][j] = the sum over k < K in
 * order of w[k][r] dy[k][j] (w [K][C9], dy rows ldy apart), one fused multiply-add each,
 * from +0; as OpenBLAS's kernels compute it when K fits one block of the inner dimension. */
void convfma_dcol(int impl, float *restrict dcol, const float *restrict w, const float *restrict dy, size_t ldy,
                  int C9, int n, int K);

/* dwT [C*9][K] = the weight gradient's GEMM dw = dy im2col(x)^T, transposed, over the
 * N = B*H*W columns of a batch, straight from the padded planes: pads holds the B samples'
 * C padded planes each (sample b, plane c at pads + (b*C + c)*PP, as for convfma_out), dyT
 * [N][K] the output gradient by column. OpenBLAS splits this long inner dimension into
 * blocks (q columns while at least 2 q remain, then the rest in two parts, the first a
 * multiple of unroll, if more than q): per block each element is one chain of fused
 * multiply-adds in order from +0, added to the element. The same here, given the q and
 * unroll of the OpenBLAS to match (nn.c finds them by comparing). */
void convfma_dw(int impl, float *restrict dwT, const float *restrict pads, size_t PP, const float *restrict dyT,
                int C, int H, int W, int K, size_t N, int q, int unroll);

/* The 2 x 2 max-pool of one plane x [H x W] (rows ldx apart) into y [P x Q] and the index of
 * each window's maximum (the first of equals, in the plane as if ldx were W), as nn.c's
 * scalar loop computes them: 1 done, with impl CONVFMA_AVX512; 0 (nothing done) with
 * another impl, which has no such kernel. */
int convfma_pool2(int impl, float *restrict y, int *restrict arg, const float *restrict x, int P, int Q, int W,
                  int ldx);

/* 1 if this CPU runs impl (CONVFMA_BLAS: always). */
int convfma_cpu(int impl);

/* The kernel nn.c tries on this machine: the widest this CPU runs, or the one that
 * SYNLAW_CONV_KERNEL names (blas, avx2 or avx512) if it runs it, else blas. And its name. */
int convfma_impl(void);
const char *convfma_name(int impl);

#endif
