// sweep.c owns sweeping: turning a span's mark bits into its alloc bits,
// lazily, one span at a time. See malloc.c for the overview; Go
// counterpart: mgcsweep.go (sweepLocker, mspan.sweep, finishsweep_m).
//
// gc_sweep (mark.c) does no sweeping itself: it adds 2 to the heap's
// sweepgen h, which turns every span into "needs sweeping" at once. Spans
// are then swept when allocation needs them (first the allocating thread's
// own, mcache.c [C6]; then mcentral.c), when the page heap would otherwise
// grow (mheap.c), and whatever is left before the next mark phase begins
// or at the end of gc_collect (gch_finish_sweep).
//
// Span sweepgen states, relative to the heap's sweepgen h:
//
//   span.sweepgen  meaning                               who moves it
//   -------------  ------------------------------------  ----------------------
//   h - 2          needs sweeping                        gc_sweep's flip (h += 2)
//   h - 1          being swept (owned by one sweeper)    CAS h-2 -> h-1
//   h              swept, in an mcentral set or free     sweeper, uncache
//   h + 1          cached before the flip: needs         gc_sweep's flip of a
//                  sweeping when uncached                cached (h+3) span
//   h + 3          swept, then cached by an mcache       mcentral cacheSpan
//
// (gcheap's gc_sweep returns every cached span to its mcentral before the
// flip, so h + 1 arises only if a host breaks the stop-the-world rule;
// uncacheSpan handles it as Go does, by sweeping the span itself.)
//
// Sweeping one span (Go's way): free = allocated and not marked;
// alloc_bits = gcmark_bits; gcmark_bits = fresh zeroed bits (in
// generational mode, a copy of the new alloc bits: gen.c); alloc_count =
// popcount; freeindex = 0; alloc_cache reloaded; needzero if anything was
// freed; a span left empty returns its pages to mheap (or is kept, below).
// Cost: O(nelems / 64) word operations, plus poisoning when enabled.
//
// Empty spans in the full sweep (not Go's; mimalloc's page retire, one
// cycle long). A host whose objects die in allocation order (a queue, a
// ring, a generation of short-lived objects) empties whole spans each
// cycle, and its next cycle takes as many fresh ones from the page heap:
// with every empty span freed, the alloc benchmark (bench/) made and
// freed ~300 spans per cycle, and with two threads each span made cost
// 0.5 us in mheap.lock and cache lines of the page heap moving between
// the cores. So gch_finish_sweep keeps a small-object span it finds empty
// for the cache that filled it, on the cache's partial list ([C4]), where
// its thread refills from it without a lock. Once only: a kept span that
// the next full sweep finds still uncached and empty returns to the page
// heap, so a class a program stops using holds its pages one cycle
// longer, no more. A collection forced by the memory limit
// (gch_collect_for_limit) keeps nothing. A span swept one at a time
// (gch_sweep_one, cacheSpan) is freed or cached at once, as before: the
// thread that sweeps it there is often not the one that filled it.
// Measured (bench/, interleaved runs, medians of 15): alloc T=1 makes
// 30,000 spans instead of 187,000 and takes 0.596 s of CPU instead of
// 0.612; T=2 1.89 s instead of 2.13 (wall 1.37 instead of 1.51);
// binary-trees 1.56 s against 1.54, within the noise (minimum 1.44
// against 1.50); in generational mode 0.80 against 0.82.
#include "internal.h"

#include <string.h>

bool gch_sweep_try_acquire(struct mspan *s, uint32_t sg)
{
    return AO_fetch_compare_and_swap_full(&s->sweepgen, (AO_t)(uint32_t)(sg - 2),
                                          (AO_t)(uint32_t)(sg - 1)) == (AO_t)(uint32_t)(sg - 2);
}

// The allocated-slot mask of bitmap word w ([S3], [S4]): the alloc bits,
// every slot below freeindex, and the window's slots handed out since the
// last sweep (clear in alloc_cache).
static inline uint64_t sweep_allocated_word(const struct mspan *s, uint32_t w)
{
    uint64_t bits = s->alloc_bits[w];
    uint32_t lo = w * 64;
    if (s->freeindex >= lo + 64)
        return ~(uint64_t)0;
    if (s->freeindex > lo) // freeindex == nelems, inside this last word
        bits |= ((uint64_t)1 << (s->freeindex - lo)) - 1;
    else if (s->freeindex == lo)
        bits |= ~(uint64_t)s->alloc_cache;
    return bits;
}

// Fills the slots freed in word w with the poison pattern (poison=1) and
// tells the memory checkers they are gone.
static void sweep_release_slots(const struct mspan *s, uint32_t w, uint64_t freed)
{
    while (freed != 0) {
        unsigned bit = (unsigned)__builtin_ctzll(freed);
        freed &= freed - 1;
        uintptr_t p = s->base + (uintptr_t)(w * 64 + bit) * s->elemsize;
        if (gch_debug.poison) {
            gch_check_internal_write(p, s->elemsize);
            memset((void *)p, GCH_POISON_BYTE, s->elemsize);
        }
        gch_check_free(p, s->elemsize);
    }
}

