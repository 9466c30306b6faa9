// test_pagecache.c: the page cache (src/pagecache.c) in front of the page
// allocator. First on its own, with made-up addresses as in
// test_pagealloc.c: pages handed out are distinct and inside the cached
// block, a flush gives back exactly the pages not handed out, requests of
// 16 pages or more bypass the cache, a miss goes to the page allocator and
// only an empty cache is refilled, scavenged pages are
// reported when handed out and keep their state through a flush, and random
// operations against a model. Then in the heap: the free-page accounting and
// heap_released stay exact across collections, and an OS failure injected at
// every fallible call of a workload leaves the heap consistent.
#include "whitebox.h"

#define PAGE        ((uintptr_t)GCH_PAGE_SIZE)
#define CHUNK       GCH_PALLOC_CHUNK_BYTES
#define CHUNK_PAGES GCH_PALLOC_CHUNK_PAGES
#define BLOCK_PAGES GCH_PAGECACHE_PAGES
// Made-up heap at 4 GiB: PG(i) is page i from there.
#define BASE  ((uintptr_t)0x100000000)
#define PG(i) (BASE + (uintptr_t)(i)*PAGE)

// Both verifiers, with the step that preceded them.
static void check_both(const struct page_cache *c, const struct page_alloc *p, const char *when)
{
    char why[256];
    CHECK(gch_pagealloc_verify(p, why, sizeof why), "page allocator after %s: %s", when, why);
    CHECK(gch_pagecache_verify(c, p, why, sizeof why), "page cache after %s: %s", when, why);
}

static void setup(struct page_alloc *p, struct page_cache *c, size_t nchunks)
{
    memset(c, 0, sizeof *c);
    cr_assert(gch_pagealloc_init(p), "init failed");
    cr_assert(gch_pagealloc_grow(p, BASE, nchunks * CHUNK), "grow of %zu chunks failed", nchunks);
}

// Takes the whole heap from the page allocator, then frees the listed
// runs {first page, npages}: the free pages a case starts from.
static void leave_free(struct page_alloc *p, size_t heap_pages, const size_t (*runs)[2], size_t n)
{
    CHECK_EQ(gch_pagealloc_alloc(p, heap_pages), PG(0), "setup: take the whole heap");
    for (size_t i = 0; i < n; i++)
        gch_pagealloc_free(p, PG(runs[i][0]), runs[i][1]);
}

static uintptr_t cache_alloc(struct page_cache *c, struct page_alloc *p, size_t npages,
                             const char *what)
{
    uintptr_t got = gch_pagecache_alloc(c, p, npages);
    check_both(c, p, what);
    return got;
}

// Is the page at a in use in the page allocator's bitmap?
static bool bit_in_use(const struct page_alloc *p, uintptr_t a)
{
    uint64_t bits[8];
    uintptr_t cb = a & ~(CHUNK - 1);
    gch_pagealloc_test_bits(p, cb, bits);
    size_t i = (a - cb) / PAGE;
    return (bits[i / 64] >> (i % 64)) & 1;
}

// ------------------------------------------------------------- unit tests

Test(pagecache, pages_are_distinct_and_inside_the_block)
{
    struct page_alloc p;
    struct page_cache c;
    setup(&p, &c, 1);
    bool seen[BLOCK_PAGES] = {false};
    for (size_t k = 0; k < BLOCK_PAGES; k++) {
        uintptr_t a = cache_alloc(&c, &p, 1, "a 1-page alloc");
        CHECK_EQ(c.base, PG(0), "alloc %zu: the cache holds the first block", k);
        CHECK(a >= PG(0) && a < PG(BLOCK_PAGES) && (a - PG(0)) % PAGE == 0,
              "alloc %zu: page %#lx outside the block [%#lx, %#lx)", k, (unsigned long)a,
              (unsigned long)PG(0), (unsigned long)PG(BLOCK_PAGES));
        size_t i = (a - PG(0)) / PAGE;
        CHECK(!seen[i], "alloc %zu: page %zu handed out twice", k, i);
        seen[i] = true;
        CHECK_EQ(a, PG(k), "alloc %zu: lowest address first", k);
        // The block left the page allocator whole, on the first alloc.
        CHECK_EQ(gch_pagealloc_free_pages(&p), CHUNK_PAGES - BLOCK_PAGES, "alloc %zu: free pages",
                 k);
        CHECK_EQ(gch_pagecache_pages(&c), BLOCK_PAGES - 1 - k, "alloc %zu: cached pages", k);
    }
    // The block is used up: the next page comes from a refill, the next block.
    CHECK_EQ(cache_alloc(&c, &p, 1, "the 65th alloc"), PG(BLOCK_PAGES), "the 65th page");
    CHECK_EQ(c.base, PG(BLOCK_PAGES), "the refilled block");
    CHECK_EQ(gch_pagealloc_free_pages(&p), CHUNK_PAGES - 2 * BLOCK_PAGES, "free pages");
    gch_pagealloc_destroy(&p);
}

