/* util_populate: the contents of a buffer are kept, any address and length is accepted, and
 * (where the kernel has MADV_POPULATE_WRITE) fresh pages take no fault at their first touch. */
#include "check.h"
#include "synlaw/util.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

static long minor_faults(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
}

/* A written buffer, populated over odd offsets and lengths, reads back the same; so does
 * memory of a fresh mapping (zero). */
static void test_contents(void)
{
    const size_t n = (size_t)3 << 20;
    unsigned char *b = malloc(n);
    CHECK(b != NULL, "malloc");
    if (!b)
        return;
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(i * 2654435761u >> 13);
    const unsigned long long h = check_fnv(0xcbf29ce484222325ULL, b, n);
    util_populate(b, n);
    util_populate(b + 1, n - 5000);
    util_populate(b + 4095, 2);
    util_populate(b, 0);
    util_populate(NULL, 0);
    util_populate(NULL, 4096);
    CHECK(check_fnv(0xcbf29ce484222325ULL, b, n) == h, "util_populate changed a written buffer");
    free(b);

    const size_t m = (size_t)1 << 20;
    unsigned char *z = mmap(NULL, m, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(z != MAP_FAILED, "mmap");
    if (z == MAP_FAILED)
        return;
    util_populate(z + 100, m - 100);
    size_t nonzero = 0;
    for (size_t i = 0; i < m; i++)
        nonzero += z[i] != 0;
    CHECK(nonzero == 0, "%zu bytes of fresh populated memory are not zero", nonzero);
    munmap(z, m);
}

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* Writes of one byte into each of `pages` pages from m: the minor faults they took. */
static long touch_faults(unsigned char *m, size_t pages, size_t page)
{
    long f0 = minor_faults();
    for (size_t k = 0; k < pages; k++)
        ((volatile unsigned char *)m)[k * page] = 1;
    return minor_faults() - f0;
}

/* Fresh pages populated in advance: their first touch takes no page fault, where the kernel
 * can populate (a probe madvise on one page says so; skipped otherwise), against one per page
 * for fresh pages not populated. Under AddressSanitizer the writes' checks fault in the
 * shadow memory's pages too: there, far fewer faults than without. errno is kept. */
static void test_no_faults(void)
{
#ifdef MADV_POPULATE_WRITE
    const size_t page = (size_t)sysconf(_SC_PAGESIZE), pages = 256, n = pages * page;
    unsigned char *m = mmap(NULL, n + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char *q = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED && q != MAP_FAILED, "mmap");
    if (m == MAP_FAILED || q == MAP_FAILED)
        return;
    if (madvise(m + n, page, MADV_POPULATE_WRITE) != 0) {
        printf("MADV_POPULATE_WRITE not supported here (%s): fault count not checked\n", strerror(errno));
    } else {
        errno = 1234;
        util_populate(m, n);
        CHECK(errno == 1234, "util_populate changed errno to %d", errno);
        const long populated = touch_faults(m, pages, page), fresh = touch_faults(q, pages, page);
        CHECK(fresh >= (long)pages, "%ld page faults writing %zu fresh pages: the count sees no faults", fresh,
              pages);
#ifdef UNDER_ASAN
        CHECK(populated * 4 < fresh, "%ld page faults writing %zu populated pages, against %ld for fresh ones",
              populated, pages, fresh);
#else
        CHECK(populated == 0, "%ld page faults writing %zu populated pages, expected 0", populated, pages);
#endif
    }
    munmap(m, n + page);
    munmap(q, n);
#endif
}

int main(void)
{
    test_contents();
    test_no_faults();
    return test_summary("test_util");
}