static inline void tally_add(AO_t *counter, AO_t n)
{
    AO_store(counter, AO_load(counter) + n); // one writer: no RMW needed
}

void gch_sweep_tally_flush(struct gch_sweep_tally *t)
{
    for (unsigned cls = 0; cls < GCH_NUM_SIZE_CLASSES; cls++) {
        if (t->frees[cls] != 0) {
            gch_atomic_add(&gch_stats.frees[cls], t->frees[cls]);
            AO_store(&t->frees[cls], 0);
        }
    }
    if (t->bytes != 0) {
        gch_atomic_add(&gch_stats.heap_alloc, -t->bytes);
        AO_store(&t->bytes, 0);
    }
    if (t->spans != 0) {
        gch_atomic_add(&gch_stats.spans_swept, t->spans);
        AO_store(&t->spans, 0);
    }
}

// gch_sweep_span, adding what it frees to *t (see struct gch_sweep_tally).
static bool sweep_span(struct mspan *s, bool preserve, struct gch_sweep_tally *t);

bool gch_sweep_span(struct mspan *s, bool preserve)
{
    struct mcache *c = gch_tls_owner;
    if (c != NULL)
        return sweep_span(s, preserve, &c->swept);
    // A thread without a cache (one exiting, say): straight to gch_stats.
    struct gch_sweep_tally t = {.spans = 0};
    bool room = sweep_span(s, preserve, &t);
    gch_sweep_tally_flush(&t);
    return room;
}

static bool sweep_span(struct mspan *s, bool preserve, struct gch_sweep_tally *t)
{
    uint32_t sg = (uint32_t)AO_load(&gch_mheap.sweepgen);
    if ((uint32_t)AO_load(&s->sweepgen) != sg - 1)
        gch_throw("sweeping span %p with sweepgen %u (heap %u): not owned by the sweeper",
                  (void *)s->base, (unsigned)AO_load(&s->sweepgen), sg);
    GCH_ASSERT1(s->state == MSPAN_IN_USE);

    uint32_t n = s->nelems;
    uint32_t words = gch_bitmap_words(n);
    uint32_t nalloc = 0, nfreed = 0;
    for (uint32_t w = 0; w < words; w++) {
        uint64_t valid = gch_span_valid_mask(n, w);
        uint64_t allocated = sweep_allocated_word(s, w) & valid;
        uint64_t marked = (uint64_t)AO_load(&s->gcmark_bits[w]) & valid;
        uint64_t zombies = marked & ~allocated;
        if (GCH_UNLIKELY(zombies != 0)) {
            // A mark on a free slot: gc_mark refuses free slots, so only a
            // host writing into freed memory, or corruption, gets here.
            unsigned bit = (unsigned)__builtin_ctzll(zombies);
            gch_throw("found pointer to free object %p (span %p, slot %u, size %zu)",
                      (void *)(s->base + (uintptr_t)(w * 64 + bit) * s->elemsize), (void *)s->base,
                      w * 64 + bit, s->elemsize);
        }
        uint64_t freed = allocated & ~marked;
        nalloc += (uint32_t)gch_popcount64(marked);
        nfreed += (uint32_t)gch_popcount64(freed);
        if (freed != 0 && (gch_debug.poison || GCH_ASAN || GCH_VALGRIND))
            sweep_release_slots(s, w, freed);
    }
    if (nalloc + nfreed != s->alloc_count)
        gch_throw("span %p: %u slots allocated by its bitmaps, alloc_count %u", (void *)s->base,
                  nalloc + nfreed, s->alloc_count);

    unsigned cls = gch_spanclass_sizeclass(s->spanclass);
    if (nfreed != 0) {
        s->needzero = true;
        AO_t bytes = (AO_t)nfreed * s->elemsize;
        tally_add(&t->frees[cls], nfreed);
        tally_add(&t->bytes, bytes);
    }

    AO_t *old_alloc = s->alloc_bits;
    AO_t *fresh = gch_gcbits_new(n);
    if (fresh == NULL) {
        // No memory for a new bitmap: the old alloc bits are dead after the
        // swap, so clear and reuse them. (gc_base racing with this sweep may
        // then see a momentarily empty bitmap; it never faults.)
        memset(old_alloc, 0, words * sizeof(AO_t));
        fresh = old_alloc;
        gch_gcbits_keep(fresh);
    }
    if (AO_load(&gch_gen.sticky) != 0) {
        // Generational ([G1]): the survivors stay marked (old).
        for (uint32_t w = 0; w < words; w++)
            fresh[w] = s->gcmark_bits[w] & gch_span_valid_mask(n, w);
    }
    s->alloc_bits = s->gcmark_bits;
    s->gcmark_bits = fresh;
    AO_int_store(&s->alloc_count, nalloc);
    gch_span_reset_window(s);
    tally_add(&t->spans, 1);
    AO_store_release(&s->sweepgen, (AO_t)sg);

    if (preserve)
        return nalloc < n;
    if (nalloc == 0) {
        gch_mheap_free(s);
        return false;
    }
    gch_mcentral_push_swept(&gch_central[s->spanclass], s);
    return false;
}

