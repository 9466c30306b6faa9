// test_pagealloc.c: white-box tests of the page allocator (src/pagealloc.c).
// The allocator keeps metadata only, so the heap is made-up addresses.
// Table-driven in the manner of Go's mpagealloc_test.go: a case names the
// grown ranges, the pages in use before, one operation with its expected
// result, and the pages in use after; whole bitmaps are compared. Then
// sequences (search_addr, coalescing, exhaustion), the verifier itself,
// failed growth, and random operations against a plain bool-array model.
#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "../src/pagealloc.h"

#define LEN(a)      (sizeof(a) / sizeof((a)[0]))
#define PAGE        ((uintptr_t)8192)
#define CHUNK       GCH_PALLOC_CHUNK_BYTES
#define CHUNK_PAGES GCH_PALLOC_CHUNK_PAGES
// Most cases live at 4 GiB; CH(c) is chunk c from there, PG(c, i) page i
// of it (i may run past 511 into the next chunks).
#define BASE     ((uintptr_t)0x100000000)
#define CH(c)    (BASE + (uintptr_t)(c)*CHUNK)
#define PG(c, i) (CH(c) + (uintptr_t)(i)*PAGE)
// Initialisers for struct run: R one run, RR reps runs stride pages apart.
#define R(base, n)        \
    {                     \
        (base), (n), 0, 0 \
    }
#define RR(base, n, reps, stride)     \
    {                                 \
        (base), (n), (reps), (stride) \
    }
#define NONE         R(0, 0)
#define CHUNKS(c, n) R(CH(c), (size_t)(n)*CHUNK_PAGES)
#define FAR_A        ((uintptr_t)0x100000000)
#define FAR_B        ((uintptr_t)0x300000000)

// npages pages from base; with reps > 0, reps such runs, stride pages apart.
struct run {
    uintptr_t base;
    size_t npages;
    size_t reps, stride;
};

static size_t run_pages(const struct run *runs, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += runs[i].npages * (runs[i].reps ? runs[i].reps : 1);
    return total;
}

// Sets in out the bits of the chunk at cb covered by runs.
static void expect_chunk(const struct run *runs, size_t n, uintptr_t cb, uint64_t out[8])
{
    memset(out, 0, 8 * sizeof out[0]);
    for (size_t i = 0; i < n; i++) {
        size_t reps = runs[i].reps ? runs[i].reps : 1;
        for (size_t r = 0; r < reps; r++) {
            uintptr_t b = runs[i].base + r * runs[i].stride * PAGE;
            for (size_t k = 0; k < runs[i].npages; k++) {
                uintptr_t a = b + k * PAGE;
                if (a >= cb && a < cb + CHUNK) {
                    size_t pg = (a - cb) / PAGE;
                    out[pg / 64] |= (uint64_t)1 << (pg % 64);
                }
            }
        }
    }
}

static void check_verify(const struct page_alloc *p, const char *name, const char *when)
{
    char why[256];
    bool ok = gch_pagealloc_verify(p, why, sizeof why);
    cr_assert(ok, "%s (%s): gch_pagealloc_verify failed: %s", name, when, why);
}

// Compares every grown chunk's bitmap and the free-page count with runs.
static void check_state(const struct page_alloc *p, const struct run *heap, size_t nheap,
                        const struct run *used, size_t nused, const char *name, const char *when)
{
    size_t heap_pages = 0;
    for (size_t h = 0; h < nheap; h++) {
        heap_pages += heap[h].npages;
        for (uintptr_t cb = heap[h].base; cb < heap[h].base + heap[h].npages * PAGE; cb += CHUNK) {
            uint64_t want[8], got[8];
            expect_chunk(used, nused, cb, want);
            gch_pagealloc_test_bits(p, cb, got);
            for (int w = 0; w < 8; w++)
                cr_assert_eq(got[w], want[w],
                             "%s (%s): chunk %#lx, pages %d..%d: bitmap %#018lx, want %#018lx",
                             name, when, (unsigned long)cb, w * 64, w * 64 + 63,
                             (unsigned long)got[w], (unsigned long)want[w]);
        }
    }
    size_t want_free = heap_pages - run_pages(used, nused);
    cr_assert_eq(gch_pagealloc_free_pages(p), want_free, "%s (%s): free pages %zu, want %zu", name,
                 when, gch_pagealloc_free_pages(p), want_free);
    check_verify(p, name, when);
}

