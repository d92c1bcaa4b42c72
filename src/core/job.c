/* Job-file parser: libyaml's document API gives every node its line and column, so each
 * error names file:line:col and what was expected. The schema is fixed in the tables
 * below; unknown and duplicate keys are errors, never ignored. */
#include "synlaw/job.h"

#include "synlaw/nn.h"
#include "synlaw/rng.h"
#include "synlaw/synth.h"
#include "synlaw/util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

typedef struct {
    yaml_document_t *doc;
    const char *file;
    char *err;
    size_t errlen;
} parse_ctx;

static int fail(parse_ctx *c, const yaml_node_t *node, const char *fmt, ...)
{
    int off = snprintf(c->err, c->errlen, "%s:%zu:%zu: ", c->file,
                       node ? node->start_mark.line + 1 : 1, node ? node->start_mark.column + 1 : 1);
    if (off < 0 || (size_t)off >= c->errlen)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + off, c->errlen - (size_t)off, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *scalar(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

static int get_int(parse_ctx *c, const yaml_node_t *n, const char *what, long lo, long hi, long *out)
{
    if (n->type != YAML_SCALAR_NODE)
        return fail(c, n, "%s: expected an integer, found a %s", what,
                    n->type == YAML_SEQUENCE_NODE ? "list" : "mapping");
    const char *s = scalar(n);
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE)
        return fail(c, n, "%s: expected an integer, found '%s'", what, s);
    if (v < lo || v > hi)
        return fail(c, n, "%s: %lld is out of range (expected %ld..%ld)", what, v, lo, hi);
    *out = (long)v;
    return 0;
}

static int get_double(parse_ctx *c, const yaml_node_t *n, const char *what, double lo, double hi,
                      int lo_open, double *out)
{
    if (n->type != YAML_SCALAR_NODE)
        return fail(c, n, "%s: expected a number", what);
    const char *s = scalar(n);
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
        return fail(c, n, "%s: expected a number, found '%s'", what, s);
    if ((lo_open ? v <= lo : v < lo) || v > hi)
        return fail(c, n, "%s: %s is out of range (expected %s%g..%g)", what, s,
                    lo_open ? "more than " : "", lo, hi);
    *out = v;
    return 0;
}

static int get_string(parse_ctx *c, const yaml_node_t *n, const char *what, char *out, size_t len)
{
    if (n->type != YAML_SCALAR_NODE)
        return fail(c, n, "%s: expected a string", what);
    const char *s = scalar(n);
    if (s[0] == '\0')
        return fail(c, n, "%s: must not be empty", what);
    if (strlen(s) != n->data.scalar.length)
        return fail(c, n, "%s: contains a NUL character", what);
    if (strlen(s) >= len)
        return fail(c, n, "%s: '%s' is too long (at most %zu characters)", what, s, len - 1);
    strcpy(out, s);
    return 0;
}

/* Iterate over a mapping, rejecting duplicates and keys not in `keys`. For each key calls
 * handle(ctx, key_index, key_node, value_node, user). */
typedef int (*key_fn)(parse_ctx *c, int key, const yaml_node_t *k, yaml_node_t *v, void *user);

static int walk_map(parse_ctx *c, yaml_node_t *map, const char *where, const char *const *keys,
                    key_fn handle, void *user)
{
    if (map->type != YAML_MAPPING_NODE)
        return fail(c, map, "%s: expected a mapping of key: value", where);
    int nkeys = 0;
    while (keys[nkeys])
        nkeys++;
    int seen[64] = {0};
    if (nkeys > 64)
        return fail(c, map, "%s: internal error: too many keys", where);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
        if (k->type != YAML_SCALAR_NODE)
            return fail(c, k, "%s: keys must be plain names", where);
        int idx = -1;
        for (int i = 0; i < nkeys; i++)
            if (strcmp(keys[i], scalar(k)) == 0)
                idx = i;
        if (idx < 0) {
            char list[512] = "";
            for (int i = 0; i < nkeys; i++) {
                strncat(list, keys[i], sizeof list - strlen(list) - 1);
                if (i + 1 < nkeys)
                    strncat(list, ", ", sizeof list - strlen(list) - 1);
            }
            return fail(c, k, "unknown key '%s' in %s (expected one of: %s)", scalar(k), where, list);
        }
        if (seen[idx])
            return fail(c, k, "duplicate key '%s' in %s", scalar(k), where);
        seen[idx] = 1;
        if (handle(c, idx, k, v, user) != 0)
            return -1;
    }
    return 0;
}

/* A list axis: each element parsed by `elem`, duplicates and empty lists rejected. */
typedef int (*elem_fn)(parse_ctx *c, yaml_node_t *n, const char *what, int i, void *axis);
typedef int (*same_fn)(const void *axis, int i, int j);

static int walk_list(parse_ctx *c, yaml_node_t *v, const char *what, int *count, elem_fn elem,
                     same_fn same, void *axis)
{
    if (v->type == YAML_SCALAR_NODE) { /* a single value is a one-element axis */
        if (elem(c, v, what, 0, axis) != 0)
            return -1;
        *count = 1;
        return 0;
    }
    if (v->type != YAML_SEQUENCE_NODE)
        return fail(c, v, "%s: expected a list such as [a, b, c]", what);
    int n = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
        yaml_node_t *e = yaml_document_get_node(c->doc, *it);
        if (n >= JOB_MAX_AXIS)
            return fail(c, e, "%s: too many values (at most %d)", what, JOB_MAX_AXIS);
        if (elem(c, e, what, n, axis) != 0)
            return -1;
        for (int j = 0; j < n; j++)
            if (same(axis, j, n))
                return fail(c, e, "%s: duplicate value '%s'", what, scalar(e));
        n++;
    }
    if (n == 0)
        return fail(c, v, "%s: the list is empty (give at least one value)", what);
    *count = n;
    return 0;
}

static int elem_size(parse_ctx *c, yaml_node_t *n, const char *what, int i, void *axis)
{
    return get_int(c, n, what, 0, 100000000L, &((long *)axis)[i]);
}
static int elem_ftsize(parse_ctx *c, yaml_node_t *n, const char *what, int i, void *axis)
{
    return get_int(c, n, what, 1, 60000, &((long *)axis)[i]);
}
static int same_long(const void *a, int i, int j) { return ((const long *)a)[i] == ((const long *)a)[j]; }

static int elem_complexity(parse_ctx *c, yaml_node_t *n, const char *what, int i, void *axis)
{
    long v;
    if (get_int(c, n, what, 1, SYNTH_MAX_COMPLEXITY, &v) != 0)
        return -1;
    ((int *)axis)[i] = (int)v;
    return 0;
}
static int same_int(const void *a, int i, int j) { return ((const int *)a)[i] == ((const int *)a)[j]; }