static AO_t sweep_cursor;

bool gch_sweep_one(void)
{
    uint32_t sg = (uint32_t)AO_load_acquire(&gch_mheap.sweepgen);
    // Large spans first: a dead one gives its pages back in one sweep,
    // and the caller (the page heap, about to grow) wants pages. Left to
    // the last, a 64 KiB allocation in alloc_throughput's lazy two-thread
    // run swept about 50 small spans before reaching one.
    for (size_t spc = 0; spc < 2; spc++) {
        struct mspan *s = gch_mcentral_pop_unswept(&gch_central[spc], sg);
        if (s != NULL) {
            if (gch_sweep_try_acquire(s, sg))
                gch_sweep_span(s, false);
            return true;
        }
    }
    // Then the thread's own spans: they are its memory ([C6]). Other
    // threads' unswept lists are theirs to pop; gch_finish_sweep takes
    // what they leave.
    struct mcache *c = gch_tls_owner;
    if (c != NULL && gch_mcache_reclaim_own(c, sg))
        return true;
    size_t start = (size_t)AO_load(&sweep_cursor);
    for (size_t i = 0; i < GCH_NUM_SPAN_CLASSES; i++) {
        size_t spc = (start + i) % GCH_NUM_SPAN_CLASSES;
        struct mspan *s = gch_mcentral_pop_unswept(&gch_central[spc], sg);
        if (s == NULL)
            continue;
        AO_store(&sweep_cursor, spc);
        if (gch_sweep_try_acquire(s, sg))
            gch_sweep_span(s, false);
        return true;
    }
    return false;
}

// A span the full sweep found empty: kept for the cache that filled it
// ([C4]) unless it was kept last time and never cached since, it holds a
// large object, a collection for the memory limit runs, or its cache is
// gone. Returns true if kept.
bool gch_sweep_keep_empty(struct mspan *s)
{
    GCH_ASSERT1(s->alloc_count == 0);
    if (s->kept_empty || gch_spanclass_sizeclass(s->spanclass) == 0 ||
        AO_load(&gch_gc.keep_no_empty) != 0)
        return false;
    if (!gch_mcache_adopt(s))
        return false;
    s->kept_empty = true;
    return true;
}

void gch_finish_sweep(void)
{
    // Class by class, the unswept sets are taken whole and the swept spans
    // handed back in one splice: two lock round trips per class instead of
    // two per span (classes of large objects have few objects per span).
    uint32_t sg = (uint32_t)AO_load_acquire(&gch_mheap.sweepgen);
    struct gch_sweep_tally tally = {.spans = 0};
    for (size_t spc = 0; spc < GCH_NUM_SPAN_CLASSES; spc++) {
        struct mcentral *c = &gch_central[spc];
        struct mspan *todo = gch_mcentral_take_unswept(c, sg);
        // And what each thread left on its unswept list of the class ([C6]):
        // every other thread is stopped (gch_gc.lock held), so popping
        // another cache's list is safe here.
        unsigned list = gch_mcache_slot((uint8_t)spc);
        for (struct mcache *mc = gch_gc.mcaches; mc != NULL; mc = mc->next) {
            if (mc->unswept[list] == NULL)
                continue;
            mc->unswept_tail[list]->next = todo;
            todo = mc->unswept[list];
            mc->unswept[list] = mc->unswept_tail[list] = NULL;
        }
        struct mspan *partial = NULL, *full = NULL;
        while (todo != NULL) {
            struct mspan *s = todo;
            todo = s->next;
            if (todo != NULL) { // its lines arrive while s is swept
                __builtin_prefetch(todo, 1);
                __builtin_prefetch(&todo->sweepgen, 1);
            }
            s->next = NULL;
            if (!gch_sweep_try_acquire(s, sg))
                continue; // owned elsewhere (cannot happen for a set's span)
            sweep_span(s, true, &tally);
            if (s->alloc_count == 0) {
                if (!gch_sweep_keep_empty(s))
                    gch_mheap_free(s);
            } else if (s->alloc_count < s->nelems) {
                // Back to the thread that filled it, if it has one ([C4]).
                if (gch_mcache_adopt(s))
                    continue;
                s->next = partial;
                partial = s;
            } else {
                s->next = full;
                full = s;
            }
        }
        gch_mcentral_give_swept(c, sg, partial, full);
    }
    gch_sweep_tally_flush(&tally);
}
