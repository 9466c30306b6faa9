// mcache.c owns the per-thread caches: one span per span class, the tiny
// block, and the marker's work stack. See malloc.c for the overview; Go
// counterpart: mcache.go (refill, releaseAll, prepareForSweep) and the
// per-P gcWork of mgcwork.go.
//
// Go keeps one mcache per P; gcheap keeps one per thread, found through a
// _Thread_local pointer. A thread's first allocation goes to the slow path
// (its pointer starts at gch_empty_mcache, whose spans have no free slot),
// which makes the real cache, registers it in the global list and with a
// pthread key whose destructor returns the cache's spans to their
// mcentrals when the thread exits. Freed caches are kept on a free list
// and reused by later threads, so 1000 short-lived threads cost one
// cache's worth of spans, not 1000.
//
// Accounting follows Go: objects are counted when their span leaves the
// cache (alloc_count - alloc_count_cached), not one by one on the fast
// path; a cached span's alloc_count is charged the whole span when it is
// cached ([S9]) and recounted from the bitmaps when the span leaves. The
// counts go to the cache's own flushed_* counters, and the frees its lazy
// sweeps find to its sweep tally (swept), added to gch_stats when the
// cache is flushed (each collection, thread exit), so that neither a span
// refill nor a sweep writes a shared line. The pacer's heap_live is charged a span's
// whole free space when it is cached and refunded the unused part when it
// leaves; the cache sums these in live_pending and adds the sum to
// heap_live once it reaches GCH_LIVE_BATCH (64 KiB) either way, and at
// each flush. One atomic add per refill, as Go does, put a line that both
// threads write in every refill: with two threads, 45% of the refill's
// samples sat on that add.
//
// Span affinity ([C4], [C6]): a thread refills from the spans it filled.
// The full sweep hands each partly free span back to the cache that filled
// it (sweep.c); and at the end of every mark phase a cache keeps the spans
// of its partial and full lists as unswept lists of its own, which its
// refills sweep before asking the mcentral (at most GCH_SPAN_BUDGET full
// ones per refill, as cacheSpan). So after a lazy gc_sweep each thread
// sweeps, and allocates from, its own memory, not whatever spans of the
// class the mcentral's shared LIFO set gives it: another thread's, whose
// lines are on the other core. What a thread leaves unswept, the next full
// sweep takes (gch_finish_sweep, every other thread stopped); a dying
// cache gives it to the mcentrals. The cost: gch_sweep_one, which the page
// heap calls before growing, reaches only the calling thread's lists, so
// another thread's unswept garbage waits for the next collection instead
// of feeding this growth. Measured (bench/alloc_throughput T=2, interleaved
// runs, medians of 9): each thread marking its own ring and sweeping
// lazily, 2.26 -> 1.91 CPU seconds (1.26 -> 1.15 s wall); lazy sweeping
// with one marker, 2.23 -> 2.16; the full sweep and T=1 unchanged.
// Sweep-ahead: each refill also sweeps one span of the cache's unswept
// lists, of any class (gch_mcache_sweep_ahead), as Go's proportional
// sweeping has each allocation pay for some sweeping: a thread that keeps
// allocating has swept all of its own spans before the next collection,
// instead of leaving them to gch_finish_sweep at the next mark start,
// where one thread sweeps every thread's with the world stopped (at alloc
// T=1, 445 spans per collection, 28% of all sweeping). Host-measured
// collection time: lazy T=1 8-13% less, T=2 with parallel marking 4% less;
// CPU within 2% either way (wall 0.92 -> 0.87 s at T=2, median of 9).
// gch_sweep_one sweeps the large spans before the caller's own, and keeps
// the caller's partly free ones on its lists (gch_mcache_reclaim_own):
// before, a 64 KiB allocation in that test swept about 50 of its small
// spans, handing them to the mcentrals, before reaching a dead large one
// (sweeps for the page heap in a lazy T=2 run: 109,726 -> 3,568; CPU
// 2.06 -> 1.80 s lazy, 1.80 -> 1.66 with parallel marking).
//
// Allocate-black ([S10]): while a mark phase runs, the free slots of every
// cached span's window are marked in advance, at mark start or when the
// window is loaded during the phase, so whatever the fast path hands out is
// born marked and the fast path pays nothing for it. When the span leaves
// the cache (at gc_sweep at the latest) the marks of the slots still free
// are withdrawn.
//
// Locking: a cache is touched only by its thread, except in STW (mark
// start, gc_sweep) and at thread exit, under gch_gc.lock. Fields that
// gc_get_stats reads from other threads are accessed atomically.
#include "internal.h"

