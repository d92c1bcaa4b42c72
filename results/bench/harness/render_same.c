/* Two renderers, image for image: synth_render_shape of the current tree against that of
 * another commit's src/core/synth.c, compiled with its exported names prefixed old_
 * (render_same.sh). Every image, mask, label vector and object count of 12 shapes (grey and
 * colour, square, non-square and thin, the largest) x 4 levels x N images, compared bit for bit. */
#include "synlaw/synth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void old_synth_render_shape(synth_sample *out, const synth_shape *shape, uint64_t seed, uint64_t index,
                            int complexity);

int main(int argc, char **argv)
{
    int N = argc > 1 ? atoi(argv[1]) : 1000;
    synth_sample *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    const synth_shape shapes[] = {{28, 28, 1}, {32, 32, 3}, {64, 48, 3}, {20, 33, 1}, {64, 8, 1}, {8, 64, 3},
                                  {9, 61, 1},  {61, 10, 3}, {64, 64, 1}, {8, 8, 1},   {13, 57, 1},
                                  {64, 64, 3}};
    long long images = 0, values = 0, differ = 0;
    for (int k = 0; k < 12; k++)
        for (int L = 1; L <= 4; L++)
            for (int i = 0; i < N; i++) {
                const synth_shape *sh = &shapes[k];
                const size_t P = (size_t)sh->rows * sh->cols;
                memset(a, 0, sizeof *a); /* different fill: nothing left unwritten passes */
                memset(b, 0xff, sizeof *b);
                old_synth_render_shape(a, sh, 11 + k, (uint64_t)i, L);
                synth_render_shape(b, sh, 11 + k, (uint64_t)i, L);
                images++;
                values += (long long)(P * sh->channels + P);
                if (memcmp(a->image, b->image, sizeof(float) * P * sh->channels) ||
                    memcmp(a->mask, b->mask, sizeof(float) * P) ||
                    memcmp(a->present, b->present, sizeof a->present) || a->nobj != b->nobj)
                    differ++;
            }
    printf("%lld images (%lld pixel and mask values) compared, %lld differ\n", images, values, differ);
    free(a), free(b);
    return differ != 0;
}
