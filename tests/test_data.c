/* The data layer (data.c): HDF5 sets of any size, channels and class count, probed and loaded
 * as channel planes; damaged or unusable files refused with messages naming the file and
 * dataset (not an HDF5 file, truncated, missing datasets, wrong ranks, types and shapes,
 * labels out of range, NaN and out-of-range floats, split shapes that differ, too few
 * training images); statistics measured exactly; class names from an attribute or the job. */
#include "check.h"
#include "synlaw/data.h"
#include "synlaw/job.h"
#include "synlaw/util.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/synlaw_data_XXXXXX";

/* One split written into an open file: group/images of rank 3 or 4 (type uint8, float or
 * int16) and group/labels. */
typedef struct {
    const char *group;
    int n, rows, cols, channels, rank; /* rank 3: N x H x W; 4: N x H x W x C */
    hid_t type;                        /* H5T_NATIVE_UCHAR, H5T_NATIVE_FLOAT, H5T_NATIVE_SHORT */
    int nlabels;                       /* labels written (normally n) */
    int classes_attr;                  /* > 0: a `classes` attribute on the labels */
    const char *names_attr;            /* comma-separated: a `class_names` string array */
    float poison;                      /* not 0: the float value of pixel 5 of image 2 */
    int bad_label;                     /* not 0: the label of item 3 */
} split_spec;

