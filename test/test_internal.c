// White-box tests of the heap's internal invariants: the verifier after
// every sweep, lazy sweeping (each span swept once per cycle), span
// states, mark-stack overflow, allocate-black bookkeeping, the drain's
// prefetch ring and span cache.
#include "../src/internal.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static void verify_or_fail(const char *when)
{
    char why[256];
    pthread_mutex_lock(&gch_gc.lock);
    bool ok = gch_heap_verify(why, sizeof why);
    pthread_mutex_unlock(&gch_gc.lock);
    cr_assert(ok, "heap verify failed %s: %s", when, why);
}

struct node {
    struct node *next;
    struct node *other;
    uint64_t id;
};

#define NODES 4096
static struct node *table[NODES];

static void trace_node(void *obj, size_t size, void *ctx)
{
    (void)ctx;
    cr_assert_geq(size, sizeof(struct node));
    struct node *n = obj;
    gc_mark(n->next);
    gc_mark(n->other);
}

static void roots_table(void *ctx)
{
    (void)ctx;
    for (int i = 0; i < NODES; i++)
        gc_mark(table[i]);
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

Test(internal, verifier_clean_across_random_cycles)
{
    gc_set_trace(trace_node, NULL);
    gc_set_roots(roots_table, NULL);
    for (int cycle = 0; cycle < 30; cycle++) {
        for (int i = 0; i < 20000; i++) {
            size_t sz = sizeof(struct node) + rng() % 600;
            struct node *n = gc_alloc(sz, true);
            cr_assert_not_null(n);
            n->id = (uint64_t)i;
            int slot = (int)(rng() % NODES);
            n->next = table[slot];
            n->other = table[rng() % NODES];
            if (rng() % 4 == 0)
                table[slot] = n;
            if (rng() % 8 == 0)
                (void)gc_alloc(1 + rng() % 15, false); // tiny garbage
            if (rng() % 5000 == 0)
                (void)gc_alloc(40000 + rng() % 100000, rng() & 1); // large garbage
        }
        verify_or_fail("before collect");
        gc_collect();
        verify_or_fail("after collect");
    }
}

// Counts in-use spans and the sweepgen states they are in.
struct span_census {
    size_t spans;
    size_t unswept;
};
static void census(struct mspan *s, void *ctx)
{
    struct span_census *c = ctx;
    uint32_t sg = (uint32_t)AO_load(&gch_mheap.sweepgen);
    c->spans++;
    if ((uint32_t)AO_load(&s->sweepgen) == sg - 2)
        c->unswept++;
}

Test(internal, lazy_sweep_sweeps_each_span_once)
{
    void **keep = calloc(100000, sizeof(void *));
    for (int i = 0; i < 100000; i++)
        keep[i] = gc_alloc(16 + (size_t)(i % 50) * 16, i & 1);
    gc_mark(keep[0]); // begins the mark phase
    for (int i = 0; i < 100000; i += 2)
        gc_mark(keep[i]);
    uint32_t sg_before = (uint32_t)AO_load(&gch_mheap.sweepgen);
    uint64_t swept_before = gch_spans_swept();
    gc_sweep();
    cr_assert_eq((uint32_t)AO_load(&gch_mheap.sweepgen), sg_before + 2, "sweepgen advances by 2");
    cr_assert_eq(gch_spans_swept(), swept_before, "gc_sweep itself sweeps nothing");

    struct span_census c = {0};
    gch_mheap_for_each_span(census, &c);
    cr_assert_eq(c.unswept, c.spans, "after the flip every span needs sweeping (%zu of %zu)",
                 c.unswept, c.spans);

    // Allocation sweeps some spans on demand...
    for (int i = 0; i < 1000; i++)
        (void)gc_alloc(32, true);
    uint64_t swept_mid = gch_spans_swept() - swept_before;
    cr_assert_gt(swept_mid, 0, "allocation swept on demand");
    cr_assert_lt(swept_mid, c.spans, "allocation did not sweep everything");

    // ...and the next mark phase sweeps the rest: each span exactly once.
    gc_mark(NULL);
    uint64_t swept = gch_spans_swept() - swept_before;
    cr_assert_eq(swept, c.unswept, "spans swept %llu, spans that needed it %zu",
                 (unsigned long long)swept, c.unswept);
    gc_sweep();
    verify_or_fail("after second sweep");
    free(keep);
}

Test(internal, freed_slots_are_reused_after_sweep)
{
    void *a[64];
    for (int i = 0; i < 64; i++)
        a[i] = gc_alloc(48, true);
    gc_mark(a[0]);
    gc_sweep(); // a[1..63] freed
    cr_assert_eq(gc_base(a[0]), a[0], "the marked object lives");
    for (int i = 1; i < 64; i++)
        cr_assert_null(gc_base(a[i]), "unmarked object %d still reported live", i);
    // The span holding a[] is partial and unswept; refilling class 48 must
    // sweep it and reuse a freed slot, not grow.
    gc_stats before, after;
    gc_get_stats(&before);
    bool reused = false;
    for (int i = 0; i < 200 && !reused; i++) {
        void *p = gc_alloc(48, true);
        for (int j = 1; j < 64; j++)
            reused |= p == a[j];
    }
    gc_get_stats(&after);
    cr_assert(reused, "a freed slot was handed out again");
    cr_assert_eq(after.heap_sys, before.heap_sys, "heap_sys grew from %llu to %llu",
                 (unsigned long long)before.heap_sys, (unsigned long long)after.heap_sys);
}

static struct node *list_head;
static size_t traced;
static void trace_count(void *obj, size_t size, void *ctx)
{
    (void)size;
    (void)ctx;
    traced++;
    struct node *n = obj;
    gc_mark(n->next);
    gc_mark(n->other);
}
static void roots_list(void *ctx)
{
    (void)ctx;
    gc_mark(list_head);
}

Test(internal, mark_stack_overflow_loses_no_mark)
{
    // A wide tree: each node points at two children, so the stack would
    // hold thousands of entries; cap it at 4 entries.
    enum { N = 20000 };
    struct node **nodes = calloc(N, sizeof *nodes);
    for (int i = 0; i < N; i++) {
        nodes[i] = gc_alloc(sizeof(struct node), true);
        nodes[i]->id = (uint64_t)i;
    }
    for (int i = 0; i < N; i++) {
        if (2 * i + 1 < N)
            nodes[i]->next = nodes[2 * i + 1];
        if (2 * i + 2 < N)
            nodes[i]->other = nodes[2 * i + 2];
    }
    list_head = nodes[0];
    free(nodes); // now reachable only through list_head
    gch_gcwork_limit = 4;
    gc_set_trace(trace_count, NULL);
    gc_set_roots(roots_list, NULL);
    gc_collect();
    gch_gcwork_limit = SIZE_MAX;
    cr_assert_geq(traced, (size_t)N, "every node traced at least once (%zu)", traced);
    gc_stats st;
    gc_get_stats(&st);
    cr_assert_eq(st.heap_objects, (uint64_t)N, "all %d nodes survive, got %llu", N,
                 (unsigned long long)st.heap_objects);
    verify_or_fail("after overflowing collection");
}

// Nodes placed in random order over the heap, so that most objects the
// drain pops are far from the one traced before: they go through the
// prefetch ring (mark.c), which must hand each back exactly once, before
// the drain returns and before an overflow rescan. The root is an array of
// pointers to every node (many far entries on the stack at once: the ring
// fills); the nodes also form a binary tree (the ring runs dry and refills).
enum { SCATTERED = 50000 };
static void **scattered_root;
static void trace_scattered(void *obj, size_t size, void *ctx)
{
    (void)ctx;
    traced++;
    // [W2] inside the drain: the span cache, if set, is an in-use span.
    struct gcwork *w = &gch_tls_owner->work;
    if (w->span_bytes != 0)
        cr_assert(w->span->state == MSPAN_IN_USE && w->span->base == w->span_base &&
                      w->span->limit == w->span_base + w->span_bytes,
                  "the span cache matches its span");
    if (obj == (void *)scattered_root) {
        for (size_t i = 0; i < size / sizeof(void *); i++)
            gc_mark(scattered_root[i]);
        return;
    }
    struct node *n = obj;
    gc_mark(n->next);
    gc_mark(n->other);
}
static void roots_scattered(void *ctx)
{
    (void)ctx;
    gc_mark(scattered_root);
}

Test(internal, scattered_objects_are_traced_once_through_the_ring)
{
    struct node **nodes = calloc(SCATTERED, sizeof *nodes);
    cr_assert_not_null(nodes);
    for (int i = 0; i < SCATTERED; i++)
        nodes[i] = gc_alloc(sizeof(struct node), true);
    for (int i = SCATTERED - 1; i > 0; i--) {
        int j = (int)(rng() % (uint64_t)(i + 1));
        struct node *t = nodes[i];
        nodes[i] = nodes[j];
        nodes[j] = t;
    }
    scattered_root = gc_alloc(SCATTERED * sizeof(void *), true);
    for (int i = 0; i < SCATTERED; i++) {
        nodes[i]->next = 2 * i + 1 < SCATTERED ? nodes[2 * i + 1] : NULL;
        nodes[i]->other = 2 * i + 2 < SCATTERED ? nodes[2 * i + 2] : NULL;
        scattered_root[(i * 7919) % SCATTERED] = nodes[i]; // 7919 is prime
    }
    free(nodes);
    gc_set_trace(trace_scattered, NULL);
    gc_set_roots(roots_scattered, NULL);
    // Host-driven marking (CAS path), then gc_collect (exclusive path);
    // then both with a 4-entry stack, which overflows.
    for (int round = 0; round < 4; round++) {
        gch_gcwork_limit = round < 2 ? SIZE_MAX : 4;
        traced = 0;
        if (round % 2 == 0) {
            cr_assert(gc_mark(scattered_root), "round %d: the root is newly marked", round);
            gc_sweep();
        } else {
            gc_collect();
        }
        gch_gcwork_limit = SIZE_MAX;
        // [W2] outside a drain the span cache is empty: the next cycle may
        // have freed and reused its span.
        cr_assert_eq(gch_tls_owner->work.span_bytes, 0, "the drain emptied the span cache");
        if (round < 2)
            cr_assert_eq(traced, (size_t)SCATTERED + 1,
                         "round %d: %d objects traced once each, got %zu", round, SCATTERED + 1,
                         traced);
        else
            cr_assert_geq(traced, (size_t)SCATTERED + 1, "round %d: every object traced (%zu)",
                          round, traced);
        gc_collect(); // sweeps the whole heap: the stats count survivors
        gc_stats st;
        gc_get_stats(&st);
        cr_assert_eq(st.heap_objects, (uint64_t)SCATTERED + 1,
                     "round %d: all %d objects survive, got %llu", round, SCATTERED + 1,
                     (unsigned long long)st.heap_objects);
        verify_or_fail("after marking scattered objects");
    }
}

Test(internal, allocate_black_window_marks_new_slots)
{
    void *old = gc_alloc(64, true);
    gc_mark(old); // mark phase begins; windows open
    void *born[100];
    for (int i = 0; i < 100; i++) {
        born[i] = gc_alloc(64, true);
        cr_assert_not(gc_mark(born[i]), "object %d allocated during marking is already black", i);
    }
    gc_sweep();
    for (int i = 0; i < 100; i++)
        cr_assert_eq(gc_base(born[i]), born[i], "born-black object %d survived", i);
    gc_mark(NULL);
    gc_sweep(); // nothing marked this time: all die
    for (int i = 0; i < 100; i++)
        cr_assert_null(gc_base(born[i]), "object %d freed by the next cycle", i);
    cr_assert_null(gc_base(old));
}

// The allocation window ([S4], [S10]): its free slots are not objects,
// before and during a mark phase, even though a mark phase marks them in
// advance; a slot handed out from it during the phase is born marked.
Test(internal, free_window_slots_are_not_objects)
{
    char *a = gc_alloc(48, true);
    char *next = a + 48; // the window's next free slot (fresh span)
    struct mspan *s = gch_span_of((uintptr_t)a);
    cr_assert_eq((uintptr_t)next, s->window_base + 48, "a fresh span starts at its first slot");
    cr_assert_null(gc_base(next), "free window slot reported as an object");
    cr_assert_eq(gc_size(next), 0);
    cr_assert_not(gc_mark(next), "gc_mark marked a free window slot"); // begins a mark phase
    cr_assert(gch_mark_bit_get(s->gcmark_bits, 1), "[S10]: the free slot is marked in advance");
    cr_assert_null(gc_base(next), "a free slot marked in advance is still no object");
    char *b = gc_alloc(48, true);
    cr_assert_eq(b, next, "the window hands out its lowest free slot");
    cr_assert_eq(gc_base(b + 7), b);
    cr_assert_not(gc_mark(b), "allocated during marking: born black");
    verify_or_fail("inside the mark phase");
    gc_sweep(); // a is not marked: freed; b survives; advance marks withdrawn
    cr_assert_null(gc_base(a));
    cr_assert_eq(gc_base(b), b);
    cr_assert_null(gc_base(b + 48), "slot 2 was never handed out");
    verify_or_fail("after the sweep");
    gc_stats st;
    gc_get_stats(&st);
    cr_assert_eq(st.by_size[gch_size_to_class8[6]].mallocs, 2, "two 48-byte objects allocated");
}

// Overflow recovery rescans marked slots: the free slots of a window marked
// in advance must not reach the trace hook (they hold no object).
static void trace_allocated_only(void *obj, size_t size, void *ctx)
{
    (void)size;
    (void)ctx;
    cr_assert_eq(gc_base(obj), obj, "trace hook got %p, which is not an object", obj);
    traced++;
    struct node *n = obj;
    gc_mark(n->next);
    gc_mark(n->other);
}

Test(internal, overflow_rescan_skips_free_window_slots)
{
    enum { N = 300 };
    struct node *prev = NULL;
    for (int i = 0; i < N; i++) {
        struct node *n = gc_alloc(sizeof(struct node), true);
        n->next = prev;
        n->other = prev != NULL ? prev->next : NULL;
        prev = n;
    }
    list_head = prev; // the cache's window for this class is partly used
    gch_gcwork_limit = 1;
    gc_set_trace(trace_allocated_only, NULL);
    gc_set_roots(roots_list, NULL);
    gc_collect();
    gch_gcwork_limit = SIZE_MAX;
    cr_assert_geq(traced, (size_t)N);
    gc_stats st;
    gc_get_stats(&st);
    cr_assert_eq(st.heap_objects, (uint64_t)N, "all %d nodes survive, got %llu", N,
                 (unsigned long long)st.heap_objects);
}

// gc_get_stats counts what a cached span handed out although the span is
// charged whole while cached ([S9]).
Test(internal, stats_count_objects_of_partly_used_windows)
{
    gc_stats st0, st1;
    gc_get_stats(&st0);
    for (int i = 0; i < 100; i++)
        (void)gc_alloc(24, i & 1); // 100 objects across 2 cached spans
    gc_get_stats(&st1);
    cr_assert_eq(st1.heap_objects - st0.heap_objects, 100, "heap_objects grew by %llu",
                 (unsigned long long)(st1.heap_objects - st0.heap_objects));
    cr_assert_eq(st1.heap_alloc - st0.heap_alloc, 100 * 24);
    verify_or_fail("with cached spans");
}

static void *internal_thread_body(void *arg)
{
    for (int i = 0; i < 1000; i++)
        (void)gc_alloc(8 + (size_t)i % 500, i & 1);
    return arg;
}

static void *scav_keep;
static void roots_scav(void *ctx)
{
    (void)ctx;
    gc_mark(scav_keep);
}

Test(internal, collection_returns_free_pages_to_the_os)
{
    gc_set_roots(roots_scav, NULL);
    gc_set_gogc(-1);
    scav_keep = gc_alloc(64, true);
    for (int i = 0; i < 64; i++)
        (void)gc_alloc(1 << 20, false); // 64 MiB, all garbage
    gc_stats before, after, again;
    gc_get_stats(&before);
    cr_assert_eq(before.heap_released, 0, "nothing released before a collection");
    gc_collect();
    gc_get_stats(&after);
    cr_assert_eq(after.heap_released, 0,
                 "the cycle that freed the garbage keeps its peak (the next may need it)");
    for (int i = 0; i < 4; i++) // the 64 MiB peak leaves the 4-cycle window
        gc_collect();
    gc_get_stats(&after);
    // Retained: next_gc (4 MiB minimum) plus 10%; the rest of ~64 MiB goes.
    cr_assert_geq(after.heap_released, (uint64_t)48 << 20, "released %llu bytes of %llu",
                  (unsigned long long)after.heap_released, (unsigned long long)after.heap_sys);
    cr_assert_leq(after.heap_sys - after.heap_released, after.next_gc + after.next_gc / 10 + 8192,
                  "resident %llu, retain %llu",
                  (unsigned long long)(after.heap_sys - after.heap_released),
                  (unsigned long long)after.next_gc);
    verify_or_fail("after scavenging");
    // Reusing released pages takes them back, zeroed.
    for (int i = 0; i < 32; i++) {
        unsigned char *p = gc_alloc(1 << 20, false);
        cr_assert_not_null(p);
        cr_assert(p[0] == 0 && p[(1 << 20) - 1] == 0, "reused released memory is zero");
    }
    gc_get_stats(&again);
    cr_assert_lt(again.heap_released, after.heap_released, "allocation took released pages back");
    cr_assert_eq(again.heap_sys, after.heap_sys, "without growing the heap");
    verify_or_fail("after reuse");
}

Test(internal, exited_thread_caches_are_recycled)
{
    // A thread's cache goes back on the free list at exit and the next
    // thread reuses it, spans included.
    size_t before = 0, after = 0;
    for (int round = 0; round < 2; round++) {
        pthread_t t;
        pthread_create(&t, NULL, internal_thread_body, NULL);
        pthread_join(t, NULL);
        size_t n = 0;
        pthread_mutex_lock(&gch_gc.lock);
        for (struct mcache *c = gch_gc.mcaches; c != NULL; c = c->next)
            n++;
        pthread_mutex_unlock(&gch_gc.lock);
        if (round == 0)
            before = n;
        else
            after = n;
    }
    cr_assert_eq(before, after, "live caches %zu then %zu", before, after);
    verify_or_fail("after threads");
}

// The fast path's size map ([C3]): every size 1 .. GCH_SMALL_SIZE_MAX, scan
// and noscan, is served by the span of its class, including after the
// slots were refilled and flushed; and the verifier notices a stale entry.
static void roots_none(void *ctx)
{
    (void)ctx;
}

Test(internal, size_map_follows_the_class_slots)
{
    gc_set_roots(roots_none, NULL);
    for (int round = 0; round < 3; round++) {
        for (size_t size = 1; size <= GCH_SMALL_SIZE_MAX; size++) {
            for (int ptrs = 0; ptrs < 2; ptrs++) {
                void *p = gc_alloc(size, ptrs);
                cr_assert_not_null(p);
                if (size < GCH_TINY_SIZE && !ptrs)
                    continue; // inside the tiny block
                unsigned cls = gch_size_to_class8[(size + 7) / 8];
                cr_assert_eq(gc_size(p), gch_class_to_size[cls], "size %zu (ptrs %d): gc_size %zu",
                             size, ptrs, gc_size(p));
                struct mspan *s = gch_span_of((uintptr_t)p);
                cr_assert_eq(s->spanclass, gch_spanclass(cls, !ptrs), "size %zu (ptrs %d)", size,
                             ptrs);
                cr_assert_eq((void *)gch_tls_owner->small[!ptrs][(size - 1) / 8], (void *)s,
                             "size %zu (ptrs %d): the map does not point at the span used", size,
                             ptrs);
            }
        }
        verify_or_fail("after allocating every small size");
        gc_collect(); // flushes the cache: the map must empty with it
        verify_or_fail("after a collection");
        for (unsigned i = 0; i < GCH_DIRECT_SIZES; i++) {
            cr_assert_eq((void *)gch_tls_owner->small[0][i], (void *)&gch_empty_span);
            cr_assert_eq((void *)gch_tls_owner->small[1][i], (void *)&gch_empty_span);
        }
    }
    struct mcache *c = gch_tls_owner;
    void *p = gc_alloc(100, true);
    cr_assert_not_null(p);
    struct mspan *saved = c->small[0][(100 - 1) / 8];
    c->small[0][(100 - 1) / 8] = &gch_empty_span; // stale: the slot still has the span
    char why[256];
    pthread_mutex_lock(&gch_gc.lock);
    bool ok = gch_heap_verify(why, sizeof why);
    pthread_mutex_unlock(&gch_gc.lock);
    c->small[0][(100 - 1) / 8] = saved;
    cr_assert_not(ok, "the verifier missed a stale size-map entry");
    cr_assert(strstr(why, "[C3]") != NULL, "verifier said: %s", why);
}

// Partial sets ([C4]): the full sweep hands a partly free span back to the
// thread that filled it; another thread's refill does not get it; the
// owner's next refill does, without the mcentral; and a thread's exit
// returns its sets to the mcentrals.
enum { C4_OBJECTS = 400, C4_SIZE = 48 };
static void *c4_kept[C4_OBJECTS];
static struct mspan *c4_spans[C4_OBJECTS];
static int c4_nspans;
static pthread_barrier_t c4_barrier;
static void *c4_refill; // the thread's first object after the collection

static void roots_c4(void *ctx)
{
    (void)ctx;
    for (int i = 0; i < C4_OBJECTS; i++)
        gc_mark(c4_kept[i]);
}

static bool c4_thread_span(struct mspan *s)
{
    for (int i = 0; i < c4_nspans; i++) {
        if (c4_spans[i] == s)
            return true;
    }
    return false;
}

static void *c4_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < C4_OBJECTS; i++) {
        void *p = gc_alloc(C4_SIZE, false);
        cr_assert_not_null(p);
        if (i % 2 == 0)
            c4_kept[i / 2] = p; // every other object survives
        struct mspan *s = gch_span_of((uintptr_t)p);
        if (!c4_thread_span(s))
            c4_spans[c4_nspans++] = s;
    }
    pthread_barrier_wait(&c4_barrier); // the main thread collects
    pthread_barrier_wait(&c4_barrier); // and allocates
    c4_refill = gc_alloc(C4_SIZE, false);
    pthread_barrier_wait(&c4_barrier);
    return NULL;
}