// Grows heap, then reaches the state "used" through the interface: take
// each range whole, then free what is not in used.
static void setup(struct page_alloc *p, const struct run *heap, size_t nheap,
                  const struct run *used, size_t nused, const char *name)
{
    cr_assert(gch_pagealloc_init(p), "%s: init failed", name);
    for (size_t h = 0; h < nheap; h++)
        cr_assert(gch_pagealloc_grow(p, heap[h].base, heap[h].npages * PAGE),
                  "%s: grow [%#lx, +%zu pages) failed", name, (unsigned long)heap[h].base,
                  heap[h].npages);
    check_state(p, heap, nheap, NULL, 0, name, "after grow");
    for (size_t h = 0; h < nheap; h++) {
        uintptr_t got = gch_pagealloc_alloc(p, heap[h].npages);
        cr_assert_eq(got, heap[h].base, "%s: setup alloc of range %zu: got %#lx, want %#lx", name,
                     h, (unsigned long)got, (unsigned long)heap[h].base);
    }
    for (size_t h = 0; h < nheap; h++) {
        size_t free_start = 0, free_len = 0; // current run of pages to free
        uint64_t bits[8];
        for (size_t pg = 0; pg <= heap[h].npages; pg++) {
            bool in_use = true; // the end of the range closes the last run
            if (pg < heap[h].npages) {
                size_t i = pg % CHUNK_PAGES;
                if (i == 0)
                    expect_chunk(used, nused, heap[h].base + pg * PAGE, bits);
                in_use = (bits[i / 64] >> (i % 64)) & 1;
            }
            if (!in_use) {
                if (free_len++ == 0)
                    free_start = pg;
            } else if (free_len > 0) {
                gch_pagealloc_free(p, heap[h].base + free_start * PAGE, free_len);
                free_len = 0;
            }
        }
    }
    check_state(p, heap, nheap, used, nused, name, "before");
}

// ---------------------------------------------------------------- tables

#define MAXR 8
struct alloc_case {
    const char *name;
    struct run heap[3];
    struct run before[MAXR];
    size_t npages;
    uintptr_t want;
    struct run after[MAXR];
};

static size_t count_runs(const struct run *r, size_t max)
{
    size_t n = 0;
    while (n < max && r[n].npages != 0)
        n++;
    return n;
}

