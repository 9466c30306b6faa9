// pagecache.c owns the page cache: the free pages of one 64-page block,
// held as a bitmap so that small spans are allocated without touching the
// page allocator's summaries. See malloc.c for the overview; Go counterpart:
// mpagecache.go (pageCache).
//
// Without it, every span costs a page-allocator allocation: re-summarising
// a chunk and re-merging summaries up the radix tree. The cache pays that
// once per block: gch_pagealloc_alloc_to_cache marks every free page of a
// 64-page-aligned block in use in one update and hands them over as two
// words, free and scavenged. A run is then one ctz (1 page) or a few
// shift-and steps (gch_palloc_runs64), lowest address first.
//
// Cost (callgrind, bench/micro.c fastpath, 1-page spans of 16-byte
// objects): 73 instructions per span in the page allocator with the cache,
// refills included, against 1,934 without it; a hit is ~30.
//
// Policy. Go keeps one cache per P, used without a lock. gcheap keeps one,
// owned by the mheap and protected by mheap.lock, which every span
// allocation takes anyway. Requests of under GCH_PAGECACHE_MAX_NPAGES (16)
// pages try the cache. As Go does, only an empty cache is refilled, with
// the block of the lowest free page; a request the cache cannot serve goes
// to the page allocator (first fit) and leaves the cache as it is.
// Refilling on any miss instead (with the block of the lowest run of the
// requested length) was tried: a multi-page request that fits only high
// in a fragmented heap then moved every later small span up there too,
// away from the holes sweeping leaves below, and the scavenger released
// and the allocator re-faulted those pages each cycle (alloc T=1: 2.5x the
// page faults, +0.2 s of system time). Requests of 16 pages or more go to
// the page allocator; if that fails, the cache is flushed and the
// allocator asked again, so the heap grows only when no run exists among
// all free pages.
//
// The rest of the heap sees cached pages as follows:
//   - They are in use in the page allocator, so its invariants hold, the
//     scavenger never releases them behind the cache's back, and
//     gch_pagealloc_free_pages leaves them out. No span holds them, so
//     heap_inuse leaves them out too: they are idle, as in Go. The mheap
//     flushes the cache before scavenging so that they can be released.
//   - Scavenged state travels with them (scav). A scavenged page handed out
//     is counted in p->scavenged_taken, as one from the page allocator is,
//     so mheap takes it off heap_released; a flush gives back the bits of
//     the pages not handed out, so heap_released stays exact meanwhile.
//   - Freed spans go back to the page allocator, never to the cache.
//
// Invariants: [PC1]-[PC3] in pagealloc.h, checked after every call at
// GCH_DEBUG >= 3. Locking: none of its own; the owner's lock (mheap.lock)
// covers every call.
#include "pagealloc.h"

#include "sizeclasses.h" // GCH_PAGE_SHIFT

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

_Static_assert(GCH_PAGECACHE_BYTES == (uintptr_t)GCH_PAGECACHE_PAGES << GCH_PAGE_SHIFT,
               "pagealloc.h hard-codes the page shift");
_Static_assert(GCH_PAGECACHE_PAGES == 64 && GCH_PALLOC_CHUNK_PAGES % GCH_PAGECACHE_PAGES == 0,
               "a cache is one word of one chunk's bitmap");
_Static_assert(GCH_PAGECACHE_MAX_NPAGES < GCH_PAGECACHE_PAGES, "a run fits the cache");

// Counts the scavenged pages of run, about to be handed out, in
// p->scavenged_taken. Out of line: rare, and popcount may be a libgcc call.
__attribute__((noinline)) static void pagecache_unscavenge(struct page_cache *c,
                                                           struct page_alloc *p, uint64_t run)
{
    p->scavenged_taken += (size_t)__builtin_popcountll(c->scav & run);
    c->scav &= ~run;
}

