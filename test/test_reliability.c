// test_reliability.c: the issue "Reliability", part one: the memory limit
// (gc_set_limit, GCHEAP_MEMLIMIT) and what ASan sees of swept and live
// objects. Part two, test_reliability_faults.c: an OS failure injected at
// every fallible call of a reference workload, and host misuse reported as
// one line and an abort. Part three, test_reliability_pointers.c: hostile
// pointers given to gc_mark/gc_base/gc_size.
//
// White-box where it must be (src/internal.h, through whitebox.h). Each Test
// runs in its own process (Criterion forks), so limits and hooks never leak
// from one to another; tests that need a fresh library or must watch a
// process die use forked children.
#include "whitebox.h"

#include <signal.h>

// ---------------------------------------------------------- memory limit

Test(reliability, set_limit_returns_the_previous_limit)
{
    unsetenv("GCHEAP_MEMLIMIT");
    CHECK_EQ(gc_set_limit(64 * MiB), SIZE_MAX, "first gc_set_limit (no limit by default)");
    CHECK_EQ(gc_set_limit(1024 * MiB), 64 * MiB, "gc_set_limit after 64 MiB");
    CHECK_EQ(gc_set_limit(0), 1024 * MiB, "gc_set_limit after 1 GiB");
    CHECK_EQ(gc_set_limit(SIZE_MAX), 0, "gc_set_limit after 0");
    CHECK_EQ(gc_set_limit(SIZE_MAX), SIZE_MAX, "gc_set_limit after SIZE_MAX");
}

// An allocated object the limit tests keep and check.
struct kept {
    unsigned char *p;
    size_t size;  // requested
    size_t check; // bytes covered by the pattern (large objects: head and tail)
    uint64_t tag;
};

static void kept_fill(struct kept *k)
{
    fill_ends(k->p, k->size, k->check, k->tag);
}

// Offset of the first damaged byte, or k->check if intact.
static size_t kept_damage(const struct kept *k)
{
    return ends_damage(k->p, k->size, k->check, k->tag);
}

static struct kept make_kept(void *p, size_t size, uint64_t tag)
{
    struct kept k = {p, size, size > 8192 ? 8192 : size, tag};
    kept_fill(&k);
    return k;
}

// Observes heap_sys against the limit.
static void check_sys(size_t limit, const char *when, size_t i)
{
    gc_stats s = get_stats();
    CHECK_CMP(s.heap_sys, <=, limit, "heap_sys %s (allocation %zu)", when, i);
}

static const struct {
    const char *name;
    size_t size;
    bool has_ptrs;
} limit_kinds[] = {
    {"large 1 MiB", 1 * MiB, false},  {"large 40000 bytes", 40000, true},
    {"small 4096 bytes", 4096, true}, {"small 1024 bytes", 1024, false},
    {"small 48 bytes", 48, true},     {"tiny 8 bytes", 8, false},
};
enum { NKINDS = sizeof limit_kinds / sizeof limit_kinds[0] };