#include <errno.h>
#include <string.h>

struct mcache gch_empty_mcache = {
    .small = {[0 ... 1] = {[0 ... GCH_DIRECT_SIZES - 1] = &gch_empty_span}},
    .alloc = {[0 ... GCH_MCACHE_SLOTS - 1] = (AO_t)&gch_empty_span},
    .is_empty = true,
};

GCH_TLS_MODEL _Thread_local struct mcache *gch_tls_mcache = &gch_empty_mcache;
GCH_TLS_MODEL _Thread_local struct mcache *gch_tls_owner;

static pthread_key_t mcache_key;
static struct mcache *mcache_free_list; // protected by gch_gc.lock

#define GCWORK_INITIAL 1024

static void mcache_exit(void *arg);

// Puts s (or &gch_empty_span) in cache slot slot, and in the fast path's
// entries for the sizes of its class ([C3]).
static void mcache_set(struct mcache *c, unsigned slot, struct mspan *s)
{
    AO_store(&c->alloc[slot], (AO_t)s);
    if (!gch_mcache_slot_zeroes(slot)) // raw: gc_alloc_uninit has no map
        return;
    bool noscan = slot >= GCH_NUM_SIZE_CLASSES; // gch_mcache_slot's layout
    unsigned cls = noscan ? slot - GCH_NUM_SIZE_CLASSES : slot;
    if (cls == 0 || gch_class_to_size[cls] > GCH_SMALL_SIZE_MAX)
        return;
    // Sizes gch_class_to_size[cls - 1] + 1 .. gch_class_to_size[cls], all
    // multiples of 8, are entries (size - 1) / 8.
    struct mspan **direct = c->small[noscan];
    for (unsigned i = gch_class_to_size[cls - 1] / GCH_SMALL_SIZE_DIV;
         i < gch_class_to_size[cls] / GCH_SMALL_SIZE_DIV; i++)
        direct[i] = s;
}

void gch_mcache_init_key(void)
{
    if (pthread_key_create(&mcache_key, mcache_exit) != 0)
        gch_throw("pthread_key_create failed");
}

struct mcache *gch_mcache_get(void)
{
    struct mcache *c = gch_tls_owner;
    if (c != NULL)
        return c;
    gch_init();
    pthread_mutex_lock(&gch_gc.lock);
    c = mcache_free_list;
    if (c != NULL) {
        mcache_free_list = c->next;
    } else {
        c = gch_os_alloc(sizeof *c);
        if (c == NULL) {
            pthread_mutex_unlock(&gch_gc.lock);
            errno = ENOMEM;
            return NULL;
        }
        c->work.stack = gch_os_alloc(GCWORK_INITIAL * sizeof(struct gcwork_entry));
        c->work.cap = c->work.stack != NULL ? GCWORK_INITIAL : 0;
    }
    for (unsigned i = 0; i < GCH_MCACHE_SLOTS; i++)
        mcache_set(c, i, &gch_empty_span);
    for (int i = 0; i < GCH_NUM_SIZE_CLASSES; i++)
        AO_store(&c->flushed_mallocs[i], 0);
    AO_store(&c->flushed_bytes, 0);
    memset(&c->swept, 0, sizeof c->swept); // not yet visible to gc_get_stats
    c->bits_cur = c->bits_end = NULL;      // [B3]
    for (int i = 0; i < GCH_NUM_SPAN_CLASSES; i++)
        c->partial[i] = NULL;
    for (int i = 0; i < GCH_NUM_SPAN_CLASSES; i++) {
        c->full[i] = c->full_tail[i] = NULL;
        c->partial_tail[i] = NULL;
        c->unswept[i] = c->unswept_tail[i] = NULL;
    }
    c->sweep_ahead = false;
    c->sweep_cursor = 0;
    c->live = true;
    c->tiny = 0;
    c->tiny_offset = 0;
    AO_store(&c->tiny_allocs, 0);
    c->work.len = 0;
    c->work.depth = 0;
    c->work.marked_bytes = 0;
    c->in_hook = false;
    c->is_empty = false;
    c->prev = NULL;
    c->next = gch_gc.mcaches;
    if (c->next != NULL)
        c->next->prev = c;
    gch_gc.mcaches = c;
    pthread_mutex_unlock(&gch_gc.lock);
    pthread_setspecific(mcache_key, c);
    gch_tls_owner = c;
    gch_tls_mcache = c;
    return c;
}

