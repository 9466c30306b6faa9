// mark.c owns the collector's entry points: gc_mark, gc_mark_range,
// gc_sweep, gc_collect and the hooks. See malloc.c for the
// overview; Go counterpart: mgc.go (gcStart, gcMarkTermination),
// mgcmark.go (greyobject, gcDrain).
//
// Marking is the host's: gcheap only keeps the bits. gc_mark(p) finds the
// object holding p in O(1) (span map, then the division magic), refuses
// free slots and objects born black, and sets the mark bit with a CAS (a
// plain store where gc_collect marks alone) so that exactly one caller per
// cycle sees "newly marked". With a trace hook, a newly marked scan object
// is pushed on the thread's off-heap stack and the outermost gc_mark
// drains it; the hook's own gc_mark calls only push, so marking depth
// costs heap memory, never C stack.
//
// Speed (the marker runs once per object: binary-trees re-marks a
// million-node tree per collection). gc_mark first loads a thread-local
// pointer set only while the thread drains inside gc_collect, where no
// other thread marks or allocates; that path (mark_in_drain, exclusive)
// has no phase check, no CAS and no window seqlock, and leaves by a tail
// call for every rare case, so it saves no register. It reads a span cache
// in the thread's gcwork ([W2]): the fields of the span of the last object
// marked, so a neighbour skips the span map and the span itself. A set
// alloc bit proves "allocated" in one load (objects that survived a
// sweep); only the others test the window. Drains outside gc_collect (the
// host's gc_mark with a trace hook, on several threads at once) run the
// same code with a CAS ("shared"). The drain prefetches the entries whose
// gc_mark missed the span cache and that lie away from the object it
// traced last, parking them in a small FIFO until their lines arrive
// (mark_drain_run). Measured (x86-64, gcc -O2, callgrind,
// binary-trees 14; per tree node, one newly marked object and one NULL):
// gc_mark 53 instructions (100 before this path), the drain 11 (19), the
// host's trace hook 7; binary-trees 19 spent 0.90 s in collections
// instead of 1.19 s (0.75 s since the prefetch ring parks less, below).
//
// If the stack cannot grow, the object stays marked but untraced and a
// global overflow flag is raised; the drain then re-traces every marked
// scan object of the heap until a pass leaves the flag down. Marks are
// never lost, only time.
//
// Phases (gcheap.h): MUTATE -> MARK (first gc_mark; gch_begin_mark) ->
// gc_sweep (flush caches, flip sweepgen) -> MUTATE. Transitions take
// gch_gc.lock; gc_mark's phase check is one acquire load.
//
// Generations (gen.c): when the mark phase begins, gen.c chooses a minor
// or a major cycle; a minor one starts with the thread that began it
// tracing the objects the write barrier logged (mark_trace_log), and its
// gc_mark meets old objects as already marked.
//
// Pacing: pacer.c.
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

struct gch_gc gch_gc = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .gogc = 100,
    .next_gc = GCH_MIN_HEAP_GOAL,
};

void gch_check_not_in_hook(const char *what)
{
    struct mcache *c = gch_tls_owner;
    if (GCH_UNLIKELY(c != NULL && c->in_hook))
        gch_throw("%s", what);
}

bool gch_mark_slot(struct mspan *s, uint32_t idx)
{
    return gch_atomic_set_bits(&s->gcmark_bits[idx >> 6], (AO_t)1 << (idx & 63));
}

static uint64_t mark_heap_alloc_now(void)
{
    struct gch_inflight f;
    gch_mcache_inflight(&f);
    return AO_load(&gch_stats.heap_alloc) + f.bytes - f.swept.bytes;
}

static void mark_verify(const char *when)
{
    char why[256];
    if (!gch_heap_verify(why, sizeof why))
        gch_throw("heap verification failed %s: %s", when, why);
}

static void mark_trace_log(struct mcache *c);

