/* The row spans of the renderer against every pixel of each object's whole box: linked with
 * a copy of src/core/synth.c that build.sh instruments (every row's coverage over the box is
 * computed too, and each covered pixel outside the row's span counted). Prints, per shape,
 * the row pixels compared, those covered outside a span (must be 0), and the smallest
 * distance from a covered pixel to a span's end away from the image border; and before that,
 * the pixels drawn per 28 x 28 image at each level and the share of them covered. */
#include "synlaw/synth.h"

#include <stdio.h>
#include <stdlib.h>

extern long long CHK_PIX, CHK_BAD, CHK_PACKED, CHK_COVERED;
extern int CHK_MINA, CHK_MINB;

int main(int argc, char **argv)
{
    int N = argc > 1 ? atoi(argv[1]) : 5000;
    synth_sample *a = malloc(sizeof *a);
    /* first the pixels drawn per 28 x 28 image, at each level: packed (computed in the
     * chunks) and covered (coverage > 0) */
    const synth_shape grey28 = {28, 28, 1};
    for (int L = 1; L <= 4; L++) {
        const long long p0 = CHK_PACKED, c0 = CHK_COVERED;
        for (int i = 0; i < N; i++)
            synth_render_shape(a, &grey28, 1, (uint64_t)i, L);
        printf("28x28x1 level %d: %.1f pixels drawn per image, %.1f%% of them covered\n", L,
               (double)(CHK_PACKED - p0) / N, 100.0 * (CHK_COVERED - c0) / (CHK_PACKED - p0));
    }
    const synth_shape shapes[] = {{28, 28, 1}, {32, 32, 3}, {64, 48, 3}, {20, 33, 1}, {64, 8, 1}, {8, 64, 3},
                                  {9, 61, 1},  {61, 10, 3}, {64, 64, 1}, {8, 8, 1},   {13, 57, 1}};
    for (int k = 0; k < 11; k++) {
        for (int L = 1; L <= 4; L++)
            for (int i = 0; i < N; i++)
                synth_render_shape(a, &shapes[k], 7 + k, (uint64_t)i, L);
        printf("%dx%dx%d: row pixels so far %lld, covered outside a span %lld, nearest covered pixel to "
               "a span's end: %d left, %d right\n", shapes[k].rows, shapes[k].cols, shapes[k].channels,
               CHK_PIX, CHK_BAD, CHK_MINA, CHK_MINB);
    }
    free(a);
    return CHK_BAD != 0;
}
