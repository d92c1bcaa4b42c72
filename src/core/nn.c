/* Layers, losses and optimisers. Dense products go through cblas_sgemm. Convolution stages
 * keep activations channel-major, [C, B, H, W], so that im2col of the whole batch gives one
 * [C*9, B*H*W] matrix and each convolution is a single GEMM (forward, weight gradient and
 * input gradient alike) rather than one small GEMM per sample; a flatten layer turns
 * [C, B, H*W] into the [B, C*H*W] rows of the dense layers. A dense or convolution layer
 * followed by ReLU adds its bias and applies the ReLU in one pass. Letters: B batch,
 * C/H/W input, K/P/Q output, N outputs. */
#include "synlaw/nn.h"

#include "synlaw/rng.h"
#include "convfma.h"
#include "simd.h"

#include <cblas.h>
#include <math.h>
#if defined(__x86_64__)
#include <pmmintrin.h>
#include <xmmintrin.h>
#endif
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int nn_flush_denormals(void)
{
#if defined(__x86_64__)
    _MM_SET_FLUSH_ZERO_MODE(_MM_FLUSH_ZERO_ON);
    _MM_SET_DENORMALS_ZERO_MODE(_MM_DENORMALS_ZERO_ON);
    return 0;
#else
    return -1;
#endif
}

/* ---- model zoo ---------------------------------------------------------------------- */

typedef struct {
    const char *name;
    int nconv;
    int conv[3];   /* channels of each conv3+relu+pool2 stage */
    int nfc;
    int fc[3];     /* widths of each linear+relu layer after the convolutions */
} zoo_entry;

static const zoo_entry zoo[] = {
    {"mlp-s", 0, {0}, 2, {128, 128, 0}},
    {"mlp-m", 0, {0}, 2, {256, 256, 0}},
    {"mlp-l", 0, {0}, 3, {512, 512, 512}},
    {"cnn-s", 2, {8, 16, 0}, 1, {64, 0, 0}},
    {"cnn-m", 2, {16, 32, 0}, 1, {128, 0, 0}},
    {"cnn-l", 2, {32, 64, 0}, 1, {256, 0, 0}},
};
enum { ZOO_COUNT = sizeof zoo / sizeof zoo[0] };

int nn_model_count(void) { return ZOO_COUNT; }
const char *nn_model_name(int i) { return i >= 0 && i < ZOO_COUNT ? zoo[i].name : NULL; }

const char *nn_clone_name(void) { return simd_clone_name(); }

int nn_model_find(const char *name)
{
    for (int i = 0; i < ZOO_COUNT; i++)
        if (strcmp(zoo[i].name, name) == 0)
            return i;
    return -1;
}

void nn_model_list(char *buf, size_t len)
{
    buf[0] = '\0';
    for (int i = 0; i < ZOO_COUNT; i++) {
        strncat(buf, zoo[i].name, len - strlen(buf) - 1);
        if (i + 1 < ZOO_COUNT)
            strncat(buf, ", ", len - strlen(buf) - 1);
    }
}

static void add_layer(nn_arch *a, nn_kind kind, int C, int H, int W, int K, int P, int Q)
{
    nn_layer *l = &a->layer[a->nlayer++];
    *l = (nn_layer){.kind = kind, .C = C, .H = H, .W = W, .K = K, .P = P, .Q = Q};
    if (kind == NN_LINEAR || kind == NN_CONV3) {
        size_t nw = (size_t)K * C * (kind == NN_CONV3 ? 9 : 1);
        l->w = a->nparam;
        l->b = a->nparam + nw;
        a->nparam += nw + (size_t)K;
        a->flops += 2.0 * (double)nw * P * Q;
    }
}

int nn_arch_build(nn_arch *a, const char *name, int rows, int cols, int channels, int out_size)
{
    int m = nn_model_find(name);
    if (m < 0 || out_size <= 0 || channels < 1 || rows < 1 || cols < 1)
        return -1;
    const zoo_entry *z = &zoo[m];
    if ((rows >> z->nconv) < 1 || (cols >> z->nconv) < 1)
        return -1; /* pooled to nothing */
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "%s", name);
    int C = channels, H = rows, W = cols;
    a->in_rows = rows;
    a->in_cols = cols;
    a->in_channels = channels;
    a->in_size = C * H * W;
    if (z->nconv > 0 && C > 1) /* [B, C*H*W] -> [C, B, H*W] */
        add_layer(a, NN_PLANES, C, H, W, C, H, W);
    for (int i = 0; i < z->nconv; i++) {
        /* conv, pool, ReLU: the same function as conv, ReLU, pool (max and ReLU commute),
         * with the ReLU on a quarter of the values. */
        add_layer(a, NN_CONV3, C, H, W, z->conv[i], H, W);
        add_layer(a, NN_POOL2, z->conv[i], H, W, z->conv[i], H / 2, W / 2);
        add_layer(a, NN_RELU, z->conv[i], H / 2, W / 2, z->conv[i], H / 2, W / 2);
        C = z->conv[i];
        H /= 2;
        W /= 2;
    }
    int F = C * H * W;
    if (z->nconv > 0) /* [C, B, H, W] -> [B, C*H*W] */
        add_layer(a, NN_FLAT, C, H, W, F, 1, 1);
    for (int i = 0; i < z->nfc; i++) {
        add_layer(a, NN_LINEAR, F, 1, 1, z->fc[i], 1, 1);
        add_layer(a, NN_RELU, z->fc[i], 1, 1, z->fc[i], 1, 1);
        F = z->fc[i];
    }
    a->feat_size = F;
    a->nparam_backbone = a->nparam;
    add_layer(a, NN_LINEAR, F, 1, 1, out_size, 1, 1);
    a->out_size = out_size;
    return 0;
}

void nn_arch_describe(const nn_arch *a, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int l = 0; l < a->nlayer && used < len; l++) {
        const nn_layer *y = &a->layer[l];
        const char *sep = used ? " " : "";
        int w = 0;
        switch (y->kind) {
        case NN_LINEAR: w = snprintf(buf + used, len - used, "%sfc%d", sep, y->K); break;
        case NN_CONV3: w = snprintf(buf + used, len - used, "%sconv3x3-%d", sep, y->K); break;
        case NN_POOL2: w = snprintf(buf + used, len - used, "%spool2", sep); break;
        case NN_RELU:
        case NN_FLAT:
        case NN_PLANES: break;
        }
        used += w > 0 ? (size_t)w : 0;
    }
}

/* ---- allocation ---------------------------------------------------------------------- */

/* The first layer that is not a mere change of layout of the input. */
static int first_param_layer(const nn_arch *a) { return a->nlayer > 0 && a->layer[0].kind == NN_PLANES ? 1 : 0; }

/* Layer i is a convolution computed directly (see conv3_direct): the first layer, with at most
 * DIRECT_MAX_C input channels, unless the environment has SYNLAW_DIRECT_CONV=0. That switch
 * gives back the GEMM of every layer, and with it the rounding of synlaw before the direct
 * kernel (to reproduce older results bit for bit). */
enum { DIRECT_MAX_C = 4 };
static int conv_direct(const nn_net *n, int i)
{
    const nn_arch *a = &n->arch;
    return n->direct_first && a->layer[i].kind == NN_CONV3 && i == first_param_layer(a) &&
           a->layer[i].C <= DIRECT_MAX_C;
}

/* Layer i is a direct convolution followed by a max-pool and a ReLU: forward and backward
 * go through the pool without the full-size output or its gradient. */
static int direct_pool(const nn_net *n, int i)
{
    const nn_arch *a = &n->arch;
    return i >= 0 && i + 2 < a->nlayer && conv_direct(n, i) && a->layer[i + 1].kind == NN_POOL2 &&
           a->layer[i + 2].kind == NN_RELU;
}

static size_t out_count(const nn_layer *l) { return (size_t)l->K * l->P * l->Q; }

int nn_direct_conv(void)
{
    const char *direct = getenv("SYNLAW_DIRECT_CONV");
    return !(direct && strcmp(direct, "0") == 0);
}

static size_t fma_scratch(const nn_layer *l);
static size_t dw_scratch(const nn_layer *l, size_t B);

