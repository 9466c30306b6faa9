// pagealloc_sys.c owns the page allocator's metadata memory: the summary
// levels, the chunk index and its L2 blocks of chunk bitmaps, and the in_use
// array of grown ranges; it maps them, grows them and gives them back. The
// tree and the bitmaps in that memory are pagealloc.c's. See malloc.c for
// the overview; Go counterpart: mpagealloc_64bit.go (sysInit, sysGrow).
//
// Every summary level is reserved for the whole address space at init (585
// MiB of PROT_NONE). The root (128 KiB) is committed at once because
// searches read root entries between grown ranges; untouched pages of it
// cost nothing. Lower levels are committed on grow, one OS page at a time,
// only for the pages the new range needs and its neighbours in in_use did
// not already need (Go's sysGrow), so a failed grow can undo exactly what
// it committed. The L1 chunk index (64 KiB) is allocated at init; an L2
// block of 8192 chunks' bitmaps (1 MiB) when a grown range first reaches
// it. The in_use array starts at one OS page and doubles when full.
//
// Locking: none; the owner's lock (mheap.lock) covers every call.
#include "pagealloc.h"

#include "os.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

static size_t pagealloc_level_bytes(int l)
{
    return sizeof(uint64_t) << (GCH_PALLOC_ADDR_BITS - pagealloc_level_shift[l]);
}

#define GCH_PALLOC_L1_BYTES (sizeof(struct palloc_data *) << GCH_PALLOC_L1_BITS)
#define GCH_PALLOC_L2_BYTES (sizeof(struct palloc_data) << GCH_PALLOC_L2_BITS)

bool gch_pagealloc_init(struct page_alloc *p)
{
    memset(p, 0, sizeof *p);
    size_t page = gch_os_page_size();
    for (int l = 0; l < GCH_PALLOC_SUMMARY_LEVELS; l++) {
        p->summary[l] = gch_os_reserve(pagealloc_level_bytes(l), page);
        if (p->summary[l] == NULL)
            goto fail;
    }
    if (!gch_os_commit(p->summary[0], pagealloc_level_bytes(0)))
        goto fail;
    p->chunks = gch_os_alloc(GCH_PALLOC_L1_BYTES);
    p->in_use = gch_os_alloc(page);
    if (p->chunks == NULL || p->in_use == NULL)
        goto fail;
    p->in_use_cap = page / sizeof(struct palloc_range);
    p->search_addr = GCH_PALLOC_MAX_ADDR; // nothing is free yet
    return true;
fail:
    gch_pagealloc_destroy(p);
    errno = ENOMEM;
    return false;
}

void gch_pagealloc_destroy(struct page_alloc *p)
{
    for (int l = 0; l < GCH_PALLOC_SUMMARY_LEVELS; l++)
        if (p->summary[l] != NULL)
            gch_os_unreserve(p->summary[l], pagealloc_level_bytes(l));
    if (p->chunks != NULL) {
        for (size_t i = 0; i < ((size_t)1 << GCH_PALLOC_L1_BITS); i++)
            if (p->chunks[i] != NULL)
                gch_os_free(p->chunks[i], GCH_PALLOC_L2_BYTES);
        gch_os_free(p->chunks, GCH_PALLOC_L1_BYTES);
    }
    if (p->in_use != NULL)
        gch_os_free(p->in_use, p->in_use_cap * sizeof(struct palloc_range));
    memset(p, 0, sizeof *p);
}

// Sets [*lo, *hi) to the units of unit bytes of a metadata array (elem
// bytes per 2^shift bytes of address space) that [base, limit) needs.
static void pagealloc_units(uintptr_t base, uintptr_t limit, unsigned shift, size_t elem,
                            size_t unit, uintptr_t *lo, uintptr_t *hi)
{
    *lo = (base >> shift) * elem / unit;
    *hi = ((((limit - 1) >> shift) + 1) * elem + unit - 1) / unit;
}

// Like pagealloc_units for a range about to be inserted at in_use[k], minus
// the units its neighbours already need: what growing it must add. Ranges
// are sorted, so only the two neighbours can share units with it.
static void pagealloc_new_units(const struct page_alloc *p, size_t k, uintptr_t base,
                                uintptr_t limit, unsigned shift, size_t elem, size_t unit,
                                uintptr_t *lo, uintptr_t *hi)
{
    uintptr_t nlo, nhi;
    pagealloc_units(base, limit, shift, elem, unit, lo, hi);
    if (k > 0) {
        pagealloc_units(p->in_use[k - 1].base, p->in_use[k - 1].limit, shift, elem, unit, &nlo,
                        &nhi);
        if (nhi > *lo)
            *lo = nhi;
    }
    if (k < p->in_use_len) {
        pagealloc_units(p->in_use[k].base, p->in_use[k].limit, shift, elem, unit, &nlo, &nhi);
        if (nlo < *hi)
            *hi = nlo;
    }
}

bool gch_pagealloc_sys_grow(struct page_alloc *p, size_t k, uintptr_t base, uintptr_t limit)
{
    size_t page = gch_os_page_size();
    uintptr_t lo, hi;
    int l;
    for (l = 1; l < GCH_PALLOC_SUMMARY_LEVELS; l++) { // the root is always committed
        pagealloc_new_units(p, k, base, limit, pagealloc_level_shift[l], sizeof(uint64_t), page,
                            &lo, &hi);
        if (lo < hi && !gch_os_commit((char *)p->summary[l] + lo * page, (hi - lo) * page))
            goto undo;
    }
    pagealloc_new_units(p, k, base, limit, GCH_PALLOC_LOG_CHUNK + GCH_PALLOC_L2_BITS, 1, 1, &lo,
                        &hi);
    for (uintptr_t x = lo; x < hi; x++) {
        assert(GCH_DEBUG < 1 || p->chunks[x] == NULL);
        p->chunks[x] = gch_os_alloc(GCH_PALLOC_L2_BYTES);
        if (p->chunks[x] == NULL) {
            while (x-- > lo) {
                gch_os_free(p->chunks[x], GCH_PALLOC_L2_BYTES);
                p->chunks[x] = NULL;
            }
            goto undo;
        }
    }
    return true;
undo:
    // Units with no neighbour's claim were uncommitted before this call.
    while (--l >= 1) {
        pagealloc_new_units(p, k, base, limit, pagealloc_level_shift[l], sizeof(uint64_t), page,
                            &lo, &hi);
        if (lo < hi)
            gch_os_decommit((char *)p->summary[l] + lo * page, (hi - lo) * page);
    }
    errno = ENOMEM;
    return false;
}

bool gch_pagealloc_reserve_range_slot(struct page_alloc *p)
{
    if (p->in_use_len < p->in_use_cap)
        return true;
    size_t cap = p->in_use_cap * 2;
    struct palloc_range *r = gch_os_alloc(cap * sizeof *r);
    if (r == NULL)
        return false;
    memcpy(r, p->in_use, p->in_use_len * sizeof *r);
    gch_os_free(p->in_use, p->in_use_cap * sizeof *r);
    p->in_use = r;
    p->in_use_cap = cap;
    return true;
}