Test(pagecache, flush_returns_exactly_the_unused_pages)
{
    struct page_alloc p;
    struct page_cache c;
    setup(&p, &c, 2);
    static const size_t sizes[] = {1, 3, 7, 2, 15, 1, 4};
    uintptr_t got[7];
    size_t used = 0;
    for (size_t k = 0; k < 7; k++) {
        got[k] = cache_alloc(&c, &p, sizes[k], "an alloc");
        CHECK_EQ(got[k], PG(used), "alloc %zu of %zu pages: packed from the bottom", k, sizes[k]);
        used += sizes[k];
    }
    size_t before = gch_pagealloc_free_pages(&p), cached = gch_pagecache_pages(&c);
    CHECK_EQ(before, 2 * CHUNK_PAGES - BLOCK_PAGES, "free pages before the flush");
    CHECK_EQ(cached, BLOCK_PAGES - used, "cached pages before the flush");
    gch_pagecache_flush(&c, &p);
    check_both(&c, &p, "the flush");
    CHECK_EQ(gch_pagealloc_free_pages(&p), before + cached, "free pages after the flush");
    CHECK_EQ(gch_pagealloc_free_pages(&p), 2 * CHUNK_PAGES - used, "free pages after the flush");
    CHECK(c.base == 0 && c.cache == 0 && c.scav == 0, "the cache is empty after a flush");
    for (size_t i = 0; i < 2 * CHUNK_PAGES; i++)
        CHECK_EQ(bit_in_use(&p, PG(i)), i < used, "page %zu in use after the flush", i);
    // The page allocator's search starts at the first page given back.
    CHECK_EQ(gch_pagealloc_alloc(&p, 1), PG(used), "first free page after the flush");
    gch_pagecache_flush(&c, &p); // flushing an empty cache changes nothing
    CHECK_EQ(gch_pagealloc_free_pages(&p), 2 * CHUNK_PAGES - used - 1, "second flush");
    gch_pagealloc_destroy(&p);
}

Test(pagecache, requests_of_16_pages_or_more_bypass_the_cache)
{
    struct page_alloc p;
    struct page_cache c;
    setup(&p, &c, 1);
    CHECK_EQ(cache_alloc(&c, &p, GCH_PAGECACHE_MAX_NPAGES, "16 pages, empty cache"), PG(0),
             "16 pages from the page allocator");
    CHECK(c.base == 0 && c.cache == 0, "a 16-page request does not fill the cache");
    CHECK_EQ(cache_alloc(&c, &p, 1, "1 page"), PG(16), "1 page, from a fresh cache");
    CHECK_EQ(c.base, PG(0), "the cache holds the block of the first free page");
    struct page_cache kept = c;
    CHECK_EQ(cache_alloc(&c, &p, 16, "16 pages, full cache"), PG(64),
             "16 pages: the first run outside the cached block");
    CHECK_EQ(cache_alloc(&c, &p, 40, "40 pages"), PG(80), "40 pages after it");
    CHECK(c.base == kept.base && c.cache == kept.cache && c.scav == kept.scav,
          "the cache is untouched by large requests: %#lx/%#lx, was %#lx/%#lx",
          (unsigned long)c.base, (unsigned long)c.cache, (unsigned long)kept.base,
          (unsigned long)kept.cache);
    CHECK_EQ(cache_alloc(&c, &p, 15, "15 pages"), PG(17), "15 pages come from the cache");
    CHECK_EQ(gch_pagealloc_free_pages(&p), CHUNK_PAGES - 64 - 16 - 40, "free pages");
    gch_pagealloc_destroy(&p);
}

