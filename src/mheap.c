// mheap.c owns the global page heap: arenas, the address -> span map, span
// structs and page-level allocation. See malloc.c for the overview; Go
// counterpart: mheap.go (mheap, heapArena, allocSpan, grow, spanOf).
//
// Address space comes in arenas of 64 MiB, reserved PROT_NONE at 64 MiB
// alignment and committed 4 MiB page-allocator chunk at a time as the heap
// grows (Go's Reserved -> Prepared/Ready). Requests larger than an arena
// reserve several contiguous arenas at once. Each arena has a heap_arena
// record, allocated off-heap, with a page -> span map; the arena map
// (arenas_l1 -> an L2 block -> heap_arena) finds it from any address in two
// loads, so gc_base is O(1) and safe for any pointer value.
//
// Pages are handed out by the page allocator (pagealloc.c), address-ordered
// first fit; spans of under 16 pages come through the page cache
// (pagecache.c), a 64-page block's free pages taken in one go. Before
// growing the heap, mheap sweeps unswept spans: a span that sweeping finds
// empty returns its pages here, which may satisfy the request without new
// memory (Go's reclaim, done eagerly rather than proportionally). Freed
// spans go back to the page allocator, not the cache; the scavenger flushes
// the cache first, so it sees every free page.
//
// Huge pages (gc_set_hugepages): the advice is a property of the mapping,
// so it is given to whole arenas, committed or not: to every arena
// reserved so far when the host asks, and to each new reservation before
// any of its pages is committed (and again to a range a failed growth
// decommits, which maps it afresh). Nothing else depends on it; the
// scavenger's releases work on 8 KiB pages either way (splitting a huge
// page).
//
// Zeroing: memory the OS gave us is zero. Each arena tracks zeroed_base, the
// offset below which pages have been used at least once; a span entirely
// above it needs no clearing (span.needzero = false).
//
// Populating: pages the heap never used, and pages the scavenger released,
// are not backed by memory: the first write to each takes a page fault.
// When every page of a new span is about to be written, gcheap asks the
// kernel to back them all in one call instead (MADV_POPULATE_WRITE, Linux
// 5.14): a small-object span, whose slots are all handed out in turn, and
// a large one that the caller is about to clear (gc_alloc on pages used
// before). A large object on fresh pages is not cleared, and the host may
// never touch most of it, so it keeps faulting page by page: a 1 GiB array
// written sparsely costs what it uses. Measured on the bench machine (a
// VM): a fault costs 10 us a page, populating 2 us; binary-trees 19 took
// 11,832 faults before, 567 after, and 2.5-4% less CPU; alloc T=1 5,102
// and 1,488, 2-4% less (bench/NOTES.md). The resident set is the same
// once the span is used; only the span being filled is resident a little
// earlier. GCHEAP_DEBUG=populate=0 turns it off, to compare.
//
// Locking: mheap.lock (a struct gch_mutex, see internal.h) protects the page
// allocator, the page cache, the span free list and the arena list. Span
// map entries and arena map entries are written with release stores under
// the lock and read lock-free with acquire loads. A span is made in one
// lock section when the page cache has its pages (the common case): pages,
// both bitmaps (from gcbits.c's span run, which mheap.lock protects), the
// span struct and the page map. That was two mheap and two gcbits lock
// sections before, 4 of the 5 lock round trips of a span refill. Only when
// sweeping or growing must come first is the lock dropped, since sweeping
// takes mcentral locks (above mheap.lock in the lock order) and a
// collection takes gch_gc.lock.
#include "internal.h"

#include <errno.h>
#include <string.h>

struct mheap gch_mheap = {.lock = GCH_MUTEX_INITIALIZER, .limit = (AO_t)SIZE_MAX};

// Span structs come from off-heap slabs and are never unmapped, so a stale
// span pointer read from the map is always safe to dereference.
#define SPAN_SLAB_BYTES ((size_t)64 << 10)
// Each span struct on lines of its own (span.h); a field more would make it
// three lines: weigh that first.
_Static_assert(sizeof(struct mspan) == 2 * GCH_CACHE_LINE, "struct mspan fills two cache lines");

