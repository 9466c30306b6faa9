// pagealloc.h: the page allocator, which decides which 8 KiB pages of the
// heap are in use, in four files: the radix tree over the heap
// (pagealloc.c), the memory its metadata lives in (pagealloc_sys.c), one
// chunk's bitmap (pallocbits.c) and the page cache in front of it
// (pagecache.c). Metadata only: it never touches heap memory, so it can be
// tested with made-up addresses. See each file for its design and malloc.c
// for the overview. Go counterparts: mpagealloc.go, mpagealloc_64bit.go,
// mpallocbits.go, mpagecache.go.
//
// Not thread-safe: every function needs the caller to hold the lock that
// owns the struct page_alloc and struct page_cache (mheap.lock for the
// heap's instances).
#ifndef GCHEAP_PAGEALLOC_H
#define GCHEAP_PAGEALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Internal declarations: hidden (see internal.h).
#pragma GCC visibility push(hidden)

// A chunk is the unit of growth and of the bitmap: 512 pages = 4 MiB (Go's
// pallocChunkPages, pallocChunkBytes). 512 pages make the bitmap eight
// 64-bit words and a chunk's free run fit the 9-bit leaf summary.
#define GCH_PALLOC_CHUNK_PAGES 512
#define GCH_PALLOC_CHUNK_BYTES ((uintptr_t)GCH_PALLOC_CHUNK_PAGES << 13)

// The radix tree of summaries: 5 levels over a 48-bit address space (Go's
// summaryLevels, summaryL0Bits, summaryLevelBits). The root has 2^14
// entries of 16 GiB; each lower level splits an entry 8 ways, down to one
// summary per chunk.
#define GCH_PALLOC_ADDR_BITS      48
#define GCH_PALLOC_SUMMARY_LEVELS 5

// ------------------------------------------------------------ pallocbits.c
// One chunk's in-use bitmap: GCH_PALLOC_WORDS words, bit i of word w is page
// 64w + i of the chunk, 1 = in use.
#define GCH_PALLOC_WORDS (GCH_PALLOC_CHUNK_PAGES / 64)

// A run-length summary of some pages (Go's pallocSum, unpacked): start, the
// free run at the low end; max, the longest free run; end, the free run at
// the high end.
struct palloc_sum {
    unsigned start, max, end;
};

// Returns the summary of a chunk's bitmap (Go's pallocBits.summarize).
struct palloc_sum gch_pallocbits_summarize(const uint64_t bits[GCH_PALLOC_WORDS]);

// Sets pages [i, i+n) of a chunk's bitmap to used (1) or free (0). They must
// all be in the other state: anything else is a double alloc or free.
void gch_pallocbits_set(uint64_t bits[GCH_PALLOC_WORDS], unsigned i, unsigned n, bool used);

// Returns the index of the first run of npages (1..512) free pages of a
// chunk that starts at or after page from, or -1 (Go's pallocBits.find).
int gch_pallocbits_find(const uint64_t bits[GCH_PALLOC_WORDS], unsigned npages, unsigned from);

// Returns the bits i of set such that bits i .. i+n-1 are all set (n >= 1),
// by doubling the run length (Go's findBitRange64, as a mask of starts).
static inline uint64_t gch_palloc_runs64(uint64_t set, unsigned n)
{
    for (unsigned k = 1; k < n && set != 0;) {
        unsigned s = k < n - k ? k : n - k;
        set &= set >> s;
        k += s;
    }
    return set;
}

// ------------------------------------------------------------- pagealloc.c

// The layout of the tree and of the chunk index, shared by pagealloc.c and
// pagealloc_sys.c (no other file needs it).
#define GCH_PALLOC_LOG_CHUNK 22 // log2(GCH_PALLOC_CHUNK_BYTES)
#define GCH_PALLOC_MAX_ADDR  ((uintptr_t)1 << GCH_PALLOC_ADDR_BITS)
// Chunk index = L1 (13 bits) . L2 (13 bits): an L2 block is 8192 chunks
// (32 GiB of heap, 1 MiB of bitmaps) and the L1 array is 64 KiB.
#define GCH_PALLOC_L2_BITS 13
#define GCH_PALLOC_L1_BITS (GCH_PALLOC_ADDR_BITS - GCH_PALLOC_LOG_CHUNK - GCH_PALLOC_L2_BITS)

// Per level: bits of index the level adds, and log2 of the bytes one entry
// covers. Level 4 is the leaf (one chunk).
static const unsigned pagealloc_level_bits[GCH_PALLOC_SUMMARY_LEVELS] = {14, 3, 3, 3, 3};
static const unsigned pagealloc_level_shift[GCH_PALLOC_SUMMARY_LEVELS] = {34, 31, 28, 25, 22};
_Static_assert(14 + 4 * 3 + GCH_PALLOC_LOG_CHUNK == GCH_PALLOC_ADDR_BITS, "levels cover 48 bits");

