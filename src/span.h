// span.h: the mspan structure, its invariants and the fast paths on its
// bitmaps and allocation window (span.c defines the rest). See malloc.c for
// the overview.
//
// Included by internal.h only, never on its own, as collector.h is: it
// relies on what internal.h declares before it (the configuration, AO_t,
// the memory-checker hooks) and on its visibility pragma.
#ifndef GCHEAP_SPAN_H
#define GCHEAP_SPAN_H

#ifndef GCHEAP_INTERNAL_H
#error "span.h is included by internal.h only: include internal.h"
#endif

enum mspan_state {
    MSPAN_DEAD = 0,   // struct on the free list; describes nothing
    MSPAN_IN_USE = 1, // holds objects (small) or one large object
};

// mspan: a run of pages holding objects of one span class.
//
// Invariants (checked by verify.c under the same tags):
//   [S1] alloc_count <= nelems; nelems * elemsize <= npages * GCH_PAGE_SIZE
//   [S2] limit == base + nelems * elemsize
//   [S3] freeindex <= nelems, and freeindex % 64 == 0 or freeindex ==
//        nelems; every slot below freeindex is allocated (its alloc bit is
//        set, or it was handed out since the last sweep)
//   [S4] the allocation window is the slots [freeindex, freeindex + 64)
//        below nelems, bitmap word freeindex / 64. A window slot is
//        allocated iff its alloc_cache bit (bit idx - freeindex) is clear:
//        alloc_cache is ~alloc_bits[freeindex / 64] with each slot handed
//        out since cleared, so alloc_cache & alloc_bits[freeindex / 64] == 0
//        and alloc_cache has no bit at or past nelems. Slots past the
//        window are allocated iff their alloc bit is set.
//        window_base == base + freeindex * elemsize.
//   [S9] alloc_count counts the allocated slots, except while the span is
//        cached (sweepgen h+3 or h+1): then alloc_count == nelems, the whole
//        span charged when it was cached, so the fast path need not count;
//        the count is recomputed from the bitmaps when it leaves the cache
//        (gch_span_count_free).
//   [S10] allocate-black: while window_black, every free window slot is
//        already marked (gcmark_bits[freeindex / 64] has alloc_cache's bits
//        set), so what the fast path hands out during a mark phase is born
//        marked; the marks of the slots still free are withdrawn when the
//        span leaves the cache.
//   [S5] divmul: (off * divmul) >> 32 == off / elemsize for every
//        off in [0, npages * GCH_PAGE_SIZE] (the generator proves it);
//        0 for large spans, whose one object is index 0
//   [S6] sweepgen is one of h-2, h-1, h, h+1, h+3 (h = mheap's sweepgen)
//   [S7] every page of an in-use span maps to it in its arena's span map
//   [S8] large spans: spanclass >> 1 == 0, nelems == 1,
//        elemsize == npages * GCH_PAGE_SIZE
// Cache-line aligned (128 bytes, not 120): packed, a line held the end of
// one span and the start of the next, often two threads' spans, and a
// marker reading its own spans' lines fetched them from the core whose
// thread had last allocated from the neighbour: at alloc T=2 with parallel
// marking, 23% fewer samples in the span lookup, 5% less CPU (medians of
// 9, interleaved); T=1 unchanged.
struct mspan {
    // Link in one mcentral set, an mcache's partial set ([C4]) or the free
    // list; protected by that list's lock.
    _Alignas(GCH_CACHE_LINE) struct mspan *next;
    struct mcache *last_cache; // the cache that held it last; set when cached

    uintptr_t base;    // immutable while in use
    uintptr_t limit;   // immutable while in use
    size_t npages;     // immutable while in use
    size_t elemsize;   // immutable while in use (large: npages * page size)
    uint32_t nelems;   // immutable while in use
    uint32_t divmul;   // immutable while in use
    uint8_t spanclass; // immutable while in use
    uint8_t state;     // enum mspan_state; protected by mheap.lock, read racily
                       // by gc_base (which rechecks bounds)

