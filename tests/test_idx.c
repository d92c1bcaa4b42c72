/* IDX loader: valid files load; damaged ones (bad magic, truncated, trailing bytes, count
 * mismatch, missing, not gzip-valid) fail with a message naming the file. Another geometry
 * (20 x 20) loads as such; payloads must match count x rows x cols; headers that lie
 * (overflow, gigabytes over a few bytes) are refused without allocating; a broken CRC gives
 * one exact message. A data directory whose test images differ from its training images
 * (20 x 20 against 28 x 28), are too small (4 x 4) or whose labels exceed data.classes is
 * refused while the job is parsed (check and run) naming the file; labels up to 12 without
 * data.classes make 13 classes. If the Fashion-MNIST package is installed, its files load
 * with the right counts. */
#include "check.h"
#include "synlaw/idx.h"
#include "synlaw/job.h"
#include "synlaw/sweep.h"
#include "synlaw/train.h"
#include "synlaw/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static char dir[] = "/tmp/synlaw_idx_XXXXXX";

static void put32(unsigned char *b, unsigned v)
{
    b[0] = v >> 24, b[1] = v >> 16, b[2] = v >> 8, b[3] = v;
}

/* Write an IDX file (gzip) with the given header words and payload bytes. */
static void write_idx(const char *name, const unsigned *hdr, int nh, const unsigned char *data, size_t n)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    gzFile f = gzopen(path, "wb");
    for (int i = 0; i < nh; i++) {
        unsigned char b[4];
        put32(b, hdr[i]);
        gzwrite(f, b, 4);
    }
    if (n)
        gzwrite(f, data, (unsigned)n);
    gzclose(f);
}

static void expect_fail(const char *img, const char *lab, const char *want)
{
    char ip[256], lp[256], err[512] = "";
    snprintf(ip, sizeof ip, "%s/%s", dir, img);
    snprintf(lp, sizeof lp, "%s/%s", dir, lab);
    idx_set s;
    int rc = idx_load(&s, ip, lp, 0, err, sizeof err);
    CHECK(rc == -1, "loaded damaged %s/%s", img, lab);
    CHECK(strstr(err, want) != NULL, "error '%s' lacks '%s'", err, want);
    CHECK(s.pixels == NULL && s.labels == NULL, "failed load left data");
}