Test(internal, partly_free_spans_go_back_to_the_thread_that_filled_them)
{
    gc_set_roots(roots_c4, NULL);
    pthread_barrier_init(&c4_barrier, NULL, 2);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, c4_thread, NULL), 0);
    pthread_barrier_wait(&c4_barrier);
    cr_assert_geq(c4_nspans, 2);
    struct mcache *owner = c4_spans[0]->last_cache;
    cr_assert_not_null(owner);
    cr_assert_neq(owner, gch_tls_owner);
    unsigned slot = gch_mcache_slot(c4_spans[0]->spanclass);
    int full = 0;
    for (struct mspan *s = owner->full[slot]; s != NULL; s = s->next) {
        cr_assert(c4_thread_span(s) && s->alloc_count == s->nelems);
        full++;
    }
    cr_assert_geq(full, 1, "the spans the thread filled up are not on its full list");
    struct mspan *tail = owner->full_tail[slot];
    owner->full_tail[slot] = NULL; // broken: the verifier must say so
    char why[256];
    pthread_mutex_lock(&gch_gc.lock);
    bool ok = gch_heap_verify(why, sizeof why);
    pthread_mutex_unlock(&gch_gc.lock);
    owner->full_tail[slot] = tail;
    cr_assert_not(ok, "the verifier missed a wrong list tail");
    cr_assert(strstr(why, "[C4]") != NULL, "verifier said: %s", why);
    gc_collect();
    cr_assert_null(owner->full[slot], "the collection did not take the full list back");
    verify_or_fail("after the collection");
    int held = 0;
    for (struct mspan *s = owner->partial[slot]; s != NULL; s = s->next) {
        cr_assert(c4_thread_span(s), "a span the thread did not fill is in its partial set");
        held++;
    }
    cr_assert_eq(held, c4_nspans, "%d of the thread's %d half-free spans came back to it", held,
                 c4_nspans);
    for (int i = 0; i < 200; i++) {
        void *q = gc_alloc(C4_SIZE, false);
        cr_assert_not(c4_thread_span(gch_span_of((uintptr_t)q)),
                      "the main thread was given a span of the other thread's set");
    }
    pthread_barrier_wait(&c4_barrier);
    pthread_barrier_wait(&c4_barrier);
    cr_assert(c4_thread_span(gch_span_of((uintptr_t)c4_refill)),
              "the thread's refill did not come from its own spans");
    pthread_join(t, NULL); // its cache's exit runs in the thread: read it after
    cr_assert_not(owner->live);
    for (unsigned i = 0; i < GCH_NUM_SPAN_CLASSES; i++)
        cr_assert_null(owner->partial[i], "an exited thread's cache still holds spans");
    verify_or_fail("after the thread exited");
    gc_collect();
    verify_or_fail("after a second collection");
    pthread_barrier_destroy(&c4_barrier);
}