static void write_split(hid_t f, const split_spec *sp)
{
    hid_t g = H5Gcreate2(f, sp->group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t d[4] = {(hsize_t)sp->n, (hsize_t)sp->rows, (hsize_t)sp->cols, (hsize_t)sp->channels};
    size_t per = (size_t)sp->rows * sp->cols * sp->channels, total = per * (size_t)sp->n;
    hid_t s = H5Screate_simple(sp->rank, d, NULL);
    hid_t ds = H5Dcreate2(g, "images", sp->type, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    /* pixel (i, y, x, c) = (i * 7 + y * 3 + x + c * 50) mod 256, stored H x W x C */
    if (sp->type == H5T_NATIVE_FLOAT) {
        float *v = malloc(total * sizeof(float));
        for (size_t k = 0; k < total; k++) {
            size_t i = k / per, r = k % per, y = r / ((size_t)sp->cols * sp->channels);
            size_t x = (r / sp->channels) % sp->cols, c = r % sp->channels;
            v[k] = (float)((i * 7 + y * 3 + x + c * 50) % 256) / 255.0f;
        }
        if (sp->poison != 0)
            v[2 * per + 5] = sp->poison;
        H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        free(v);
    } else {
        short *v = malloc(total * sizeof(short));
        for (size_t k = 0; k < total; k++) {
            size_t i = k / per, r = k % per, y = r / ((size_t)sp->cols * sp->channels);
            size_t x = (r / sp->channels) % sp->cols, c = r % sp->channels;
            v[k] = (short)((i * 7 + y * 3 + x + c * 50) % 256);
        }
        H5Dwrite(ds, H5T_NATIVE_SHORT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        free(v);
    }
    H5Dclose(ds);
    H5Sclose(s);
    hsize_t nl = (hsize_t)sp->nlabels;
    int *lab = malloc(sizeof(int) * (nl ? nl : 1));
    for (hsize_t i = 0; i < nl; i++)
        lab[i] = (int)(i % 5);
    if (sp->bad_label && nl > 3)
        lab[3] = sp->bad_label;
    s = H5Screate_simple(1, &nl, NULL);
    ds = H5Dcreate2(g, "labels", H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, lab);
    H5Sclose(s);
    free(lab);
    if (sp->classes_attr > 0) {
        hid_t as = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate2(ds, "classes", H5T_NATIVE_INT, as, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, H5T_NATIVE_INT, &sp->classes_attr);
        H5Aclose(a);
        H5Sclose(as);
    }
    if (sp->names_attr) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", sp->names_attr);
        const char *names[16];
        hsize_t n = 0;
        for (char *t = strtok(buf, ","); t && n < 16; t = strtok(NULL, ","))
            names[n++] = t;
        hid_t st = H5Tcopy(H5T_C_S1);
        H5Tset_size(st, H5T_VARIABLE);
        H5Tset_cset(st, H5T_CSET_UTF8); /* as h5py writes them */
        hid_t as = H5Screate_simple(1, &n, NULL);
        hid_t a = H5Acreate2(ds, "class_names", st, as, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, st, names);
        H5Aclose(a);
        H5Sclose(as);
        H5Tclose(st);
    }
    H5Dclose(ds);
    H5Gclose(g);
}

/* A file with a train and a test split. */
static void write_file(const char *name, const split_spec *train, const split_spec *test)
{
    char path[300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    write_split(f, train);
    if (test)
        write_split(f, test);
    H5Fclose(f);
}

static split_spec good(const char *group, int n)
{
    return (split_spec){.group = group, .n = n, .rows = 16, .cols = 12, .channels = 3, .rank = 4,
                        .type = H5T_NATIVE_UCHAR, .nlabels = n};
}

static data_source source(const char *file)
{
    data_source s;
    data_default(&s);
    s.format = DATA_HDF5;
    snprintf(s.dir, sizeof s.dir, "%s", dir);
    snprintf(s.file, sizeof s.file, "%s", file);
    strcpy(s.train, "train");
    strcpy(s.test, "test");
    return s;
}

/* data_measure of a file must fail with a message containing want. */
static void expect_fail(const char *file, const char *want)
{
    data_source s = source(file);
    data_shape sh;
    char err[2048] = "";
    int rc = data_measure(&sh, &s, err, sizeof err);
    CHECK(rc == SL_EINPUT && strstr(err, want) != NULL, "%s: rc %d, '%s' (expected '%s')", file, rc, err, want);
}

static void test_good(void)
{
    split_spec tr = good("train", 60), te = good("test", 25);
    tr.names_attr = "a,b,c,d,e";
    write_file("good.h5", &tr, &te);
    data_source s = source("good.h5");
    data_shape sh;
    char err[2048] = "";
    CHECK(data_probe(&sh, &s, err, sizeof err) == SL_OK, "probe: %s", err);
    CHECK(sh.rows == 16 && sh.cols == 12 && sh.channels == 3 && sh.classes == 5 && sh.train_count == 60 &&
          sh.test_count == 25 && sh.validation == 10 && sh.pool == 50, "shape %dx%dx%d %d classes %d/%d val %d",
          sh.rows, sh.cols, sh.channels, sh.classes, sh.train_count, sh.test_count, sh.validation);
    /* labels i % 5: training classes 0..4 have 12 each, class 0 is the first most frequent;
     * the test split has 5 of class 0 among 25 */
    CHECK(fabs(sh.chance - 0.8) < 1e-12, "chance %g", sh.chance);
    CHECK(strcmp(sh.class_names, "a,b,c,d,e") == 0, "names '%s'", sh.class_names);
    CHECK(sh.std[0] == 0, "probe measures no statistics");
    CHECK(data_measure(&sh, &s, err, sizeof err) == SL_OK, "measure: %s", err);
    /* exact statistics of channel 0: pixel (i*7 + y*3 + x) mod 256 over 60 x 16 x 12 */
    double s1 = 0, s2 = 0, n = 60.0 * 16 * 12;
    for (int i = 0; i < 60; i++)
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 12; x++) {
                double v = ((i * 7 + y * 3 + x) % 256) / 255.0;
                s1 += v;
                s2 += v * v;
            }
    double mean = s1 / n, sd = sqrt(s2 / n - mean * mean);
    CHECK(sh.mean[0] == (float)(round(mean * 1e4) / 1e4) && sh.std[0] == (float)(round(sd * 1e4) / 1e4),
          "stats %.6f %.6f against %.6f %.6f", sh.mean[0], sh.std[0], mean, sd);
    CHECK(sh.mean[1] != sh.mean[0], "channel 1 has its own mean");
    /* channel planes: (i, c, y, x) = source (i, y, x, c) */
    idx_set set;
    CHECK(data_load(&set, &s, DATA_TRAIN, 0, err, sizeof err) == 0, "load: %s", err);
    int ok = set.count == 60 && set.channels == 3;
    for (int i = 0; ok && i < set.count; i++)
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 16; y++)
                for (int x = 0; x < 12; x++)
                    ok &= set.pixels[(((size_t)i * 3 + c) * 16 + y) * 12 + x] == (i * 7 + y * 3 + x + c * 50) % 256;
    CHECK(ok, "pixels in channel planes");
    CHECK(set.labels[7] == 2 && set.nclass == 5, "labels");
    idx_free(&set);
    CHECK(data_load(&set, &s, DATA_TEST, 7, err, sizeof err) == 0 && set.count == 7, "max_count: %s", err);
    idx_free(&set);

    /* the job names its own classes: the count must match */
    strcpy(s.class_names, "x,y");
    CHECK(data_probe(&sh, &s, err, sizeof err) == SL_EINPUT && strstr(err, "data.class_names: 2 names for 5 classes"),
          "names count: '%s'", err);
    /* more declared classes than the labels use (a class absent from the data) */
    s.class_names[0] = '\0';
    s.classes = 7;
    CHECK(data_probe(&sh, &s, err, sizeof err) == SL_OK && sh.classes == 7 && sh.class_names[0] == '\0',
          "classes 7: %s", err);
    s.classes = 0;
    s.validation = 60;
    CHECK(data_probe(&sh, &s, err, sizeof err) == SL_EINPUT && strstr(err, "too few to hold out a validation split of 60"),
          "validation 60 of 60: '%s'", err);
}

static void test_float_and_gray(void)
{
    split_spec tr = good("train", 30), te = good("test", 10);
    tr.type = te.type = H5T_NATIVE_FLOAT;
    tr.rank = te.rank = 3;
    tr.channels = te.channels = 1;
    tr.classes_attr = 6;
    write_file("float.h5", &tr, &te);
    data_source s = source("float.h5");
    data_shape sh;
    char err[2048] = "";
    CHECK(data_measure(&sh, &s, err, sizeof err) == SL_OK && sh.channels == 1 && sh.classes == 6,
          "float gray: %s (classes %d)", err, sh.classes);
    idx_set set;
    CHECK(data_load(&set, &s, DATA_TRAIN, 0, err, sizeof err) == 0, "load float: %s", err);
    CHECK(set.pixels[(size_t)3 * 192 + 2 * 12 + 5] == (3 * 7 + 2 * 3 + 5) % 256, "float quantised back exactly");
    idx_free(&set);
    /* a NaN, and a value above 1, in the test split: both splits are read in full */
    te.poison = NAN;
    write_file("nan.h5", &tr, &te);
    expect_fail("nan.h5", "nan.h5:/test/images: image 2 holds nan at row 0, column 5 (expected float pixels in [0, 1])");
    te.poison = 1.5f;
    write_file("big.h5", &tr, &te);
    expect_fail("big.h5", "image 2 holds 1.5");
}

static void test_damaged(void)
{
    split_spec tr = good("train", 30), te = good("test", 10);
    char path[300], err[2048];
    /* not HDF5 at all */
    snprintf(path, sizeof path, "%s/text.h5", dir);
    FILE *f = fopen(path, "w");
    fputs("images, labels\n1, 2\n", f);
    fclose(f);
    expect_fail("text.h5", "text.h5: not an HDF5 file");
    expect_fail("absent.h5", "absent.h5: no such file (data.file)");
    /* truncated: the first 2 KiB of a good file */
    write_file("whole.h5", &tr, &te);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "head -c 2048 %s/whole.h5 > %s/trunc.h5", dir, dir);
    CHECK(system(cmd) == 0, "truncate");
    data_source s = source("trunc.h5");
    data_shape sh;
    int rc = data_measure(&sh, &s, err, sizeof err);
    CHECK(rc == SL_EINPUT && strstr(err, "trunc.h5"), "truncated: rc %d '%s'", rc, err);
    /* a missing test group */
    write_file("onlytrain.h5", &tr, NULL);
    expect_fail("onlytrain.h5", "onlytrain.h5:/test/images: no dataset");
    /* wrong types and ranks */
    split_spec t2 = te;
    t2.type = H5T_NATIVE_SHORT;
    write_file("int16.h5", &tr, &t2);
    expect_fail("int16.h5", "int16.h5:/test/images: 2-byte signed integers (expected uint8 or float pixels)");
    t2 = te;
    t2.rank = 3;
    t2.channels = 1;
    write_file("rank.h5", &tr, &t2);
    expect_fail("rank.h5", "rank.h5:/test/images: 16x12x1 images, but");
    t2 = te;
    t2.channels = 2;
    split_spec t1 = tr;
    t1.channels = 2;
    write_file("two.h5", &t1, &t2);
    expect_fail("two.h5", "two.h5:/train/images: 2 channels (expected 1, grey, or 3, colour");
    t1 = tr, t2 = te;
    t1.rows = t2.rows = 7;
    write_file("small.h5", &t1, &t2);
    expect_fail("small.h5", "small.h5:/train/images: 7x12 images (expected 8..64 pixels a side)");
    t1 = tr, t2 = te;
    t1.rows = t2.rows = 65;
    write_file("large.h5", &t1, &t2);
    expect_fail("large.h5", "65x12 images (expected 8..64 pixels a side)");
    /* labels: count, range (declared classes, negative) */
    t2 = te;
    t2.nlabels = 9;
    write_file("count.h5", &tr, &t2);
    expect_fail("count.h5", "count.h5:/test/images has 10 images but");
    t1 = tr;
    t1.classes_attr = 4;
    write_file("range.h5", &t1, &te);
    expect_fail("range.h5", "range.h5:/train/labels: label 4 of item 4 is out of range (expected 0..3: 4 classes from "
                            "its labels' classes attribute)");
    t2 = te;
    t2.bad_label = -1;
    write_file("neg.h5", &tr, &t2);
    expect_fail("neg.h5", "neg.h5:/test/labels: label -1 of item 3 is out of range");
    t2.bad_label = 1000;
    write_file("huge.h5", &tr, &t2);
    expect_fail("huge.h5", "label 1000 of item 3 is out of range");
    /* too few training images for a validation split */
    t1 = tr;
    t1.n = t1.nlabels = 1;
    write_file("one.h5", &t1, &te);
    expect_fail("one.h5", "1 training images, too few to hold out a validation split of 0");
}

