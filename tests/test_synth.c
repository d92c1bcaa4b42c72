/* Renderer: determinism, value ranges, labels, class coverage, antialiasing, levels 1-3
 * with one object and level 4 with several, PNG contact sheets (grey and colour). The 28 x 28
 * grey images are pinned by hashes (the images of every published result), and so are five
 * other shapes; other shapes write only their part of the sample, show every class, keep the grey image's mask and
 * labels in colour, and have channels that differ from level 2. The per-pixel variance of
 * each level is printed for information, not asserted. */
#include "check.h"
#include "synlaw/image.h"
#include "synlaw/rng.h"
#include "synlaw/synth.h"
#include "trig.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The 28 x 28 x 1 images of seed 42, 0..1999, per level: FNV-1a over image, mask, present and
 * nobj, as synlaw rendered them before other shapes existed. */
static void test_pinned(synth_sample *a)
{
    static const unsigned long long want[4] = {0xd4336b770c2b5249ULL, 0x68f5d88e268b2d0fULL,
                                               0x523b61774e1789edULL, 0x35aa55b1a6c7eef7ULL};
    for (int level = 1; level <= 4; level++) {
        unsigned long long h = 0xcbf29ce484222325ULL;
        for (int i = 0; i < 2000; i++) {
            synth_render(a, 42, (uint64_t)i, level);
            h = check_fnv(h, a->image, SYNTH_PIXELS * sizeof(float));
            h = check_fnv(h, a->mask, SYNTH_PIXELS * sizeof(float));
            h = check_fnv(h, a->present, sizeof a->present);
            h = check_fnv(h, &a->nobj, sizeof a->nobj);
        }
        CHECK(h == want[level - 1], "level %d: the 28x28 images changed (hash 0x%016llx)", level, h);
    }
}

/* Other shapes, seed 42, images 0..499 per level, hashed the same way: as synlaw 0.2.1
 * rendered them before each row was cut to the pixels an object can cover (a change that must
 * leave every image as it was): colour, non-square, thin in either direction. */
static void test_pinned_shapes(synth_sample *a)
{
    static const struct {
        synth_shape shape;
        unsigned long long want[4];
    } pins[] = {
        {{32, 32, 3}, {0x4801bc834fa8833bULL, 0x412598e4a58b7178ULL, 0x1e8ffe08d2ab5141ULL, 0xf15e33bc33dc3eddULL}},
        {{64, 48, 3}, {0x5dc6a408f5032fd1ULL, 0xa469eabd038bde16ULL, 0xe9ec6d932fe371abULL, 0x4dca66afd1e473a8ULL}},
        {{20, 33, 1}, {0xfb209371c3b34109ULL, 0x6cbb5d8dc11205bcULL, 0xd509d6a96447f549ULL, 0xa0a7ed6cc492b85bULL}},
        {{9, 61, 1}, {0xfb10812720feb11fULL, 0x185fcde95814d0deULL, 0xef6e5a37adceb1e9ULL, 0xf13033ab7360aaecULL}},
        {{61, 10, 3}, {0x17c179a88773c83bULL, 0x42a885c4c1c9463fULL, 0x0dcd5e9deec7ae66ULL, 0x93feca8d86bb767cULL}},
    };
    for (size_t k = 0; k < sizeof pins / sizeof *pins; k++) {
        const synth_shape *sh = &pins[k].shape;
        size_t plane = (size_t)sh->rows * sh->cols;
        for (int level = 1; level <= 4; level++) {
            unsigned long long h = 0xcbf29ce484222325ULL;
            for (int i = 0; i < 500; i++) {
                synth_render_shape(a, sh, 42, (uint64_t)i, level);
                h = check_fnv(h, a->image, plane * sh->channels * sizeof(float));
                h = check_fnv(h, a->mask, plane * sizeof(float));
                h = check_fnv(h, a->present, sizeof a->present);
                h = check_fnv(h, &a->nobj, sizeof a->nobj);
            }
            CHECK(h == pins[k].want[level - 1], "%dx%dx%d level %d: the images changed (hash 0x%016llx)",
                  sh->rows, sh->cols, sh->channels, level, h);
        }
    }
}

/* synth_render_batch gives synth_render_shape's bits: every level, grey and colour, square
 * and not, a plane of more than one noise chunk (64 x 48 x 3), batches of 1 to 19 images
 * (full lanes and not) of indices in no particular order. */
