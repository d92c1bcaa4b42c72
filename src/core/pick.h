/* Which of a few implementations of one function runs (internal to the core library; trig.c
 * and convfma.c): implementations 0 .. last, 0 the portable one that always works, the others
 * faster the higher they are. */
#ifndef SYNLAW_PICK_H
#define SYNLAW_PICK_H

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* The implementation named by the environment variable env (name(impl)) if usable(impl), else
 * 0; without such a name, the highest usable one. Chosen once and kept in *chosen (-1 before):
 * every thread that chooses chooses the same. */
static inline int pick_impl(atomic_int *chosen, const char *env, int last, const char *(*name)(int),
                            int (*usable)(int))
{
    int c = atomic_load_explicit(chosen, memory_order_relaxed);
    if (c >= 0)
        return c;
    const char *want = getenv(env);
    c = -1;
    for (int impl = 0; want && impl <= last && c < 0; impl++)
        if (strcmp(want, name(impl)) == 0)
            c = usable(impl) ? impl : 0;
    for (int impl = last; c < 0; impl--)
        if (impl == 0 || usable(impl))
            c = impl;
    atomic_store_explicit(chosen, c, memory_order_relaxed);
    return c;
}

#endif