/* The job's data: section: keys, defaults, errors at file:line:col. */
static void test_job_section(void)
{
    char text[1024], err[2048];
    job_spec spec;
    snprintf(text, sizeof text,
             "data:\n  format: hdf5\n  dir: %s\n  file: good.h5\n  class_names: [a, b, c, d, e]\n"
             "axes:\n  pretrain_size: [0, 100]\n  model: [cnn-s]\n  finetune_size: [20]\n"
             "finetune:\n  eval_size: 10\n",
             dir);
    CHECK(job_parse(&spec, text, "d.yaml", err, sizeof err) == 0, "job with data: %s", err);
    CHECK(spec.data.format == DATA_HDF5 && strcmp(spec.data.train, "train") == 0 && spec.shape.rows == 16 &&
          spec.shape.channels == 3 && strcmp(spec.shape.class_names, "a,b,c,d,e") == 0,
          "parsed data: %s %d", spec.data.train, spec.shape.rows);
    CHECK(job_parse(&spec, "data:\n  format: csv\naxes:\n  pretrain_size: [0]\n  model: [mlp-s]\n", "d.yaml", err,
                    sizeof err) != 0 && strstr(err, "d.yaml:2:11: data.format: unknown format 'csv' (expected idx or hdf5)"),
          "format csv: '%s'", err);
    CHECK(job_parse(&spec, "data:\n  format: hdf5\naxes:\n  pretrain_size: [0]\n  model: [mlp-s]\n", "d.yaml", err,
                    sizeof err) != 0 && strstr(err, "d.yaml:2:3: data: format hdf5 needs file"),
          "hdf5 without file: '%s'", err);
    CHECK(job_parse(&spec, "data:\n  file: x.h5\naxes:\n  pretrain_size: [0]\n  model: [mlp-s]\n", "d.yaml", err,
                    sizeof err) != 0 && strstr(err, "data.file: only with format: hdf5"),
          "file with idx: '%s'", err);
    CHECK(job_parse(&spec, "data_dir: /tmp\ndata:\n  format: idx\naxes:\n  pretrain_size: [0]\n  model: [mlp-s]\n",
                    "d.yaml", err, sizeof err) != 0 && strstr(err, "not both"),
          "data_dir and data: '%s'", err);
    snprintf(text, sizeof text, "data:\n  format: hdf5\n  dir: %s\n  file: good.h5\n  classes: 1\naxes:\n"
             "  pretrain_size: [0]\n  model: [mlp-s]\n", dir);
    CHECK(job_parse(&spec, text, "d.yaml", err, sizeof err) != 0 && strstr(err, "data.classes: 1 is out of range"),
          "classes 1: '%s'", err);
    /* grid-only parsing of other data leaves the shape unknown */
    snprintf(text, sizeof text, "data:\n  format: hdf5\n  file: /nonexistent.h5\naxes:\n  pretrain_size: [0]\n"
             "  model: [mlp-s]\n");
    CHECK(job_parse_grid(&spec, text, "d.yaml", 0, err, sizeof err) == 0 && spec.shape.rows == 0,
          "grid of other data: %s", err);
    CHECK(job_parse(&spec, text, "d.yaml", err, sizeof err) != 0 && strstr(err, "/nonexistent.h5: no such file"),
          "missing file: '%s'", err);
}

int main(void)
{
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    test_good();
    test_float_and_gray();
    test_damaged();
    test_job_section();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleanup");
    return test_summary("test_data");
}
