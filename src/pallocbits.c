// pallocbits.c owns the operations on one chunk's page bitmap: summarising
// it, finding a free run in it, marking a run used or free. See malloc.c for
// the overview; Go counterpart: mpallocbits.go (pallocBits).
//
// A chunk's bitmap is 512 bits, GCH_PALLOC_WORDS words; bit i of word w is
// page 64w + i of the chunk, 1 = in use. The functions here are pure: they
// see only the words they are given, never the radix tree above them, which
// pagealloc.c keeps. The tree is where the page allocator spends its time,
// and a chunk is re-summarised after every change to it, so summarize skips
// whole words and looks inside a word only when its inner gap could beat the
// longest run found so far.
//
// Locking: none; the functions touch only their arguments.
#include "pagealloc.h"

#include <assert.h>

// Returns the longer of max and the longest run of 0 bits strictly between
// the lowest and highest 1 bit of x (x != 0). Runs are first cut down by max
// (doubling shifts), so a word that cannot beat max costs a few steps.
static unsigned pallocbits_inner_max(uint64_t x, unsigned max)
{
    unsigned lo = (unsigned)__builtin_ctzll(x), hi = 63 - (unsigned)__builtin_clzll(x);
    uint64_t m = ~x & (((uint64_t)1 << hi) - 1) & ~(((uint64_t)2 << lo) - 1);
    // Bit i of m stays set while pages i .. i+len-1 are all free.
    unsigned len = 1;
    while (len <= max && m != 0) {
        unsigned s = len < max + 1 - len ? len : max + 1 - len;
        m &= m >> s;
        len += s;
    }
    for (; m != 0; len++)
        m &= m >> 1;
    return len - 1 > max ? len - 1 : max;
}

struct palloc_sum gch_pallocbits_summarize(const uint64_t bits[GCH_PALLOC_WORDS])
{
    unsigned start = 0, max = 0, run = 0;
    bool in_start = true;
    for (int w = 0; w < GCH_PALLOC_WORDS; w++) {
        uint64_t x = bits[w];
        if (x == 0) {
            run += 64;
            continue;
        }
        unsigned lo = (unsigned)__builtin_ctzll(x), hi = (unsigned)__builtin_clzll(x);
        run += lo;
        if (in_start) {
            start = run;
            in_start = false;
        }
        if (run > max)
            max = run;
        // Only look inside the word if the gap between its lowest and
        // highest used page could beat max.
        if (62 - (int)lo - (int)hi > (int)max)
            max = pallocbits_inner_max(x, max);
        run = hi;
    }
    if (in_start)
        return (struct palloc_sum){GCH_PALLOC_CHUNK_PAGES, GCH_PALLOC_CHUNK_PAGES,
                                   GCH_PALLOC_CHUNK_PAGES};
    if (run > max)
        max = run;
    return (struct palloc_sum){start, max, run};
}

void gch_pallocbits_set(uint64_t bits[GCH_PALLOC_WORDS], unsigned i, unsigned n, bool used)
{
    assert(GCH_DEBUG < 1 || (n >= 1 && i + n <= GCH_PALLOC_CHUNK_PAGES));
    while (n > 0) {
        unsigned w = i / 64, off = i % 64;
        unsigned k = 64 - off < n ? 64 - off : n;
        uint64_t mask = (k == 64 ? ~(uint64_t)0 : ((uint64_t)1 << k) - 1) << off;
        assert(GCH_DEBUG < 1 || (bits[w] & mask) == (used ? 0 : mask));
        if (used)
            bits[w] |= mask;
        else
            bits[w] &= ~mask;
        i += k;
        n -= k;
    }
}

int gch_pallocbits_find(const uint64_t bits[GCH_PALLOC_WORDS], unsigned npages, unsigned from)
{
    unsigned size = 0; // free pages running up to the current word
    for (unsigned w = from / 64; w < GCH_PALLOC_WORDS; w++) {
        uint64_t x = bits[w];
        if (w == from / 64) // pages below from count as used
            x |= ((uint64_t)1 << (from % 64)) - 1;
        if (x == ~(uint64_t)0) {
            size = 0;
            continue;
        }
        unsigned lo = x == 0 ? 64 : (unsigned)__builtin_ctzll(x);
        if (size + lo >= npages)
            return (int)(w * 64 - size);
        if (npages <= 64 && x != 0) {
            uint64_t m = gch_palloc_runs64(~x, npages);
            if (m != 0)
                return (int)(w * 64 + (unsigned)__builtin_ctzll(m));
        }
        size = x == 0 ? size + 64 : (unsigned)__builtin_clzll(x);
    }
    return -1;
}
