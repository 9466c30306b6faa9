// test_env.c: the environment variables gcheap reads at its first call,
// GCHEAP_GOGC, GCHEAP_DEBUG (gctrace, poison, verify) and GCHEAP_HUGEPAGES
// with gc_set_hugepages.
//
// Each Test runs in its own forked process and sets the environment before
// its first call into the library; tests that check stderr run the library
// in a child process (run_child) with stderr on a pipe.
#include <regex.h>

#include "util.h"

static void *live[8];

static void live_roots(void *ctx)
{
    (void)ctx;
    for (int i = 0; i < 8; i++)
        gc_mark(live[i]);
}

static void no_roots(void *ctx)
{
    (void)ctx;
}

// ------------------------------------------------------------ GCHEAP_GOGC

Test(env, gogc_unset_means_100)
{
    unsetenv("GCHEAP_GOGC");
    CHECK_EQ(gc_set_gogc(70), 100, "GOGC without GCHEAP_GOGC");
}

Test(env, gogc_off_disables_automatic_collection)
{
    setenv("GCHEAP_GOGC", "off", 1);
    gc_set_roots(no_roots, NULL); // the first call: reads the environment
    for (int i = 0; i < 64; i++)
        CHECK(gc_alloc(1 << 20, i % 2 == 0) != NULL, "gc_alloc(1 MiB) number %d", i);
    for (int i = 0; i < 20000; i++)
        CHECK(gc_alloc(200, true) != NULL, "gc_alloc(200) number %d", i);
    CHECK_EQ(get_stats().num_gc, 0, "collections with GCHEAP_GOGC=off after allocating ~68 MB");
    CHECK_EQ((intmax_t)gc_set_gogc(100), -1, "gc_set_gogc's previous value with GCHEAP_GOGC=off");
}

Test(env, gogc_50_sets_the_initial_percent)
{
    setenv("GCHEAP_GOGC", "50", 1);
    CHECK(gc_alloc(24, true) != NULL, "first allocation"); // the first call
    setenv("GCHEAP_GOGC", "off", 1);                       // read once: ignored
    CHECK_EQ(gc_set_gogc(100), 50, "gc_set_gogc's previous value with GCHEAP_GOGC=50");
}

Test(env, gogc_is_read_at_the_first_call_of_any_kind)
{
    setenv("GCHEAP_GOGC", "50", 1);
    gc_stats s;
    gc_get_stats(&s); // the first call into the library
    setenv("GCHEAP_GOGC", "off", 1);
    CHECK_EQ(gc_set_gogc(100), 50, "GOGC after GCHEAP_GOGC=50 at gc_get_stats, then =off");
}

Test(env, gogc_50_paces_next_gc_at_live_times_1_5)
{
    setenv("GCHEAP_GOGC", "50", 1);
    gc_set_roots(live_roots, NULL);
    for (int i = 0; i < 8; i++)
        live[i] = gc_alloc(1 << 20, false);
    gc_collect();
    gc_stats s = get_stats();
    CHECK_EQ(s.live_after_gc, 8u << 20, "live_after_gc with 8 MiB live");
    CHECK_EQ(s.next_gc, 12u << 20, "next_gc with 8 MiB live and GCHEAP_GOGC=50");
}

// --------------------------------------------------- GCHEAP_DEBUG=gctrace

// 8 MiB live, 8 MiB garbage, two collections.
static void two_collections(void)
{
    unsetenv("GCHEAP_GOGC");
    gc_set_gogc(-1); // no automatic collection while allocating
    gc_set_roots(live_roots, NULL);
    for (int i = 0; i < 8; i++) {
        live[i] = gc_alloc(1 << 20, false);
        gc_alloc(1 << 20, true);
    }
    gc_set_gogc(100); // the goal printed is live * 2
    gc_collect();
    gc_collect();
    // A third cycle by hand, swept lazily.
    gc_mark(live[0]);
    gc_sweep();
}

static void gctrace_child(void)
{
    setenv("GCHEAP_DEBUG", "gctrace=1", 1);
    two_collections();
}