// gen.c: a write-barrier log that cannot grow loses entries, so the next
// cycle must be major ([G2]); a young object stored into an old one then
// survives, found by the major cycle's full marking. Also: old objects
// keep their marks between cycles ([G1]), the verifier agrees.
Test(internal, barrier_log_overflow_makes_the_next_cycle_major)
{
    gc_set_generational(true);
    gc_set_trace(trace_node, NULL);
    gc_set_roots(roots_table, NULL);
    enum { OLD = 64 };
    for (int i = 0; i < OLD; i++)
        table[i] = gc_alloc(sizeof(struct node), true);
    // inner: old, reachable only through table[0] (not a root itself).
    struct node *inner = gc_alloc(sizeof(struct node), true);
    inner->id = 66;
    table[0]->next = inner;
    gc_collect(); // major: the bits become sticky
    gc_collect(); // minor
    gc_stats st;
    gc_get_stats(&st);
    cr_assert_eq(st.num_minor_gc, 1, "two cycles in generational mode: one minor");
    cr_assert(AO_load(&gch_gen.sticky) != 0);
    for (int i = 0; i < OLD; i++) {
        struct mspan *s = gch_span_of((uintptr_t)table[i]);
        cr_assert(gch_mark_bit_get(s->gcmark_bits, gch_span_obj_index(s, (uintptr_t)table[i])),
                  "old object %d unmarked between cycles", i);
    }
    verify_or_fail("between cycles, sticky");

    // The first barrier needs the log's first page: make it fail.
    struct node *young = gc_alloc(sizeof(struct node), true);
    young->id = 77;
    inner->other = young;
    gch_os_fail_nth(1);
    gc_write_barrier(inner);
    gch_os_fail_nth(0);
    cr_assert(gch_gen.overflow, "log growth failed: overflow expected");
    gc_collect();
    gc_get_stats(&st);
    cr_assert_eq(st.num_minor_gc, 1, "the cycle after an overflow must be major");
    // A minor cycle would not trace table[0] (old) and would free inner,
    // whose mark the barrier withdrew, and young.
    cr_assert_eq(gc_base(inner), inner, "old object whose barrier was not logged was freed");
    cr_assert_eq(gc_base(young), young, "young object stored into an old one was freed");
    cr_assert_eq(inner->id, 66);
    cr_assert_eq(young->id, 77);
    cr_assert(!gch_gen.overflow, "a major cycle resets the overflow");
    gc_collect();
    gc_get_stats(&st);
    cr_assert_eq(st.num_minor_gc, 2, "minor cycles again after the major one");
    verify_or_fail("after the minor cycle");
}

