// test_reliability.c: the issue "Reliability": the memory limit
// (gc_set_limit, GCHEAP_MEMLIMIT), an OS failure injected at every fallible
// call of a reference workload, host misuse reported as one line and an
// abort, hostile pointers given to gc_mark/gc_base/gc_size, and what ASan
// sees of swept and live objects.
//
// White-box where it must be (src/internal.h): fault injection
// (gch_os_fail_nth), the heap verifier, the addresses of gcheap's metadata
// and the phase word. Each Test runs in its own process (Criterion forks),
// so limits and hooks never leak from one to another; tests that need a
// fresh library or must watch a process die use forked children.
#include "../src/internal.h"
#include "util.h"

#include <signal.h>

// Checks the heap's invariants; gch_heap_verify wants gch_gc.lock held.
static bool heap_verify(char *why, size_t len)
{
    pthread_mutex_lock(&gch_gc.lock);
    bool ok = gch_heap_verify(why, len);
    pthread_mutex_unlock(&gch_gc.lock);
    return ok;
}

#define CHECK_HEAP(...)                                                      \
    do {                                                                     \
        char why_[512];                                                      \
        CHECK(heap_verify(why_, sizeof why_), "heap verify (%s) failed: %s", \
              chk_format(__VA_ARGS__), why_);                                \
    } while (0)

// ---------------------------------------------------------- memory limit

#define MiB ((size_t)1 << 20)

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
    if (k->check == k->size) {
        fill_pattern(k->p, k->size, k->tag);
    } else {
        fill_pattern(k->p, k->check / 2, k->tag);
        fill_pattern(k->p + k->size - k->check / 2, k->check / 2, ~k->tag);
    }
}

// Offset of the first damaged byte, or k->check if intact.
static size_t kept_damage(const struct kept *k)
{
    if (k->check == k->size)
        return check_pattern(k->p, k->size, k->tag);
    size_t h = k->check / 2;
    size_t o = check_pattern(k->p, h, k->tag);
    if (o != h)
        return o;
    o = check_pattern(k->p + k->size - h, h, ~k->tag);
    return o != h ? k->size - h + o : k->check;
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
        CHECK(
            WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0,
            "GCHEAP_MEMLIMIT='%s': expected limit %zu; child ended with status %#x, stderr \"%s\"",
            cases[i].value, cases[i].limit, r.status, r.err);
        char want[256] = "";
        if (cases[i].malformed)
            snprintf(want, sizeof want, "gcheap: ignoring malformed GCHEAP_MEMLIMIT '%s'\n",
                     cases[i].value);
        CHECK(strcmp(r.err, want) == 0,
              "GCHEAP_MEMLIMIT='%s': stderr expected \"%s\", actual \"%s\"", cases[i].value, want,
              r.err);
    }
}

// ------------------------------------------------------- fault injection
//
// The reference workload runs in a fresh child; with fault point N, the Nth
// fallible OS call (gch_os_reserve, gch_os_commit, gch_os_alloc) fails.
// Nothing in a child may use Criterion: a failure is one line on stderr and
// exit status 1, which the parent reports.

static unsigned long fault_n; // 0: no injection
static bool fault_counting;   // the clean run that counts the calls

__attribute__((format(printf, 1, 2))) GCH_NORETURN static void wl_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fault point %lu: ", fault_n);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    _exit(1);
}

enum wl_kind { WL_PLAIN, WL_TREE_NODE };

struct wl_obj {
    unsigned char *p;
    size_t size;
    size_t check; // bytes covered by the pattern
    uint64_t tag;
};

static struct {
    struct wl_obj *roots; // marked by the roots hook
    size_t nroots, cap;
    struct wl_obj *tree; // children of the wide node: reachable through it only
    size_t ntree;
    void **wide; // the wide node
    size_t nulls;
    bool tail; // injection is off: every gc_alloc must succeed
} wl;

static void wl_roots(void *ctx)
{
    (void)ctx;
    for (size_t i = 0; i < wl.nroots; i++)
        gc_mark(wl.roots[i].p);
    gc_mark(wl.wide);
}

// The wide node's slots are pointers; other scan objects hold only the
// pattern, whose first words are traced as (conservative) pointers anyway.
static void wl_trace(void *obj, size_t size, void *ctx)
{
    (void)ctx;
    void **w = obj;
    size_t n = size / sizeof *w;
    if (obj != (void *)wl.wide && n > 16)
        n = 16;
    for (size_t i = 0; i < n; i++)
        gc_mark(w[i]);
}

