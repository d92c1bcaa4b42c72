/* The sigmoid cross-entropy as synlaw computed it with libm's exp and log1p: the reference
 * for the vectorised nn_sigmoid_bce, shared by test_nn and results/bench/harness. The same
 * loss, gradients (into dlogits) and wrong decisions (added to *nwrong, unless NULL). */
#ifndef SYNLAW_TESTS_BCE_LIBM_H
#define SYNLAW_TESTS_BCE_LIBM_H

#include <math.h>
#include <stddef.h>

static inline double bce_libm(float *dlogits, long *nwrong, const float *logits, const float *targets,
                              size_t n)
{
    double loss = 0.0, scale = 1.0 / (double)n;
    for (size_t j = 0; j < n; j++) {
        double z = logits[j], t = targets[j];
        loss += (z > 0 ? z : 0) - z * t + log1p(exp(-fabs(z)));
        double p = 1.0 / (1.0 + exp(-z));
        dlogits[j] = (float)((p - t) * scale);
        if (nwrong)
            *nwrong += (z > 0) != (t > 0.5);
    }
    return loss * scale;
}

#endif
