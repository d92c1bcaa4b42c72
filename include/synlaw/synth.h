/* Procedural renderer of synthetic pre-training images.
 *
 * Image i of a data set is a pure function of (seed, i, complexity): nothing is stored, so a
 * data set of any size costs no memory and every rank regenerates the same pixels. Images are
 * rows x cols (8..64) in [0, 1], grey or colour, drawn from signed-distance functions of
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

/* The canvas: object geometry (positions, radii) is drawn in units of a 28 x 28 image and
 * mapped onto the target grid, so an image of any size shows the same scene. */
#define SYNTH_SIDE 28
#define SYNTH_PIXELS (SYNTH_SIDE * SYNTH_SIDE)
#define SYNTH_NCLASS 12
#define SYNTH_MAX_COMPLEXITY 4
#define SYNTH_MIN_SIDE 8
#define SYNTH_MAX_SIDE 64
#define SYNTH_MAX_CHANNELS 3
#define SYNTH_MAX_PIXELS (SYNTH_MAX_SIDE * SYNTH_MAX_SIDE)

/* The target grid: rows x cols pixels (8..64 each), 1 (grey) or 3 (colour) channels. */
typedef struct {
    int rows, cols, channels;
} synth_shape;

/* One rendered image. Only the first channels x rows x cols values of image and rows x cols
 * of mask are written. */
typedef struct {
    float image[SYNTH_MAX_CHANNELS * SYNTH_MAX_PIXELS]; /* channel planes [C][rows][cols], [0, 1] */
    float mask[SYNTH_MAX_PIXELS];  /* 1 where an object (not clutter) covers the pixel centre */
    float present[SYNTH_NCLASS];   /* 1 if enough pixels of a class are visible (3 of 784,
                                      in proportion to the image's area) */
    int nobj;                      /* objects drawn */
} synth_sample;

/* 0 when a shape can be rendered (sides 8..64, 1 or 3 channels), else -1. */
int synth_shape_check(const synth_shape *shape);
/* Render image `index` of the data set `seed` at `complexity` (1..SYNTH_MAX_COMPLEXITY) on
 * shape's grid. The scene (classes, poses, textures) is the same for every shape; colour
 * images draw their tints from a stream of their own (white objects at level 1, a tint per
 * object, clutter stroke and background from level 2), so mask and labels are those of the
 * grey image. 28 x 28 x 1 gives the images of synlaw before other shapes existed. It draws
 * on canvases on the stack: about 120 KB of it (mind threads with small stacks). */
void synth_render_shape(synth_sample *out, const synth_shape *shape, uint64_t seed, uint64_t index,
                        int complexity);
/* Images index[0 .. count-1] into out[0 .. count-1]: the same bits as synth_render_shape of
 * each. At level 4 the pixel noise of SYNTH_BATCH images at a time is drawn together, in
 * vector lanes: for full groups about a tenth faster than one at a time with AVX-512, and
 * about 6% with AVX2. Smaller groups than rng_lanes_min() (3 with AVX-512, 5 with AVX2,
 * every group on the baseline) are drawn one at a time, which is then as fast or faster. */
#define SYNTH_BATCH 8
void synth_render_batch(synth_sample *out, const synth_shape *shape, uint64_t seed, const uint64_t *index,
                        int count, int complexity);
/* synth_render_shape at 28 x 28 x 1. */
void synth_render(synth_sample *out, uint64_t seed, uint64_t index, int complexity);
/* Name of class c (0..SYNTH_NCLASS-1). */
const char *synth_class_name(int c);

#endif
