/* sinf and cosf of a row of floats, in vector registers, with the C library's bits (internal
 * to the core library; used by the renderer's textures).
 *
 * The vector paths evaluate the algorithm of glibc's sinf and cosf (from Arm's optimized
 * routines; glibc 2.28 and later) with the fused multiply-adds of the variant glibc runs on
 * every CPU with AVX2 and FMA. They are used only where they give the C library's own bits:
 * on a CPU with those instructions, and once a probe of inputs where an evaluation without
 * fused multiply-adds rounds differently has matched the library's sinf and cosf. Elsewhere
 * (an older CPU, another C library) every value is the library's sinf or cosf, as before.
 * The kernels agree with glibc 2.36 for every float below 120 in magnitude
 * (results/bench/harness: `harness trig`); larger, infinite and NaN inputs call the library. */
#ifndef SYNLAW_TRIG_H
#define SYNLAW_TRIG_H

enum { TRIG_LIBM, TRIG_AVX2, TRIG_AVX512, TRIG_AUTO };

/* out[i] = sinf(in[i]) (cosine 0) or cosf(in[i]) (cosine 1) for i < n where want[i] > 0, or for
 * every i if want is NULL; out[i] is 0 or a value of that function for the others (the
 * vector paths compute every lane). */
void trig_row(float *out, const float *in, const float *want, int n, int cosine);

/* The same with a given implementation (TRIG_AUTO: the one trig_row uses). Returns -1, and
 * writes nothing, if this CPU cannot run it. For the tests and the harness. */
int trig_row_with(int impl, float *out, const float *in, const float *want, int n, int cosine);

/* The implementation trig_row uses on this machine (after its probe), and its name. */
int trig_impl(void);
const char *trig_impl_name(int impl);

#endif