nn_net *nn_create(const nn_arch *arch, int batch_cap)
{
    nn_net *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->arch = *arch;
    n->batch_cap = batch_cap;
    n->direct_first = nn_direct_conv();
    n->conv_kernel = convfma_impl();
    size_t B = (size_t)batch_cap, acts = B * (size_t)arch->in_size, cols = 0, args = 0, dcol = 0;
    n->act_off[0] = 0;
    for (int i = 0; i < arch->nlayer; i++) {
        const nn_layer *l = &arch->layer[i];
        n->act_off[i + 1] = acts;
        acts += B * out_count(l);
        if (l->kind == NN_CONV3 && conv_direct(n, i)) {
            n->col_off[i] = cols;
            cols += nn_conv3_direct_scratch(l->C, l->H, l->W, l->K);
        } else if (l->kind == NN_CONV3) {
            size_t per = (size_t)l->C * 9 * l->P * l->Q;
            n->col_off[i] = cols;
            size_t need = B * per; /* the kernels' scratch too */
            if (need < fma_scratch(l))
                need = fma_scratch(l);
            if (need < dw_scratch(l, B))
                need = dw_scratch(l, B);
            cols += need;
            size_t dc = nn_conv3_dcol_floats((int)B, l->C, l->H, l->W);
            if (i > first_param_layer(arch) && dc > dcol) /* the first needs no input gradient */
                dcol = dc;
        }
        if (l->kind == NN_POOL2) {
            n->arg_off[i] = args;
            args += B * out_count(l);
        }
    }
    size_t P = arch->nparam;
    n->param = calloc(P, sizeof(float));
    n->grad = calloc(P, sizeof(float));
    n->opt_m = calloc(P, sizeof(float));
    n->opt_v = calloc(P, sizeof(float));
    n->act = calloc(acts, sizeof(float));
    n->dact = calloc(acts, sizeof(float));
    n->col = cols ? calloc(cols, sizeof(float)) : NULL;
    n->dcol = dcol ? calloc(dcol, sizeof(float)) : NULL;
    n->argmax = args ? calloc(args, sizeof(int)) : NULL;
    if (!n->param || !n->grad || !n->opt_m || !n->opt_v || !n->act || !n->dact ||
        (cols && !n->col) || (dcol && !n->dcol) || (args && !n->argmax)) {
        nn_free(n);
        return NULL;
    }
    return n;
}

void nn_free(nn_net *n)
{
    if (!n)
        return;
    free(n->param);
    free(n->grad);
    free(n->opt_m);
    free(n->opt_v);
    free(n->act);
    free(n->dact);
    free(n->col);
    free(n->dcol);
    free(n->argmax);
    free(n);
}

void nn_init(nn_net *n, uint64_t seed)
{
    rng_t r;
    rng_seed(&r, seed);
    const nn_arch *a = &n->arch;
    memset(n->param, 0, a->nparam * sizeof(float));
    memset(n->opt_m, 0, a->nparam * sizeof(float));
    memset(n->opt_v, 0, a->nparam * sizeof(float));
    n->opt_t = 0;
    for (int i = 0; i < a->nlayer; i++) {
        const nn_layer *l = &a->layer[i];
        if (l->kind != NN_LINEAR && l->kind != NN_CONV3)
            continue;
        size_t fan_in = (size_t)l->C * (l->kind == NN_CONV3 ? 9 : 1);
        size_t nw = fan_in * l->K;
        double gain = i == a->nlayer - 1 ? 1.0 : 2.0; /* the head is not followed by ReLU */
        double sd = sqrt(gain / (double)fan_in);
        for (size_t j = 0; j < nw; j++)
            n->param[l->w + j] = (float)(sd * rng_normal(&r));
    }
}

void nn_copy_backbone(nn_net *dst, const nn_net *src, int conv_only)
{
    nn_load_backbone(dst, src->param, conv_only);
}

void nn_load_backbone(nn_net *dst, const float *params, int conv_only)
{
    /* the parameter block is in layer order: the convolutions end at the first dense layer */
    size_t n = conv_only ? nn_conv_params(&dst->arch) : dst->arch.nparam_backbone;
    memcpy(dst->param, params, n * sizeof(float));
}

float *nn_input(nn_net *n) { return n->act; }
float *nn_dout(nn_net *n) { return n->dact + n->act_off[n->arch.nlayer]; }

/* ---- kernels ------------------------------------------------------------------------- */

/* Elementwise loops: HOT (simd.h), one clone per x86 generation, the same bits on each. */

HOT static void relu_backward(float *restrict dx, const float *restrict y, const float *restrict dy,
                              size_t n)
{
    for (size_t j = 0; j < n; j++)
        dx[j] = y[j] > 0.0f ? dy[j] : 0.0f;
}

HOT static void relu_forward(float *restrict y, const float *restrict x, size_t n)
{
    for (size_t j = 0; j < n; j++)
        y[j] = x[j] > 0.0f ? x[j] : 0.0f;
}

/* Column sums of dy [rows, K] into db [K] (overwritten). */
HOT static void col_sums(float *restrict db, const float *restrict dy, int rows, int K)
{
    for (int k = 0; k < K; k++)
        db[k] = 0.0f;
    for (int s = 0; s < rows; s++)
        for (int k = 0; k < K; k++)
            db[k] += dy[(size_t)s * K + k];
}

/* Eight floats as one value (GCC vector extension; lane-wise arithmetic, lowered to what
 * the clone's ISA has). */
typedef float v8f __attribute__((vector_size(32)));
/* v += the 8 floats at p (unaligned) */
#define ADD8(v, p)                                                                               \
    do {                                                                                         \
        v8f t_;                                                                                  \
        memcpy(&t_, (p), sizeof t_);                                                             \
        (v) += t_;                                                                               \
    } while (0)

/* The sum of a row's 8 partial sums, in a fixed order, plus its tail. */
static inline float combine8(const v8f *a, float t)
{
    return (((*a)[0] + (*a)[4]) + ((*a)[1] + (*a)[5])) + (((*a)[2] + (*a)[6]) + ((*a)[3] + (*a)[7])) + t;
}

/* db[k] = the sum of row k of dy [K x n], each row with 8 partial sums (lane q adds the
 * elements j = q mod 8 in order; vectorisable, and more accurate than one sum) combined in a
 * fixed order. Rows go four at a time so that four independent chains of additions are in
 * flight; each row's sum is the same as alone. */
HOT static void row_sums(float *restrict db, const float *restrict dy, int K, size_t n)
{
    int k = 0;
    for (; k + 4 <= K; k += 4) {
        const float *r0 = dy + (size_t)k * n, *r1 = r0 + n, *r2 = r1 + n, *r3 = r2 + n;
        v8f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
        size_t j = 0;
        for (; j + 8 <= n; j += 8) {
            ADD8(a0, r0 + j);
            ADD8(a1, r1 + j);
            ADD8(a2, r2 + j);
            ADD8(a3, r3 + j);
        }
        float t0 = 0.0f, t1 = 0.0f, t2 = 0.0f, t3 = 0.0f;
        for (; j < n; j++)
            t0 += r0[j], t1 += r1[j], t2 += r2[j], t3 += r3[j];
        db[k] = combine8(&a0, t0);
        db[k + 1] = combine8(&a1, t1);
        db[k + 2] = combine8(&a2, t2);
        db[k + 3] = combine8(&a3, t3);
    }
    for (; k < K; k++) {
        const float *r = dy + (size_t)k * n;
        v8f a = {0};
        size_t j = 0;
        for (; j + 8 <= n; j += 8)
            ADD8(a, r + j);
        float t = 0.0f;
        for (; j < n; j++)
            t += r[j];
        db[k] = combine8(&a, t);
    }
}

void nn_linear_forward(float *y, const float *x, const float *w, const float *b, int B, int C, int K)
{
    for (int i = 0; i < B; i++)
        memcpy(y + (size_t)i * K, b, (size_t)K * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, K, C, 1.0f, x, C, w, C, 1.0f, y, K);
}

void nn_linear_forward_naive(float *y, const float *x, const float *w, const float *b, int B, int C, int K)
{
    for (int i = 0; i < B; i++)
        for (int k = 0; k < K; k++) {
            double s = b[k];
            for (int c = 0; c < C; c++)
                s += (double)x[(size_t)i * C + c] * w[(size_t)k * C + c];
            y[(size_t)i * K + k] = (float)s;
        }
}

/* The rows y of an H-row plane whose tap row y + dy lies inside: [*y0, *y1). */
static inline void tap_rows(int H, int dy, int *y0, int *y1)
{
    *y0 = dy < 0 ? -dy : 0;
    *y1 = dy > 0 ? H - dy : H;
}

/* One tap of one plane: out[y][x] = in[y + dy][x + dx] with zeros outside (dx, dy in
 * {-1, 0, 1}). The valid rows are one contiguous block of the plane shifted by dy*W + dx: one
 * copy, then the column that wrapped around is zeroed, and the rows outside are zeroed. */
