// span.c owns the mspan's allocation window: where the next free slots are
// and how the window moves. See malloc.c for the overview; Go counterpart:
// mbitmap.go (nextFreeIndex, refillAllocCache) and the mspan methods in
// mheap.go.
//
// A span's slots are allocated in address order, one 64-slot window at a
// time: the window is bitmap word freeindex / 64, and alloc_cache holds its
// free slots (the complement of that alloc_bits word). Go shifts allocCache
// and bumps freeindex at every allocation; gcheap keeps the window fixed and
// clears the slot's bit instead, so the fast path (malloc.c) is a count-
// trailing-zeros, a bit clear and one store, with no bounds or boundary
// test: the window holds only valid free slots ([S4]) and the fast path
// only asks "is it empty?". window_base saves the multiply-add of
// freeindex, and the window's free slots are zeroed when it is loaded (in
// runs, one memset for a fresh window), so the fast path has no needzero
// test either.
//
// A slot's "allocated" state is then: below freeindex, or in the window
// with its alloc_cache bit clear, or past the window with its alloc bit
// set (gch_span_slot_allocated). Allocation never writes alloc_bits, and
// sweeping replaces them with the mark bits wholesale, which is what keeps
// the fast path free of atomics.
//
// Counting and allocate-black are the cache's business (mcache.c): a span
// is charged to alloc_count whole when it is cached ([S9]), and a window is
// marked whole when it is loaded during a mark phase ([S10]).
#include "internal.h"

#include <string.h>

struct mspan gch_empty_span = {
    .nelems = 0,
    .alloc_cache = 0,
    .sweepgen = 0,
};

void gch_span_zero_window_slow(struct mspan *s, uint32_t fi, uint64_t free)
{
    // One clear per run of free slots: a fresh window is a single run.
    while (free != 0) {
        unsigned first = (unsigned)__builtin_ctzll(free);
        uint64_t rest = ~(free >> first);
        unsigned len = rest != 0 ? (unsigned)__builtin_ctzll(rest) : 64 - first;
        uintptr_t p = s->base + (uintptr_t)(fi + first) * s->elemsize;
        size_t n = (size_t)len * s->elemsize;
        gch_check_internal_write(p, n);
        if (n <= 64)
            gch_memclr((void *)p, n);
        else
            memset((void *)p, 0, n);
        gch_check_noaccess(p, n); // until handed out
        free &= len + first < 64 ? ~(uint64_t)0 << (first + len) : 0;
    }
}

void gch_span_reset_window(struct mspan *s)
{
    uint64_t free = 0;
    if (s->nelems > 0)
        free = ~(uint64_t)s->alloc_bits[0] & gch_span_valid_mask(s->nelems, 0);
    gch_span_set_window(s, 0, free);
}

uint32_t gch_span_count_free(struct mspan *s)
{
    uint32_t n = s->nelems;
    uint32_t fi = AO_int_load_acquire(&s->freeindex);
    uint32_t free = (uint32_t)gch_popcount64(AO_load_acquire(&s->alloc_cache));
    for (uint32_t w = fi / 64 + 1; w * 64 < n; w++)
        free += (uint32_t)gch_popcount64(~(uint64_t)s->alloc_bits[w] & gch_span_valid_mask(n, w));
    return free;
}