Test(reliability, limit_without_roots_hook_gives_enomem_then_recovers_after_a_sweep)
{
    unsetenv("GCHEAP_MEMLIMIT");
    const size_t limit = 32 * MiB;
    gc_set_limit(limit);
    size_t cap = 1 << 20, n = 0;
    struct kept *k = malloc(cap * sizeof *k);
    cr_assert_not_null(k);
    // Each kind in turn, from the largest down, until it fails: then the
    // heap is full for every kind.
    for (int kind = 0; kind < NKINDS; kind++) {
        size_t got = 0;
        for (;;) {
            errno = 0;
            void *p = gc_alloc(limit_kinds[kind].size, limit_kinds[kind].has_ptrs);
            int err = errno;
            check_sys(limit, limit_kinds[kind].name, n);
            if (p == NULL) {
                CHECK_EQ(err, ENOMEM, "errno when gc_alloc (%s) fails at the limit",
                         limit_kinds[kind].name);
                break;
            }
            cr_assert_lt(n, cap, "more than %zu objects fit in %zu bytes", cap, limit);
            k[n] = make_kept(p, limit_kinds[kind].size, n);
            n++;
            got++;
        }
        if (kind == 0)
            CHECK_CMP(got, >=, (limit - 4 * MiB) / MiB - 2,
                      "1 MiB objects allocated under a %zu MiB limit before ENOMEM", limit / MiB);
    }
    gc_stats s = get_stats();
    CHECK_CMP(s.heap_sys, >, limit - 8 * MiB, "heap_sys when every kind fails (the limit is %zu)",
              limit);
    for (size_t i = 0; i < n; i++)
        CHECK_EQ(kept_damage(&k[i]), k[i].check, "object %zu (%zu bytes) damaged at the limit", i,
                 k[i].size);
    // A failed allocation leaves the heap usable and consistent.
    CHECK_HEAP("after ENOMEM at the limit");

    // The host drops every other object: the manual protocol frees them.
    for (size_t i = 0; i < n; i += 2)
        gc_mark(k[i].p);
    gc_sweep();
    for (int kind = 0; kind < NKINDS; kind++) {
        for (int j = 0; j < 3; j++) {
            errno = 0;
            void *p = gc_alloc(limit_kinds[kind].size, limit_kinds[kind].has_ptrs);
            CHECK(p != NULL, "gc_alloc (%s) after the host dropped half the heap: NULL, errno %d",
                  limit_kinds[kind].name, errno);
            check_sys(limit, "after the sweep", n);
        }
    }
    for (size_t i = 0; i < n; i += 2) {
        CHECK(gc_base(k[i].p) != NULL, "kept object %zu freed", i);
        CHECK_EQ(kept_damage(&k[i]), k[i].check, "kept object %zu (%zu bytes) damaged", i,
                 k[i].size);
    }
    CHECK_HEAP("after recovering from the limit");
    free(k);
}

// A ring of live objects; everything else allocated is garbage.
enum { RING = 64 };
static struct kept ring[RING];

static void ring_roots(void *ctx)
{
    (void)ctx;
    for (int i = 0; i < RING; i++)
        gc_mark(ring[i].p);
}

Test(reliability, limit_with_roots_hook_collects_instead_of_growing)
{
    unsetenv("GCHEAP_MEMLIMIT");
    const size_t limit = 24 * MiB;
    gc_set_gogc(-1); // only the limit may trigger a collection
    gc_set_limit(limit);
    gc_set_roots(ring_roots, NULL);
    for (int i = 0; i < RING; i++) {
        ring[i] = make_kept(gc_alloc(64 << 10, false), 64 << 10, (uint64_t)i);
        cr_assert_not_null(ring[i].p);
    }
    // 256 MiB of garbage in every kind, ~4 MiB live: every allocation must
    // succeed, by collecting whenever the heap reaches the limit.
    uint64_t seed = test_seed();
    size_t total = 0, i = 0;
    while (total < 256 * MiB) {
        int kind = (int)rng_below(&seed, NKINDS);
        size_t size = limit_kinds[kind].size;
        errno = 0;
        void *p = gc_alloc(size, limit_kinds[kind].has_ptrs);
        cr_assert_not_null(p,
                           "gc_alloc(%zu) number %zu: NULL (errno %d) with 4 MiB live under a %zu "
                           "MiB limit and a roots hook",
                           size, i, errno, limit / MiB);
        total += size;
        if (i++ % 16 == 0)
            check_sys(limit, "while allocating garbage under the limit", i);
        if (rng_below(&seed, 200) == 0) { // replace a live object
            int r = (int)rng_below(&seed, RING);
            ring[r] = make_kept(gc_alloc(64 << 10, false), 64 << 10, i);
            cr_assert_not_null(ring[r].p);
        }
    }
    gc_stats s = get_stats();
    CHECK_CMP(s.num_gc, >=, 256 / 24, "collections forced by a %zu MiB limit over 256 MiB",
              limit / MiB);
    CHECK_CMP(s.heap_sys, <=, limit, "heap_sys at the end");
    for (int r = 0; r < RING; r++) {
        CHECK_PTR_EQ(gc_base(ring[r].p), ring[r].p, "gc_base of live object %d", r);
        CHECK_EQ(kept_damage(&ring[r]), ring[r].check, "live object %d damaged", r);
    }
}

