/* sinf and cosf of a row of floats, in vector registers, with the C library's bits (internal
 * to the core library; used by the renderer's textures).
 *
 * The vector paths evaluate the algorithm of glibc's sinf and cosf (from Arm's optimized
 * routines; glibc 2.28 and later) with the fused multiply-adds of the variant glibc runs on
 * every CPU with AVX2 and FMA. They are used only on a CPU with those instructions, and once
 * a probe at first use has matched the library's own sinf and cosf on 1,054 and 1,058 inputs,
 * among them some where an evaluation without fused multiply-adds (glibc's SSE2 variant) rounds
 * differently. Elsewhere (an older CPU, another C library, a glibc told not to use AVX2)
 * every value is the library's sinf or cosf, as before. Both kernels agree with glibc 2.36
 * for every float (results/bench/harness: `harness trig`; |y| >= 120, infinities and NaN
 * call the library), when rounding to nearest, the only mode synlaw uses. */
#ifndef SYNLAW_TRIG_H
#define SYNLAW_TRIG_H

enum { TRIG_LIBM, TRIG_AVX2, TRIG_AVX512, TRIG_AUTO };

/* out[i] = sinf(in[i]) (cosine 0) or cosf(in[i]) (cosine 1) for i < n where want[i] > 0, or for
 * every i if want is NULL; out[i] is 0 or a value of that function for the others (the
 * vector paths compute every lane). out must not overlap in or want. */
void trig_row(float *restrict out, const float *restrict in, const float *restrict want, int n, int cosine);

/* The same with a given implementation (TRIG_AUTO: the one trig_row uses). Returns -1, and
 * writes nothing, if this CPU cannot run it. For the tests and the harness. */
int trig_row_with(int impl, float *restrict out, const float *restrict in, const float *restrict want, int n,
                  int cosine);

/* 1 if this CPU runs impl and, for a kernel, the probe matched the library's sinf and cosf. */
int trig_usable(int impl);

/* The implementation trig_row uses on this machine: the fastest usable, or the one
 * SYNLAW_TRIG names (libm, avx2 or avx512) if usable, else libm. And its name. */
int trig_impl(void);
const char *trig_impl_name(int impl);

#endif
