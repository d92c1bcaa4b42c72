/* PNG output: contact sheets of SYNTH_SIDE x SYNTH_SIDE grayscale images (libpng). */
#ifndef SYNLAW_IMAGE_H
#define SYNLAW_IMAGE_H

#include <stddef.h>

/* Write `count` images (each side*side floats in [0, 1], consecutive in `images`) as a grid
 * of `cols` columns, each pixel drawn as scale x scale, with a 1-pixel gray border between
 * tiles. The file is written to path.tmp and renamed, so a failure leaves no half file.
 * Returns 0, or -1 with a message in err. */
int image_write_sheet(const char *path, const float *images, int count, int side, int cols,
                      int scale, char *err, size_t errlen);

#endif