static const struct alloc_case alloc_cases[] = {
    {"one page, empty chunk", {CHUNKS(0, 1)}, {NONE}, 1, PG(0, 0), {R(PG(0, 0), 1)}},
    {"after a used prefix", {CHUNKS(0, 1)}, {R(PG(0, 0), 3)}, 5, PG(0, 3), {R(PG(0, 0), 8)}},
    {"skips a hole too small",
     {CHUNKS(0, 1)},
     {R(PG(0, 0), 10), R(PG(0, 12), 20)},
     3,
     PG(0, 32),
     {R(PG(0, 0), 10), R(PG(0, 12), 23)}},
    {"first hole that fits",
     {CHUNKS(0, 1)},
     {R(PG(0, 0), 10), R(PG(0, 12), 20)},
     2,
     PG(0, 10),
     {R(PG(0, 0), 32)}},
    {"hole across a bitmap word",
     {CHUNKS(0, 1)},
     {R(PG(0, 0), 60), R(PG(0, 70), 442)},
     10,
     PG(0, 60),
     {R(PG(0, 0), 512)}},
    {"hole inside a word",
     {CHUNKS(0, 1)},
     {R(PG(0, 0), 5), R(PG(0, 9), 20), R(PG(0, 30), 482)},
     4,
     PG(0, 5),
     {R(PG(0, 0), 29), R(PG(0, 30), 482)}},
    {"run strictly inside a word, longer than the start run",
     {CHUNKS(0, 1)},
     {R(PG(0, 61), 4), R(PG(0, 127), 385)},
     62,
     PG(0, 65),
     {R(PG(0, 61), 4), R(PG(0, 65), 447)}},
    {"single page, first hole",
     {CHUNKS(0, 1)},
     {R(PG(0, 0), 5), R(PG(0, 6), 506)},
     1,
     PG(0, 5),
     {R(PG(0, 0), 512)}},
    {"last page of a chunk", {CHUNKS(0, 1)}, {R(PG(0, 0), 511)}, 1, PG(0, 511), {R(PG(0, 0), 512)}},
    {"crosses a chunk boundary",
     {CHUNKS(0, 2)},
     {R(PG(0, 0), 500)},
     20,
     PG(0, 500),
     {R(PG(0, 0), 520)}},
    {"crossing run beats a later hole",
     {CHUNKS(0, 2)},
     {R(PG(0, 0), 510), R(PG(1, 5), 100)},
     6,
     PG(0, 510),
     {R(PG(0, 0), 516), R(PG(1, 5), 100)}},
    {"crossing run too short",
     {CHUNKS(0, 2)},
     {R(PG(0, 0), 510), R(PG(1, 5), 100)},
     8,
     PG(1, 105),
     {R(PG(0, 0), 510), R(PG(1, 5), 108)}},
    {"512 pages, aligned", {CHUNKS(0, 2)}, {NONE}, 512, PG(0, 0), {R(PG(0, 0), 512)}},
    {"512 pages, unaligned", {CHUNKS(0, 2)}, {R(PG(0, 0), 1)}, 512, PG(0, 1), {R(PG(0, 0), 513)}},
    {"513 pages", {CHUNKS(0, 2)}, {NONE}, 513, PG(0, 0), {R(PG(0, 0), 513)}},
    {"513 pages past a short run",
     {CHUNKS(0, 3)},
     {R(PG(0, 100), 1), R(PG(1, 200), 1)},
     513,
     PG(0, 101),
     {R(PG(0, 100), 514), R(PG(1, 200), 1)}},
    {"1024 pages over 3 chunks",
     {CHUNKS(0, 3)},
     {R(PG(0, 0), 256)},
     1024,
     PG(0, 256),
     {R(PG(0, 0), 1280)}},
    {"8192 pages (64 MiB), whole heap",
     {CHUNKS(0, 16)},
     {NONE},
     8192,
     PG(0, 0),
     {R(PG(0, 0), 8192)}},
    {"8192 pages past a run of 8092",
     {CHUNKS(0, 40)},
     {R(PG(0, 0), 100), R(PG(16, 0), 1)},
     8192,
     PG(16, 1),
     {R(PG(0, 0), 100), R(PG(16, 0), 8193)}},
    {"20000 pages across a 256 MiB entry",
     {CHUNKS(0, 80)},
     {R(PG(0, 7), 1), R(PG(30, 0), 1)},
     20000,
     PG(30, 1),
     {R(PG(0, 7), 1), R(PG(30, 0), 20001)}},
    {"exhausted", {CHUNKS(0, 1)}, {R(PG(0, 0), 512)}, 1, 0, {R(PG(0, 0), 512)}},
    {"free pages but no run",
     {CHUNKS(0, 1)},
     {R(PG(0, 0), 256), R(PG(0, 300), 212)},
     45,
     0,
     {R(PG(0, 0), 256), R(PG(0, 300), 212)}},
    {"alternating pages, 1 page",
     {CHUNKS(0, 2)},
     {RR(PG(0, 0), 1, 400, 2), R(PG(1, 289), 223)},
     1,
     PG(0, 1),
     {RR(PG(0, 0), 1, 400, 2), R(PG(1, 289), 223), R(PG(0, 1), 1)}},
    {"alternating pages, 2 pages skip to the first 2-page hole",
     {CHUNKS(0, 2)},
     {RR(PG(0, 0), 1, 400, 2), R(PG(1, 289), 223)},
     2,
     PG(1, 287),
     {RR(PG(0, 0), 1, 400, 2), R(PG(1, 287), 225)}},
    {"alternating pages, no 2-page hole",
     {CHUNKS(0, 1)},
     {RR(PG(0, 0), 1, 256, 2)},
     2,
     0,
     {RR(PG(0, 0), 1, 256, 2)}},
    {"two ranges: no run across the gap",
     {R(FAR_A, 512), R(FAR_B, 512)},
     {R(FAR_A, 412), R(FAR_B + 100 * PAGE, 1)},
     150,
     FAR_B + 101 * PAGE,
     {R(FAR_A, 412), R(FAR_B + 100 * PAGE, 151)}},
    {"two ranges: fits the first's tail",
     {R(FAR_A, 512), R(FAR_B, 512)},
     {R(FAR_A, 412), R(FAR_B + 100 * PAGE, 1)},
     100,
     FAR_A + 412 * PAGE,
     {R(FAR_A, 512), R(FAR_B + 100 * PAGE, 1)}},
    {"two ranges: first full",
     {R(FAR_A, 512), R(FAR_B, 512)},
     {R(FAR_A, 512), R(FAR_B + 100 * PAGE, 1)},
     100,
     FAR_B,
     {R(FAR_A, 512), R(FAR_B, 101)}},
    {"one-chunk gap",
     {CHUNKS(0, 1), CHUNKS(2, 1)},
     {R(PG(0, 0), 500)},
     20,
     PG(2, 0),
     {R(PG(0, 0), 500), R(PG(2, 0), 20)}},
    {"adjacent grows join",
     {CHUNKS(0, 1), CHUNKS(1, 1)},
     {NONE},
     1024,
     PG(0, 0),
     {R(PG(0, 0), 1024)}},
    {"across a root entry and an L2 block",
     {R(0x7FF800000, 2048)},
     {R(0x7FF800000, 1)},
     2000,
     0x7FF800000 + PAGE,
     {R(0x7FF800000, 2001)}},
    {"far ranges in different root entries",
     {R(FAR_A, 512), R((uintptr_t)0x7f0000000000, 1024)},
     {R(FAR_A, 512)},
     600,
     0x7f0000000000,
     {R(FAR_A, 512), R(0x7f0000000000, 600)}},
};

