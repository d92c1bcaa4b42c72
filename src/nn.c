/* Layers, losses and optimisers. Dense products go through cblas_sgemm; convolution is
 * im2col + sgemm per sample. Letters: B batch, C/H/W input, K/P/Q output, N outputs. */
#include "synlaw/nn.h"

#include "synlaw/rng.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
};
enum { ZOO_COUNT = sizeof zoo / sizeof zoo[0] };

int nn_model_count(void) { return ZOO_COUNT; }
const char *nn_model_name(int i) { return i >= 0 && i < ZOO_COUNT ? zoo[i].name : NULL; }

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

int nn_arch_build(nn_arch *a, const char *name, int out_size)
{
    int m = nn_model_find(name);
    if (m < 0 || out_size <= 0)
        return -1;
    const zoo_entry *z = &zoo[m];
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "%s", name);
    int C = 1, H = 28, W = 28;
    a->in_size = C * H * W;
    for (int i = 0; i < z->nconv; i++) {
        add_layer(a, NN_CONV3, C, H, W, z->conv[i], H, W);
        add_layer(a, NN_RELU, z->conv[i], H, W, z->conv[i], H, W);
        add_layer(a, NN_POOL2, z->conv[i], H, W, z->conv[i], H / 2, W / 2);
        C = z->conv[i];
        H /= 2;
        W /= 2;
    }
    int F = C * H * W;
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

/* ---- allocation ---------------------------------------------------------------------- */

static size_t out_count(const nn_layer *l) { return (size_t)l->K * l->P * l->Q; }

nn_net *nn_create(const nn_arch *arch, int batch_cap)
{
    nn_net *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->arch = *arch;
    n->batch_cap = batch_cap;
    size_t B = (size_t)batch_cap, acts = B * (size_t)arch->in_size, cols = 0, args = 0, dcol = 0;
    n->act_off[0] = 0;
    for (int i = 0; i < arch->nlayer; i++) {
        const nn_layer *l = &arch->layer[i];
        n->act_off[i + 1] = acts;
        acts += B * out_count(l);
        if (l->kind == NN_CONV3) {
            size_t per = (size_t)l->C * 9 * l->P * l->Q;
            n->col_off[i] = cols;
            cols += B * per;
            if (per > dcol)
                dcol = per;
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

void nn_copy_backbone(nn_net *dst, const nn_net *src)
{
    memcpy(dst->param, src->param, src->arch.nparam_backbone * sizeof(float));
}

float *nn_input(nn_net *n) { return n->act; }
float *nn_dout(nn_net *n) { return n->dact + n->act_off[n->arch.nlayer]; }

/* ---- kernels ------------------------------------------------------------------------- */

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

/* col [C*9, H*W] from x [C, H, W], zero padding 1. */
static void im2col3(float *col, const float *x, int C, int H, int W)
{
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++) {
                float *row = col + ((size_t)(c * 9 + ky * 3 + kx)) * H * W;
                const float *xc = x + (size_t)c * H * W;
                for (int y = 0; y < H; y++) {
                    int sy = y + ky - 1;
                    float *out = row + (size_t)y * W;
                    if (sy < 0 || sy >= H) {
                        memset(out, 0, (size_t)W * sizeof(float));
                        continue;
                    }
                    const float *in = xc + (size_t)sy * W;
                    for (int xx = 0; xx < W; xx++) {
                        int sx = xx + kx - 1;
                        out[xx] = (sx < 0 || sx >= W) ? 0.0f : in[sx];
                    }
                }
            }
}

/* dx [C, H, W] += scatter of dcol [C*9, H*W] (the adjoint of im2col3). */
static void col2im3(float *dx, const float *dcol, int C, int H, int W)
{
    memset(dx, 0, (size_t)C * H * W * sizeof(float));
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++) {
                const float *row = dcol + ((size_t)(c * 9 + ky * 3 + kx)) * H * W;
                float *xc = dx + (size_t)c * H * W;
                for (int y = 0; y < H; y++) {
                    int sy = y + ky - 1;
                    if (sy < 0 || sy >= H)
                        continue;
                    for (int xx = 0; xx < W; xx++) {
                        int sx = xx + kx - 1;
                        if (sx >= 0 && sx < W)
                            xc[(size_t)sy * W + sx] += row[(size_t)y * W + xx];
                    }
                }
            }
}

void nn_conv3_forward(float *y, float *col, const float *x, const float *w, const float *b,
                      int B, int C, int H, int W, int K)
{
    size_t HW = (size_t)H * W, C9 = (size_t)C * 9;
    for (int i = 0; i < B; i++) {
        float *ci = col + (size_t)i * C9 * HW;
        float *yi = y + (size_t)i * K * HW;
        im2col3(ci, x + (size_t)i * C * HW, C, H, W);
        for (int k = 0; k < K; k++)
            for (size_t p = 0; p < HW; p++)
                yi[(size_t)k * HW + p] = b[k];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, K, (int)HW, (int)C9, 1.0f, w,
                    (int)C9, ci, (int)HW, 1.0f, yi, (int)HW);
    }
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
                                     x[(((size_t)i * C + c) * H + sy) * W + sx];
                            }
                    y[(((size_t)i * K + k) * H + py) * W + px] = (float)s;
                }
}