Test(pagecache, a_miss_goes_to_the_page_allocator_and_only_an_empty_cache_refills)
{
    struct page_alloc p;
    struct page_cache c;
    setup(&p, &c, 1);
    // Block 0 has single free pages 0, 2, ..., 20; block 1 a run of 5 at 70.
    size_t runs[12][2];
    for (size_t i = 0; i < 11; i++)
        runs[i][0] = 2 * i, runs[i][1] = 1;
    runs[11][0] = 70, runs[11][1] = 5;
    leave_free(&p, CHUNK_PAGES, runs, 12);
    CHECK_EQ(cache_alloc(&c, &p, 1, "1 page"), PG(0), "1 page");
    CHECK_EQ(c.base, PG(0), "the cache holds the block of the lowest free page");
    CHECK_EQ(gch_pagecache_pages(&c), 10u, "the other single pages are cached");
    struct page_cache kept = c;
    // No run of 3 in the cache: first fit in the page allocator, and the
    // cache keeps its block (a refill would move later small spans away
    // from the low holes).
    CHECK_EQ(cache_alloc(&c, &p, 3, "3 pages"), PG(70), "3 pages from the page allocator");
    CHECK(c.base == kept.base && c.cache == kept.cache, "the cache is unchanged by the miss");
    CHECK_EQ(gch_pagealloc_free_pages(&p), 2u, "pages 73 and 74 are free");
    // The single pages drain the cache, lowest first.
    for (size_t i = 2; i <= 20; i += 2)
        CHECK_EQ(cache_alloc(&c, &p, 1, "1 page"), PG(i), "page %zu from the cache", i);
    CHECK_EQ(gch_pagecache_pages(&c), 0u, "the cache is empty");
    // An empty cache is refilled with the block of the lowest free page.
    CHECK_EQ(cache_alloc(&c, &p, 2, "2 pages"), PG(73), "2 pages after a refill");
    CHECK_EQ(c.base, PG(64), "the cache now holds block 1");
    CHECK_EQ(gch_pagealloc_free_pages(&p), 0u, "free pages");
    gch_pagealloc_destroy(&p);
}

Test(pagecache, a_run_crossing_into_the_cache_is_found_before_failing)
{
    struct page_alloc p;
    struct page_cache c;
    setup(&p, &c, 1);
    // Free: pages 62..65, across the boundary of blocks 0 and 1.
    static const size_t runs[][2] = {{62, 4}};
    leave_free(&p, CHUNK_PAGES, runs, 1);
    CHECK_EQ(cache_alloc(&c, &p, 4, "4 pages across blocks"), PG(62),
             "the crossing run, after the cache gave back its half");
    CHECK(c.cache == 0, "the cache is empty");
    CHECK_EQ(gch_pagealloc_free_pages(&p), 0u, "free pages");
    CHECK_EQ(cache_alloc(&c, &p, 1, "1 page, full heap"), 0u, "nothing left");

    // A large request that only the cached pages can satisfy.
    gch_pagealloc_free(&p, PG(100), 30);
    CHECK_EQ(cache_alloc(&c, &p, 1, "1 page"), PG(100), "1 page");
    CHECK_EQ(cache_alloc(&c, &p, 20, "20 pages"), PG(101), "20 pages, from the cache's block");
    CHECK(c.cache == 0, "the cache was flushed for it");
    CHECK_EQ(cache_alloc(&c, &p, 20, "20 more pages"), 0u, "20 pages fail: 9 free");
    CHECK(c.cache == 0 && gch_pagealloc_free_pages(&p) == 9, "a failure leaves every free page "
                                                             "with the page allocator");
    gch_pagealloc_destroy(&p);
}

static size_t nreleased;
static void count_release(uintptr_t base, size_t npages)
{
    (void)base;
    nreleased += npages;
}