// Allocates and fills an object; NULL must come with ENOMEM.
static unsigned char *wl_alloc(size_t size, bool has_ptrs, uint64_t tag, struct wl_obj *out)
{
    errno = 0;
    unsigned char *p = gc_alloc(size, has_ptrs);
    if (p == NULL) {
        if (errno != ENOMEM)
            wl_fail("gc_alloc(%zu, %d) returned NULL with errno %d, expected ENOMEM", size,
                    has_ptrs, errno);
        if (wl.tail)
            wl_fail("gc_alloc(%zu, %d) returned NULL after injection was turned off", size,
                    has_ptrs);
        wl.nulls++;
        return NULL;
    }
    // Kept objects are checked over 8 KiB at each end, garbage over 64 bytes.
    size_t limit = out != NULL ? 8192 : 64;
    size_t zcheck = size > limit ? limit : size;
    if (first_nonzero(p, zcheck) != zcheck || first_nonzero(p + size - zcheck, zcheck) != zcheck)
        wl_fail("new object %p (%zu bytes) is not zero", (void *)p, size);
    struct wl_obj o = {p, size, zcheck, tag};
    if (o.check == size) {
        fill_pattern(p, size, tag);
    } else {
        fill_pattern(p, o.check / 2, tag);
        fill_pattern(p + size - o.check / 2, o.check / 2, ~tag);
    }
    if (out != NULL)
        *out = o;
    return p;
}

static void wl_root(size_t size, bool has_ptrs)
{
    if (wl.nroots == wl.cap)
        wl_fail("root table full (%zu)", wl.cap);
    struct wl_obj o;
    if (wl_alloc(size, has_ptrs, 0x5000 + wl.nroots, &o) != NULL)
        wl.roots[wl.nroots++] = o;
}

static size_t wl_damage(const struct wl_obj *o)
{
    if (o->check == o->size)
        return check_pattern(o->p, o->size, o->tag);
    size_t h = o->check / 2;
    size_t d = check_pattern(o->p, h, o->tag);
    if (d != h)
        return d;
    d = check_pattern(o->p + o->size - h, h, ~o->tag);
    return d != h ? o->size - h + d : o->check;
}

// Every rooted and tree object is live and intact.
static void wl_check(const char *when)
{
    for (size_t i = 0; i < wl.nroots; i++) {
        struct wl_obj *o = &wl.roots[i];
        if (o->p == NULL)
            continue;
        if (gc_base(o->p) == NULL)
            wl_fail("%s: rooted object %zu (%p, %zu bytes) was freed", when, i, (void *)o->p,
                    o->size);
        size_t d = wl_damage(o);
        if (d != o->check)
            wl_fail("%s: rooted object %zu (%p, %zu bytes) damaged at byte %zu", when, i,
                    (void *)o->p, o->size, d);
    }
    for (size_t i = 0; i < wl.ntree; i++) {
        struct wl_obj *o = &wl.tree[i];
        if (gc_base(o->p) != o->p)
            wl_fail("%s: child %zu of the wide node (%p) was freed", when, i, (void *)o->p);
        if (wl_damage(o) != o->check)
            wl_fail("%s: child %zu of the wide node damaged", when, i);
        if (wl.wide[i] != o->p)
            wl_fail("%s: slot %zu of the wide node is %p, expected %p", when, i, wl.wide[i],
                    (void *)o->p);
    }
}

static void wl_collect(const char *when)
{
    gc_stats before, after;
    gc_get_stats(&before);
    gc_collect();
    gc_get_stats(&after);
    if (after.num_gc != before.num_gc + 1)
        wl_fail("%s: gc_collect did not complete a cycle (num_gc %llu -> %llu)", when,
                (unsigned long long)before.num_gc, (unsigned long long)after.num_gc);
    if (after.mallocs - after.frees != after.heap_objects)
        wl_fail("%s: mallocs %llu - frees %llu != heap_objects %llu", when,
                (unsigned long long)after.mallocs, (unsigned long long)after.frees,
                (unsigned long long)after.heap_objects);
    wl_check(when);
    char why[512];
    if (!heap_verify(why, sizeof why))
        wl_fail("%s: heap verify: %s", when, why);
}

static const size_t wl_sizes[] = {1,   3,    7,    8,    12,    15,    16,    24,     48,     100,
                                  256, 1000, 4000, 9000, 20000, 32768, 40000, 100000, 1 << 20};
enum { WL_NSIZES = sizeof wl_sizes / sizeof wl_sizes[0], WL_WIDE = 4000, WL_THREAD_OBJS = 300 };

static struct wl_obj wl_thread_objs[WL_THREAD_OBJS];
static size_t wl_thread_n;

static void *wl_thread_main(void *arg)
{
    (void)arg;
    for (size_t i = 0; i < WL_THREAD_OBJS; i++) {
        size_t size = wl_sizes[i % WL_NSIZES];
        if (size > 40000)
            size = 777;
        if (wl_alloc(size, i % 3 == 0, 0x9000 + i, &wl_thread_objs[wl_thread_n]) != NULL)
            wl_thread_n++;
    }
    return NULL;
}