// sweep.c: the page heap, about to grow, asks gch_sweep_one for pages. It
// sweeps the large spans first, since a dead one returns its pages at
// once; then the caller's own unswept spans ([C6]), and a partly free one
// stays with the caller, on its [C4] partial list, instead of going to the
// mcentral where another thread would take it.
Test(internal, page_reclaim_sweeps_large_spans_first_and_keeps_own_spans)
{
    enum { N = 3000, SIZE = 48, BIG = 3 };
    void **keep = calloc(N, sizeof(void *));
    cr_assert_not_null(keep);
    for (int i = 0; i < N; i++)
        cr_assert_not_null(keep[i] = gc_alloc(SIZE, true));
    void *big[BIG];
    for (int i = 0; i < BIG; i++)
        cr_assert_not_null(big[i] = gc_alloc(100000, false));
    // Every other small object survives, no large one; the sweep is lazy.
    for (int i = 0; i < N; i += 2)
        gc_mark(keep[i]);
    gc_sweep();
    struct mcache *c = gch_tls_owner;
    cr_assert_not_null(c);
    struct mspan *small = gch_span_of((uintptr_t)keep[0]);
    unsigned list = gch_mcache_slot(small->spanclass);
    struct mspan *own = c->unswept[list];
    cr_assert_not_null(own, "the thread's spans are not on its unswept list");
    uint32_t sg = (uint32_t)AO_load(&gch_mheap.sweepgen);

    for (int k = 0; k < BIG; k++) {
        cr_assert(gch_sweep_one());
        cr_assert_eq(c->unswept[list], own,
                     "sweep %d took one of the thread's small spans "
                     "before the dead large ones",
                     k + 1);
    }
    for (int i = 0; i < BIG; i++)
        cr_assert_null(gc_base(big[i]), "dead large object %d still in the heap", i);

    cr_assert_null(c->partial[list]);
    cr_assert(gch_sweep_one());
    cr_assert_neq(c->unswept[list], own, "the next sweep did not take the thread's own span");
    cr_assert_eq(c->partial[list], own, "the swept, half-free span left the thread");
    cr_assert_eq((uint32_t)AO_load(&own->sweepgen), sg);
    cr_assert(own->alloc_count > 0 && own->alloc_count < own->nelems);
    verify_or_fail("after the page heap's sweeps");
    free(keep);
}