static int elem_model(parse_ctx *c, yaml_node_t *n, const char *what, int i, void *axis)
{
    char *dst = ((char (*)[JOB_NAME_LEN])axis)[i];
    if (get_string(c, n, what, dst, JOB_NAME_LEN) != 0)
        return -1;
    if (nn_model_find(dst) < 0) {
        char names[256];
        nn_model_list(names, sizeof names);
        return fail(c, n, "%s: unknown model '%s' (expected one of: %s)", what, dst, names);
    }
    return 0;
}
static int same_str(const void *a, int i, int j)
{
    const char(*s)[JOB_NAME_LEN] = a;
    return strcmp(s[i], s[j]) == 0;
}

static int elem_task(parse_ctx *c, yaml_node_t *n, const char *what, int i, void *axis)
{
    char name[JOB_NAME_LEN];
    if (get_string(c, n, what, name, sizeof name) != 0)
        return -1;
    for (int t = 0; t < TASK_COUNT; t++)
        if (strcmp(name, job_task_name(t)) == 0) {
            ((job_task *)axis)[i] = (job_task)t;
            return 0;
        }
    return fail(c, n, "%s: unknown pre-training task '%s' (expected multilabel or segment)", what, name);
}
static int same_task(const void *a, int i, int j) { return ((const job_task *)a)[i] == ((const job_task *)a)[j]; }

enum { AX_SIZE, AX_MODEL, AX_COMPLEXITY, AX_TASK, AX_FTSIZE, AX_FTLR, AX_FTSTEPS, AX_FTFREEZE, AX_REPEATS,
       AX_FIRST_REPEAT, AX_COUNT };
static const char *const axes_keys[AX_COUNT + 1] = {
    [AX_SIZE] = "pretrain_size", [AX_MODEL] = "model", [AX_COMPLEXITY] = "complexity",
    [AX_TASK] = "pretrain_task", [AX_FTSIZE] = "finetune_size", [AX_FTLR] = "finetune_lr",
    [AX_FTSTEPS] = "finetune_steps", [AX_FTFREEZE] = "finetune_freeze", [AX_REPEATS] = "repeats",
    [AX_FIRST_REPEAT] = "first_repeat"};
typedef struct {
    job_spec *spec;
    int seen_size, seen_model;
    const yaml_node_t *ftlr_node, *ftsteps_node, *ftfreeze_node;
} axes_state;

static int elem_freeze(parse_ctx *c, yaml_node_t *n, const char *what, int i, void *axis)
{
    char name[JOB_NAME_LEN];
    if (get_string(c, n, what, name, sizeof name) != 0)
        return -1;
    for (int f = 0; f <= 2; f++)
        if (strcmp(name, job_freeze_name(f)) == 0) {
            ((int *)axis)[i] = f;
            return 0;
        }
    return fail(c, n, "%s: unknown value '%s' (expected none, conv or backbone)", what, name);
}

static int elem_lr(parse_ctx *c, yaml_node_t *n, const char *what, int i, void *axis)
{
    return get_double(c, n, what, 0, 10, 1, &((double *)axis)[i]);
}
static int same_double(const void *a, int i, int j) { return ((const double *)a)[i] == ((const double *)a)[j]; }

static int elem_steps(parse_ctx *c, yaml_node_t *n, const char *what, int i, void *axis)
{
    long v;
    if (get_int(c, n, what, 1, 10000000L, &v) != 0)
        return -1;
    ((int *)axis)[i] = (int)v;
    return 0;
}

static int axes_key(parse_ctx *c, int key, const yaml_node_t *k, yaml_node_t *v, void *user)
{
    (void)k;
    axes_state *st = user;
    job_spec *s = st->spec;
    long r;
    switch (key) {
    case AX_SIZE: st->seen_size = 1; return walk_list(c, v, "axes.pretrain_size", &s->n_size, elem_size, same_long, s->size);
    case AX_MODEL: st->seen_model = 1; return walk_list(c, v, "axes.model", &s->n_model, elem_model, same_str, s->model);
    case AX_COMPLEXITY: return walk_list(c, v, "axes.complexity", &s->n_complexity, elem_complexity, same_int, s->complexity);
    case AX_TASK: return walk_list(c, v, "axes.pretrain_task", &s->n_task, elem_task, same_task, s->task);
    case AX_FTSIZE: return walk_list(c, v, "axes.finetune_size", &s->n_ftsize, elem_ftsize, same_long, s->ftsize);
    case AX_FTLR: st->ftlr_node = v; return walk_list(c, v, "axes.finetune_lr", &s->n_ftlr, elem_lr, same_double, s->ftlr);
    case AX_FTSTEPS: st->ftsteps_node = v; return walk_list(c, v, "axes.finetune_steps", &s->n_ftsteps, elem_steps, same_int, s->ftsteps);
    case AX_FTFREEZE: st->ftfreeze_node = v; return walk_list(c, v, "axes.finetune_freeze", &s->n_ftfreeze, elem_freeze, same_int, s->ftfreeze);
    case AX_REPEATS:
        if (get_int(c, v, "axes.repeats", 1, 1000, &r) != 0)
            return -1;
        s->repeats = (int)r;
        return 0;
    case AX_FIRST_REPEAT: /* repeats first_repeat .. first_repeat + repeats - 1: new repeats of
                             an earlier job (same seeds for the same repeat index) */
        if (get_int(c, v, "axes.first_repeat", 0, JOB_MAX_REPEAT, &r) != 0)
            return -1;
        s->first_repeat = (int)r;
        return 0;
    }
    return -1;
}

enum { RK_STEPS, RK_BATCH, RK_OPTIMIZER, RK_LR, RK_MOMENTUM, RK_WEIGHT_DECAY, RK_EVAL_EVERY,
       RK_EVAL_SIZE, RK_EVAL_SPLIT, RK_SCRATCH_LR, RK_TRANSFER, RK_EPOCHS, RK_MIN_STEPS,
       RK_MAX_STEPS, RK_KEEP, RK_FROM, RK_FREEZE, RK_COUNT };
static const char *const recipe_keys[RK_COUNT + 1] = {
    [RK_STEPS] = "steps", [RK_BATCH] = "batch", [RK_OPTIMIZER] = "optimizer", [RK_LR] = "lr",
    [RK_MOMENTUM] = "momentum", [RK_WEIGHT_DECAY] = "weight_decay", [RK_EVAL_EVERY] = "eval_every",
    [RK_EVAL_SIZE] = "eval_size", [RK_EVAL_SPLIT] = "eval_split", [RK_SCRATCH_LR] = "scratch_lr",
    [RK_TRANSFER] = "transfer", [RK_EPOCHS] = "epochs", [RK_MIN_STEPS] = "min_steps",
    [RK_MAX_STEPS] = "max_steps", [RK_KEEP] = "keep", [RK_FROM] = "from", [RK_FREEZE] = "freeze"};
/* Keys of one section only. */
static const int finetune_only[] = {RK_EVAL_SPLIT, RK_SCRATCH_LR, RK_FREEZE};
static const int pretrain_only[] = {RK_TRANSFER, RK_EPOCHS, RK_MIN_STEPS, RK_MAX_STEPS, RK_KEEP, RK_FROM};
typedef struct {
    job_recipe *r;
    job_spec *spec;
    const char *where;
    long max_eval;
    const yaml_node_t *node[RK_COUNT]; /* the value of each key given */
} recipe_state;