Test(pagealloc, alloc_table)
{
    for (size_t t = 0; t < LEN(alloc_cases); t++) {
        const struct alloc_case *c = &alloc_cases[t];
        size_t nheap = count_runs(c->heap, 3);
        struct page_alloc p;
        setup(&p, c->heap, nheap, c->before, count_runs(c->before, MAXR), c->name);
        uintptr_t got = gch_pagealloc_alloc(&p, c->npages);
        cr_assert_eq(got, c->want, "%s: alloc(%zu) = %#lx, want %#lx", c->name, c->npages,
                     (unsigned long)got, (unsigned long)c->want);
        check_state(&p, c->heap, nheap, c->after, count_runs(c->after, MAXR), c->name, "after");
        gch_pagealloc_destroy(&p);
    }
}

struct free_case {
    const char *name;
    struct run heap[3];
    struct run before[MAXR];
    uintptr_t base;
    size_t npages;
    struct run after[MAXR];
};

static const struct free_case free_cases[] = {
    {"one page of a full chunk",
     {CHUNKS(0, 1)},
     {R(PG(0, 0), 512)},
     PG(0, 100),
     1,
     {R(PG(0, 0), 100), R(PG(0, 101), 411)}},
    {"last page", {CHUNKS(0, 1)}, {R(PG(0, 0), 512)}, PG(0, 511), 1, {R(PG(0, 0), 511)}},
    {"across a chunk boundary",
     {CHUNKS(0, 2)},
     {R(PG(0, 0), 1024)},
     PG(0, 500),
     20,
     {R(PG(0, 0), 500), R(PG(1, 8), 504)}},
    {"8192 pages over 17 chunks",
     {CHUNKS(0, 20)},
     {R(PG(0, 0), 10240)},
     PG(1, 3),
     8192,
     {R(PG(0, 0), 515), R(PG(17, 3), 1533)}},
    {"whole heap", {CHUNKS(0, 2)}, {R(PG(0, 0), 1024)}, PG(0, 0), 1024, {NONE}},
    {"second of two ranges",
     {R(FAR_A, 512), R(FAR_B, 512)},
     {R(FAR_A, 512), R(FAR_B, 512)},
     FAR_B + 5 * PAGE,
     3,
     {R(FAR_A, 512), R(FAR_B, 5), R(FAR_B + 8 * PAGE, 504)}},
};

