// test_collect_cycles.c: black-box tests of whole collection cycles
// (issue "collector"; see test_collect.c for the protocol): lazy sweeping,
// churn with a bounded heap, large objects, gc_collect, GOGC and the pacer
// (automatic collection, gc_collect_due), and hooks that break the rules.
//
// Each Test runs in its own forked process, so hooks and GOGC set by one
// Test do not leak into another, and statistics start from zero.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include "util.h"

static void no_roots(void *ctx)
{
    (void)ctx;
}

// ------------------------------------------------------- lazy sweeping

Test(collect, lazy_sweep_reuses_freed_slots_without_growing)
{
    enum { N = 10240, SIZE = 64, PER_SPAN = 8192 / SIZE };
    unsigned char **p = malloc(N * sizeof *p);
    uintptr_t *freed = malloc(N / 2 * sizeof *freed), *kept = malloc(N / 2 * sizeof *kept);
    uintptr_t *pages = malloc(N * sizeof *pages);
    cr_assert(p && freed && kept && pages);
    for (int i = 0; i < N; i++) {
        p[i] = gc_alloc(SIZE, true);
        cr_assert_not_null(p[i]);
        fill_pattern(p[i], SIZE, (uint64_t)i);
        pages[i] = (uintptr_t)p[i] >> 13;
    }
    for (int i = 0; i < N; i += 2)
        CHECK(gc_mark(p[i]), "gc_mark(object %d) returned false", i);
    gc_sweep();
    uint64_t sys0 = get_stats().heap_sys;
    for (int i = 0; i < N / 2; i++) {
        kept[i] = (uintptr_t)p[2 * i];
        freed[i] = (uintptr_t)p[2 * i + 1];
    }
    qsort(kept, N / 2, sizeof *kept, cmp_uintptr);
    qsort(freed, N / 2, sizeof *freed, cmp_uintptr);
    qsort(pages, N, sizeof *pages, cmp_uintptr);

    size_t from_freed = 0;
    for (int j = 0; j < N / 2; j++) {
        unsigned char *q = gc_alloc(SIZE, true);
        cr_assert_not_null(q);
        uintptr_t a = (uintptr_t)q, pg = a >> 13;
        CHECK(bsearch(&a, kept, N / 2, sizeof a, cmp_uintptr) == NULL,
              "new object %d got the address %p of a marked, live object", j, (void *)q);
        CHECK(bsearch(&pg, pages, N, sizeof pg, cmp_uintptr) != NULL,
              "new object %d at %p is outside the pages the class used before the sweep", j,
              (void *)q);
        CHECK_EQ(first_nonzero(q, SIZE), SIZE, "new object %d reusing a swept slot is not zero", j);
        if (bsearch(&a, freed, N / 2, sizeof a, cmp_uintptr) != NULL)
            from_freed++;
    }
    // All but at most one span's worth (a span that was not full before the
    // sweep) must come from the freed slots.
    CHECK_CMP(from_freed, >=, N / 2 - PER_SPAN, "new objects placed in slots freed by the sweep");
    CHECK_EQ(get_stats().heap_sys, sys0, "heap_sys after refilling the freed slots");
    for (int i = 0; i < N; i += 2)
        CHECK_EQ(check_pattern(p[i], SIZE, (uint64_t)i), SIZE,
                 "first damaged byte of surviving object %d", i);
    free(p);
    free(freed);
    free(kept);
    free(pages);
}

// ----------------------------------------------------------------- churn

enum { RING = 8192 };

struct parent {
    unsigned char *child;
    uint64_t seq;
    uint64_t len;
};

static struct parent **ring;

static void ring_roots(void *ctx)
{
    (void)ctx;
    for (int i = 0; i < RING; i++)
        gc_mark(ring[i]);
}

static void ring_trace(void *obj, size_t size, void *ctx)
{
    (void)size;
    (void)ctx;
    gc_mark(((struct parent *)obj)->child);
}

