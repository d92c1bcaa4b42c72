/* PNG output: contact sheets of grey or colour images (libpng). */
#ifndef SYNLAW_IMAGE_H
#define SYNLAW_IMAGE_H

#include <stddef.h>

/* Write `count` images (each channels planes of rows x cols floats in [0, 1], consecutive in
 * `images`; channels 1 or 3) as a grid of `ncols` columns, each pixel drawn as scale x scale,
 * with a 1-pixel gray border between tiles: a grey or an RGB PNG. The file is written to
 * path.tmp and renamed, so a failure leaves no half file. Returns 0, or -1 with a message in
 * err. */
int image_write_sheet(const char *path, const float *images, int count, int rows, int cols, int channels,
                      int ncols, int scale, char *err, size_t errlen);

#endif