// Everything allocated is rooted until the host drops it.
enum { TABLE = 256 };
static struct kept table[TABLE];

static void table_roots(void *ctx)
{
    (void)ctx;
    for (int i = 0; i < TABLE; i++)
        gc_mark(table[i].p);
}

Test(reliability, limit_with_live_heap_full_fails_then_succeeds_once_host_drops_objects)
{
    unsetenv("GCHEAP_MEMLIMIT");
    const size_t limit = 32 * MiB;
    gc_set_gogc(-1);
    gc_set_limit(limit);
    gc_set_roots(table_roots, NULL);
    int n = 0;
    for (; n < TABLE; n++) {
        errno = 0;
        void *p = gc_alloc(1 * MiB, n % 2 == 0);
        int err = errno;
        check_sys(limit, "with everything rooted", (size_t)n);
        if (p == NULL) {
            CHECK_EQ(err, ENOMEM, "errno of the failing gc_alloc");
            break;
        }
        table[n] = make_kept(p, 1 * MiB, (uint64_t)n);
    }
    CHECK_CMP(n, <, TABLE, "1 MiB objects that fit a %zu MiB limit", limit / MiB);
    CHECK_CMP(n, >=, 26, "1 MiB objects that fit a %zu MiB limit", limit / MiB);
    gc_stats s0 = get_stats();
    CHECK_CMP(s0.num_gc, >, 0, "collections tried before failing at the limit");
    for (int i = 0; i < n; i++) {
        CHECK_PTR_EQ(gc_base(table[i].p), table[i].p, "rooted object %d after ENOMEM", i);
        CHECK_EQ(kept_damage(&table[i]), table[i].check, "rooted object %d damaged", i);
    }
    // Drop half: the next allocation at the limit collects by itself.
    for (int i = 1; i < n; i += 2)
        table[i].p = NULL;
    for (int i = 1; i < n; i += 2) {
        errno = 0;
        void *p = gc_alloc(1 * MiB, false);
        CHECK(p != NULL, "gc_alloc(1 MiB) number %d after the host dropped half: NULL, errno %d",
              i / 2, errno);
        table[i] = make_kept(p, 1 * MiB, 1000 + (uint64_t)i);
        check_sys(limit, "after dropping half", (size_t)i);
    }
    CHECK_CMP(get_stats().num_gc, >, s0.num_gc, "collections triggered by the limit");
    for (int i = 0; i < n; i++) {
        CHECK_PTR_EQ(gc_base(table[i].p), table[i].p, "gc_base of rooted object %d", i);
        CHECK_EQ(kept_damage(&table[i]), table[i].check, "object %d damaged", i);
    }
    CHECK_HEAP("after refilling up to the limit");
}

// One small class only: every collection the limit forces starts inside the
// refill of that class's cached span (mcentral -> mheap -> collect), and the
// objects then allocated from the new span must live like any other.
enum { SMALL_KEEP = 20000 };
static uint64_t *small_keep[SMALL_KEEP];
static uint64_t small_tag[SMALL_KEEP];

static void small_roots(void *ctx)
{
    (void)ctx;
    for (int i = 0; i < SMALL_KEEP; i++)
        gc_mark(small_keep[i]);
}

static void small_check(uint64_t num_gc)
{
    for (int r = 0; r < SMALL_KEEP; r++) {
        if (small_keep[r] == NULL)
            continue;
        CHECK_PTR_EQ(gc_base(small_keep[r]), small_keep[r],
                     "after %ju collections: gc_base of rooted 48-byte object %d",
                     (uintmax_t)num_gc, r);
        CHECK_EQ(check_pattern(small_keep[r], 48, small_tag[r]), 48,
                 "after %ju collections: first damaged byte of rooted object %d", (uintmax_t)num_gc,
                 r);
    }
}