static void ring_check(int slot)
{
    struct parent *p = ring[slot];
    if (p == NULL)
        return;
    CHECK_PTR_EQ(gc_base(p), p, "gc_base of live ring parent %d (seq %ju)", slot,
                 (uintmax_t)p->seq);
    CHECK_EQ(p->seq % RING, (uint64_t)slot, "seq of ring parent %d", slot);
    unsigned char *c = p->child;
    CHECK(c != NULL, "ring parent %d has lost its child pointer", slot);
    CHECK_PTR_EQ(gc_base(c), c, "gc_base of live ring child %d (seq %ju)", slot, (uintmax_t)p->seq);
    unsigned char want = (unsigned char)(p->seq * 31 + 7);
    CHECK_EQ(c[0], want, "first byte of ring child %d", slot);
    CHECK_EQ(c[p->len / 2], want, "middle byte of ring child %d", slot);
    CHECK_EQ(c[p->len - 1], want, "last byte of ring child %d", slot);
}

Test(collect, churn_of_1gb_with_10mb_live_stays_bounded)
{
    uint64_t seed = test_seed();
    unsetenv("GCHEAP_GOGC"); // default GOGC
    ring = calloc(RING, sizeof *ring);
    cr_assert_not_null(ring);
    gc_set_roots(ring_roots, NULL);
    gc_set_trace(ring_trace, NULL);
    uint64_t total = 0, limit = scaled((size_t)1 << 30, 64u << 20);
    double t0 = now_seconds();
    for (uint64_t seq = 0; total < limit; seq++) {
        int slot = (int)(seq % RING);
        ring_check(slot);
        // Parent first, rooted at once: the child's allocation may collect.
        size_t plen = 24 + (size_t)rng_below(&seed, 232);
        struct parent *p = gc_alloc(plen, true);
        cr_assert_not_null(p);
        ring[slot] = p;
        p->seq = seq;
        p->len = 16 + rng_below(&seed, 2033);
        p->child = gc_alloc(p->len, false);
        cr_assert_not_null(p->child);
        memset(p->child, (unsigned char)(seq * 31 + 7), p->len);
        total += plen + p->len;
    }
    gc_stats s = get_stats();
    cr_log_info("churn: %.3f s, %ju collections, heap_sys %ju MiB", now_seconds() - t0,
                (uintmax_t)s.num_gc, (uintmax_t)(s.heap_sys >> 20));
    for (int i = 0; i < RING; i++)
        ring_check(i);
    CHECK_CMP(s.num_gc, >, 0, "automatic collections after allocating %ju bytes with GOGC=100",
              (uintmax_t)total);
    CHECK_CMP(s.heap_sys, <, 64u << 20, "heap_sys with ~10 MB live after allocating %ju bytes",
              (uintmax_t)total);
    free(ring);
}

// A steady small heap (a FIFO ring of mixed sizes at the 4 MiB minimum goal,
// the shape of bench/alloc_throughput.c) keeps the pages it faults back in:
// the pacer releases only an excess of more than 1/8 of its target
// (pacer.c). Releasing at every collection the few pages the next one
// faults back in cost the benchmark a third of its time.
enum { STEADY_RING = 4096 };
static void **steady;

static void steady_roots(void *ctx)
{
    (void)ctx;
    for (int i = 0; i < STEADY_RING; i++)
        gc_mark(steady[i]);
}

Test(collect, a_steady_heap_is_not_released_at_every_collection)
{
    unsetenv("GCHEAP_GOGC");
    uint64_t seed = test_seed();
    steady = calloc(STEADY_RING, sizeof *steady);
    cr_assert_not_null(steady);
    gc_set_roots(steady_roots, NULL);
    uint64_t last_gc = 0, last_released = 0, cycles = 0, releases = 0;
    for (uint64_t i = 0; cycles < 300; i++) {
        uint64_t r = rng_below(&seed, 1000);
        size_t size = r < 900   ? 8 + (size_t)rng_below(&seed, 249)
                      : r < 999 ? 1024 + (size_t)rng_below(&seed, 3073)
                                : (size_t)64 << 10;
        steady[i % STEADY_RING] = gc_alloc(size, false);
        cr_assert_not_null(steady[i % STEADY_RING], "allocation %ju", (uintmax_t)i);
        if (i % 64 != 0)
            continue;
        gc_stats s = get_stats();
        if (s.num_gc == last_gc)
            continue;
        // A collection ran since the last look: did it release pages?
        if (last_gc >= 50) { // past the first collections' growth
            cycles++;
            releases += s.heap_released > last_released;
        }
        last_gc = s.num_gc;
        last_released = s.heap_released;
    }
    CHECK_CMP(releases, <=, cycles / 20, "collections out of %ju that released pages",
              (uintmax_t)cycles);
    free(steady);
}

