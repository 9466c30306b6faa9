// mark.c owns the collector's entry points: gc_mark, gc_mark_range,
// gc_sweep, gc_collect, the hooks and the pacer. See malloc.c for the
// overview; Go counterpart: mgc.go (gcStart, gcMarkTermination),
// mgcmark.go (greyobject, gcDrain), mgcpacer.go (heap goal).
//
// Marking is the host's: gcheap only keeps the bits. gc_mark(p) finds the
// object holding p in O(1) (span map, then the division magic), refuses
// free slots and objects born black, and sets the mark bit with a CAS so
// that exactly one caller per cycle sees "newly marked". With a trace hook,
// a newly marked scan object is pushed on the thread's off-heap stack and
// the outermost gc_mark drains it; the hook's own gc_mark calls only push,
// so marking depth costs heap memory, never C stack.
//
// Speed (the marker runs once per object): inside a drain gc_mark makes no
// call and saves no register; a span cache in the thread's gcwork ([W2])
// skips the span map for neighbours of the last object marked; and the
// drain prefetches the objects it pops far from the last one traced,
// parking them in a small FIFO until their lines arrive (mark_drain).
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
// Pacing (Go's GOGC without the trigger runway): after a cycle,
// next_gc = max(4 MiB, live * (1 + GOGC/100)); gc_alloc's slow paths
// collect when heap_live would pass it. live is exact after gc_collect (the
// sweep is complete) and the marked bytes after a lazy gc_sweep.
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define GCH_MIN_HEAP_GOAL ((uint64_t)4 << 20) // Go's heapMinimum at GOGC=100

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
    uint64_t bytes, objects, tiny, by_class[GCH_NUM_SIZE_CLASSES] = {0};
    gch_mcache_inflight(&bytes, &objects, &tiny, by_class);
    return AO_load(&gch_stats.heap_alloc) + bytes;
}

static void mark_verify(const char *when)
{
    char why[256];
    if (!gch_heap_verify(why, sizeof why))
        gch_throw("heap verification failed %s: %s", when, why);
}