static void tap_plane(float *restrict out, const float *restrict in, int H, int W, int dy, int dx)
{
    int y0, y1;
    tap_rows(H, dy, &y0, &y1);
    if (y0 > 0)
        memset(out, 0, (size_t)y0 * W * sizeof(float));
    if (y1 < H)
        memset(out + (size_t)y1 * W, 0, (size_t)(H - y1) * W * sizeof(float));
    if (y1 <= y0)
        return;
    size_t len = (size_t)(y1 - y0) * W;
    float *o = out + (size_t)y0 * W;
    const float *src = in + (size_t)(y0 + dy) * W;
    if (dx == 0) {
        memcpy(o, src, len * sizeof(float));
    } else if (dx > 0) { /* o[i] = src[i + 1]; the last column has no right neighbour */
        memcpy(o, src + 1, (len - 1) * sizeof(float));
        for (int y = 0; y < y1 - y0; y++)
            o[(size_t)y * W + W - 1] = 0.0f;
    } else { /* o[i] = src[i - 1]; the first column has no left neighbour */
        memcpy(o + 1, src, (len - 1) * sizeof(float));
        for (int y = 0; y < y1 - y0; y++)
            o[(size_t)y * W] = 0.0f;
    }
}

/* Adjoint of tap_plane: in[y + dy][x + dx] += out[y][x] over the valid (y, x). The column of
 * out that has no source is zeroed first (out is scratch), so that the block add is one
 * contiguous loop. */
static void untap_plane(float *restrict in, float *restrict out, int H, int W, int dy, int dx)
{
    int y0, y1;
    tap_rows(H, dy, &y0, &y1);
    if (y1 <= y0)
        return;
    size_t len = (size_t)(y1 - y0) * W;
    float *o = out + (size_t)y0 * W;
    float *dst = in + (size_t)(y0 + dy) * W;
    if (dx > 0)
        for (int y = 0; y < y1 - y0; y++)
            o[(size_t)y * W + W - 1] = 0.0f;
    else if (dx < 0)
        for (int y = 0; y < y1 - y0; y++)
            o[(size_t)y * W] = 0.0f;
    /* dst[i + dx] += o[i] over the block, leaving out the one element past either end */
    size_t lo = dx < 0 ? 1 : 0, hi = dx > 0 ? len - 1 : len;
    for (size_t i = lo; i < hi; i++)
        dst[(ptrdiff_t)i + dx] += o[i];
}

/* col [C*9, B*H*W] from x [C, B, H, W] (zero padding 1): row (c, ky, kx), column (b, y, x). */
static void im2col3(float *col, const float *x, int B, int C, int H, int W)
{
    size_t HW = (size_t)H * W, N = (size_t)B * HW;
    for (int c = 0; c < C; c++)
        for (int t = 0; t < 9; t++) {
            float *row = col + (size_t)(c * 9 + t) * N;
            for (int b = 0; b < B; b++)
                tap_plane(row + (size_t)b * HW, x + ((size_t)c * B + b) * HW, H, W, t / 3 - 1, t % 3 - 1);
        }
}

/* y [K, B*H*W] = w [K, C*9] x col: the convolution without bias, one GEMM for the batch. */
static void conv3_gemm(float *y, float *col, const float *x, const float *w, int B, int C, int H,
                       int W, int K)
{
    int N = B * H * W, C9 = C * 9;
    im2col3(col, x, B, C, H, W);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, K, N, C9, 1.0f, w, C9, col, N, 0.0f, y, N);
}

void nn_conv3_forward(float *y, float *col, const float *x, const float *w, const float *b,
                      int B, int C, int H, int W, int K)
{
    size_t N = (size_t)B * H * W;
    conv3_gemm(y, col, x, w, B, C, H, W, K);
    for (int k = 0; k < K; k++)
        for (size_t j = 0; j < N; j++)
            y[(size_t)k * N + j] += b[k];
}

void nn_conv3_forward_naive(float *y, const float *x, const float *w, const float *b,
                            int B, int C, int H, int W, int K)
{
    for (int i = 0; i < B; i++)
        for (int k = 0; k < K; k++)
            for (int py = 0; py < H; py++)
                for (int px = 0; px < W; px++) {
                    double s = b[k];
                    for (int c = 0; c < C; c++)
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++) {
                                int sy = py + ky - 1, sx = px + kx - 1;
                                if (sy < 0 || sy >= H || sx < 0 || sx >= W)
                                    continue;
                                s += (double)w[((size_t)k * C + c) * 9 + ky * 3 + kx] *
                                     x[(((size_t)c * B + i) * H + sy) * W + sx];
                            }
                    y[(((size_t)k * B + i) * H + py) * W + px] = (float)s;
                }
}

/* Floats of dcol per step of the input gradient: 512 KB, within a core's L2 cache. */
enum { DCOL_CHUNK_FLOATS = 128 * 1024 };

/* Samples per step of the input gradient. */
static int dcol_chunk(int B, int C, int H, int W)
{
    int chunk = (int)(DCOL_CHUNK_FLOATS / ((size_t)C * 9 * H * W));
    return chunk < 1 ? 1 : chunk > B ? B : chunk;
}

size_t nn_conv3_dcol_floats(int B, int C, int H, int W)
{
    return (size_t)dcol_chunk(B, C, H, W) * C * 9 * H * W;
}

static void conv3_dw_fma(int impl, int q, float *dw, float *scratch, const float *x, const float *dy, int B, int C,
                         int H, int W, int K);

/* nn_conv3_backward with the input gradient's GEMM from OpenBLAS (dcol_impl CONVFMA_BLAS) or
 * from convfma_dcol, and the weight gradient's from OpenBLAS on the columns col (dw_q 0) or
 * from convfma_dw on x (dw_impl, blocks of dw_q columns; col is its scratch): the same bits
 * where nn.c has checked the kernels. */
static void conv3_backward(int dcol_impl, int dw_impl, int dw_q, float *dw, float *db, float *dx, float *dcol,
                           const float *dy, float *col, const float *x, const float *w, int B, int C, int H,
                           int W, int K)
{
    int N = B * H * W, C9 = C * 9;
    if (dw_q)
        conv3_dw_fma(dw_impl, dw_q, dw, col, x, dy, B, C, H, W, K);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, C9, N, 1.0f, dy, N, col, N, 0.0f, dw, C9);
    row_sums(db, dy, K, (size_t)N);
    if (!dx)
        return;
    /* The input gradient a few samples at a time, so that their dcol stays in the cache
     * between the GEMM that writes it and col2im that reads it (each element of dcol is the
     * same sum over K either way, and each of dx the same sum over the taps in order). */
    const size_t HW = (size_t)H * W;
    const int chunk = dcol_chunk(B, C, H, W);
    memset(dx, 0, (size_t)C * N * sizeof(float));
    for (int b0 = 0; b0 < B; b0 += chunk) {
        int nb = B - b0 < chunk ? B - b0 : chunk, n = nb * H * W;
        if (dcol_impl != CONVFMA_BLAS)
            convfma_dcol(dcol_impl, dcol, w, dy + (size_t)b0 * HW, (size_t)N, C9, n, K);
        else
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C9, n, K, 1.0f, w, C9, dy + (size_t)b0 * HW, N,
                        0.0f, dcol, n);
        for (int c = 0; c < C; c++)
            for (int t = 0; t < 9; t++) {
                float *row = dcol + (size_t)(c * 9 + t) * n;
                for (int b = 0; b < nb; b++)
                    untap_plane(dx + ((size_t)c * B + b0 + b) * HW, row + (size_t)b * HW, H, W, t / 3 - 1,
                                t % 3 - 1);
            }
    }
}

void nn_conv3_backward(float *dw, float *db, float *dx, float *dcol, const float *dy,
                       const float *col, const float *w, int B, int C, int H, int W, int K)
{
    conv3_backward(CONVFMA_BLAS, CONVFMA_BLAS, 0, dw, db, dx, dcol, dy, (float *)col, NULL, w, B, C, H, W, K);
}

/* ---- direct convolution of the first layer ---------------------------------------------
 * A first layer with few input channels (1 grey, 3 colour) is a poor GEMM: its inner
 * dimension is C*9 (9 or 27), and im2col writes a matrix 9 times the size of the input to
 * feed it. It is computed directly instead. Each input plane is copied into a border of
 * zeros, rows of Wp = W + 2; output (y, x) then sits at q = y*Wp + x of a plane of the same
 * row length, and tap (ky, kx) reads the padded plane at q + ky*Wp + kx: every tap is one
 * long contiguous loop (the two columns x = W, W + 1 of each row are computed and dropped).
 * The weight gradient is, per tap, the dot product of dy in that layout with the shifted
 * padded plane, summed in 16 fixed lanes (the same bits whatever the vector width). */