// One chunk's bitmaps (Go's pallocData). Bit i of palloc_bits[w] is page
// 64w + i of the chunk, 1 = in use. scavenged: 1 = free and returned to the
// OS (gch_pagealloc_scavenge); allocation takes the bits back:
//   [C1] scavenged & palloc_bits == 0
struct palloc_data {
    uint64_t palloc_bits[GCH_PALLOC_WORDS];
    uint64_t scavenged[GCH_PALLOC_WORDS];
};
_Static_assert(sizeof(struct palloc_data) == 128, "a chunk's metadata is two 512-bit maps");

// A grown address range [base, limit): see [P6].
struct palloc_range {
    uintptr_t base, limit;
};

struct page_cache; // the page cache, below

// The page allocator. All fields are protected by the owner's lock.
// A zeroed struct page_alloc is a valid, empty allocator: grow initialises
// it on first use (mheap's instance is statically zeroed).
//
// Invariants (checked by gch_pagealloc_verify under the same tags):
//   [P1] summary[4][c] == summarize(chunk c's palloc_bits), c grown
//   [P2] summary[l][i] == merge(summary[l+1][8i .. 8i+7]), l < 4, entry i
//        covering any grown chunk
//   [P3] summary[l][i] == 0 for entries covering no grown chunk that a
//        search reads: root entries and children of [P2] entries
//   [P4] free_pages == number of 0 bits over all grown chunks
//   [P5] every page of a grown chunk below search_addr is in use
//   [P6] in_use[0 .. in_use_len) sorted, disjoint, not touching;
//        base % GCH_PALLOC_CHUNK_BYTES == 0, 0 < base < limit <= 2^48
//   [P7] chunks[k] != NULL iff some in_use range covers part of L2 block k
struct page_alloc {
    // summary[l]: reserved for the whole address space, committed only where
    // some grown range needs it (root: committed whole, see pagealloc.c).
    uint64_t *summary[GCH_PALLOC_SUMMARY_LEVELS];
    // Chunk index, two levels as in Go: chunks[l1][l2] (NULL when no chunk
    // of that 32 GiB block was ever grown).
    struct palloc_data **chunks;
    // Grown address ranges, sorted (Go's inUse addrRanges).
    struct palloc_range *in_use;
    size_t in_use_len, in_use_cap;
    // Root entries past root_limit cover no grown memory: the search stops
    // there.
    size_t root_limit;
    // Lowest address that may be free (Go's searchAddr): see [P5].
    uintptr_t search_addr;
    size_t free_pages;      // [P4]
    size_t scavenged_taken; // scavenged pages allocated (here or from a page
                            // cache) since the last take
};

// Adds [base, base + nbytes) as free pages. base and nbytes must be
// multiples of GCH_PALLOC_CHUNK_BYTES, base > 0, base + nbytes <= 2^48, and
// no part of the range may have been added before. Returns false with
// errno = ENOMEM, and changes nothing, if the metadata cannot be committed.
bool gch_pagealloc_grow(struct page_alloc *p, uintptr_t base, size_t nbytes);

// Returns the base of the lowest-addressed run of npages (>= 1) free pages,
// now marked in use, or 0 if there is no such run (the caller grows).
uintptr_t gch_pagealloc_alloc(struct page_alloc *p, size_t npages);

// Marks the npages pages at base free. They must all be in use.
void gch_pagealloc_free(struct page_alloc *p, uintptr_t base, size_t npages);

// Returns whether the page holding addr is in use (false outside the grown
// ranges).
bool gch_pagealloc_in_use(const struct page_alloc *p, uintptr_t addr);

// The scavenger's half (Go's scavenged bitmap): gch_pagealloc_scavenge marks
// up to max_pages free pages that are not yet scavenged, highest addresses
// first, calls release on each run it marks (within one chunk), and returns
// the number of pages marked. Allocation clears the scavenged bits of the
// run it returns and counts them (so does a page cache, for the pages it
// hands out); gch_pagealloc_take_scavenged returns that count since its last
// call and resets it. Pages held by a page cache are in use here, so they
// are never scavenged: flush the cache first.
size_t gch_pagealloc_scavenge(struct page_alloc *p, size_t max_pages,
                              void (*release)(uintptr_t base, size_t npages));
size_t gch_pagealloc_take_scavenged(struct page_alloc *p);

// Returns the number of free pages in the grown ranges. Pages held by a
// page cache count as in use.
size_t gch_pagealloc_free_pages(const struct page_alloc *p);