// ------------------------------------------------------ large objects

static void *large_cur[10];

static void large_roots(void *ctx)
{
    (void)ctx;
    for (int i = 0; i < 10; i++)
        gc_mark(large_cur[i]);
}

Test(collect, repeated_large_cycles_do_not_grow_the_heap)
{
    uint64_t sys2 = 0;
    gc_stats s = {0};
    gc_set_roots(large_roots, NULL);
    for (int cycle = 1; cycle <= 100; cycle++) {
        for (int i = 0; i < 10; i++) {
            unsigned char *p = gc_alloc(1 << 20, i % 2 == 0);
            cr_assert_not_null(p);
            large_cur[i] = p;
            CHECK(p[0] == 0 && p[(1 << 20) - 1] == 0, "cycle %d: new 1 MiB object not zero", cycle);
            p[0] = p[(1 << 20) - 1] = 0xEE;
        }
        for (int i = 0; i < 10; i++)
            CHECK_EQ(((unsigned char *)large_cur[i])[0], 0xEE, "cycle %d: object %d overwritten",
                     cycle, i);
        memset(large_cur, 0, sizeof large_cur);
        gc_collect();
        s = get_stats();
        CHECK_EQ(s.heap_alloc, 0, "cycle %d: heap_alloc after collecting everything", cycle);
        if (cycle == 2)
            sys2 = s.heap_sys;
    }
    CHECK_CMP(s.heap_sys, <=, sys2, "heap_sys after cycle 100 vs after cycle 2");
}

// ------------------------------------------------ emptied spans
//
// gc_collect's sweep keeps the spans it empties for the thread that filled
// them, one cycle (sweep.c): the thread's next cycle refills from them
// without the page heap. heap_inuse counts them meanwhile.

enum { KEEP_N = 10240, KEEP_SIZE = 64 }; // 80 spans of one page

// Allocates KEEP_N garbage objects of KEEP_SIZE bytes; if pages is not
// NULL, records their pages (sorted); if old is not NULL, checks that every
// object lies in one of those pages and is zeroed.
static void keep_fill(uintptr_t *pages, const uintptr_t *old, const char *when)
{
    for (int i = 0; i < KEEP_N; i++) {
        unsigned char *p = gc_alloc(KEEP_SIZE, true);
        cr_assert_not_null(p, "%s: gc_alloc number %d", when, i);
        uintptr_t pg = (uintptr_t)p / TEST_PAGE_SIZE;
        if (old != NULL) {
            CHECK(bsearch(&pg, old, KEEP_N, sizeof pg, cmp_uintptr) != NULL,
                  "%s: object %d at %p outside the pages of the emptied spans", when, i, (void *)p);
            CHECK_EQ(first_nonzero(p, KEEP_SIZE), KEEP_SIZE, "%s: object %d not zeroed", when, i);
        }
        memset(p, 0xA5, KEEP_SIZE);
        if (pages != NULL)
            pages[i] = pg;
    }
    if (pages != NULL)
        qsort(pages, KEEP_N, sizeof *pages, cmp_uintptr);
}

