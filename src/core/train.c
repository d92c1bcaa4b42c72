/* The two stages: pre-train a backbone (synthetic), fine-tune it (real) with a fresh head. */
#include "synlaw/train.h"

#include "quant.h"
#include "simd.h"

#include "synlaw/data.h"

#include "synlaw/nn.h"
#include "synlaw/rng.h"
#include "synlaw/synth.h"
#include "synlaw/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int train_input_init(train_input *in, const data_shape *sh)
{
    memset(in, 0, sizeof *in);
    in->rows = sh->rows;
    in->cols = sh->cols;
    in->channels = sh->channels;
    in->pixels = sh->rows * sh->cols * sh->channels;
    for (int c = 0; c < sh->channels && c < DATA_MAX_CHANNELS; c++) {
        if (!(sh->std[c] > 0))
            return -1;
        float mean = sh->mean[c], inv = 1.0f / sh->std[c];
        in->mean[c] = mean;
        in->inv_std[c] = inv;
    }
    return 0;
}

int train_task_outputs(const train_input *in, int task)
{
    return task == TASK_SEGMENT ? in->rows * in->cols : SYNTH_NCLASS;
}

size_t train_sample_bytes(const train_input *in, int task)
{
    return (size_t)in->pixels + ((size_t)train_task_outputs(in, task) + 7) / 8;
}

/* The data a shape describes: geometry and labels (what changed since it was measured). */
static int check_split(const idx_set *set, const data_shape *sh, const data_source *src, data_split sp,
                       char *err, size_t errlen)
{
    char where[DATA_WHERE_LEN];
    data_describe(src, sp, where, sizeof where);
    if (set->rows != sh->rows || set->cols != sh->cols || set->channels != sh->channels)
        return util_fail(err, errlen, -1, "%s: %dx%dx%d images, but the job was checked with %dx%dx%d "
                         "(did the file change?)", where, set->rows, set->cols, set->channels, sh->rows,
                         sh->cols, sh->channels);
    if (set->nclass > sh->classes)
        return util_fail(err, errlen, -1, "%s: labels up to %d, more than the %d classes the job was "
                         "checked with (did the file change?)", where, set->nclass - 1, sh->classes);
    return 0;
}

int train_data_load(train_data *d, const job_spec *spec, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    const data_shape *sh = &spec->shape;
    if (train_input_init(&d->input, sh) != 0)
        return util_fail(err, errlen, -1, "the statistics of the training images were not measured "
                         "(data_measure before training)");
    d->classes = sh->classes;
    if (data_load(&d->train, &spec->data, DATA_TRAIN, 0, err, errlen) != 0)
        return -1;
    if (data_load(&d->test, &spec->data, DATA_TEST, spec->finetune.eval_size, err, errlen) != 0) {
        idx_free(&d->train);
        return -1;
    }
    if (check_split(&d->train, sh, &spec->data, DATA_TRAIN, err, errlen) != 0 ||
        check_split(&d->test, sh, &spec->data, DATA_TEST, err, errlen) != 0) {
        train_data_free(d);
        return -1;
    }
    if (d->train.count != sh->train_count || sh->validation >= d->train.count) {
        char where[DATA_WHERE_LEN];
        data_describe(&spec->data, DATA_TRAIN, where, sizeof where);
        util_fail(err, errlen, -1, "%s: %d training images, but the job was checked with %d (did the "
                  "file change?)", where, d->train.count, sh->train_count);
        train_data_free(d);
        return -1;
    }
    d->pool = d->train.count - sh->validation;
    d->validation = d->train;
    d->validation.count = spec->finetune.eval_size < sh->validation ? spec->finetune.eval_size : sh->validation;
    d->validation.pixels = d->train.pixels + (size_t)d->pool * d->input.pixels;
    d->validation.labels = d->train.labels + d->pool;
    for (int i = 0; i < spec->n_ftsize; i++)
        if (spec->ftsize[i] > d->pool) {
            util_fail(err, errlen, -1, "finetune_size %ld exceeds the %d training images that fine-tuning "
                      "may use (the last %d are the validation split)", spec->ftsize[i], d->pool,
                      sh->validation);
            train_data_free(d);
            return -1;
        }
    return 0;
}

