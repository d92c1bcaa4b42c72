/* util_populate: the contents of a buffer are kept, any address and length is accepted, only
 * the whole pages inside the range are populated, errno is kept when the kernel refuses, and
 * (where the kernel has MADV_POPULATE_WRITE) fresh pages take no fault at their first touch.
 * util_populate_marked: no page populated that holds no part of a marked item, and every page
 * within one populated. Residency is read with mincore on fresh mappings under 2 MiB (no
 * transparent huge page fits in them). */
#include "check.h"
#include "synlaw/util.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#if defined(__linux__) && !defined(MADV_POPULATE_WRITE)
#define MADV_POPULATE_WRITE 23 /* as util.c: headers older than glibc 2.35 */
#endif

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

/* 1 if this kernel populates (a probe madvise on one fresh page succeeds). */
static int kernel_populates(void)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *m = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return 0;
    const int ok = madvise(m, page, MADV_POPULATE_WRITE) == 0;
    munmap(m, page);
    return ok;
}

/* Fresh pages populated in advance: their first touch takes no page fault, where the kernel
 * populates (kernel_populates; skipped otherwise), against one per page for fresh pages not
 * populated. Under AddressSanitizer the writes' checks fault in the
 * shadow memory's pages too: there, far fewer faults than without. errno is kept. */
static void test_no_faults(int populates)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE), pages = 256, n = pages * page;
    unsigned char *m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char *q = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED && q != MAP_FAILED, "mmap");
    if (m == MAP_FAILED || q == MAP_FAILED)
        return;
    if (populates) {
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
    munmap(m, n);
    munmap(q, n);
}

/* Which of the `pages` pages from m are resident: 'R' or '.', into s[pages + 1]. */
static void resident(const unsigned char *m, size_t pages, char *s)
{
    unsigned char v[512];
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (pages > sizeof v || mincore((void *)m, pages * page, v) != 0)
        memset(v, 0xff, sizeof v); /* the checks below then fail */
    for (size_t i = 0; i < pages; i++)
        s[i] = (v[i] & 1) ? 'R' : '.';
    s[pages] = 0;
}

/* Only the whole pages inside [p, p + bytes) are populated: never one that a byte of the
 * range does not cover (outward rounding would populate memory the caller never writes). */
static void test_rounding(int populates)
{
    const size_t P = (size_t)sysconf(_SC_PAGESIZE);
    const struct {
        size_t off, len;
        const char *want;
    } cases[] = {{100, 2 * P, ".R.."},  {0, P, "R..."},         {P - 1, 2, "...."}, {1, 3 * P - 2, ".R.."},
                 {P, P - 1, "...."},    {P, P + 1, ".R.."},     {0, 4 * P, "RRRR"}, {P + 1, 3 * P - 1, "..RR"},
                 {0, 0, "...."},        {2 * P, 2 * P, "..RR"}};
    char s[8];
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        unsigned char *m = mmap(NULL, 4 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(m != MAP_FAILED, "mmap");
        if (m == MAP_FAILED)
            return;
        util_populate(m + cases[k].off, cases[k].len);
        resident(m, 4, s);
        if (populates)
            CHECK(strcmp(s, cases[k].want) == 0, "util_populate(page + %zu, %zu): resident %s, expected %s",
                  cases[k].off, cases[k].len, s, cases[k].want);
        else
            CHECK(strcmp(s, "....") == 0, "util_populate(page + %zu, %zu) without kernel support: resident %s",
                  cases[k].off, cases[k].len, s);
        munmap(m, 4 * P);
    }
}

/* errno is the caller's when the kernel refuses: a range over a hole (ENOMEM) and a
 * read-only mapping. */
static void test_errno(void)
{
    const size_t P = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *m = mmap(NULL, 3 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char *r = mmap(NULL, 2 * P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED && r != MAP_FAILED, "mmap");
    if (m == MAP_FAILED || r == MAP_FAILED)
        return;
    munmap(m + P, P);
    errno = 1234;
    util_populate(m, 3 * P);
    CHECK(errno == 1234, "errno %d after populating over a hole, expected the caller's 1234", errno);
    errno = 77;
    util_populate(r, 2 * P);
    CHECK(errno == 77, "errno %d after populating a read-only mapping, expected the caller's 77", errno);
    munmap(m, P), munmap(m + 2 * P, P), munmap(r, 2 * P);
}

/* util_populate_marked over random layouts (item sizes 1 byte to 5 pages, densities 0 to 1,
 * any start within a page): a page is resident exactly when it holds part of a marked item
 * and, where the kernel populates, every page within a marked item's bytes is resident. */
static void test_marked(int populates)
{
    const size_t P = (size_t)sysconf(_SC_PAGESIZE), pages = 256; /* 1 MiB */
    static unsigned char marked[1 << 20];
    char s[512 + 1];
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    long outside = 0, missing = 0, populated = 0;
    for (int trial = 0; trial < 300; trial++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        const size_t size = 1 + (size_t)(x >> 33) % (5 * P), off = (size_t)(x >> 20) % P;
        const long n = (long)((pages * P - off) / size);
        const unsigned density = (unsigned)(x >> 10) % 101; /* percent */
        for (long i = 0; i < n; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            marked[i] = (unsigned)(x >> 40) % 100 < density;
        }
        unsigned char *m = mmap(NULL, pages * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(m != MAP_FAILED, "mmap");
        if (m == MAP_FAILED)
            return;
        util_populate_marked(m + off, marked, n, size);
        resident(m, pages, s);
        for (size_t pg = 0; pg < pages; pg++) {
            /* the items the page's bytes [pg P, (pg + 1) P) overlap, offsets from m + off */
            const long lo = pg * P + P <= off ? -1 : (long)((pg * P > off ? pg * P - off : 0) / size),
                       hi = (long)(((pg + 1) * P - 1 - (off < (pg + 1) * P ? off : 0)) / size);
            int holds = 0, within = 0;
            for (long i = lo < 0 ? n : lo; i <= hi && i < n; i++)
                if (marked[i]) {
                    holds = 1;
                    const size_t a = off + (size_t)i * size, b = a + size; /* from m */
                    within |= a <= pg * P && (pg + 1) * P <= b;
                }
            populated += s[pg] == 'R';
            outside += s[pg] == 'R' && !holds;
            missing += populates && within && s[pg] != 'R';
        }
        munmap(m, pages * P);
    }
    CHECK(outside == 0, "%ld pages populated that hold no part of a marked item", outside);
    CHECK(missing == 0, "%ld pages within a marked item not populated", missing);
    CHECK(!populates || populated > 0, "no page populated in 300 layouts");
}

int main(void)
{
    const int populates = kernel_populates();
    if (!populates)
        printf("MADV_POPULATE_WRITE not supported here: residency checks expect no page populated\n");
    test_contents();
    test_rounding(populates);
    test_errno();
    test_marked(populates);
    test_no_faults(populates);
    return test_summary("test_util");
}