void gch_begin_mark(void)
{
    gch_init();
    if (AO_load_acquire(&gch_gc.phase) == GCH_PHASE_TERMINATE)
        gch_throw("gc_mark called while gc_sweep ends the mark phase on another thread");
    // A minor cycle's logged objects are traced on this thread, from its
    // cache's mark stack: got before the lock, which making a cache takes.
    struct mcache *tracer = AO_load(&gch_gen.sticky) != 0 ? gch_mcache_get() : NULL;
    bool minor = false;
    pthread_mutex_lock(&gch_gc.lock);
    if (AO_load(&gch_gc.phase) != GCH_PHASE_MARK) {
        gch_finish_sweep();
        gch_gcbits_rotate();
        if (gch_debug.verify || GCH_DEBUG >= 3)
            mark_verify("before marking");
        minor = gch_gen_begin_cycle(tracer != NULL && AO_load(&gch_gc.trace_fn) != 0,
                                    AO_load(&gch_stats.live_after_gc));
        gch_gc.mark_start_ns = gch_nanotime();
        gch_gc.heap_at_mark = mark_heap_alloc_now();
        AO_store(&gch_gc.marked_bytes, 0);
        for (struct mcache *c = gch_gc.mcaches; c != NULL; c = c->next)
            c->work.marked_bytes = 0;
        gch_mcache_begin_mark_all();
        AO_store_release(&gch_gc.phase, GCH_PHASE_MARK);
    }
    pthread_mutex_unlock(&gch_gc.lock);
    if (minor)
        mark_trace_log(tracer);
}

// Traces every marked object of one scan span (overflow recovery).
static void mark_rescan_span(struct mspan *s, void *ctx)
{
    gc_trace_fn trace = (gc_trace_fn)ctx;
    if (s->state != MSPAN_IN_USE || gch_spanclass_noscan(s->spanclass))
        return;
    void *hook_ctx = (void *)AO_load(&gch_gc.trace_ctx);
    for (uint32_t i = 0; i < s->nelems; i++) {
        // A free slot of a cached window is marked in advance ([S10]):
        // only allocated slots hold objects to trace.
        if (gch_mark_bit_get(s->gcmark_bits, i) && gch_span_slot_allocated(s, i))
            trace((void *)(s->base + (uintptr_t)i * s->elemsize), s->elemsize, hook_ctx);
    }
}

// The gcwork of the drain this thread runs, if any: exclusive inside
// gc_collect, where no other thread marks, else shared. At most one is
// set, and only while the thread's depth is 1. gc_mark tests the
// exclusive one first, so that gc_collect's marking pays for no other test.
static _Thread_local struct gcwork *mark_tls_exclusive GCH_TLS_MODEL;
static _Thread_local struct gcwork *mark_tls_shared GCH_TLS_MODEL;

// [W1]: the stack pointers from stack, len and room.
static void mark_work_load(struct gcwork *w)
{
    if (w->stack == NULL) {
        w->top = w->limit = NULL;
        return;
    }
    w->top = w->stack + w->len;
    w->limit = w->stack + w->room;
}

bool gch_gcwork_push_grow(struct gcwork *w, void *obj, size_t size)
{
    GCH_ASSERT1(w->depth == 1 && w->top == w->limit);
    w->len = w->stack != NULL ? (size_t)(w->top - w->stack) : 0;
    bool ok = gch_gcwork_push_slow(w, obj, size);
    mark_work_load(w);
    return ok;
}

// The drain's prefetch ring (Boehm's and Cher/Hosking's "prefetch on
// grey"). An object whose gc_mark missed the span cache lies in another
// span than the object marked before it, so perhaps in a cold line: it is
// pushed flagged MARK_FAR (bit 0 of the entry's obj; objects are 8-byte
// aligned). Whether its line is cold is decided when the drain pops it:
// a far entry that lies more than MARK_NEAR bytes from the object traced
// just before is prefetched and parked in a ring of MARK_PREFETCH entries,
// to be traced MARK_PREFETCH such pops later, when its line has arrived.
// Every other entry is traced at once, in LIFO order, which keeps the
// address-ordered walk that a heap allocated in traversal order gives, and
// that the hardware prefetcher already serves.
//
// Both tests are needed. The push-time flag alone parks too much: in a
// tree built bottom-up, a left child lies past its sibling's whole subtree
// from its parent (a span-cache miss at the push), yet the depth-first
// drain pops it just after tracing that subtree's last node, its neighbour
// in memory. Parking those children (1% of the entries) broke the walk
// each time: binary-trees 19 spent 13% more CPU time, the tree
// micro-benchmark marked a fifth fewer objects per second (session 12,
// [MARK_NEAR] in bench/NOTES.md). Without the ring, a tree scattered over
// the heap marks at a quarter of its rate with it. Only far entries pay
// the distance test; the drain keeps the last traced address in a
// register. Power of two.
#define MARK_PREFETCH 16
#define MARK_FAR      ((uintptr_t)1)
#define MARK_NEAR     ((uintptr_t)16384)

