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

// Pops and traces until the thread's stack is empty and no overflow is
// pending. The trace hook runs with the thread flagged in_hook and its
// allocation view emptied, so a gc_alloc from the hook reaches the slow
// path and is reported there.
static void mark_drain(struct mcache *c, gc_trace_fn trace)
{
    void *ctx = (void *)AO_load(&gch_gc.trace_ctx);
    struct mcache *view = gch_tls_mcache;
    bool was_in_hook = c->in_hook;
    gch_tls_mcache = &gch_empty_mcache;
    c->in_hook = true;
    c->work.depth++;
    for (;;) {
        while (c->work.len > 0) {
            struct gcwork_entry e = c->work.stack[--c->work.len];
            trace(e.obj, e.size, ctx);
        }
        if (AO_load(&gch_gc.mark_overflow) == 0)
            break;
        AO_store(&gch_gc.mark_overflow, 0);
        gch_mheap_for_each_span(mark_rescan_span, (void *)trace);
    }
    c->work.depth--;
    c->in_hook = was_in_hook;
    gch_tls_mcache = view;
}

bool gc_mark(const void *ptr)
{
    if (GCH_UNLIKELY(AO_load_acquire(&gch_gc.phase) != GCH_PHASE_MARK))
        gch_begin_mark();
    uintptr_t p = (uintptr_t)ptr;
    struct mspan *s = gch_span_of(p);
    if (s == NULL || s->state != MSPAN_IN_USE || p < s->base || p >= s->limit)
        return false;
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

    if (c == NULL && (c = gch_mcache_get()) == NULL) {
        // No memory for a marker's state: the object is marked; have it
        // traced by the overflow rescan of whoever drains next.
        gch_atomic_add(&gch_gc.marked_bytes, s->elemsize);
        AO_store(&gch_gc.mark_overflow, 1);
        return true;
    }
    c->work.marked_bytes += s->elemsize;
    gc_trace_fn trace = (gc_trace_fn)AO_load_acquire(&gch_gc.trace_fn);
    if (trace != NULL && !gch_spanclass_noscan(s->spanclass)) {
        void *obj = (void *)(s->base + (uintptr_t)idx * s->elemsize);
        if (!gch_gcwork_push(&c->work, obj, s->elemsize))
            AO_store(&gch_gc.mark_overflow, 1);
        if (c->work.depth == 0)
            mark_drain(c, trace);
    }
    return true;
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

    struct mcache *view = gch_tls_mcache;
    gch_tls_mcache = &gch_empty_mcache;
    c->in_hook = true;
    AO_store(&gch_gc.mark_exclusive, (AO_t)c);
    roots((void *)AO_load(&gch_gc.roots_ctx));
    AO_store(&gch_gc.mark_exclusive, 0);
    c->in_hook = false;
    gch_tls_mcache = view;

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

void gch_maybe_collect(uint64_t extra)
{
    if (AO_load(&gch_gc.roots_fn) == 0 || (long)AO_load(&gch_gc.gogc) < 0)
        return;
    if (AO_load(&gch_gc.phase) != GCH_PHASE_MUTATE)
        return;
    if (AO_load(&gch_stats.heap_live) + extra <= AO_load(&gch_gc.next_gc))
        return;
    gc_collect();
}
