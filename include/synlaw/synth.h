/* Procedural renderer of synthetic pre-training images.
 *
 * Image i of a data set is a pure function of (seed, i, complexity): nothing is stored, so a
 * data set of any size costs no memory and every rank regenerates the same pixels. Images are
 * SYNTH_SIDE x SYNTH_SIDE grayscale in [0, 1], drawn from signed-distance functions of
 * SYNTH_NCLASS parametric object classes with analytic one-pixel antialiasing.
 *
 * Complexity levels add variation step by step:
 *   1  one centred object of canonical shape and size, plain white on black;
 *   2  + pose (rotation, translation), scale, aspect and class-specific shape jitter, intensity;
 *   3  + textures (stripes, checkers, gradients) and directional shading on a gray background;
 *   4  + 2-4 objects with occlusion, background clutter strokes, blur and pixel noise
 *      (approximately normal: Irwin-Hall of four uniforms).
 * Labels: which classes are visible (multi-label) and the foreground mask. */
#ifndef SYNLAW_SYNTH_H
#define SYNLAW_SYNTH_H

#include <stdint.h>

#define SYNTH_SIDE 28
#define SYNTH_PIXELS (SYNTH_SIDE * SYNTH_SIDE)
#define SYNTH_NCLASS 12
#define SYNTH_MAX_COMPLEXITY 4

typedef struct {
    float image[SYNTH_PIXELS];   /* row-major, [0, 1] */
    float mask[SYNTH_PIXELS];    /* 1 where an object (not clutter) covers the pixel centre */
    float present[SYNTH_NCLASS]; /* 1 if at least SYNTH_MIN_VISIBLE pixels of a class are visible */
    int nobj;                    /* objects drawn */
} synth_sample;

#define SYNTH_MIN_VISIBLE 3

/* Render image `index` of the data set `seed` at `complexity` (1..SYNTH_MAX_COMPLEXITY). */
void synth_render(synth_sample *out, uint64_t seed, uint64_t index, int complexity);
/* Name of class c (0..SYNTH_NCLASS-1). */
const char *synth_class_name(int c);

#endif
