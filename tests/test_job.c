/* Job files: a valid job expands to the expected grid; every kind of bad input gives an
 * error naming file:line:column and what was expected. */
#include "check.h"
#include "synlaw/job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *good =
    "name: t\n"
    "seed: 7\n"
    "axes:\n"
    "  pretrain_size: [0, 100, 400]\n"
    "  model: [mlp-s, cnn-s]\n"
    "  complexity: [1, 3]\n"
    "  pretrain_task: [multilabel, segment]\n"
    "  finetune_size: [100, 300]\n"
    "  repeats: 2\n"
    "pretrain:\n"
    "  steps: 10\n"
    "  eval_every: 5\n"
    "finetune:\n"
    "  steps: 10\n"
    "  eval_every: 10\n";

/* Parse text; expect failure with a message containing `want` (and "t.yaml:LINE:"). */
static void expect_error(const char *text, const char *where, const char *want)
{
    job_spec s;
    char err[1024] = "";
    int rc = job_parse(&s, text, "t.yaml", err, sizeof err);
    CHECK(rc == -1, "accepted bad input, expected '%s'", want);
    CHECK(strstr(err, where) != NULL, "error '%s' does not name '%s'", err, where);
    CHECK(strstr(err, want) != NULL, "error '%s' lacks '%s'", err, want);
}

static char *replace(const char *text, const char *from, const char *to)
{
    const char *p = strstr(text, from);
    if (!p)
        return NULL;
    char *out = malloc(strlen(text) + strlen(to) + 1);
    size_t k = (size_t)(p - text);
    memcpy(out, text, k);
    strcpy(out + k, to);
    strcat(out, p + strlen(from));
    return out;
}

static void bad(const char *from, const char *to, const char *where, const char *want)
{
    char *t = replace(good, from, to);
    CHECK(t != NULL, "test text lacks '%s'", from);
    if (t)
        expect_error(t, where, want);
    free(t);
}


/* job_write_yaml reads back to the same job: grid, seeds, recipes (a refine proposal is an
 * ordinary job); first_repeat shifts the repeats and only them. */
static void test_write_yaml(const char *text)
{
    job_spec a, b;
    char err[1024] = "";
    CHECK(job_parse_grid(&a, text, "w.yaml", 0, err, sizeof err) == 0, "parse: %s", err);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f && job_write_yaml(f, &a) == 0, "write");
    fclose(f);
    CHECK(job_parse_grid(&b, buf, "written.yaml", 0, err, sizeof err) == 0, "written job rejected: %s\n%s", err, buf);
    char why[256] = "";
    CHECK(job_same_design(&a, &b, why, sizeof why), "design differs: %s", why);
    CHECK(job_cell_count(&a) == job_cell_count(&b) && job_backbone_count(&a) == job_backbone_count(&b), "counts");
    int n = job_cell_count(&a);
    job_cell *ca = malloc(sizeof *ca * (size_t)n), *cb = malloc(sizeof *cb * (size_t)n);
    job_cells(&a, ca);
    job_cells(&b, cb);
    for (int i = 0; i < n; i++)
        CHECK(job_cell_seed(&a, &ca[i]) == job_cell_seed(&b, &cb[i]) && ca[i].repeat == cb[i].repeat &&
              job_cell_recipe(&a, &ca[i]).lr == job_cell_recipe(&b, &cb[i]).lr &&
              job_cell_recipe(&a, &ca[i]).steps == job_cell_recipe(&b, &cb[i]).steps, "cell %d differs", i);
    /* the same job from repeat 2 on: the cells of repeats >= 2 of a job with more repeats */
    a.first_repeat = 2;
    free(buf);
    buf = NULL;
    f = open_memstream(&buf, &len);
    job_write_yaml(f, &a);
    fclose(f);
    CHECK(job_parse_grid(&b, buf, "shifted.yaml", 0, err, sizeof err) == 0 && b.first_repeat == 2, "shifted: %s", err);
    job_spec wide = a;
    wide.first_repeat = 0;
    wide.repeats = a.repeats + 2;
    int nw = job_cell_count(&wide), ns = job_cell_count(&b), found = 0;
    job_cell *cw = malloc(sizeof *cw * (size_t)nw), *cs = malloc(sizeof *cs * (size_t)ns);
    job_cells(&wide, cw);
    job_cells(&b, cs);
    for (int i = 0; i < ns; i++) {
        CHECK(cs[i].repeat >= 2, "repeat %d below first_repeat", cs[i].repeat);
        for (int j = 0; j < nw; j++)
            found += job_cell_seed(&wide, &cw[j]) == job_cell_seed(&b, &cs[i]) && cw[j].repeat == cs[i].repeat;
    }
    CHECK(found == ns, "%d of %d shifted cells in the wider job", found, ns);
    free(buf), free(ca), free(cb), free(cw), free(cs);
}