Test(reliability, limit_collections_keep_objects_of_the_span_being_refilled)
{
    unsetenv("GCHEAP_MEMLIMIT");
    const size_t limit = 16 * MiB;
    gc_set_gogc(-1);
    gc_set_limit(limit);
    gc_set_roots(small_roots, NULL);
    uint64_t seed = test_seed();
    uint64_t last_gc = 0;
    size_t n = scaled(6000000, 600000);
    for (size_t i = 0; i < n; i++) {
        uint64_t *p = gc_alloc(48, true);
        cr_assert_not_null(p, "gc_alloc(48) number %zu under a %zu MiB limit with 1 MiB live", i,
                           limit / MiB);
        if (rng_below(&seed, 8) == 0) {
            int r = (int)rng_below(&seed, SMALL_KEEP);
            small_keep[r] = p;
            small_tag[r] = i;
            fill_pattern(p, 48, i);
        }
        if (i % 1024 == 0) {
            check_sys(limit, "allocating 48-byte objects", i);
            uint64_t g = get_stats().num_gc;
            if (g != last_gc) {
                small_check(g);
                last_gc = g;
            }
        }
    }
    small_check(last_gc);
    CHECK_CMP(last_gc, >=, 10, "collections forced by the limit");
    CHECK_HEAP("after limit-forced collections");
}

// A full sweep keeps the spans it empties for the thread that filled them,
// for one cycle (sweep.c), but not when the memory limit forced the
// collection: the pages then go back to the page heap, where any class can
// have them. Here a thread turns its whole heap over at the limit in one
// class, then in another and back, with nothing live: every refill past
// the limit must succeed.
static void no_roots(void *ctx)
{
    (void)ctx;
}

Test(reliability, limit_collections_return_emptied_spans_to_any_class)
{
    unsetenv("GCHEAP_MEMLIMIT");
    const size_t limit = 16 * MiB;
    gc_set_gogc(-1); // only the limit collects
    gc_set_limit(limit);
    gc_set_roots(no_roots, NULL);
    static const size_t sizes[] = {64, 2048, 256, 64};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        uint64_t gc0 = get_stats().num_gc;
        size_t n = 3 * limit / sizes[k];
        for (size_t i = 0; i < n; i++) {
            void *p = gc_alloc(sizes[k], true);
            cr_assert_not_null(p, "gc_alloc(%zu) number %zu of a %zu MiB turnover, errno %d",
                               sizes[k], i, limit / MiB, errno);
            if (i % 4096 == 0)
                check_sys(limit, "turning the heap over", i);
        }
        CHECK_CMP(get_stats().num_gc - gc0, >=, 2, "collections forced by %zu-byte objects",
                  sizes[k]);
    }
    CHECK_HEAP("after turning the heap over at the limit");
}

// The first object of a class, at the limit: the collection runs inside the
// making of its span (after mcentral chose to grow, while mheap looks for
// pages). That span and its objects must then live through later cycles
// like any other, including a mark phase in which the host allocates.
enum { FIRST_N = 100 };
static void *first_objs[FIRST_N];

static void first_roots(void *ctx)
{
    (void)ctx;
    for (int i = 0; i < FIRST_N; i++)
        gc_mark(first_objs[i]);
}

Test(reliability, limit_collection_inside_a_span_allocation_keeps_its_objects)
{
    unsetenv("GCHEAP_MEMLIMIT");
    gc_set_gogc(-1);
    gc_set_limit(8 * MiB);
    // Fill the heap with garbage (no roots hook yet: nothing collects).
    size_t garbage = 0;
    while (gc_alloc(1024, false) != NULL)
        garbage++;
    CHECK_EQ(errno, ENOMEM, "errno once 8 MiB are full");
    gc_set_roots(first_roots, NULL);
    for (int i = 0; i < FIRST_N; i++) {
        first_objs[i] = gc_alloc(48, true);
        cr_assert_not_null(first_objs[i], "48-byte object %d at the limit", i);
        fill_pattern(first_objs[i], 48, (uint64_t)i);
        if (i == 0)
            CHECK_EQ(get_stats().num_gc, 1,
                     "collections after the first 48-byte object (%zu KiB of garbage before it)",
                     garbage);
    }
    for (int cycle = 1; cycle <= 4; cycle++) {
        if (cycle % 2 == 1) {
            gc_collect();
        } else {
            gc_mark(NULL); // a mark phase in which the host allocates first
            cr_assert_not_null(gc_alloc(2048, false));
            for (int i = 0; i < FIRST_N; i++)
                CHECK(gc_mark(first_objs[i]),
                      "cycle %d: gc_mark of live object %d (expected newly marked)", cycle, i);
            gc_sweep();
        }
        for (int i = 0; i < FIRST_N; i++) {
            CHECK_PTR_EQ(gc_base(first_objs[i]), first_objs[i], "cycle %d: live object %d", cycle,
                         i);
            CHECK_EQ(check_pattern(first_objs[i], 48, (uint64_t)i), 48,
                     "cycle %d: first damaged byte of live object %d", cycle, i);
        }
    }
    CHECK_HEAP("after the cycles");
}

