// test_pagealloc_random.c: white-box tests of the page allocator
// (src/pagealloc.c), continued from test_pagealloc.c: growth that fails
// for want of address space changes nothing, and random operations against
// a plain bool-array model.
#include <sys/resource.h>

#include "pagealloc_cases.h"

// ----------------------------------------------------------- grow failure

static long vm_data_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmData: %ld kB", &kib) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return kib;
}

// Grows [base, base + nbytes) with RLIMIT_DATA 16 MiB above current use, so
// that committing its metadata fails; returns the grow's result and errno.
static bool grow_limited(struct page_alloc *p, uintptr_t base, size_t nbytes, int *err)
{
    struct rlimit old, lim;
    cr_assert_eq(getrlimit(RLIMIT_DATA, &old), 0);
    lim = old;
    lim.rlim_cur = (rlim_t)(vm_data_kib() + 16 * 1024) * 1024;
    cr_assert_eq(setrlimit(RLIMIT_DATA, &lim), 0);
    errno = 0;
    bool ok = gch_pagealloc_grow(p, base, nbytes);
    *err = errno;
    cr_assert_eq(setrlimit(RLIMIT_DATA, &old), 0);
    return ok;
}

Test(pagealloc, failed_grow_changes_nothing)
{
    // Two ranges; each failing grow touches one of them, so it shares
    // summary pages and an L2 block with it that the undo must leave alone.
    const uintptr_t hi = (uintptr_t)1 << 46;
    struct page_alloc p;
    cr_assert(gch_pagealloc_init(&p));
    cr_assert(gch_pagealloc_grow(&p, CH(0), 2 * CHUNK));
    cr_assert(gch_pagealloc_grow(&p, hi, CHUNK));
    expect_alloc(&p, 700, PG(0, 0), "before");
    struct run heap[] = {CHUNKS(0, 2), R(hi, CHUNK_PAGES)}, used[] = {R(PG(0, 0), 700)};
    long before_kib = vm_data_kib();
    // 32 TiB needs 64 MiB of leaf summaries: the summary commit fails.
    // 2 TiB needs 4.6 MiB of summaries but 64 MiB of chunk bitmaps: the
    // bitmap allocation fails after the summaries were committed.
    const size_t big = (size_t)1 << 45, mid = (size_t)1 << 41;
    const struct {
        uintptr_t base;
        size_t nbytes;
        const char *what;
    } cases[] = {
        {CH(2), big, "summaries, above a range"},
        {CH(2), mid, "chunk bitmaps, above a range"},
        {hi - big, big, "summaries, below a range"},
        {hi - mid, mid, "chunk bitmaps, below a range"},
    };
    for (size_t i = 0; i < LEN(cases); i++) {
        int err;
        bool ok = grow_limited(&p, cases[i].base, cases[i].nbytes, &err);
        cr_assert(!ok, "grow needing too much %s succeeded", cases[i].what);
        cr_assert_eq(err, ENOMEM, "errno %d after failed grow, want ENOMEM", err);
        check_state(&p, heap, LEN(heap), used, LEN(used), cases[i].what, "after failed grow");
        cr_assert_eq(p.in_use_len, 2, "%s: %zu ranges after failed grow, want 2", cases[i].what,
                     p.in_use_len);
        long now_kib = vm_data_kib();
        cr_assert_eq(now_kib, before_kib, "%s: VmData %ld kB after failed grow, was %ld kB",
                     cases[i].what, now_kib, before_kib);
    }
    // Unlimited, the grow succeeds and joins the old range, which is intact.
    cr_assert(gch_pagealloc_grow(&p, CH(2), mid));
    cr_assert_eq(p.in_use_len, 2, "%zu ranges after growing above the first, want 2", p.in_use_len);
    expect_alloc(&p, 1, PG(0, 700), "old range first");
    expect_alloc(&p, 323, PG(1, 189), "rest of the old range");
    expect_alloc(&p, 600, CH(2), "then the new part, as one run with it");
    gch_pagealloc_destroy(&p);
}

// ------------------------------------------------------------ randomized

static uint64_t rng_state;
static uint64_t rng(void) // splitmix64
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    return z ^ (z >> 31);
}
static size_t rng_n(size_t n)
{
    return (size_t)(rng() % n);
}

// The reference: one bool per page of each range; first fit by scanning.
struct model {
    const struct run *heap;
    size_t nheap;
    bool *used[4];
    size_t nfree;
};

static uintptr_t model_alloc(struct model *m, size_t npages)
{
    for (size_t h = 0; h < m->nheap; h++) {
        size_t run = 0;
        for (size_t i = 0; i < m->heap[h].npages; i++) {
            run = m->used[h][i] ? 0 : run + 1;
            if (run == npages) {
                size_t first = i + 1 - npages;
                for (size_t k = first; k <= i; k++)
                    m->used[h][k] = true;
                m->nfree -= npages;
                return m->heap[h].base + first * PAGE;
            }
        }
    }
    return 0;
}

static bool *model_page(struct model *m, uintptr_t a)
{
    for (size_t h = 0; h < m->nheap; h++)
        if (a >= m->heap[h].base && a < m->heap[h].base + m->heap[h].npages * PAGE)
            return &m->used[h][(a - m->heap[h].base) / PAGE];
    return NULL;
}