static int recipe_key(parse_ctx *c, int key, const yaml_node_t *k, yaml_node_t *v, void *user)
{
    recipe_state *st = user;
    job_recipe *r = st->r;
    char what[64], name[16];
    long iv;
    snprintf(what, sizeof what, "%s.%s", st->where, recipe_keys[key]);
    st->node[key] = v;
    int pre = strcmp(st->where, "pretrain") == 0;
    for (size_t i = 0; i < sizeof finetune_only / sizeof *finetune_only; i++)
        if (key == finetune_only[i] && pre)
            return fail(c, k, "%s: only fine-tuning has %s", what, recipe_keys[key]);
    for (size_t i = 0; i < sizeof pretrain_only / sizeof *pretrain_only; i++)
        if (key == pretrain_only[i] && !pre)
            return fail(c, k, "%s: only pre-training has %s", what, recipe_keys[key]);
    switch (key) {
    case RK_STEPS: if (get_int(c, v, what, 1, 10000000L, &iv)) return -1; r->steps = (int)iv; return 0;
    case RK_BATCH: if (get_int(c, v, what, 1, 4096, &iv)) return -1; r->batch = (int)iv; return 0;
    case RK_OPTIMIZER:
        if (get_string(c, v, what, name, sizeof name))
            return -1;
        if (strcmp(name, "sgd") == 0)
            r->optimizer = OPT_SGD;
        else if (strcmp(name, "adam") == 0)
            r->optimizer = OPT_ADAM;
        else
            return fail(c, v, "%s: unknown optimizer '%s' (expected sgd or adam)", what, name);
        return 0;
    case RK_LR: return get_double(c, v, what, 0, 10, 1, &r->lr);
    case RK_MOMENTUM: return get_double(c, v, what, 0, 0.9999, 0, &r->momentum);
    case RK_WEIGHT_DECAY: return get_double(c, v, what, 0, 1, 0, &r->weight_decay);
    case RK_EVAL_EVERY:
        if (get_int(c, v, what, 1, 10000000L, &iv)) return -1;
        r->eval_every = (int)iv;
        return 0;
    case RK_EVAL_SIZE: if (get_int(c, v, what, 1, st->max_eval, &iv)) return -1; r->eval_size = (int)iv; return 0;
    case RK_TRANSFER:
        if (get_string(c, v, what, name, sizeof name))
            return -1;
        if (strcmp(name, "backbone") == 0)
            r->transfer_conv = 0;
        else if (strcmp(name, "conv") == 0)
            r->transfer_conv = 1;
        else
            return fail(c, v, "%s: unknown value '%s' (expected backbone or conv)", what, name);
        return 0;
    case RK_EPOCHS: return get_double(c, v, what, 0, 1e6, 1, &r->epochs);
    case RK_MIN_STEPS: if (get_int(c, v, what, 1, 10000000L, &iv)) return -1; r->min_steps = (int)iv; return 0;
    case RK_MAX_STEPS: if (get_int(c, v, what, 1, 10000000L, &iv)) return -1; r->max_steps = (int)iv; return 0;
    case RK_KEEP:
        if (get_string(c, v, what, name, sizeof name))
            return -1;
        if (strcmp(name, "true") == 0 || strcmp(name, "yes") == 0)
            r->keep = 1;
        else if (strcmp(name, "false") == 0 || strcmp(name, "no") == 0)
            r->keep = 0;
        else
            return fail(c, v, "%s: '%s' is not a boolean (expected true or false)", what, name);
        return 0;
    case RK_FROM:
        return get_string(c, v, what, st->spec->pretrain_from, sizeof st->spec->pretrain_from);
    case RK_SCRATCH_LR: return get_double(c, v, what, 0, 10, 1, &r->scratch_lr);
    case RK_FREEZE:
        if (get_string(c, v, what, name, sizeof name))
            return -1;
        for (int f = 0; f <= 2; f++)
            if (strcmp(name, job_freeze_name(f)) == 0) {
                r->freeze = f;
                return 0;
            }
        return fail(c, v, "%s: unknown value '%s' (expected none, conv or backbone)", what, name);
    case RK_EVAL_SPLIT:
        if (get_string(c, v, what, name, sizeof name))
            return -1;
        for (int sp = EVAL_TEST; sp <= EVAL_BOTH; sp++)
            if (strcmp(name, job_eval_split_name((job_eval_split)sp)) == 0) {
                r->eval_split = (job_eval_split)sp;
                return 0;
            }
        return fail(c, v, "%s: unknown split '%s' (expected test, validation or both)", what, name);
    }
    return -1;
}

static int parse_recipe(parse_ctx *c, yaml_node_t *v, job_spec *spec, job_recipe *r, const char *where,
                        long max_eval, recipe_state *st)
{
    *st = (recipe_state){r, spec, where, max_eval, {NULL}};
    if (walk_map(c, v, where, recipe_keys, recipe_key, st) != 0)
        return -1;
    const yaml_node_t *ev = st->node[RK_EVAL_EVERY] ? st->node[RK_EVAL_EVERY] : v;
    if (r->epochs > 0) {
        if (st->node[RK_STEPS])
            return fail(c, st->node[RK_STEPS], "%s.steps: give steps (a fixed budget) or epochs (a "
                        "budget that grows with n), not both", where);
        if (r->min_steps > r->max_steps)
            return fail(c, st->node[RK_MIN_STEPS] ? st->node[RK_MIN_STEPS] : v,
                        "%s.min_steps: %d is more than max_steps (%d)", where, r->min_steps, r->max_steps);
        if (r->eval_every > r->min_steps)
            return fail(c, ev, "%s.eval_every: %d is more than min_steps (%d)", where, r->eval_every,
                        r->min_steps);
        return 0;
    }
    for (int k = RK_MIN_STEPS; k <= RK_MAX_STEPS; k++)
        if (st->node[k])
            return fail(c, st->node[k], "%s.%s: only with epochs (a budget that grows with n)", where,
                        recipe_keys[k]);
    if (r->eval_every > r->steps)
        return fail(c, ev, "%s.eval_every: %d is more than steps (%d)", where, r->eval_every, r->steps);
    return 0;
}

enum { DK_FORMAT, DK_DIR, DK_FILE, DK_TRAIN, DK_TEST, DK_TRAIN_FILE, DK_TEST_FILE, DK_IMAGES, DK_LABELS,
       DK_VALIDATION, DK_CLASSES, DK_CLASS_NAMES, DK_COUNT };
static const char *const data_keys[DK_COUNT + 1] = {
    [DK_FORMAT] = "format", [DK_DIR] = "dir", [DK_FILE] = "file", [DK_TRAIN] = "train", [DK_TEST] = "test",
    [DK_TRAIN_FILE] = "train_file", [DK_TEST_FILE] = "test_file", [DK_IMAGES] = "images",
    [DK_LABELS] = "labels", [DK_VALIDATION] = "validation", [DK_CLASSES] = "classes",
    [DK_CLASS_NAMES] = "class_names"};