void train_data_free(train_data *d)
{
    idx_free(&d->train);
    idx_free(&d->test);
}

void train_result_free(train_result *r)
{
    if (!r)
        return;
    free(r->val_error);
    free(r->test_error);
    r->val_error = r->test_error = NULL;
}

void train_backbone_free(train_backbone *b)
{
    if (!b)
        return;
    free(b->loss);
    free(b->error);
    free(b->params);
    b->loss = b->error = b->params = NULL;
}

/* The architecture of a job model for its data, with a head of `outputs`. */
static int arch_of(nn_arch *a, const job_spec *spec, int model, int outputs)
{
    const data_shape *sh = &spec->shape;
    return nn_arch_build(a, spec->model[model], sh->rows, sh->cols, sh->channels, outputs);
}

size_t train_backbone_params(const job_spec *spec, int model)
{
    nn_arch a;
    return arch_of(&a, spec, model, spec->shape.classes > 0 ? spec->shape.classes : 1) == 0 ? a.nparam_backbone : 0;
}

/* One channel plane of 8-bit pixels, standardised (the expression synlaw has always used,
 * once a table of 256 levels per channel; per pixel it vectorises, a lookup does not). */
HOT static void standardise_plane(float *restrict x, const uint8_t *restrict s, size_t n, float mean, float inv)
{
    for (size_t p = 0; p < n; p++)
        x[p] = ((float)s[p] * (1.0f / 255.0f) - mean) * inv;
}

/* An image of 8-bit channel planes, standardised, into x[in->pixels]. */
static void standardise(float *x, const uint8_t *s, const train_input *in)
{
    size_t plane = (size_t)in->rows * in->cols;
    for (int c = 0; c < in->channels; c++)
        standardise_plane(x + c * plane, s + c * plane, plane, in->mean[c], in->inv_std[c]);
}

/* Image `item` of a real set, standardised, into dst[in->pixels]. */
static void copy_real(float *dst, const idx_set *set, int item, const train_input *in)
{
    standardise(dst, set->pixels + (size_t)item * in->pixels, in);
}

/* bits[k / 8] bit k % 8 = (v[k] > 0.5), for k < K; every byte of the ceil(K / 8) written (the
 * last one's high bits 0). A byte at a time, without branches: a mask's pixels, one branch
 * each, mispredicted at its edges, cost more than the rest of packing a sample. */
HOT static void pack_bits(uint8_t *restrict bits, const float *restrict v, int K)
{
    int k = 0;
    for (; k + 8 <= K; k += 8) {
        unsigned b = 0;
        for (int j = 0; j < 8; j++)
            b |= (unsigned)(v[k + j] > 0.5f) << j;
        bits[k >> 3] = (uint8_t)b;
    }
    if (k < K) {
        unsigned b = 0;
        for (int j = 0; k + j < K; j++)
            b |= (unsigned)(v[k + j] > 0.5f) << j;
        bits[k >> 3] = (uint8_t)b;
    }
}

/* A rendered image as a compact sample: its 8-bit pixels, then its target's bits (the mask,
 * or the classes present). */
static void pack_sample(uint8_t *out, const synth_sample *s, const train_input *in, int task)
{
    quant_row(out, s->image, in->pixels);
    pack_bits(out + in->pixels, task == TASK_SEGMENT ? s->mask : s->present, train_task_outputs(in, task));
}

void train_render_sample(uint8_t *out, synth_sample *s, const train_input *in, uint64_t seed,
                         uint64_t index, int complexity, int task)
{
    const synth_shape shape = {in->rows, in->cols, in->channels};
    synth_render_shape(s, &shape, seed, index, complexity);
    pack_sample(out, s, in, task);
}