Test(collect, gc_collect_keeps_emptied_spans_for_their_thread_one_cycle)
{
    uintptr_t *pages = malloc(KEEP_N * sizeof *pages);
    cr_assert_not_null(pages);
    gc_set_gogc(-1); // only this test's gc_collect calls collect
    gc_set_roots(no_roots, NULL);
    gc_stats s0 = get_stats();
    keep_fill(pages, NULL, "first fill");
    gc_stats s1 = get_stats();
    CHECK_CMP(s1.heap_inuse - s0.heap_inuse, >=, (uint64_t)KEEP_N * KEEP_SIZE,
              "heap_inuse growth of the first fill");

    gc_collect(); // every object dies: the spans stay with this thread
    gc_stats s2 = get_stats();
    CHECK_EQ(s2.heap_alloc, s0.heap_alloc, "heap_alloc after collecting the first fill");
    CHECK_EQ(s2.heap_inuse, s1.heap_inuse, "heap_inuse with the emptied spans kept");

    // The next cycle's objects come from them, zeroed, with no new span.
    keep_fill(NULL, pages, "second fill");
    CHECK_EQ(get_stats().heap_inuse, s1.heap_inuse, "heap_inuse after the second fill");
    CHECK_EQ(get_stats().heap_sys, s1.heap_sys, "heap_sys after the second fill");

    gc_collect(); // used again this cycle: kept again
    CHECK_EQ(get_stats().heap_inuse, s1.heap_inuse, "heap_inuse after the second collection");
    gc_collect(); // kept but not used since: back to the page heap
    gc_stats s3 = get_stats();
    CHECK_EQ(s3.heap_inuse, s0.heap_inuse, "heap_inuse after a cycle that used no kept span");
    CHECK_EQ(s3.heap_alloc, s0.heap_alloc, "heap_alloc at the end");
    free(pages);
}

static void *keep_thread(void *arg)
{
    (void)arg;
    keep_fill(NULL, NULL, "thread fill");
    return NULL;
}

static void *keep_own;

static void keep_own_roots(void *ctx)
{
    (void)ctx;
    gc_mark(keep_own);
}

Test(collect, spans_emptied_after_their_thread_exited_return_to_the_page_heap)
{
    gc_set_gogc(-1);
    gc_set_roots(keep_own_roots, NULL);
    // This thread gets its cache first (the exiting thread's cache, once
    // free, would go to the next thread to allocate, with its spans), for a
    // live object, so that its own span stays.
    keep_own = gc_alloc(16, false);
    cr_assert_not_null(keep_own);
    gc_stats s0 = get_stats();
    run_in_thread(keep_thread, NULL);
    CHECK_CMP(get_stats().heap_inuse - s0.heap_inuse, >=, (uint64_t)KEEP_N * KEEP_SIZE,
              "heap_inuse growth of the thread's fill");
    gc_collect(); // nobody to keep them for
    CHECK_EQ(get_stats().heap_inuse, s0.heap_inuse, "heap_inuse after collecting them");
}

// ------------------------------------------- gc_collect and GOGC

Test(collect, gc_collect_without_roots_hook_does_nothing)
{
    unsigned char *p[100];
    for (int i = 0; i < 100; i++) {
        p[i] = gc_alloc(16 + (size_t)i * 40, i % 2 == 0);
        fill_pattern(p[i], 16 + (size_t)i * 40, (uint64_t)i);
    }
    gc_stats s0 = get_stats();
    gc_collect();
    gc_stats s1 = get_stats();
    CHECK_EQ(s1.num_gc, s0.num_gc, "num_gc after gc_collect without a roots hook");
    CHECK_EQ(s1.heap_objects, s0.heap_objects,
             "heap_objects after gc_collect without a roots hook");
    for (int i = 0; i < 100; i++) {
        CHECK_PTR_EQ(gc_base(p[i]), p[i],
                     "gc_base of object %d after gc_collect without a roots hook", i);
        CHECK_EQ(check_pattern(p[i], 16 + (size_t)i * 40, (uint64_t)i), 16 + (size_t)i * 40,
                 "first damaged byte of object %d", i);
    }
}

Test(collect, gc_set_gogc_returns_the_previous_value)
{
    unsetenv("GCHEAP_GOGC");
    CHECK_EQ(gc_set_gogc(50), 100, "first gc_set_gogc (the default)");
    CHECK_EQ(gc_set_gogc(-1), 50, "gc_set_gogc(-1) after 50");
    CHECK_EQ((intmax_t)gc_set_gogc(-7), -1, "gc_set_gogc(-7) after off");
    CHECK_EQ((intmax_t)gc_set_gogc(200), -1, "gc_set_gogc(200) after off (-7 is off too)");
    CHECK_EQ(gc_set_gogc(100), 200, "gc_set_gogc(100) after 200");
    CHECK_EQ(gc_set_gogc(0), 100, "gc_set_gogc(0) after 100");
    CHECK_EQ(gc_set_gogc(100), 0, "gc_set_gogc(100) after 0");
}