static void model_check_bits(struct model *m, const struct page_alloc *p, size_t op)
{
    for (size_t h = 0; h < m->nheap; h++) {
        for (size_t c = 0; c < m->heap[h].npages / CHUNK_PAGES; c++) {
            uintptr_t cb = m->heap[h].base + c * CHUNK;
            uint64_t got[8], want[8] = {0};
            for (size_t i = 0; i < CHUNK_PAGES; i++)
                if (m->used[h][c * CHUNK_PAGES + i])
                    want[i / 64] |= (uint64_t)1 << (i % 64);
            gch_pagealloc_test_bits(p, cb, got);
            for (int w = 0; w < 8; w++)
                cr_assert_eq(got[w], want[w], "op %zu: chunk %#lx word %d: %#018lx, want %#018lx",
                             op, (unsigned long)cb, w, (unsigned long)got[w],
                             (unsigned long)want[w]);
        }
    }
}

struct block {
    uintptr_t base;
    size_t npages;
};

// nops random allocs and frees; sizes mostly small, sometimes up to maxn.
static void random_ops(const struct run *heap, size_t nheap, size_t nops, size_t maxn,
                       uint64_t seed)
{
    rng_state = seed;
    struct page_alloc p;
    struct model m = {heap, nheap, {0}, 0};
    size_t total = 0;
    cr_assert(gch_pagealloc_init(&p));
    for (size_t h = 0; h < nheap; h++) {
        cr_assert(gch_pagealloc_grow(&p, heap[h].base, heap[h].npages * PAGE));
        m.used[h] = calloc(heap[h].npages, sizeof(bool));
        total += heap[h].npages;
    }
    m.nfree = total;
    struct block *live = calloc(total, sizeof *live);
    size_t nlive = 0, nalloc = 0, nfail = 0;
    for (size_t op = 0; op < nops; op++) {
        if (nlive == 0 || rng_n(100) < 55) {
            size_t r = rng_n(100), n;
            if (r < 70)
                n = 1 + rng_n(8);
            else if (r < 90)
                n = 9 + rng_n(120);
            else if (r < 98)
                n = 129 + rng_n(600);
            else
                n = 1 + rng_n(maxn);
            uintptr_t want = model_alloc(&m, n);
            uintptr_t got = gch_pagealloc_alloc(&p, n);
            cr_assert_eq(got, want, "seed %#lx op %zu: alloc(%zu) = %#lx, reference says %#lx",
                         (unsigned long)seed, op, n, (unsigned long)got, (unsigned long)want);
            if (got != 0)
                live[nlive++] = (struct block){got, n}, nalloc++;
            else
                nfail++;
        } else {
            size_t k = rng_n(nlive);
            struct block b = live[k];
            size_t off = 0, n = b.npages;
            if (rng_n(4) == 0) { // free part of it; the rest stays live
                n = 1 + rng_n(b.npages);
                off = rng_n(b.npages - n + 1);
            }
            live[k] = live[--nlive];
            if (off > 0)
                live[nlive++] = (struct block){b.base, off};
            if (off + n < b.npages)
                live[nlive++] = (struct block){b.base + (off + n) * PAGE, b.npages - off - n};
            for (size_t i = 0; i < n; i++)
                *model_page(&m, b.base + (off + i) * PAGE) = false;
            m.nfree += n;
            gch_pagealloc_free(&p, b.base + off * PAGE, n);
        }
        char why[256];
        bool ok = gch_pagealloc_verify(&p, why, sizeof why);
        cr_assert(ok, "seed %#lx op %zu: verify: %s", (unsigned long)seed, op, why);
        cr_assert_eq(gch_pagealloc_free_pages(&p), m.nfree,
                     "seed %#lx op %zu: free pages %zu, reference %zu", (unsigned long)seed, op,
                     gch_pagealloc_free_pages(&p), m.nfree);
        size_t h = rng_n(nheap);
        uintptr_t probe = heap[h].base + rng_n(heap[h].npages) * PAGE;
        cr_assert_eq(gch_pagealloc_in_use(&p, probe), *model_page(&m, probe),
                     "seed %#lx op %zu: in_use(%#lx) disagrees with the reference",
                     (unsigned long)seed, op, (unsigned long)probe);
        if (op % 64 == 0 || op == nops - 1)
            model_check_bits(&m, &p, op);
    }
    // The run must have exercised both outcomes.
    cr_assert(nalloc > nops / 4 && nfail > 0, "seed %#lx: %zu allocations, %zu misses",
              (unsigned long)seed, nalloc, nfail);
    for (size_t h = 0; h < nheap; h++)
        free(m.used[h]);
    free(live);
    gch_pagealloc_destroy(&p);
}

Test(pagealloc, random_vs_reference)
{
    // 11 chunks in three ranges: one gap of 10 chunks, one of 8 GiB.
    static const struct run heap[] = {CHUNKS(0, 6), CHUNKS(16, 3), R(FAR_B, 2 * CHUNK_PAGES)};
    random_ops(heap, LEN(heap), 10000, 2600, 0x5eed0001);
}

Test(pagealloc, random_large_runs)
{
    // 72 chunks; requests up to 20000 pages cross many chunks and entries.
    static const struct run heap[] = {CHUNKS(0, 56), CHUNKS(60, 16)};
    random_ops(heap, LEN(heap), 3000, 20000, 0x5eed0002);
}