    // Allocation state. Owner: the mcache caching the span, else the
    // sweeper that owns its sweepgen, else protected by its mcentral's lock.
    // Other threads read freeindex and alloc_cache (gch_span_slot_allocated)
    // with acquire loads; the owner moves the window by storing freeindex
    // first, then alloc_cache, both with release stores.
    bool needzero;         // some free slot past the window may hold
                           // non-zero bytes (the window's are zeroed
                           // unless a raw slot caches it: [C5])
    bool window_black;     // see [S10]
    bool kept_empty;       // left empty by a full sweep and kept for
                           // last_cache, not cached since ([C4]); owner:
                           // as the list holding it
    unsigned freeindex;    // see [S3]
    unsigned alloc_count;  // see [S9]; atomic stores: gc_get_stats reads it
    AO_t alloc_cache;      // see [S4]; bit set = window slot free
    uintptr_t window_base; // see [S4]
    AO_t *alloc_bits;      // bit set = allocated as of the last sweep
    AO_t *gcmark_bits;     // bit set = marked this cycle; atomic (CAS)

    AO_t sweepgen;               // atomic; see the table in sweep.c
    unsigned alloc_count_cached; // exact alloc_count when cached; atomic stores
};

// The span every empty mcache slot points at: no free slot, so the fast
// path misses without a NULL check (Go's emptymspan).
extern struct mspan gch_empty_span;

// Bit helpers for span bitmaps (words of 64 bits).
static inline bool gch_bit_get(const AO_t *bits, uint32_t i)
{
    return (bits[i >> 6] >> (i & 63)) & 1;
}
// Mark bits are set by CAS from several marking threads: read them atomically.
static inline bool gch_mark_bit_get(AO_t *bits, uint32_t i)
{
    return (AO_load(&bits[i >> 6]) >> (i & 63)) & 1;
}
static inline uint32_t gch_bitmap_words(uint32_t nelems)
{
    return (nelems + 63) / 64;
}

// Index of the object holding address p in s (p in [base, limit)).
// Large spans have divmul 0, which gives index 0 without a test.
static inline uint32_t gch_span_obj_index(const struct mspan *s, uintptr_t p)
{
    return (uint32_t)(((uint64_t)(p - s->base) * s->divmul) >> 32);
}

// The valid-slot mask of bitmap word w of a span of nelems slots.
static inline uint64_t gch_span_valid_mask(uint32_t nelems, uint32_t w)
{
    uint32_t lo = w * 64;
    if (nelems >= lo + 64)
        return ~(uint64_t)0;
    return nelems > lo ? ((uint64_t)1 << (nelems - lo)) - 1 : 0;
}

// Is slot idx (< nelems) allocated (live, or not yet swept as dead)? Mark
// phase and swept spans only: alloc bits are current. Safe against the
// owner moving the window concurrently ([S3], [S4]): a window read between
// the owner's two stores is retried, so an allocated slot is never reported
// free; a free slot may be reported allocated only while its window is
// being loaded.
static inline bool gch_span_slot_allocated(struct mspan *s, uint32_t idx)
{
    for (;;) {
        unsigned fi = AO_int_load_acquire(&s->freeindex);
        if (idx < fi)
            return true;
        if (idx - fi >= 64)
            return gch_bit_get(s->alloc_bits, idx);
        AO_t cache = AO_load_acquire(&s->alloc_cache);
        if (AO_int_load_acquire(&s->freeindex) == fi)
            return ((cache >> (idx - fi)) & 1) == 0;
    }
}

// The next window of s with a free slot, after the current one (which must
// be used up): its first slot index, and its free mask in *free. Returns
// nelems if the span has no free slot past the window. Does not move the
// window: the caller publishes it (gch_span_set_window).
static inline uint32_t gch_span_find_window(const struct mspan *s, uint64_t *free)
{
    GCH_ASSERT2(s->alloc_cache == 0);
    uint32_t n = s->nelems;
    for (uint32_t fi = (s->freeindex + 64) & ~63u; fi < n; fi += 64) {
        uint64_t f = ~(uint64_t)s->alloc_bits[fi / 64] & gch_span_valid_mask(n, fi / 64);
        if (f != 0) {
            *free = f;
            return fi;
        }
    }
    *free = 0;
    return n;
}

