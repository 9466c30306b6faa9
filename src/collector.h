// collector.h: the collector's internal declarations, kept apart so that
// internal.h stays short: the sweeper (sweep.c), the marker's per-thread
// work (gcwork), the mark phase and pacing (mark.c), generational mode
// (gen.c) and the shared statistics (stats.c). Sectioned by the file that
// defines them, as internal.h is. See malloc.c for the overview.
//
// Included by internal.h only, never on its own: it relies on what
// internal.h declares before it (struct mspan, struct gch_mutex, AO_t) and
// on its visibility pragma, and it comes before struct mcache, which embeds
// struct gcwork. The lock order is at the top of internal.h.
#ifndef GCHEAP_COLLECTOR_H
#define GCHEAP_COLLECTOR_H

#ifndef GCHEAP_INTERNAL_H
#error "collector.h is included by internal.h only: include internal.h"
#endif

// ---------------------------------------------------------------- sweep.c

// Sweeps s, which the caller owns (its sweepgen is h-1). With preserve,
// the span goes back to the caller (it is about to be cached); otherwise
// it is pushed to its mcentral's swept set or freed if empty. Returns
// true if the span (when preserved) has a free slot.
bool gch_sweep_span(struct mspan *s, bool preserve);
// What sweeps freed and have not added to gch_stats yet. Adding to the
// shared counters for each span took three atomic adds on lines every
// sweeping thread writes: with two threads sweeping lazily, 86% of the
// sweep's samples sat on them. So a full sweep sums into a tally of its
// own and adds it once, and a lazy sweep sums into its thread's cache
// (mcache.swept), which is added at each flush of the cache (every mark
// termination, thread exit) and counted until then by gc_get_stats
// (gch_mcache_inflight). Written by its owner with AO_store, since other
// threads read a cache's tally; or with the world stopped.
struct gch_sweep_tally {
    AO_t frees[GCH_NUM_SIZE_CLASSES]; // objects freed, by size class
    AO_t bytes;                       // their bytes (heap_alloc's decrease)
    AO_t spans;                       // spans swept
};
// Adds *t to gch_stats and zeroes it. Owner of *t, or STW.
void gch_sweep_tally_flush(struct gch_sweep_tally *t);
// s, just swept and empty: keeps it for its last cache once ([C4]; see
// sweep.c) and returns true, or returns false (the caller frees it).
// STW, or the owner of s->last_cache.
bool gch_sweep_keep_empty(struct mspan *s);
// Tries to take ownership of an unswept span (h-2 -> h-1).
bool gch_sweep_try_acquire(struct mspan *s, uint32_t sg);
// Sweeps one unswept span for the page heap, which needs pages before it
// grows: a large span first (a dead one frees its pages at once), then one
// of the caller's own ([C6]; a partly free one stays the caller's, [C4]),
// then any mcentral's. False when none is left that the caller may sweep.
bool gch_sweep_one(void);
// Sweeps everything left (before a mark phase, or at the end of gc_collect),
// with every other thread stopped (gch_gc.lock held): the mcentrals'
// unswept sets and the caches' unswept lists ([C6]); partly free spans go
// back to the caches that filled them ([C4]).
void gch_finish_sweep(void);

// ---------------------------------------------- gcwork (mcache.c, mark.c)

// Per-thread work of the marker (Go's gcWork): an off-heap stack of
// objects to trace, and gc_mark's span cache. All fields: owner.
//   [W1] inside a drain (depth == 1): stack <= top <= limit ==
//        stack + room, room <= cap, and room <= gch_gcwork_limit as it was
//        when the drain began (or the stack last grew), so a push compares
//        two pointers. The entries are [stack, top); len is stale there,
//        except across gch_gcwork_push_slow (mark.c sets len = top - stack
//        before the call and reloads top and limit after it).
//   [W3] outside a drain (depth == 0): len == 0; top and limit are stale.
//   [W2] span_bytes == 0 outside a drain; inside one, span is an in-use
//        span, [span_base, span_base + span_bytes) == [span->base,
//        span->limit), and span_divmul, span_elemsize, span_gcmark_bits and
//        span_alloc_bits equal span's fields, span_scan ==
//        !gch_spanclass_noscan(span->spanclass). It stays so for the whole
//        drain: spans are freed, and their bitmaps replaced, only by
//        sweeping, never during a mark phase.
struct gcwork_entry {
    void *obj;
    size_t size; // gc_size(obj), known when it was marked: no second lookup
};
struct gcwork {
    // The span cache ([W2]): gc_mark's fast path reads only these and the
    // stack pointers, never the span itself.
    uintptr_t span_base;
    uintptr_t span_bytes;
    uint32_t span_divmul;
    bool span_scan;
    size_t span_elemsize;
    AO_t *span_gcmark_bits;
    AO_t *span_alloc_bits;
    struct gcwork_entry *top, *limit; // see [W1]

