// test_pagealloc.c: white-box tests of the page allocator (src/pagealloc.c).
// The allocator keeps metadata only, so the heap is made-up addresses.
// Table-driven in the manner of Go's mpagealloc_test.go: a case names the
// grown ranges, the pages in use before, one operation with its expected
// result, and the pages in use after; whole bitmaps are compared. Then
// sequences (search_addr, coalescing, exhaustion) and the verifier itself.
// Failed growth and random operations against a model:
// test_pagealloc_random.c.
#include "pagealloc_cases.h"

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