Test(pagealloc, free_table)
{
    for (size_t t = 0; t < LEN(free_cases); t++) {
        const struct free_case *c = &free_cases[t];
        size_t nheap = count_runs(c->heap, 3);
        struct page_alloc p;
        setup(&p, c->heap, nheap, c->before, count_runs(c->before, MAXR), c->name);
        gch_pagealloc_free(&p, c->base, c->npages);
        check_state(&p, c->heap, nheap, c->after, count_runs(c->after, MAXR), c->name, "after");
        gch_pagealloc_destroy(&p);
    }
}

// ------------------------------------------------------------- sequences

static void expect_alloc(struct page_alloc *p, size_t npages, uintptr_t want, const char *what)
{
    uintptr_t got = gch_pagealloc_alloc(p, npages);
    cr_assert_eq(got, want, "%s: alloc(%zu) = %#lx, want %#lx", what, npages, (unsigned long)got,
                 (unsigned long)want);
    check_verify(p, what, "after alloc");
}

static void do_free(struct page_alloc *p, uintptr_t base, size_t npages, const char *what)
{
    gch_pagealloc_free(p, base, npages);
    check_verify(p, what, "after free");
}

Test(pagealloc, exhaustion_then_free)
{
    struct page_alloc p;
    cr_assert(gch_pagealloc_init(&p));
    cr_assert(gch_pagealloc_grow(&p, CH(0), 2 * CHUNK));
    expect_alloc(&p, 1024, PG(0, 0), "take all");
    expect_alloc(&p, 1, 0, "full heap");
    do_free(&p, PG(0, 100), 3, "free 3");
    expect_alloc(&p, 4, 0, "4 > the 3 free");
    expect_alloc(&p, 3, PG(0, 100), "the 3 freed");
    expect_alloc(&p, 1, 0, "full again");
    do_free(&p, PG(1, 511), 1, "free the last page");
    expect_alloc(&p, 1, PG(1, 511), "the last page");
    cr_assert_eq(gch_pagealloc_free_pages(&p), 0, "free pages %zu, want 0",
                 gch_pagealloc_free_pages(&p));
    gch_pagealloc_destroy(&p);
}

// The scavenger's bitmap: released runs are free pages, highest first;
// allocation takes them back and reports how many it took.
static uintptr_t released_base[16];
static size_t released_len[16], nreleased;
static void record_release(uintptr_t base, size_t npages)
{
    cr_assert_lt(nreleased, 16u, "more release calls than expected");
    released_base[nreleased] = base;
    released_len[nreleased++] = npages;
}

Test(pagealloc, scavenge_marks_free_pages_highest_first)
{
    struct page_alloc p;
    cr_assert(gch_pagealloc_init(&p));
    cr_assert(gch_pagealloc_grow(&p, CH(0), 2 * CHUNK));
    expect_alloc(&p, 1024, PG(0, 0), "take all");
    do_free(&p, PG(0, 10), 5, "free 5 low");
    do_free(&p, PG(1, 500), 12, "free 12 high");
    nreleased = 0;
    size_t n = gch_pagealloc_scavenge(&p, 14, record_release);
    cr_assert_eq(n, 14u, "scavenged %zu pages, want 14", n);
    cr_assert_eq(nreleased, 2u, "release calls %zu, want 2", nreleased);
    cr_assert_eq(released_base[0], PG(1, 500), "first release at %#lx, want the high run %#lx",
                 (unsigned long)released_base[0], (unsigned long)PG(1, 500));
    cr_assert_eq(released_len[0], 12u, "first run %zu pages", released_len[0]);
    cr_assert_eq(released_base[1], PG(0, 10), "second release at %#lx, want %#lx",
                 (unsigned long)released_base[1], (unsigned long)PG(0, 10));
    cr_assert_eq(released_len[1], 2u, "second run %zu pages (budget 14)", released_len[1]);
    check_verify(&p, "scavenge", "after scavenging");
    // Nothing left beyond the 3 unscavenged low pages.
    nreleased = 0;
    cr_assert_eq(gch_pagealloc_scavenge(&p, 100, record_release), 3u, "the rest");
    cr_assert_eq(gch_pagealloc_scavenge(&p, 100, record_release), 0u, "nothing twice");
    // Allocating the high run takes its 12 scavenged pages back.
    expect_alloc(&p, 12, PG(1, 500), "the high run");
    cr_assert_eq(gch_pagealloc_take_scavenged(&p), 12u, "took 12 scavenged");
    cr_assert_eq(gch_pagealloc_take_scavenged(&p), 0u, "and the count resets");
    check_verify(&p, "scavenge", "after taking back");
    gch_pagealloc_destroy(&p);
}