typedef struct {
    data_source *d;
    const yaml_node_t *node[DK_COUNT];
} data_state;

static int data_key(parse_ctx *c, int key, const yaml_node_t *k, yaml_node_t *v, void *user)
{
    (void)k;
    data_state *st = user;
    data_source *d = st->d;
    char what[32], name[16];
    long iv;
    snprintf(what, sizeof what, "data.%s", data_keys[key]);
    st->node[key] = v;
    switch (key) {
    case DK_FORMAT:
        if (get_string(c, v, what, name, sizeof name) != 0)
            return -1;
        if (strcmp(name, "idx") == 0)
            d->format = DATA_IDX;
        else if (strcmp(name, "hdf5") == 0)
            d->format = DATA_HDF5;
        else
            return fail(c, v, "%s: unknown format '%s' (expected idx or hdf5)", what, name);
        return 0;
    case DK_DIR: return get_string(c, v, what, d->dir, sizeof d->dir);
    case DK_FILE: return get_string(c, v, what, d->file, sizeof d->file);
    case DK_TRAIN: return get_string(c, v, what, d->train, sizeof d->train);
    case DK_TEST: return get_string(c, v, what, d->test, sizeof d->test);
    case DK_TRAIN_FILE: return get_string(c, v, what, d->train_file, sizeof d->train_file);
    case DK_TEST_FILE: return get_string(c, v, what, d->test_file, sizeof d->test_file);
    case DK_IMAGES: return get_string(c, v, what, d->images, sizeof d->images);
    case DK_LABELS: return get_string(c, v, what, d->labels, sizeof d->labels);
    case DK_VALIDATION:
        if (get_int(c, v, what, 1, 10000000L, &iv) != 0)
            return -1;
        d->validation = (int)iv;
        return 0;
    case DK_CLASSES:
        if (get_int(c, v, what, 2, DATA_MAX_CLASSES, &iv) != 0)
            return -1;
        d->classes = (int)iv;
        return 0;
    case DK_CLASS_NAMES: {
        if (v->type != YAML_SEQUENCE_NODE)
            return fail(c, v, "%s: expected a list of names such as [cat, dog]", what);
        size_t used = 0;
        int n = 0;
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
            yaml_node_t *e = yaml_document_get_node(c->doc, *it);
            char one[DATA_NAME_LEN];
            if (get_string(c, e, what, one, sizeof one) != 0)
                return -1;
            if (strchr(one, ','))
                return fail(c, e, "%s: '%s' contains a comma (names are stored comma-separated)", what, one);
            if (used + strlen(one) + 2 > sizeof d->class_names)
                return fail(c, e, "%s: the names are longer than %d characters in all", what, DATA_NAMES_LEN - 1);
            used += (size_t)snprintf(d->class_names + used, sizeof d->class_names - used, "%s%s", n ? "," : "", one);
            n++;
        }
        if (n == 0)
            return fail(c, v, "%s: the list is empty", what);
        return 0;
    }
    }
    return -1;
}

/* The data: section; its defaults follow the format (idx: Fashion-MNIST's directory and file
 * names; hdf5: groups train and test of `file`, or the root of train_file and test_file). */
static int parse_data(parse_ctx *c, yaml_node_t *v, job_spec *s)
{
    data_state st = {&s->data, {NULL}};
    data_source *d = &s->data;
    d->dir[0] = d->train[0] = d->test[0] = '\0';
    if (walk_map(c, v, "data", data_keys, data_key, &st) != 0)
        return -1;
    data_source def;
    data_default(&def);
    if (d->format == DATA_IDX) {
        for (int k = DK_FILE; k <= DK_LABELS; k++)
            if (k != DK_TRAIN && k != DK_TEST && st.node[k])
                return fail(c, st.node[k], "data.%s: only with format: hdf5 (IDX files are named "
                            "DIR/PREFIX-images-idx3-ubyte.gz; train and test give the prefixes)", data_keys[k]);
        if (!st.node[DK_DIR] && !st.node[DK_TRAIN] && !st.node[DK_TEST])
            strcpy(d->dir, def.dir);
        if (!d->train[0])
            strcpy(d->train, "train");
        if (!d->test[0])
            strcpy(d->test, "t10k");
        return 0;
    }
    if (!d->file[0] && !(st.node[DK_TRAIN_FILE] && st.node[DK_TEST_FILE]))
        return fail(c, v, "data: format hdf5 needs file (one file with both splits) or train_file and "
                    "test_file");
    if (d->file[0] && st.node[DK_TRAIN_FILE] && st.node[DK_TEST_FILE])
        return fail(c, st.node[DK_FILE], "data.file: train_file and test_file already name both files");
    if (!d->train[0])
        strcpy(d->train, d->file[0] && !d->train_file[0] ? "train" : "/");
    if (!d->test[0])
        strcpy(d->test, d->file[0] && !d->test_file[0] ? "test" : "/");
    return 0;
}

enum { TK_NAME, TK_SEED, TK_DATA_DIR, TK_DATA, TK_AXES, TK_PRETRAIN, TK_FINETUNE, TK_COUNT };
static const char *const top_keys[TK_COUNT + 1] = {
    [TK_NAME] = "name", [TK_SEED] = "seed", [TK_DATA_DIR] = "data_dir", [TK_DATA] = "data", [TK_AXES] = "axes",
    [TK_PRETRAIN] = "pretrain", [TK_FINETUNE] = "finetune"};
typedef struct {
    job_spec *spec;
    yaml_node_t *axes, *data_node;
    recipe_state pre, ft;
} top_state;

static int top_key(parse_ctx *c, int key, const yaml_node_t *k, yaml_node_t *v, void *user)
{
    (void)k;
    top_state *st = user;
    job_spec *s = st->spec;
    long iv;
    switch (key) {
    case TK_NAME:
        if (get_string(c, v, "name", s->name, sizeof s->name) != 0)
            return -1;
        if (!util_safe_name(s->name))
            return fail(c, v, "name: '%s' cannot name files (expected printable characters without "
                        "'/', not '.' or '..')", s->name);
        return 0;
    case TK_SEED:
        if (get_int(c, v, "seed", 0, LONG_MAX, &iv) != 0)
            return -1;
        s->seed = (uint64_t)iv;
        return 0;
    case TK_DATA_DIR: /* the key of synlaw before data: (IDX files of Fashion-MNIST's names) */
        if (st->data_node)
            return fail(c, k, "data_dir: give data.dir in the data: section, not both");
        st->data_node = v;
        return get_string(c, v, "data_dir", s->data.dir, sizeof s->data.dir);
    case TK_DATA:
        if (st->data_node)
            return fail(c, k, "data: give data.dir in the data: section, not both it and data_dir");
        st->data_node = v;
        return parse_data(c, v, s);
    case TK_AXES: st->axes = v; return 0; /* parsed after the recipes are known */
    case TK_PRETRAIN: return parse_recipe(c, v, s, &s->pretrain, "pretrain", 100000, &st->pre);
    case TK_FINETUNE: return parse_recipe(c, v, s, &s->finetune, "finetune", 10000, &st->ft);
    }
    return -1;
}