enum { LANES = 16 };

/* Floats of one padded plane: its rows, then room for the rounding of the loops to LANES. */
static size_t padded_floats(int H, int W) { return (size_t)(H + 2) * (W + 2) + 2 * LANES; }
/* Length of the loops over q: H rows of Wp, rounded up to LANES. */
static size_t direct_len(int H, int W) { return ((size_t)H * (W + 2) + LANES - 1) / LANES * LANES; }

/* pad: the plane x [H x W] inside a border of zeros, zeros after. */
static void pad_plane(float *restrict pad, const float *restrict x, int H, int W)
{
    const int Wp = W + 2;
    memset(pad, 0, padded_floats(H, W) * sizeof(float));
    for (int y = 0; y < H; y++)
        memcpy(pad + (size_t)(y + 1) * Wp + 1, x + (size_t)y * W, (size_t)W * sizeof(float));
}

/* out[q] (+)= sum over taps of w9[t] * pad[q + ky*Wp + kx], q < L (overwritten when acc is 0). */
HOT static void conv3_direct_plane(float *restrict out, const float *restrict pad, const float *restrict w9,
                                   size_t L, int Wp, int acc)
{
    const float *r0 = pad, *r1 = pad + Wp, *r2 = pad + 2 * Wp;
    const float w0 = w9[0], w1 = w9[1], w2 = w9[2], w3 = w9[3], w4 = w9[4], w5 = w9[5], w6 = w9[6],
                w7 = w9[7], w8 = w9[8];
    for (size_t q = 0; q < L; q++) {
        float s = acc ? out[q] : 0.0f;
        s += w0 * r0[q];
        s += w1 * r0[q + 1];
        s += w2 * r0[q + 2];
        s += w3 * r1[q];
        s += w4 * r1[q + 1];
        s += w5 * r1[q + 2];
        s += w6 * r2[q];
        s += w7 * r2[q + 1];
        s += w8 * r2[q + 2];
        out[q] = s;
    }
}

/* a [9][LANES] += per tap, lane by lane, g[q] * pad[q + ky*Wp + kx] over q < L. The nine taps
 * share each pass over q: nine independent sums in flight. */
HOT static void conv3_direct_dw_plane(float *restrict a, const float *restrict g, const float *restrict pad,
                                      size_t L, int Wp)
{
    float lane[9][LANES];
    memcpy(lane, a, sizeof lane);
    const float *r0 = pad, *r1 = pad + Wp, *r2 = pad + 2 * Wp;
    for (size_t q = 0; q < L; q += LANES)
        for (int l = 0; l < LANES; l++) {
            const float gl = g[q + l];
            lane[0][l] += gl * r0[q + l];
            lane[1][l] += gl * r0[q + l + 1];
            lane[2][l] += gl * r0[q + l + 2];
            lane[3][l] += gl * r1[q + l];
            lane[4][l] += gl * r1[q + l + 1];
            lane[5][l] += gl * r1[q + l + 2];
            lane[6][l] += gl * r2[q + l];
            lane[7][l] += gl * r2[q + l + 1];
            lane[8][l] += gl * r2[q + l + 2];
        }
    memcpy(a, lane, sizeof lane);
}

static void pool2_plane(int impl, float *y, int *arg, const float *x, int P, int Q, int W, int ldx);

/* lane[l] += g[q + l] over q < L: the bias gradient of a plane in LANES fixed lanes. */
HOT static void lanes_add(float *restrict lane, const float *restrict g, size_t L)
{
    float a[LANES];
    memcpy(a, lane, sizeof a);
    for (size_t q = 0; q < L; q += LANES)
        for (int l = 0; l < LANES; l++)
            a[l] += g[q + l];
    memcpy(lane, a, sizeof a);
}

/* The sum of LANES lanes, in order. */
static float lanes_total(const float *a)
{
    float t = 0.0f;
    for (int l = 0; l < LANES; l++)
        t += a[l];
    return t;
}

size_t nn_conv3_direct_scratch(int C, int H, int W, int K)
{
    /* C padded planes, one output or gradient plane, the lanes of every (k, c, tap) and of
     * every k's bias */
    return (size_t)(C + 1) * padded_floats(H, W) + (size_t)K * (C * 9 + 1) * LANES;
}

/* The C input planes of sample b of x [C, B, H, W], padded, one after the other. */
static void pad_sample(float *pads, const float *x, int b, int B, int C, int H, int W)
{
    const size_t HW = (size_t)H * W, PP = padded_floats(H, W);
    for (int c = 0; c < C; c++)
        pad_plane(pads + c * PP, x + ((size_t)c * B + b) * HW, H, W);
}

/* out = output plane k (no bias) of the padded sample pads, in the layout of the q loops. */
static void conv3_direct_out(float *out, const float *pads, const float *w, int k, int C, int H, int W)
{
    const size_t PP = padded_floats(H, W), L = direct_len(H, W);
    for (int c = 0; c < C; c++)
        conv3_direct_plane(out, pads + c * PP, w + ((size_t)k * C + c) * 9, L, W + 2, c > 0);
}

/* The lanes of output channel k's weight gradient (acc [K, C, 9, LANES]) += the products of
 * its plane gradient g with every padded input plane of the sample. */
static void conv3_direct_dw_out(float *acc, const float *g, const float *pads, int k, int C, int H, int W)
{
    const size_t PP = padded_floats(H, W), L = direct_len(H, W);
    for (int c = 0; c < C; c++)
        conv3_direct_dw_plane(acc + ((size_t)k * C + c) * 9 * LANES, g, pads + c * PP, L, W + 2);
}

/* y [K, B, H, W] = the convolution of x [C, B, H, W] without bias. */
static void conv3_direct(float *y, float *scratch, const float *x, const float *w, int B, int C, int H,
                         int W, int K)
{
    const size_t HW = (size_t)H * W, PP = padded_floats(H, W);
    const int Wp = W + 2;
    float *out = scratch + (size_t)C * PP;
    for (int b = 0; b < B; b++) {
        pad_sample(scratch, x, b, B, C, H, W);
        for (int k = 0; k < K; k++) {
            conv3_direct_out(out, scratch, w, k, C, H, W);
            float *yk = y + ((size_t)k * B + b) * HW;
            for (int r = 0; r < H; r++)
                memcpy(yk + (size_t)r * W, out + (size_t)r * Wp, (size_t)W * sizeof(float));
        }
    }
}

void nn_conv3_direct_forward(float *y, float *scratch, const float *x, const float *w, const float *b,
                             int B, int C, int H, int W, int K)
{
    size_t N = (size_t)B * H * W;
    conv3_direct(y, scratch, x, w, B, C, H, W, K);
    for (int k = 0; k < K; k++)
        for (size_t j = 0; j < N; j++)
            y[(size_t)k * N + j] += b[k];
}

void nn_conv3_direct_backward(float *dw, float *db, float *scratch, const float *dy, const float *x, int B,
                              int C, int H, int W, int K)
{
    const size_t HW = (size_t)H * W, PP = padded_floats(H, W), N = (size_t)B * HW;
    const int Wp = W + 2;
    float *g = scratch + (size_t)C * PP, *acc = g + PP;
    memset(acc, 0, (size_t)K * C * 9 * LANES * sizeof(float));
    memset(g, 0, PP * sizeof(float)); /* the dropped columns and the tail stay 0 */
    for (int b = 0; b < B; b++) {
        pad_sample(scratch, x, b, B, C, H, W);
        for (int k = 0; k < K; k++) {
            const float *dyk = dy + ((size_t)k * B + b) * HW;
            for (int r = 0; r < H; r++)
                memcpy(g + (size_t)r * Wp, dyk + (size_t)r * W, (size_t)W * sizeof(float));
            conv3_direct_dw_out(acc, g, scratch, k, C, H, W);
        }
    }
    for (size_t j = 0; j < (size_t)K * C * 9; j++)
        dw[j] = lanes_total(acc + j * LANES);
    row_sums(db, dy, K, N);
}

/* The conv -> max-pool stage of a direct first layer, without bias (nn_forward adds it with
 * the ReLU on the pooled quarter): each output plane is pooled while it is in the cache, and
 * the full-size output is never written (backward needs only the argmax). py [K, B, P, Q]. */
