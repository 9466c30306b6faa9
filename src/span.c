// span.c owns the mspan's allocation bitmap walk: finding the next free
// slot and the alloc_cache window. See malloc.c for the overview; Go
// counterpart: mbitmap.go (nextFreeIndex, refillAllocCache) and the mspan
// methods in mheap.go.
//
// A span's slots are allocated in address order from freeindex upwards.
// alloc_bits says which slots were live at the last sweep; slots below
// freeindex have all been handed out (or were live), so the allocator never
// looks back. alloc_cache is a 64-bit window of the complement of
// alloc_bits starting at freeindex, so "next free slot" is one
// count-trailing-zeros; the fast path (malloc.c) consumes it and comes here
// only when the window runs out at a 64-slot boundary.
//
// Allocation never writes alloc_bits: a slot's "allocated" state is
// freeindex > idx || alloc bit set, and sweeping replaces alloc_bits with the
// mark bits wholesale. This is what keeps the fast path free of atomics.
#include "internal.h"

struct mspan gch_empty_span = {
    .nelems = 0,
    .alloc_cache = 0,
    .sweepgen = 0,
    .black_from = GCH_NO_BLACK,
};

void gch_span_refill_alloc_cache(struct mspan *s, uint32_t word)
{
    GCH_ASSERT2(word < gch_bitmap_words(s->nelems));
    s->alloc_cache = ~(uint64_t)s->alloc_bits[word];
}

uint32_t gch_span_next_free_index(struct mspan *s)
{
    uint32_t fi = s->freeindex;
    uint32_t n = s->nelems;
    if (fi >= n)
        return n;
    uint64_t cache = s->alloc_cache;
    while (cache == 0) {
        // The window is exhausted: move to the next 64-slot word.
        fi = (fi + 64) & ~63u;
        if (fi >= n) {
            s->freeindex = n;
            return n;
        }
        gch_span_refill_alloc_cache(s, fi / 64);
        cache = s->alloc_cache;
    }
    unsigned bit = (unsigned)__builtin_ctzll(cache);
    uint32_t result = fi + bit;
    if (result >= n) {
        s->freeindex = n;
        return n;
    }
    // Keep [S4]: the window now starts at result (bit < 64, shift defined).
    s->alloc_cache = cache >> bit;
    s->freeindex = result;
    return result;
}