// The ring: a FIFO of the n entries parked, the oldest at slot i - n.
struct mark_ring {
    unsigned i, n;
    struct gcwork_entry e[MARK_PREFETCH];
};

// Parks e (prefetching its line). Returns the oldest entry, which leaves a
// full ring to be traced now, or {NULL, 0}.
static inline struct gcwork_entry mark_ring_park(struct mark_ring *r, struct gcwork_entry e)
{
    __builtin_prefetch(e.obj);
    struct gcwork_entry oldest = {NULL, 0};
    if (r->n < MARK_PREFETCH)
        r->n++;
    else
        oldest = r->e[r->i];
    r->e[r->i] = e;
    r->i = (r->i + 1) % MARK_PREFETCH;
    return oldest;
}

// A drain's frame: the thread's allocation view and hook flag, restored
// when it ends.
struct mark_frame {
    struct mcache *view;
    bool was_in_hook;
};

// Enters a drain: the trace hook then runs with the thread flagged in_hook
// and its allocation view emptied, so a gc_alloc from the hook reaches the
// slow path and is reported there; gc_mark on this thread only pushes.
// exclusive: no other thread marks until the drain ends (gc_collect).
static struct mark_frame mark_drain_enter(struct mcache *c, bool exclusive)
{
    struct gcwork *w = &c->work;
    GCH_ASSERT1(w->depth == 0 && w->len == 0);
    GCH_ASSERT1(mark_tls_exclusive == NULL && mark_tls_shared == NULL);
    struct mark_frame f = {gch_tls_mcache, c->in_hook};
    gch_tls_mcache = &gch_empty_mcache;
    c->in_hook = true;
    w->depth = 1;
    w->span_bytes = 0;
    gch_gcwork_reset_room(w);
    mark_work_load(w);
    if (exclusive)
        mark_tls_exclusive = w;
    else
        mark_tls_shared = w;
    return f;
}

static void mark_drain_leave(struct mcache *c, struct mark_frame f)
{
    struct gcwork *w = &c->work;
    GCH_ASSERT1(w->depth == 1 && w->top == w->stack);
    mark_tls_exclusive = NULL;
    mark_tls_shared = NULL;
    w->len = 0;
    w->depth = 0;
    w->span_bytes = 0;
    c->in_hook = f.was_in_hook;
    gch_tls_mcache = f.view;
}

// Pops and traces until the thread's stack and ring are empty and no
// overflow is pending. The stack and the ring are empty whenever the loop
// looks at the overflow flag: a rescan runs only when no entry waits.
static void mark_drain_run(struct gcwork *w, gc_trace_fn trace)
{
    void *ctx = (void *)AO_load(&gch_gc.trace_ctx);
    struct mark_ring ring;
    ring.i = ring.n = 0;
    uintptr_t last = 0; // the object traced last
    for (;;) {
        struct gcwork_entry e;
        struct gcwork_entry *t = w->top;
        if (GCH_LIKELY(t != w->stack)) {
            e = *--t;
            w->top = t;
            if (GCH_UNLIKELY((uintptr_t)e.obj & MARK_FAR)) {
                e.obj = (void *)((uintptr_t)e.obj - MARK_FAR);
                // Not near the last traced: park it; once the ring is
                // full, trace the oldest instead.
                if ((uintptr_t)e.obj - last + MARK_NEAR >= 2 * MARK_NEAR) {
                    e = mark_ring_park(&ring, e);
                    if (e.obj == NULL)
                        continue;
                }
            }
        } else if (ring.n > 0) {
            e = ring.e[(ring.i - ring.n) % MARK_PREFETCH];
            ring.n--;
        } else if (AO_load(&gch_gc.mark_overflow) != 0) {
            AO_store(&gch_gc.mark_overflow, 0);
            gch_mheap_for_each_span(mark_rescan_span, (void *)trace);
            continue;
        } else {
            break;
        }
        GCH_ASSERT2(((uintptr_t)e.obj & 7) == 0);
        last = (uintptr_t)e.obj;
        trace(e.obj, e.size, ctx);
    }
}