// Zeroes the free slots of window (fi, free), run by run.
void gch_span_zero_window_slow(struct mspan *s, uint32_t fi, uint64_t free);
// Zeroes the free slots of window (fi, free) if the span may hold old
// bytes, so that the fast path hands out zeroed objects without a test.
static inline void gch_span_zero_window(struct mspan *s, uint32_t fi, uint64_t free)
{
    if (s->needzero)
        gch_span_zero_window_slow(s, fi, free);
}

// Publishes the window at slot fi with free mask free ([S3], [S4]), in
// the order gch_span_slot_allocated relies on.
static inline void gch_span_set_window(struct mspan *s, uint32_t fi, uint64_t free)
{
    GCH_ASSERT2(fi <= s->nelems && (fi % 64 == 0 || fi == s->nelems));
    GCH_ASSERT2(fi == s->nelems ? free == 0
                                : (free & ~gch_span_valid_mask(s->nelems, fi / 64)) == 0 &&
                                      (free & s->alloc_bits[fi / 64]) == 0);
    AO_int_store_release(&s->freeindex, fi);
    s->window_base = s->base + (uintptr_t)fi * s->elemsize;
    AO_store_release(&s->alloc_cache, (AO_t)free);
}

// Loads the window at slot 0 from the alloc bits (a new or swept span).
void gch_span_reset_window(struct mspan *s);
// The free slots of s: the window's and those past it. Safe to call while
// the owner allocates (the answer is then a moment's snapshot).
uint32_t gch_span_count_free(struct mspan *s);

// The index of the lowest set bit of x, which must not be 0. On x86-64 one
// TZCNT, written out because gcc's generic tuning puts a dependency-
// breaking XOR before every TZCNT it emits (for old Intel cores, which
// made TZCNT wait on its output register): one instruction of the fast
// path. A CPU without BMI1 runs the same bytes as BSF, which gives the
// same answer for x != 0.
static inline unsigned gch_ctz64(uint64_t x)
{
    GCH_ASSERT2(x != 0);
#if defined(__x86_64__) && defined(__GNUC__)
    uint64_t r;
    __asm__("tzcntq %1, %0" : "=r"(r) : "rm"(x) : "cc");
    return (unsigned)r;
#else
    return (unsigned)__builtin_ctzll(x);
#endif
}

// The number of set bits of x. Without -mpopcnt (the x86-64 baseline has
// no POPCNT), gcc calls libgcc's __popcountdi2, which does these same ten
// ALU operations behind a call, reloading its four constants each time;
// inline, a loop keeps them in registers (the sweep counts two bitmap
// words per 64 slots, and the call was 0.5% of alloc T=1's samples).
// Elsewhere, or with POPCNT, the builtin is one instruction.
static inline unsigned gch_popcount64(uint64_t x)
{
#if defined(__x86_64__) && !defined(__POPCNT__)
    x -= (x >> 1) & 0x5555555555555555u;
    x = (x & 0x3333333333333333u) + ((x >> 2) & 0x3333333333333333u);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fu;
    return (unsigned)((x * 0x0101010101010101u) >> 56);
#else
    return (unsigned)__builtin_popcountll(x);
#endif
}

// Hands out the lowest free slot of s's window, which must not be empty
// (Go's nextFreeFast): ctz, clear the bit, one store. The window's free
// slots were zeroed when it was loaded (gch_span_zero_window).
static inline uintptr_t gch_span_take(struct mspan *s)
{
    AO_t cache = s->alloc_cache;
    GCH_ASSERT2(cache != 0);
    unsigned bit = gch_ctz64(cache);
    AO_store(&s->alloc_cache, cache & ~((AO_t)1 << bit));
    // bit * elemsize < 64 * 32 KiB: a 32-bit multiply, whose result x86-64
    // zero-extends for free.
    uintptr_t p = s->window_base + (uint32_t)(bit * (uint32_t)s->elemsize);
    gch_check_alloc(p, s->elemsize);
    return p;
}

#endif