Test(pagealloc, search_addr_after_free_below)
{
    struct page_alloc p;
    cr_assert(gch_pagealloc_init(&p));
    cr_assert(gch_pagealloc_grow(&p, CH(0), 2 * CHUNK));
    for (size_t i = 0; i < 100; i++)
        expect_alloc(&p, 1, PG(0, i), "sequential pages");
    // White-box: the hint follows the allocations, so searches stay short.
    cr_assert_eq(p.search_addr, PG(0, 100), "search_addr %#lx, want %#lx",
                 (unsigned long)p.search_addr, (unsigned long)PG(0, 100));
    do_free(&p, PG(0, 50), 1, "free below the hint");
    cr_assert_eq(p.search_addr, PG(0, 50), "search_addr %#lx after free, want %#lx",
                 (unsigned long)p.search_addr, (unsigned long)PG(0, 50));
    expect_alloc(&p, 1, PG(0, 50), "reuse the freed page");
    do_free(&p, PG(0, 20), 1, "free 20");
    do_free(&p, PG(0, 10), 1, "free 10");
    expect_alloc(&p, 1, PG(0, 10), "lowest first");
    expect_alloc(&p, 1, PG(0, 20), "then the next");
    expect_alloc(&p, 1, PG(0, 100), "then past the run");
    // A hole too small for the request must not stop the hint from
    // covering it, nor the request from being served above.
    do_free(&p, PG(0, 5), 2, "free 5..6");
    expect_alloc(&p, 3, PG(0, 101), "3 pages skip the 2-page hole");
    expect_alloc(&p, 2, PG(0, 5), "2 pages take it");
    expect_alloc(&p, 600, PG(0, 104), "a multi-chunk run above");
    do_free(&p, PG(0, 0), 1, "free page 0");
    expect_alloc(&p, 1, PG(0, 0), "page 0 again");
    expect_alloc(&p, 1, PG(1, 192), "next after the big run");
    gch_pagealloc_destroy(&p);
}

Test(pagealloc, free_coalesces)
{
    struct page_alloc p;
    cr_assert(gch_pagealloc_init(&p));
    cr_assert(gch_pagealloc_grow(&p, CH(0), 2 * CHUNK));
    expect_alloc(&p, 3, PG(0, 0), "a");
    expect_alloc(&p, 5, PG(0, 3), "b");
    expect_alloc(&p, 1, PG(0, 8), "c");
    do_free(&p, PG(0, 0), 3, "free a");
    do_free(&p, PG(0, 3), 5, "free b");
    expect_alloc(&p, 8, PG(0, 0), "a+b as one run");
    do_free(&p, PG(0, 3), 5, "free b first");
    do_free(&p, PG(0, 0), 3, "then a");
    expect_alloc(&p, 8, PG(0, 0), "a+b again, freed in reverse");
    // Across a chunk boundary: neighbours 500 + 24 pages, with a third
    // allocation above them.
    expect_alloc(&p, 491, PG(0, 9), "fill to page 500");
    expect_alloc(&p, 24, PG(0, 500), "crossing");
    expect_alloc(&p, 1, PG(1, 12), "above");
    do_free(&p, PG(0, 500), 24, "free crossing");
    do_free(&p, PG(0, 9), 491, "free below it");
    expect_alloc(&p, 515, PG(0, 9), "their union");
    gch_pagealloc_destroy(&p);
}