Test(pagecache, scavenged_pages_are_reported_when_handed_out)
{
    struct page_alloc p;
    struct page_cache c;
    setup(&p, &c, 1);
    // Block 0 free, its top 10 pages scavenged; the rest of the chunk in use.
    static const size_t runs[][2] = {{54, 10}};
    leave_free(&p, CHUNK_PAGES, runs, 1);
    CHECK_EQ(gch_pagealloc_scavenge(&p, 100, count_release), 10u, "scavenged");
    gch_pagealloc_free(&p, PG(0), 54);
    (void)gch_pagealloc_take_scavenged(&p);
    CHECK_EQ(cache_alloc(&c, &p, 50, "50 pages"), PG(0), "50 pages (not cached)");
    CHECK_EQ(gch_pagealloc_take_scavenged(&p), 0u, "none of them scavenged");
    CHECK_EQ(cache_alloc(&c, &p, 3, "3 pages"), PG(50), "3 pages");
    CHECK_EQ(c.scav, (uint64_t)0x3ff << 54, "the cache holds the 10 scavenged bits");
    CHECK_EQ(gch_pagealloc_take_scavenged(&p), 0u, "pages 50..52 were not scavenged");
    CHECK_EQ(cache_alloc(&c, &p, 2, "2 pages"), PG(53), "2 pages");
    CHECK_EQ(gch_pagealloc_take_scavenged(&p), 1u, "page 54 was scavenged, 53 not");
    CHECK_EQ(cache_alloc(&c, &p, 4, "4 pages"), PG(55), "4 pages");
    CHECK_EQ(gch_pagealloc_take_scavenged(&p), 4u, "pages 55..58 were scavenged");
    // Flushing gives back 5 scavenged pages: the scavenger has nothing to do
    // for them, and allocating them again reports them again.
    gch_pagecache_flush(&c, &p);
    check_both(&c, &p, "the flush");
    nreleased = 0;
    CHECK_EQ(gch_pagealloc_scavenge(&p, 100, count_release), 0u,
             "the pages given back are still scavenged");
    CHECK_EQ(gch_pagealloc_alloc(&p, 5), PG(59), "the 5 pages");
    CHECK_EQ(gch_pagealloc_take_scavenged(&p), 5u, "all 5 scavenged");
    // Pages freed by their span are dirty: not scavenged.
    gch_pagealloc_free(&p, PG(53), 6);
    CHECK_EQ(cache_alloc(&c, &p, 6, "6 pages"), PG(53), "the freed pages, through the cache");
    CHECK_EQ(gch_pagealloc_take_scavenged(&p), 0u, "freed pages are not scavenged");
    gch_pagealloc_destroy(&p);
}

Test(pagecache, a_fully_scavenged_chunk)
{
    struct page_alloc p;
    struct page_cache c;
    setup(&p, &c, 1);
    CHECK_EQ(gch_pagealloc_scavenge(&p, CHUNK_PAGES, count_release), CHUNK_PAGES, "all scavenged");
    for (size_t k = 0; k < 70; k++) {
        CHECK_EQ(cache_alloc(&c, &p, 1, "1 page"), PG(k), "page %zu", k);
        CHECK_EQ(gch_pagealloc_take_scavenged(&p), 1u, "page %zu reported scavenged", k);
    }
    gch_pagecache_flush(&c, &p);
    nreleased = 0;
    CHECK_EQ(gch_pagealloc_scavenge(&p, CHUNK_PAGES, count_release), 0u,
             "nothing new to release after the flush");
    gch_pagealloc_destroy(&p);
}

// ------------------------------------------------------------- randomized

static uint64_t rng_state; // rng_next (util.h)

// The model: per page, handed out or not, and scavenged or not.
enum { R_CHUNKS = 3, R_PAGES = R_CHUNKS * CHUNK_PAGES };
static bool r_used[R_PAGES], r_scav[R_PAGES];

static void r_release(uintptr_t base, size_t npages)
{
    for (size_t i = 0; i < npages; i++) {
        size_t pg = (base - BASE) / PAGE + i;
        CHECK(!r_used[pg] && !r_scav[pg], "released page %zu: used %d, scavenged %d", pg,
              r_used[pg], r_scav[pg]);
        r_scav[pg] = true;
    }
}