// Takes a span struct from the free list, refilling it from a new slab.
// Caller must hold mheap.lock. Returns NULL if no slab can be mapped.
static struct mspan *mheap_new_span_struct(void)
{
    GCH_ASSERT2(gch_mutex_held(&gch_mheap.lock));
    struct mheap *h = &gch_mheap;
    if (h->span_free == NULL) {
        struct mspan *slab = gch_os_alloc(SPAN_SLAB_BYTES);
        if (slab == NULL)
            return NULL;
        size_t n = SPAN_SLAB_BYTES / sizeof(struct mspan);
        for (size_t i = 0; i < n; i++) {
            slab[i].next = h->span_free;
            h->span_free = &slab[i];
        }
    }
    struct mspan *s = h->span_free;
    h->span_free = s->next;
    s->next = NULL;
    return s;
}

static inline size_t arena_l1_index(uintptr_t a)
{
    return (size_t)(a >> (GCH_ARENA_SHIFT + GCH_ARENA_L2_BITS));
}
static inline size_t arena_l2_index(uintptr_t a)
{
    return (size_t)((a >> GCH_ARENA_SHIFT) & ((1u << GCH_ARENA_L2_BITS) - 1));
}

#define arena_of gch_arena_of

// Points every page of [base, base + npages) at s (or NULL). Caller must
// hold mheap.lock.
static void mheap_set_spans(uintptr_t base, size_t npages, struct mspan *s)
{
    GCH_ASSERT2(gch_mutex_held(&gch_mheap.lock));
    for (size_t i = 0; i < npages; i++) {
        uintptr_t p = base + (i << GCH_PAGE_SHIFT);
        struct heap_arena *ha = arena_of(p);
        GCH_ASSERT1(ha != NULL);
        // A page given to two spans (say, one still in the page cache).
        GCH_ASSERT2(s == NULL ||
                    AO_load(&ha->spans[(p >> GCH_PAGE_SHIFT) & (GCH_PAGES_PER_ARENA - 1)]) == 0);
        AO_store_release(&ha->spans[(p >> GCH_PAGE_SHIFT) & (GCH_PAGES_PER_ARENA - 1)], (AO_t)s);
    }
}

// Registers the arenas of a fresh reservation [base, base + size). Caller
// must hold mheap.lock. Returns false (nothing registered) if metadata
// cannot be mapped.
static bool mheap_register_arenas(uintptr_t base, size_t size)
{
    GCH_ASSERT2(gch_mutex_held(&gch_mheap.lock));
    struct mheap *h = &gch_mheap;
    size_t n = size >> GCH_ARENA_SHIFT;
    if (h->narenas + n > h->arenas_cap) {
        size_t cap = h->arenas_cap ? h->arenas_cap * 2 : 64;
        while (cap < h->narenas + n)
            cap *= 2;
        struct heap_arena **all = gch_os_alloc(cap * sizeof *all);
        if (all == NULL)
            return false;
        // The old array is kept, not unmapped: gch_mheap_for_each_span
        // walks a snapshot of it without the lock. Doubling bounds the
        // waste to the size of the current array.
        if (h->all_arenas != NULL)
            memcpy(all, h->all_arenas, h->narenas * sizeof *all);
        h->all_arenas = all;
        h->arenas_cap = cap;
    }
    // Map everything first (staged past narenas in all_arenas), publish
    // after: a failure leaves no trace.
    struct heap_arena **staged = &h->all_arenas[h->narenas];
    size_t got = 0;
    for (; got < n; got++) {
        uintptr_t a = base + (got << GCH_ARENA_SHIFT);
        size_t l1 = arena_l1_index(a);
        if (AO_load(&h->arenas_l1[l1]) == 0) {
            AO_t *l2 = gch_os_alloc(sizeof(AO_t) << GCH_ARENA_L2_BITS);
            if (l2 == NULL)
                break;
            AO_store_release(&h->arenas_l1[l1], (AO_t)l2);
        }
        staged[got] = gch_os_alloc(sizeof(struct heap_arena));
        if (staged[got] == NULL)
            break;
        staged[got]->base = a;
    }
    if (got < n) {
        for (size_t i = 0; i < got; i++)
            gch_os_free(staged[i], sizeof(struct heap_arena));
        return false; // empty L2 blocks stay: harmless and reusable
    }
    for (size_t i = 0; i < n; i++) {
        uintptr_t a = base + (i << GCH_ARENA_SHIFT);
        AO_t *l2 = (AO_t *)AO_load(&h->arenas_l1[arena_l1_index(a)]);
        AO_store_release(&l2[arena_l2_index(a)], (AO_t)staged[i]);
    }
    h->narenas += n;
    return true;
}

// Would committing ask more bytes stay within the memory limit?
static bool mheap_within_limit(uintptr_t ask)
{
    AO_t limit = AO_load(&gch_mheap.limit);
    AO_t sys = AO_load(&gch_stats.heap_sys);
    return sys <= limit && ask <= limit - sys;
}