// The workload: returns the number of fallible OS calls it made.
static unsigned long wl_run(void)
{
    wl.cap = 4096;
    wl.roots = calloc(wl.cap, sizeof *wl.roots);
    wl.tree = calloc(WL_WIDE, sizeof *wl.tree);
    if (wl.roots == NULL || wl.tree == NULL)
        wl_fail("calloc");
    gc_set_gogc(-1); // collections only where the workload asks
    gc_set_roots(wl_roots, NULL);
    gc_set_trace(wl_trace, NULL);
    gch_os_fail_nth(fault_n);
    unsigned long calls0 = gch_os_calls();

    // First allocation: the thread's cache, the first arena, a span.
    wl_root(24, true);
    // Small and tiny objects of several classes, scan and noscan.
    for (int k = 0; k < WL_NSIZES; k++) {
        if (wl_sizes[k] <= 32768)
            for (int j = 0; j < 20; j++)
                wl_root(wl_sizes[k], j % 2 == 0 && wl_sizes[k] >= 16);
    }
    // A wide node (a small object too): tracing it pushes 4000 objects, so
    // the mark stack grows.
    wl.wide = (void **)wl_alloc(WL_WIDE * sizeof(void *), true, 0, NULL);
    if (wl.wide != NULL) {
        memset(wl.wide, 0, WL_WIDE * sizeof(void *));
        for (size_t i = 0; i < WL_WIDE; i++) {
            struct wl_obj o;
            if (wl_alloc(48, true, 0x100000 + i, &o) != NULL) {
                wl.wide[wl.ntree] = o.p;
                wl.tree[wl.ntree++] = o;
            }
        }
    }
    // The first collection sees small spans only: the first bitmap its
    // sweep needs from the OS is a small span's.
    wl_collect("first collection");
    // Large objects, and growth past the first 64 MiB arena: 36 live
    // objects of 2 MiB.
    for (int k = 0; k < WL_NSIZES; k++) {
        if (wl_sizes[k] > 32768)
            for (int j = 0; j < 3; j++)
                wl_root(wl_sizes[k], j % 2 == 0);
    }
    for (int j = 0; j < 36; j++)
        wl_root(2 * MiB, j % 4 == 0);
    // A second thread allocates with its own cache.
    pthread_t t;
    if (pthread_create(&t, NULL, wl_thread_main, NULL) != 0)
        wl_fail("pthread_create");
    pthread_join(t, NULL);
    for (size_t i = 0; i < wl_thread_n && wl.nroots < wl.cap; i++)
        wl.roots[wl.nroots++] = wl_thread_objs[i];
    gc_stats st;
    gc_get_stats(&st);
    if (st.mallocs - st.frees != st.heap_objects)
        wl_fail("gc_get_stats: mallocs %llu - frees %llu != heap_objects %llu",
                (unsigned long long)st.mallocs, (unsigned long long)st.frees,
                (unsigned long long)st.heap_objects);
    wl_collect("second collection");
    // Drop every third root and make garbage; the sweep frees it.
    for (size_t i = 0; i < wl.nroots; i += 3)
        wl.roots[i].p = NULL;
    for (int j = 0; j < 2000; j++)
        (void)wl_alloc(wl_sizes[j % 13], j % 2 == 0, 7, NULL);
    wl_collect("third collection");
    unsigned long calls = gch_os_calls() - calls0;
    if (fault_n != 0 && calls < fault_n)
        wl_fail("the workload made %lu fallible OS calls: fault point %lu never reached", calls,
                fault_n);
    return calls;
}

// Injection off: the heap must be fully usable, over several cycles (so
// that bitmaps and spans touched by the failure get recycled).
static void wl_tail(void)
{
    gch_os_fail_nth(0);
    wl.tail = true;
    for (int cycle = 0; cycle < 4; cycle++) {
        for (int k = 0; k < WL_NSIZES; k++)
            wl_root(wl_sizes[k], k % 2 == 0 && wl_sizes[k] >= 16);
        for (int j = 0; j < 2000; j++)
            (void)wl_alloc(wl_sizes[j % 14], j % 3 == 0, 9, NULL);
        for (size_t i = cycle; i < wl.nroots; i += 7)
            wl.roots[i].p = NULL;
        wl_collect("after injection was turned off");
    }
}

static void fault_child(void)
{
    unsigned long calls = wl_run();
    wl_tail();
    if (fault_counting)
        fprintf(stderr, "calls %lu\n", calls);
    else
        fprintf(stderr, "nulls %zu\n", wl.nulls);
}