Test(pagecache, random_vs_model)
{
    struct page_alloc p;
    struct page_cache c;
    setup(&p, &c, R_CHUNKS);
    rng_state = 0x5eed0003;
    struct {
        size_t first, n;
    } live[R_PAGES];
    size_t nlive = 0, used = 0, nalloc = 0, nfail = 0;
    for (size_t op = 0; op < 20000; op++) {
        size_t r = rng_next(&rng_state) % 100;
        if (r < 50 || nlive == 0) {
            size_t n = r < 30   ? 1
                       : r < 45 ? 1 + rng_next(&rng_state) % 15
                                : 1 + rng_next(&rng_state) % 40;
            uintptr_t a = gch_pagecache_alloc(&c, &p, n);
            size_t scav = gch_pagealloc_take_scavenged(&p);
            if (a == 0) {
                size_t run = 0, best = 0;
                for (size_t i = 0; i < R_PAGES; i++)
                    run = r_used[i] ? 0 : run + 1, best = run > best ? run : best;
                CHECK(best < n, "op %zu: alloc(%zu) failed with a free run of %zu", op, n, best);
                CHECK(c.cache == 0, "op %zu: a failed alloc left pages in the cache", op);
                nfail++;
                continue;
            }
            size_t first = (a - BASE) / PAGE, want_scav = 0;
            CHECK(a >= BASE && (a - BASE) % PAGE == 0 && first + n <= R_PAGES,
                  "op %zu: alloc(%zu) = %#lx outside the heap", op, n, (unsigned long)a);
            for (size_t i = first; i < first + n; i++) {
                CHECK(!r_used[i], "op %zu: page %zu handed out twice", op, i);
                r_used[i] = true;
                want_scav += r_scav[i];
                r_scav[i] = false;
            }
            CHECK_EQ(scav, want_scav, "op %zu: scavenged pages of alloc(%zu) at page %zu", op, n,
                     first);
            live[nlive].first = first, live[nlive++].n = n;
            used += n, nalloc++;
        } else if (r < 90) {
            size_t k = rng_next(&rng_state) % nlive;
            gch_pagealloc_free(&p, BASE + live[k].first * PAGE, live[k].n);
            for (size_t i = live[k].first; i < live[k].first + live[k].n; i++)
                r_used[i] = false;
            used -= live[k].n;
            live[k] = live[--nlive];
        } else if (r < 95) {
            gch_pagecache_flush(&c, &p);
            CHECK_EQ(gch_pagealloc_free_pages(&p), R_PAGES - used, "op %zu: free after flush", op);
        } else {
            gch_pagealloc_scavenge(&p, rng_next(&rng_state) % 200, r_release);
        }
        CHECK_EQ(gch_pagealloc_free_pages(&p) + gch_pagecache_pages(&c), R_PAGES - used,
                 "op %zu: free pages plus cached pages", op);
        char why[256];
        CHECK(gch_pagecache_verify(&c, &p, why, sizeof why), "op %zu: %s", op, why);
        if (op % 16 == 0)
            CHECK(gch_pagealloc_verify(&p, why, sizeof why), "op %zu: %s", op, why);
    }
    CHECK(nalloc > 5000 && nfail > 0, "%zu allocations, %zu failures: both outcomes exercised",
          nalloc, nfail);
    gch_pagecache_flush(&c, &p);
    check_both(&c, &p, "the last flush");
    for (size_t i = 0; i < R_PAGES; i++)
        CHECK_EQ(bit_in_use(&p, BASE + i * PAGE), r_used[i], "page %zu at the end", i);
    gch_pagealloc_destroy(&p);
}

// ------------------------------------------------------------- in the heap

// After a flush of the page cache, every page of the heap is in a span or free in the page
// allocator: heap_sys = heap_inuse + free pages. Returns false and says why
// otherwise.
static bool heap_pages_add_up(char *why, size_t len)
{
    gch_mheap_flush_pagecache();
    gc_stats st;
    gc_get_stats(&st);
    gch_mutex_lock(&gch_mheap.lock);
    uint64_t free_bytes = (uint64_t)gch_pagealloc_free_pages(&gch_mheap.pages) * PAGE;
    gch_mutex_unlock(&gch_mheap.lock);
    if (st.heap_sys != st.heap_inuse + free_bytes) {
        snprintf(why, len, "heap_sys %llu != heap_inuse %llu + free pages %llu bytes",
                 (unsigned long long)st.heap_sys, (unsigned long long)st.heap_inuse,
                 (unsigned long long)free_bytes);
        return false;
    }
    return heap_verify(why, len);
}

#define KEEP 4096
static void *keep[KEEP];
static void keep_roots(void *ctx)
{
    (void)ctx;
    for (size_t i = 0; i < KEEP; i++)
        gc_mark(keep[i]);
}