    struct gcwork_entry *stack;
    size_t len, room, cap;
    uint64_t marked_bytes; // bytes marked by this thread; summed at gc_sweep
    int depth;             // 1 inside a drain (the outermost gc_mark's), else 0
    struct mspan *span;    // see [W2]
};

// [W2] inside a drain (for assertions and tests).
static inline bool gch_gcwork_span_cache_ok(const struct gcwork *w)
{
    const struct mspan *s = w->span;
    return s->state == MSPAN_IN_USE && w->span_base == s->base &&
           w->span_bytes == s->limit - s->base && w->span_divmul == s->divmul &&
           w->span_elemsize == s->elemsize && w->span_scan == !gch_spanclass_noscan(s->spanclass) &&
           w->span_gcmark_bits == s->gcmark_bits && w->span_alloc_bits == s->alloc_bits;
}

// Mark-stack push, the slow half (mcache.c): grows the stack, honours the
// limit. Works on len (see [W1]). False if the stack cannot grow.
bool gch_gcwork_push_slow(struct gcwork *w, void *obj, size_t size);
// The same inside a drain (mark.c): wraps gch_gcwork_push_slow, keeping
// top and limit right ([W1]).
bool gch_gcwork_push_grow(struct gcwork *w, void *obj, size_t size);
// Mark-stack push inside a drain. False if the stack cannot grow.
// Inline: the marker pushes once per object traced.
static inline bool gch_gcwork_push(struct gcwork *w, void *obj, size_t size)
{
    struct gcwork_entry *t = w->top;
    if (GCH_UNLIKELY(t == w->limit))
        return gch_gcwork_push_grow(w, obj, size);
    t->obj = obj;
    t->size = size;
    w->top = t + 1;
    return true;
}

// Upper bound on a mark stack's entries (tests lower it to force the
// overflow path); SIZE_MAX by default. Read when a drain begins.
extern size_t gch_gcwork_limit;
// Sets room from cap and gch_gcwork_limit ([W1]); when a drain begins.
void gch_gcwork_reset_room(struct gcwork *w);

// ----------------------------------------------------------------- mark.c

enum gch_phase {
    GCH_PHASE_MUTATE = 0,
    GCH_PHASE_MARK = 1,
    GCH_PHASE_TERMINATE = 2, // gc_sweep is ending the mark phase: gc_mark is a host bug
};

// Global collector state.
struct gch_gc {
    pthread_mutex_t lock;
    AO_t phase;               // enum gch_phase; atomic
    AO_t trace_fn, trace_ctx; // atomic (set outside collections)
    AO_t roots_fn, roots_ctx; // atomic
    AO_t gogc;                // int stored as AO_t; atomic
    AO_t next_gc;             // atomic
    AO_t mark_overflow;       // atomic: a push failed, rescan needed
    AO_t marked_bytes;        // atomic: bytes marked this cycle
    AO_t mark_exclusive;      // atomic: the mcache of the one thread allowed
                              // to mark (inside gc_collect), else 0
    struct mcache *mcaches;   // protected by lock
    uint64_t start_ns;        // immutable after init
    uint64_t mark_start_ns;   // protected by lock
    uint64_t heap_at_mark;    // protected by lock
    uint64_t last_freed;      // objects freed by the last completed sweep
    AO_t keep_no_empty;       // atomic: a collection for the memory limit
                              // runs; its sweeps keep no empty span
};
extern struct gch_gc gch_gc;

// Begins a mark phase if none is running: finishes sweeping, rotates the
// bitmap epochs, marks tiny blocks, opens allocate-black windows.
void gch_begin_mark(void);
// Marks the object in slot idx of s; true if newly marked. No tracing.
bool gch_mark_slot(struct mspan *s, uint32_t idx);
// Aborts with a "gcheap: <what>" line if the thread is inside a hook.
void gch_check_not_in_hook(const char *what);

// ----------------------------------------------------------------- pacer.c

#define GCH_MIN_HEAP_GOAL ((uint64_t)4 << 20) // Go's heapMinimum at GOGC=100

// The heap goal GOGC gives for live bytes (max(4 MiB, live * (1 +
// GOGC/100))), UINT64_MAX when GOGC is off.
uint64_t gch_heap_goal(uint64_t live);
// After a collection (gch_gc.lock held): returns free pages to the OS,
// keeping what the next cycles will use. inuse_peak: span bytes in use
// when the cycle began.
void gch_pacer_scavenge(uint64_t live, uint64_t inuse_peak);
// Runs an automatic collection if the pacer asks for one before an
// allocation of extra bytes.
void gch_maybe_collect(uint64_t extra);
// Collects because the memory limit stops the heap from growing. Returns
// false if it cannot (no roots hook, a mark phase running, inside a hook).
bool gch_collect_for_limit(void);