Test(reliability, every_os_failure_point_of_a_workload_is_survived)
{
    double t0 = now_seconds();
    unsigned long with_null;
    unsigned long calls = run_fault_points(fault_child, &fault_counting, &fault_n, 10, &with_null);
    cr_log_info("fault injection: %lu fault points tried (every fallible OS call of the workload); "
                "%lu made a gc_alloc return NULL/ENOMEM, the others were absorbed; %.2f s",
                calls, with_null, now_seconds() - t0);
    CHECK_CMP(with_null, >, 0, "fault points that made some gc_alloc fail");
}

// The sweep's answer to a failed bitmap allocation (sweep.c: reuse the
// span's old alloc bits as its new mark bits), followed for three cycles:
// the reused bitmap must stay the span's own for as long as it is in use,
// whatever the bitmap epochs recycle meanwhile.
enum { FB_N = 512 }; // one span of the 16-byte scan class
static void *fb_objs[FB_N];

static void fb_roots(void *ctx)
{
    (void)ctx;
    for (int i = 448; i < FB_N; i++) // the span's last 64 slots live
        gc_mark(fb_objs[i]);
}

Test(reliability, sweep_without_memory_for_a_bitmap_loses_no_object)
{
    gc_set_gogc(-1);
    for (int i = 0; i < FB_N; i++) {
        fb_objs[i] = gc_alloc(16, true);
        cr_assert_not_null(fb_objs[i]);
        fill_pattern(fb_objs[i], 16, (uint64_t)i);
    }
    struct mspan *s = gch_span_of((uintptr_t)fb_objs[FB_N - 1]);
    cr_assert(s != NULL && s->base == (uintptr_t)fb_objs[0] && s->nelems == FB_N,
              "the 512 objects fill one span");
    gc_set_roots(fb_roots, NULL);

    // Cycle 1: the sweep's first fresh bitmap needs a new bitmap arena from
    // the OS (the only fallible call in this gc_collect); it fails.
    AO_t *old_alloc = s->alloc_bits;
    unsigned long calls = gch_os_calls();
    gch_os_fail_nth(1);
    gc_collect();
    gch_os_fail_nth(0);
    cr_assert_geq(gch_os_calls(), calls + 1, "the injected failure was reached");
    cr_assert_eq(s->gcmark_bits, old_alloc,
                 "the sweep reused the old alloc bits as mark bits (the path under test)");
    CHECK_HEAP("after the sweep without a fresh bitmap");

    // Cycle 2, then a third mark phase in which the host allocates another
    // class (its span takes bitmaps from the epochs) before marking.
    gc_collect();
    CHECK_HEAP("one cycle after the fallback");
    gc_mark(NULL); // the mark phase begins
    void *during = gc_alloc(1024, false);
    cr_assert_not_null(during);
    for (int i = 448; i < FB_N; i++) {
        CHECK_PTR_EQ(gc_base(fb_objs[i]), fb_objs[i],
                     "two cycles after the fallback: gc_base of live object %d", i);
        CHECK(gc_mark(fb_objs[i]),
              "two cycles after the fallback: gc_mark of live object %d (expected newly marked)",
              i);
    }
    gc_sweep();
    for (int i = 448; i < FB_N; i++) {
        CHECK_PTR_EQ(gc_base(fb_objs[i]), fb_objs[i], "after the third sweep: live object %d", i);
        CHECK_EQ(check_pattern(fb_objs[i], 16, (uint64_t)i), 16,
                 "after the third sweep: first damaged byte of live object %d", i);
    }
    gc_collect();
    CHECK_HEAP("three cycles after the fallback");
}

// ---------------------------------------------------------------- misuse
//
// test_collect.c covers small scan allocation and gc_sweep/gc_collect from
// a trace hook reached through gc_mark, and from a roots hook. Here: the
// other allocation kinds, a trace hook reached through gc_collect, and the
// two cross-thread protocol violations.

static void *victim;
static void (*misuse_action)(void);

static void act_alloc_tiny(void)
{
    gc_alloc(8, false);
}
static void act_alloc_small_noscan(void)
{
    gc_alloc(64, false);
}
static void act_alloc_large(void)
{
    gc_alloc(100000, true);
}
static void act_alloc_large_noscan(void)
{
    gc_alloc(1 << 20, false);
}
static void act_sweep(void)
{
    gc_sweep();
}
static void act_collect(void)
{
    gc_collect();
}

static void misuse_trace(void *obj, size_t size, void *ctx)
{
    (void)obj, (void)size, (void)ctx;
    misuse_action();
}
static void misuse_roots(void *ctx)
{
    (void)ctx;
    gc_mark(victim);
    misuse_action();
}
static void victim_roots(void *ctx)
{
    (void)ctx;
    gc_mark(victim);
}