void train_render_samples(uint8_t *const *out, synth_sample *s, const train_input *in, uint64_t seed,
                          const uint64_t *index, int count, int complexity, int task)
{
    const synth_shape shape = {in->rows, in->cols, in->channels};
    for (int b = 0; b < count; b += SYNTH_BATCH) {
        const int m = count - b < SYNTH_BATCH ? count - b : SYNTH_BATCH;
        synth_render_batch(s, &shape, seed, index + b, m, complexity);
        for (int k = 0; k < m; k++)
            pack_sample(out[b + k], &s[k], in, task);
    }
}

/* target[k] = bit k of bits, as 0 or 1. */
HOT static void unpack_bits(float *restrict target, const uint8_t *restrict bits, int K)
{
    /* a byte at a time, without branches (random bits would mispredict one branch in two);
     * for a segmentation target half the time of one loop over the bits (1.5% against 2.8%
     * of an mlp-s stage, results/bench/harness) */
    int k = 0;
    for (; k + 8 <= K; k += 8) {
        const unsigned b = bits[k >> 3];
        for (int j = 0; j < 8; j++)
            target[k + j] = (float)((b >> j) & 1);
    }
    for (; k < K; k++)
        target[k] = (float)((bits[k >> 3] >> (k & 7)) & 1);
}

void train_expand_sample(float *x, float *target, const uint8_t *sample, const train_input *in, int task)
{
    standardise(x, sample, in);
    if (target)
        unpack_bits(target, sample + in->pixels, train_task_outputs(in, task));
}

/* The optimiser of a recipe, with its learning rate or another (scratch cells). */
static nn_optim optim_of(const job_recipe *r, double lr)
{
    return (nn_optim){.kind = r->optimizer == OPT_ADAM ? NN_ADAM : NN_SGD, .lr = (float)lr,
                      .momentum = (float)r->momentum, .weight_decay = (float)r->weight_decay};
}

/* Fine-tuning subset: the first s items of a permutation of the training set that depends
 * on (job seed, repeat) only, so every n of a repeat fine-tunes on the same real images. */