static void mcache_exit(void *arg)
{
    struct mcache *c = arg;
    gch_tls_mcache = &gch_empty_mcache;
    gch_tls_owner = NULL;
    pthread_mutex_lock(&gch_gc.lock);
    gch_mcache_release_all(c, false);
    c->live = false;                  // the sweeper gives it no more spans
    c->bits_cur = c->bits_end = NULL; // [B3]: rotation no longer sees it
    gch_atomic_add(&gch_gc.marked_bytes, c->work.marked_bytes);
    c->work.marked_bytes = 0;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        gch_gc.mcaches = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->next = mcache_free_list;
    mcache_free_list = c;
    pthread_mutex_unlock(&gch_gc.lock);
}

// Marks the free slots of s's window in advance ([S10]). Before the window
// is published, so another marker never sees them unmarked.
static GCH_NOINLINE void mcache_blacken(struct mspan *s, uint32_t fi, uint64_t free)
{
    s->window_black = true;
    if (free == 0)
        return;
    AO_or(&s->gcmark_bits[fi / 64], (AO_t)free);
    gch_atomic_add(&gch_gc.marked_bytes, (AO_t)gch_popcount64(free) * s->elemsize);
}

// Publishes window (fi, free) of the cached span s: zeroed if need be,
// unless zero is false (a raw slot, [C5]), blackened in a mark phase
// ([S10]).
static inline void mcache_load_window(struct mspan *s, uint32_t fi, uint64_t free, bool zero)
{
    if (zero)
        gch_span_zero_window(s, fi, free);
    if (GCH_UNLIKELY(AO_load(&gch_gc.phase) == GCH_PHASE_MARK))
        mcache_blacken(s, fi, free);
    gch_span_set_window(s, fi, free);
}

// Adds delta (a signed byte count in an AO_t) to heap_live through c's
// batch (live_pending).
static inline void mcache_charge_live(struct mcache *c, AO_t delta)
{
    AO_t p = c->live_pending + delta;
    if (p + GCH_LIVE_BATCH < 2 * GCH_LIVE_BATCH) { // -BATCH <= p < BATCH
        c->live_pending = p;
        return;
    }
    c->live_pending = 0;
    gch_atomic_add(&gch_stats.heap_live, p);
}

// Pushes s on the front of a cache list ([C4]) whose last span is *tail.
static void mcache_list_push(struct mspan **head, struct mspan **tail, struct mspan *s)
{
    s->next = *head;
    *head = s;
    if (s->next == NULL)
        *tail = s;
}

// Appends s to a cache list ([C4]) whose last span is *tail.
static void mcache_list_append(struct mspan **head, struct mspan **tail, struct mspan *s)
{
    s->next = NULL;
    if (*tail != NULL)
        (*tail)->next = s;
    else
        *head = s;
    *tail = s;
}

