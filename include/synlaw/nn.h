/* Small neural networks on OpenBLAS: the model zoo, forward and backward passes, losses and
 * optimisers.
 *
 * Dimension letters used throughout: B batch, C input channels, H x W input height x width,
 * K output channels (or features), P x Q output height x width, N classes/outputs.
 *
 * A network is a sequence of layers: backbone layers then one linear head. Parameters and
 * gradients each live in one contiguous float block (param, grad) with per-layer offsets, so
 * the backbone is a prefix of the block and moves to a fresh-headed net with one memcpy.
 * Every buffer the training loop needs is allocated by nn_create: no allocation inside it. */
#ifndef SYNLAW_NN_H
#define SYNLAW_NN_H

#include <stddef.h>
#include <stdint.h>

enum { NN_MAX_LAYER = 16, NN_NAME_LEN = 32 };
enum { NN_CONV_CHECKS = 4 }; /* batch sizes a network remembers per layer (training, evaluation, remainders) */

/* Optimiser settings of one training phase (a view of a job recipe; nn knows no jobs). */
typedef enum { NN_SGD = 0, NN_ADAM = 1 } nn_optimizer;

typedef struct {
    nn_optimizer kind;
    float lr;           /* learning rate */
    float momentum;     /* SGD momentum; Adam beta1 */
    float weight_decay; /* L2 on weights (decoupled for Adam) */
    size_t frozen;      /* parameters at the start of the block that stay fixed (a frozen
                           backbone or its convolution layers); 0: train everything */
} nn_optim;

/* NN_PLANES turns the input rows [B, C*H*W] into channel planes [C, B, H*W] before the first
 * convolution of a colour network (with one channel the two layouts are the same and the
 * layer is not there). */
typedef enum { NN_LINEAR, NN_RELU, NN_CONV3, NN_POOL2, NN_FLAT, NN_PLANES } nn_kind;

typedef struct {
    nn_kind kind;
    int C, H, W;   /* input shape; linear layers use C = in features, H = W = 1 */
    int K, P, Q;   /* output shape; linear layers use K = out features, P = Q = 1 */
    size_t w, b;   /* offsets of weights and bias in the parameter block (linear, conv) */
} nn_layer;

/* Architecture: shapes and offsets only, no weights. */
typedef struct {
    char name[NN_NAME_LEN];
    int nlayer;
    nn_layer layer[NN_MAX_LAYER]; /* layer[nlayer-1] is the linear head */
    size_t nparam;                /* whole block */
    size_t nparam_backbone;       /* prefix of the block that excludes the head */
    int in_rows, in_cols, in_channels; /* input image */
    int in_size;                  /* input values per sample: channel planes, C*H*W */
    int feat_size;                /* backbone output features per sample */
    int out_size;                 /* head outputs per sample */
    double flops;                 /* forward multiply-adds x 2 per sample */
} nn_arch;

/* Weights, optimiser state and working buffers of one network. */
typedef struct {
    nn_arch arch;
    int batch_cap;                    /* largest batch the buffers hold */
    float *param, *grad;              /* [nparam] each */
    float *opt_m, *opt_v;             /* [nparam] each: momentum / Adam moments */
    long opt_t;                       /* optimiser steps taken */
    float *act;                       /* activations, act + act_off[l] is layer l's input, [B, size] */
    size_t act_off[NN_MAX_LAYER + 1]; /* act_off[nlayer] is the head output */
    float *dact;                      /* gradients w.r.t. activations, same layout as act */
    int direct_first;                 /* the first convolution is computed directly (see
                                         nn_conv3_direct_forward); 0 with SYNLAW_DIRECT_CONV=0 */
    float *col;                       /* im2col buffers, [B, C*9, P*Q] per conv layer (the
                                         direct first layer: its scratch) */
    size_t col_off[NN_MAX_LAYER];
    float *dcol;                      /* im2col gradient of a few samples (nn_conv3_dcol_floats),
                                         largest conv layer but the first */
    int *argmax;                      /* max-pool winners, [B, K*P*Q] per pool layer */
    size_t arg_off[NN_MAX_LAYER];
    /* The convolutions that are a GEMM followed by a pool go through kernels without im2col
     * that give OpenBLAS's bits (src/core/convfma.h), once checked against OpenBLAS for that
     * layer and batch size: the forward kernel at the first forward pass at that size, the
     * gradients' at the first backward pass (only where the forward kernel matched) */
    int conv_kernel;                      /* convfma_impl() at creation (CONVFMA_BLAS: none) */
    struct {
        int batch;                        /* 0: unused slot */
        unsigned char ok;                 /* where the kernels gave OpenBLAS's bits: 1 the
                                             forward pass, 2 the input gradient, 4 the weight
                                             gradient (in blocks of q columns) */
        unsigned char grads_checked;      /* the gradients' kernels were checked */
        int q;
    } conv_check[NN_MAX_LAYER][NN_CONV_CHECKS]; /* per layer, the last batch sizes seen */
    int conv_check_next[NN_MAX_LAYER];    /* the slot a new batch size takes (round robin) */
    unsigned char col_stale[NN_MAX_LAYER]; /* layer i's im2col buffer does not hold its input's
                                              columns (a kernel ran): backward builds them */
} nn_net;

/* Flush subnormal floats to zero (FTZ) and read them as zero (DAZ) on the calling thread,
 * x86-64 only (elsewhere a no-op; returns 0 when set, -1 when not available). As weights,
 * gradients and Adam's moments shrink during long training, subnormal arithmetic would make
 * steps two to three times slower. Results stay deterministic (the same bits on any rank
 * count, shard or resume) but differ from a process without it: call it once at start-up in
 * every process that trains, before any training (the application and the tests do). */