void gch_begin_mark(void)
{
    gch_init();
    if (AO_load_acquire(&gch_gc.phase) == GCH_PHASE_TERMINATE)
        gch_throw("gc_mark called while gc_sweep ends the mark phase on another thread");
    pthread_mutex_lock(&gch_gc.lock);
    if (AO_load(&gch_gc.phase) != GCH_PHASE_MARK) {
        gch_finish_sweep();
        gch_gcbits_rotate();
        if (gch_debug.verify || GCH_DEBUG >= 3)
            mark_verify("before marking");
        gch_gc.mark_start_ns = gch_nanotime();
        gch_gc.heap_at_mark = mark_heap_alloc_now();
        AO_store(&gch_gc.marked_bytes, 0);
        for (struct mcache *c = gch_gc.mcaches; c != NULL; c = c->next)
            c->work.marked_bytes = 0;
        gch_mcache_begin_mark_all();
        AO_store_release(&gch_gc.phase, GCH_PHASE_MARK);
    }
    pthread_mutex_unlock(&gch_gc.lock);
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

// The drain's prefetch ring (Boehm's and Cher/Hosking's "prefetch on
// grey"). An entry popped far from the object traced last is likely a
// cache miss: it is prefetched and parked in a ring of MARK_PREFETCH
// entries, and traced MARK_PREFETCH such pops later, when its line has
// arrived. Entries popped near the last one (MARK_NEAR bytes either way)
// are traced at once, in LIFO order: the ring's reordering would break up
// the address-ordered sweep that a heap allocated in traversal order
// gives, which the hardware prefetcher already serves (on a tree laid out
// in allocation order, parking every entry halved the marking rate; on a
// tree scattered over the heap, the ring triples it). Power of two.
#define MARK_PREFETCH 16
#define MARK_NEAR     4096

// A drain's frame: the thread's allocation view and hook flag, restored
// when it ends.
struct mark_frame {
    struct mcache *view;
    bool was_in_hook;
};

// Enters a drain: the trace hook then runs with the thread flagged in_hook
// and its allocation view emptied, so a gc_alloc from the hook reaches the
// slow path and is reported there; gc_mark on this thread only pushes.
static struct mark_frame mark_drain_enter(struct mcache *c)
{
    struct gcwork *w = &c->work;
    GCH_ASSERT1(w->depth == 0 && w->len == 0);
    struct mark_frame f = {gch_tls_mcache, c->in_hook};
    gch_tls_mcache = &gch_empty_mcache;
    c->in_hook = true;
    w->depth++;
    w->span_bytes = 0;
    gch_gcwork_reset_room(w);
    return f;
}

static void mark_drain_leave(struct mcache *c, struct mark_frame f)
{
    c->work.depth--;
    c->work.span_bytes = 0;
    c->in_hook = f.was_in_hook;
    gch_tls_mcache = f.view;
}

// Pops and traces until the thread's stack and ring are empty and no
// overflow is pending. The stack and the ring are empty whenever the loop
// looks at the overflow flag: a rescan runs only when no entry waits.
static void mark_drain_run(struct mcache *c, gc_trace_fn trace)
{
    struct gcwork *w = &c->work;
    void *ctx = (void *)AO_load(&gch_gc.trace_ctx);
    // ring: a FIFO of the n far entries parked, the oldest at slot i - n.
    struct gcwork_entry ring[MARK_PREFETCH];
    unsigned i = 0, n = 0;
    uintptr_t last = 0; // the object traced last
    for (;;) {
        struct gcwork_entry e;
        if (w->len > 0) {
            e = w->stack[--w->len];
            if (GCH_UNLIKELY((uintptr_t)e.obj - last + MARK_NEAR >= 2 * MARK_NEAR)) {
                // Far: park it; once the ring is full, trace the oldest.
                __builtin_prefetch(e.obj);
                if (n < MARK_PREFETCH) {
                    ring[i] = e;
                    i = (i + 1) % MARK_PREFETCH;
                    n++;
                    continue;
                }
                struct gcwork_entry oldest = ring[i];
                ring[i] = e;
                i = (i + 1) % MARK_PREFETCH;
                e = oldest;
            }
        } else if (n > 0) {
            e = ring[(i - n) % MARK_PREFETCH];
            n--;
        } else if (AO_load(&gch_gc.mark_overflow) != 0) {
            AO_store(&gch_gc.mark_overflow, 0);
            gch_mheap_for_each_span(mark_rescan_span, (void *)trace);
            continue;
        } else {
            break;
        }
        last = (uintptr_t)e.obj;
        trace(e.obj, e.size, ctx);
    }
}

// Pushes obj, then drains; returns true (gc_mark's answer).
static GCH_NOINLINE bool mark_drain(struct mcache *c, void *obj, size_t size, gc_trace_fn trace)
{
    struct mark_frame f = mark_drain_enter(c);
    if (!gch_gcwork_push(&c->work, obj, size))
        AO_store(&gch_gc.mark_overflow, 1);
    mark_drain_run(c, trace);
    mark_drain_leave(c, f);
    return true;
}

// A newly marked object, on a thread with a cache: counts it and has it
// traced if it is a scan object and there is a trace hook.
static inline bool mark_grey(struct mcache *c, struct mspan *s, uint32_t idx)
{
    size_t size = s->elemsize;
    c->work.marked_bytes += size;
    if (gch_spanclass_noscan(s->spanclass))
        return true;
    void *obj = (void *)(s->base + (uintptr_t)idx * size);
    if (GCH_LIKELY(c->work.depth > 0)) {
        // Called by the trace hook of this thread's drain: the hook is
        // set (hooks change only outside collections); just push.
        if (GCH_UNLIKELY(!gch_gcwork_push(&c->work, obj, size)))
            AO_store(&gch_gc.mark_overflow, 1);
        return true;
    }
    gc_trace_fn trace = (gc_trace_fn)AO_load_acquire(&gch_gc.trace_fn);
    if (trace == NULL)
        return true;
    return mark_drain(c, obj, size, trace);
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
    return mark_grey(c, s, idx);
}

// gc_mark's fast path makes no call: every slow case (phase start, first
// cache, the outermost drain, a full stack) is a tail call or out of line,
// so the early returns save no register. Measured (x86-64, gcc -O2,
// callgrind): NULL costs 9 instructions; a newly marked object inside a
// drain about 90, of which 13 are the CAS loop (about 7 under gc_collect)
// and 11 the push.
bool gc_mark(const void *ptr)
{
    if (GCH_UNLIKELY(AO_load_acquire(&gch_gc.phase) != GCH_PHASE_MARK))
        return mark_begin_then_mark(ptr);
    uintptr_t p = (uintptr_t)ptr;
    // Outside [first page, 2^48): no heap address. One comparison takes
    // NULL, the commonest value a trace hook passes (every leaf's
    // children), and the values gch_arena_of would refuse.
    if (p - GCH_PAGE_SIZE >= ((uintptr_t)1 << GCH_ADDR_BITS) - GCH_PAGE_SIZE)
        return false;
    // The span cache ([W2]) answers for a neighbour of the last object
    // marked; else the span map, and a valid span fills the cache.
    struct mcache *mc = gch_tls_owner;
    struct mspan *s;
    if (mc != NULL && p - mc->work.span_base < mc->work.span_bytes) {
        s = mc->work.span;
        GCH_ASSERT2(s->state == MSPAN_IN_USE && p >= s->base && p < s->limit);
    } else {
        s = gch_span_of(p);
        if (s == NULL || s->state != MSPAN_IN_USE || p < s->base || p >= s->limit)
            return false;
        if (mc != NULL && mc->work.depth > 0) {
            mc->work.span = s;
            mc->work.span_base = s->base;
            mc->work.span_bytes = s->limit - s->base;
        }
    }
    uint32_t idx = gch_span_obj_index(s, p);
    if (idx >= s->nelems)
        return false;
    // Already marked (the common case for shared structure): nothing else
    // to check. Only allocated slots, and the free slots of a window marked
    // in advance ([S10]), ever carry a mark bit.
    if (gch_mark_bit_get(s->gcmark_bits, idx))
        return false;
    // Objects handed out during this mark phase were marked in advance
    // ([S10]): they returned above.
    if (!gch_span_slot_allocated(s, idx))
        return false;
    struct mcache *c = gch_tls_owner;
    if (c != NULL && (AO_t)c == AO_load(&gch_gc.mark_exclusive)) {
        // Inside gc_collect only this thread marks: a plain read-modify-
        // write of the mark word does, without the cost of a CAS.
        AO_t *word = &s->gcmark_bits[idx >> 6];
        AO_t bit = (AO_t)1 << (idx & 63);
        AO_t old = AO_load(word);
        if (old & bit)
            return false;
        AO_store(word, old | bit);
    } else if (!gch_mark_slot(s, idx)) {
        return false;
    }
    if (GCH_UNLIKELY(c == NULL))
        return mark_grey_no_cache(s, idx);
    return mark_grey(c, s, idx);
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

static uint64_t mark_goal(uint64_t live)
{
    long gogc = (long)AO_load(&gch_gc.gogc);
    if (gogc < 0)
        return UINT64_MAX;
    uint64_t goal = live + live / 100 * (uint64_t)gogc + live % 100 * (uint64_t)gogc / 100;
    return goal > GCH_MIN_HEAP_GOAL ? goal : GCH_MIN_HEAP_GOAL;
}

int gc_set_gogc(int percent)
{
    gch_init();
    long old = (long)AO_load(&gch_gc.gogc);
    AO_store(&gch_gc.gogc, (AO_t)(long)(percent < 0 ? -1 : percent));
    AO_store(&gch_gc.next_gc, mark_goal(AO_load(&gch_stats.live_after_gc)));
    return (int)old;
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
    fprintf(
        stderr, "gc %llu @%.3fs: %s ms mark, %s sweep, %.1f->%.1f MB, %.1f MB goal, %zu threads\n",
        (unsigned long long)AO_load(&gch_stats.num_gc), (double)(end_ns - gch_gc.start_ns) / 1e9,
        mark_ms, sweep, (double)gch_gc.heap_at_mark / 1048576.0, (double)marked / 1048576.0,
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
        gch_mcache_release_all(c); // adds allocate-black bytes to the global
        marked += c->work.marked_bytes;
        c->work.marked_bytes = 0;
    }
    marked += AO_load(&gch_gc.marked_bytes);
    AO_store(&gch_gc.marked_bytes, 0);
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
    uint64_t marked = mark_terminate_locked();
    AO_store(&gch_stats.live_after_gc, marked);
    AO_store(&gch_gc.next_gc, mark_goal(marked));
    if (gch_debug.gctrace) {
        uint64_t now = gch_nanotime();
        mark_gctrace(now, now - gch_gc.mark_start_ns, "lazy", marked);
    }
    pthread_mutex_unlock(&gch_gc.lock);
}

// Returns free pages to the OS after a collection. What a cycle will use
// again is the span memory the heap held at its fullest (Go's
// lastHeapInUse), so that is retained, plus 10% (Go's retainExtraPercent),
// taking the largest of the last few cycles: releasing pages that the next
// cycle faults back in costs more than it saves (Go paces its background
// scavenger for the same reason). A one-off spike is released once it has
// left the window.
#define MARK_SCAVENGE_WINDOW 4
static void mark_scavenge(uint64_t live, uint64_t inuse_peak)
{
    static uint64_t peaks[MARK_SCAVENGE_WINDOW]; // protected by gch_gc.lock
    static unsigned next;
    peaks[next++ % MARK_SCAVENGE_WINDOW] = inuse_peak;
    uint64_t goal = AO_load(&gch_gc.next_gc);
    if (goal == UINT64_MAX) // GOGC off: the live heap is what stays
        goal = live > GCH_MIN_HEAP_GOAL ? live : GCH_MIN_HEAP_GOAL;
    uint64_t retain = goal;
    for (int i = 0; i < MARK_SCAVENGE_WINDOW; i++)
        retain = peaks[i] > retain ? peaks[i] : retain;
    gch_mheap_scavenge(retain + retain / 10);
}

void gc_collect(void)
{
    gch_check_not_in_hook("gc_collect called from a trace or roots hook");
    gch_init();
    gc_roots_fn roots = (gc_roots_fn)AO_load_acquire(&gch_gc.roots_fn);
    if (roots == NULL)
        return;
    struct mcache *c = gch_mcache_get();
    if (c == NULL)
        return; // cannot even hold a marker's state: collect later
    uint64_t t0 = gch_nanotime();
    uint64_t inuse_peak = AO_load(&gch_stats.heap_inuse); // the heap at its fullest
    gch_begin_mark();

    AO_store(&gch_gc.mark_exclusive, (AO_t)c);
    gc_trace_fn trace = (gc_trace_fn)AO_load_acquire(&gch_gc.trace_fn);
    if (trace != NULL) {
        // The roots hook runs inside one drain: its gc_mark calls push,
        // and the drain then traces every root's graph in one go, with
        // the prefetch ring working across roots (they are rarely near
        // each other) instead of a drain entered and left per root.
        struct mark_frame f = mark_drain_enter(c);
        roots((void *)AO_load(&gch_gc.roots_ctx));
        mark_drain_run(c, trace);
        mark_drain_leave(c, f);
    } else {
        struct mcache *view = gch_tls_mcache;
        gch_tls_mcache = &gch_empty_mcache;
        c->in_hook = true;
        roots((void *)AO_load(&gch_gc.roots_ctx));
        c->in_hook = false;
        gch_tls_mcache = view;
    }
    AO_store(&gch_gc.mark_exclusive, 0);

    pthread_mutex_lock(&gch_gc.lock);
    uint64_t t1 = gch_nanotime();
    uint64_t marked = mark_terminate_locked();
    gch_finish_sweep();
    if (gch_debug.verify || GCH_DEBUG >= 3)
        mark_verify("after sweeping");
    uint64_t t2 = gch_nanotime();
    uint64_t live = AO_load(&gch_stats.heap_alloc);
    AO_store(&gch_stats.live_after_gc, live);
    AO_store(&gch_gc.next_gc, mark_goal(live));
    mark_scavenge(live, inuse_peak);
    gch_atomic_add(&gch_stats.pause_total_ns, t2 - t0);
    if (gch_debug.gctrace) {
        char sweep[48], ms[32];
        mark_fmt_ms(ms, sizeof ms, t2 - t1);
        snprintf(sweep, sizeof sweep, "%s ms", ms);
        mark_gctrace(t2, t1 - t0, sweep, marked);
    }
    pthread_mutex_unlock(&gch_gc.lock);
}

bool gch_collect_for_limit(void)
{
    struct mcache *c = gch_tls_owner;
    if (AO_load(&gch_gc.roots_fn) == 0 || AO_load(&gch_gc.phase) != GCH_PHASE_MUTATE ||
        (c != NULL && c->in_hook))
        return false;
    gc_collect();
    return true;
}

// Would allocating extra more bytes pass the goal? (next_gc is UINT64_MAX
// when GOGC is off.)
static inline bool mark_goal_passed(uint64_t extra)
{
    return AO_load(&gch_stats.heap_live) + extra > AO_load(&gch_gc.next_gc);
}

bool gc_collect_due(void)
{
    gch_init();
    return mark_goal_passed(0);
}

void gch_maybe_collect(uint64_t extra)
{
    if (AO_load(&gch_gc.roots_fn) == 0 || (long)AO_load(&gch_gc.gogc) < 0)
        return;
    if (AO_load(&gch_gc.phase) != GCH_PHASE_MUTATE)
        return;
    if (!mark_goal_passed(extra))
        return;
    gc_collect();
}