// Trace hook through gc_mark, trace hook through gc_collect, roots hook.
static void via_mark(void)
{
    gc_set_trace(misuse_trace, NULL);
    victim = gc_alloc(64, true);
    gc_alloc(8, false); // the thread has a tiny block too
    gc_mark(victim);
}
static void via_collect_trace(void)
{
    victim = gc_alloc(64, true);
    gc_alloc(8, false);
    gc_set_trace(misuse_trace, NULL);
    gc_set_roots(victim_roots, NULL);
    gc_collect();
}
static void via_roots(void)
{
    victim = gc_alloc(64, true);
    gc_alloc(8, false);
    gc_set_roots(misuse_roots, NULL);
    gc_collect();
}

// gc_sweep on thread A while thread B is inside its trace hook.
static pthread_mutex_t block_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t block_cv = PTHREAD_COND_INITIALIZER;
static bool block_entered;

static void blocking_trace(void *obj, size_t size, void *ctx)
{
    (void)obj, (void)size, (void)ctx;
    pthread_mutex_lock(&block_mu);
    block_entered = true;
    pthread_cond_broadcast(&block_cv);
    for (;;) // never released: the process must abort first
        pthread_cond_wait(&block_cv, &block_mu);
}
static void *marking_thread(void *arg)
{
    (void)arg;
    gc_mark(victim);
    return NULL;
}
static void sweep_while_marking(void)
{
    victim = gc_alloc(64, true);
    gc_set_trace(blocking_trace, NULL);
    pthread_t t;
    if (pthread_create(&t, NULL, marking_thread, NULL) != 0)
        _exit(4);
    pthread_mutex_lock(&block_mu);
    while (!block_entered)
        pthread_cond_wait(&block_cv, &block_mu);
    pthread_mutex_unlock(&block_mu);
    gc_sweep(); // must abort
    _exit(5);
}

// gc_mark while gc_sweep ends the mark phase. White-box: the phase word as
// gc_sweep sets it while it flushes the caches.
static void mark_during_termination_whitebox(void)
{
    victim = gc_alloc(64, true);
    gc_mark(victim);
    AO_store_release(&gch_gc.phase, GCH_PHASE_TERMINATE);
    gc_mark(victim); // must abort
    _exit(5);
}

// The same for real: thread B watches the phase word and calls gc_mark as
// soon as it shows gc_sweep's termination on thread A. GCHEAP_DEBUG=verify=1
// keeps that window open for a whole heap check (milliseconds); B reacts in
// microseconds when it runs, so A repeats the cycle until B has hit the
// window once (B may not get a CPU during one window on a loaded machine).
static void *late_marker(void *arg)
{
    (void)arg;
    for (;;) {
        if (AO_load_acquire(&gch_gc.phase) == GCH_PHASE_TERMINATE)
            gc_mark(victim); // must abort if still inside the window
    }
    return NULL;
}
static void mark_during_termination_race(void)
{
    enum { NOBJ = 100000 };
    setenv("GCHEAP_DEBUG", "verify=1", 1);
    static void *objs[NOBJ];
    for (int i = 0; i < NOBJ; i++)
        objs[i] = gc_alloc(16 + (size_t)(i % 64) * 16, i % 2 == 0);
    victim = objs[0];
    pthread_t t;
    if (pthread_create(&t, NULL, late_marker, NULL) != 0)
        _exit(4);
    for (int attempt = 0; attempt < 500; attempt++) {
        for (int i = 0; i < NOBJ; i++)
            gc_mark(objs[i]);
        gc_sweep();
    }
    _exit(5); // B never caught a window
}