int main(void)
{
    job_spec s;
    char err[1024] = "";
    int rc = job_parse(&s, good, "t.yaml", err, sizeof err);
    CHECK(rc == 0, "good job rejected: %s", err);
    /* 2 models x 2 ftsizes x 2 repeats x (1 scratch + 2 sizes x 2 complexities x 2 tasks) */
    CHECK(job_cell_count(&s) == 2 * 2 * 2 * (1 + 2 * 2 * 2), "cell count %d", job_cell_count(&s));
    int n = job_cell_count(&s), scratch = 0;
    job_cell *cells = malloc(sizeof *cells * (size_t)n);
    job_cells(&s, cells);
    for (int i = 0; i < n; i++) {
        CHECK(cells[i].index == i, "index");
        if (cells[i].size == 0) {
            scratch++;
            CHECK(cells[i].complexity == 0 && cells[i].task == -1, "scratch cell has coordinates");
        }
        for (int j = 0; j < i; j++)
            CHECK(job_cell_seed(&s, &cells[i]) != job_cell_seed(&s, &cells[j]), "seed clash %d %d", i, j);
    }
    CHECK(scratch == 8, "scratch cells %d", scratch);
    /* Seeds depend on coordinates, not position: a reordered grid gives the same seed. */
    job_spec s2 = s;
    s2.size[0] = s.size[2];
    s2.size[2] = s.size[0];
    job_cell *cells2 = malloc(sizeof *cells2 * (size_t)n);
    job_cells(&s2, cells2);
    int matched = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (cells2[j].size == cells[i].size && cells2[j].model == cells[i].model &&
                cells2[j].complexity == cells[i].complexity && cells2[j].task == cells[i].task &&
                cells2[j].ftsize == cells[i].ftsize && cells2[j].repeat == cells[i].repeat)
                matched += job_cell_seed(&s2, &cells2[j]) == job_cell_seed(&s, &cells[i]);
    CHECK(matched == n, "seeds changed with axis order (%d of %d)", matched, n);
    free(cells);
    free(cells2);

    bad("  repeats: 2\n", "  repeats: 2\n  colour: red\n", "t.yaml:10:3", "unknown key 'colour'");
    bad("  steps: 10\n  eval_every: 5", "  steps: ten\n  eval_every: 5", "t.yaml:11:10", "expected an integer");
    bad("[0, 100, 400]", "[]", "t.yaml:4:18", "empty");
    bad("[0, 100, 400]", "[0, 100, 100]", "t.yaml:4:27", "duplicate value '100'");
    bad("[1, 3]", "[1, 9]", "t.yaml:6:19", "out of range");
    bad("[mlp-s, cnn-s]", "[mlp-s, resnet-9]", "t.yaml:5:18", "unknown model 'resnet-9'");
    bad("seed: 7\n", "seed: 7\ndata_dir: /nonexistent/fmnist\n", "t.yaml:3:11", "not a directory");
    bad("seed: 7\n", "seed: 7\nseed: 8\n", "t.yaml:3:1", "duplicate key 'seed'");
    bad("[multilabel, segment]", "[multilabel, depth]", "t.yaml:7:31", "unknown pre-training task");
    bad("  steps: 10\n  eval_every: 5", "  steps: 10\n  eval_every: 50", "t.yaml:12:15", "more than steps");
    bad("  repeats: 2", "  repeats: [2]", "t.yaml:9:12", "expected an integer");
    bad("seed: 7", "seed: [7", "t.yaml:", "YAML syntax error");
    expect_error("axes:\n  model: [mlp-s]\n", "t.yaml:2:3", "missing 'pretrain_size'");
    expect_error("", "t.yaml:1:1", "empty");
    expect_error("- a\n- b\n", "t.yaml:1:1", "expected a mapping");

    /* Job names become file names (shards): nothing that leaves the directory, nothing that
     * reaches a terminal as a control sequence. */
    static const char *const unsafe[] = {"\"../x\"", "a/b", "\"x\\ty\"", "\".\"", "\"..\"",
                                         "\"x\\e[31my\"", "\"/etc/passwd\"", "\"x\\x7fy\""};
    for (size_t i = 0; i < sizeof unsafe / sizeof *unsafe; i++) {
        char from[64];
        snprintf(from, sizeof from, "name: %s\n", unsafe[i]);
        bad("name: t\n", from, "t.yaml:1:7", "cannot name files");
    }
    bad("name: t\n", "name: \"a\\0b\"\n", "t.yaml:1:7", "contains a NUL character");
    bad("finetune:\n", "finetune:\n  freeze: all\n", "t.yaml:", "finetune.freeze: unknown value 'all' (expected none, conv or backbone)");
    bad("pretrain:\n", "pretrain:\n  freeze: conv\n", "t.yaml:", "pretrain.freeze: only fine-tuning has freeze");
    {
        char *t = replace(good, "name: t\n", "name: ok-name_1.2\n");
        CHECK(t && job_parse(&s, t, "t.yaml", err, sizeof err) == 0 && strcmp(s.name, "ok-name_1.2") == 0,
              "safe name refused: %s", err);
        free(t);
    }

    /* One document per file: a second one is refused where it starts. */
    {
        char *t = malloc(strlen(good) + 64);
        sprintf(t, "%s---\nname: other\n", good);
        expect_error(t, "t.yaml:16:1", "a second YAML document");
        free(t);
    }
    /* Nesting: refused at the first collection deeper than JOB_MAX_DEPTH, before libyaml builds
     * the document (100,000 levels took a minute before). Depth JOB_MAX_DEPTH itself gets the
     * schema's error. */
    {
        int n = 100000;
        char *t = malloc((size_t)2 * n + 16);
        strcpy(t, "axes: ");
        memset(t + 6, '[', (size_t)n);
        memset(t + 6 + n, ']', (size_t)n);
        strcpy(t + 6 + 2 * n, "\n");
        double t0 = (double)clock() / CLOCKS_PER_SEC;
        expect_error(t, "t.yaml:1:70", "nested more than 64 levels deep");
        printf("100,000 nested lists (%d bytes) refused in %.3f s\n", 2 * n + 7,
               (double)clock() / CLOCKS_PER_SEC - t0);
        int k = JOB_MAX_DEPTH - 1; /* the root mapping is level 1 */
        memmove(t + 6 + k, t + 6 + n, (size_t)k);
        strcpy(t + 6 + 2 * k, "\n");
        job_spec d;
        CHECK(job_parse(&d, t, "t.yaml", err, sizeof err) == -1 && strstr(err, "nested") == NULL,
              "depth %d: '%s'", JOB_MAX_DEPTH, err);
        free(t);
    }
    /* Size: more than JOB_MAX_BYTES is refused without parsing. */
    {
        size_t n = (size_t)JOB_MAX_BYTES + 1;
        char *t = malloc(n + 1);
        memset(t, '#', n);
        t[n] = '\0';
        expect_error(t, "t.yaml:1:1", "at most 1048576 bytes");
        char path[] = "/tmp/synlaw_job_XXXXXX";
        int fd = mkstemp(path);
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
        CHECK(f != NULL, "mkstemp");
        if (f) {
            fwrite(t, 1, n, f);
            fclose(f);
            char *text = job_read_file(path, err, sizeof err);
            CHECK(text == NULL && strstr(err, "at most 1 MiB") && strstr(err, path), "big file read: '%s'", err);
            free(text);
            remove(path);
        }
        free(t);
    }
    test_write_yaml(good);
    test_write_yaml("name: w\nseed: 9\ndata:\n  format: hdf5\n  file: \"x \\\"q\\\".h5\"\n  validation: 30\n"
                    "  class_names: [a, b]\naxes:\n  pretrain_size: [0, 64]\n  model: [cnn-s]\n  repeats: 2\n"
                    "pretrain:\n  epochs: 4\n  min_steps: 10\n  max_steps: 50\n  eval_every: 10\n"
                    "finetune:\n  lr: 0.003\n  scratch_lr: 0.001\n  steps: 30\n  eval_every: 10\n  eval_split: both\n");
    return test_summary("test_job");
}