static void quiet_child(void)
{
    unsetenv("GCHEAP_DEBUG");
    two_collections();
}

static bool matches(const char *pattern, const char *s)
{
    regex_t re;
    int rc = regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB);
    cr_assert_eq(rc, 0, "regcomp(%s) failed: %d", pattern, rc);
    bool ok = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

// Splits r->err into at most max lines (without their '\n'); returns the count.
static int split_lines(struct child_result *r, char **lines, int max)
{
    int n = 0;
    char *p = r->err;
    while (*p != '\0' && n < max) {
        lines[n++] = p;
        char *nl = strchr(p, '\n');
        if (nl == NULL)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    return n;
}

Test(env, gctrace_prints_one_line_per_collection)
{
    struct child_result r;
    run_child(gctrace_child, &r);
    CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "child status %#x; stderr: \"%s\"",
          r.status, r.err);
    char copy[sizeof r.err];
    memcpy(copy, r.err, sizeof copy);
    char *lines[8];
    int n = split_lines(&r, lines, 8);
    CHECK_EQ(
        n, 3,
        "lines on stderr after two gc_collect and a gc_mark/gc_sweep cycle with gctrace=1: \"%s\"",
        copy);
    CHECK(matches("^gc 1 @[0-9.]+s: ", lines[0]),
          "first line must match ^gc 1 @[0-9.]+s: , got \"%s\"", lines[0]);
    CHECK(strstr(lines[0], "MB goal") != NULL, "first line must contain \"MB goal\", got \"%s\"",
          lines[0]);
    CHECK(matches("^gc 2 @[0-9.]+s: ", lines[1]),
          "second line must match ^gc 2 @[0-9.]+s: , got \"%s\"", lines[1]);
    CHECK(matches("^gc 3 @[0-9.]+s: ", lines[2]),
          "third line must match ^gc 3 @[0-9.]+s: , got \"%s\"", lines[2]);
}

Test(env, gctrace_line_has_the_documented_fields)
{
    // gcheap.h: "gc N @T s: M ms mark, S sweep, A->B MB, G MB goal,
    // K threads", S being "X ms" inside gc_collect or "lazy" for gc_sweep.
    struct child_result r;
    run_child(gctrace_child, &r);
    char *lines[8];
    int n = split_lines(&r, lines, 8);
    CHECK(n >= 3, "gctrace lines on stderr: expected 3, actual %d", n);
    const char *fmt = "^gc 1 @[0-9.]+ ?s: [0-9.]+ ms mark, [0-9.]+ ms sweep, [0-9.]+->[0-9.]+ MB, "
                      "[0-9.]+ MB goal, [0-9]+ threads$";
    CHECK(matches(fmt, lines[0]), "first gctrace line must match %s, got \"%s\"", fmt, lines[0]);
    const char *lazy = "^gc 3 @[0-9.]+ ?s: [0-9.]+ ms mark, lazy sweep, [0-9.]+->[0-9.]+ MB, "
                       "[0-9.]+ MB goal, [0-9]+ threads$";
    CHECK(matches(lazy, lines[2]), "gctrace line of a gc_sweep cycle must match %s, got \"%s\"",
          lazy, lines[2]);
    // A: heap_alloc when marking began (16 MiB), B: marked live (8 MiB),
    // G: next_gc afterwards (16 MiB with GOGC=100). MB are 2^20 bytes here,
    // allow rounding either way.
    const char *arrow = strstr(lines[0], "->");
    cr_assert_not_null(arrow, "no A->B in \"%s\"", lines[0]);
    const char *a = arrow;
    while (a > lines[0] && (a[-1] == '.' || (a[-1] >= '0' && a[-1] <= '9')))
        a--;
    double A = strtod(a, NULL), B = strtod(arrow + 2, NULL);
    const char *goal = strstr(lines[0], " MB, ");
    cr_assert_not_null(goal, "no \"MB, \" in \"%s\"", lines[0]);
    double G = strtod(goal + 5, NULL);
    CHECK(A >= 15 && A <= 17.5, "A (heap at mark start): expected ~16 MB, actual %g in \"%s\"", A,
          lines[0]);
    CHECK(B >= 7 && B <= 9.5, "B (marked live): expected ~8 MB, actual %g in \"%s\"", B, lines[0]);
    CHECK(G >= 15 && G <= 17.5, "G (goal): expected ~16 MB, actual %g in \"%s\"", G, lines[0]);
}

