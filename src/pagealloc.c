// pagealloc.c owns the page allocator: which 8 KiB pages of the heap are in
// use. See malloc.c for the overview; Go counterpart: mpagealloc.go,
// mpagealloc_64bit.go (one chunk's bitmap is pallocbits.c's, as Go's is
// mpallocbits.go's).
//
// It keeps metadata only and never touches heap memory. Its state is a
// bitmap, one bit per page (1 = in use), in chunks of 512 pages (4 MiB), and
// above the bitmap an implicit radix tree of summaries. A summary describes
// the pages under one tree entry as three numbers: start, the free run at
// its low end; max, its longest free run; end, the free run at its high end.
// Each is 21 bits of a uint64_t (start, max, end from bit 0); bit 63 alone
// stands for "all three are 2^21", the only value too wide for the fields
// (a wholly free root entry). Summary 0 means "no free page", which is also
// what the never-grown parts of the address space read as.
//
// Levels {14,3,3,3,3} over 48 bits: 2^14 root entries of 16 GiB, then each
// level splits an entry 8 ways (2 GiB, 256 MiB, 32 MiB) down to one leaf per
// chunk. A parent is the merge of its 8 children: a child that is wholly free
// lets the parent's start or end run on into the next child, and a free run
// crossing a child boundary counts towards the parent's max.
//
// Allocation is address-ordered first fit. Searching for n pages walks the
// children of one entry per level, from low to high, carrying the free run
// that ends at the previous child. If that run plus the child's start
// reaches n, the answer starts in the previous child(ren); otherwise if the
// child's max reaches n the search descends into it (a run inside it cannot
// be beaten by one crossing its high end, which starts later); otherwise the
// carried run becomes the child's end. Below the root, a parent whose max
// reaches n guarantees a hit among its children. At a chunk, the bitmap is
// scanned. Runs may cross chunks and span any number of them.
//
// search_addr (Go's searchAddr) is a lower bound on the first free page: the
// search starts there at every level. The search also learns a better bound
// (the first entry with any free page, narrowed level by level) and alloc
// moves search_addr up to it; free moves it down.
//
// Updating after alloc or free recomputes the leaf summary of the touched
// chunks (the middle chunks of a long run get a constant) and re-merges the
// parents upwards, stopping at the first level where nothing changed.
//
// Metadata memory (the summary levels, reserved at init and committed on
// grow) is pagealloc_sys.c's. Chunk bitmaps live in 1 MiB L2 blocks of 8192
// chunks each, allocated on grow; pallocbits.c works on one of them. Each
// chunk also keeps a scavenged bitmap (Go's pallocData): the free pages the
// scavenger returned to the OS.
//
// The page cache (pagecache.c) takes the free pages of a 64-page block, one
// word of a chunk's bitmap, in one call and gives them back in one call:
// alloc_to_cache and free_cache below are the only code that changes a
// chunk other than by runs.
//
// Metadata cost: 136 bytes per 4 MiB chunk (0.003%), plus the summary
// pages above it. A zeroed struct page_alloc is valid and empty (grow
// initialises it); address 0 is never grown, so 0 can mean "no run".
//
// Cost (2-vCPU VM, -O2, noisy): a 1-page alloc+free pair ~125-200 ns on an
// empty heap, ~275-400 ns among random 1..8-page holes; the time goes to
// re-summarising the chunk and re-merging 4 levels of 8 summaries. The heap
// takes spans of under 16 pages through the page cache, which comes here
// about once per 64 pages.
//
// Locking: none; the owner's lock (mheap.lock) covers every call.
#include "pagealloc.h"

#include "sizeclasses.h" // GCH_PAGE_SHIFT, GCH_PAGE_SIZE

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(uintptr_t) == 8, "the page allocator assumes a 64-bit address space");
_Static_assert(GCH_PALLOC_CHUNK_BYTES == (uintptr_t)GCH_PALLOC_CHUNK_PAGES * GCH_PAGE_SIZE,
               "pagealloc.h hard-codes the page shift");

// Summary fields: 21 bits, enough for 2^21 - 1; 2^21 (a free root entry)
// is bit 63 alone.
#define GCH_PALLOC_SUM_BITS      21
#define GCH_PALLOC_SUM_MASK      (((uint64_t)1 << GCH_PALLOC_SUM_BITS) - 1)
#define GCH_PALLOC_SUM_MAX       ((uint64_t)1 << GCH_PALLOC_SUM_BITS)
#define GCH_PALLOC_SUM_FULL_ROOT ((uint64_t)1 << 63)