int nn_flush_denormals(void);

/* The clone of the vectorised loops that this process runs: "avx512f", "avx2" or
 * "baseline" (src/core/simd.h). */
const char *nn_clone_name(void);

/* Model zoo. */
int nn_model_count(void);
const char *nn_model_name(int i);
int nn_model_find(const char *name);            /* index or -1 */
void nn_model_list(char *buf, size_t len);      /* "mlp-s, mlp-m, ..." */
/* Build the architecture of zoo model `name` for rows x cols images of `channels` channels
 * (the layers' sizes follow: a convolution stage halves the image, the first dense layer
 * takes what remains) with a head of `out_size` outputs; 0 or -1 (unknown model, or a shape
 * that pooling would reduce to nothing). */
int nn_arch_build(nn_arch *arch, const char *name, int rows, int cols, int channels, int out_size);

/* The layers as text, e.g. "conv3x3-8 pool2 conv3x3-16 pool2 fc64 fc10". */
void nn_arch_describe(const nn_arch *arch, char *buf, size_t len);

/* Allocate a network; NULL on out-of-memory. The caller frees with nn_free (NULL is fine). */
nn_net *nn_create(const nn_arch *arch, int batch_cap);
void nn_free(nn_net *net);
/* He-normal weights, zero biases, zero optimiser state; a function of seed only. */
void nn_init(nn_net *net, uint64_t seed);
/* Copy the backbone weights of src into dst (same model, any heads); with conv_only, only
 * the convolution layers (an MLP then transfers nothing). */
void nn_copy_backbone(nn_net *dst, const nn_net *src, int conv_only);
/* The same from a stored backbone: params holds arch.nparam_backbone values of the same
 * model (a prefix of the parameter block). */
void nn_load_backbone(nn_net *dst, const float *params, int conv_only);

/* Input buffer [B, in_size] to fill before nn_forward: per sample its channel planes. */
float *nn_input(nn_net *net);
/* Forward pass over B <= batch_cap samples; returns the head output [B, out_size]. */
const float *nn_forward(nn_net *net, int B);
/* Buffer [B, out_size] where the loss writes d(loss)/d(output) before nn_backward. */
float *nn_dout(nn_net *net);
/* Backward pass after nn_forward(B): overwrites grad with d(loss)/d(param). */
void nn_backward(nn_net *net, int B);
/* Parameters of the convolution layers: a prefix of the block (0 for an MLP). */
size_t nn_conv_params(const nn_arch *arch);
/* One optimiser step with o's optimiser, learning rate, momentum and decay. */
void nn_step(nn_net *net, const nn_optim *o);

/* Losses. Both return the mean loss over the batch, write d(loss)/d(logits) into dlogits
 * (which may be NULL) and add the number of wrong decisions to *nwrong (may be NULL).
 * Softmax cross-entropy: labels[B] in 0..N-1; a wrong decision is a wrong argmax.
 * Sigmoid BCE: targets[B, N] in {0, 1}, loss averaged over B and N; a wrong decision is an
 * output on the wrong side of 0.5, counted per output. */
double nn_softmax_xent(float *dlogits, long *nwrong, const float *logits, const uint8_t *labels,
                       int B, int N);
double nn_sigmoid_bce(float *dlogits, long *nwrong, const float *logits, const float *targets,
                      int B, int N);

/* Layer kernels, exposed for the tests. Fast paths use OpenBLAS; *_naive are the direct
 * loops they are checked against. Convolution (3x3, stride 1, zero padding 1) works on
 * channel-major batches: x [C, B, H, W], w [K, C*9], y [K, B, H, W], col [C*9, B*H*W],
 * dcol scratch (nn_conv3_dcol_floats); linear x [B, C], w [K, C], y [B, K]. */
void nn_linear_forward(float *y, const float *x, const float *w, const float *b, int B, int C, int K);
void nn_linear_forward_naive(float *y, const float *x, const float *w, const float *b, int B, int C, int K);
void nn_conv3_forward(float *y, float *col, const float *x, const float *w, const float *b,
                      int B, int C, int H, int W, int K);
void nn_conv3_forward_naive(float *y, const float *x, const float *w, const float *b,
                            int B, int C, int H, int W, int K);
/* dw [K, C*9] and db [K] (overwritten) and, if dx is not NULL, dx [C, B, H, W] from dy
 * [K, B, H, W] and the forward pass's col; dcol is scratch of nn_conv3_dcol_floats (the input
 * gradient goes a few samples at a time). */
size_t nn_conv3_dcol_floats(int B, int C, int H, int W);
void nn_conv3_backward(float *dw, float *db, float *dx, float *dcol, const float *dy,
                       const float *col, const float *w, int B, int C, int H, int W, int K);
/* 1 when networks created now compute their first convolution directly (the default), 0
 * when the environment has SYNLAW_DIRECT_CONV=0 (every layer a GEMM, the earlier rounding). */
int nn_direct_conv(void);
/* The direct convolution of a first layer with few input channels (no im2col): scratch holds
 * nn_conv3_direct_scratch floats. Backward gives dw and db only (a first layer needs no dx). */
size_t nn_conv3_direct_scratch(int C, int H, int W, int K);
void nn_conv3_direct_forward(float *y, float *scratch, const float *x, const float *w, const float *b,
                             int B, int C, int H, int W, int K);
void nn_conv3_direct_backward(float *dw, float *db, float *scratch, const float *dy, const float *x, int B,
                              int C, int H, int W, int K);
void nn_conv3_backward_naive(float *dw, float *db, float *dx, const float *dy, const float *x,
                             const float *w, int B, int C, int H, int W, int K);

#endif
