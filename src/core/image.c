/* Contact sheets with libpng's simplified write API. */
#include "synlaw/image.h"

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int image_write_sheet(const char *path, const float *images, int count, int rows, int cols, int channels,
                      int ncols, int scale, char *err, size_t errlen)
{
    if (count <= 0 || ncols <= 0 || scale <= 0 || rows <= 0 || cols <= 0 || (channels != 1 && channels != 3)) {
        snprintf(err, errlen, "nothing to draw");
        return -1;
    }
    int nrows = (count + ncols - 1) / ncols;
    int tw = cols * scale + 1, th = rows * scale + 1;
    int width = ncols * tw + 1, height = nrows * th + 1;
    size_t plane = (size_t)rows * cols;
    unsigned char *buf = malloc((size_t)width * height * channels);
    if (!buf) {
        snprintf(err, errlen, "out of memory for a %dx%d sheet", width, height);
        return -1;
    }
    memset(buf, 96, (size_t)width * height * channels);
    for (int k = 0; k < count; k++) {
        const float *img = images + (size_t)k * plane * channels;
        int ox = (k % ncols) * tw + 1, oy = (k / ncols) * th + 1;
        for (int y = 0; y < rows * scale; y++)
            for (int x = 0; x < cols * scale; x++)
                for (int c = 0; c < channels; c++) {
                    float v = img[c * plane + (size_t)(y / scale) * cols + x / scale];
                    v = v < 0 ? 0 : v > 1 ? 1 : v;
                    buf[((size_t)(oy + y) * width + ox + x) * channels + c] = (unsigned char)(v * 255.0f + 0.5f);
                }
    }
    size_t tlen = strlen(path) + 5; /* "PATH.tmp", as long as PATH is */
    char *tmp = malloc(tlen);
    if (!tmp) {
        free(buf);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    snprintf(tmp, tlen, "%s.tmp", path);
    png_image png;
    memset(&png, 0, sizeof png);
    png.version = PNG_IMAGE_VERSION;
    png.width = (png_uint_32)width;
    png.height = (png_uint_32)height;
    png.format = channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    int ok = png_image_write_to_file(&png, tmp, 0, buf, width * channels, NULL);
    free(buf);
    if (!ok) {
        snprintf(err, errlen, "%s: cannot write PNG: %s", path, png.message);
        remove(tmp);
        free(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: cannot rename from %s: %s", path, tmp, strerror(errno));
        remove(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}