// Returns s, cached by c, to its mcentral: withdraws the advance marks of
// the window's free slots ([S10]), recounts alloc_count ([S9]) and counts
// the objects handed out in c. Returns the bytes of heap_live to refund
// (the slots not handed out): the caller applies them.
static AO_t mcache_uncache(struct mcache *c, struct mspan *s)
{
    uint64_t left = s->alloc_cache;
    if (s->window_black) {
        s->window_black = false;
        if (left != 0) {
            AO_and(&s->gcmark_bits[s->freeindex / 64], ~(AO_t)left);
            gch_atomic_add(&gch_gc.marked_bytes, -(AO_t)gch_popcount64(left) * s->elemsize);
        }
    }
    AO_int_store(&s->alloc_count, s->nelems - gch_span_count_free(s));
    unsigned cls = gch_spanclass_sizeclass(s->spanclass);
    AO_t used = s->alloc_count - s->alloc_count_cached;
    AO_store(&c->flushed_mallocs[cls], c->flushed_mallocs[cls] + used);
    AO_store(&c->flushed_bytes, c->flushed_bytes + used * s->elemsize);
    // The reservation of the slots not handed out; s is the mcentral's
    // once returned.
    AO_t refund = (AO_t)(s->nelems - s->alloc_count) * s->elemsize;
    uint32_t sg = (uint32_t)AO_load_acquire(&gch_mheap.sweepgen);
    if ((uint32_t)AO_load(&s->sweepgen) == sg + 3) {
        // Swept this cycle: it stays the cache's ([C4]), full or not. (The
        // partly used spans a flush uncaches at the end of a mark phase
        // used to go to the mcentral, where the next mark start's full
        // sweep, or another thread's refill, took them: with two threads,
        // some 70 spans per thread per cycle swept on the other core, their
        // fresh mark bits carved from that core's run.)
        AO_store_release(&s->sweepgen, (AO_t)sg);
        unsigned slot = gch_mcache_slot(s->spanclass);
        if (s->alloc_count == s->nelems)
            mcache_list_push(&c->full[slot], &c->full_tail[slot], s);
        else if (s->alloc_count != 0)
            mcache_list_push(&c->partial[slot], &c->partial_tail[slot], s);
        else // empty: after the partly free ones, as gch_mcache_adopt
            mcache_list_append(&c->partial[slot], &c->partial_tail[slot], s);
        return refund;
    }
    gch_mcentral_uncache_span(&gch_central[s->spanclass], s);
    return refund;
}