static void defaults(job_spec *s)
{
    memset(s, 0, sizeof *s);
    strcpy(s->name, "sweep");
    data_default(&s->data);
    data_default_shape(&s->shape);
    s->n_complexity = 1;
    s->complexity[0] = 1;
    s->n_task = 1;
    s->task[0] = TASK_MULTILABEL;
    s->n_ftsize = 1;
    s->ftsize[0] = 1000;
    s->repeats = 1;
    s->pretrain = (job_recipe){.steps = 1000, .batch = 64, .optimizer = OPT_ADAM, .lr = 1e-3,
                               .momentum = 0.9, .weight_decay = 1e-4, .eval_every = 100,
                               .eval_size = 500, .min_steps = 100, .max_steps = 100000,
                               .keep = 1};
    s->finetune = (job_recipe){.steps = 500, .batch = 64, .optimizer = OPT_SGD, .lr = 0.02,
                               .momentum = 0.9, .weight_decay = 1e-4, .eval_every = 50,
                               .eval_size = 2000};
}

/* Probe the data into s->shape; the error names the data: section (or data_dir) and what the
 * files hold. */
static int check_data_files(parse_ctx *c, job_spec *s, const yaml_node_t *node)
{
    char why[1024];
    struct stat sb;
    if (s->data.dir[0] && (stat(s->data.dir, &sb) != 0 || !S_ISDIR(sb.st_mode)))
        return fail(c, node, "data.dir: '%s' is not a directory%s", s->data.dir,
                    s->data.format == DATA_IDX ? " (install dataset-fashion-mnist, or point data.dir at a "
                    "directory of IDX files)" : "");
    if (data_probe(&s->shape, &s->data, why, sizeof why) == SL_OK)
        return 0;
    if (s->data.format == DATA_IDX && strstr(why, "cannot open"))
        return fail(c, node, "data: %s (install dataset-fashion-mnist, or point data.dir at a directory of "
                    "IDX files named PREFIX-images-idx3-ubyte.gz and PREFIX-labels-idx1-ubyte.gz)", why);
    return fail(c, node, "data: %s", why);
}

/* Before libyaml builds the document: one pass over the events that stops at the first
 * collection nested deeper than JOB_MAX_DEPTH and at a second document. Building a document
 * of 100,000 nested flow collections takes libyaml a minute; this pass refuses it after
 * JOB_MAX_DEPTH of them. 0, or -1 with "file:line:col: ..." in err. */
static int prescan(const char *text, size_t len, const char *file, char *err, size_t errlen)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "%s: cannot initialise the YAML parser", file);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int depth = 0, docs = 0, rc = -1;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            snprintf(err, errlen, "%s:%zu:%zu: YAML syntax error: %s", file, parser.problem_mark.line + 1,
                     parser.problem_mark.column + 1, parser.problem ? parser.problem : "unknown");
            break;
        }
        yaml_event_type_t type = ev.type;
        yaml_mark_t at = ev.start_mark;
        yaml_event_delete(&ev);
        if (type == YAML_STREAM_END_EVENT) {
            rc = 0;
            break;
        }
        if (type == YAML_DOCUMENT_START_EVENT && ++docs > 1) {
            snprintf(err, errlen, "%s:%zu:%zu: a second YAML document; a job file holds one job (one "
                     "document)", file, at.line + 1, at.column + 1);
            break;
        }
        if ((type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT) &&
            ++depth > JOB_MAX_DEPTH) {
            snprintf(err, errlen, "%s:%zu:%zu: nested more than %d levels deep (a job file needs 3)",
                     file, at.line + 1, at.column + 1, JOB_MAX_DEPTH);
            break;
        }
        if (type == YAML_SEQUENCE_END_EVENT || type == YAML_MAPPING_END_EVENT)
            depth--;
    }
    yaml_parser_delete(&parser);
    return rc;
}

int job_parse(job_spec *spec, const char *text, const char *file, char *err, size_t errlen)
{
    return job_parse_grid(spec, text, file, 1, err, errlen);
}

int job_parse_grid(job_spec *spec, const char *text, const char *file, int check_data, char *err,
                   size_t errlen)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    parse_ctx c = {&doc, file, err, errlen};
    int rc = -1;

    defaults(spec);
    size_t len = strlen(text);
    if (len > JOB_MAX_BYTES) {
        snprintf(err, errlen, "%s:1:1: %zu bytes; a job file is at most %d bytes (1 MiB)", file, len,
                 JOB_MAX_BYTES);
        return -1;
    }
    if (prescan(text, len, file, err, errlen) != 0)
        return -1;
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "%s: cannot initialise the YAML parser", file);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "%s:%zu:%zu: YAML syntax error: %s", file,
                 parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                 parser.problem ? parser.problem : "unknown");
        yaml_parser_delete(&parser);
        return -1;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        snprintf(err, errlen, "%s:1:1: the job file is empty (expected a mapping with axes:)", file);
        goto out;
    }
    top_state st = {spec, NULL, NULL, {0}, {0}};
    if (walk_map(&c, root, "the job file", top_keys, top_key, &st) != 0)
        goto out;
    if (!st.axes) {
        fail(&c, root, "missing key 'axes' (expected axes: with pretrain_size and model)");
        goto out;
    }
    axes_state ast = {spec, 0, 0, NULL, NULL, NULL};
    if (walk_map(&c, st.axes, "axes", axes_keys, axes_key, &ast) != 0)
        goto out;
    if (!ast.seen_size || !ast.seen_model) {
        fail(&c, st.axes, "axes: missing '%s' (a list of values)", !ast.seen_size ? "pretrain_size" : "model");
        goto out;
    }
    /* Fine-tuning axes: the recipe's value when absent, never both. */
    if (ast.ftlr_node && st.ft.node[RK_LR]) {
        fail(&c, st.ft.node[RK_LR], "finetune.lr: the axis finetune_lr gives the learning rates; "
             "remove one of them");
        goto out;
    }
    if (ast.ftlr_node && st.ft.node[RK_SCRATCH_LR]) {
        fail(&c, st.ft.node[RK_SCRATCH_LR], "finetune.scratch_lr: with a finetune_lr axis every learning "
             "rate applies to scratch and pre-trained cells alike; remove scratch_lr");
        goto out;
    }
    if (ast.ftsteps_node && st.ft.node[RK_STEPS]) {
        fail(&c, st.ft.node[RK_STEPS], "finetune.steps: the axis finetune_steps gives the steps; "
             "remove one of them");
        goto out;
    }
    if (ast.ftfreeze_node && st.ft.node[RK_FREEZE]) {
        fail(&c, st.ft.node[RK_FREEZE], "finetune.freeze: the axis finetune_freeze gives what is frozen; "
             "remove one of them");
        goto out;
    }
    if (!spec->n_ftfreeze)
        spec->ftfreeze[spec->n_ftfreeze++] = spec->finetune.freeze;
    if (!spec->n_ftlr)
        spec->ftlr[spec->n_ftlr++] = spec->finetune.lr;
    if (!spec->n_ftsteps)
        spec->ftsteps[spec->n_ftsteps++] = spec->finetune.steps;
    for (int i = 0; i < spec->n_ftsteps; i++)
        if (spec->finetune.eval_every > spec->ftsteps[i]) {
            fail(&c, ast.ftsteps_node ? ast.ftsteps_node : st.axes, "finetune.eval_every: %d is more "
                 "than %d fine-tuning steps", spec->finetune.eval_every, spec->ftsteps[i]);
            goto out;
        }
    if (job_cell_count(spec) > 10000000) {
        fail(&c, st.axes, "axes: the grid has more than 10,000,000 cells");
        goto out;
    }
    if (!data_source_is_default(&spec->data))
        spec->shape.rows = 0; /* not Fashion-MNIST: unknown until probed */
    if (check_data && check_data_files(&c, spec, st.data_node ? st.data_node : root) != 0)
        goto out;
    rc = 0;