// Span sizes through the cache (1 to 10 pages: small classes, and large
// objects under 16 pages) and around it (16 pages and more).
static const size_t heap_sizes[] = {16, 1024, 9472, 27264, 32768, 40000, 100000, 131072, 200000};
#define NSIZES (sizeof heap_sizes / sizeof heap_sizes[0])

// Allocates n objects of the sizes above, keeping every keep_every-th.
static size_t heap_churn(size_t n, size_t keep_every, size_t *nkept)
{
    size_t nulls = 0;
    for (size_t i = 0; i < n; i++) {
        void *o = gc_alloc(heap_sizes[i % NSIZES], i % 2 == 0);
        nulls += o == NULL;
        if (o != NULL && i % keep_every == 0 && *nkept < KEEP)
            keep[(*nkept)++] = o;
    }
    return nulls;
}

Test(pagecache, heap_free_pages_and_released_bytes_stay_exact)
{
    gc_set_roots(keep_roots, NULL);
    gc_set_gogc(-1);
    size_t nkept = 0;
    char why[512];
    for (int cycle = 0; cycle < 6; cycle++) {
        CHECK_EQ(heap_churn(900, 7, &nkept), 0u, "cycle %d: allocations that failed", cycle);
        CHECK(heap_pages_add_up(why, sizeof why), "cycle %d, before collecting: %s", cycle, why);
        for (size_t i = cycle; i < nkept; i += 3)
            keep[i] = NULL;
        gc_collect();
        CHECK(heap_pages_add_up(why, sizeof why), "cycle %d, after collecting: %s", cycle, why);
    }
    // Release every free page: heap_released must then be exactly the free
    // pages, which it is only if pages that went through the cache were
    // accounted right (scavenged ones taken off when handed out, none lost
    // while cached).
    gch_mheap_scavenge(0, 0);
    gc_stats st;
    gc_get_stats(&st);
    CHECK_EQ(st.heap_released, st.heap_sys - st.heap_inuse, "released after scavenging all");
    // Take some of them back through the cache, then release again.
    uint64_t released = st.heap_released;
    CHECK_EQ(heap_churn(600, 5, &nkept), 0u, "allocations after releasing everything");
    gc_get_stats(&st);
    CHECK_CMP(st.heap_released, <, released, "allocating took released pages back");
    CHECK_CMP(st.heap_released, <=, st.heap_sys - st.heap_inuse, "released, at most the idle");
    gch_mheap_scavenge(0, 0);
    gc_get_stats(&st);
    CHECK_EQ(st.heap_released, st.heap_sys - st.heap_inuse, "released after scavenging again");
    CHECK(heap_pages_add_up(why, sizeof why), "at the end: %s", why);
}

// Fault injection: the OS call number fault_n fails (0: none, count them).
static unsigned long fault_n;
static bool fault_counting;

static void fault_child(void)
{
    gc_set_roots(keep_roots, NULL);
    gc_set_gogc(-1);
    char why[512];
    size_t nkept = 0, nulls = 0;
    unsigned long calls0 = gch_os_calls();
    gch_os_fail_nth(fault_n);
    for (int cycle = 0; cycle < 3; cycle++) {
        nulls += heap_churn(400, 5, &nkept);
        for (size_t i = cycle; i < nkept; i += 2)
            keep[i] = NULL;
        gc_collect();
        if (!heap_pages_add_up(why, sizeof why)) {
            fprintf(stderr, "cycle %d: %s\n", cycle, why);
            _exit(1);
        }
    }
    unsigned long calls = gch_os_calls() - calls0;
    gch_os_fail_nth(0);
    nulls += heap_churn(400, 5, &nkept);
    gc_collect();
    if (!heap_pages_add_up(why, sizeof why)) {
        fprintf(stderr, "after injection: %s\n", why);
        _exit(1);
    }
    if (fault_counting)
        fprintf(stderr, "calls %lu\n", calls);
    else
        fprintf(stderr, "nulls %zu\n", nulls);
}

Test(pagecache, every_os_failure_point_leaves_the_heap_consistent, .timeout = 600)
{
    unsigned long with_null;
    unsigned long calls = run_fault_points(fault_child, &fault_counting, &fault_n, 5, &with_null);
    cr_log_info("page cache fault injection: %lu fault points, %lu made a gc_alloc fail", calls,
                with_null);
    CHECK_CMP(with_null, >, 0, "fault points that made some gc_alloc fail");
}