void gch_mcache_release_all(struct mcache *c, bool keep)
{
    AO_t refund = 0;
    for (unsigned i = 0; i < GCH_MCACHE_SLOTS; i++) {
        struct mspan *s = (struct mspan *)c->alloc[i];
        if (s != &gch_empty_span) {
            mcache_set(c, i, &gch_empty_span);
            refund += mcache_uncache(c, s);
        }
    }
    gch_atomic_add(&gch_stats.heap_live, c->live_pending - refund);
    c->live_pending = 0;
    uint32_t sg = (uint32_t)AO_load_acquire(&gch_mheap.sweepgen);
    for (unsigned i = 0; keep && i < GCH_NUM_SPAN_CLASSES; i++) {
        // [C6]: partly free spans first, so that the thread refills from
        // them before the full ones, which sweeping may leave full.
        GCH_ASSERT1(c->unswept[i] == NULL);
        struct mspan *head = c->partial[i], *tail = c->partial_tail[i];
        if (c->full[i] != NULL) {
            if (tail != NULL)
                tail->next = c->full[i];
            else
                head = c->full[i];
            tail = c->full_tail[i];
        }
        c->unswept[i] = head;
        c->unswept_tail[i] = tail;
        if (head != NULL)
            c->sweep_ahead = true;
        c->partial[i] = c->partial_tail[i] = NULL;
        c->full[i] = c->full_tail[i] = NULL;
    }
    // Without keep: one splice per class. A full list, newest first, goes
    // in front of the mcentral's set: the order the spans would have had if
    // each had gone there when it left the cache.
    for (unsigned i = 0; !keep && i < GCH_NUM_SPAN_CLASSES; i++) {
        if (c->unswept[i] != NULL) {
            gch_mcentral_give_unswept(&gch_central[gch_mcache_slot_spanclass(i)], sg, c->unswept[i],
                                      c->unswept_tail[i]);
            c->unswept[i] = c->unswept_tail[i] = NULL;
        }
        if (c->partial[i] != NULL || c->full[i] != NULL) {
            gch_mcentral_give_swept_lists(&gch_central[gch_mcache_slot_spanclass(i)], sg,
                                          c->partial[i], c->partial_tail[i], c->full[i],
                                          c->full_tail[i]);
            c->partial[i] = c->partial_tail[i] = NULL;
            c->full[i] = c->full_tail[i] = NULL;
        }
    }
    for (int i = 0; i < GCH_NUM_SIZE_CLASSES; i++) {
        if (c->flushed_mallocs[i] != 0) {
            gch_atomic_add(&gch_stats.mallocs[i], c->flushed_mallocs[i]);
            AO_store(&c->flushed_mallocs[i], 0);
        }
    }
    gch_atomic_add(&gch_stats.total_alloc, c->flushed_bytes);
    gch_atomic_add(&gch_stats.heap_alloc, c->flushed_bytes);
    AO_store(&c->flushed_bytes, 0);
    gch_sweep_tally_flush(&c->swept); // after the uncaching, which may sweep
    c->tiny = 0;
    c->tiny_offset = 0;
    gch_atomic_add(&gch_stats.tiny_allocs, AO_load(&c->tiny_allocs));
    AO_store(&c->tiny_allocs, 0);
}

// Caches a span with a free slot in cache slot slot. Returns false (errno =
// ENOMEM) if none can be had.
static bool mcache_refill(struct mcache *c, unsigned slot)
{
    uint8_t spc = gch_mcache_slot_spanclass(slot);
    struct mspan *s = (struct mspan *)c->alloc[slot];
    AO_t refund = 0; // heap_live of the span given back, applied below
    if (s != &gch_empty_span) {
        mcache_set(c, slot, &gch_empty_span);
        refund = mcache_uncache(c, s);
    }
    unsigned cls = gch_spanclass_sizeclass(spc);
    // What heap_live would gain: a span's worth, less the refund, plus
    // this cache's batch.
    int64_t gain = (int64_t)((uint64_t)gch_class_to_npages[cls] << GCH_PAGE_SHIFT) -
                   (int64_t)refund + (int64_t)c->live_pending;
    gch_maybe_collect(gain > 0 ? (uint64_t)gain : 0);
    unsigned list = gch_mcache_slot(spc); // a raw slot shares its class's
    s = c->partial[list];
    if (s != NULL) {
        // One of the spans this cache filled, swept ([C4]): mcentral's
        // cacheSpan without its lock.
        c->partial[list] = s->next;
        if (s->next == NULL)
            c->partial_tail[list] = NULL;
        else // the next refill's span: the sweep wrote it on another core
            __builtin_prefetch(s->next, 1);
        s->next = NULL;
        uint32_t sg = (uint32_t)AO_load_acquire(&gch_mheap.sweepgen);
        GCH_ASSERT1((uint32_t)AO_load(&s->sweepgen) == sg && s->alloc_count < s->nelems);
        AO_store_release(&s->sweepgen, (AO_t)(sg + 3));
    } else if (c->unswept[list] == NULL || (s = gch_mcache_sweep_own(c, list)) == NULL) {
        s = gch_mcentral_cache_span(&gch_central[spc]);
        if (s == NULL) {
            mcache_charge_live(c, -refund);
            return false;
        }
    }
    s->last_cache = c;
    s->kept_empty = false;
    AO_int_store(&s->alloc_count_cached, s->alloc_count);
    // The new span's reservation less the old one's refund.
    mcache_charge_live(c, (AO_t)((s->nelems - s->alloc_count) * s->elemsize) - refund);
    AO_int_store(&s->alloc_count, s->nelems); // [S9]
    uint32_t fi = s->freeindex;
    uint64_t free = s->alloc_cache;
    if (free == 0)
        fi = gch_span_find_window(s, &free);
    if (free == 0)
        gch_throw("mcentral gave a full span %p (class %u, %u/%u)", (void *)s->base, spc,
                  s->alloc_count, s->nelems);
    mcache_load_window(s, fi, free, gch_mcache_slot_zeroes(slot));
    mcache_set(c, slot, s);
    if (c->sweep_ahead)
        gch_mcache_sweep_ahead(c);
    return true;
}