// Pushes obj, then drains; returns true (gc_mark's answer).
static GCH_NOINLINE bool mark_drain(struct mcache *c, void *obj, size_t size, gc_trace_fn trace,
                                    bool exclusive)
{
    struct mark_frame f = mark_drain_enter(c, exclusive);
    if (!gch_gcwork_push(&c->work, obj, size))
        AO_store(&gch_gc.mark_overflow, 1);
    mark_drain_run(&c->work, trace);
    mark_drain_leave(c, f);
    return true;
}

// Traces the objects the write barrier logged (gen.c), the roots a minor
// cycle adds to the host's: each is marked again (the barrier withdrew the
// mark of most) and pushed whether newly marked or not, since an old
// object is marked but was never traced in this cycle. Shared: other
// threads may begin marking as soon as the phase is published.
static void mark_trace_log(struct mcache *c)
{
    size_t n;
    void *const *log = gch_gen_log(&n);
    gc_trace_fn trace = (gc_trace_fn)AO_load_acquire(&gch_gc.trace_fn);
    if (n != 0 && trace != NULL) {
        struct mark_frame f = mark_drain_enter(c, false);
        struct gcwork *w = &c->work;
        for (size_t i = 0; i < n; i++) {
            // Checked by the barrier, but an object the host had dropped
            // when it wrote into it may have been swept since (gen.c):
            // its slot, or its whole span, is free then. Skipped.
            uintptr_t p = (uintptr_t)log[i];
            struct mspan *s = gch_span_of(p);
            if (s == NULL || s->state != MSPAN_IN_USE || p < s->base || p >= s->limit)
                continue;
            uint32_t idx = gch_span_obj_index(s, p);
            if (!gch_span_slot_allocated(s, idx))
                continue;
            if (gch_mark_slot(s, idx))
                w->marked_bytes += s->elemsize;
            if (!gch_gcwork_push(w, log[i], s->elemsize))
                AO_store(&gch_gc.mark_overflow, 1);
        }
        mark_drain_run(w, trace);
        mark_drain_leave(c, f);
    }
    gch_gen_log_clear();
}

// ----------------------------------------------------- gc_mark in a drain
//
// The hook's gc_mark calls: the thread drains, so every newly marked scan
// object is pushed. Each step is written once, as an always-inline
// function of `exclusive`, and instantiated twice: exclusive (gc_collect:
// plain stores to the mark words) and shared (a CAS). Every rare case is a
// tail call to an out-of-line function, so the common paths save no
// register and build no frame.

#define MARK_INLINE static inline __attribute__((always_inline))

// Sets bit in the mark word *word, last read as old (bit clear there), by
// CAS. Returns true if this call set it. The first CAS reuses the read.
MARK_INLINE bool mark_word_cas(AO_t *word, AO_t old, AO_t bit)
{
    return AO_fetch_compare_and_swap_full(word, old, old | bit) == old ||
           gch_atomic_set_bits(word, bit);
}

// The stack is full: grows it, or raises the overflow flag. Returns true.
static GCH_NOINLINE bool mark_push_full(struct gcwork *w, void *obj, size_t size)
{
    if (!gch_gcwork_push_grow(w, obj, size))
        AO_store(&gch_gc.mark_overflow, 1);
    return true;
}

// Counts a newly marked object of the cached span and pushes it if it is a
// scan object, flagged MARK_FAR if far. Returns true.
MARK_INLINE bool mark_cached_grey(struct gcwork *w, uint32_t idx, uintptr_t far)
{
    size_t size = w->span_elemsize;
    w->marked_bytes += size;
    if (GCH_UNLIKELY(!w->span_scan))
        return true;
    void *obj = (void *)(w->span_base + (uintptr_t)idx * size + far);
    struct gcwork_entry *t = w->top;
    if (GCH_UNLIKELY(t == w->limit))
        return mark_push_full(w, obj, size);
    t->obj = obj;
    t->size = size;
    w->top = t + 1;
    return true;
}

// Slot idx of the cached span, unmarked, with its alloc bit clear: it is
// allocated if below the window, or handed out from it
// (gch_span_slot_allocated); a free slot is refused.
MARK_INLINE bool mark_cached_window(struct gcwork *w, uint32_t idx, uintptr_t far, bool exclusive)
{
    if (!gch_span_slot_allocated(w->span, idx))
        return false;
    AO_t *word = &w->span_gcmark_bits[idx >> 6];
    AO_t bit = (AO_t)1 << (idx & 63);
    if (exclusive)
        AO_store(word, AO_load(word) | bit);
    else if (!gch_atomic_set_bits(word, bit))
        return false;
    return mark_cached_grey(w, idx, far);
}
static GCH_NOINLINE bool mark_window_exclusive(struct gcwork *w, uint32_t idx, uintptr_t far)
{
    return mark_cached_window(w, idx, far, true);
}
static GCH_NOINLINE bool mark_window_shared(struct gcwork *w, uint32_t idx, uintptr_t far)
{
    return mark_cached_window(w, idx, far, false);
}