Test(collect, gogc_off_disables_automatic_collection)
{
    unsetenv("GCHEAP_GOGC");
    gc_set_gogc(-1);
    gc_set_roots(no_roots, NULL); // everything is garbage, if it collected
    enum { NL = 100, NS = 100000 };
    void **large = malloc(NL * sizeof *large), **small = malloc(NS * sizeof *small);
    cr_assert(large && small);
    for (int i = 0; i < NL; i++) {
        large[i] = gc_alloc(1 << 20, false);
        CHECK(large[i] != NULL, "gc_alloc(1 MiB) number %d returned NULL", i);
    }
    for (int i = 0; i < NS; i++) {
        small[i] = gc_alloc(64, true);
        CHECK(small[i] != NULL, "gc_alloc(64) number %d returned NULL", i);
    }
    gc_stats s = get_stats();
    CHECK_EQ(s.num_gc, 0, "collections while allocating ~106 MB with GOGC off");
    for (int i = 0; i < NL; i++)
        CHECK_PTR_EQ(gc_base(large[i]), large[i], "gc_base of large object %d (GOGC off)", i);
    for (int i = 0; i < NS; i++)
        CHECK_PTR_EQ(gc_base(small[i]), small[i], "gc_base of small object %d (GOGC off)", i);
    // The same program collects once GOGC is back on: the heap is far past
    // next_gc.
    CHECK_EQ((intmax_t)gc_set_gogc(100), -1, "gc_set_gogc(100) after off");
    for (int i = 0; i < 128 && get_stats().num_gc == 0; i++)
        gc_alloc(64 << 10, false);
    CHECK_CMP(get_stats().num_gc, >, 0,
              "collections after turning GOGC back on and allocating 8 MiB");
    free(large);
    free(small);
}

// gc_collect_due: gcheap's pacing for a host that collects at safepoints
// (no roots hook while it allocates, so gc_alloc never collects itself).
Test(collect, gc_collect_due_follows_the_goal_without_a_roots_hook)
{
    unsetenv("GCHEAP_GOGC");
    CHECK(!gc_collect_due(), "a new heap is not due (next_gc is 4 MiB)");
    int n = 0;
    while (!gc_collect_due() && n < 1000) {
        CHECK(gc_alloc(64 << 10, false) != NULL, "gc_alloc(64 KiB) number %d", n);
        n++;
    }
    CHECK(gc_collect_due(), "due after %d x 64 KiB", n);
    gc_stats s = get_stats();
    CHECK_EQ(s.num_gc, 0, "no collection without a roots hook");
    CHECK_CMP((uint64_t)n * (64 << 10), >=, (uint64_t)3 << 20,
              "not due before about next_gc (4 MiB) was allocated: %d x 64 KiB", n);
    CHECK_CMP((uint64_t)n * (64 << 10), <=, (uint64_t)5 << 20,
              "due soon after next_gc (4 MiB) was allocated: %d x 64 KiB", n);
    gc_set_roots(no_roots, NULL);
    gc_collect();
    gc_set_roots(NULL, NULL);
    CHECK(!gc_collect_due(), "not due right after a collection freed everything");
    gc_set_gogc(-1);
    for (int i = 0; i < 200; i++)
        gc_alloc(64 << 10, false);
    CHECK(!gc_collect_due(), "never due with GOGC off");
    gc_set_gogc(100);
    CHECK(gc_collect_due(), "due again once GOGC is back on (12.5 MiB allocated)");
}

static void *pace_live[8];

static void pace_roots(void *ctx)
{
    (void)ctx;
    for (int i = 0; i < 8; i++)
        gc_mark(pace_live[i]);
}