static void conv3_direct_pool(int impl, float *py, int *arg, float *scratch, const float *x, const float *w,
                              int B, int C, int H, int W, int K)
{
    const size_t PP = padded_floats(H, W);
    const int Wp = W + 2, P = H / 2, Q = W / 2;
    float *out = scratch + (size_t)C * PP;
    for (int b = 0; b < B; b++) {
        pad_sample(scratch, x, b, B, C, H, W);
        for (int k = 0; k < K; k++) {
            conv3_direct_out(out, scratch, w, k, C, H, W);
            size_t o = ((size_t)k * B + b) * P * Q;
            pool2_plane(impl, py + o, arg + o, out, P, Q, W, Wp);
        }
    }
}

/* Its gradients dw [K, C*9] and db [K] from the gradient of the pooled output dpool
 * [K, B, P, Q] and the argmax: each plane's gradient (zeros but at the maxima) is built in
 * the cache, in the layout of conv3_direct_dw_plane, and never written at full size. The
 * bias gradient is summed in LANES fixed lanes over that layout. */
static void conv3_direct_pool_backward(float *dw, float *db, float *scratch, const float *dpool,
                                       const int *arg, const float *x, int B, int C, int H, int W, int K)
{
    const size_t PP = padded_floats(H, W), L = direct_len(H, W);
    const int Wp = W + 2, PQ = (H / 2) * (W / 2);
    float *g = scratch + (size_t)C * PP, *acc = g + PP, *dbl = acc + (size_t)K * C * 9 * LANES;
    memset(acc, 0, (size_t)K * (C * 9 + 1) * LANES * sizeof(float));
    for (int b = 0; b < B; b++) {
        pad_sample(scratch, x, b, B, C, H, W);
        for (int k = 0; k < K; k++) {
            const float *dp = dpool + ((size_t)k * B + b) * PQ;
            const int *ap = arg + ((size_t)k * B + b) * PQ;
            memset(g, 0, L * sizeof(float));
            for (int j = 0; j < PQ; j++)
                g[(size_t)(ap[j] / W) * Wp + ap[j] % W] += dp[j];
            lanes_add(dbl + (size_t)k * LANES, g, L);
            conv3_direct_dw_out(acc, g, scratch, k, C, H, W);
        }
    }
    for (size_t j = 0; j < (size_t)K * C * 9; j++)
        dw[j] = lanes_total(acc + j * LANES);
    for (int k = 0; k < K; k++)
        db[k] = lanes_total(dbl + (size_t)k * LANES);
}

void nn_conv3_backward_naive(float *dw, float *db, float *dx, const float *dy, const float *x,
                             const float *w, int B, int C, int H, int W, int K)
{
    memset(dw, 0, (size_t)K * C * 9 * sizeof(float));
    memset(db, 0, (size_t)K * sizeof(float));
    if (dx)
        memset(dx, 0, (size_t)C * B * H * W * sizeof(float));
    for (int i = 0; i < B; i++)
        for (int k = 0; k < K; k++)
            for (int py = 0; py < H; py++)
                for (int px = 0; px < W; px++) {
                    float g = dy[(((size_t)k * B + i) * H + py) * W + px];
                    db[k] += g;
                    for (int c = 0; c < C; c++)
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++) {
                                int sy = py + ky - 1, sx = px + kx - 1;
                                if (sy < 0 || sy >= H || sx < 0 || sx >= W)
                                    continue;
                                size_t xi = (((size_t)c * B + i) * H + sy) * W + sx;
                                size_t wi = ((size_t)k * C + c) * 9 + ky * 3 + kx;
                                dw[wi] += g * x[xi];
                                if (dx)
                                    dx[xi] += g * w[wi];
                            }
                }
}

/* Max-pool 2 x 2 of one plane x [H x W] whose rows are ldx apart: y [P x Q], and arg the
 * index of each window's maximum (the first of equals) in the plane as if ldx were W. With
 * impl CONVFMA_AVX512 by convfma_pool2, the same bits. */
static void pool2_plane(int impl, float *y, int *arg, const float *x, int P, int Q, int W, int ldx)
{
    if (convfma_pool2(impl, y, arg, x, P, Q, W, ldx)) /* the same in vectors (AVX-512) */
        return;
    for (int py = 0; py < P; py++) {
        const float *r0 = x + (size_t)(2 * py) * ldx, *r1 = r0 + ldx;
        for (int px = 0; px < Q; px++) {
            int best = 2 * px;
            float bv = r0[best];
            if (r0[best + 1] > bv) bv = r0[best + 1], best = 2 * px + 1;
            if (r1[2 * px] > bv) bv = r1[2 * px], best = W + 2 * px;
            if (r1[2 * px + 1] > bv) bv = r1[2 * px + 1], best = W + 2 * px + 1;
            y[py * Q + px] = bv;
            arg[py * Q + px] = (2 * py) * W + best;
        }
    }
}

static void pool2_forward(int impl, float *y, int *arg, const float *x, int B, int C, int H, int W)
{
    int P = H / 2, Q = W / 2;
    for (int i = 0; i < B * C; i++) /* every (c, b) plane; the layout within is [H, W] */
        pool2_plane(impl, y + (size_t)i * P * Q, arg + (size_t)i * P * Q, x + (size_t)i * H * W, P, Q, W, W);
}

/* [C, B, S] <-> [B, C*S]: the flatten between convolution and dense layers. */
static void flatten(float *y, const float *x, int B, int C, int S)
{
    for (int c = 0; c < C; c++)
        for (int b = 0; b < B; b++)
            memcpy(y + ((size_t)b * C + c) * S, x + ((size_t)c * B + b) * S, (size_t)S * sizeof(float));
}

static void unflatten(float *dx, const float *dy, int B, int C, int S)
{
    for (int c = 0; c < C; c++)
        for (int b = 0; b < B; b++)
            memcpy(dx + ((size_t)c * B + b) * S, dy + ((size_t)b * C + c) * S, (size_t)S * sizeof(float));
}

/* out = max(y + bias, 0) over rows of length `len` with one bias per row group: for a
 * convolution rows are output channels (bias per row), for a dense layer rows are samples
 * (bias per column). One pass replaces the bias fill and the separate ReLU pass. */
HOT static void bias_relu_rows(float *restrict out, const float *restrict y, const float *restrict b,
                               int rows, size_t len)
{
    for (int k = 0; k < rows; k++) {
        const float *yr = y + (size_t)k * len;
        float *o = out + (size_t)k * len, bk = b[k];
        for (size_t j = 0; j < len; j++) {
            float v = yr[j] + bk;
            o[j] = v > 0.0f ? v : 0.0f;
        }
    }
}

HOT static void bias_relu_cols(float *restrict out, const float *restrict y, const float *restrict b,
                               int rows, int K)
{
    for (int i = 0; i < rows; i++) {
        const float *yr = y + (size_t)i * K;
        float *o = out + (size_t)i * K;
        for (int k = 0; k < K; k++) {
            float v = yr[k] + b[k];
            o[k] = v > 0.0f ? v : 0.0f;
        }
    }
}

/* ---- the GEMM convolutions without im2col (convfma.h) ---------------------------------- */

/* Floats of the kernel's scratch for layer l: its C padded input planes and K output planes. */
static size_t fma_scratch(const nn_layer *l)
{
    return (size_t)l->C * padded_floats(l->H, l->W) + (size_t)l->K * direct_len(l->H, l->W);
}

/* The conv -> max-pool stage of layer i with the kernel, without bias (as conv3_direct_pool):
 * per sample, its planes padded, all K output planes, each pooled while in the cache. */
static void conv3_fma_pool(int impl, float *py, int *arg, float *scratch, const float *x, const float *w,
                           int B, int C, int H, int W, int K)
{
    const size_t PP = padded_floats(H, W), L = direct_len(H, W);
    const int Wp = W + 2, P = H / 2, Q = W / 2;
    float *out = scratch + (size_t)C * PP;
    for (int b = 0; b < B; b++) {
        pad_sample(scratch, x, b, B, C, H, W);
        convfma_out(impl, out, scratch, PP, w, C, Wp, L, K);
        for (int k = 0; k < K; k++) {
            size_t o = ((size_t)k * B + b) * P * Q;
            pool2_plane(impl, py + o, arg + o, out + (size_t)k * L, P, Q, W, Wp);
        }
    }
}

/* The OpenBLAS blocks of the weight gradient's inner dimension that convfma_dw is tried
 * with (q; the balancing multiple is 16): this machine's OpenBLAS 0.3.21 (SkylakeX and
 * Cooperlake kernels) takes 320; others are tried as well. */
static const int dw_blocks[] = {320, 256, 384, 512};
enum { DW_UNROLL = 16 };