// Marks the object at offset off of the cached span (off < span_bytes);
// far: MARK_FAR or 0, for the push. A slot whose alloc bit is set is
// allocated ([S3], [S4]: allocation never sets alloc bits, and only
// sweeping clears them), which answers with one load for every object
// that survived the last cycle; the others take the window test out of
// line.
MARK_INLINE bool mark_cached(struct gcwork *w, uintptr_t off, uintptr_t far, bool exclusive)
{
    uint32_t idx = (uint32_t)(((uint64_t)off * w->span_divmul) >> 32);
    GCH_ASSERT2(gch_gcwork_span_cache_ok(w) && off < w->span_bytes && idx < w->span->nelems);
    AO_t *word = &w->span_gcmark_bits[idx >> 6];
    AO_t bit = (AO_t)1 << (idx & 63);
    AO_t old = AO_load(word);
    // Already marked (shared structure; or a free window slot marked in
    // advance, [S10]): nothing else to check.
    if (old & bit)
        return false;
    if (GCH_UNLIKELY((w->span_alloc_bits[idx >> 6] & bit) == 0))
        return exclusive ? mark_window_exclusive(w, idx, far) : mark_window_shared(w, idx, far);
    if (exclusive)
        AO_store(word, old | bit);
    else if (!mark_word_cas(word, old, bit))
        return false;
    return mark_cached_grey(w, idx, far);
}

// A span-cache miss: any value a hook may pass lands here (the span cache
// is empty at a drain's start). Looks p up in the span map, caches its
// span ([W2]), then marks; the object is pushed far (MARK_FAR).
MARK_INLINE bool mark_lookup(struct gcwork *w, uintptr_t p, bool exclusive)
{
    // Outside [first page, 2^48): no heap address, and no value that
    // gch_span_of would refuse.
    if (p - GCH_PAGE_SIZE >= ((uintptr_t)1 << GCH_ADDR_BITS) - GCH_PAGE_SIZE)
        return false;
    struct mspan *s = gch_span_of(p);
    if (s == NULL || s->state != MSPAN_IN_USE || p < s->base || p >= s->limit)
        return false;
    if (gch_span_obj_index(s, p) >= s->nelems) // never ([S2], [S5]); guards
        return false;                          // the bitmap reads
    w->span = s;
    w->span_base = s->base;
    w->span_bytes = s->limit - s->base;
    w->span_divmul = s->divmul;
    w->span_scan = !gch_spanclass_noscan(s->spanclass);
    w->span_elemsize = s->elemsize;
    w->span_gcmark_bits = s->gcmark_bits;
    w->span_alloc_bits = s->alloc_bits;
    return mark_cached(w, p - s->base, MARK_FAR, exclusive);
}
static GCH_NOINLINE bool mark_lookup_exclusive(struct gcwork *w, uintptr_t p)
{
    return mark_lookup(w, p, true);
}
static GCH_NOINLINE bool mark_lookup_shared(struct gcwork *w, uintptr_t p)
{
    return mark_lookup(w, p, false);
}

// gc_mark(p) on a thread that drains. NULL, the commonest value a trace
// hook passes (every leaf's children), costs one test; a neighbour of the
// last object marked hits the span cache.
MARK_INLINE bool mark_in_drain(struct gcwork *w, uintptr_t p, bool exclusive)
{
    if (p == 0)
        return false;
    uintptr_t off = p - w->span_base;
    if (GCH_UNLIKELY(off >= w->span_bytes))
        return exclusive ? mark_lookup_exclusive(w, p) : mark_lookup_shared(w, p);
    return mark_cached(w, off, 0, exclusive);
}

// ------------------------------------------------ gc_mark outside a drain
//
// The host's own calls: roots, marking without a trace hook, and the first
// gc_mark of a mark phase. A newly marked scan object starts a drain when
// there is a trace hook.