// Takes the lowest run of npages (< 64) free pages from c; returns its base,
// or 0 if c has no such run.
static inline uintptr_t pagecache_take(struct page_cache *c, struct page_alloc *p, size_t npages)
{
    uint64_t starts = gch_palloc_runs64(c->cache, (unsigned)npages);
    if (starts == 0)
        return 0;
    unsigned i = (unsigned)__builtin_ctzll(starts);
    uint64_t run = (((uint64_t)1 << npages) - 1) << i;
    c->cache &= ~run;
    if ((c->scav & run) != 0)
        pagecache_unscavenge(c, p, run);
    return c->base + ((uintptr_t)i << GCH_PAGE_SHIFT);
}

// Aborts with the verifier's message (GCH_DEBUG >= 3, after every call); a
// local stand-in for gch_throw, which lives above this layer.
static void pagecache_check(const struct page_cache *c, const struct page_alloc *p)
{
    char why[256];
    if (!gch_pagecache_verify(c, p, why, sizeof why)) {
        fprintf(stderr, "gcheap: page cache: corrupt: %s\n", why);
        abort();
    }
}

// The miss path of gch_pagecache_alloc: refill (small requests, empty
// cache), then the page allocator. Kept apart so that a hit needs no stack frame.
__attribute__((noinline)) static uintptr_t pagecache_alloc_slow(struct page_cache *c,
                                                                struct page_alloc *p, size_t npages)
{
    uintptr_t base = 0;
    if (npages < GCH_PAGECACHE_MAX_NPAGES && c->cache == 0) {
        gch_pagecache_flush(c, p); // forget the old block
        gch_pagealloc_alloc_to_cache(p, 1, c);
        base = pagecache_take(c, p, npages);
    }
    if (base == 0) {
        base = gch_pagealloc_alloc(p, npages);
        // The cache may hold part of the only fitting run.
        if (base == 0 && c->cache != 0) {
            gch_pagecache_flush(c, p);
            base = gch_pagealloc_alloc(p, npages);
        }
    }
    if (GCH_DEBUG >= 3)
        pagecache_check(c, p);
    return base;
}

uintptr_t gch_pagecache_alloc(struct page_cache *c, struct page_alloc *p, size_t npages)
{
    assert(GCH_DEBUG < 1 || npages >= 1);
    if (npages < GCH_PAGECACHE_MAX_NPAGES) {
        uintptr_t base = pagecache_take(c, p, npages);
        if (base != 0) {
            if (GCH_DEBUG >= 3)
                pagecache_check(c, p);
            return base;
        }
    }
    return pagecache_alloc_slow(c, p, npages);
}

void gch_pagecache_flush(struct page_cache *c, struct page_alloc *p)
{
    gch_pagealloc_free_cache(p, c);
    *c = (struct page_cache){0};
    if (GCH_DEBUG >= 3)
        pagecache_check(c, p);
}

size_t gch_pagecache_pages(const struct page_cache *c)
{
    return (size_t)__builtin_popcountll(c->cache);
}

#define PAGECACHE_FAIL(...)                     \
    do {                                        \
        if (whylen > 0)                         \
            snprintf(why, whylen, __VA_ARGS__); \
        return false;                           \
    } while (0)

bool gch_pagecache_verify(const struct page_cache *c, const struct page_alloc *p, char *why,
                          size_t whylen)
{
    if (whylen > 0)
        why[0] = '\0';
    if (c->base % GCH_PAGECACHE_BYTES != 0 || (c->base == 0 && c->cache != 0))
        PAGECACHE_FAIL("[PC1] cache at %#llx (not block-aligned, or 0) holds pages %#llx",
                       (unsigned long long)c->base, (unsigned long long)c->cache);
    if ((c->scav & ~c->cache) != 0)
        PAGECACHE_FAIL("[PC2] cache at %#llx: scavenged %#llx outside its free pages %#llx",
                       (unsigned long long)c->base, (unsigned long long)c->scav,
                       (unsigned long long)c->cache);
    for (uint64_t m = c->cache; m != 0; m &= m - 1) {
        uintptr_t a = c->base + ((uintptr_t)__builtin_ctzll(m) << GCH_PAGE_SHIFT);
        if (!gch_pagealloc_in_use(p, a))
            PAGECACHE_FAIL("[PC3] cached page %#llx is free in the page allocator",
                           (unsigned long long)a);
    }
    return true;
}