out:
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

char *job_read_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (len > JOB_MAX_BYTES) { /* stop reading: a job file is small */
            snprintf(err, errlen, "%s: more than %d bytes; a job file is at most 1 MiB", path, JOB_MAX_BYTES);
            free(buf);
            fclose(f);
            return NULL;
        }
        if (len + 1 == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            } else {
                buf = nb;
                cap *= 2;
            }
        }
    }
    if (!buf || ferror(f)) {
        snprintf(err, errlen, "%s: cannot read: %s", path, buf ? strerror(errno) : "out of memory");
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[len] = '\0';
    if (strlen(buf) != len) {
        snprintf(err, errlen, "%s: contains a NUL byte (expected a YAML text file)", path);
        free(buf);
        return NULL;
    }
    return buf;
}

void job_cell_counts(const job_spec *s, long *pretrained, long *scratch)
{
    long nscratch = 0;
    for (int i = 0; i < s->n_size; i++)
        nscratch += s->size[i] == 0;
    long per = (long)s->n_model * s->n_ftsize * s->n_ftlr * s->n_ftsteps * s->n_ftfreeze * s->repeats;
    if (pretrained)
        *pretrained = per * (s->n_size - nscratch) * s->n_complexity * s->n_task;
    if (scratch)
        *scratch = per * nscratch;
}

int job_cell_count(const job_spec *s)
{
    long pre, scr;
    job_cell_counts(s, &pre, &scr);
    return pre + scr > INT_MAX ? INT_MAX : (int)(pre + scr);
}

/* Pre-training sizes (n > 0) of the axis. */
static int positive_sizes(const job_spec *s)
{
    int k = 0;
    for (int i = 0; i < s->n_size; i++)
        k += s->size[i] > 0;
    return k;
}

int job_backbone_count(const job_spec *s)
{
    long n = (long)s->n_model * s->repeats * positive_sizes(s) * s->n_complexity * s->n_task;
    return n > INT_MAX ? INT_MAX : (int)n;
}

/* Index of the backbone of (model, repeat, k-th positive size, complexity index, task index). */
static int backbone_index(const job_spec *s, int m, int r, int k, int c, int t)
{
    return (((m * s->repeats + r) * positive_sizes(s) + k) * s->n_complexity + c) * s->n_task + t;
}

void job_backbones(const job_spec *s, job_backbone *bb)
{
    int idx = 0;
    for (int m = 0; m < s->n_model; m++)
        for (int r = 0; r < s->repeats; r++)
            for (int n = 0; n < s->n_size; n++) {
                if (s->size[n] == 0)
                    continue;
                for (int c = 0; c < s->n_complexity; c++)
                    for (int t = 0; t < s->n_task; t++) {
                        bb[idx] = (job_backbone){.index = idx, .size = s->size[n], .model = m,
                                                 .complexity = s->complexity[c], .task = (int)s->task[t],
                                                 .repeat = s->first_repeat + r,
                                                 .steps = job_pretrain_steps(s, s->size[n])};
                        idx++;
                    }
            }
}

/* The cells of one fine-tuning setting (f, l, st, fz) of model m, from position *k. */
static void setting_cells(const job_spec *s, job_cell *cells, int *k, int m, int f, int l, int st, int fz)
{
    for (int r = 0; r < s->repeats; r++)
        for (int n = 0, pos = 0; n < s->n_size; n++) {
            int scratch = s->size[n] == 0;
            for (int c = 0; c < (scratch ? 1 : s->n_complexity); c++)
                for (int t = 0; t < (scratch ? 1 : s->n_task); t++) {
                    cells[*k] = (job_cell){.index = *k, .size = s->size[n], .model = m,
                                           .complexity = scratch ? 0 : s->complexity[c],
                                           .task = scratch ? -1 : (int)s->task[t], .ftsize = s->ftsize[f],
                                           .ftlr = l, .ftsteps = st, .ftfreeze = fz,
                                           .repeat = s->first_repeat + r,
                                           .backbone = scratch ? -1 : backbone_index(s, m, r, pos, c, t)};
                    (*k)++;
                }
            pos += !scratch;
        }
}

void job_cells(const job_spec *s, job_cell *cells)
{
    int k = 0;
    for (int m = 0; m < s->n_model; m++)
        for (int f = 0; f < s->n_ftsize; f++)
            for (int l = 0; l < s->n_ftlr; l++)
                for (int st = 0; st < s->n_ftsteps; st++)
                    for (int fz = 0; fz < s->n_ftfreeze; fz++)
                        setting_cells(s, cells, &k, m, f, l, st, fz);
}

int job_pretrain_steps(const job_spec *s, long n)
{
    const job_recipe *p = &s->pretrain;
    if (p->epochs <= 0)
        return p->steps;
    double steps = ceil(p->epochs * (double)n / p->batch);
    if (steps < p->min_steps)
        steps = p->min_steps;
    if (steps > p->max_steps)
        steps = p->max_steps;
    return (int)steps;
}

job_recipe job_cell_recipe(const job_spec *s, const job_cell *c)
{
    job_recipe r = s->finetune;
    r.lr = s->ftlr[c->ftlr];
    if (c->size == 0 && r.scratch_lr > 0)
        r.lr = r.scratch_lr;
    r.steps = s->ftsteps[c->ftsteps];
    r.freeze = s->ftfreeze[c->ftfreeze];
    return r;
}

int job_eval_count(int steps, int eval_every) { return (steps + eval_every - 1) / eval_every; }

void job_eval_steps(int steps, int eval_every, int *out)
{
    int n = job_eval_count(steps, eval_every);
    for (int i = 0; i < n; i++)
        out[i] = (i + 1) * eval_every < steps ? (i + 1) * eval_every : steps;
}

int job_max_finetune_evals(const job_spec *s)
{
    int most = 0;
    for (int i = 0; i < s->n_ftsteps; i++) {
        int e = job_eval_count(s->ftsteps[i], s->finetune.eval_every);
        most = e > most ? e : most;
    }
    return most;
}