static uintptr_t mheap_chunk_round(size_t npages)
{
    uintptr_t ask = (uintptr_t)npages << GCH_PAGE_SHIFT;
    return (ask + GCH_PALLOC_CHUNK_BYTES - 1) & ~(GCH_PALLOC_CHUNK_BYTES - 1);
}

// Adds at least npages of committed memory to the page allocator. Caller
// must hold mheap.lock. Returns false with errno = ENOMEM on failure.
static bool mheap_grow(size_t npages)
{
    GCH_ASSERT2(gch_mutex_held(&gch_mheap.lock));
    struct mheap *h = &gch_mheap;
    if (npages > (GCH_MAX_ALLOC >> GCH_PAGE_SHIFT)) {
        errno = ENOMEM;
        return false;
    }
    // Grow by whole page-allocator chunks, as Go does.
    uintptr_t ask = mheap_chunk_round(npages);
    if (!mheap_within_limit(ask)) {
        errno = ENOMEM;
        return false;
    }
    if (h->cur_arena_end - h->cur_arena < ask) {
        // The rest of the current reservation is too small; start a new
        // one. The unused tail stays reserved (address space only).
        size_t size = (ask + GCH_ARENA_BYTES - 1) & ~(GCH_ARENA_BYTES - 1);
        void *p = gch_os_reserve(size, GCH_ARENA_BYTES);
        if (p == NULL)
            return false;
        uintptr_t base = (uintptr_t)p;
        if ((base + size) >> GCH_ADDR_BITS != 0 || !mheap_register_arenas(base, size)) {
            gch_os_unreserve(p, size);
            errno = ENOMEM;
            return false;
        }
        if (h->hugepages != 0)
            (void)gch_os_hugepages(p, size, h->hugepages > 0);
        h->cur_arena = base;
        h->cur_arena_end = base + size;
    }
    uintptr_t base = h->cur_arena;
    if (!gch_os_commit((void *)base, ask))
        return false;
    if (!gch_pagealloc_grow(&h->pages, base, ask)) {
        // Decommitting maps the range afresh, which drops its huge-page
        // advice: give it again, for the next try to commit.
        gch_os_decommit((void *)base, ask);
        if (h->hugepages != 0)
            (void)gch_os_hugepages((void *)base, ask, h->hugepages > 0);
        errno = ENOMEM;
        return false;
    }
    h->cur_arena += ask;
    gch_atomic_add(&gch_stats.heap_sys, ask);
    return true;
}

// Does [base, base + npages) hold pages used before? Sets *fresh if it
// holds pages never used, and advances each arena's zeroed_base past the
// range. Caller must hold mheap.lock.
static bool mheap_alloc_needs_zero(uintptr_t base, size_t npages, bool *fresh)
{
    GCH_ASSERT2(gch_mutex_held(&gch_mheap.lock));
    bool dirty = false;
    *fresh = false;
    uintptr_t end = base + ((uintptr_t)npages << GCH_PAGE_SHIFT);
    for (uintptr_t p = base; p < end;) {
        struct heap_arena *ha = arena_of(p);
        uintptr_t arena_end = ha->base + GCH_ARENA_BYTES;
        uintptr_t stop = end < arena_end ? end : arena_end;
        uintptr_t off = p - ha->base, stop_off = stop - ha->base;
        if (off < ha->zeroed_base)
            dirty = true;
        if (stop_off > ha->zeroed_base) {
            *fresh = true;
            ha->zeroed_base = stop_off;
        }
        p = stop;
    }
    return dirty;
}

// Takes npages from the page allocator, growing the heap if needed.
// Caller must hold mheap.lock. Returns 0 with errno = ENOMEM on failure.
static uintptr_t mheap_alloc_pages_locked(size_t npages)
{
    GCH_ASSERT2(gch_mutex_held(&gch_mheap.lock));
    struct mheap *h = &gch_mheap;
    uintptr_t base = gch_pagecache_alloc(&h->pcache, &h->pages, npages);
    if (base == 0) {
        if (!mheap_grow(npages))
            return 0;
        base = gch_pagecache_alloc(&h->pcache, &h->pages, npages);
        if (base == 0)
            gch_throw("page allocator has no run of %zu pages after growing", npages);
    }
    return base;
}

