/* Rendered images to 8 bits (internal to the core library; used by the render cache and
 * every synthetic sample, src/core/train.c): out[i] = x[i] * 255 rounded to the nearest
 * integer, ties to even, and clamped to 0 .. 255 (0 for NaN). The vector paths give the same
 * bytes as the one-pixel formula for every float (tests/test_quant.c on one float in 97 of all
 * 2^32, `harness quant` on all of them), so the choice of path never changes a result. */
#ifndef SYNLAW_QUANT_H
#define SYNLAW_QUANT_H

#include <stdint.h>

enum { QUANT_SCALAR, QUANT_AVX2, QUANT_AVX512, QUANT_AUTO };

/* out[0..n-1] from x[0..n-1], with the fastest path this CPU runs. */
void quant_row(uint8_t *restrict out, const float *restrict x, int n);

/* The same with a given path (QUANT_AUTO: the one quant_row uses). Returns -1, and writes
 * nothing, if this CPU cannot run it. For the tests and the harness. */
int quant_row_with(int impl, uint8_t *restrict out, const float *restrict x, int n);

/* The path quant_row uses on this machine: the fastest this CPU runs, or the one SYNLAW_QUANT
 * names (scalar, avx2 or avx512) if it runs it, else the scalar one. And a path's name. */
int quant_impl(void);
const char *quant_impl_name(int impl);

#endif