bool gch_mcache_adopt(struct mspan *s)
{
    struct mcache *c = s->last_cache;
    if (c == NULL || !c->live)
        return false;
    GCH_ASSERT1(s->alloc_count < s->nelems && gch_spanclass_sizeclass(s->spanclass) != 0);
    unsigned slot = gch_mcache_slot(s->spanclass);
    // An empty span goes after the partly free ones, which fill first, so
    // that a thread needing fewer spans than last cycle leaves its empty
    // ones unused, to be freed by the next full sweep (sweep.c).
    if (s->alloc_count != 0)
        mcache_list_push(&c->partial[slot], &c->partial_tail[slot], s);
    else
        mcache_list_append(&c->partial[slot], &c->partial_tail[slot], s);
    return true;
}

// Files s, just swept by c's owner from c's unswept list i: on c's partial
// list with a free slot, on its full list without ([C4]); empty, kept once
// if keep_empty (gch_sweep_keep_empty), else freed to the page heap.
static void mcache_file_swept(struct mcache *c, unsigned i, struct mspan *s, bool keep_empty)
{
    if (s->alloc_count == 0) {
        if (!keep_empty || !gch_sweep_keep_empty(s))
            gch_mheap_free(s);
    } else if (s->alloc_count < s->nelems) {
        mcache_list_push(&c->partial[i], &c->partial_tail[i], s);
    } else {
        mcache_list_push(&c->full[i], &c->full_tail[i], s);
    }
}

void gch_mcache_sweep_ahead(struct mcache *c)
{
    uint32_t sg = (uint32_t)AO_load_acquire(&gch_mheap.sweepgen);
    for (unsigned n = 0; n < GCH_NUM_SPAN_CLASSES; n++) {
        unsigned i = c->sweep_cursor;
        struct mspan *s = gch_mcache_pop_unswept(c, i, sg);
        if (s == NULL) {
            c->sweep_cursor = (i + 1) % GCH_NUM_SPAN_CLASSES;
            continue;
        }
        gch_sweep_span(s, true); // swept (sweepgen h), still c's
        mcache_file_swept(c, i, s, true);
        return;
    }
    c->sweep_ahead = false; // every list is empty
}

bool gch_mcache_reclaim_own(struct mcache *c, uint32_t sg)
{
    for (unsigned i = 0; i < GCH_NUM_SPAN_CLASSES; i++) {
        struct mspan *s = gch_mcache_pop_unswept(c, i, sg);
        if (s == NULL)
            continue;
        gch_sweep_span(s, true);           // swept (sweepgen h), still the caller's
        mcache_file_swept(c, i, s, false); // an empty one: the pages wanted
        return true;
    }
    return false;
}