// ------------------------------------------------------------------- gen.c

// Generational mode (gcheap.h "generations"; the design is at the top of
// gen.c).
//   [G1] sticky == 1 from the mark termination of a cycle run with the mode
//        on and a trace hook set, to the next termination: every sweep in
//        between copies the survivors' marks into the fresh mark bits.
//   [G2] while sticky == 1 and no mark phase runs, a mark bit set on a
//        swept span means allocated and old; a scan object written since
//        the last cycle whose mark bit is clear, or whose span was not
//        swept when it was written, is in log[0, len), or overflow is set.
//   [G3] len <= cap; log == NULL iff cap == 0
struct gch_gen {
    AO_t on;               // atomic: gc_set_generational's setting
    AO_t sticky;           // atomic: see [G1]; written at mark termination
    AO_t withdrawn_bytes;  // atomic: bytes of old objects the barrier unmarked
    bool minor;            // the cycle running, or the last one, is minor;
                           // protected by gch_gc.lock
    bool major_due;        // protected by gch_gc.lock
    unsigned skip;         // cycles to run major before trying minor again
    unsigned backoff;      // the last skip; both protected by gch_gc.lock
    uint64_t major_live;   // live bytes after the last major cycle; gch_gc.lock
    uint64_t old_bytes;    // in a minor cycle, the old bytes at its start (an
                           // estimate, for gc_sweep's live figure); gch_gc.lock
    struct gch_mutex lock; // a leaf: protects the log
    void **log;            // old objects written since the last cycle ([G2])
    size_t len, cap;       // see [G3]
    bool overflow;         // the log lost an entry: the next cycle is major
};
extern struct gch_gen gch_gen;

// When a mark phase begins (gch_gc.lock held, sweeping finished, before
// allocate-black): chooses a minor or a major cycle and returns true for
// minor. A major cycle after sticky sweeps clears every mark bit first;
// a major cycle drops the log. can_minor: a trace hook is set and the
// thread has a cache to trace the log with. live_before: live bytes after
// the previous cycle.
bool gch_gen_begin_cycle(bool can_minor, uint64_t live_before);
// The log of the minor cycle that just began, n entries: valid until
// gch_gen_log_clear, which the tracer calls when it has traced them all.
void *const *gch_gen_log(size_t *n);
void gch_gen_log_clear(void);
// At mark termination (gch_gc.lock held), before the sweepgen flip: sets
// sticky for the sweeps to come ([G1]) and counts a minor cycle.
void gch_gen_end_cycle(void);
// After a cycle (gch_gc.lock held): the next heap goal for live bytes, and
// whether the next cycle must be major (see gen.c, Pacing and Backoff);
// heap_at_mark: heap_alloc when the mark phase began; *major_now:
// a minor cycle left the heap at its goal, so collect again at once.
uint64_t gch_gen_pace(uint64_t live, uint64_t heap_at_mark, bool *major_now);

// ----------------------------------------------------------------- stats.c

// Shared statistics, all atomic. Updated on slow paths only: allocations
// are counted per span when it leaves an mcache (Go's way), frees when
// spans are swept.
struct gch_stats {
    AO_t heap_alloc; // bytes of objects in uncached spans + flushed
    // Pacing (Go's heapLive): the live bytes of the last cycle (set when it
    // ends: the marked bytes, or heap_alloc after gc_collect's full sweep)
    // plus what has been allocated since, a cached span's whole free space
    // charged when it is cached and the unused part refunded when it
    // leaves. Sweeping never lowers it: what a sweep frees was left out
    // when the cycle ended, so garbage a lazy sweep has not reached yet
    // does not bring the next collection forward.
    AO_t heap_live;
    AO_t heap_sys; // committed arena bytes
    AO_t heap_released;
    AO_t heap_inuse; // bytes of in-use spans
    AO_t total_alloc;
    AO_t tiny_allocs;
    AO_t num_gc;
    AO_t num_minor_gc;
    AO_t pause_total_ns;
    AO_t live_after_gc;
    AO_t mallocs[GCH_NUM_SIZE_CLASSES];
    AO_t frees[GCH_NUM_SIZE_CLASSES];
    AO_t spans_swept; // spans swept since start (tests: nothing swept twice)
};
extern struct gch_stats gch_stats;
// Spans swept since start, the caches' unflushed tallies included (tests).
uint64_t gch_spans_swept(void);
uint64_t gch_nanotime(void);

#endif