// The miss path of mheap_alloc_pages_lock. Returns the base with mheap.lock
// held, or 0 with errno = ENOMEM and the lock not held.
static GCH_NOINLINE uintptr_t mheap_alloc_pages_slow(size_t npages)
{
    struct mheap *h = &gch_mheap;
    uintptr_t base;
    // Before asking the OS, sweep: unswept garbage may free whole spans.
    // Each sweep_one may return pages to the heap, so retry after each.
    while (gch_sweep_one()) {
        gch_mutex_lock(&h->lock);
        base = gch_pagecache_alloc(&h->pcache, &h->pages, npages);
        if (base != 0)
            return base;
        gch_mutex_unlock(&h->lock);
    }
    // At the memory limit, a collection may make room (Go collects when
    // the limit is near, too).
    if (!mheap_within_limit(mheap_chunk_round(npages)) && gch_collect_for_limit()) {
        gch_mutex_lock(&h->lock);
        base = gch_pagecache_alloc(&h->pcache, &h->pages, npages);
        if (base != 0)
            return base;
        gch_mutex_unlock(&h->lock);
    }
    gch_mutex_lock(&h->lock);
    base = mheap_alloc_pages_locked(npages);
    if (base == 0)
        gch_mutex_unlock(&h->lock);
    return base;
}

// Takes npages for a new span: from the page cache, else after sweeping,
// else by growing the heap. Returns the base with mheap.lock held, so that
// the caller makes the span in the same lock section; or 0 with errno =
// ENOMEM and the lock not held. Caller must hold no heap lock.
static inline uintptr_t mheap_alloc_pages_lock(size_t npages)
{
    struct mheap *h = &gch_mheap;
    gch_mutex_lock(&h->lock);
    uintptr_t base = gch_pagecache_alloc(&h->pcache, &h->pages, npages);
    if (GCH_LIKELY(base != 0))
        return base;
    gch_mutex_unlock(&h->lock);
    return mheap_alloc_pages_slow(npages);
}

size_t gc_set_limit(size_t bytes)
{
    gch_init(); // GCHEAP_MEMLIMIT is read first, so a call overrides it
    AO_t old = AO_load(&gch_mheap.limit);
    for (;;) {
        AO_t seen = AO_fetch_compare_and_swap_full(&gch_mheap.limit, old, (AO_t)bytes);
        if (seen == old)
            return (size_t)old;
        old = seen;
    }
}

bool gc_set_hugepages(bool on)
{
    gch_init(); // GCHEAP_HUGEPAGES is read first, so a call overrides it
    struct mheap *h = &gch_mheap;
    int want = on ? 1 : -1;
    gch_mutex_lock(&h->lock);
    int old = h->hugepages;
    if (old != want) {
        h->hugepages = want;
        // The advice is per mapping: give it to every arena, committed or
        // not, so that pages committed later follow it too.
        for (size_t i = 0; i < h->narenas; i++)
            (void)gch_os_hugepages((void *)h->all_arenas[i]->base, GCH_ARENA_BYTES, on);
    }
    gch_mutex_unlock(&h->lock);
    return old > 0;
}

struct mspan *gch_mheap_alloc(size_t npages, uint8_t spc, bool zero)
{
    GCH_ASSERT1(npages > 0);
    struct mheap *h = &gch_mheap;
    unsigned cls = gch_spanclass_sizeclass(spc);
    uint32_t nelems = 1;
    size_t elemsize = npages << GCH_PAGE_SHIFT;
    if (cls != 0) {
        elemsize = gch_class_to_size[cls];
        nelems = (uint32_t)((npages << GCH_PAGE_SHIFT) / elemsize);
    }
    // Pages first: getting them may collect (at the memory limit), which
    // rotates the bitmap epochs; bitmaps taken before that could belong to
    // an epoch about to be recycled (rotation also takes mheap.lock, see
    // gcbits.c [B2]). The common case is one lock section: pages, bitmaps,
    // span struct and page map.
    uintptr_t base = mheap_alloc_pages_lock(npages);
    if (base == 0)
        return NULL;
    size_t scavenged = gch_pagealloc_take_scavenged(&h->pages);
    if (scavenged != 0)
        gch_atomic_add(&gch_stats.heap_released, -(AO_t)(scavenged << GCH_PAGE_SHIFT));
    AO_t *alloc_bits, *mark_bits;
    struct mspan *s = NULL;
    if (gch_gcbits_new_pair(nelems, &alloc_bits, &mark_bits))
        s = mheap_new_span_struct();
    if (s == NULL) {
        // Abandoned bitmaps are recycled with their epoch.
        gch_pagealloc_free(&h->pages, base, npages);
        gch_mutex_unlock(&h->lock);
        errno = ENOMEM;
        return NULL;
    }
    s->base = base;
    s->npages = npages;
    s->spanclass = spc;
    s->elemsize = elemsize;
    s->nelems = nelems;
    s->limit = base + (uintptr_t)nelems * elemsize;
    s->divmul = cls != 0 ? gch_class_to_divmagic[cls] : 0;
    AO_int_store(&s->alloc_count, 0);
    AO_int_store(&s->alloc_count_cached, 0);
    s->alloc_bits = alloc_bits;
    s->gcmark_bits = mark_bits;
    s->window_black = false;
    s->kept_empty = false;
    gch_span_reset_window(s); // every slot free
    bool fresh;
    s->needzero = mheap_alloc_needs_zero(base, npages, &fresh);
    AO_store(&s->sweepgen, AO_load(&h->sweepgen));
    s->state = MSPAN_IN_USE;
    mheap_set_spans(base, npages, s); // publishes s (release stores)
    gch_mutex_unlock(&h->lock);
    // Populating: below. Outside the lock, which the kernel's work on the
    // pages would lengthen for every other thread's refill.
    if ((fresh || scavenged != 0) && (cls != 0 || (zero && s->needzero)) && !gch_debug.nopopulate)
        gch_os_populate((void *)base, npages << GCH_PAGE_SHIFT);
    gch_check_noaccess(base, npages << GCH_PAGE_SHIFT);
    gch_atomic_add(&gch_stats.heap_inuse, npages << GCH_PAGE_SHIFT);
    return s;
}