static const struct misuse_case {
    const char *what;
    void (*setup)(void);
    void (*action)(void);
    const char *message; // after "gcheap: "
} misuse_cases[] = {
    {"trace hook (via gc_mark) allocates tiny", via_mark, act_alloc_tiny,
     "gc_alloc called from a trace or roots hook"},
    {"trace hook (via gc_mark) allocates small noscan", via_mark, act_alloc_small_noscan,
     "gc_alloc called from a trace or roots hook"},
    {"trace hook (via gc_mark) allocates large", via_mark, act_alloc_large,
     "gc_alloc called from a trace or roots hook"},
    {"trace hook (via gc_collect) allocates tiny", via_collect_trace, act_alloc_tiny,
     "gc_alloc called from a trace or roots hook"},
    {"trace hook (via gc_collect) allocates large", via_collect_trace, act_alloc_large_noscan,
     "gc_alloc called from a trace or roots hook"},
    {"trace hook (via gc_collect) calls gc_sweep", via_collect_trace, act_sweep,
     "gc_sweep called from a trace or roots hook"},
    {"trace hook (via gc_collect) calls gc_collect", via_collect_trace, act_collect,
     "gc_collect called from a trace or roots hook"},
    {"roots hook allocates tiny", via_roots, act_alloc_tiny,
     "gc_alloc called from a trace or roots hook"},
    {"roots hook allocates small noscan", via_roots, act_alloc_small_noscan,
     "gc_alloc called from a trace or roots hook"},
    {"roots hook allocates large", via_roots, act_alloc_large,
     "gc_alloc called from a trace or roots hook"},
    {"roots hook allocates large noscan", via_roots, act_alloc_large_noscan,
     "gc_alloc called from a trace or roots hook"},
    {"gc_sweep while another thread is inside its trace hook", sweep_while_marking, NULL,
     "gc_sweep called while another thread is marking"},
    {"gc_mark while gc_sweep ends the mark phase (phase word set)",
     mark_during_termination_whitebox, NULL,
     "gc_mark called while gc_sweep ends the mark phase on another thread"},
    {"gc_mark on another thread while gc_sweep ends the mark phase", mark_during_termination_race,
     NULL, "gc_mark called while gc_sweep ends the mark phase on another thread"},
};

static const struct misuse_case *misuse_current;

static void misuse_child(void)
{
    misuse_action = misuse_current->action;
    misuse_current->setup();
    _exit(6); // the setup returned: nothing aborted
}

static void check_one_gcheap_line(const struct child_result *r, const char *what,
                                  const char *message)
{
    CHECK(WIFSIGNALED(r->status) && WTERMSIG(r->status) == SIGABRT,
          "%s: expected death by SIGABRT, got %s %d; stderr \"%s\"", what,
          WIFSIGNALED(r->status) ? "signal" : "exit status",
          WIFSIGNALED(r->status) ? WTERMSIG(r->status) : WEXITSTATUS(r->status), r->err);
    char want[256];
    snprintf(want, sizeof want, "gcheap: %s\n", message);
    CHECK(strcmp(r->err, want) == 0, "%s: stderr expected exactly \"%s\", actual \"%s\"", what,
          want, r->err);
}

Test(reliability, misuse_aborts_with_one_gcheap_line)
{
    for (size_t i = 0; i < sizeof misuse_cases / sizeof misuse_cases[0]; i++) {
        misuse_current = &misuse_cases[i];
        struct child_result r;
        run_child(misuse_child, &r);
        check_one_gcheap_line(&r, misuse_cases[i].what, misuse_cases[i].message);
    }
}

// ---------------------------------------------------------- bad pointers

struct range {
    uintptr_t lo, hi; // [gc_base, gc_base + gc_size) of a live object
    bool marked;      // by this test, in the mark phase under test
};

static struct range *ranges;
static size_t nranges;

static int cmp_range(const void *a, const void *b)
{
    uintptr_t x = ((const struct range *)a)->lo, y = ((const struct range *)b)->lo;
    return x < y ? -1 : x > y;
}

// The live object containing p, or NULL.
static struct range *range_find(uintptr_t p)
{
    size_t lo = 0, hi = nranges;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ranges[mid].lo <= p)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || p >= ranges[lo - 1].hi)
        return NULL;
    return &ranges[lo - 1];
}

struct bp_obj {
    unsigned char *p;
    size_t size;
};
static struct bp_obj *bp_objs;
static size_t bp_nobjs;

// Allocated on a thread that then exits: no cache keeps a current tiny
// block, so exactly the objects this test marks survive.
static void *bp_alloc_thread(void *arg)
{
    uint64_t *seed = arg;
    size_t n = 0;
    for (int i = 0; i < 3000; i++) {
        size_t size = 1 + rng_below(seed, 15);
        bp_objs[n++] = (struct bp_obj){gc_alloc(size, false), size};
    }
    for (int i = 0; i < 20000; i++) {
        size_t size = 16 + rng_below(seed, rng_below(seed, 4) == 0 ? 32768 - 16 : 1024);
        bp_objs[n++] = (struct bp_obj){gc_alloc(size, rng_below(seed, 2) == 0), size};
    }
    for (int i = 0; i < 60; i++) {
        size_t size = 32769 + rng_below(seed, 300000);
        bp_objs[n++] = (struct bp_obj){gc_alloc(size, rng_below(seed, 2) == 0), size};
    }
    bp_nobjs = n;
    return NULL;
}

struct meta {
    uintptr_t addr;
    size_t len;
};

static struct meta *metas;
static size_t nmetas, metas_cap;

static void meta_add(const void *addr, size_t len)
{
    if (addr == NULL || len == 0)
        return;
    if (nmetas == metas_cap) {
        metas_cap = metas_cap ? 2 * metas_cap : 1024;
        metas = realloc(metas, metas_cap * sizeof *metas);
        cr_assert_not_null(metas);
    }
    metas[nmetas++] = (struct meta){(uintptr_t)addr, len};
}

