/* Counter-free random numbers for synlaw.
 *
 * Every random stream in a sweep is seeded from a hash of the job seed and the coordinates
 * of what it generates (a cell, an image index), never from the rank or the order of work,
 * so the same cell produces the same bits on 1 rank, 64 ranks or a Slurm shard.
 * Generator: xoshiro256** seeded through splitmix64. */
#ifndef SYNLAW_RNG_H
#define SYNLAW_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t s[4];
} rng_t;

/* splitmix64 finaliser: a bijective 64-bit mixer. */
uint64_t rng_mix(uint64_t x);
/* Hash of a seed and n words, order-sensitive; the basis of every derived seed. */
uint64_t rng_hash(uint64_t seed, const uint64_t *words, int n);
/* Hash of a seed and a NUL-terminated string (for names such as model names). */
uint64_t rng_hash_str(uint64_t seed, const char *s);

void rng_seed(rng_t *r, uint64_t seed);
uint64_t rng_next(rng_t *r);
/* The next n words of the stream into out: the same as n calls of rng_next. */
void rng_fill(rng_t *r, uint64_t *out, size_t n);
/* Generators advanced together: their steps do not depend on one another, so they run in
 * vector lanes, where one generator's steps each wait for the last. */
#define RNG_LANES 8
/* rng_fill of each of r[0 .. lanes-1] (lanes <= RNG_LANES) at once: out[l * n + i] is the
 * next word i of r[l], as rng_fill gives it. out has RNG_LANES * n words: the rows of lanes
 * past `lanes` are written too and are not to be used. */
void rng_fill_lanes(rng_t *r, int lanes, uint64_t *out, size_t n);
/* The fewest generators for which synth_render_batch uses rng_fill_lanes rather than
 * rng_fill of each, on this CPU: 3 with AVX-512, 5 with AVX2, more than RNG_LANES (never)
 * without. About break-even at those counts; the lanes gain with every generator more (8:
 * a tenth of a level-4 render with AVX-512, 4-9% with AVX2; results/bench/lanes.log). */
int rng_lanes_min(void);
/* Uniform in [0, 1). */
double rng_uniform(rng_t *r);
/* Uniform in [lo, hi). */
double rng_range(rng_t *r, double lo, double hi);
/* Standard normal (Box-Muller, no cached second value: the stream stays stateless). */
double rng_normal(rng_t *r);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t rng_below(rng_t *r, uint64_t n);

#endif