Test(collect, next_gc_follows_gogc_and_triggers_collection)
{
    unsetenv("GCHEAP_GOGC");
    gc_set_roots(pace_roots, NULL);
    gc_set_gogc(-1);
    for (int i = 0; i < 8; i++)
        pace_live[i] = gc_alloc(1 << 20, false);
    for (int i = 0; i < 8; i++) // 8 MiB of garbage
        gc_alloc(1 << 20, i % 2 == 0);
    gc_set_gogc(100);
    gc_collect();
    gc_stats s = get_stats();
    CHECK_EQ(s.heap_alloc, 8u << 20, "heap_alloc after collecting with 8 MiB live");
    CHECK_EQ(s.live_after_gc, 8u << 20, "live_after_gc after collecting with 8 MiB live");
    CHECK_EQ(s.next_gc, 16u << 20, "next_gc with 8 MiB live and GOGC=100 (live * 2)");
    gc_set_gogc(50);
    gc_collect();
    s = get_stats();
    CHECK_EQ(s.next_gc, 12u << 20, "next_gc with 8 MiB live and GOGC=50 (live * 1.5)");
    for (int i = 1; i < 8; i++)
        pace_live[i] = NULL;
    gc_collect();
    s = get_stats();
    CHECK_EQ(s.live_after_gc, 1u << 20, "live_after_gc with 1 MiB live");
    CHECK_EQ(s.next_gc, 4u << 20, "next_gc with 1 MiB live and GOGC=50 (the 4 MiB floor)");

    // Automatic collection: allocate garbage until a collection happens;
    // until then heap_alloc must never pass next_gc.
    gc_set_gogc(100);
    uint64_t gcs = s.num_gc;
    int i = 0;
    for (; i < 200; i++) {
        cr_assert_not_null(gc_alloc(64 << 10, false));
        s = get_stats();
        if (s.num_gc != gcs)
            break;
        CHECK_CMP(s.heap_alloc, <=, s.next_gc, "heap_alloc after %d garbage allocations of 64 KiB",
                  i + 1);
    }
    CHECK_CMP(s.num_gc, >, gcs, "collections after allocating %d x 64 KiB past a 4 MiB next_gc", i);
    CHECK_PTR_EQ(gc_base(pace_live[0]), pace_live[0],
                 "gc_base of the rooted object after automatic collection");
}

// After a lazy gc_sweep, the pacer starts from the marked bytes: garbage
// that no sweep has freed yet does not make the next collection due.
// (It did: heap_live kept the unswept garbage until it was swept, and a
// host ending its cycles with gc_sweep collected half again as often as
// one using gc_collect, 966 times against 626 in bench/alloc_throughput.)
Test(collect, gc_collect_due_ignores_garbage_a_lazy_sweep_has_not_freed)
{
    unsetenv("GCHEAP_GOGC");
    gc_set_gogc(-1); // no goal while the garbage is made
    void *live = gc_alloc(1 << 20, false);
    CHECK(live != NULL, "gc_alloc(1 MiB)");
    for (int i = 0; i < (16 << 10); i++) // 16 MiB of 1 KiB garbage
        CHECK(gc_alloc(1024, i % 2 == 0) != NULL, "gc_alloc(1 KiB) number %d", i);
    gc_set_gogc(100);
    CHECK(gc_collect_due(), "17 MiB allocated is past the first goal (4 MiB)");
    gc_mark(live);
    gc_sweep();
    gc_stats s = get_stats();
    CHECK_CMP(s.heap_alloc, >=, (uint64_t)16 << 20, "the garbage is not swept yet (lazy)");
    CHECK_EQ(s.live_after_gc, 1u << 20, "the marked bytes: the 1 MiB object");
    CHECK_EQ(s.next_gc, 4u << 20, "next_gc: the 4 MiB floor");
    CHECK(!gc_collect_due(), "not due: 1 MiB live against a 4 MiB goal");
    // Allocating sweeps the garbage's spans and reuses them; the pacer
    // counts only the new objects, 3 MiB of them before the goal.
    uint64_t n = 0;
    while (!gc_collect_due() && n < (64 << 10)) {
        CHECK(gc_alloc(1024, false) != NULL, "gc_alloc(1 KiB) after the sweep");
        n++;
    }
    CHECK(gc_collect_due(), "due after %llu x 1 KiB", (unsigned long long)n);
    CHECK_CMP(n * 1024, >=, (uint64_t)5 << 19, "not due before about 3 MiB more: %llu KiB",
              (unsigned long long)n);
    CHECK_CMP(n * 1024, <=, (uint64_t)7 << 19, "due by about 3 MiB more: %llu KiB",
              (unsigned long long)n);
}

// ------------------------------------------------- misbehaving hooks

static unsigned char *victim;