Test(reliability, memlimit_64mib_from_the_environment_is_enforced)
{
    setenv("GCHEAP_MEMLIMIT", "64MiB", 1);
    gc_stats s0;
    gc_get_stats(&s0); // the first call: reads the environment
    CHECK_EQ(AO_load(&gch_mheap.limit), 64 * MiB, "limit after GCHEAP_MEMLIMIT=64MiB");
    int n = 0;
    for (; n < 1000; n++) {
        errno = 0;
        void *p = gc_alloc(1 * MiB, false);
        int err = errno;
        check_sys(64 * MiB, "under GCHEAP_MEMLIMIT=64MiB", (size_t)n);
        if (p == NULL) {
            CHECK_EQ(err, ENOMEM, "errno of the failing gc_alloc");
            break;
        }
    }
    CHECK_CMP(n, >=, 58, "1 MiB objects under GCHEAP_MEMLIMIT=64MiB");
    CHECK_CMP(n, <=, 64, "1 MiB objects under GCHEAP_MEMLIMIT=64MiB");
    CHECK_EQ(gc_set_limit(SIZE_MAX), 64 * MiB, "gc_set_limit's previous value");
    CHECK(gc_alloc(1 * MiB, false) != NULL, "gc_alloc after lifting the limit");
}

// Parsing, in a fresh child per value: stderr and the limit it set.
static const char *env_value;
static size_t env_expected;

static void memlimit_child(void)
{
    setenv("GCHEAP_MEMLIMIT", env_value, 1);
    size_t got = gc_set_limit(SIZE_MAX); // the first call into the library
    if (got != env_expected) {
        fprintf(stderr, "limit %zu, expected %zu\n", got, env_expected);
        _exit(3);
    }
}