Test(pagealloc, in_use)
{
    struct page_alloc p;
    cr_assert(gch_pagealloc_init(&p));
    cr_assert(!gch_pagealloc_in_use(&p, CH(0)), "in_use before grow");
    cr_assert(gch_pagealloc_grow(&p, CH(0), CHUNK));
    cr_assert(gch_pagealloc_grow(&p, CH(2), 2 * CHUNK));
    expect_alloc(&p, 3, PG(0, 0), "3 pages");
    expect_alloc(&p, 600, PG(2, 0), "600 pages, only room in the second range");
    struct {
        uintptr_t addr;
        bool want;
    } probes[] = {
        {PG(0, 0), true},      {PG(0, 2) + PAGE - 1, true},
        {PG(0, 3), false},     {PG(1, 0), false}, // between the ranges: never grown
        {PG(2, 0), true},      {PG(2, 511) + 100, true},
        {PG(3, 87), true},     {PG(3, 88), false},
        {PG(4, 0), false}, // beyond
        {PG(0, 0) - 1, false}, {(uintptr_t)1 << 48, false},
        {UINTPTR_MAX, false},  {0, false},
    };
    for (size_t i = 0; i < LEN(probes); i++) {
        bool got = gch_pagealloc_in_use(&p, probes[i].addr);
        cr_assert_eq(got, probes[i].want, "in_use(%#lx) = %d, want %d",
                     (unsigned long)probes[i].addr, got, probes[i].want);
    }
    do_free(&p, PG(0, 1), 1, "free the middle one");
    cr_assert(!gch_pagealloc_in_use(&p, PG(0, 1) + 100), "in_use after free");
    cr_assert(gch_pagealloc_in_use(&p, PG(0, 2)), "neighbour still in use");
    gch_pagealloc_destroy(&p);
}

Test(pagealloc, zeroed_struct_grows)
{
    struct page_alloc p = {0};
    cr_assert_eq(gch_pagealloc_alloc(&p, 1), 0, "alloc from a zeroed allocator");
    check_verify(&p, "zeroed", "before grow");
    cr_assert(gch_pagealloc_grow(&p, CH(0), CHUNK), "grow of a zeroed allocator");
    expect_alloc(&p, 512, PG(0, 0), "whole chunk");
    gch_pagealloc_destroy(&p);
}

Test(pagealloc, grow_joins_and_keeps_state)
{
    struct page_alloc p;
    cr_assert(gch_pagealloc_init(&p));
    cr_assert(gch_pagealloc_grow(&p, CH(0), CHUNK));
    cr_assert(gch_pagealloc_grow(&p, CH(2), CHUNK));
    expect_alloc(&p, 10, PG(0, 0), "first range");
    cr_assert(gch_pagealloc_grow(&p, CH(1), CHUNK), "grow the gap");
    cr_assert_eq(p.in_use_len, 1, "ranges after filling the gap: %zu, want 1", p.in_use_len);
    check_verify(&p, "filled gap", "after grow");
    expect_alloc(&p, 1526, PG(0, 10), "the rest as one run");
    // Growing below the hint must lower it.
    cr_assert(gch_pagealloc_grow(&p, BASE - CHUNK, CHUNK), "grow below");
    expect_alloc(&p, 1, BASE - CHUNK, "the new lower chunk");
    gch_pagealloc_destroy(&p);
}

Test(pagealloc, verify_catches_corruption)
{
    struct page_alloc p;
    char why[256];
    cr_assert(gch_pagealloc_init(&p));
    // 12 chunks: chunks 12..15 share a level-3 entry with grown ones.
    cr_assert(gch_pagealloc_grow(&p, CH(0), 12 * CHUNK));
    expect_alloc(&p, 700, PG(0, 0), "700 pages");
    size_t ci = CH(1) >> 22;
    struct {
        uint64_t *word;
        uint64_t bad;
        const char *tag;
    } cases[] = {
        {&p.summary[4][ci], p.summary[4][ci] + 1, "[P1]"},
        {&p.summary[3][ci >> 3], p.summary[3][ci >> 3] ^ 2, "[P2]"},
        {&p.summary[4][ci + 12], 7, "[P3]"},
        {(uint64_t *)&p.free_pages, p.free_pages + 1, "[P4]"},
        {(uint64_t *)&p.search_addr, PG(2, 0), "[P5]"},
    };
    for (size_t i = 0; i < LEN(cases); i++) {
        uint64_t saved = *cases[i].word;
        *cases[i].word = cases[i].bad;
        bool ok = gch_pagealloc_verify(&p, why, sizeof why);
        *cases[i].word = saved;
        cr_assert(!ok, "verify missed %s corruption", cases[i].tag);
        cr_assert(strstr(why, cases[i].tag) != NULL, "verify reported \"%s\", want a %s message",
                  why, cases[i].tag);
    }
    check_verify(&p, "restored", "after corruption tests");
    gch_pagealloc_destroy(&p);
}

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
