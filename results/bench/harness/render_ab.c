/* Two builds of the renderer (src/core/synth.c) in one process, A_ and B_ (render_ab.sh
 * renames their symbols): synth_render_batch of 8 at level L, blocks of 256 images of each
 * alternately, ROUNDS rounds (the order within a round alternating too), so that the
 * machine's drift and phases fall on both alike. Prints us per image of each (the total, and
 * the fastest block), B over A, and how many images differ (the last group of each round:
 * image, mask, labels); exits 1 if any does.
 * usage: render_ab LEVEL ROUNDS [CHANNELS [SIDE]] */
#include "synlaw/synth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void A_synth_render_batch(synth_sample *out, const synth_shape *shape, uint64_t seed, const uint64_t *index,
                          int count, int complexity);
void B_synth_render_batch(synth_sample *out, const synth_shape *shape, uint64_t seed, const uint64_t *index,
                          int count, int complexity);

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: render_ab LEVEL ROUNDS [CHANNELS [SIDE]]\n");
        return 2;
    }
    const int level = atoi(argv[1]), rounds = atoi(argv[2]), ch = argc > 3 ? atoi(argv[3]) : 1,
              side = argc > 4 ? atoi(argv[4]) : 28;
    const synth_shape sh = {side, side, ch};
    const size_t px = (size_t)side * side * ch, plane = (size_t)side * side;
    synth_sample *a = malloc(8 * sizeof *a), *b = malloc(8 * sizeof *b);
    if (!a || !b)
        return 2;
    double ta = 0, tb = 0, ma = 1e30, mb = 1e30;
    long differ = 0, n = 0;
    uint64_t idx[8];
    for (int r = 0; r < rounds; r++) {
        for (int w = 0; w < 4; w++) {
            const int use_a = (w == 0 || w == 3) == (r % 2 == 0); /* ABBA, then BAAB */
            const double t0 = now();
            for (int i = 0; i < 256; i += 8) {
                for (int k = 0; k < 8; k++)
                    idx[k] = (uint64_t)r * 256 + (uint64_t)(i + k);
                if (use_a)
                    A_synth_render_batch(a, &sh, 42, idx, 8, level);
                else
                    B_synth_render_batch(b, &sh, 42, idx, 8, level);
            }
            const double t = now() - t0;
            if (use_a) {
                ta += t;
                ma = t < ma ? t : ma;
            } else {
                tb += t;
                mb = t < mb ? t : mb;
            }
        }
        for (int k = 0; k < 8; k++, n++)
            differ += memcmp(a[k].image, b[k].image, px * sizeof(float)) != 0 ||
                      memcmp(a[k].mask, b[k].mask, plane * sizeof(float)) != 0 ||
                      memcmp(a[k].present, b[k].present, sizeof a[k].present) != 0;
    }
    const double per = 1e6 / (rounds * 512.0);
    printf("level %d, %dx%dx%d: A %.3f us per image (fastest block %.3f), B %.3f (%.3f); B/A %.4f (fastest "
           "blocks %.4f); %ld of %ld images differ\n",
           level, side, side, ch, ta * per, 1e6 * ma / 256, tb * per, 1e6 * mb / 256, tb / ta, mb / ma, differ, n);
    free(a), free(b);
    return differ != 0;
}