// A newly marked object, on a thread with a cache: counts it and has it
// traced if it is a scan object and there is a trace hook.
static inline bool mark_grey(struct mcache *c, struct mspan *s, uint32_t idx, bool exclusive)
{
    size_t size = s->elemsize;
    c->work.marked_bytes += size;
    if (gch_spanclass_noscan(s->spanclass))
        return true;
    gc_trace_fn trace = (gc_trace_fn)AO_load_acquire(&gch_gc.trace_fn);
    if (trace == NULL)
        return true;
    return mark_drain(c, (void *)(s->base + (uintptr_t)idx * size), size, trace, exclusive);
}

// gc_mark outside a mark phase: begins one, then marks.
static GCH_NOINLINE bool mark_begin_then_mark(const void *ptr)
{
    gch_begin_mark();
    return gc_mark(ptr);
}

// A newly marked object on a thread that has no cache yet.
static GCH_NOINLINE bool mark_grey_no_cache(struct mspan *s, uint32_t idx)
{
    struct mcache *c = gch_mcache_get();
    if (c == NULL) {
        // No memory for a marker's state: the object is marked; have it
        // traced by the overflow rescan of whoever drains next.
        gch_atomic_add(&gch_gc.marked_bytes, s->elemsize);
        AO_store(&gch_gc.mark_overflow, 1);
        return true;
    }
    return mark_grey(c, s, idx, false);
}

static GCH_NOINLINE bool mark_outside_drain(const void *ptr)
{
    if (GCH_UNLIKELY(AO_load_acquire(&gch_gc.phase) != GCH_PHASE_MARK))
        return mark_begin_then_mark(ptr);
    uintptr_t p = (uintptr_t)ptr;
    if (p - GCH_PAGE_SIZE >= ((uintptr_t)1 << GCH_ADDR_BITS) - GCH_PAGE_SIZE)
        return false;
    struct mspan *s = gch_span_of(p);
    if (s == NULL || s->state != MSPAN_IN_USE || p < s->base || p >= s->limit)
        return false;
    uint32_t idx = gch_span_obj_index(s, p);
    if (idx >= s->nelems) // never ([S2], [S5]); guards the bitmap reads
        return false;
    // Already marked: nothing else to check. Only allocated slots, and the
    // free slots of a window marked in advance ([S10]), carry a mark bit.
    if (gch_mark_bit_get(s->gcmark_bits, idx))
        return false;
    // Objects handed out during this mark phase were marked in advance
    // ([S10]): they returned above.
    if (!gch_span_slot_allocated(s, idx))
        return false;
    struct mcache *c = gch_tls_owner;
    GCH_ASSERT1(c == NULL || c->work.depth == 0);
    bool exclusive = c != NULL && (AO_t)c == AO_load(&gch_gc.mark_exclusive);
    if (exclusive) {
        // Inside gc_collect only this thread marks: a plain read-modify-
        // write of the mark word does, without the cost of a CAS.
        AO_t *word = &s->gcmark_bits[idx >> 6];
        AO_store(word, AO_load(word) | (AO_t)1 << (idx & 63));
    } else if (!gch_mark_slot(s, idx)) {
        return false;
    }
    if (GCH_UNLIKELY(c == NULL))
        return mark_grey_no_cache(s, idx);
    return mark_grey(c, s, idx, exclusive);
}

static GCH_NOINLINE bool mark_not_exclusive(const void *ptr)
{
    struct gcwork *w = mark_tls_shared;
    if (GCH_LIKELY(w != NULL))
        return mark_in_drain(w, (uintptr_t)ptr, false);
    return mark_outside_drain(ptr);
}

// gc_mark dispatches on the thread's drain: one TLS load and test take
// gc_collect's marking to its own copy of the path (mark_in_drain,
// exclusive), which knows that the phase is MARK, that the stack and the
// cache exist and that no other thread marks. Measured (x86-64, gcc -O2):
// NULL costs 7 instructions there, a newly marked object that hits the
// span cache and has its alloc bit set 42; one born since the last sweep
// adds the window test (about 15), a span-cache miss the span map (about
// 40).
bool gc_mark(const void *ptr)
{
    struct gcwork *w = mark_tls_exclusive;
    if (GCH_UNLIKELY(w == NULL))
        return mark_not_exclusive(ptr);
    return mark_in_drain(w, (uintptr_t)ptr, true);
}

