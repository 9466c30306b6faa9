// test_reliability_faults.c: the issue "Reliability", part two (see
// test_reliability.c): an OS failure injected at every fallible call of a
// reference workload (gch_os_fail_nth) must leave the heap consistent and
// lose no object, and host misuse is reported as one "gcheap: ..." line and
// an abort.
//
// White-box where it must be (src/internal.h, through whitebox.h). Each Test
// runs in its own process (Criterion forks), so limits and hooks never leak
// from one to another; tests that need a fresh library or must watch a
// process die use forked children.
#include "whitebox.h"

#include <signal.h>

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
    fill_ends(p, size, o.check, tag);
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
    return ends_damage(o->p, o->size, o->check, o->tag);
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

// ------------------------------------------------------ huge-page advice

// The first allocation with huge-page advice on, with fallible OS call
// hp_nth failing: the object it (or its retry) gets must lie in a mapping
// that still carries the advice. A failed heap growth decommits its range
// by mapping it afresh, which drops the advice unless it is given again.
static unsigned long hp_nth;

static void hugepages_fault_child(void)
{
    gc_set_hugepages(true); // the first call: no arena yet
    gch_os_fail_nth(hp_nth);
    void *p = gc_alloc(64, true);
    gch_os_fail_nth(0);
    if (p == NULL)
        p = gc_alloc(64, true);
    if (p == NULL)
        _exit(5);
    char flags[256];
    vm_flags_of(p, flags, sizeof flags);
    if (!has_flag(flags, "hg")) {
        fprintf(stderr, "fault point %lu: VmFlags %s", hp_nth, flags);
        _exit(3);
    }
}

Test(reliability, huge_page_advice_survives_every_failure_of_the_first_growth)
{
    if (!thp_advice_visible())
        cr_skip_test("huge-page advice is refused or not shown in /proc/self/smaps");
    for (hp_nth = 1; hp_nth <= 40; hp_nth++) {
        struct child_result r;
        run_child(hugepages_fault_child, &r);
        CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0,
              "fault point %lu: status %#x, stderr \"%s\"", hp_nth, r.status, r.err);
    }
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