static void trace_allocs(void *obj, size_t size, void *ctx)
{
    (void)obj, (void)size, (void)ctx;
    gc_alloc(16, true);
}
static void trace_sweeps(void *obj, size_t size, void *ctx)
{
    (void)obj, (void)size, (void)ctx;
    gc_sweep();
}
static void trace_collects(void *obj, size_t size, void *ctx)
{
    (void)obj, (void)size, (void)ctx;
    gc_collect();
}
static void roots_allocs(void *ctx)
{
    (void)ctx;
    gc_mark(victim);
    gc_alloc(16, true);
}
static void roots_sweeps(void *ctx)
{
    (void)ctx;
    gc_mark(victim);
    gc_sweep();
}
static void roots_collects(void *ctx)
{
    (void)ctx;
    gc_mark(victim);
    gc_collect();
}
static void roots_victim(void *ctx)
{
    (void)ctx;
    gc_mark(victim);
}

// For the Tests that expect SIGABRT: the abort message is checked by the
// last Test; here it would only clutter the runner's output.
static void quiet_stderr(void)
{
    int fd = open("/dev/null", O_WRONLY);
    if (fd >= 0) {
        dup2(fd, 2);
        close(fd);
    }
}

// Through gc_mark alone (no roots hook).
static void run_trace_hook(gc_trace_fn fn)
{
    gc_set_trace(fn, NULL);
    victim = gc_alloc(64, true);
    gc_mark(victim);
}
static void run_trace_allocs(void)
{
    run_trace_hook(trace_allocs);
}
static void run_trace_sweeps(void)
{
    run_trace_hook(trace_sweeps);
}
static void run_trace_collects(void)
{
    run_trace_hook(trace_collects);
}

// Through gc_collect.
static void run_roots_hook(gc_roots_fn fn, gc_trace_fn trace)
{
    victim = gc_alloc(64, true);
    gc_set_trace(trace, NULL);
    gc_set_roots(fn, NULL);
    gc_collect();
}
static void run_roots_allocs(void)
{
    run_roots_hook(roots_allocs, NULL);
}
static void run_roots_sweeps(void)
{
    run_roots_hook(roots_sweeps, NULL);
}
static void run_roots_collects(void)
{
    run_roots_hook(roots_collects, NULL);
}
static void run_collect_trace_allocs(void)
{
    run_roots_hook(roots_victim, trace_allocs);
}

Test(collect, trace_hook_calling_gc_alloc_aborts, .signal = SIGABRT, .init = quiet_stderr)
{
    run_trace_allocs();
}

Test(collect, roots_hook_calling_gc_collect_aborts, .signal = SIGABRT, .init = quiet_stderr)
{
    run_roots_collects();
}

Test(collect, trace_hook_calling_gc_sweep_aborts, .signal = SIGABRT, .init = quiet_stderr)
{
    run_trace_sweeps();
}

Test(collect, misbehaving_hooks_abort_with_one_gcheap_line_on_stderr)
{
    static const struct {
        const char *what;
        void (*fn)(void);
    } cases[] = {
        {"trace hook calls gc_alloc (via gc_mark)", run_trace_allocs},
        {"trace hook calls gc_sweep (via gc_mark)", run_trace_sweeps},
        {"trace hook calls gc_collect (via gc_mark)", run_trace_collects},
        {"trace hook calls gc_alloc (via gc_collect)", run_collect_trace_allocs},
        {"roots hook calls gc_alloc", run_roots_allocs},
        {"roots hook calls gc_sweep", run_roots_sweeps},
        {"roots hook calls gc_collect", run_roots_collects},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct child_result r;
        run_child(cases[i].fn, &r);
        CHECK(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT,
              "%s: expected death by SIGABRT, got %s %d; stderr: \"%s\"", cases[i].what,
              WIFSIGNALED(r.status) ? "signal" : "exit status",
              WIFSIGNALED(r.status) ? WTERMSIG(r.status) : WEXITSTATUS(r.status), r.err);
        CHECK(strncmp(r.err, "gcheap: ", 8) == 0,
              "%s: stderr must start with \"gcheap: \", got \"%s\"", cases[i].what, r.err);
        const char *nl = strchr(r.err, '\n');
        CHECK(nl != NULL && nl[1] == '\0', "%s: stderr must be exactly one line, got \"%s\"",
              cases[i].what, r.err);
    }
}
