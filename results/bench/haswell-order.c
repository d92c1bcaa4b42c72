/* The order in which OpenBLAS 0.3.21 sums each output of sgemm with its Haswell kernels
 * (the kernels of AVX2 CPUs), on one thread, written down as a model and checked output by
 * output against cblas_sgemm. This is the specification that convolution kernels for AVX2
 * machines would have to follow to keep OpenBLAS's bits (issue 12: today nn.c's checks turn
 * the kernels of src/core/convfma.c down there, as they sum every output as one chain).
 *
 * Row-major C (M x N) = op(A) (M x K) op(B) (K x N), as nn.c calls it. OpenBLAS computes the
 * column-major C^T = B^T A^T: its kernel's "m" is N (j here) and its "n" is M (i here).
 * - The inner dimension is cut into blocks of Q = 320 while 640 or more are left, then the
 *   rest in two parts (the first rounded up to a multiple of 8) if more than 320. Each
 *   block's sum is added to the output with one fused multiply-add (x 1), from +0.
 * - Within a block of kb, an output is either one chain of fused multiply-adds over k in
 *   order from +0, or two: the odd k below 8 floor(kb / 8) in one, all other k in the
 *   other, each in order from +0, then added. Which one depends on the output's tile:
 *   - j is cut into blocks of P = 320 in the same way; within a block of mb columns, those
 *     past m8 = 8 floor(mb / 8) are one chain;
 *   - i is cut, in the first j block, into chunks of 12 while 12 are left, then 4 while more
 *     than 4 are left, then the rest; in later j blocks into 12s, then one 8, 4, 2 or 1;
 *   - chunks of 4: two chains (below m8); chunks of 8, 2, 1: one chain;
 *   - chunks of 12, when mb >= 16: two chains for the first 6 rows at the block's first 8
 *     columns, and at its last 8 below m8 for the first 6 rows if m8 is a multiple of 16,
 *     else for the last 6; one chain everywhere else.
 * The model was read off the disassembly of sgemm_kernel_HASWELL (an 8 x 6 accumulator
 * block with even and odd k in separate registers, added before the store) and off maps of
 * which outputs match which order, then checked here. It is not OpenBLAS's SkylakeX order
 * (one chain everywhere; the control run of haswell-order.sh shows the model failing
 * there), and not valid with more than one OpenBLAS thread.
 *
 * build: gcc -O2 -std=c17 results/bench/haswell-order.c -o /tmp/haswell-order -lopenblas -lm
 * usage: OPENBLAS_CORETYPE=Haswell OPENBLAS_NUM_THREADS=1 /tmp/haswell-order SHAPES MMAX NMAX KMAX [NN|TN|NT|TT]
 *        SHAPES random shapes up to those sizes; SHAPES = 1: the one shape MMAX x NMAX x KMAX.
 * Exit status 0 when every output matches the model. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { P = 320, Q = 320, UNROLL_M = 8, UNROLL_N = 4 };

static float urand(unsigned *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) / 16777216.0) - 0.5f;
}

static unsigned below(unsigned *r, int n)
{
    *r = *r * 1103515245u + 12345u;
    return 1 + (*r >> 8) % (unsigned)n;
}

/* The next block of a dimension with left elements to go, as OpenBLAS's level-3 driver cuts
 * it: p while at least 2p are left, else the rest in two parts if more than p. */
static int next_block(int left, int p)
{
    if (left >= 2 * p)
        return p;
    if (left > p)
        return (left / 2 + UNROLL_M - 1) / UNROLL_M * UNROLL_M;
    return left;
}

/* 1 if output (i, j) of C (M x N) is summed as two chains in each inner block, 0 if one. */
static int two_chains(int M, int N, int i, int j)
{
    int j0 = 0, mb;
    while (j >= j0 + (mb = next_block(N - j0, P)))
        j0 += mb;
    int jl = j - j0, first = j0 == 0, i0 = 0, nt;
    for (;;) {
        int left = M - i0;
        if (first)
            nt = left >= 3 * UNROLL_N ? 3 * UNROLL_N : left > UNROLL_N ? UNROLL_N : left;
        else
            nt = left >= 12 ? 12 : left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
        if (i < i0 + nt)
            break;
        i0 += nt;
    }
    int m8 = mb / 8 * 8, head_rows = i - i0 < 6;
    if (jl >= m8)
        return 0;
    if (nt == 4)
        return 1;
    if (nt != 12 || mb < 16)
        return 0;
    if (head_rows && jl < 8)
        return 1;
    if (jl >= m8 - 8)
        return (m8 % 16 == 0) == head_rows;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: haswell-order SHAPES MMAX NMAX KMAX [NN|TN|NT|TT]\n");
        return 2;
    }
    int shapes = atoi(argv[1]), mmax = atoi(argv[2]), nmax = atoi(argv[3]), kmax = atoi(argv[4]);
    int ta = argc > 5 && argv[5][0] == 'T', tb = argc > 5 && argv[5][1] == 'T';
    unsigned s = 11, r = 5;
    long differ = 0, total = 0, split = 0;
    for (int t = 0; t < shapes; t++) {
        int M = shapes == 1 ? mmax : (int)below(&r, mmax);
        int N = shapes == 1 ? nmax : (int)below(&r, nmax);
        int K = shapes == 1 ? kmax : (int)below(&r, kmax);
        float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
        float *At = malloc(sizeof(float) * M * K), *Bt = malloc(sizeof(float) * K * N);
        float *C = calloc((size_t)M * N, sizeof(float));
        if (!A || !B || !At || !Bt || !C) {
            fprintf(stderr, "haswell-order: out of memory at %d x %d x %d\n", M, N, K);
            return 2;
        }
        for (int i = 0; i < M * K; i++)
            A[i] = urand(&s);
        for (int i = 0; i < K * N; i++)
            B[i] = urand(&s);
        for (int i = 0; i < M; i++)
            for (int k = 0; k < K; k++)
                At[k * M + i] = A[i * K + k];
        for (int k = 0; k < K; k++)
            for (int j = 0; j < N; j++)
                Bt[j * K + k] = B[k * N + j];
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K,
                    1.0f, ta ? At : A, ta ? M : K, tb ? Bt : B, tb ? K : N, 0.0f, C, N);
        long d = 0;
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                int two = two_chains(M, N, i, j);
                float c = 0.0f;
                for (int k0 = 0, kb; k0 < K; k0 += kb) {
                    kb = next_block(K - k0, Q);
                    int main8 = kb / 8 * 8;
                    float even = 0.0f, odd = 0.0f;
                    for (int k = 0; k < kb; k++) {
                        float a = A[i * K + k0 + k], b = B[(size_t)(k0 + k) * N + j];
                        if (two && k < main8 && (k & 1))
                            odd = fmaf(a, b, odd);
                        else
                            even = fmaf(a, b, even);
                    }
                    c = fmaf(even + odd, 1.0f, c);
                }
                split += two;
                d += c != C[(size_t)i * N + j];
            }
        if (d)
            printf("M %d N %d K %d: %ld of %d outputs differ\n", M, N, K, d, M * N);
        differ += d;
        total += (long)M * N;
        free(A), free(B), free(At), free(Bt), free(C);
    }
    printf("%d shape(s), %ld outputs (%ld of them two chains): %ld differ from cblas_sgemm\n", shapes, total,
           split, differ);
    return differ != 0;
}