Test(env, no_gctrace_output_by_default)
{
    struct child_result r;
    run_child(quiet_child, &r);
    CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "child status %#x", r.status);
    CHECK_EQ(r.len, 0, "bytes on stderr without GCHEAP_DEBUG: \"%s\"", r.err);
}

// ---------------------------------------------------- GCHEAP_DEBUG=poison

// Reads a byte of a swept slot. Under AddressSanitizer gcheap poisons free
// slots (so a host's use after sweep is reported); this test reads one on
// purpose, so the read is exempt.
#if defined(__clang__) || defined(__GNUC__)
__attribute__((no_sanitize_address))
#endif
static unsigned char
read_freed_byte(const unsigned char *p)
{
    return *(const volatile unsigned char *)p;
}

static void poison_check(void)
{
    // Two 64-byte objects on one page (so in one span, which stays in use
    // because a is live): after a collection, b's slot reads 0xDB.
    gc_set_gogc(-1);
    gc_set_roots(live_roots, NULL);
    unsigned char *a = NULL, *b = NULL;
    for (int i = 0; i < 64 && b == NULL; i++) {
        unsigned char *p = gc_alloc(64, true), *q = gc_alloc(64, true);
        if ((uintptr_t)p >> 13 == (uintptr_t)q >> 13) {
            a = p;
            b = q;
        }
    }
    cr_assert_not_null(b, "no two consecutive 64-byte objects on one page");
    memset(a, 0x5A, 64);
    memset(b, 0x5A, 64);
    live[0] = a;
    gc_collect();
    CHECK_PTR_EQ(gc_base(b), NULL, "gc_base of the unmarked object");
    for (int i = 0; i < 64; i++) {
        CHECK_EQ(read_freed_byte(&b[i]), 0xDB, "byte %d of a swept slot with poison=1", i);
        CHECK_EQ(a[i], 0x5A, "byte %d of the live neighbour with poison=1", i);
    }
}

Test(env, poison_fills_swept_slots_with_0xdb)
{
    setenv("GCHEAP_DEBUG", "poison=1", 1);
    poison_check();
}

static void poison_and_trace_child(void)
{
    setenv("GCHEAP_DEBUG", "poison=1,gctrace=1", 1);
    poison_check();
}

Test(env, debug_accepts_several_settings)
{
    struct child_result r;
    run_child(poison_and_trace_child, &r);
    CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0,
          "child (poison check with GCHEAP_DEBUG=poison=1,gctrace=1) status %#x; stderr: \"%s\"",
          r.status, r.err);
    CHECK(strncmp(r.err, "gc 1 @", 6) == 0,
          "gctrace line with GCHEAP_DEBUG=poison=1,gctrace=1, got \"%s\"", r.err);
}

// ---------------------------------------------------- GCHEAP_DEBUG=verify

Test(env, verify_passes_on_a_healthy_heap)
{
    setenv("GCHEAP_DEBUG", "verify=1", 1);
    uint64_t seed = test_seed();
    gc_set_gogc(-1);
    gc_set_roots(live_roots, NULL);
    for (int cycle = 0; cycle < 10; cycle++) {
        for (int i = 0; i < 2000; i++) {
            size_t size = 1 + (size_t)rng_below(&seed, 3000);
            void *p = gc_alloc(size, rng_below(&seed, 2) == 0);
            cr_assert_not_null(p);
            if (rng_below(&seed, 100) == 0)
                live[rng_below(&seed, 8)] = p;
        }
        live[cycle % 8] = gc_alloc(50000, true);
        if (cycle % 2 == 0) {
            gc_collect();
        } else {
            for (int i = 0; i < 8; i++)
                gc_mark(live[i]);
            gc_sweep();
        }
        for (int i = 0; i < 8; i++)
            CHECK(live[i] == NULL || gc_base(live[i]) != NULL, "cycle %d: live object %d freed",
                  cycle, i);
    }
}