int job_max_pretrain_evals(const job_spec *s)
{
    int most = 0;
    for (int i = 0; i < s->n_size; i++)
        if (s->size[i] > 0) {
            int e = job_eval_count(job_pretrain_steps(s, s->size[i]), s->pretrain.eval_every);
            most = e > most ? e : most;
        }
    return most;
}

uint64_t job_cell_seed(const job_spec *s, const job_cell *c)
{
    uint64_t w[9] = {(uint64_t)c->size, rng_hash_str(0, s->model[c->model]), (uint64_t)c->complexity,
                     (uint64_t)(c->task + 1), (uint64_t)c->ftsize, (uint64_t)c->repeat, 0, 0, 0};
    double lr = s->ftlr[c->ftlr];
    memcpy(&w[6], &lr, sizeof lr);
    w[7] = (uint64_t)s->ftsteps[c->ftsteps];
    w[8] = (uint64_t)s->ftfreeze[c->ftfreeze];
    return rng_hash(s->seed, w, 9);
}

uint64_t job_backbone_seed(const job_spec *s, const job_backbone *b)
{
    uint64_t w[6] = {JOB_SALT_BACKBONE, (uint64_t)b->size, rng_hash_str(0, s->model[b->model]),
                     (uint64_t)b->complexity, (uint64_t)(b->task + 1), (uint64_t)b->repeat};
    return rng_hash(s->seed, w, 6);
}

uint64_t job_backbone_key(const job_spec *s, const job_backbone *b)
{
    const job_recipe *p = &s->pretrain;
    uint64_t w[10] = {job_backbone_seed(s, b), (uint64_t)b->steps, (uint64_t)p->batch,
                      (uint64_t)p->optimizer, 0, 0, 0, (uint64_t)p->eval_every, (uint64_t)p->eval_size,
                      rng_hash_str(0, SYNLAW_VERSION)};
    memcpy(&w[4], &p->lr, sizeof p->lr);
    memcpy(&w[5], &p->momentum, sizeof p->momentum);
    memcpy(&w[6], &p->weight_decay, sizeof p->weight_decay);
    uint64_t key = rng_hash(s->seed, w, 10);
    if (data_shape_is_default(&s->shape))
        return key; /* Fashion-MNIST: the key of synlaw before data: existed */
    /* the input the backbone was trained on: geometry and standardisation */
    const data_shape *d = &s->shape;
    uint64_t g[2 + 2 * DATA_MAX_CHANNELS] = {(uint64_t)d->rows << 32 | (uint64_t)d->cols, (uint64_t)d->channels};
    for (int c = 0; c < DATA_MAX_CHANNELS; c++) {
        uint32_t m, sd;
        memcpy(&m, &d->mean[c], sizeof m);
        memcpy(&sd, &d->std[c], sizeof sd);
        g[2 + 2 * c] = m;
        g[3 + 2 * c] = sd;
    }
    return rng_hash(key, g, 2 + 2 * DATA_MAX_CHANNELS);
}

uint64_t job_data_seed(const job_spec *s, int complexity, int repeat)
{
    uint64_t w[3] = {JOB_SALT_DATA, (uint64_t)complexity, (uint64_t)repeat};
    return rng_hash(s->seed, w, 3);
}

uint64_t job_init_seed(const job_spec *s, int model, int repeat)
{
    uint64_t w[3] = {JOB_SALT_INIT, rng_hash_str(0, s->model[model]), (uint64_t)repeat};
    return rng_hash(s->seed, w, 3);
}

uint64_t job_subset_seed(const job_spec *s, int repeat)
{
    uint64_t w[2] = {JOB_SALT_SUBSET, (uint64_t)repeat};
    return rng_hash(s->seed, w, 2);
}

uint64_t job_finetune_order_seed(const job_spec *s, long ftsize, int repeat)
{
    uint64_t w[3] = {JOB_SALT_FINETUNE_ORDER, (uint64_t)ftsize, (uint64_t)repeat};
    return rng_hash(s->seed, w, 3);
}

uint64_t job_pretrain_order_seed(uint64_t backbone_seed)
{
    uint64_t w = JOB_SALT_PRETRAIN_ORDER;
    return rng_hash(backbone_seed, &w, 1);
}

const char *job_task_name(int task)
{
    switch (task) {
    case TASK_MULTILABEL: return "multilabel";
    case TASK_SEGMENT: return "segment";
    default: return "none";
    }
}

const char *job_status_name(int status)
{
    static const char *const names[CELL_NSTATUS] = {
        [CELL_PENDING] = "pending", [CELL_DONE] = "done", [CELL_FAILED] = "failed"};
    return status >= 0 && status < CELL_NSTATUS ? names[status] : "?";
}

const char *job_optimizer_name(job_optimizer o) { return o == OPT_ADAM ? "adam" : "sgd"; }

void job_cell_describe(const job_spec *s, const job_cell *c, char *buf, size_t len)
{
    char extra[64] = ""; /* the fine-tuning axes that vary */
    if (s->n_ftlr > 1)
        snprintf(extra, sizeof extra, " lr=%g", s->ftlr[c->ftlr]);
    if (s->n_ftsteps > 1) {
        size_t used = strlen(extra);
        snprintf(extra + used, sizeof extra - used, " steps=%d", s->ftsteps[c->ftsteps]);
    }
    if (s->n_ftfreeze > 1) {
        size_t used = strlen(extra);
        snprintf(extra + used, sizeof extra - used, " freeze=%s", job_freeze_name(s->ftfreeze[c->ftfreeze]));
    }
    if (c->size == 0)
        snprintf(buf, len, "n=0 %s scratch s=%ld%s r%d", s->model[c->model], c->ftsize, extra, c->repeat);
    else
        snprintf(buf, len, "n=%ld %s c%d %s s=%ld%s r%d", c->size, s->model[c->model], c->complexity,
                 job_task_name(c->task), c->ftsize, extra, c->repeat);
}

void job_backbone_describe(const job_spec *s, const job_backbone *b, char *buf, size_t len)
{
    snprintf(buf, len, "n=%ld %s c%d %s r%d", b->size, s->model[b->model], b->complexity,
             job_task_name(b->task), b->repeat);
}

const char *job_freeze_name(int f) { return f == 1 ? "conv" : f == 2 ? "backbone" : "none"; }

const char *job_eval_split_name(job_eval_split sp)
{
    return sp == EVAL_VALIDATION ? "validation" : sp == EVAL_BOTH ? "both" : "test";
}

uint64_t job_text_hash(const char *text)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *text; text++)
        h = (h ^ (unsigned char)*text) * 1099511628211ULL;
    return h;
}

/* The first field where two recipes differ ("" when none). Fine-tuning: not the settings
 * every cell records (lr, scratch_lr, steps, freeze: they are group columns of the fit). */