_Static_assert(GCH_PALLOC_LOG_CHUNK == GCH_PAGE_SHIFT + 9, "a chunk is 512 pages");
_Static_assert(34 - GCH_PAGE_SHIFT == GCH_PALLOC_SUM_BITS, "a free root entry is 2^21 pages");

// ----------------------------------------------------------- summaries

static inline uint64_t pagealloc_pack_sum(uint64_t start, uint64_t max, uint64_t end)
{
    if (max == GCH_PALLOC_SUM_MAX) {
        assert(GCH_DEBUG < 2 || (start == max && end == max));
        return GCH_PALLOC_SUM_FULL_ROOT;
    }
    assert(GCH_DEBUG < 2 || (start <= max && end <= max && max < GCH_PALLOC_SUM_MAX));
    return start | max << GCH_PALLOC_SUM_BITS | end << (2 * GCH_PALLOC_SUM_BITS);
}

// Field k of a summary: 0 start, 1 max, 2 end.
static inline uint64_t pagealloc_sum_field(uint64_t s, unsigned k)
{
    return s & GCH_PALLOC_SUM_FULL_ROOT ? GCH_PALLOC_SUM_MAX
                                        : (s >> (k * GCH_PALLOC_SUM_BITS)) & GCH_PALLOC_SUM_MASK;
}

// Pages under one entry of level l.
static inline uint64_t pagealloc_level_pages(int l)
{
    return (uint64_t)1 << (pagealloc_level_shift[l] - GCH_PAGE_SHIFT);
}

static inline void pagealloc_unpack_sum(uint64_t s, uint64_t *start, uint64_t *max, uint64_t *end)
{
    *start = pagealloc_sum_field(s, 0);
    *max = pagealloc_sum_field(s, 1);
    *end = pagealloc_sum_field(s, 2);
}

// Returns the summary of n adjacent entries, each covering child_pages pages
// (Go's mergeSummaries).
static uint64_t pagealloc_merge_summaries(const uint64_t *sums, size_t n, uint64_t child_pages)
{
    uint64_t start, max, end;
    pagealloc_unpack_sum(sums[0], &start, &max, &end);
    for (size_t i = 1; i < n; i++) {
        uint64_t si, mi, ei;
        pagealloc_unpack_sum(sums[i], &si, &mi, &ei);
        if (start == i * child_pages) // everything so far is free
            start += si;
        uint64_t across = end + si;
        max = across > max ? across : max;
        max = mi > max ? mi : max;
        end = ei == child_pages ? end + child_pages : ei;
    }
    return pagealloc_pack_sum(start, max, end);
}

// Returns the leaf summary of a chunk's bitmap (see pallocbits.c).
static inline uint64_t pagealloc_summarize(const uint64_t bits[GCH_PALLOC_WORDS])
{
    struct palloc_sum s = gch_pallocbits_summarize(bits);
    return pagealloc_pack_sum(s.start, s.max, s.end);
}

// ------------------------------------------------------------- bitmaps

static inline struct palloc_data *pagealloc_chunk_of(const struct page_alloc *p, uintptr_t ci)
{
    return &p->chunks[ci >> GCH_PALLOC_L2_BITS][ci & (((uintptr_t)1 << GCH_PALLOC_L2_BITS) - 1)];
}

// ------------------------------------------------------- search, update