void gc_mark_range(const void *lo, const void *hi)
{
    uintptr_t a = ((uintptr_t)lo + sizeof(void *) - 1) & ~(uintptr_t)(sizeof(void *) - 1);
    uintptr_t b = (uintptr_t)hi & ~(uintptr_t)(sizeof(void *) - 1);
    for (; a < b; a += sizeof(void *)) {
        void *v;
        memcpy(&v, (const void *)a, sizeof v);
        gc_mark(v);
    }
}

void gc_set_trace(gc_trace_fn fn, void *ctx)
{
    AO_store(&gch_gc.trace_ctx, (AO_t)ctx);
    AO_store_release(&gch_gc.trace_fn, (AO_t)fn);
}

void gc_set_roots(gc_roots_fn fn, void *ctx)
{
    AO_store(&gch_gc.roots_ctx, (AO_t)ctx);
    AO_store_release(&gch_gc.roots_fn, (AO_t)fn);
}

// Go's fmtNSAsMS: whole milliseconds from 10 ms up, else two significant
// digits.
static void mark_fmt_ms(char *buf, size_t len, uint64_t ns)
{
    if (ns >= 10000000)
        snprintf(buf, len, "%llu", (unsigned long long)(ns / 1000000));
    else
        snprintf(buf, len, "%.2g", (double)ns / 1e6);
}

static void mark_gctrace(uint64_t end_ns, uint64_t mark_ns, const char *sweep, uint64_t marked)
{
    char mark_ms[32];
    mark_fmt_ms(mark_ms, sizeof mark_ms, mark_ns);
    size_t threads = 0;
    for (struct mcache *c = gch_gc.mcaches; c != NULL; c = c->next)
        threads++;
    fprintf(stderr,
            "gc %llu @%.3fs: %s ms %smark, %s sweep, %.1f->%.1f MB, %.1f MB goal, %zu threads\n",
            (unsigned long long)AO_load(&gch_stats.num_gc),
            (double)(end_ns - gch_gc.start_ns) / 1e9, mark_ms, gch_gen.minor ? "minor " : "", sweep,
            (double)gch_gc.heap_at_mark / 1048576.0, (double)marked / 1048576.0,
            (double)AO_load(&gch_gc.next_gc) / 1048576.0, threads);
}

// Ends the mark phase (STW, gch_gc.lock held): flushes every cache, which
// applies allocate-black, then flips sweepgen. Returns the bytes marked.
static uint64_t mark_terminate_locked(void)
{
    // Another thread still draining its mark stack means the host let it
    // mark while ending the phase: its marks would be lost.
    for (struct mcache *c = gch_gc.mcaches; c != NULL; c = c->next) {
        if (c->work.depth > 0 && c != gch_tls_owner)
            gch_throw("gc_sweep called while another thread is marking");
    }
    AO_store_release(&gch_gc.phase, GCH_PHASE_TERMINATE);
    if (gch_debug.verify || GCH_DEBUG >= 3)
        mark_verify("after marking");
    uint64_t marked = 0;
    for (struct mcache *c = gch_gc.mcaches; c != NULL; c = c->next) {
        gch_mcache_release_all(c, true); // adds allocate-black bytes to the global
        marked += c->work.marked_bytes;
        c->work.marked_bytes = 0;
    }
    marked += AO_load(&gch_gc.marked_bytes);
    AO_store(&gch_gc.marked_bytes, 0);
    gch_gen_end_cycle(); // before the flip: the sweeps read sticky
    uint32_t sg = (uint32_t)AO_load(&gch_mheap.sweepgen);
    AO_store_release(&gch_mheap.sweepgen, (AO_t)(uint32_t)(sg + 2));
    AO_store_release(&gch_gc.phase, GCH_PHASE_MUTATE);
    gch_atomic_add(&gch_stats.num_gc, 1);
    return marked;
}

void gc_sweep(void)
{
    gch_check_not_in_hook("gc_sweep called from a trace or roots hook");
    gch_begin_mark(); // no-op inside a mark phase; else an empty one
    pthread_mutex_lock(&gch_gc.lock);
    // A minor cycle marks only the young: the old bytes are an estimate.
    uint64_t live = mark_terminate_locked() + (gch_gen.minor ? gch_gen.old_bytes : 0);
    AO_store(&gch_stats.live_after_gc, live);
    // Every cache was released: no span's free space is charged.
    AO_store(&gch_stats.heap_live, live);
    bool major_now; // the next gc_alloc slow path will collect
    AO_store(&gch_gc.next_gc, gch_gen_pace(live, gch_gc.heap_at_mark, &major_now));
    if (gch_debug.gctrace) {
        uint64_t now = gch_nanotime();
        mark_gctrace(now, now - gch_gc.mark_start_ns, "lazy", live);
    }
    pthread_mutex_unlock(&gch_gc.lock);
}