static const char *recipe_difference(const job_recipe *a, const job_recipe *b, int fine)
{
    if (a->batch != b->batch) return "batch";
    if (a->optimizer != b->optimizer) return "optimizer";
    if (!fine && a->lr != b->lr) return "lr";
    if (a->momentum != b->momentum) return "momentum";
    if (a->weight_decay != b->weight_decay) return "weight_decay";
    if (a->eval_every != b->eval_every) return "eval_every";
    if (a->eval_size != b->eval_size) return "eval_size";
    if (a->epochs != b->epochs) return "epochs";
    if (a->epochs > 0 && (a->min_steps != b->min_steps || a->max_steps != b->max_steps)) return "min_steps/max_steps";
    if (!fine && a->epochs == 0 && a->steps != b->steps) return "steps";
    if (a->transfer_conv != b->transfer_conv) return "transfer";
    if (a->eval_split != b->eval_split) return "eval_split";
    return "";
}

int job_same_design(const job_spec *a, const job_spec *b, char *why, size_t len)
{
    const char *d;
    if (a->seed != b->seed)
        snprintf(why, len, "seed %llu against %llu", (unsigned long long)a->seed, (unsigned long long)b->seed);
    else if (!data_shape_same(&a->shape, &b->shape))
        snprintf(why, len, "other data (shape, classes, splits or pixel statistics)");
    else if (*(d = recipe_difference(&a->pretrain, &b->pretrain, 0)))
        snprintf(why, len, "pretrain.%s differs", d);
    else if (*(d = recipe_difference(&a->finetune, &b->finetune, 1)))
        snprintf(why, len, "finetune.%s differs", d);
    else
        return 1;
    return 0;
}

/* A number in the fewest digits that read back to the same double. */
static const char *num(char *buf, size_t len, double v)
{
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, len, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return buf;
}

/* A string as a double-quoted YAML scalar. */
static void yaml_quoted(FILE *f, const char *v)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\x%02x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void write_recipe(FILE *f, const char *section, const job_recipe *r, int fine)
{
    char b1[32], b2[32];
    fprintf(f, "%s:\n", section);
    if (!fine) {
        if (r->epochs > 0)
            fprintf(f, "  epochs: %s\n  min_steps: %d\n  max_steps: %d\n", num(b1, sizeof b1, r->epochs), r->min_steps,
                    r->max_steps);
        else
            fprintf(f, "  steps: %d\n", r->steps);
    }
    fprintf(f, "  batch: %d\n  optimizer: %s\n", r->batch, job_optimizer_name(r->optimizer));
    if (!fine || r->scratch_lr > 0)
        fprintf(f, "  lr: %s\n", num(b1, sizeof b1, r->lr));
    fprintf(f, "  momentum: %s\n  weight_decay: %s\n  eval_every: %d\n  eval_size: %d\n", num(b1, sizeof b1, r->momentum),
            num(b2, sizeof b2, r->weight_decay), r->eval_every, r->eval_size);
    if (!fine)
        fprintf(f, "  transfer: %s\n  keep: %s\n", r->transfer_conv ? "conv" : "backbone", r->keep ? "true" : "false");
    else {
        fprintf(f, "  eval_split: %s\n", job_eval_split_name(r->eval_split));
        if (r->scratch_lr > 0)
            fprintf(f, "  scratch_lr: %s\n", num(b1, sizeof b1, r->scratch_lr));
    }
}

int job_write_yaml(FILE *f, const job_spec *s)
{
    char b1[32];
    fprintf(f, "name: ");
    yaml_quoted(f, s->name);
    fprintf(f, "\nseed: %llu\n", (unsigned long long)s->seed);
    const data_source *d = &s->data;
    if (!data_source_is_default(d)) {
        fprintf(f, "data:\n  format: %s\n", data_format_name(d->format));
        const char *keys[] = {"dir", "file", "train", "test", "train_file", "test_file", "images", "labels"};
        const char *vals[] = {d->dir, d->file, d->train, d->test, d->train_file, d->test_file, d->images, d->labels};
        for (int k = 0; k < 8; k++)
            if (vals[k][0]) {
                fprintf(f, "  %s: ", keys[k]);
                yaml_quoted(f, vals[k]);
                fputc('\n', f);
            }
        if (d->validation >= 0)
            fprintf(f, "  validation: %d\n", d->validation);
        if (d->classes > 0)
            fprintf(f, "  classes: %d\n", d->classes);
        if (d->class_names[0]) {
            fprintf(f, "  class_names: [");
            char names[DATA_NAMES_LEN];
            snprintf(names, sizeof names, "%s", d->class_names);
            int i = 0;
            for (char *save = NULL, *t = strtok_r(names, ",", &save); t; t = strtok_r(NULL, ",", &save), i++) {
                fputs(i ? ", " : "", f);
                yaml_quoted(f, t);
            }
            fprintf(f, "]\n");
        }
    }
    fprintf(f, "axes:\n  pretrain_size: [");
    for (int i = 0; i < s->n_size; i++)
        fprintf(f, "%s%ld", i ? ", " : "", s->size[i]);
    fprintf(f, "]\n  model: [");
    for (int i = 0; i < s->n_model; i++)
        fprintf(f, "%s%s", i ? ", " : "", s->model[i]);
    fprintf(f, "]\n  complexity: [");
    for (int i = 0; i < s->n_complexity; i++)
        fprintf(f, "%s%d", i ? ", " : "", s->complexity[i]);
    fprintf(f, "]\n  pretrain_task: [");
    for (int i = 0; i < s->n_task; i++)
        fprintf(f, "%s%s", i ? ", " : "", job_task_name(s->task[i]));
    fprintf(f, "]\n  finetune_size: [");
    for (int i = 0; i < s->n_ftsize; i++)
        fprintf(f, "%s%ld", i ? ", " : "", s->ftsize[i]);
    fprintf(f, "]\n");
    if (s->finetune.scratch_lr <= 0) { /* with scratch_lr the job has one lr, finetune.lr */
        fprintf(f, "  finetune_lr: [");
        for (int i = 0; i < s->n_ftlr; i++)
            fprintf(f, "%s%s", i ? ", " : "", num(b1, sizeof b1, s->ftlr[i]));
        fprintf(f, "]\n");
    }
    fprintf(f, "  finetune_steps: [");
    for (int i = 0; i < s->n_ftsteps; i++)
        fprintf(f, "%s%d", i ? ", " : "", s->ftsteps[i]);
    fprintf(f, "]\n  finetune_freeze: [");
    for (int i = 0; i < s->n_ftfreeze; i++)
        fprintf(f, "%s%s", i ? ", " : "", job_freeze_name(s->ftfreeze[i]));
    fprintf(f, "]\n  repeats: %d\n", s->repeats);
    if (s->first_repeat)
        fprintf(f, "  first_repeat: %d\n", s->first_repeat);
    write_recipe(f, "pretrain", &s->pretrain, 0);
    if (s->pretrain_from[0]) {
        fprintf(f, "  from: ");
        yaml_quoted(f, s->pretrain_from);
        fputc('\n', f);
    }
    write_recipe(f, "finetune", &s->finetune, 1);
    return ferror(f) ? -1 : 0;
}
