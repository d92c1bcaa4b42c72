/* The pipeline of one cell: pre-train (synthetic), then fine-tune (real) with a fresh head. */
#include "synlaw/train.h"

#include "synlaw/nn.h"
#include "synlaw/rng.h"
#include "synlaw/synth.h"
#include "synlaw/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int train_task_outputs(int task) { return task == TASK_SEGMENT ? SYNTH_PIXELS : SYNTH_NCLASS; }

int train_data_load(train_data *d, const job_spec *spec, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    if (idx_load_split(&d->train, spec->data_dir, "train", 0, err, errlen) != 0)
        return -1;
    if (idx_load_split(&d->test, spec->data_dir, "t10k", spec->finetune.eval_size, err, errlen) != 0) {
        idx_free(&d->train);
        return -1;
    }
    const idx_set *sets[2] = {&d->train, &d->test};
    const char *split[2] = {"train", "t10k"};
    for (int i = 0; i < 2; i++)
        if (sets[i]->rows != SYNTH_SIDE || sets[i]->cols != SYNTH_SIDE || sets[i]->nclass > TRAIN_CLASSES) {
            snprintf(err, errlen, "%s/%s-images-idx3-ubyte.gz: %dx%d images with labels up to %d; "
                     "synlaw expects %dx%d images of %d classes (Fashion-MNIST)", spec->data_dir,
                     split[i], sets[i]->rows, sets[i]->cols, sets[i]->nclass - 1, SYNTH_SIDE,
                     SYNTH_SIDE, TRAIN_CLASSES);
            train_data_free(d);
            return -1;
        }
    if (d->train.count <= TRAIN_VALIDATION) {
        snprintf(err, errlen, "%s: %d training images, more than the %d of the validation split "
                 "needed", spec->data_dir, d->train.count, TRAIN_VALIDATION);
        train_data_free(d);
        return -1;
    }
    d->pool = d->train.count - TRAIN_VALIDATION;
    d->validation = d->train;
    d->validation.count = spec->finetune.eval_size < TRAIN_VALIDATION ? spec->finetune.eval_size
                                                                        : TRAIN_VALIDATION;
    d->validation.pixels = d->train.pixels + (size_t)d->pool * SYNTH_PIXELS;
    d->validation.labels = d->train.labels + d->pool;
    for (int i = 0; i < spec->n_ftsize; i++)
        if (spec->ftsize[i] > d->pool) {
            snprintf(err, errlen, "finetune_size %ld exceeds the %d training images of %s that "
                     "fine-tuning may use (the last %d are the validation split)",
                     spec->ftsize[i], d->pool, spec->data_dir, TRAIN_VALIDATION);
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
    free(r->pre_loss);
    free(r->pre_error);
    free(r->ft_error);
    r->pre_loss = r->pre_error = r->ft_error = NULL;
}

static inline float standardise(float v) { return (v - TRAIN_PIXEL_MEAN) * (1.0f / TRAIN_PIXEL_STD); }

static void copy_real(float *dst, const idx_set *set, int item)
{
    const uint8_t *src = set->pixels + (size_t)item * SYNTH_PIXELS;
    for (int p = 0; p < SYNTH_PIXELS; p++)
        dst[p] = standardise((float)src[p] * (1.0f / 255.0f));
}

void train_render(float *x, float *target, synth_sample *s, uint64_t seed, uint64_t index,
                  int complexity, int task)
{
    synth_render(s, seed, index, complexity);
    for (int p = 0; p < SYNTH_PIXELS; p++)
        x[p] = standardise(s->image[p]);
    if (!target)
        return;
    if (task == TASK_SEGMENT)
        memcpy(target, s->mask, sizeof s->mask);
    else
        memcpy(target, s->present, sizeof s->present);
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

/* Error of net (TRAIN_CLASSES-way head) on a labelled set, in batches of batch_cap. */
static double real_error(nn_net *net, const idx_set *test)
{
    long wrong = 0;
    for (int start = 0; start < test->count; start += net->batch_cap) {
        int B = test->count - start < net->batch_cap ? test->count - start : net->batch_cap;
        float *x = nn_input(net);
        for (int i = 0; i < B; i++)
            copy_real(x + (size_t)i * SYNTH_PIXELS, test, start + i);
        const float *out = nn_forward(net, B);
        nn_softmax_xent(NULL, &wrong, out, test->labels + start, B, TRAIN_CLASSES);
    }
    return (double)wrong / test->count;
}

/* After the forward pass and the loss: a non-finite loss marks the cell failed (the sweep
 * goes on); otherwise back-propagate and update. Returns -1 when the cell diverged. */
static int backward_and_step(train_result *res, nn_net *net, const nn_optim *opt, int B,
                             double loss, int step, const char *phase)
{
    if (!isfinite(loss)) {
        res->status = CELL_FAILED;
        snprintf(res->reason, sizeof res->reason, "%s loss became %s at step %d (diverged)",
                 phase, isnan(loss) ? "NaN" : "infinite", step);
        return -1;
    }
    nn_backward(net, B);
    nn_step(net, opt);
    return 0;
}

static int pretrain(train_result *res, nn_net *net, const job_spec *spec, const job_cell *cell,
                    uint64_t cell_seed, train_poll_fn poll, void *poll_user, char *err, size_t errlen)
{
    const job_recipe *rc = &spec->pretrain;
    int K = net->arch.out_size, E = rc->eval_size, B = rc->batch;
    uint64_t data_seed = job_data_seed(spec, cell->complexity, cell->repeat);
    float *hx = malloc((size_t)E * SYNTH_PIXELS * sizeof(float));
    float *ht = malloc((size_t)E * K * sizeof(float));
    float *target = malloc((size_t)net->batch_cap * K * sizeof(float));
    synth_sample *s = malloc(sizeof *s);
    if (!hx || !ht || !target || !s) {
        snprintf(err, errlen, "out of memory in pre-training");
        free(hx), free(ht), free(target), free(s);
        return -1;
    }
    double t0 = util_clock();
    /* held-out images: indices past any training index, same generator */
    const uint64_t heldout_base = 1ULL << 40;
    for (int i = 0; i < E; i++) {
        train_render(hx + (size_t)i * SYNTH_PIXELS, ht + (size_t)i * K, s, data_seed,
                     heldout_base + (uint64_t)i, cell->complexity, cell->task);
    }
    res->times.generate += util_clock() - t0;

    /* A small synthetic set is drawn many times over (steps x batch draws of n images):
     * keep each image once it is rendered. Larger sets are rendered on the fly, so memory
     * does not grow with n. The cache only memoises: the bits are the same either way. */
    float *cx = NULL, *ct = NULL;
    uint8_t *have = NULL;
    const char *nocache = getenv("SYNLAW_RENDER_CACHE"); /* "0": off, for checking the bits */
    if (cell->size <= TRAIN_CACHE_IMAGES && (long)rc->steps * B > cell->size &&
        !(nocache && strcmp(nocache, "0") == 0)) {
        cx = malloc((size_t)cell->size * SYNTH_PIXELS * sizeof(float));
        ct = malloc((size_t)cell->size * K * sizeof(float));
        have = calloc((size_t)cell->size, 1);
        if (!cx || !ct || !have) { /* no cache: slower, same result */
            free(cx), free(ct), free(have);
            cx = ct = NULL;
            have = NULL;
        }
    }
    rng_t r;
    rng_seed(&r, job_pretrain_order_seed(cell_seed));
    const nn_optim opt = optim_of(rc, rc->lr);
    int ev = 0;
    double loss_sum = 0.0;
    int loss_n = 0;
    for (int step = 1; step <= rc->steps; step++) {
        double tg = util_clock();
        float *x = nn_input(net);
        for (int i = 0; i < B; i++) {
            uint64_t item = rng_below(&r, (uint64_t)cell->size);
            float *xi = x + (size_t)i * SYNTH_PIXELS, *ti = target + (size_t)i * K;
            if (have && have[item]) {
                memcpy(xi, cx + item * SYNTH_PIXELS, SYNTH_PIXELS * sizeof(float));
                memcpy(ti, ct + item * K, (size_t)K * sizeof(float));
                continue;
            }
            train_render(xi, ti, s, data_seed, item, cell->complexity, cell->task);
            if (have) {
                memcpy(cx + item * SYNTH_PIXELS, xi, SYNTH_PIXELS * sizeof(float));
                memcpy(ct + item * K, ti, (size_t)K * sizeof(float));
                have[item] = 1;
            }
        }
        double tt = util_clock();
        res->times.generate += tt - tg;
        const float *out = nn_forward(net, B);
        double loss = nn_sigmoid_bce(nn_dout(net), NULL, out, target, B, K);
        if (backward_and_step(res, net, &opt, B, loss, step, "pre-training") != 0)
            break;
        loss_sum += loss;
        loss_n++;
        res->times.pretrain += util_clock() - tt;
        if (poll)
            poll(poll_user);
        if (step % rc->eval_every == 0 || step == rc->steps) {
            double te = util_clock();
            long wrong = 0;
            for (int start = 0; start < E; start += net->batch_cap) {
                int nb = E - start < net->batch_cap ? E - start : net->batch_cap;
                memcpy(nn_input(net), hx + (size_t)start * SYNTH_PIXELS,
                       (size_t)nb * SYNTH_PIXELS * sizeof(float));
                const float *o = nn_forward(net, nb);
                nn_sigmoid_bce(NULL, &wrong, o, ht + (size_t)start * K, nb, K);
            }
            res->pre_loss[ev] = (float)(loss_sum / loss_n);
            res->pre_error[ev] = (float)((double)wrong / ((double)E * K));
            ev++;
            loss_sum = 0.0;
            loss_n = 0;
            res->times.evaluate += util_clock() - te;
        }
    }
    free(hx), free(ht), free(target), free(s), free(cx), free(ct), free(have);
    return 0;
}

static int finetune(train_result *res, nn_net *net, const job_spec *spec, const job_cell *cell,
                    const train_data *d, train_poll_fn poll, void *poll_user, char *err, size_t errlen)
{
    const job_recipe *rc = &spec->finetune;
    /* scratch cells may have their own learning rate */
    const nn_optim opt = optim_of(rc, cell->size == 0 && rc->scratch_lr > 0 ? rc->scratch_lr : rc->lr);
    int B = rc->batch;
    int *subset = real_subset(spec, cell->repeat, d->pool);
    uint8_t *labels = malloc((size_t)B);
    if (!subset || !labels) {
        snprintf(err, errlen, "out of memory in fine-tuning");
        free(subset), free(labels);
        return -1;
    }
    rng_t r;
    rng_seed(&r, job_finetune_order_seed(spec, cell->ftsize, cell->repeat));
    int ev = 0;
    for (int step = 1; step <= rc->steps; step++) {
        double tt = util_clock();
        float *x = nn_input(net);
        for (int i = 0; i < B; i++) {
            int item = subset[rng_below(&r, (uint64_t)cell->ftsize)];
            copy_real(x + (size_t)i * SYNTH_PIXELS, &d->train, item);
            labels[i] = d->train.labels[item];
        }
        const float *out = nn_forward(net, B);
        double loss = nn_softmax_xent(nn_dout(net), NULL, out, labels, B, TRAIN_CLASSES);
        if (backward_and_step(res, net, &opt, B, loss, step, "fine-tuning") != 0)
            break;
        res->times.finetune += util_clock() - tt;
        if (poll)
            poll(poll_user);
        if (step % rc->eval_every == 0 || step == rc->steps) {
            double te = util_clock();
            res->ft_error[ev++] = (float)real_error(net, rc->eval_validation ? &d->validation : &d->test);
            res->times.evaluate += util_clock() - te;
        }
    }
    if (res->status != CELL_FAILED)
        res->final_error = res->ft_error[res->n_ft - 1];
    free(subset);
    free(labels);
    return 0;
}

int train_cell(train_result *res, const job_spec *spec, const job_cell *cell, const train_data *d,
               train_poll_fn poll, void *poll_user, char *err, size_t errlen)
{
    double t0 = util_clock();
    memset(res, 0, sizeof *res);
    res->status = CELL_DONE;
    res->final_error = NAN;
    res->n_pre = cell->size > 0 ? job_eval_count(&spec->pretrain) : 0;
    res->n_ft = job_eval_count(&spec->finetune);
    res->pre_loss = malloc(((size_t)res->n_pre + 1) * sizeof(float));
    res->pre_error = malloc(((size_t)res->n_pre + 1) * sizeof(float));
    res->ft_error = malloc((size_t)res->n_ft * sizeof(float));
    nn_net *pre = NULL, *ft = NULL;
    int rc = -1;
    if (!res->pre_loss || !res->pre_error || !res->ft_error) {
        snprintf(err, errlen, "out of memory for learning curves");
        goto out;
    }
    for (int i = 0; i < res->n_pre; i++)
        res->pre_loss[i] = res->pre_error[i] = NAN;
    for (int i = 0; i < res->n_ft; i++)
        res->ft_error[i] = NAN;

    const char *model = spec->model[cell->model];
    /* Evaluation runs in batches of the same size: with one GEMM per layer for the whole
     * batch, larger evaluation batches would only cost memory (im2col buffers). */
    int cap = spec->pretrain.batch > spec->finetune.batch ? spec->pretrain.batch : spec->finetune.batch;
    nn_arch ft_arch;
    if (nn_arch_build(&ft_arch, model, TRAIN_CLASSES) != 0) {
        snprintf(err, errlen, "unknown model '%s'", model);
        goto out;
    }
    ft = nn_create(&ft_arch, cap);
    if (!ft) {
        snprintf(err, errlen, "out of memory for model %s", model);
        goto out;
    }
    uint64_t init_seed = job_init_seed(spec, cell->model, cell->repeat);
    nn_init(ft, init_seed);
    uint64_t cell_seed = job_cell_seed(spec, cell);

    if (cell->size > 0) {
        nn_arch pre_arch;
        if (nn_arch_build(&pre_arch, model, train_task_outputs(cell->task)) != 0) {
            snprintf(err, errlen, "unknown model '%s'", model);
            goto out;
        }
        pre = nn_create(&pre_arch, cap);
        if (!pre) {
            snprintf(err, errlen, "out of memory for model %s", model);
            goto out;
        }
        nn_init(pre, init_seed);
        if (pretrain(res, pre, spec, cell, cell_seed, poll, poll_user, err, errlen) != 0)
            goto out;
        nn_copy_backbone(ft, pre, spec->pretrain.transfer_conv);
    }
    if (res->status == CELL_DONE &&
        finetune(res, ft, spec, cell, d, poll, poll_user, err, errlen) != 0)
        goto out;
    rc = 0;
out:
    nn_free(pre);
    nn_free(ft);
    res->seconds = util_clock() - t0;
    if (rc != 0)
        train_result_free(res);
    return rc;
}