/* Floats of the weight-gradient kernel's scratch for layer l at batch B: the padded planes
 * of every sample, dy by column, dw transposed. */
static size_t dw_scratch(const nn_layer *l, size_t B)
{
    return B * l->C * padded_floats(l->H, l->W) + B * l->H * l->W * l->K + (size_t)l->C * 9 * l->K;
}

/* dw [K, C*9] from x [C, B, H, W] and dy [K, B*H*W] with convfma_dw (blocks of q columns). */
static void conv3_dw_fma(int impl, int q, float *dw, float *scratch, const float *x, const float *dy, int B, int C,
                         int H, int W, int K)
{
    const size_t PP = padded_floats(H, W), N = (size_t)B * H * W, C9 = (size_t)C * 9;
    float *pads = scratch, *dyT = pads + (size_t)B * C * PP, *dwT = dyT + N * K;
    for (int b = 0; b < B; b++)
        pad_sample(pads + (size_t)b * C * PP, x, b, B, C, H, W);
    for (size_t j0 = 0; j0 < N; j0 += 64) { /* 64 columns at a time: dyT's rows stay cached */
        size_t j1 = j0 + 64 < N ? j0 + 64 : N;
        for (int k = 0; k < K; k++)
            for (size_t j = j0; j < j1; j++)
                dyT[j * K + k] = dy[(size_t)k * N + j];
    }
    convfma_dw(impl, dwT, pads, PP, dyT, C, H, W, K, N, q, DW_UNROLL);
    for (int k = 0; k < K; k++)
        for (size_t r = 0; r < C9; r++)
            dw[k * C9 + r] = dwT[r * K + k];
}

/* Random numbers for the checks below: a quarter zeros (as after a ReLU), the rest in
 * [-1, 1). */
static void check_fill(float *v, size_t len, rng_t *r)
{
    for (size_t j = 0; j < len; j++)
        v[j] = rng_below(r, 4) == 0 ? 0.0f : (float)rng_range(r, -1.0, 1.0);
}

/* 1 if the forward kernel gives OpenBLAS's bits for layer i at batch size B: the convolution
 * of random inputs and weights by convfma_out and by im2col and the GEMM, every output
 * compared. The layer's output and im2col buffers serve as scratch (the forward pass writes
 * them afterwards or does not use them: the columns are marked stale). */
static int conv_check_forward(nn_net *n, int i, int B)
{
    const nn_layer *l = &n->arch.layer[i];
    const int C = l->C, H = l->H, W = l->W, K = l->K, Wp = W + 2, C9 = C * 9;
    const size_t HW = (size_t)H * W, PP = padded_floats(H, W), L = direct_len(H, W);
    const size_t nx = (size_t)C * B * HW, nw = (size_t)K * C9;
    float *x = malloc(sizeof(float) * (nx + nw));
    if (!x)
        return 0;
    float *w = x + nx, *y = n->act + n->act_off[i + 1], *col = n->col + n->col_off[i];
    rng_t r;
    rng_seed(&r, 0x636f6e7666ULL + (uint64_t)B);
    check_fill(x, nx + nw, &r);
    n->col_stale[i] = 1;
    conv3_gemm(y, col, x, w, B, C, H, W, K);
    float *out = col + (size_t)C * PP;
    int same = 1;
    for (int b = 0; b < B && same; b++) {
        pad_sample(col, x, b, B, C, H, W);
        convfma_out(n->conv_kernel, out, col, PP, w, C, Wp, L, K);
        for (int k = 0; k < K; k++)
            for (int row = 0; row < H; row++)
                same &= memcmp(out + (size_t)k * L + (size_t)row * Wp, y + ((size_t)k * B + b) * HW + (size_t)row * W,
                               (size_t)W * sizeof(float)) == 0;
    }
    free(x);
    return same;
}

/* Where the gradients' kernels give OpenBLAS's bits for layer i at batch size B: 2 the input
 * gradient's GEMM at the sizes of conv3_backward's chunks (convfma_dcol; a layer without
 * an input gradient does not need it), 4 the weight gradient's (convfma_dw, with the first
 * blocking of dw_blocks that matches: *q); on random inputs, every output compared. The
 * im2col and input-gradient buffers serve as scratch (the backward pass writes them
 * afterwards; the columns are marked stale). */
static int conv_check_grads(nn_net *n, int i, int B, int *q)
{
    const nn_layer *l = &n->arch.layer[i];
    const int C = l->C, H = l->H, W = l->W, K = l->K, C9 = C * 9;
    const size_t HW = (size_t)H * W, N = (size_t)B * HW;
    const int chunk = dcol_chunk(B, C, H, W);
    const size_t nx = (size_t)C * N, nw = (size_t)K * C9, ndy = (size_t)K * N;
    float *x = malloc(sizeof(float) * (nx + nw + ndy + 2 * nw));
    if (!x)
        return 0;
    float *w = x + nx, *dy = w + nw, *dw_blas = dy + ndy, *dw_fma = dw_blas + nw, *col = n->col + n->col_off[i];
    rng_t r;
    rng_seed(&r, 0x6772616473ULL + (uint64_t)B);
    check_fill(x, nx + nw + ndy, &r);
    n->col_stale[i] = 1;
    im2col3(col, x, B, C, H, W);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, C9, (int)N, 1.0f, dy, (int)N, col, (int)N, 0.0f, dw_blas,
                C9);
    /* OpenBLAS's dcol in the input gradient's buffer (a chunk's worth), the kernel's in the
     * columns' buffer (the whole batch's) */
    int back = n->dcol != NULL && i > first_param_layer(&n->arch);
    const int sizes[2] = {chunk, B % chunk};
    for (int s = 0; s < 2 && back; s++) {
        const int cols = sizes[s] * (int)HW;
        if (cols == 0)
            continue;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C9, cols, K, 1.0f, w, C9, dy, cols, 0.0f, n->dcol, cols);
        convfma_dcol(n->conv_kernel, col, w, dy, (size_t)cols, C9, cols, K);
        back &= memcmp(n->dcol, col, (size_t)cols * C9 * sizeof(float)) == 0;
    }
    int dw = 0;
    for (size_t c = 0; c < sizeof dw_blocks / sizeof *dw_blocks && !dw; c++) {
        conv3_dw_fma(n->conv_kernel, dw_blocks[c], dw_fma, col, x, dy, B, C, H, W, K);
        if (memcmp(dw_fma, dw_blas, nw * sizeof(float)) == 0)
            dw = 1, *q = dw_blocks[c];
    }
    free(x);
    return back << 1 | dw << 2;
}

/* The slot of layer i's checks at batch B, or -1 (none, or OpenBLAS alone). With create, a
 * new batch size takes the next slot (round robin) and has its forward kernel checked. */
static int conv_slot(nn_net *n, int i, int B, int create)
{
    if (n->conv_kernel == CONVFMA_BLAS)
        return -1;
    for (int s = 0; s < NN_CONV_CHECKS; s++)
        if (n->conv_check[i][s].batch == B)
            return s;
    if (!create)
        return -1;
    const int s = n->conv_check_next[i];
    n->conv_check_next[i] = (s + 1) % NN_CONV_CHECKS;
    n->conv_check[i][s].batch = B;
    n->conv_check[i][s].ok = (unsigned char)conv_check_forward(n, i, B);
    n->conv_check[i][s].grads_checked = 0;
    n->conv_check[i][s].q = 0;
    return s;
}

/* 1 if layer i's forward pass (a GEMM convolution followed by a pool) at batch B goes
 * through the kernel. */
static int conv_fma(nn_net *n, int i, int B)
{
    const int s = conv_slot(n, i, B, 1);
    return s >= 0 && (n->conv_check[i][s].ok & 1);
}

/* Layer i's gradients at batch B: 2 the input gradient through the kernel, 4 the weight
 * gradient (in blocks of *q columns). Checked at the first backward pass at B, and only
 * where the forward kernel matched (where it did not, OpenBLAS sums otherwise and the
 * others would not match either: the check would only cost time). A batch size that no
 * forward pass had gets OpenBLAS. */
static int conv_fma_grads(nn_net *n, int i, int B, int *q)
{
    const int s = conv_slot(n, i, B, 0);
    if (s < 0 || !(n->conv_check[i][s].ok & 1))
        return 0;
    if (!n->conv_check[i][s].grads_checked) {
        n->conv_check[i][s].ok |= (unsigned char)conv_check_grads(n, i, B, &n->conv_check[i][s].q);
        n->conv_check[i][s].grads_checked = 1;
    }
    *q = n->conv_check[i][s].q;
    return n->conv_check[i][s].ok & 6;
}