static void pool2_forward(float *y, int *arg, const float *x, int B, int C, int H, int W)
{
    int P = H / 2, Q = W / 2;
    for (int i = 0; i < B * C; i++) {
        const float *xc = x + (size_t)i * H * W;
        float *yc = y + (size_t)i * P * Q;
        int *ac = arg + (size_t)i * P * Q;
        for (int py = 0; py < P; py++)
            for (int px = 0; px < Q; px++) {
                int best = (2 * py) * W + 2 * px;
                float bv = xc[best];
                int cand[3] = {best + 1, best + W, best + W + 1};
                for (int j = 0; j < 3; j++)
                    if (xc[cand[j]] > bv) {
                        bv = xc[cand[j]];
                        best = cand[j];
                    }
                yc[py * Q + px] = bv;
                ac[py * Q + px] = best;
            }
    }
}

const float *nn_forward(nn_net *n, int B)
{
    const nn_arch *a = &n->arch;
    for (int i = 0; i < a->nlayer; i++) {
        const nn_layer *l = &a->layer[i];
        const float *x = n->act + n->act_off[i];
        float *y = n->act + n->act_off[i + 1];
        size_t cnt = (size_t)B * out_count(l);
        switch (l->kind) {
        case NN_LINEAR:
            nn_linear_forward(y, x, n->param + l->w, n->param + l->b, B, l->C, l->K);
            break;
        case NN_RELU:
            for (size_t j = 0; j < cnt; j++)
                y[j] = x[j] > 0 ? x[j] : 0.0f;
            break;
        case NN_CONV3:
            nn_conv3_forward(y, n->col + n->col_off[i], x, n->param + l->w, n->param + l->b, B,
                             l->C, l->H, l->W, l->K);
            break;
        case NN_POOL2:
            pool2_forward(y, n->argmax + n->arg_off[i], x, B, l->C, l->H, l->W);
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
        float *dx = i > 0 ? n->dact + n->act_off[i] : NULL; /* no gradient for the input */
        size_t in_cnt = (size_t)B * l->C * l->H * l->W;
        switch (l->kind) {
        case NN_LINEAR: {
            float *dw = n->grad + l->w, *db = n->grad + l->b;
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, l->K, l->C, B, 1.0f, dy, l->K, x,
                        l->C, 0.0f, dw, l->C);
            for (int k = 0; k < l->K; k++)
                db[k] = 0.0f;
            for (int s = 0; s < B; s++)
                for (int k = 0; k < l->K; k++)
                    db[k] += dy[(size_t)s * l->K + k];
            if (dx)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, l->C, l->K, 1.0f, dy,
                            l->K, n->param + l->w, l->C, 0.0f, dx, l->C);
            break;
        }
        case NN_RELU:
            if (dx)
                for (size_t j = 0; j < in_cnt; j++)
                    dx[j] = y[j] > 0 ? dy[j] : 0.0f;
            break;
        case NN_POOL2: {
            if (!dx)
                break;
            memset(dx, 0, in_cnt * sizeof(float));
            const int *arg = n->argmax + n->arg_off[i];
            size_t per_in = (size_t)l->H * l->W, per_out = (size_t)l->P * l->Q;
            for (size_t c = 0; c < (size_t)B * l->C; c++)
                for (size_t j = 0; j < per_out; j++)
                    dx[c * per_in + arg[c * per_out + j]] += dy[c * per_out + j];
            break;
        }
        case NN_CONV3: {
            int HW = l->H * l->W, C9 = l->C * 9;
            float *dw = n->grad + l->w, *db = n->grad + l->b;
            memset(dw, 0, (size_t)l->K * C9 * sizeof(float));
            memset(db, 0, (size_t)l->K * sizeof(float));
            for (int s = 0; s < B; s++) {
                const float *dys = dy + (size_t)s * l->K * HW;
                const float *cs = n->col + n->col_off[i] + (size_t)s * C9 * HW;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, l->K, C9, HW, 1.0f, dys, HW,
                            cs, HW, 1.0f, dw, C9);
                for (int k = 0; k < l->K; k++) {
                    float acc = 0.0f;
                    for (int p = 0; p < HW; p++)
                        acc += dys[(size_t)k * HW + p];
                    db[k] += acc;
                }
                if (dx) {
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C9, HW, l->K, 1.0f,
                                n->param + l->w, C9, dys, HW, 0.0f, n->dcol, HW);
                    col2im3(dx + (size_t)s * l->C * HW, n->dcol, l->C, l->H, l->W);
                }
            }
            break;
        }
        }
    }
}

