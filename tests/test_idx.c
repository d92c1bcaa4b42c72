/* IDX loader: valid files load; damaged ones (bad magic, truncated, trailing bytes, count
 * mismatch, label out of range, missing, not gzip-valid) fail with a message naming the
 * file. If the Fashion-MNIST package is installed, its files load with the right counts. */
#include "check.h"
#include "synlaw/idx.h"

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
    write_idx("lab3.gz", hlab, 2, badlab, 3);
    expect_fail("img.gz", "lab3.gz", "out of range");
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

    struct stat sb;
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