int main(void)
{
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    unsigned char pix[3 * 4 * 4], lab[3] = {1, 9, 0};
    for (int i = 0; i < 48; i++)
        pix[i] = (unsigned char)(i * 5);
    unsigned himg[4] = {0x803, 3, 4, 4}, hlab[2] = {0x801, 3};
    write_idx("img.gz", himg, 4, pix, sizeof pix);
    write_idx("lab.gz", hlab, 2, lab, 3);
    char ip[256], lp[256], err[512];
    snprintf(ip, sizeof ip, "%s/img.gz", dir);
    snprintf(lp, sizeof lp, "%s/lab.gz", dir);
    idx_set s;
    CHECK(idx_load(&s, ip, lp, 0, err, sizeof err) == 0, "valid set rejected: %s", err);
    CHECK(s.count == 3 && s.rows == 4 && s.cols == 4, "dims %d %d %d", s.count, s.rows, s.cols);
    CHECK(memcmp(s.pixels, pix, sizeof pix) == 0 && s.labels[1] == 9, "content");
    idx_free(&s);
    CHECK(idx_load(&s, ip, lp, 2, err, sizeof err) == 0 && s.count == 2, "max_count");
    idx_free(&s);

    unsigned bad_magic[4] = {0x802, 3, 4, 4};
    write_idx("magic.gz", bad_magic, 4, pix, sizeof pix);
    expect_fail("magic.gz", "lab.gz", "bad magic number");
    write_idx("short.gz", himg, 4, pix, sizeof pix - 5);
    expect_fail("short.gz", "lab.gz", "truncated");
    unsigned char longer[60] = {0};
    write_idx("long.gz", himg, 4, longer, sizeof longer);
    expect_fail("long.gz", "lab.gz", "data past");
    unsigned hlab2[2] = {0x801, 2};
    write_idx("lab2.gz", hlab2, 2, lab, 2);
    expect_fail("img.gz", "lab2.gz", "has 3 images but");
    unsigned char badlab[3] = {1, 12, 0};
    write_idx("lab3.gz", hlab, 2, badlab, 3); /* a label 12: valid IDX, refused by data.c below */
    expect_fail("missing.gz", "lab.gz", "missing.gz: cannot open");
    write_idx("hdr.gz", himg, 2, NULL, 0);
    expect_fail("hdr.gz", "lab.gz", "truncated header");
    /* A damaged gzip stream: valid header bytes, then garbage in the middle. */
    char gp[256];
    snprintf(gp, sizeof gp, "%s/img.gz", dir);
    FILE *f = fopen(gp, "r+b");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, len / 2, SEEK_SET);
    for (int i = 0; i < 8; i++)
        fputc(0xff, f);
    fclose(f);
    {
        idx_set t;
        int rc = idx_load(&t, gp, lp, 0, err, sizeof err);
        CHECK(rc == -1 && strstr(err, "img.gz") != NULL, "corrupt gzip accepted (rc %d, '%s')", rc, err);
    }

    /* Another geometry with valid headers: read as 20 x 20, never as 784 pixels per image. */
    unsigned char pix20[3 * 400];
    for (int i = 0; i < 1200; i++)
        pix20[i] = (unsigned char)i;
    unsigned h20[4] = {0x803, 3, 20, 20};
    write_idx("img20.gz", h20, 4, pix20, sizeof pix20);
    snprintf(ip, sizeof ip, "%s/img20.gz", dir);
    CHECK(idx_load(&s, ip, lp, 0, err, sizeof err) == 0 && s.rows == 20 && s.cols == 20 && s.count == 3 &&
          memcmp(s.pixels + 400, pix20 + 400, 400) == 0, "20x20 set: %s (%d x %d)", err, s.rows, s.cols);
    idx_free(&s);
    idx_info info;
    CHECK(idx_probe(&info, ip, lp, err, sizeof err) == 0 && info.rows == 20 && info.cols == 20 && info.count == 3 &&
          info.nclass == 10, "probe of the 20x20 set: %s", err);
    /* The payload must be exactly count x rows x cols bytes. */
    unsigned char pix28[3 * 784] = {0};
    write_idx("img20long.gz", h20, 4, pix28, sizeof pix28);
    expect_fail("img20long.gz", "lab.gz", "has data past the 1200 bytes its header declares");
    unsigned h28[4] = {0x803, 3, 28, 28};
    write_idx("img28short.gz", h28, 4, pix20, sizeof pix20);
    expect_fail("img28short.gz", "lab.gz", "truncated: expected 2352 data bytes, found 1200");
    /* Headers that lie: a product that overflows, and one that claims 7.8 GB over 48 bytes (refused
     * without allocating what it claims). */
    unsigned hbig[4] = {0x803, 10000000, 10000000, 10000000};
    write_idx("overflow.gz", hbig, 4, pix, sizeof pix);
    expect_fail("overflow.gz", "lab.gz", "declares more than");
    unsigned hlie[4] = {0x803, 10000000, 28, 28};
    write_idx("lie.gz", hlie, 4, pix, sizeof pix);
    expect_fail("lie.gz", "lab.gz", "truncated: expected 7840000000 data bytes, found 48");
    /* Any byte is a label at the IDX level (the class range is data.c's rule, below). */
    snprintf(lp, sizeof lp, "%s/lab3.gz", dir);
    CHECK(idx_probe(&info, ip, lp, err, sizeof err) == 0 && info.nclass == 13 && info.freq[12] == 1,
          "probe of labels up to 12: '%s' nclass %d", err, info.nclass);
    snprintf(lp, sizeof lp, "%s/lab.gz", dir);
    /* A broken CRC: the message names the file once and gives zlib's reason. */
    write_idx("crc.gz", himg, 4, pix, sizeof pix);
    snprintf(ip, sizeof ip, "%s/crc.gz", dir);
    {
        FILE *g = fopen(ip, "r+b");
        fseek(g, -8, SEEK_END); /* the gzip trailer: CRC-32, then the length */
        int c = fgetc(g);
        fseek(g, -8, SEEK_END);
        fputc(c ^ 0xff, g);
        fclose(g);
        char want[600];
        snprintf(want, sizeof want, "%s: corrupt gzip data: incorrect data check", ip);
        int rc = idx_load(&s, ip, lp, 0, err, sizeof err);
        CHECK(rc == -1 && strcmp(err, want) == 0, "corrupt CRC: '%s', expected '%s'", err, want);
    }

    struct stat sb;
    if (stat("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", &sb) == 0) {
        /* A data directory whose test images are 20 x 20 (valid IDX): refused before any work by
         * the check that synlaw check and run share, naming the file. */
        char dd[300], src[300], dst[600];
        snprintf(dd, sizeof dd, "%s/data", dir);
        CHECK(mkdir(dd, 0755) == 0, "mkdir %s", dd);
        const char *names[2] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"};
        for (int i = 0; i < 2; i++) {
            snprintf(src, sizeof src, "/usr/share/datasets/fashion-mnist/%s", names[i]);
            snprintf(dst, sizeof dst, "%s/%s", dd, names[i]);
            CHECK(symlink(src, dst) == 0, "symlink %s", dst);
        }
        snprintf(src, sizeof src, "%s/img20.gz", dir);
        snprintf(dst, sizeof dst, "%s/t10k-images-idx3-ubyte.gz", dd);
        CHECK(rename(src, dst) == 0, "rename");
        snprintf(src, sizeof src, "%s/lab.gz", dir);
        snprintf(dst, sizeof dst, "%s/t10k-labels-idx1-ubyte.gz", dd);
        CHECK(rename(src, dst) == 0, "rename");
        char text[1024];
        snprintf(text, sizeof text, "data_dir: %s\naxes:\n  pretrain_size: [0]\n  model: [mlp-s]\n", dd);
        job_spec spec;
        char want[700];
        /* the job is refused while it is parsed (check and run alike), naming the file */
        snprintf(want, sizeof want, "%s/t10k-images-idx3-ubyte.gz: 20x20x1 images, but %s/train-images-idx3-ubyte.gz "
                 "has 28x28x1", dd, dd);
        int rc = job_parse(&spec, text, "j.yaml", err, sizeof err);
        CHECK(rc != 0 && strstr(err, "j.yaml:1:11: data: ") && strstr(err, want) != NULL,
              "20x20 test set with a 28x28 training set: rc %d '%s'", rc, err);
        /* 4 x 4 images: below the smallest size */
        write_idx("img4.gz", himg, 4, pix, sizeof pix);
        snprintf(src, sizeof src, "%s/img4.gz", dir);
        snprintf(dst, sizeof dst, "%s/t10k-images-idx3-ubyte.gz", dd);
        CHECK(rename(src, dst) == 0, "rename");
        snprintf(want, sizeof want, "%s/t10k-images-idx3-ubyte.gz: 4x4 images (expected 8..64 pixels a side)", dd);
        rc = job_parse(&spec, text, "j.yaml", err, sizeof err);
        CHECK(rc != 0 && strstr(err, want) != NULL, "4x4 test set: rc %d '%s'", rc, err);
        /* Labels out of range of the declared classes: the labels file and the item named. */
        write_idx("img28.gz", h28, 4, pix28, sizeof pix28);
        snprintf(src, sizeof src, "%s/img28.gz", dir);
        CHECK(rename(src, dst) == 0, "rename");
        snprintf(src, sizeof src, "%s/lab3.gz", dir);
        snprintf(dst, sizeof dst, "%s/t10k-labels-idx1-ubyte.gz", dd);
        CHECK(rename(src, dst) == 0, "rename");
        snprintf(text, sizeof text, "data:\n  dir: %s\n  classes: 10\naxes:\n  pretrain_size: [0]\n  model: [mlp-s]\n", dd);
        snprintf(want, sizeof want, "%s/t10k-labels-idx1-ubyte.gz: label 12 of item 1 is out of range (expected 0..9: "
                 "10 classes from data.classes)", dd);
        rc = job_parse(&spec, text, "j.yaml", err, sizeof err);
        CHECK(rc != 0 && strstr(err, want) != NULL, "labels out of range: rc %d '%s'", rc, err);
        /* without data.classes the training labels give 10 classes: a test label of a class
         * that training never shows is refused */
        snprintf(text, sizeof text, "data_dir: %s\naxes:\n  pretrain_size: [0]\n  model: [mlp-s]\n", dd);
        snprintf(want, sizeof want, "%s/t10k-labels-idx1-ubyte.gz: label 12 of item 1 is out of range (expected 0..9: "
                 "10 classes from the training labels)", dd);
        rc = job_parse(&spec, text, "j.yaml", err, sizeof err);
        CHECK(rc != 0 && strstr(err, want) != NULL, "test label unseen in training: rc %d '%s'", rc, err);
        /* declared, 13 classes are valid, and run measures the data */
        snprintf(text, sizeof text, "data:\n  dir: %s\n  classes: 13\naxes:\n  pretrain_size: [0]\n  model: [mlp-s]\n  "
                 "finetune_size: [100]\nfinetune:\n  eval_size: 3\n", dd);
        rc = job_parse(&spec, text, "j.yaml", err, sizeof err);
        CHECK(rc == 0 && spec.shape.classes == 13 && spec.shape.test_count == 3 && spec.shape.validation == 10000,
              "13 classes from the labels: rc %d '%s' classes %d", rc, err, spec.shape.classes);
        rc = rc == 0 ? sweep_validate(&spec, err, sizeof err) : -1;
        CHECK(rc == SL_OK && spec.shape.std[0] > 0, "sweep_validate: rc %d '%s'", rc, err);
        train_data d;
        rc = rc == SL_OK ? train_data_load(&d, &spec, err, sizeof err) : -1;
        CHECK(rc == 0 && d.classes == 13 && d.test.count == 3 && d.pool == 50000, "train_data_load: rc %d '%s'", rc, err);
        if (rc == 0)
            train_data_free(&d);
    }
    if (stat("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", &sb) == 0) {
        CHECK(idx_load_split(&s, "/usr/share/datasets/fashion-mnist", "train", 0, err, sizeof err) == 0,
              "fashion-mnist train: %s", err);
        CHECK(s.count == 60000 && s.rows == 28 && s.cols == 28, "train dims");
        idx_free(&s);
        CHECK(idx_load_split(&s, "/usr/share/datasets/fashion-mnist", "t10k", 0, err, sizeof err) == 0,
              "fashion-mnist test: %s", err);
        CHECK(s.count == 10000, "test count %d", s.count);
        idx_free(&s);
    } else
        printf("dataset-fashion-mnist not installed: skipped the real-file check\n");
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleanup");
    return test_summary("test_idx");
}