// Returns the base of the lowest run of npages free pages, or 0. Stores in
// *first_free an address >= search_addr below which no page is free.
static uintptr_t pagealloc_find(const struct page_alloc *p, size_t npages, uintptr_t *first_free)
{
    assert(GCH_DEBUG < 2 || p->search_addr < GCH_PALLOC_MAX_ADDR);
    uintptr_t ff = p->search_addr;
    bool ff_final = false; // ff is no longer narrowed once we skip its entry
    uintptr_t block = 0;   // entry (of the level above) whose children we scan
    for (int l = 0; l < GCH_PALLOC_SUMMARY_LEVELS; l++) {
        unsigned shift = pagealloc_level_shift[l];
        uintptr_t first = block << pagealloc_level_bits[l];
        uintptr_t lim = l == 0 ? p->root_limit : first + ((uintptr_t)1 << pagealloc_level_bits[l]);
        // Entries before search_addr's hold no free page [P5]. We only
        // descend into entries at or after it, so j stays within the block.
        uintptr_t j = p->search_addr >> shift;
        if (j < first)
            j = first;
        uint64_t entry_pages = pagealloc_level_pages(l);
        uintptr_t size = 0, base = 0; // the free run carried into entry j
        bool seen = false;
        for (; j < lim; j++) {
            uint64_t sum = p->summary[l][j];
            if (sum == 0) {
                size = 0;
                continue;
            }
            uintptr_t ebase = j << shift;
            bool first_with_free = !seen;
            seen = true;
            if (first_with_free && !ff_final && ebase > ff)
                ff = ebase;
            uint64_t start = pagealloc_sum_field(sum, 0);
            if (size + start >= npages) {
                *first_free = ff;
                return size == 0 ? ebase : base;
            }
            if (pagealloc_sum_field(sum, 1) >= npages) {
                ff_final |= !first_with_free;
                block = j;
                goto descend;
            }
            if (size == 0 || start < entry_pages) {
                size = pagealloc_sum_field(sum, 2);
                base = ebase + ((uintptr_t)1 << shift) - (size << GCH_PAGE_SHIFT);
            } else {
                size += start;
            }
        }
        // Only the root may miss: a parent's max promised a run below it.
        assert(GCH_DEBUG < 1 || l == 0);
        *first_free = ff;
        return 0;
descend:;
    }
    // block is now a chunk whose max >= npages <= 512.
    uintptr_t cbase = block << GCH_PALLOC_LOG_CHUNK;
    unsigned from =
        p->search_addr > cbase ? (unsigned)((p->search_addr - cbase) >> GCH_PAGE_SHIFT) : 0;
    const uint64_t *bits = pagealloc_chunk_of(p, block)->palloc_bits;
    int i = gch_pallocbits_find(bits, (unsigned)npages, from);
    assert(GCH_DEBUG < 1 || i >= 0);
    if (!ff_final)
        ff = cbase + ((uintptr_t)gch_pallocbits_find(bits, 1, from) << GCH_PAGE_SHIFT);
    *first_free = ff;
    return cbase + ((uintptr_t)i << GCH_PAGE_SHIFT);
}

// Re-merges the parents of leaf entries [lo, hi], level by level, until a
// level comes out unchanged (Go's update, upper half).
static void pagealloc_update_parents(struct page_alloc *p, uintptr_t lo, uintptr_t hi)
{
    for (int l = GCH_PALLOC_SUMMARY_LEVELS - 2; l >= 0; l--) {
        unsigned b = pagealloc_level_bits[l + 1];
        uint64_t child_pages = pagealloc_level_pages(l + 1);
        lo >>= b;
        hi >>= b;
        bool changed = false;
        for (uintptr_t i = lo; i <= hi; i++) {
            uint64_t s =
                pagealloc_merge_summaries(&p->summary[l + 1][i << b], (size_t)1 << b, child_pages);
            changed |= s != p->summary[l][i];
            p->summary[l][i] = s;
        }
        if (!changed)
            return;
    }
}

// Re-summarises chunk ci after a change to its bitmap and, if its summary
// moved, re-merges the parents.
static void pagealloc_update_chunk(struct page_alloc *p, uintptr_t ci)
{
    uint64_t *leaf = &p->summary[GCH_PALLOC_SUMMARY_LEVELS - 1][ci];
    uint64_t old = *leaf;
    *leaf = pagealloc_summarize(pagealloc_chunk_of(p, ci)->palloc_bits);
    if (*leaf != old) // else, e.g. a small hole filled: the parents stand
        pagealloc_update_parents(p, ci, ci);
}