static void meta_collect(void)
{
    for (size_t i = 0; i < nranges; i++) {
        struct mspan *s = gch_span_of(ranges[i].lo);
        cr_assert_not_null(s, "no span for live object %#jx", (uintmax_t)ranges[i].lo);
        size_t words = gch_bitmap_words(s->nelems);
        meta_add(s, sizeof *s);
        meta_add(s->gcmark_bits, words * sizeof(AO_t));
        meta_add(s->alloc_bits, words * sizeof(AO_t));
        meta_add(gch_arena_of(ranges[i].lo), sizeof(struct heap_arena));
    }
    struct mcache *c = gch_tls_owner;
    cr_assert_not_null(c, "the marking thread has a cache");
    meta_add(c, sizeof *c);
    meta_add(c->work.stack, c->work.cap * sizeof(void *));
    meta_add(&gch_mheap, sizeof gch_mheap);
    for (size_t i = 0; i < (1u << GCH_ARENA_L1_BITS); i++)
        meta_add((void *)AO_load(&gch_mheap.arenas_l1[i]), sizeof(AO_t) << GCH_ARENA_L2_BITS);
    meta_add(gch_mheap.all_arenas, gch_mheap.arenas_cap * sizeof(struct heap_arena *));
    meta_add(&gch_gc, sizeof gch_gc);
    meta_add(&gch_stats, sizeof gch_stats);
    meta_add(gch_central, sizeof gch_central);
    meta_add(&gch_empty_span, sizeof gch_empty_span);
    meta_add(&gch_empty_mcache, sizeof gch_empty_mcache);
}

static int bp_static_var;

// One hostile or random address of category cat.
static uintptr_t bp_address(uint64_t *seed, int cat, void *stack_var, void *heap_var)
{
    uint64_t r = rng_next(seed);
    switch (cat) {
    case 0: // any 64-bit value
        return (uintptr_t)r;
    case 1: // kernel half
        return (uintptr_t)(0xffff800000000000ull | r);
    case 2: { // non-canonical, or a live pointer with high tag bits
        if (r & 1) {
            uint64_t top = 1 + rng_below(seed, 0xfffe); // neither all zero nor all ones
            return (uintptr_t)((r >> 1 & 0x0000ffffffffffffull) | top << 48);
        }
        struct range *g = &ranges[rng_below(seed, nranges)];
        return g->lo | (uintptr_t)1 << (47 + rng_below(seed, 17));
    }
    case 3: { // anywhere in a heap arena: objects, free pages, uncommitted pages
        struct heap_arena *ha = gch_mheap.all_arenas[rng_below(seed, gch_mheap.narenas)];
        return ha->base + (uintptr_t)rng_below(seed, GCH_ARENA_BYTES);
    }
    case 4: { // around a live object
        struct range *g = &ranges[rng_below(seed, nranges)];
        return g->lo - 64 + (uintptr_t)rng_below(seed, g->hi - g->lo + 128);
    }
    case 5: { // one past the end, the last byte, one before the start
        struct range *g = &ranges[rng_below(seed, nranges)];
        uintptr_t which[3] = {g->hi, g->hi - 1, g->lo - 1};
        return which[rng_below(seed, 3)];
    }
    case 6: { // inside a free slot (an object the sweep freed) or a live one
        struct bp_obj *o = &bp_objs[rng_below(seed, bp_nobjs)];
        return (uintptr_t)o->p + (uintptr_t)rng_below(seed, o->size);
    }
    case 7: { // inside gcheap's metadata
        struct meta *m = &metas[rng_below(seed, nmetas)];
        return m->addr + (uintptr_t)rng_below(seed, m->len);
    }
    case 8: { // misaligned, inside a live object
        struct range *g = &ranges[rng_below(seed, nranges)];
        return g->lo + ((uintptr_t)rng_below(seed, g->hi - g->lo) | 1);
    }
    default: { // low addresses, stack, static data, code, malloc
        uintptr_t which[5] = {(uintptr_t)rng_below(seed, 1 << 16), (uintptr_t)stack_var,
                              (uintptr_t)&bp_static_var, (uintptr_t)&bp_address,
                              (uintptr_t)heap_var};
        return which[rng_below(seed, 5)] + (uintptr_t)rng_below(seed, 64);
    }
    }
}