static void test_batch(synth_sample *a)
{
    enum { MAXB = 19 };
    synth_sample *batch = malloc(MAXB * sizeof *batch);
    const synth_shape shapes[] = {{28, 28, 1}, {32, 32, 3}, {64, 48, 3}, {9, 61, 1}, {61, 10, 3}};
    static const int sizes[] = {1, 8, 13, 3, 16, 19, 7, 9};
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
        const synth_shape *sh = &shapes[k];
        const size_t plane = (size_t)sh->rows * sh->cols;
        for (int level = 1; level <= 4; level++) {
            int bad = 0, done = 0;
            for (int j = 0; done < 300; j++) {
                const int m = sizes[j % 8];
                uint64_t idx[MAXB];
                for (int i = 0; i < m; i++)
                    idx[i] = (uint64_t)(done + i) * 7919u % 1000u + (uint64_t)level * 100000u;
                synth_render_batch(batch, sh, 42, idx, m, level);
                for (int i = 0; i < m; i++) {
                    synth_render_shape(a, sh, 42, idx[i], level);
                    bad += memcmp(a->image, batch[i].image, plane * sh->channels * sizeof(float)) != 0 ||
                           memcmp(a->mask, batch[i].mask, plane * sizeof(float)) != 0 ||
                           memcmp(a->present, batch[i].present, sizeof a->present) != 0 ||
                           a->nobj != batch[i].nobj;
                }
                done += m;
            }
            CHECK(bad == 0, "%dx%dx%d level %d: %d of %d images of synth_render_batch differ from "
                  "synth_render_shape's", sh->rows, sh->cols, sh->channels, level, bad, done);
        }
    }
    free(batch);
}

/* rng_fill_lanes against rng_fill of each generator, in this clone: the words, and the
 * states after (called directly: synth_render_batch uses the lanes only from
 * rng_lanes_min() images a group, and never in the baseline clone). */
static void test_fill_lanes(void)
{
    static const size_t lens[] = {1, 7, 8, 9, 256, 785};
    uint64_t *out = malloc(RNG_LANES * 785 * sizeof *out), ref[785];
    int bad = 0;
    for (int lanes = 1; lanes <= RNG_LANES; lanes++)
        for (size_t j = 0; j < sizeof lens / sizeof *lens; j++) {
            const size_t n = lens[j];
            rng_t r[RNG_LANES], one[RNG_LANES];
            for (int l = 0; l < RNG_LANES; l++) {
                rng_seed(&r[l], 1000u * (uint64_t)l + n);
                one[l] = r[l];
            }
            rng_fill_lanes(r, lanes, out, n);
            for (int l = 0; l < lanes; l++) {
                rng_fill(&one[l], ref, n);
                bad += memcmp(out + (size_t)l * n, ref, n * sizeof *ref) != 0 ||
                       memcmp(&r[l], &one[l], sizeof r[l]) != 0;
            }
        }
    CHECK(bad == 0, "rng_fill_lanes: %d generators' words or states differ from rng_fill's", bad);
    free(out);
}