// Marks [base, base + npages pages) used or free and updates the summaries
// (Go's allocRange / free). Every page must be in the other state.
static void pagealloc_mark(struct page_alloc *p, uintptr_t base, size_t npages, bool used)
{
    uintptr_t limit = base + ((uintptr_t)npages << GCH_PAGE_SHIFT);
    uintptr_t sc = base >> GCH_PALLOC_LOG_CHUNK, ec = (limit - 1) >> GCH_PALLOC_LOG_CHUNK;
    unsigned si = (unsigned)(base >> GCH_PAGE_SHIFT) % GCH_PALLOC_CHUNK_PAGES;
    unsigned ei = (unsigned)((limit - 1) >> GCH_PAGE_SHIFT) % GCH_PALLOC_CHUNK_PAGES;
    uint64_t *leaf = p->summary[GCH_PALLOC_SUMMARY_LEVELS - 1];
    if (sc == ec) {
        gch_pallocbits_set(pagealloc_chunk_of(p, sc)->palloc_bits, si, (unsigned)npages, used);
        pagealloc_update_chunk(p, sc);
        return;
    } else {
        uint64_t *bits = pagealloc_chunk_of(p, sc)->palloc_bits;
        gch_pallocbits_set(bits, si, GCH_PALLOC_CHUNK_PAGES - si, used);
        leaf[sc] = pagealloc_summarize(bits);
        uint64_t whole = used ? 0
                              : pagealloc_pack_sum(GCH_PALLOC_CHUNK_PAGES, GCH_PALLOC_CHUNK_PAGES,
                                                   GCH_PALLOC_CHUNK_PAGES);
        for (uintptr_t c = sc + 1; c < ec; c++) {
            bits = pagealloc_chunk_of(p, c)->palloc_bits;
            for (int w = 0; w < GCH_PALLOC_WORDS; w++) {
                assert(GCH_DEBUG < 1 || bits[w] == (used ? 0 : ~(uint64_t)0));
                bits[w] = used ? ~(uint64_t)0 : 0;
            }
            leaf[c] = whole;
        }
        bits = pagealloc_chunk_of(p, ec)->palloc_bits;
        gch_pallocbits_set(bits, 0, ei + 1, used);
        leaf[ec] = pagealloc_summarize(bits);
    }
    pagealloc_update_parents(p, sc, ec);
}