static size_t list_length(const struct mspan *s)
{
    size_t n = 0;
    for (; s != NULL; s = s->next)
        n++;
    return n;
}

// mcache.c: sweep-ahead. After a lazy gc_sweep, each refill also sweeps
// one span of the thread's unswept lists, of any class, and keeps it
// ([C4]); so a thread that allocates enough sweeps all its own spans
// before the next mark phase, and gch_finish_sweep, which runs with the
// world stopped, finds none of them.
Test(internal, refills_sweep_the_threads_other_classes_ahead)
{
    enum { N = 4000, SMALL = 48, OTHER = 256 };
    void **keep = calloc(2 * N, sizeof(void *));
    cr_assert_not_null(keep);
    for (int i = 0; i < N; i++) {
        cr_assert_not_null(keep[2 * i] = gc_alloc(SMALL, true));
        cr_assert_not_null(keep[2 * i + 1] = gc_alloc(OTHER, true));
    }
    for (int i = 0; i < 2 * N; i += 4) { // half of each class survives
        gc_mark(keep[i]);
        gc_mark(keep[i + 1]);
    }
    gc_sweep();
    struct mcache *c = gch_tls_owner;
    unsigned other = gch_mcache_slot(gch_span_of((uintptr_t)keep[1])->spanclass);
    size_t before = list_length(c->unswept[other]);
    cr_assert_gt(before, 2, "the thread's 256-byte spans are not on its unswept list");
    cr_assert(c->sweep_ahead);

    // Allocate 48-byte objects only: their refills sweep the 256-byte spans too.
    int i = 0;
    while (c->unswept[other] != NULL && i < 1000000) {
        cr_assert_not_null(gc_alloc(SMALL, true));
        i++;
    }
    cr_assert_null(c->unswept[other], "the 256-byte spans were not swept ahead");
    cr_assert_eq(list_length(c->partial[other]), before,
                 "the half-free spans swept ahead did not stay with the thread");
    while (c->sweep_ahead && i < 2000000) {
        cr_assert_not_null(gc_alloc(SMALL, true));
        i++;
    }
    cr_assert_not(c->sweep_ahead, "unswept spans left after %d allocations", i);
    for (unsigned k = 0; k < GCH_NUM_SPAN_CLASSES; k++)
        cr_assert_null(c->unswept[k]);
    verify_or_fail("after sweeping ahead");
    free(keep);
}