static void test_shapes(synth_sample *a, synth_sample *b)
{
    const synth_shape shapes[] = {{8, 8, 1}, {16, 16, 3}, {64, 48, 3}, {64, 64, 1}, {20, 33, 1}};
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
        const synth_shape *sh = &shapes[k];
        size_t plane = (size_t)sh->rows * sh->cols, used = plane * sh->channels;
        int seen[SYNTH_NCLASS] = {0}, written_past = 0, bad = 0, empty = 0, differ = 0, mask_diff = 0;
        for (int level = 1; level <= 4; level++)
            for (int i = 0; i < 300; i++) {
                memset(a, 0x5a, sizeof *a); /* a sentinel past the used part */
                synth_render_shape(a, sh, 9, (uint64_t)i, level);
                const unsigned char *img = (const unsigned char *)(a->image + used);
                for (size_t j = 0; j < (sizeof a->image - used * sizeof(float)); j++)
                    written_past += img[j] != 0x5a;
                const unsigned char *msk = (const unsigned char *)(a->mask + plane);
                for (size_t j = 0; j < (sizeof a->mask - plane * sizeof(float)); j++)
                    written_past += msk[j] != 0x5a;
                int present = 0;
                for (int c = 0; c < SYNTH_NCLASS; c++)
                    if (a->present[c] > 0)
                        present++, seen[c] = 1;
                for (size_t p = 0; p < used; p++)
                    bad += !(a->image[p] >= 0.0f && a->image[p] <= 1.0f);
                empty += present == 0 && level == 1;
                if (sh->channels == 3 && level >= 2)
                    for (size_t p = 0; p < plane && !differ; p++)
                        differ += fabsf(a->image[p] - a->image[plane + p]) > 0.05f ||
                                  fabsf(a->image[p] - a->image[2 * plane + p]) > 0.05f;
                if (sh->channels == 3) { /* the grey render of the same image: same mask, labels */
                    synth_shape grey = {sh->rows, sh->cols, 1};
                    synth_render_shape(b, &grey, 9, (uint64_t)i, level);
                    mask_diff += memcmp(a->mask, b->mask, plane * sizeof(float)) != 0 ||
                                 memcmp(a->present, b->present, sizeof a->present) != 0 || a->nobj != b->nobj;
                }
            }
        CHECK(written_past == 0, "%dx%dx%d: %d bytes written past the used part", sh->rows, sh->cols, sh->channels,
              written_past);
        CHECK(bad == 0, "%dx%dx%d: %d pixels outside [0, 1]", sh->rows, sh->cols, sh->channels, bad);
        CHECK(empty == 0, "%dx%dx%d: %d level-1 images without a class", sh->rows, sh->cols, sh->channels, empty);
        for (int c = 0; c < SYNTH_NCLASS; c++)
            CHECK(seen[c], "%dx%dx%d never shows class %s", sh->rows, sh->cols, sh->channels, synth_class_name(c));
        if (sh->channels == 3) {
            CHECK(differ > 0, "%dx%dx3: the channels never differ", sh->rows, sh->cols);
            CHECK(mask_diff == 0, "%dx%dx3: %d images whose mask or labels differ from grey", sh->rows, sh->cols,
                  mask_diff);
        }
    }
    const synth_shape badshapes[] = {{7, 8, 1}, {8, 65, 1}, {16, 16, 2}, {16, 16, 0}};
    for (size_t k = 0; k < sizeof badshapes / sizeof *badshapes; k++)
        CHECK(synth_shape_check(&badshapes[k]) == -1, "shape %zu accepted", k);
    /* a colour sheet is an RGB PNG (colour type 2 in the IHDR) */
    char path[] = "/tmp/synlaw_test_rgbXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    static float imgs[4 * 3 * 256];
    const synth_shape rgb = {16, 16, 3};
    for (int i = 0; i < 4; i++) {
        synth_render_shape(a, &rgb, 1, (uint64_t)i, 3);
        memcpy(imgs + i * 3 * 256, a->image, sizeof(float) * 3 * 256);
    }
    char err[256];
    CHECK(image_write_sheet(path, imgs, 4, 16, 16, 3, 2, 2, err, sizeof err) == 0, "rgb sheet: %s", err);
    FILE *f = fopen(path, "rb");
    unsigned char head[26] = {0};
    CHECK(f && fread(head, 1, 26, f) == 26 && head[25] == 2, "not an RGB PNG (colour type %d)", head[25]);
    if (f)
        fclose(f);
    remove(path);
}