// Returns the index of the first grown range whose limit is above addr
// (in_use_len if none).
static size_t pagealloc_range_above(const struct page_alloc *p, uintptr_t addr)
{
    size_t lo = 0, hi = p->in_use_len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->in_use[mid].limit <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

// Does [base, limit) lie inside one grown range?
static bool pagealloc_is_grown(const struct page_alloc *p, uintptr_t base, uintptr_t limit)
{
    size_t k = pagealloc_range_above(p, base);
    return k < p->in_use_len && p->in_use[k].base <= base && limit <= p->in_use[k].limit;
}

// Does any grown range overlap [base, limit)?
static bool pagealloc_covers(const struct page_alloc *p, uintptr_t base, uintptr_t limit)
{
    size_t k = pagealloc_range_above(p, base);
    return k < p->in_use_len && p->in_use[k].base < limit;
}

// Reports corruption or misuse with the values involved, then aborts (a
// local stand-in for gch_throw, which lives above this layer).
__attribute__((noreturn, format(printf, 1, 2))) static void pagealloc_throw(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("gcheap: page allocator: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

// Aborts with the verifier's message (GCH_DEBUG >= 3, after every change).
static void pagealloc_check(const struct page_alloc *p)
{
    char why[256];
    if (!gch_pagealloc_verify(p, why, sizeof why))
        pagealloc_throw("corrupt: %s", why);
}

// ----------------------------------------------------------- interface

static size_t pagealloc_unscavenge(struct page_alloc *p, uintptr_t base, size_t npages);

uintptr_t gch_pagealloc_alloc(struct page_alloc *p, size_t npages)
{
    assert(GCH_DEBUG < 1 || npages >= 1);
    if (npages > p->free_pages) // also covers a zeroed, never-grown allocator
        return 0;
    uintptr_t ff;
    uintptr_t base = pagealloc_find(p, npages, &ff);
    if (base == 0) {
        p->search_addr = ff;
        return 0;
    }
    assert(GCH_DEBUG < 2 || ff <= base);
    pagealloc_mark(p, base, npages, true);
    p->scavenged_taken += pagealloc_unscavenge(p, base, npages);
    p->free_pages -= npages;
    // If the run began at the first free page, everything below its end is
    // now in use.
    p->search_addr = ff == base ? base + ((uintptr_t)npages << GCH_PAGE_SHIFT) : ff;
    if (GCH_DEBUG >= 3)
        pagealloc_check(p);
    return base;
}

void gch_pagealloc_free(struct page_alloc *p, uintptr_t base, size_t npages)
{
    assert(GCH_DEBUG < 1 || (npages >= 1 && base % GCH_PAGE_SIZE == 0));
    if (GCH_DEBUG >= 2 &&
        !pagealloc_is_grown(p, base, base + ((uintptr_t)npages << GCH_PAGE_SHIFT)))
        pagealloc_throw("free of %zu pages at %#llx, outside the grown ranges", npages,
                        (unsigned long long)base);
    pagealloc_mark(p, base, npages, false);
    p->free_pages += npages;
    if (base < p->search_addr)
        p->search_addr = base;
    if (GCH_DEBUG >= 3)
        pagealloc_check(p);
}

// The chunk bitmaps holding the 64-page block at base, and the block's word
// in them (*w).
static struct palloc_data *pagealloc_block_of(const struct page_alloc *p, uintptr_t base,
                                              unsigned *w)
{
    *w = (unsigned)(base >> GCH_PAGE_SHIFT) % GCH_PALLOC_CHUNK_PAGES / 64;
    return pagealloc_chunk_of(p, base >> GCH_PALLOC_LOG_CHUNK);
}

void gch_pagealloc_alloc_to_cache(struct page_alloc *p, size_t npages, struct page_cache *c)
{
    assert(GCH_DEBUG < 1 || (npages >= 1 && npages <= GCH_PAGECACHE_PAGES && c->cache == 0));
    *c = (struct page_cache){0};
    if (npages > p->free_pages)
        return;
    uintptr_t ff, run = pagealloc_find(p, npages, &ff);
    if (run == 0) {
        p->search_addr = ff;
        return;
    }
    unsigned w;
    c->base = run & ~(GCH_PAGECACHE_BYTES - 1);
    struct palloc_data *d = pagealloc_block_of(p, c->base, &w);
    c->cache = ~d->palloc_bits[w];
    c->scav = d->scavenged[w] & c->cache;
    d->palloc_bits[w] = ~(uint64_t)0;
    d->scavenged[w] &= ~c->cache; // [C1]
    pagealloc_update_chunk(p, c->base >> GCH_PALLOC_LOG_CHUNK);
    p->free_pages -= (size_t)__builtin_popcountll(c->cache);
    // If the first free page (at or above ff) was in the block, every page
    // below the block's end is now in use.
    p->search_addr = ff >= c->base ? c->base + GCH_PAGECACHE_BYTES : ff;
    if (GCH_DEBUG >= 3)
        pagealloc_check(p);
}

void gch_pagealloc_free_cache(struct page_alloc *p, const struct page_cache *c)
{
    if (c->cache == 0)
        return;
    unsigned w;
    struct palloc_data *d = pagealloc_block_of(p, c->base, &w);
    if (GCH_DEBUG >= 1 && ((d->palloc_bits[w] & c->cache) != c->cache || (c->scav & ~c->cache)))
        pagealloc_throw("page cache at %#llx gives back pages %#llx (scavenged %#llx), but "
                        "only %#llx are in use",
                        (unsigned long long)c->base, (unsigned long long)c->cache,
                        (unsigned long long)c->scav, (unsigned long long)d->palloc_bits[w]);
    d->palloc_bits[w] &= ~c->cache;
    d->scavenged[w] |= c->scav;
    pagealloc_update_chunk(p, c->base >> GCH_PALLOC_LOG_CHUNK);
    p->free_pages += (size_t)__builtin_popcountll(c->cache);
    uintptr_t first = c->base + ((uintptr_t)__builtin_ctzll(c->cache) << GCH_PAGE_SHIFT);
    if (first < p->search_addr)
        p->search_addr = first;
    if (GCH_DEBUG >= 3)
        pagealloc_check(p);
}

// Clears the scavenged bits of a run just allocated; returns how many were set.
static size_t pagealloc_unscavenge(struct page_alloc *p, uintptr_t base, size_t npages)
{
    size_t n = 0;
    for (uintptr_t pg = base >> GCH_PAGE_SHIFT, end = pg + npages; pg < end;) {
        struct palloc_data *d = pagealloc_chunk_of(p, pg / GCH_PALLOC_CHUNK_PAGES);
        unsigned i = (unsigned)(pg % GCH_PALLOC_CHUNK_PAGES), w = i / 64, off = i % 64;
        uintptr_t k = 64 - off < end - pg ? 64 - off : end - pg;
        uint64_t mask = (k == 64 ? ~(uint64_t)0 : ((uint64_t)1 << k) - 1) << off;
        n += (size_t)__builtin_popcountll(d->scavenged[w] & mask);
        d->scavenged[w] &= ~mask;
        pg += k;
    }
    return n;
}

size_t gch_pagealloc_take_scavenged(struct page_alloc *p)
{
    size_t n = p->scavenged_taken;
    p->scavenged_taken = 0;
    return n;
}

size_t gch_pagealloc_scavenge(struct page_alloc *p, size_t max_pages,
                              void (*release)(uintptr_t base, size_t npages))
{
    // Highest addresses first, as Go's scavenger goes: allocation is first
    // fit from the bottom, so the top is what stays free longest.
    size_t done = 0;
    for (size_t r = p->in_use_len; r-- > 0 && done < max_pages;) {
        for (uintptr_t cb = p->in_use[r].limit; cb > p->in_use[r].base && done < max_pages;) {
            cb -= GCH_PALLOC_CHUNK_BYTES;
            struct palloc_data *d = pagealloc_chunk_of(p, cb >> GCH_PALLOC_LOG_CHUNK);
            for (int w = GCH_PALLOC_WORDS - 1; w >= 0 && done < max_pages; w--) {
                uint64_t todo = ~d->palloc_bits[w] & ~d->scavenged[w];
                while (todo != 0 && done < max_pages) {
                    // The lowest run of set bits in todo.
                    unsigned lo = (unsigned)__builtin_ctzll(todo);
                    uint64_t from_lo = todo >> lo;
                    unsigned len = ~from_lo == 0 ? 64 - lo : (unsigned)__builtin_ctzll(~from_lo);
                    if (len > max_pages - done)
                        len = (unsigned)(max_pages - done);
                    uint64_t mask = (len == 64 ? ~(uint64_t)0 : ((uint64_t)1 << len) - 1) << lo;
                    d->scavenged[w] |= mask;
                    todo &= ~mask;
                    done += len;
                    release(cb + ((uintptr_t)(w * 64 + lo) << GCH_PAGE_SHIFT), len);
                }
            }
        }
    }
    return done;
}

bool gch_pagealloc_in_use(const struct page_alloc *p, uintptr_t addr)
{
    if (p->chunks == NULL || addr >= GCH_PALLOC_MAX_ADDR)
        return false;
    uintptr_t ci = addr >> GCH_PALLOC_LOG_CHUNK;
    if (p->chunks[ci >> GCH_PALLOC_L2_BITS] == NULL)
        return false;
    // Chunks never grown have all-zero bitmaps [P7], so they read as free.
    unsigned i = (unsigned)(addr >> GCH_PAGE_SHIFT) % GCH_PALLOC_CHUNK_PAGES;
    return (pagealloc_chunk_of(p, ci)->palloc_bits[i / 64] >> (i % 64)) & 1;
}

size_t gch_pagealloc_free_pages(const struct page_alloc *p)
{
    return p->free_pages;
}

void gch_pagealloc_test_bits(const struct page_alloc *p, uintptr_t chunk_base, uint64_t out[8])
{
    memset(out, 0, GCH_PALLOC_WORDS * sizeof(uint64_t));
    uintptr_t ci = chunk_base >> GCH_PALLOC_LOG_CHUNK;
    if (p->chunks == NULL || chunk_base >= GCH_PALLOC_MAX_ADDR ||
        p->chunks[ci >> GCH_PALLOC_L2_BITS] == NULL)
        return;
    memcpy(out, pagealloc_chunk_of(p, ci)->palloc_bits, GCH_PALLOC_WORDS * sizeof(uint64_t));
}

// ---------------------------------------------------------------- grow

bool gch_pagealloc_grow(struct page_alloc *p, uintptr_t base, size_t nbytes)
{
    uintptr_t limit = base + nbytes;
    assert(GCH_DEBUG < 1 ||
           (base != 0 && nbytes != 0 && base % GCH_PALLOC_CHUNK_BYTES == 0 &&
            nbytes % GCH_PALLOC_CHUNK_BYTES == 0 && limit > base && limit <= GCH_PALLOC_MAX_ADDR));
    if (p->summary[0] == NULL && !gch_pagealloc_init(p))
        return false;
    // k: where the range goes in in_use (the first range above it).
    size_t k = pagealloc_range_above(p, base);
    assert(GCH_DEBUG < 1 || ((k == 0 || p->in_use[k - 1].limit <= base) &&
                             (k == p->in_use_len || p->in_use[k].base >= limit)));
    if (!gch_pagealloc_reserve_range_slot(p) || !gch_pagealloc_sys_grow(p, k, base, limit)) {
        errno = ENOMEM;
        return false;
    }

    // Record the range, joining touching neighbours [P6].
    struct palloc_range *r = p->in_use;
    bool join_prev = k > 0 && r[k - 1].limit == base;
    bool join_next = k < p->in_use_len && r[k].base == limit;
    if (join_prev && join_next) {
        r[k - 1].limit = r[k].limit;
        memmove(&r[k], &r[k + 1], (p->in_use_len - k - 1) * sizeof *r);
        p->in_use_len--;
    } else if (join_prev) {
        r[k - 1].limit = limit;
    } else if (join_next) {
        r[k].base = base;
    } else {
        memmove(&r[k + 1], &r[k], (p->in_use_len - k) * sizeof *r);
        r[k] = (struct palloc_range){base, limit};
        p->in_use_len++;
    }
    uintptr_t root_end = ((limit - 1) >> pagealloc_level_shift[0]) + 1;
    if (root_end > p->root_limit)
        p->root_limit = root_end;

    // New chunks are all free. Their bitmaps are still zero: nothing writes
    // a chunk before it is grown.
    uint64_t *leaf = p->summary[GCH_PALLOC_SUMMARY_LEVELS - 1];
    uint64_t whole =
        pagealloc_pack_sum(GCH_PALLOC_CHUNK_PAGES, GCH_PALLOC_CHUNK_PAGES, GCH_PALLOC_CHUNK_PAGES);
    uintptr_t sc = base >> GCH_PALLOC_LOG_CHUNK, ec = (limit - 1) >> GCH_PALLOC_LOG_CHUNK;
    for (uintptr_t c = sc; c <= ec; c++)
        leaf[c] = whole;
    pagealloc_update_parents(p, sc, ec);
    p->free_pages += nbytes >> GCH_PAGE_SHIFT;
    if (base < p->search_addr)
        p->search_addr = base;
    if (GCH_DEBUG >= 3)
        pagealloc_check(p);
    return true;
}

// ------------------------------------------------------------ verifier

#define PAGEALLOC_FAIL(...)                     \
    do {                                        \
        if (whylen > 0)                         \
            snprintf(why, whylen, __VA_ARGS__); \
        return false;                           \
    } while (0)

#define SUM_FMT "(start %llu, max %llu, end %llu)"
#define SUM_ARGS(s)                                                                               \
    (unsigned long long)pagealloc_sum_field(s, 0), (unsigned long long)pagealloc_sum_field(s, 1), \
        (unsigned long long)pagealloc_sum_field(s, 2)

// Like pagealloc_covers for [i << shift, (i + 1) << shift), for callers
// stepping i upwards: *cur is the first range that may still overlap.
static bool pagealloc_sweep_covers(const struct page_alloc *p, size_t *cur, uintptr_t i,
                                   unsigned shift)
{
    while (*cur < p->in_use_len && p->in_use[*cur].limit <= i << shift)
        (*cur)++;
    return *cur < p->in_use_len && p->in_use[*cur].base < (i + 1) << shift;
}

bool gch_pagealloc_verify(const struct page_alloc *p, char *why, size_t whylen)
{
    if (whylen > 0)
        why[0] = '\0';
    if (p->summary[0] == NULL) {
        if (p->in_use_len != 0 || p->free_pages != 0)
            PAGEALLOC_FAIL("uninitialised allocator has %zu ranges and %zu free pages",
                           p->in_use_len, p->free_pages);
        return true;
    }
    // [P6]
    for (size_t i = 0; i < p->in_use_len; i++) {
        const struct palloc_range *r = &p->in_use[i];
        if (r->base == 0 || r->base >= r->limit || r->limit > GCH_PALLOC_MAX_ADDR ||
            r->base % GCH_PALLOC_CHUNK_BYTES != 0 || r->limit % GCH_PALLOC_CHUNK_BYTES != 0 ||
            (i > 0 && p->in_use[i - 1].limit >= r->base))
            PAGEALLOC_FAIL("[P6] range %zu [%#llx, %#llx) bad or not above its predecessor", i,
                           (unsigned long long)r->base, (unsigned long long)r->limit);
    }
    // [P7]
    size_t cur = 0;
    for (uintptr_t x = 0; x < ((uintptr_t)1 << GCH_PALLOC_L1_BITS); x++) {
        bool want = pagealloc_sweep_covers(p, &cur, x, GCH_PALLOC_LOG_CHUNK + GCH_PALLOC_L2_BITS);
        if (want != (p->chunks[x] != NULL))
            PAGEALLOC_FAIL("[P7] L2 block %llu: allocated %d, want %d", (unsigned long long)x,
                           p->chunks[x] != NULL, want);
    }
    // [P1] [P4] [P5] [C1], chunk by chunk.
    const uint64_t *leaf = p->summary[GCH_PALLOC_SUMMARY_LEVELS - 1];
    size_t nfree = 0;
    for (size_t i = 0; i < p->in_use_len; i++) {
        for (uintptr_t cb = p->in_use[i].base; cb < p->in_use[i].limit;
             cb += GCH_PALLOC_CHUNK_BYTES) {
            uintptr_t ci = cb >> GCH_PALLOC_LOG_CHUNK;
            const struct palloc_data *d = pagealloc_chunk_of(p, ci);
            uint64_t want = pagealloc_summarize(d->palloc_bits);
            if (leaf[ci] != want)
                PAGEALLOC_FAIL("[P1] chunk %#llx: summary " SUM_FMT ", bitmap says " SUM_FMT,
                               (unsigned long long)cb, SUM_ARGS(leaf[ci]), SUM_ARGS(want));
            for (int w = 0; w < GCH_PALLOC_WORDS; w++) {
                nfree += 64 - (size_t)__builtin_popcountll(d->palloc_bits[w]);
                if ((d->scavenged[w] & d->palloc_bits[w]) != 0)
                    PAGEALLOC_FAIL("[C1] chunk %#llx: word %d has scavenged pages %#llx in use",
                                   (unsigned long long)cb, w,
                                   (unsigned long long)(d->scavenged[w] & d->palloc_bits[w]));
            }
            if (cb < p->search_addr) {
                int f = gch_pallocbits_find(d->palloc_bits, 1, 0);
                uintptr_t free_at = cb + ((uintptr_t)f << GCH_PAGE_SHIFT);
                if (f >= 0 && free_at < p->search_addr)
                    PAGEALLOC_FAIL("[P5] page %#llx is free but below search_addr %#llx",
                                   (unsigned long long)free_at, (unsigned long long)p->search_addr);
            }
        }
    }
    if (nfree != p->free_pages)
        PAGEALLOC_FAIL("[P4] free_pages is %zu, bitmaps have %zu free pages", p->free_pages, nfree);
    // [P2] [P3] below the root: each entry over grown memory is the merge of
    // its children, and the children over none are 0 (a search reads them).
    for (int l = GCH_PALLOC_SUMMARY_LEVELS - 2; l >= 0; l--) {
        unsigned b = pagealloc_level_bits[l + 1], cshift = pagealloc_level_shift[l + 1];
        for (size_t r = 0; r < p->in_use_len; r++) {
            uintptr_t lo = p->in_use[r].base >> pagealloc_level_shift[l];
            uintptr_t hi = (p->in_use[r].limit - 1) >> pagealloc_level_shift[l];
            for (uintptr_t i = lo; i <= hi; i++) {
                const uint64_t *kids = &p->summary[l + 1][i << b];
                for (uintptr_t c = i << b; c < (i + 1) << b; c++)
                    if (kids[c - (i << b)] != 0 &&
                        !pagealloc_covers(p, c << cshift, (c + 1) << cshift))
                        PAGEALLOC_FAIL(
                            "[P3] level %d entry %#llx covers no grown chunk but is " SUM_FMT,
                            l + 1, (unsigned long long)(c << cshift), SUM_ARGS(kids[c - (i << b)]));
                uint64_t want =
                    pagealloc_merge_summaries(kids, (size_t)1 << b, pagealloc_level_pages(l + 1));
                if (p->summary[l][i] != want)
                    PAGEALLOC_FAIL("[P2] level %d entry %#llx: summary " SUM_FMT
                                   ", children say " SUM_FMT,
                                   l, (unsigned long long)(i << pagealloc_level_shift[l]),
                                   SUM_ARGS(p->summary[l][i]), SUM_ARGS(want));
            }
        }
    }
    // [P3] at the root, which the search scans up to root_limit.
    unsigned s0 = pagealloc_level_shift[0];
    cur = 0;
    for (uintptr_t i = 0; i < ((uintptr_t)1 << pagealloc_level_bits[0]); i++) {
        bool grown = pagealloc_sweep_covers(p, &cur, i, s0);
        if (grown && i >= p->root_limit)
            PAGEALLOC_FAIL("[P3] root entry %llu holds grown memory but root_limit is %zu",
                           (unsigned long long)i, p->root_limit);
        if (!grown && p->summary[0][i] != 0)
            PAGEALLOC_FAIL("[P3] root entry %#llx covers no grown chunk but is " SUM_FMT,
                           (unsigned long long)(i << s0), SUM_ARGS(p->summary[0][i]));
    }
    return true;
}