void nn_step(nn_net *n, const job_recipe *r)
{
    size_t P = n->arch.nparam;
    float lr = (float)r->lr, mu = (float)r->momentum, wd = (float)r->weight_decay;
    float *p = n->param, *g = n->grad, *m = n->opt_m, *v = n->opt_v;
    n->opt_t++;
    if (r->optimizer == OPT_SGD) {
        for (size_t j = 0; j < P; j++) {
            float gj = g[j] + wd * p[j];
            m[j] = mu * m[j] + gj;
            p[j] -= lr * m[j];
        }
        return;
    }
    const float b2 = 0.999f, eps = 1e-8f;
    float c1 = 1.0f - powf(mu, (float)n->opt_t), c2 = 1.0f - powf(b2, (float)n->opt_t);
    float step = lr * sqrtf(c2) / c1;
    for (size_t j = 0; j < P; j++) {
        m[j] = mu * m[j] + (1.0f - mu) * g[j];
        v[j] = b2 * v[j] + (1.0f - b2) * g[j] * g[j];
        p[j] -= step * m[j] / (sqrtf(v[j]) + eps) + lr * wd * p[j];
    }
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

double nn_sigmoid_bce(float *dlogits, long *nwrong, const float *logits, const float *targets,
                      int B, int N)
{
    double loss = 0.0;
    double scale = 1.0 / ((double)B * N);
    for (size_t j = 0; j < (size_t)B * N; j++) {
        double z = logits[j], t = targets[j];
        /* log(1 + e^-|z|) form: stable for any z */
        loss += (z > 0 ? z : 0) - z * t + log1p(exp(-fabs(z)));
        double p = 1.0 / (1.0 + exp(-z));
        if (dlogits)
            dlogits[j] = (float)((p - t) * scale);
        if (nwrong && ((z > 0) != (t > 0.5)))
            (*nwrong)++;
    }
    return loss * scale;
}