// ------------------------------------ GCHEAP_HUGEPAGES, gc_set_hugepages
//
// The advice is seen where the kernel records it: the VmFlags of the
// mapping in /proc/self/smaps (vm_flags_of in util.h). Skipped where the
// kernel cannot show it (thp_advice_visible).

Test(env, hugepages_advice_reaches_present_and_future_arenas)
{
    if (!thp_advice_visible())
        cr_skip_test("huge-page advice is refused or not shown in /proc/self/smaps");
    unsetenv("GCHEAP_HUGEPAGES");
    char flags[256];
    void *small = gc_alloc(64, true);
    cr_assert_not_null(small);
    vm_flags_of(small, flags, sizeof flags);
    CHECK(!has_flag(flags, "hg") && !has_flag(flags, "nh"),
          "no advice by default: VmFlags of the heap \"%s\"", flags);

    CHECK(!gc_set_hugepages(true), "the previous advice, initially none, is reported as false");
    vm_flags_of(small, flags, sizeof flags);
    CHECK(has_flag(flags, "hg"), "after gc_set_hugepages(true): VmFlags \"%s\"", flags);
    // 80 MiB: more than an arena, so a new reservation, advised as made.
    void *big = gc_alloc((size_t)80 << 20, false);
    cr_assert_not_null(big);
    vm_flags_of(big, flags, sizeof flags);
    CHECK(has_flag(flags, "hg"), "an arena reserved later: VmFlags \"%s\"", flags);
    CHECK(memcmp(big, (char[64]){0}, 64) == 0, "the new object is zeroed");

    CHECK(gc_set_hugepages(false), "the previous advice was for huge pages");
    for (void *p = small;; p = big) {
        vm_flags_of(p, flags, sizeof flags);
        CHECK(has_flag(flags, "nh") && !has_flag(flags, "hg"),
              "after gc_set_hugepages(false): VmFlags of %s arena \"%s\"",
              p == small ? "the first" : "the later", flags);
        if (p == big)
            break;
    }
    CHECK(!gc_set_hugepages(false), "false twice: the previous advice was against");
}

static const char *hp_value;
static int hp_expected; // 1 hg, -1 nh, 0 neither

static void hugepages_child(void)
{
    setenv("GCHEAP_HUGEPAGES", hp_value, 1);
    void *p = gc_alloc(64, true); // the first call: reads the environment
    char flags[256];
    vm_flags_of(p, flags, sizeof flags);
    int got = has_flag(flags, "hg") ? 1 : has_flag(flags, "nh") ? -1 : 0;
    if (got != hp_expected) {
        fprintf(stderr, "advice %d, expected %d (VmFlags %s)\n", got, hp_expected, flags);
        _exit(3);
    }
    if (gc_set_hugepages(hp_expected > 0) != (hp_expected > 0))
        _exit(4);
}

Test(env, hugepages_values_are_parsed_and_malformed_ones_reported)
{
    if (!thp_advice_visible())
        cr_skip_test("huge-page advice is refused or not shown in /proc/self/smaps");
    static const struct {
        const char *value;
        int advice;
        bool malformed;
    } cases[] = {
        {"1", 1, false}, {"on", 1, false}, {"0", -1, false}, {"off", -1, false}, {"", 0, false},
        {"2", 0, true},  {"yes", 0, true}, {"ON", 0, true},  {"1 ", 0, true},    {"-1", 0, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hp_value = cases[i].value;
        hp_expected = cases[i].advice;
        struct child_result r;
        run_child(hugepages_child, &r);
        check_env_child("GCHEAP_HUGEPAGES", cases[i].value, cases[i].malformed, &r);
    }
}