// Runs roots(ctx) on c's thread with its gc_mark calls pushing, then
// traces everything they reached: one drain for all the roots, with the
// prefetch ring working across them (they are rarely near each other)
// instead of a drain entered and left per root. exclusive: no other thread
// marks meanwhile (gc_collect), so the marks need no atomic operations.
static void mark_from_roots(struct mcache *c, gc_roots_fn roots, void *ctx, bool exclusive)
{
    gc_trace_fn trace = (gc_trace_fn)AO_load_acquire(&gch_gc.trace_fn);
    if (trace != NULL) {
        struct mark_frame f = mark_drain_enter(c, exclusive);
        roots(ctx);
        mark_drain_run(&c->work, trace);
        mark_drain_leave(c, f);
    } else {
        struct mcache *view = gch_tls_mcache;
        gch_tls_mcache = &gch_empty_mcache;
        c->in_hook = true;
        roots(ctx);
        c->in_hook = false;
        gch_tls_mcache = view;
    }
}

void gc_mark_roots(gc_roots_fn roots, void *ctx)
{
    gch_check_not_in_hook("gc_mark_roots called from a trace or roots hook");
    gch_init();
    if (roots == NULL)
        return;
    if (AO_load_acquire(&gch_gc.phase) != GCH_PHASE_MARK)
        gch_begin_mark();
    struct mcache *c = gch_mcache_get();
    if (c == NULL) {
        // No memory for a marker's state: each gc_mark marks (and drains)
        // on its own, as outside a hook.
        roots(ctx);
        return;
    }
    mark_from_roots(c, roots, ctx, false);
}

void gc_collect(void)
{
    gch_check_not_in_hook("gc_collect called from a trace or roots hook");
    gch_init();
    gc_roots_fn roots = (gc_roots_fn)AO_load_acquire(&gch_gc.roots_fn);
    // Without a roots hook there is nothing to know the live objects by,
    // unless a mark phase runs (gc_mark, gc_mark_roots): then end it.
    if (roots == NULL && AO_load_acquire(&gch_gc.phase) != GCH_PHASE_MARK)
        return;
    struct mcache *c = gch_mcache_get();
    if (c == NULL)
        return; // cannot even hold a marker's state: collect later
    uint64_t t0 = gch_nanotime();
    uint64_t inuse_peak = AO_load(&gch_stats.heap_inuse); // the heap at its fullest
    gch_begin_mark();

    if (roots != NULL) {
        AO_store(&gch_gc.mark_exclusive, (AO_t)c);
        mark_from_roots(c, roots, (void *)AO_load(&gch_gc.roots_ctx), true);
        AO_store(&gch_gc.mark_exclusive, 0);
    }

    pthread_mutex_lock(&gch_gc.lock);
    uint64_t t1 = gch_nanotime();
    uint64_t marked = mark_terminate_locked();
    gch_finish_sweep();
    if (gch_debug.verify || GCH_DEBUG >= 3)
        mark_verify("after sweeping");
    uint64_t t2 = gch_nanotime();
    // With what a cache's tally may still hold (a span its flush swept).
    uint64_t live = mark_heap_alloc_now();
    AO_store(&gch_stats.live_after_gc, live);
    AO_store(&gch_stats.heap_live, live); // as in gc_sweep
    bool major_now;
    AO_store(&gch_gc.next_gc, gch_gen_pace(live, gch_gc.heap_at_mark, &major_now));
    if (!major_now)
        gch_pacer_scavenge(live, inuse_peak);
    gch_atomic_add(&gch_stats.pause_total_ns, t2 - t0);
    if (gch_debug.gctrace) {
        char sweep[48], ms[32];
        mark_fmt_ms(ms, sizeof ms, t2 - t1);
        snprintf(sweep, sizeof sweep, "%s ms", ms);
        mark_gctrace(t2, t1 - t0, sweep, gch_gen.minor ? live : marked);
    }
    pthread_mutex_unlock(&gch_gc.lock);
    // A minor cycle that left the heap at its goal: the old objects fill
    // it, and only a major cycle can tell which of them died.
    if (major_now)
        gc_collect();
}
