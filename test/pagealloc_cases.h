// pagealloc_cases.h: what the page allocator's tests (test_pagealloc*.c)
// share: made-up heap addresses, runs of pages, and checks of a page
// allocator's whole state against the runs that should be in use.
//
// Only static inline functions and macros, as in util.h.
#ifndef GCHEAP_TEST_PAGEALLOC_CASES_H
#define GCHEAP_TEST_PAGEALLOC_CASES_H

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

static inline size_t run_pages(const struct run *runs, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += runs[i].npages * (runs[i].reps ? runs[i].reps : 1);
    return total;
}

// Sets in out the bits of the chunk at cb covered by runs.
static inline void expect_chunk(const struct run *runs, size_t n, uintptr_t cb, uint64_t out[8])
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

static inline void check_verify(const struct page_alloc *p, const char *name, const char *when)
{
    char why[256];
    bool ok = gch_pagealloc_verify(p, why, sizeof why);
    cr_assert(ok, "%s (%s): gch_pagealloc_verify failed: %s", name, when, why);
}

// Compares every grown chunk's bitmap and the free-page count with runs.
static inline void check_state(const struct page_alloc *p, const struct run *heap, size_t nheap,
                               const struct run *used, size_t nused, const char *name,
                               const char *when)
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
static inline void setup(struct page_alloc *p, const struct run *heap, size_t nheap,
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

static inline void expect_alloc(struct page_alloc *p, size_t npages, uintptr_t want,
                                const char *what)
{
    uintptr_t got = gch_pagealloc_alloc(p, npages);
    cr_assert_eq(got, want, "%s: alloc(%zu) = %#lx, want %#lx", what, npages, (unsigned long)got,
                 (unsigned long)want);
    check_verify(p, what, "after alloc");
}

#endif
