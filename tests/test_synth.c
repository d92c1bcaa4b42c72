/* Renderer: determinism, value ranges, labels, class coverage, antialiasing, levels 1-3
 * with one object and level 4 with several, PNG contact sheets. The per-pixel variance of
 * each level is printed for information, not asserted. */
#include "check.h"
#include "synlaw/image.h"
#include "synlaw/synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
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
            CHECK(memcmp(a, b, sizeof *a) == 0, "level %d image %d not deterministic", level, i);
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
    CHECK(memcmp(a->image, b->image, sizeof a->image) != 0, "seed does not change the image");
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
        memcpy(imgs + i * SYNTH_PIXELS, a->image, sizeof a->image);
    }
    char err[256];
    CHECK(image_write_sheet(path, imgs, 4, SYNTH_SIDE, 2, 2, err, sizeof err) == 0, "sheet: %s", err);
    FILE *f = fopen(path, "rb");
    unsigned char sig[8] = {0};
    CHECK(f && fread(sig, 1, 8, f) == 8 && memcmp(sig, "\x89PNG\r\n\x1a\n", 8) == 0, "not a PNG");
    if (f)
        fclose(f);
    remove(path);
    CHECK(image_write_sheet("/nonexistent-dir/x.png", imgs, 4, SYNTH_SIDE, 2, 2, err, sizeof err) == -1,
          "writing into a missing directory succeeded");
    free(a);
    free(b);
    return test_summary("test_synth");
}