// mcache.c: the span a thread is allocating from when a mark phase ends
// stays the thread's ([C4], then [C6]), though partly used: it does not go
// to the mcentral, where the next mark start's full sweep or another
// thread's refill would take it.
Test(internal, the_cached_span_stays_with_its_thread_at_the_end_of_a_mark_phase)
{
    void *p[10];
    for (int i = 0; i < 10; i++)
        cr_assert_not_null(p[i] = gc_alloc(96, true));
    struct mspan *s = gch_span_of((uintptr_t)p[0]);
    struct mcache *c = gch_tls_owner;
    unsigned list = gch_mcache_slot(s->spanclass);
    cr_assert_eq((struct mspan *)c->alloc[list], s, "the objects' span is not the cached one");
    cr_assert_lt(s->nelems, 1000);
    cr_assert_gt(s->nelems, 10, "the span is not partly used");
    gc_mark(p[3]);
    gc_sweep();
    bool own = false;
    for (struct mspan *q = c->unswept[list]; q != NULL; q = q->next)
        own |= q == s;
    cr_assert(own, "the partly used span left the thread at the end of the mark phase");
    void *q = gc_alloc(96, true);
    cr_assert_eq(gch_span_of((uintptr_t)q), s, "the next allocation did not come from it");
    cr_assert(gc_base(p[3]) == p[3]);
    verify_or_fail("after the refill");
}