static int *real_subset(const job_spec *spec, int repeat, int total)
{
    int *perm = malloc((size_t)total * sizeof(int));
    if (!perm)
        return NULL;
    for (int i = 0; i < total; i++)
        perm[i] = i;
    rng_t r;
    rng_seed(&r, job_subset_seed(spec, repeat));
    for (int i = total - 1; i > 0; i--) {
        int j = (int)rng_below(&r, (uint64_t)i + 1);
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    return perm;
}

/* Error of net (a head of d->classes) on a labelled set, in batches of batch_cap. */
static double real_error(nn_net *net, const idx_set *test, const train_data *d)
{
    long wrong = 0;
    for (int start = 0; start < test->count; start += net->batch_cap) {
        int B = test->count - start < net->batch_cap ? test->count - start : net->batch_cap;
        float *x = nn_input(net);
        for (int i = 0; i < B; i++)
            copy_real(x + (size_t)i * d->input.pixels, test, start + i, &d->input);
        const float *out = nn_forward(net, B);
        nn_softmax_xent(NULL, &wrong, out, test->labels + start, B, d->classes);
    }
    return (double)wrong / test->count;
}

/* After the forward pass and the loss: a non-finite loss marks the stage failed (the sweep
 * goes on); otherwise back-propagate and update. Returns -1 when the stage diverged. */
static int backward_and_step(cell_status *status, char *reason, size_t rlen, nn_net *net,
                             const nn_optim *opt, int B, double loss, int step, const char *phase)
{
    if (!isfinite(loss)) {
        *status = CELL_FAILED;
        snprintf(reason, rlen, "%s loss became %s at step %d (diverged)", phase,
                 isnan(loss) ? "NaN" : "infinite", step);
        return -1;
    }
    nn_backward(net, B);
    nn_step(net, opt);
    return 0;
}

/* The pre-training loop of bb on net (task head), into out. */
static int pretrain(train_backbone *out, nn_net *net, const job_spec *spec, const job_backbone *bb,
                    const train_input *in, train_poll_fn poll, void *poll_user, char *err, size_t errlen)
{
    const job_recipe *rc = &spec->pretrain;
    int K = net->arch.out_size, E = rc->eval_size, B = rc->batch, X = in->pixels;
    uint64_t data_seed = job_data_seed(spec, bb->complexity, bb->repeat);
    size_t sb = train_sample_bytes(in, bb->task);
    /* held-out images as compact samples (a quarter of their floats' memory), expanded at
     * each evaluation */
    uint8_t *held = malloc((size_t)E * sb);
    float *target = malloc((size_t)net->batch_cap * K * sizeof(float));
    synth_sample *s = malloc(SYNTH_BATCH * sizeof *s);
    /* per batch: the indices to render and where their samples go */
    uint64_t *todo = malloc((size_t)(B > SYNTH_BATCH ? B : SYNTH_BATCH) * sizeof *todo);
    uint8_t **dst = malloc((size_t)(B > SYNTH_BATCH ? B : SYNTH_BATCH) * sizeof *dst);
    if (!held || !target || !s || !todo || !dst) {
        snprintf(err, errlen, "out of memory in pre-training");
        free(held), free(target), free(s), free(todo), free(dst);
        return -1;
    }
    double t0 = util_clock();
    /* held-out images: indices past any training index, same generator */
    const uint64_t heldout_base = 1ULL << 40;
    for (int i0 = 0; i0 < E; i0 += SYNTH_BATCH) {
        const int m = E - i0 < SYNTH_BATCH ? E - i0 : SYNTH_BATCH;
        for (int k = 0; k < m; k++) {
            todo[k] = heldout_base + (uint64_t)(i0 + k);
            dst[k] = held + (size_t)(i0 + k) * sb;
        }
        train_render_samples(dst, s, in, data_seed, todo, m, bb->complexity, bb->task);
    }
    out->times.generate += util_clock() - t0;

    /* A synthetic set is drawn many times over (steps x batch draws of n images): keep each
     * sample once it is rendered, as long as the set fits in TRAIN_CACHE_BYTES. Larger sets
     * are rendered on the fly, so memory does not grow with n. The cache only memoises: the
     * bits are the same either way. */
    uint8_t *cache = NULL, *have = NULL, *sample = malloc(SYNTH_BATCH * sb);
    uint64_t *items = malloc((size_t)B * sizeof *items);
    const char *nocache = getenv("SYNLAW_RENDER_CACHE"); /* "0": off, for checking the bits */
    if (!sample || !items) {
        snprintf(err, errlen, "out of memory in pre-training");
        free(held), free(target), free(s), free(todo), free(dst), free(sample), free(items);
        return -1;
    }
    if ((uint64_t)bb->size * sb <= TRAIN_CACHE_BYTES && (long)bb->steps * B > bb->size &&
        !(nocache && strcmp(nocache, "0") == 0)) {
        cache = malloc((size_t)bb->size * sb);
        have = calloc((size_t)bb->size, 1);
        if (!cache || !have) { /* no cache: slower, same result */
            free(cache), free(have);
            cache = NULL;
            have = NULL;
        }
    }
    rng_t r;
    rng_seed(&r, job_pretrain_order_seed(job_backbone_seed(spec, bb)));
    if (cache) {
        /* Every sample the stage will draw, rendered before the first step: the draws are
         * those of the order stream, replayed here from a copy of it, and the samples are
         * rendered in index order, SYNTH_BATCH at a time (full groups for synth_render_batch;
         * the renderer's code and tables stay in the caches, not evicted by a training step
         * between two renders). The same samples as rendering each at its first draw, and
         * no sample that is never drawn (unless the stage diverges: the samples of the steps
         * it then does not run are rendered too). */
        double tu = util_clock();
        rng_t replay = r;
        for (long d = 0; d < (long)bb->steps * B; d++)
            have[rng_below(&replay, (uint64_t)bb->size)] = 1;
        /* the drawn samples' pages in one call per stretch, not a page fault at each first
         * write (timed with the rendering, as the faults were) */
        util_populate_marked(cache, have, bb->size, sb);
        int m = 0;
        for (long i = 0; i < bb->size; i++) {
            if (have[i]) {
                todo[m] = (uint64_t)i;
                dst[m++] = cache + (size_t)i * sb;
            }
            if (m == SYNTH_BATCH || (m > 0 && i == bb->size - 1)) {
                train_render_samples(dst, s, in, data_seed, todo, m, bb->complexity, bb->task);
                m = 0;
            }
        }
        out->times.generate += util_clock() - tu;
    }
    const nn_optim opt = optim_of(rc, rc->lr);
    int ev = 0;
    double loss_sum = 0.0;
    int loss_n = 0;
    for (int step = 1; step <= bb->steps; step++) {
        double tg = util_clock();
        float *x = nn_input(net);
        /* the batch's draws first (the same stream in the same order), so that the cached
         * samples of the next draws are fetched from memory while this one is expanded */
        for (int i = 0; i < B; i++)
            items[i] = rng_below(&r, (uint64_t)bb->size);
        double ts = tg; /* the staging's start */
        if (cache) {
            /* every draw's sample was rendered before the first step: each is expanded
             * from the cache (staging), timed apart */
            ts = util_clock();
            for (int i = 0; i < B; i++) {
                if (i + 2 < B)
                    for (size_t off = 0; off < sb; off += 64)
                        __builtin_prefetch(cache + items[i + 2] * sb + off);
                train_expand_sample(x + (size_t)i * X, target + (size_t)i * K, cache + items[i] * sb, in,
                                    bb->task);
            }
        } else {
            for (int i0 = 0; i0 < B; i0 += SYNTH_BATCH) {
                const int m = B - i0 < SYNTH_BATCH ? B - i0 : SYNTH_BATCH;
                for (int k = 0; k < m; k++)
                    dst[k] = sample + (size_t)k * sb;
                train_render_samples(dst, s, in, data_seed, items + i0, m, bb->complexity, bb->task);
                for (int k = 0; k < m; k++)
                    train_expand_sample(x + (size_t)(i0 + k) * X, target + (size_t)(i0 + k) * K, dst[k], in,
                                        bb->task);
            }
        }
        double tt = util_clock();
        out->times.generate += tt - tg;
        if (cache)
            out->times.staging += tt - ts;
        const float *o = nn_forward(net, B);
        double loss = nn_sigmoid_bce(nn_dout(net), NULL, o, target, B, K);
        if (backward_and_step(&out->status, out->reason, sizeof out->reason, net, &opt, B, loss, step,
                              "pre-training") != 0)
            break;
        loss_sum += loss;
        loss_n++;
        out->times.pretrain += util_clock() - tt;
        if (poll)
            poll(poll_user);
        if (step % rc->eval_every == 0 || step == bb->steps) {
            double te = util_clock();
            long wrong = 0;
            for (int start = 0; start < E; start += net->batch_cap) {
                int nb = E - start < net->batch_cap ? E - start : net->batch_cap;
                for (int i = 0; i < nb; i++)
                    train_expand_sample(nn_input(net) + (size_t)i * X, target + (size_t)i * K,
                                        held + (size_t)(start + i) * sb, in, bb->task);
                const float *eo = nn_forward(net, nb);
                nn_sigmoid_bce(NULL, &wrong, eo, target, nb, K);
            }
            out->loss[ev] = (float)(loss_sum / loss_n);
            out->error[ev] = (float)((double)wrong / ((double)E * K));
            ev++;
            loss_sum = 0.0;
            loss_n = 0;
            out->times.evaluate += util_clock() - te;
        }
    }
    free(held), free(target), free(s), free(todo), free(dst), free(cache), free(have), free(sample), free(items);
    return 0;
}

/* Evaluation batches have the size of the larger training batch: with one GEMM per layer for
 * the whole batch, larger evaluation batches would only cost memory (im2col buffers). */
static int batch_cap(const job_spec *spec)
{
    return spec->pretrain.batch > spec->finetune.batch ? spec->pretrain.batch : spec->finetune.batch;
}

int train_pretrain(train_backbone *out, const job_spec *spec, const job_backbone *bb,
                   train_poll_fn poll, void *poll_user, char *err, size_t errlen)
{
    double t0 = util_clock();
    memset(out, 0, sizeof *out);
    out->status = CELL_DONE;
    out->steps = bb->steps;
    out->n_pre = job_eval_count(bb->steps, spec->pretrain.eval_every);
    const char *model = spec->model[bb->model];
    nn_arch arch;
    train_input in;
    if (train_input_init(&in, &spec->shape) != 0)
        return util_fail(err, errlen, -1, "the statistics of the training images were not measured "
                         "(data_measure before training)");
    if (arch_of(&arch, spec, bb->model, train_task_outputs(&in, bb->task)) != 0)
        return util_fail(err, errlen, -1, "model '%s' cannot take %dx%dx%d images", model, in.rows,
                         in.cols, in.channels);
    out->nparam = arch.nparam_backbone;
    out->loss = malloc(((size_t)out->n_pre + 1) * sizeof(float));
    out->error = malloc(((size_t)out->n_pre + 1) * sizeof(float));
    out->params = malloc((out->nparam + 1) * sizeof(float));
    nn_net *net = nn_create(&arch, batch_cap(spec));
    int rc = -1;
    if (!out->loss || !out->error || !out->params || !net) {
        util_fail(err, errlen, -1, "out of memory for backbone %d (%s)", bb->index, model);
        goto out;
    }
    for (int i = 0; i < out->n_pre; i++)
        out->loss[i] = out->error[i] = NAN;
    nn_init(net, job_init_seed(spec, bb->model, bb->repeat));
    if (pretrain(out, net, spec, bb, &in, poll, poll_user, err, errlen) != 0)
        goto out;
    memcpy(out->params, net->param, out->nparam * sizeof(float));
    rc = 0;
out:
    nn_free(net);
    out->seconds = util_clock() - t0;
    return rc;
}

int train_finetune(train_result *res, const job_spec *spec, const job_cell *cell,
                   const float *backbone, const train_data *d, train_poll_fn poll, void *poll_user,
                   char *err, size_t errlen)
{
    double t0 = util_clock();
    memset(res, 0, sizeof *res);
    res->status = CELL_DONE;
    res->final_error = res->final_val_error = res->final_test_error = NAN;
    const job_recipe rc = job_cell_recipe(spec, cell);
    res->n_ft = job_eval_count(rc.steps, rc.eval_every);
    res->val_error = malloc((size_t)res->n_ft * sizeof(float));
    res->test_error = malloc((size_t)res->n_ft * sizeof(float));
    const char *model = spec->model[cell->model];
    int B = rc.batch, ret = -1;
    nn_arch arch;
    nn_net *net = NULL;
    int *subset = real_subset(spec, cell->repeat, d->pool);
    uint8_t *labels = malloc((size_t)B);
    if (arch_of(&arch, spec, cell->model, d->classes) != 0) {
        util_fail(err, errlen, -1, "model '%s' cannot take %dx%dx%d images", model, d->input.rows,
                  d->input.cols, d->input.channels);
        goto out;
    }
    net = nn_create(&arch, batch_cap(spec));
    if (!res->val_error || !res->test_error || !net || !subset || !labels) {
        util_fail(err, errlen, -1, "out of memory for cell %d (%s)", cell->index, model);
        goto out;
    }
    for (int i = 0; i < res->n_ft; i++)
        res->val_error[i] = res->test_error[i] = NAN;
    /* The head starts from the same weights as scratch's; the backbone comes from bb. */
    nn_init(net, job_init_seed(spec, cell->model, cell->repeat));
    if (backbone)
        nn_load_backbone(net, backbone, spec->pretrain.transfer_conv);
    nn_optim opt = optim_of(&rc, rc.lr);
    opt.frozen = rc.freeze == 1 ? nn_conv_params(&arch) : rc.freeze == 2 ? arch.nparam_backbone : 0;
    int val = rc.eval_split != EVAL_TEST, test = rc.eval_split != EVAL_VALIDATION;
    rng_t r;
    rng_seed(&r, job_finetune_order_seed(spec, cell->ftsize, cell->repeat));
    int ev = 0;
    for (int step = 1; step <= rc.steps; step++) {
        double tt = util_clock();
        float *x = nn_input(net);
        for (int i = 0; i < B; i++) {
            int item = subset[rng_below(&r, (uint64_t)cell->ftsize)];
            copy_real(x + (size_t)i * d->input.pixels, &d->train, item, &d->input);
            labels[i] = d->train.labels[item];
        }
        const float *out = nn_forward(net, B);
        double loss = nn_softmax_xent(nn_dout(net), NULL, out, labels, B, d->classes);
        if (backward_and_step(&res->status, res->reason, sizeof res->reason, net, &opt, B, loss, step,
                              "fine-tuning") != 0)
            break;
        res->times.finetune += util_clock() - tt;
        if (poll)
            poll(poll_user);
        if (step % rc.eval_every == 0 || step == rc.steps) {
            double te = util_clock();
            if (val)
                res->val_error[ev] = (float)real_error(net, &d->validation, d);
            if (test)
                res->test_error[ev] = (float)real_error(net, &d->test, d);
            ev++;
            res->times.evaluate += util_clock() - te;
        }
    }
    if (res->status != CELL_FAILED) {
        res->final_val_error = res->val_error[res->n_ft - 1];
        res->final_test_error = res->test_error[res->n_ft - 1];
        res->final_error = test ? res->final_test_error : res->final_val_error;
    }
    ret = 0;
out:
    nn_free(net);
    free(subset);
    free(labels);
    res->seconds = util_clock() - t0;
    return ret;
}

int train_cell(train_result *res, const job_spec *spec, const job_cell *cell, const train_data *d,
               train_poll_fn poll, void *poll_user, char *err, size_t errlen)
{
    if (cell->size == 0)
        return train_finetune(res, spec, cell, NULL, d, poll, poll_user, err, errlen);
    job_backbone bb = {.index = cell->backbone, .size = cell->size, .model = cell->model,
                       .complexity = cell->complexity, .task = cell->task, .repeat = cell->repeat,
                       .steps = job_pretrain_steps(spec, cell->size)};
    train_backbone b;
    int rc = train_pretrain(&b, spec, &bb, poll, poll_user, err, errlen);
    if (rc == 0 && b.status == CELL_DONE) {
        rc = train_finetune(res, spec, cell, b.params, d, poll, poll_user, err, errlen);
        res->seconds += b.seconds;
        res->times.generate += b.times.generate;
        res->times.staging += b.times.staging;
        res->times.pretrain += b.times.pretrain;
        res->times.evaluate += b.times.evaluate;
    } else if (rc == 0) {
        memset(res, 0, sizeof *res);
        res->status = CELL_FAILED;
        res->final_error = res->final_val_error = res->final_test_error = NAN;
        snprintf(res->reason, sizeof res->reason, "%s", b.reason);
    }
    train_backbone_free(&b);
    return rc;
}