Test(reliability, memlimit_values_are_parsed_and_malformed_ones_reported)
{
    static const struct {
        const char *value;
        size_t limit;   // SIZE_MAX: none
        bool malformed; // one "gcheap: ignoring malformed GCHEAP_MEMLIMIT" line
    } cases[] = {
        {"64MiB", 64 * MiB, false},
        {"1GiB", (size_t)1 << 30, false},
        {"2TiB", (size_t)2 << 40, false},
        {"3KiB", 3 << 10, false},
        {"4096", 4096, false},
        {"4096B", 4096, false},
        {"0", 0, false},
        {"off", SIZE_MAX, false},
        {"", SIZE_MAX, false},
        {"64MB", SIZE_MAX, true},
        {"64mib", SIZE_MAX, true},
        {"64 MiB", SIZE_MAX, true},
        {"1.5GiB", SIZE_MAX, true},
        {"MiB", SIZE_MAX, true},
        {"lots", SIZE_MAX, true},
        {"64MiBs", SIZE_MAX, true},
        {"99999999999999999999", SIZE_MAX, true},
        {"20000000TiB", SIZE_MAX, true},
        {"-5MiB", SIZE_MAX, true},
        {"-1", SIZE_MAX, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        env_value = cases[i].value;
        env_expected = cases[i].limit;
        struct child_result r;
        run_child(memlimit_child, &r);
        check_env_child("GCHEAP_MEMLIMIT", cases[i].value, cases[i].malformed, &r);
    }
}

// ------------------------------------------------------------------- ASan

static unsigned char *asan_keep;
static size_t asan_size;
static bool asan_ptrs;

static void asan_roots(void *ctx)
{
    (void)ctx;
    gc_mark(asan_keep);
}

static volatile unsigned char *asan_dead;

// On a thread that exits: its tiny block is nobody's current block, so an
// unmarked tiny object is freed like any other.
static void *asan_alloc_dead(void *arg)
{
    (void)arg;
    asan_dead = gc_alloc(asan_size, asan_ptrs);
    asan_dead[0] = 1;
    return NULL;
}

static void read_swept_child(void)
{
    gc_set_roots(asan_roots, NULL);
    asan_keep = gc_alloc(64, true);
    pthread_t t;
    if (pthread_create(&t, NULL, asan_alloc_dead, NULL) != 0)
        _exit(4);
    pthread_join(t, NULL);
    volatile unsigned char *dead = asan_dead;
    gc_collect(); // sweeps everything: dead is freed
    if (gc_base((void *)dead) != NULL)
        _exit(7);
    unsigned char v = dead[asan_size / 2]; // ASan must stop here
    fprintf(stderr, "read %d from a swept object without a report\n", v);
    _exit(8);
}

Test(reliability, asan_reports_reading_a_swept_object)
{
    if (!GCH_ASAN)
        cr_skip_test("not an ASan build (make BUILD=asan)");
    static const struct {
        size_t size;
        bool ptrs;
    } cases[] = {{8, false},   {64, false},     {256, true},
                 {4000, true}, {100000, false}, {1 << 20, true}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        asan_size = cases[i].size;
        asan_ptrs = cases[i].ptrs;
        struct child_result r;
        run_child(read_swept_child, &r);
        CHECK(!(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0),
              "reading a swept %zu-byte object: the child exited 0", asan_size);
        CHECK(strstr(r.err, "ERROR: AddressSanitizer: use-after-poison") != NULL,
              "reading a swept %zu-byte %s object: expected ASan's use-after-poison report; status "
              "%#x, stderr \"%.600s\"",
              asan_size, asan_ptrs ? "scan" : "noscan", r.status, r.err);
    }
}

enum { NLIVE = 40 };
static struct kept live_objs[NLIVE];

static void live_roots(void *ctx)
{
    (void)ctx;
    for (int i = 0; i < NLIVE; i++)
        gc_mark(live_objs[i].p);
}

// Also meaningful without ASan (contents survive); with it, any false
// report kills the test.
Test(reliability, live_objects_stay_fully_accessible_across_collections)
{
    static const size_t sizes[] = {1, 5, 8, 15, 16, 48, 500, 4096, 32768, 40000, 1 << 20};
    enum { NS = sizeof sizes / sizeof sizes[0] };
    gc_set_gogc(-1);
    gc_set_roots(live_roots, NULL);
    for (int i = 0; i < NLIVE; i++) {
        size_t size = sizes[i % NS];
        unsigned char *p = gc_alloc(size, i % 2 == 0);
        cr_assert_not_null(p);
        // The whole usable size is the host's, except a tiny object's
        // neighbours in its block.
        size_t usable = size < 16 && i % 2 != 0 ? size : gc_size(p);
        live_objs[i] = (struct kept){p, usable, usable, (uint64_t)i};
        kept_fill(&live_objs[i]);
    }
    for (int cycle = 0; cycle < 6; cycle++) {
        for (int j = 0; j < 5000; j++) // garbage, swept around the live objects
            gc_alloc(sizes[j % NS] > 40000 ? 64 : sizes[j % NS], j % 3 == 0);
        gc_collect();
        for (int i = 0; i < NLIVE; i++) {
            struct kept *k = &live_objs[i];
            CHECK_EQ(kept_damage(k), k->check, "cycle %d: live object %d (%zu bytes) damaged",
                     cycle, i, k->size);
            k->tag += 1000; // rewrite every byte
            kept_fill(k);
        }
    }
}