int main(void)
{
    CHECK_CLONE_RUNS();
    /* The textures' sinf / cosf (trig.h): the pinned hashes below hold with each
     * implementation; ctest runs this test again with SYNLAW_TRIG=libm and =avx2 */
    const char *force = getenv("SYNLAW_TRIG");
    printf("textures' sinf/cosf: %s\n", trig_impl_name(trig_impl()));
    for (int impl = TRIG_LIBM; force && impl <= TRIG_AVX512; impl++)
        if (strcmp(force, trig_impl_name(impl)) == 0)
            CHECK(trig_impl() == (trig_usable(impl) ? impl : TRIG_LIBM), "SYNLAW_TRIG=%s not followed", force);
    synth_sample *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    double spread[SYNTH_MAX_COMPLEXITY + 1];
    for (int level = 1; level <= SYNTH_MAX_COMPLEXITY; level++) {
        int seen[SYNTH_NCLASS] = {0};
        double mean[SYNTH_PIXELS] = {0}, sq[SYNTH_PIXELS] = {0};
        const int N = 2000;
        int multi = 0;
        for (int i = 0; i < N; i++) {
            synth_render(a, 42, (uint64_t)i, level);
            synth_render(b, 42, (uint64_t)i, level);
            CHECK(memcmp(a->image, b->image, SYNTH_PIXELS * sizeof(float)) == 0 &&
                      memcmp(a->mask, b->mask, SYNTH_PIXELS * sizeof(float)) == 0 && a->nobj == b->nobj,
                  "level %d image %d not deterministic", level, i);
            int present = 0, masked = 0, bad_px = 0;
            for (int c = 0; c < SYNTH_NCLASS; c++)
                if (a->present[c] > 0) {
                    present++;
                    seen[c] = 1;
                }
            for (int p = 0; p < SYNTH_PIXELS; p++) {
                bad_px += !(a->image[p] >= 0.0f && a->image[p] <= 1.0f);
                masked += a->mask[p] > 0;
                mean[p] += a->image[p];
                sq[p] += (double)a->image[p] * a->image[p];
            }
            if (bad_px)
                CHECK(bad_px == 0, "level %d image %d: %d pixels outside [0,1]", level, i, bad_px);
            if (level < 4) {
                if (present != 1 || a->nobj != 1)
                    CHECK(present == 1 && a->nobj == 1, "level %d image %d: %d classes, %d objects",
                          level, i, present, a->nobj);
            } else {
                multi += a->nobj >= 2;
                if (present < 1)
                    CHECK(present >= 1, "level 4 image %d shows no class", i);
            }
            if (masked < 10)
                CHECK(masked >= 10, "level %d image %d: mask has %d pixels", level, i, masked);
        }
        for (int c = 0; c < SYNTH_NCLASS; c++)
            CHECK(seen[c], "level %d never shows class %s", level, synth_class_name(c));
        if (level == 4)
            CHECK(multi == N, "level 4: %d of %d images with several objects", multi, N);
        double var = 0;
        for (int p = 0; p < SYNTH_PIXELS; p++) {
            double m = mean[p] / N;
            var += sq[p] / N - m * m;
        }
        spread[level] = var / SYNTH_PIXELS;
    }
    /* Level 1 has 12 fixed images, so the images of a seed differ only by class. */
    synth_render(a, 1, 0, 2);
    synth_render(b, 2, 0, 2);
    CHECK(memcmp(a->image, b->image, SYNTH_PIXELS * sizeof(float)) != 0, "seed does not change the image");
    printf("per-pixel variance by level: %.4f %.4f %.4f %.4f\n", spread[1], spread[2], spread[3], spread[4]);
    /* Antialiasing: a level-1 disk has partial-coverage pixels on its rim. */
    int partial = 0;
    for (int i = 0; i < 50 && !partial; i++) {
        synth_render(a, 3, (uint64_t)i, 1);
        for (int p = 0; p < SYNTH_PIXELS; p++)
            partial += a->image[p] > 0.05f && a->image[p] < 0.95f;
    }
    CHECK(partial > 0, "no antialiased edge pixels");

    /* Contact sheet: a PNG with the right signature. */
    char path[] = "/tmp/synlaw_test_sheetXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    float imgs[4 * SYNTH_PIXELS];
    for (int i = 0; i < 4; i++) {
        synth_render(a, 1, (uint64_t)i, 3);
        memcpy(imgs + i * SYNTH_PIXELS, a->image, SYNTH_PIXELS * sizeof(float));
    }
    char err[256];
    CHECK(image_write_sheet(path, imgs, 4, SYNTH_SIDE, SYNTH_SIDE, 1, 2, 2, err, sizeof err) == 0, "sheet: %s", err);
    FILE *f = fopen(path, "rb");
    unsigned char sig[8] = {0};
    CHECK(f && fread(sig, 1, 8, f) == 8 && memcmp(sig, "\x89PNG\r\n\x1a\n", 8) == 0, "not a PNG");
    if (f)
        fclose(f);
    remove(path);
    CHECK(image_write_sheet("/nonexistent-dir/x.png", imgs, 4, SYNTH_SIDE, SYNTH_SIDE, 1, 2, 2, err, sizeof err) == -1,
          "writing into a missing directory succeeded");
    test_pinned(a);
    test_pinned_shapes(a);
    test_fill_lanes();
    test_batch(a);
    test_shapes(a, b);
    free(a);
    free(b);
    return test_summary("test_synth");
}