struct mspan *gch_mcache_pop_unswept(struct mcache *c, unsigned list, uint32_t sg)
{
    struct mspan *s = c->unswept[list];
    if (s == NULL)
        return NULL;
    struct mspan *next = s->next;
    c->unswept[list] = next;
    if (next == NULL) {
        c->unswept_tail[list] = NULL;
    } else {
        // The next pop's two lines: its link (the first) and its
        // sweepgen (the second), which the pop writes.
        __builtin_prefetch(next, 1);
        __builtin_prefetch(&next->sweepgen, 1);
    }
    s->next = NULL;
    // Only this list leads to s ([C6]), so nobody races for it: a plain
    // store takes it. (The CAS it replaces held 5% of a two-thread lazy
    // run's samples: a locked instruction waits for the pending stores.)
    if ((uint32_t)AO_load(&s->sweepgen) != sg - 2)
        gch_throw("span %p on an unswept cache list has sweepgen %u (heap %u)", (void *)s->base,
                  (unsigned)AO_load(&s->sweepgen), sg);
    AO_store(&s->sweepgen, (AO_t)(uint32_t)(sg - 1));
    return s;
}

struct mspan *gch_mcache_sweep_own(struct mcache *c, unsigned list)
{
    uint32_t sg = (uint32_t)AO_load_acquire(&gch_mheap.sweepgen);
    struct mspan *s;
    for (int budget = GCH_SPAN_BUDGET;
         budget > 0 && (s = gch_mcache_pop_unswept(c, list, sg)) != NULL; budget--) {
        if (gch_sweep_span(s, true)) {
            AO_store_release(&s->sweepgen, (AO_t)(sg + 3));
            return s;
        }
        // Still full, and swept now ([C4]).
        mcache_list_push(&c->full[list], &c->full_tail[list], s);
    }
    return NULL;
}

// The slow path's slow half: a new thread's cache, or a new span.
static GCH_NOINLINE uintptr_t mcache_alloc_refill(struct mcache *c, unsigned slot)
{
    if (c->is_empty) {
        // First allocation of this thread, or an allocation from a hook.
        gch_check_not_in_hook("gc_alloc called from a trace or roots hook");
        c = gch_mcache_get();
        if (c == NULL)
            return 0;
    }
    if (!mcache_refill(c, slot))
        return 0;
    return gch_span_take((struct mspan *)c->alloc[slot]);
}

// The common case of the slow path, once every 64 slots or fewer: the
// window of the cached span s is used up and s has another one. Kept free
// of calls so that the slow paths need no stack frame for it. Returns an
// object, or 0 if s has no free slot left (or is the empty span).
static GCH_NOINLINE uintptr_t mcache_load_window_take(struct mspan *s, uint32_t fi, uint64_t free,
                                                      bool zero)
{
    mcache_load_window(s, fi, free, zero);
    return gch_span_take(s);
}

// zero: s is cached in a scan or noscan slot, not a raw one ([C5]).
static inline uintptr_t mcache_next_window(struct mspan *s, bool zero)
{
    if (s == &gch_empty_span)
        return 0;
    uint64_t free;
    uint32_t fi = gch_span_find_window(s, &free);
    if (GCH_UNLIKELY(free == 0))
        return 0;
    // Windows to zero or to blacken take the call; the others are loaded
    // with their first slot already taken.
    if (GCH_UNLIKELY((zero && s->needzero) || AO_load(&gch_gc.phase) == GCH_PHASE_MARK))
        return mcache_load_window_take(s, fi, free, zero);
    gch_span_set_window(s, fi, free & (free - 1));
    uintptr_t p = s->window_base + (uint32_t)(gch_ctz64(free) * (uint32_t)s->elemsize);
    gch_check_alloc(p, s->elemsize);
    return p;
}

GCH_NOINLINE uintptr_t gch_mcache_alloc_slow(struct mcache *c, unsigned slot)
{
    uintptr_t p = mcache_next_window((struct mspan *)c->alloc[slot], gch_mcache_slot_zeroes(slot));
    if (GCH_LIKELY(p != 0))
        return p;
    return mcache_alloc_refill(c, slot);
}

// A cache slot that holds no span yet (or the empty view of a hook or a
// new thread): from size, as the fast path's map has no class to give.
static GCH_NOINLINE uintptr_t mcache_alloc_first(size_t size, bool has_ptrs)
{
    unsigned cls = gch_size_class(size);
    return mcache_alloc_refill(gch_tls_mcache, gch_mcache_slot(gch_spanclass(cls, !has_ptrs)));
}

