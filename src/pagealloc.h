// pagealloc.h: the page allocator (pagealloc.c), which decides which 8 KiB
// pages of the heap are in use. Metadata only: it never touches heap memory,
// so it can be tested with made-up addresses. See pagealloc.c for the design
// and malloc.c for the overview. Go counterpart: mpagealloc.go.
//
// Not thread-safe: every function needs the caller to hold the lock that
// owns the struct page_alloc (mheap.lock for the heap's instance).
#ifndef GCHEAP_PAGEALLOC_H
#define GCHEAP_PAGEALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

struct palloc_data;  // one chunk's bitmaps, defined in pagealloc.c
struct palloc_range; // a grown address range, defined in pagealloc.c

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
    size_t scavenged_taken; // scavenged pages allocated since the last take
};

// Reserves the summary and chunk-index address space. Returns false with
// errno = ENOMEM if it cannot.
bool gch_pagealloc_init(struct page_alloc *p);

// Returns every metadata mapping to the OS and zeroes *p.
void gch_pagealloc_destroy(struct page_alloc *p);

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
// run it returns and counts them; gch_pagealloc_take_scavenged returns that
// count since its last call and resets it.
size_t gch_pagealloc_scavenge(struct page_alloc *p, size_t max_pages,
                              void (*release)(uintptr_t base, size_t npages));
size_t gch_pagealloc_take_scavenged(struct page_alloc *p);

// Returns the number of free pages in the grown ranges.
size_t gch_pagealloc_free_pages(const struct page_alloc *p);

// Recomputes every summary from the bitmaps and checks [P1]-[P7]. Returns
// true if all hold; otherwise writes the first mismatch, with its values,
// into why (whylen bytes, NUL-terminated) and returns false. O(grown heap).
bool gch_pagealloc_verify(const struct page_alloc *p, char *why, size_t whylen);

// Test only: copies the in-use bitmap of the chunk at chunk_base (bit i of
// word w = page 64w + i) into out. Zero for chunks never grown.
void gch_pagealloc_test_bits(const struct page_alloc *p, uintptr_t chunk_base, uint64_t out[8]);

#endif