void gch_mheap_free(struct mspan *s)
{
    struct mheap *h = &gch_mheap;
    GCH_ASSERT1(s->state == MSPAN_IN_USE);
    gch_check_noaccess(s->base, s->npages << GCH_PAGE_SHIFT);
    gch_mutex_lock(&h->lock);
    mheap_set_spans(s->base, s->npages, NULL);
    s->state = MSPAN_DEAD;
    gch_pagealloc_free(&h->pages, s->base, s->npages);
    s->next = h->span_free;
    h->span_free = s;
    gch_mutex_unlock(&h->lock);
    gch_atomic_add(&gch_stats.heap_inuse, -(AO_t)(s->npages << GCH_PAGE_SHIFT));
}

static void mheap_release_run(uintptr_t base, size_t npages)
{
    gch_os_release((void *)base, npages << GCH_PAGE_SHIFT);
}

void gch_mheap_scavenge(uint64_t retain, uint64_t slack)
{
    struct mheap *h = &gch_mheap;
    gch_mutex_lock(&h->lock);
    uint64_t sys = AO_load(&gch_stats.heap_sys), released = AO_load(&gch_stats.heap_released);
    if (sys - released > retain + slack) {
        size_t pages = (size_t)((sys - released - retain) >> GCH_PAGE_SHIFT);
        size_t n = gch_pagealloc_scavenge(&h->pages, pages, mheap_release_run);
        if (n < pages) {
            // Cached pages are in use to the page allocator: give them back
            // so that they can be released too (their scavenged bits go
            // back with them). Only now: the next spans are cut from them,
            // and releasing them at every collection costs a page fault per
            // page soon after (alloc T=1: 832 madvise calls instead of 92).
            gch_pagecache_flush(&h->pcache, &h->pages);
            n += gch_pagealloc_scavenge(&h->pages, pages - n, mheap_release_run);
        }
        gch_atomic_add(&gch_stats.heap_released, (AO_t)n << GCH_PAGE_SHIFT);
    }
    gch_mutex_unlock(&h->lock);
}

void gch_mheap_flush_pagecache(void)
{
    struct mheap *h = &gch_mheap;
    gch_mutex_lock(&h->lock);
    gch_pagecache_flush(&h->pcache, &h->pages);
    gch_mutex_unlock(&h->lock);
}

void gch_mheap_for_each_span(void (*fn)(struct mspan *s, void *ctx), void *ctx)
{
    struct mheap *h = &gch_mheap;
    gch_mutex_lock(&h->lock);
    size_t n = h->narenas;
    struct heap_arena **all = h->all_arenas;
    gch_mutex_unlock(&h->lock);
    for (size_t a = 0; a < n; a++) {
        struct heap_arena *ha = all[a];
        for (size_t i = 0; i < GCH_PAGES_PER_ARENA; i++) {
            struct mspan *s = (struct mspan *)AO_load_acquire(&ha->spans[i]);
            // Visit each span once, at its first page.
            if (s != NULL && s->base == ha->base + (i << GCH_PAGE_SHIFT))
                fn(s, ctx);
        }
    }
}