// Every exit but the window's is a tail call, and size is dead after the
// first test, so the common case saves no more than s.
GCH_NOINLINE uintptr_t gch_mcache_alloc_small_slow(size_t size, bool has_ptrs, struct mspan *s)
{
    if (GCH_UNLIKELY(s == &gch_empty_span))
        return mcache_alloc_first(size, has_ptrs);
    uintptr_t p = mcache_next_window(s, true);
    if (GCH_LIKELY(p != 0))
        return p;
    // s is cached in the thread's own cache (the empty view holds only
    // the empty span).
    return mcache_alloc_refill(gch_tls_mcache, gch_mcache_slot(s->spanclass));
}

void gch_mcache_begin_mark_all(void)
{
    for (struct mcache *c = gch_gc.mcaches; c != NULL; c = c->next) {
        if (c->tiny != 0) {
            struct mspan *s = gch_span_of(c->tiny);
            if (gch_mark_slot(s, gch_span_obj_index(s, c->tiny)))
                gch_atomic_add(&gch_gc.marked_bytes, GCH_TINY_SIZE);
        }
        for (int i = 0; i < GCH_MCACHE_SLOTS; i++) {
            struct mspan *s = (struct mspan *)c->alloc[i];
            if (s != &gch_empty_span)
                mcache_blacken(s, s->freeindex, s->alloc_cache);
        }
    }
}

void gch_mcache_inflight(struct gch_inflight *out)
{
    memset(out, 0, sizeof *out);
    for (struct mcache *c = gch_gc.mcaches; c != NULL; c = c->next) {
        for (int i = 0; i < GCH_NUM_SIZE_CLASSES; i++) {
            out->by_class[i] += AO_load(&c->flushed_mallocs[i]);
            out->swept.frees[i] += AO_load(&c->swept.frees[i]);
        }
        out->swept.bytes += AO_load(&c->swept.bytes);
        out->swept.spans += AO_load(&c->swept.spans);
        out->tiny += AO_load(&c->tiny_allocs);
        out->bytes += AO_load(&c->flushed_bytes);
        for (int i = 0; i < GCH_MCACHE_SLOTS; i++) {
            struct mspan *s = (struct mspan *)AO_load(&c->alloc[i]);
            if (s == &gch_empty_span)
                continue;
            // [S9]: the span is charged whole while cached. Read while
            // the owner may allocate: clamp a torn snapshot.
            int64_t u = (int64_t)s->nelems - gch_span_count_free(s) -
                        (int64_t)AO_int_load(&s->alloc_count_cached);
            uint64_t used = u > 0 ? (uint64_t)u : 0;
            out->bytes += used * s->elemsize;
            out->by_class[gch_spanclass_sizeclass(s->spanclass)] += used;
        }
    }
}

size_t gch_gcwork_limit = SIZE_MAX;

void gch_gcwork_reset_room(struct gcwork *w)
{
    w->room = w->cap < gch_gcwork_limit ? w->cap : gch_gcwork_limit;
}

GCH_NOINLINE bool gch_gcwork_push_slow(struct gcwork *w, void *obj, size_t size)
{
    if (w->len >= gch_gcwork_limit)
        return false;
    if (w->len >= w->cap) {
        size_t cap = w->cap ? w->cap * 2 : GCWORK_INITIAL;
        struct gcwork_entry *stack = gch_os_alloc(cap * sizeof *stack);
        if (stack == NULL)
            return false;
        if (w->stack != NULL) {
            memcpy(stack, w->stack, w->len * sizeof *stack);
            gch_os_free(w->stack, w->cap * sizeof *stack);
        }
        w->stack = stack;
        w->cap = cap;
    }
    gch_gcwork_reset_room(w);
    w->stack[w->len].obj = obj;
    w->stack[w->len].size = size;
    w->len++;
    return true;
}