/* The convolution of layer i without bias into y: direct or one GEMM. */
static void conv_nobias(nn_net *n, int i, float *y, const float *x, int B)
{
    const nn_layer *l = &n->arch.layer[i];
    if (conv_direct(n, i))
        conv3_direct(y, n->col + n->col_off[i], x, n->param + l->w, B, l->C, l->H, l->W, l->K);
    else
        conv3_gemm(y, n->col + n->col_off[i], x, n->param + l->w, B, l->C, l->H, l->W, l->K);
    n->col_stale[i] = 0;
}

const float *nn_forward(nn_net *n, int B)
{
    const nn_arch *a = &n->arch;
    for (int i = 0; i < a->nlayer; i++) {
        const nn_layer *l = &a->layer[i];
        const float *x = n->act + n->act_off[i];
        float *y = n->act + n->act_off[i + 1];
        size_t cnt = (size_t)B * out_count(l);
        /* A dense or convolution layer followed by ReLU: GEMM without bias, then one fused
         * bias + ReLU pass straight into the ReLU's output (the pre-activation buffer is
         * only the GEMM's scratch; backward needs the ReLU output alone). */
        int fuse = i + 1 < a->nlayer && a->layer[i + 1].kind == NN_RELU;
        switch (l->kind) {
        case NN_LINEAR:
            if (fuse) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, l->K, l->C, 1.0f, x, l->C,
                            n->param + l->w, l->C, 0.0f, y, l->K);
                bias_relu_cols(n->act + n->act_off[i + 2], y, n->param + l->b, B, l->K);
                i++;
            } else {
                nn_linear_forward(y, x, n->param + l->w, n->param + l->b, B, l->C, l->K);
            }
            break;
        case NN_RELU:
            relu_forward(y, x, cnt);
            break;
        case NN_CONV3:
            if (i + 2 < a->nlayer && a->layer[i + 1].kind == NN_POOL2 && a->layer[i + 2].kind == NN_RELU) {
                /* conv, pool, ReLU: GEMM without bias, pool, then bias + ReLU on the pooled
                 * quarter (a per-channel bias commutes with the max). The conv and pool
                 * buffers hold bias-free values, which backward does not read. */
                const nn_layer *pl = &a->layer[i + 1];
                float *py = n->act + n->act_off[i + 2];
                if (conv_direct(n, i)) {
                    conv3_direct_pool(n->conv_kernel, py, n->argmax + n->arg_off[i + 1], n->col + n->col_off[i], x,
                                      n->param + l->w, B, l->C, l->H, l->W, l->K);
                } else if (conv_fma(n, i, B)) {
                    conv3_fma_pool(n->conv_kernel, py, n->argmax + n->arg_off[i + 1], n->col + n->col_off[i], x,
                                   n->param + l->w, B, l->C, l->H, l->W, l->K);
                    n->col_stale[i] = 1;
                } else {
                    conv_nobias(n, i, y, x, B);
                    pool2_forward(n->conv_kernel, py, n->argmax + n->arg_off[i + 1], y, B, pl->C, pl->H, pl->W);
                }
                bias_relu_rows(n->act + n->act_off[i + 3], py, n->param + l->b, l->K,
                               (size_t)B * pl->P * pl->Q);
                i += 2;
            } else if (fuse) {
                conv_nobias(n, i, y, x, B);
                bias_relu_rows(n->act + n->act_off[i + 2], y, n->param + l->b, l->K,
                               (size_t)B * l->P * l->Q);
                i++;
            } else if (conv_direct(n, i)) {
                nn_conv3_direct_forward(y, n->col + n->col_off[i], x, n->param + l->w, n->param + l->b, B,
                                        l->C, l->H, l->W, l->K);
            } else {
                nn_conv3_forward(y, n->col + n->col_off[i], x, n->param + l->w, n->param + l->b, B,
                                 l->C, l->H, l->W, l->K);
                n->col_stale[i] = 0;
            }
            break;
        case NN_POOL2:
            pool2_forward(n->conv_kernel, y, n->argmax + n->arg_off[i], x, B, l->C, l->H, l->W);
            break;
        case NN_FLAT:
            flatten(y, x, B, l->C, l->H * l->W);
            break;
        case NN_PLANES:
            unflatten(y, x, B, l->C, l->H * l->W);
            break;
        }
    }
    return n->act + n->act_off[a->nlayer];
}

void nn_backward(nn_net *n, int B)
{
    const nn_arch *a = &n->arch;
    for (int i = a->nlayer - 1; i >= 0; i--) {
        const nn_layer *l = &a->layer[i];
        const float *x = n->act + n->act_off[i];
        const float *y = n->act + n->act_off[i + 1];
        const float *dy = n->dact + n->act_off[i + 1];
        /* no gradient for the input (nor for the planes of a colour input) */
        float *dx = i > first_param_layer(a) ? n->dact + n->act_off[i] : NULL;
        size_t in_cnt = (size_t)B * l->C * l->H * l->W;
        switch (l->kind) {
        case NN_LINEAR: {
            float *dw = n->grad + l->w, *db = n->grad + l->b;
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, l->K, l->C, B, 1.0f, dy, l->K, x,
                        l->C, 0.0f, dw, l->C);
            col_sums(db, dy, B, l->K);
            if (dx)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, l->C, l->K, 1.0f, dy,
                            l->K, n->param + l->w, l->C, 0.0f, dx, l->C);
            break;
        }
        case NN_RELU:
            if (dx)
                relu_backward(dx, y, dy, in_cnt);
            break;
        case NN_POOL2: {
            if (!dx || direct_pool(n, i - 1))
                break; /* a direct first layer takes the pooled gradient itself */
            memset(dx, 0, in_cnt * sizeof(float));
            const int *arg = n->argmax + n->arg_off[i];
            size_t per_in = (size_t)l->H * l->W, per_out = (size_t)l->P * l->Q;
            for (size_t c = 0; c < (size_t)B * l->C; c++)
                for (size_t j = 0; j < per_out; j++)
                    dx[c * per_in + arg[c * per_out + j]] += dy[c * per_out + j];
            break;
        }
        case NN_CONV3:
            if (direct_pool(n, i)) {
                conv3_direct_pool_backward(n->grad + l->w, n->grad + l->b, n->col + n->col_off[i],
                                           n->dact + n->act_off[i + 2], n->argmax + n->arg_off[i + 1], x,
                                           B, l->C, l->H, l->W, l->K);
                break;
            }
            if (conv_direct(n, i)) {
                nn_conv3_direct_backward(n->grad + l->w, n->grad + l->b, n->col + n->col_off[i], dy, x, B,
                                         l->C, l->H, l->W, l->K);
                break;
            }
        {
            int q = 0;
            const int ok = conv_fma_grads(n, i, B, &q), dw_q = ok & 4 ? q : 0;
            if (!dw_q && n->col_stale[i]) { /* the forward pass ran the kernel: the columns, for dw */
                im2col3(n->col + n->col_off[i], x, B, l->C, l->H, l->W);
                n->col_stale[i] = 0;
            }
            if (dw_q)
                n->col_stale[i] = 1; /* the weight gradient's kernel uses them as scratch */
            conv3_backward(ok & 2 ? n->conv_kernel : CONVFMA_BLAS, n->conv_kernel, dw_q, n->grad + l->w,
                           n->grad + l->b, dx, n->dcol, dy, n->col + n->col_off[i], x, n->param + l->w, B, l->C,
                           l->H, l->W, l->K);
        }
            break;
        case NN_FLAT:
            if (dx)
                unflatten(dx, dy, B, l->C, l->H * l->W);
            break;
        case NN_PLANES:
            if (dx)
                flatten(dx, dy, B, l->C, l->H * l->W);
            break;
        }
    }
}

HOT static void sgd_update(float *restrict p, const float *restrict g, float *restrict m, size_t P,
                           float lr, float mu, float wd)
{
    for (size_t j = 0; j < P; j++) {
        float gj = g[j] + wd * p[j];
        m[j] = mu * m[j] + gj;
        p[j] -= lr * m[j];
    }
}

HOT static void adam_update(float *restrict p, const float *restrict g, float *restrict m,
                            float *restrict v, size_t P, float lr, float mu, float wd, float step)
{
    const float b2 = 0.999f, eps = 1e-8f;
    for (size_t j = 0; j < P; j++) {
        m[j] = mu * m[j] + (1.0f - mu) * g[j];
        v[j] = b2 * v[j] + (1.0f - b2) * g[j] * g[j];
        p[j] -= step * m[j] / (sqrtf(v[j]) + eps) + lr * wd * p[j];
    }
}