// The page cache's half (Go's allocToCache, and the body of
// pageCache.flush). gch_pagealloc_alloc_to_cache fills the empty cache *c
// with every free page of the 64-page block holding the lowest run of npages
// (1..64) free pages: they become in use here and their scavenged bits move
// to c->scav. It leaves *c empty if there is no such run (the caller
// grows). gch_pagealloc_free_cache frees c's pages and gives their scavenged
// bits back; the caller then empties *c.
void gch_pagealloc_alloc_to_cache(struct page_alloc *p, size_t npages, struct page_cache *c);
void gch_pagealloc_free_cache(struct page_alloc *p, const struct page_cache *c);

// Recomputes every summary from the bitmaps and checks [P1]-[P7]. Returns
// true if all hold; otherwise writes the first mismatch, with its values,
// into why (whylen bytes, NUL-terminated) and returns false. O(grown heap).
bool gch_pagealloc_verify(const struct page_alloc *p, char *why, size_t whylen);

// Test only: copies the in-use bitmap of the chunk at chunk_base (bit i of
// word w = page 64w + i) into out. Zero for chunks never grown.
void gch_pagealloc_test_bits(const struct page_alloc *p, uintptr_t chunk_base, uint64_t out[8]);

// -------------------------------------------------------- pagealloc_sys.c

// Reserves the summary and chunk-index address space. Returns false with
// errno = ENOMEM if it cannot.
bool gch_pagealloc_init(struct page_alloc *p);

// Returns every metadata mapping to the OS and zeroes *p.
void gch_pagealloc_destroy(struct page_alloc *p);

// Makes room for one more in_use entry. Returns false on failure.
bool gch_pagealloc_reserve_range_slot(struct page_alloc *p);

// Commits the summaries and allocates the L2 chunk blocks [base, limit)
// needs (Go's sysGrow), for a range about to be inserted at in_use[k].
// Returns false, having undone its work, on failure.
bool gch_pagealloc_sys_grow(struct page_alloc *p, size_t k, uintptr_t base, uintptr_t limit);

// ------------------------------------------------------------- pagecache.c

// The cache holds one 64-page-aligned block (Go's pageCachePages): its free
// pages fit one uint64_t. Requests of fewer than GCH_PAGECACHE_MAX_NPAGES
// pages (Go's pageCachePages / 4) are served from it; larger ones would
// empty it in a few requests and go to the page allocator instead.
#define GCH_PAGECACHE_PAGES      64
#define GCH_PAGECACHE_BYTES      ((uintptr_t)GCH_PAGECACHE_PAGES << 13)
#define GCH_PAGECACHE_MAX_NPAGES 16

// A page cache (Go's pageCache): free pages of one block, taken from the
// page allocator in one go and handed out without touching its summaries.
// A zeroed struct page_cache is a valid, empty cache. All fields are
// protected by the owner's lock (mheap.lock for the heap's cache).
//
// Invariants (checked by gch_pagecache_verify under the same tags):
//   [PC1] base % GCH_PAGECACHE_BYTES == 0, and base == 0 => cache == 0
//   [PC2] scav & ~cache == 0
//   [PC3] every page whose cache bit is set is in use in the page allocator
//         (so [C1] keeps its scavenged bit there clear)
//   [PC4] in the heap, no span holds a page whose cache bit is set
//         (checked by the heap verifier, verify.c, which sees the span map)
struct page_cache {
    uintptr_t base; // the block's first page; 0 when empty
    uint64_t cache; // bit i: page i of the block is free, held here
    uint64_t scav;  // bit i: and it is scavenged (released to the OS)
};

// Returns the base of npages (>= 1) pages, now in use, or 0 if p has no run
// of npages free pages even with the cache flushed (the caller grows; the
// cache is then empty). Requests of fewer than GCH_PAGECACHE_MAX_NPAGES
// pages come from the cache, which is flushed and refilled from p when it
// has no such run; larger ones come from p. Scavenged pages returned are
// counted in p->scavenged_taken either way.
uintptr_t gch_pagecache_alloc(struct page_cache *c, struct page_alloc *p, size_t npages);

// Returns c's pages to p and empties c (Go's pageCache.flush).
void gch_pagecache_flush(struct page_cache *c, struct page_alloc *p);

// Returns the number of free pages c holds.
size_t gch_pagecache_pages(const struct page_cache *c);

// Checks [PC1]-[PC3]. Returns true if they hold; otherwise writes the first
// mismatch into why (whylen bytes, NUL-terminated) and returns false.
bool gch_pagecache_verify(const struct page_cache *c, const struct page_alloc *p, char *why,
                          size_t whylen);

#pragma GCC visibility pop

#endif