Test(reliability, hostile_pointers_never_crash_and_match_only_live_objects)
{
    uint64_t seed = test_seed();
    bp_objs = malloc(30000 * sizeof *bp_objs);
    cr_assert_not_null(bp_objs);
    run_in_thread(bp_alloc_thread, &seed);
    for (size_t i = 0; i < bp_nobjs; i++)
        cr_assert_not_null(bp_objs[i].p, "allocation %zu (%zu bytes)", i, bp_objs[i].size);

    // Keep about half; the rest become free slots.
    ranges = malloc(bp_nobjs * sizeof *ranges);
    cr_assert_not_null(ranges);
    for (size_t i = 0; i < bp_nobjs; i++) {
        if (rng_below(&seed, 2) == 0)
            continue;
        uintptr_t b = (uintptr_t)gc_base(bp_objs[i].p);
        CHECK(b != 0, "gc_base of fresh object %zu is NULL", i);
        ranges[nranges++] = (struct range){b, b + gc_size(bp_objs[i].p), false};
        gc_mark(bp_objs[i].p);
    }
    gc_sweep();
    gc_mark(NULL); // a new mark phase; sweeping finished
    cr_assert_eq(AO_load(&gch_gc.phase), GCH_PHASE_MARK);
    // Tiny objects share blocks: one range per block.
    qsort(ranges, nranges, sizeof *ranges, cmp_range);
    size_t m = 0;
    for (size_t i = 0; i < nranges; i++) {
        if (m > 0 && ranges[m - 1].lo == ranges[i].lo)
            continue;
        CHECK(m == 0 || ranges[m - 1].hi <= ranges[i].lo, "live objects %#jx and %#jx overlap",
              (uintmax_t)ranges[m - 1].lo, (uintmax_t)ranges[i].lo);
        ranges[m++] = ranges[i];
    }
    nranges = m;
    for (size_t i = 0; i < nranges; i++)
        CHECK_PTR_EQ(gc_base((void *)ranges[i].lo), (void *)ranges[i].lo,
                     "gc_base of kept object after the sweep");
    // The first mark makes this thread's cache (whose address is tested).
    cr_assert(gc_mark((void *)ranges[0].lo), "first gc_mark of a live object");
    ranges[0].marked = true;
    meta_collect();

    int stack_var = 0;
    void *heap_var = malloc(64);
    size_t n = scaled(1000000, 100000), per_cat[10] = {0}, live_hits = 0;
    double t0 = now_seconds();
    for (size_t i = 0; i < n; i++) {
        int cat = (int)(i % 10);
        uintptr_t a = bp_address(&seed, cat, &stack_var, heap_var);
        struct range *g = range_find(a);
        void *want = g != NULL ? (void *)g->lo : NULL;
        void *got = gc_base((void *)a);
        if (got != want)
            CHECK_PTR_EQ(got, want, "gc_base(%#jx) (category %d)", (uintmax_t)a, cat);
        size_t size = gc_size((void *)a);
        if (size != (g != NULL ? g->hi - g->lo : 0))
            CHECK_EQ(size, g != NULL ? g->hi - g->lo : 0, "gc_size(%#jx) (category %d)",
                     (uintmax_t)a, cat);
        bool marked = gc_mark((void *)a);
        if (g == NULL) {
            CHECK(!marked, "gc_mark(%#jx) (category %d) returned true outside every live object",
                  (uintmax_t)a, cat);
        } else {
            CHECK_EQ(marked, !g->marked, "gc_mark(%#jx) (category %d) into object %#jx, %s marked",
                     (uintmax_t)a, cat, (uintmax_t)g->lo, g->marked ? "already" : "not yet");
            g->marked = true;
            live_hits++;
        }
        per_cat[cat]++;
    }
    double dt = now_seconds() - t0;
    free(heap_var);
    cr_log_info("hostile pointers: %zu tried with gc_base, gc_size and gc_mark (%zu inside live "
                "objects) in %.2f s; %zu live objects, %zu metadata ranges",
                n, live_hits, dt, nranges, nmetas);

    // The sweep keeps exactly what this test marked.
    gc_sweep();
    size_t survivors = 0, marked = 0;
    for (size_t i = 0; i < nranges; i++) {
        void *want = ranges[i].marked ? (void *)ranges[i].lo : NULL;
        CHECK_PTR_EQ(gc_base((void *)ranges[i].lo), want, "object %#jx after the sweep (%s)",
                     (uintmax_t)ranges[i].lo, ranges[i].marked ? "marked" : "not marked");
        survivors += gc_base((void *)ranges[i].lo) != NULL;
        marked += ranges[i].marked;
    }
    gc_mark(NULL); // finishes the sweep: the statistics are exact
    CHECK_EQ(get_stats().heap_objects, marked, "heap_objects after sweeping (objects marked)");
    CHECK_EQ(survivors, marked, "survivors of the sweep");
    CHECK_HEAP("after the hostile-pointer mark phase");
    free(ranges);
    free(bp_objs);
    free(metas);
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