void nn_step(nn_net *n, const nn_optim *o)
{
    size_t f = o->frozen < n->arch.nparam ? o->frozen : n->arch.nparam, P = n->arch.nparam - f;
    float lr = o->lr, mu = o->momentum, wd = o->weight_decay;
    n->opt_t++;
    if (o->kind == NN_SGD) {
        sgd_update(n->param + f, n->grad + f, n->opt_m + f, P, lr, mu, wd);
        return;
    }
    float c1 = 1.0f - powf(mu, (float)n->opt_t), c2 = 1.0f - powf(0.999f, (float)n->opt_t);
    adam_update(n->param + f, n->grad + f, n->opt_m + f, n->opt_v + f, P, lr, mu, wd, lr * sqrtf(c2) / c1);
}

size_t nn_conv_params(const nn_arch *a)
{
    for (int i = 0; i < a->nlayer; i++)
        if (a->layer[i].kind == NN_LINEAR)
            return a->layer[i].w;
    return 0;
}

/* ---- losses -------------------------------------------------------------------------- */

double nn_softmax_xent(float *dlogits, long *nwrong, const float *logits, const uint8_t *labels,
                       int B, int N)
{
    double loss = 0.0;
    for (int i = 0; i < B; i++) {
        const float *z = logits + (size_t)i * N;
        int arg = 0;
        for (int k = 1; k < N; k++)
            if (z[k] > z[arg])
                arg = k;
        double sum = 0.0;
        for (int k = 0; k < N; k++)
            sum += exp((double)z[k] - z[arg]);
        double logsum = log(sum) + z[arg];
        loss += logsum - z[labels[i]];
        if (nwrong && arg != labels[i])
            (*nwrong)++;
        if (dlogits)
            for (int k = 0; k < N; k++) {
                double p = exp((double)z[k] - logsum);
                dlogits[(size_t)i * N + k] = (float)((p - (k == labels[i])) / B);
            }
    }
    return loss / B;
}

/* ---- the sigmoid cross-entropy ----------------------------------------------------------
 * Each output needs an exp and a log1p, in double precision: a segmentation head has an
 * output per pixel, and libm's scalar exp and log1p were at least 17-18% of a cnn-s and
 * 41-45% of an mlp-s level-3 segmentation stage (perf, results/bench/harness.log). These are synlaw's own, in loops that vectorise: the same formulas as
 * before, with exp and log1p within about one unit in the last place of a double (libm's
 * are too, but not always the same bits), so a float gradient can differ from libm's in the
 * rare case that its value lies that close to a float's rounding boundary (test_nn counts). */

/* ln 2 in two parts: the first with 29 significant bits (so that k ln2_hi is exact for any
 * exponent k), the second the rest */
static const double ln2_hi = 0x1.62e42ffp-1, ln2_lo = -0x1.718432a1b0e26p-35;

static inline __attribute__((always_inline)) double bits_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static inline __attribute__((always_inline)) uint64_t double_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

/* e^x: x = k ln2 + r with |r| <= ln2 / 2, e^r from its Taylor series to r^13 (truncation
 * below 1e-17), times 2^k built in the exponent bits. Below x = -708 the result is 0 (e^x is
 * below 3.3e-308 there, and subnormal from -708.4); from 709.78 on, infinity (e^x overflows
 * from 709.7827). Neither cut matters to the loss or the sigmoid below. */
static inline __attribute__((always_inline)) double exp_d(double x)
{
    const double shift = 0x1.8p52, inv_ln2 = 0x1.71547652b82fep+0;
    double kd = x * inv_ln2 + shift; /* k in the low bits */
    const uint64_t kb = double_bits(kd);
    kd -= shift;
    const double r = (x - kd * ln2_hi) - kd * ln2_lo;
    double q = 0x1.6124613a86d09p-33; /* 1/13! */
    q = 0x1.1eed8eff8d898p-29 + r * q;
    q = 0x1.ae64567f544e4p-26 + r * q;
    q = 0x1.27e4fb7789f5cp-22 + r * q;
    q = 0x1.71de3a556c734p-19 + r * q;
    q = 0x1.a01a01a01a01ap-16 + r * q;
    q = 0x1.a01a01a01a01ap-13 + r * q;
    q = 0x1.6c16c16c16c17p-10 + r * q;
    q = 0x1.1111111111111p-7 + r * q;
    q = 0x1.5555555555555p-5 + r * q;
    q = 0x1.5555555555555p-3 + r * q;
    q = 0.5 + r * q;
    const double y = 1.0 + (r + r * r * q);
    /* 2^(k-1) (normal for every k here), then the 2 back: k = 1024 has no 2^k */
    const double scale = bits_double((kb - double_bits(shift) + 1022) << 52);
    double e = (y + y) * scale;
    e = x < -708.0 ? 0.0 : e;
    return x > 709.78 ? INFINITY : e;
}

/* log(1 + e) for e in [0, 1]: u = 1 + e rounded, and c = (e - (u - 1)) / u the part the
 * rounding lost (log(1 + e) = log u + c to first order, c < 2^-53). u = 2^k m with m in
 * [sqrt(2)/2, sqrt(2)); with f = m - 1 (exact) and s = f / (2 + f), log m = 2 atanh s =
 * f - s (f - R), R = 2/3 s^2 + 2/5 s^4 + ... to s^22 (|s| <= 0.172: truncation below 1e-18). */
static inline __attribute__((always_inline)) double log1p_unit(double e)
{
    const double u = 1.0 + e, c = (e - (u - 1.0)) / u;
    const int big = u > 0x1.6a09e667f3bcdp+0;
    /* m = u / 2 where big: one less in u's exponent field (u is in [1, 2], so this is exact,
     * as u * 0.5 is), the one taken from the sign of sqrt(2) - u (negative exactly where u
     * is big; never -0). Not a choice between u * 0.5 and u: with traps off, GCC computed
     * the rest twice, once for each (the cross-entropy 10-20% slower with AVX-512) */
    const uint64_t half = (double_bits(0x1.6a09e667f3bcdp+0 - u) >> 63) << 52;
    const double m = bits_double(double_bits(u) - half), f = m - 1.0, s = f / (2.0 + f), z = s * s;
    double R = 0x1.642c8590b2164p-4; /* 2/23 */
    R = 0x1.8618618618618p-4 + z * R;
    R = 0x1.af286bca1af28p-4 + z * R;
    R = 0x1.e1e1e1e1e1e1ep-4 + z * R;
    R = 0x1.1111111111111p-3 + z * R;
    R = 0x1.3b13b13b13b14p-3 + z * R;
    R = 0x1.745d1745d1746p-3 + z * R;
    R = 0x1.c71c71c71c71cp-3 + z * R;
    R = 0x1.2492492492492p-2 + z * R;
    R = 0x1.999999999999ap-2 + z * R;
    R = 0x1.5555555555555p-1 + z * R;
    R *= z;
    const double k = big ? 1.0 : 0.0;
    return k * ln2_hi + ((f - s * (f - R)) + (k * ln2_lo + c));
}

/* Per output: the loss term and the sigmoid, by the formulas synlaw has always used. */
HOT static void bce_terms(double *restrict term, double *restrict p, const float *restrict logits,
                          const float *restrict targets, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        const double z = logits[j], t = targets[j];
        /* log(1 + e^-|z|) form: stable for any z */
        term[j] = (z > 0 ? z : 0) - z * t + log1p_unit(exp_d(-fabs(z)));
        p[j] = 1.0 / (1.0 + exp_d(-z));
    }
}

double nn_sigmoid_bce(float *dlogits, long *nwrong, const float *logits, const float *targets,
                      int B, int N)
{
    enum { CHUNK = 256 };
    double term[CHUNK], p[CHUNK];
    double loss = 0.0;
    const double scale = 1.0 / ((double)B * N);
    const size_t total = (size_t)B * N;
    for (size_t j0 = 0; j0 < total; j0 += CHUNK) {
        const size_t n = total - j0 < CHUNK ? total - j0 : CHUNK;
        const float *t = targets + j0;
        bce_terms(term, p, logits + j0, t, n);
        for (size_t j = 0; j < n; j++) /* in order: the same sum as one loop */
            loss += term[j];
        if (nwrong) /* before dlogits is written: it may be the logits' own buffer */
            for (size_t j = 0; j < n; j++)
                *nwrong += (logits[j0 + j] > 0) != (t[j] > 0.5f);
        if (dlogits)
            for (size_t j = 0; j < n; j++)
                dlogits[j0 + j] = (float)((p[j] - t[j]) * scale);
    }
    return loss * scale;
}
