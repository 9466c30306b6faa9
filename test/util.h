// util.h: helpers shared by the black-box API tests (test/test_*.c).
//
// Only static inline functions and macros, so every test binary stays one
// translation unit. Nothing here knows gcheap's internals: the size-class
// table is Go's, copied from the reference (docs: go-sizeclasses.txt), and
// the tests compare the library against it.
#ifndef GCHEAP_TEST_UTIL_H
#define GCHEAP_TEST_UTIL_H

#include <criterion/criterion.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../gcheap.h"

// ------------------------------------------------------------ assertions
//
// Habit 10: a failing check prints what it checked, the expected value and
// the actual one. The macros test first and format only on failure, so they
// are cheap enough for loops over millions of bytes. The trailing arguments
// are a printf-style context ("size %zu", size).

// Formats the context of a failed check (vasprintf: never truncates).
static inline __attribute__((format(printf, 1, 2))) char *chk_format(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s != NULL ? s : (char *)"(no memory for the message)";
}

#define CHECK(cond, ...)                                                            \
    do {                                                                            \
        if (!(cond)) {                                                              \
            cr_assert_fail("%s: check failed: %s", chk_format(__VA_ARGS__), #cond); \
        }                                                                           \
    } while (0)

// Compares two integer-valued expressions (pointers included) as unsigned
// 64-bit numbers with operator op; prints both sides in decimal and hex.
#define CHECK_CMP(actual, op, expected, ...)                                                      \
    do {                                                                                          \
        uintmax_t chk_a_ = (uintmax_t)(actual);                                                   \
        uintmax_t chk_e_ = (uintmax_t)(expected);                                                 \
        if (!(chk_a_ op chk_e_)) {                                                                \
            cr_assert_fail("%s: expected %s %s %s, i.e. %s %ju (%#jx); "                          \
                           "actual %ju (%#jx)",                                                   \
                           chk_format(__VA_ARGS__), #actual, #op, #expected, #op, chk_e_, chk_e_, \
                           chk_a_, chk_a_);                                                       \
        }                                                                                         \
    } while (0)

#define CHECK_EQ(actual, expected, ...) CHECK_CMP(actual, ==, expected, __VA_ARGS__)

// Pointer equality; prints both pointers.
#define CHECK_PTR_EQ(actual, expected, ...)                                                      \
    do {                                                                                         \
        const void *chk_pa_ = (const void *)(actual);                                            \
        const void *chk_pe_ = (const void *)(expected);                                          \
        if (chk_pa_ != chk_pe_) {                                                                \
            cr_assert_fail("%s: expected %s == %s, i.e. %p; actual %p", chk_format(__VA_ARGS__), \
                           #actual, #expected, chk_pe_, chk_pa_);                                \
        }                                                                                        \
    } while (0)

// ------------------------------------------------------ Go's size classes
//
// Class 0 is "large"; classes 1..67 are Go's table (go-sizeclasses.txt,
// columns bytes/obj and pages).

#define TEST_NUM_CLASSES 68
#define TEST_PAGE_SIZE   8192u
#define TEST_MAX_SMALL   32768u

static inline uint32_t class_size(int c)
{
    static const uint32_t sizes[TEST_NUM_CLASSES] = {
        0,     8,     16,    24,    32,    48,    64,    80,    96,    112,   128,   144,
        160,   176,   192,   208,   224,   240,   256,   288,   320,   352,   384,   416,
        448,   480,   512,   576,   640,   704,   768,   896,   1024,  1152,  1280,  1408,
        1536,  1792,  2048,  2304,  2688,  3072,  3200,  3456,  4096,  4864,  5376,  6144,
        6528,  6784,  6912,  8192,  9472,  9728,  10240, 10880, 12288, 13568, 14336, 16384,
        18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768,
    };
    return sizes[c];
}

// Pages per span of class c (bytes/span / 8192).
static inline uint32_t class_pages(int c)
{
    static const uint8_t pages[TEST_NUM_CLASSES] = {
        0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 2, 1, 2, 1, 3, 2,  3, 1, 3,
        2, 3, 4, 5, 6, 1, 7, 6, 5, 4, 3, 5, 7, 2, 9, 7, 5, 8, 3, 10, 7, 4,
    };
    return pages[c];
}

// The class of a small request (1..32768): the smallest class that holds it.
static inline int size_to_class(size_t size)
{
    for (int c = 1; c < TEST_NUM_CLASSES; c++)
        if (class_size(c) >= size)
            return c;
    return 0;
}

// What gc_size must report for a request that is not tiny.
static inline size_t expected_gc_size(size_t size)
{
    if (size <= TEST_MAX_SMALL)
        return class_size(size_to_class(size));
    return (size + TEST_PAGE_SIZE - 1) / TEST_PAGE_SIZE * TEST_PAGE_SIZE;
}

// Alignment gcheap.h promises for a tiny object of this size.
static inline uintptr_t tiny_align(size_t size)
{
    if (size % 8 == 0)
        return 8;
    if (size % 4 == 0)
        return 4;
    if (size % 2 == 0)
        return 2;
    return 1;
}

// -------------------------------------------------------------- random
//
// xorshift64*: deterministic, seeded; tests print the seed when they fail.

static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

// Uniform in [0, n), n > 0.
static inline uint64_t rng_below(uint64_t *s, uint64_t n)
{
    return rng_next(s) % n;
}

// The seed: GCHEAP_TEST_SEED if set, else the clock and pid. Logged, so a
// failure can be replayed.
static inline uint64_t test_seed(void)
{
    const char *e = getenv("GCHEAP_TEST_SEED");
    uint64_t seed;
    if (e != NULL && *e != '\0')
        seed = strtoull(e, NULL, 0);
    else
        seed = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid() << 32;
    if (seed == 0)
        seed = 1;
    cr_log_info("seed %" PRIu64 " (replay with GCHEAP_TEST_SEED=%" PRIu64 ")", seed, seed);
    return seed;
}

// --------------------------------------------------------------- scaling
//
// GCHEAP_TEST_SCALE (a positive factor, default 1) scales the sizes of the
// heaviest tests, for sanitizer builds where everything is 5-10x slower:
// GCHEAP_TEST_SCALE=0.1 runs a tenth of the work.
static inline double test_scale(void)
{
    const char *e = getenv("GCHEAP_TEST_SCALE");
    double f = 1.0;
    if (e != NULL && *e != '\0')
        f = strtod(e, NULL);
    if (!(f > 0.0))
        f = 1.0;
    return f;
}

static inline size_t scaled(size_t n, size_t min)
{
    double v = (double)n * test_scale();
    size_t r = v < 1.0 ? 1 : (size_t)v;
    return r < min ? min : r;
}

// ------------------------------------------------------------ misc helpers

static inline gc_stats get_stats(void)
{
    gc_stats s;
    memset(&s, 0, sizeof s);
    gc_get_stats(&s);
    return s;
}

static inline double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

// Runs fn(arg) on a new thread and waits for it: a fresh thread has an
// empty tiny block, which the packing tests rely on.
static inline void *run_in_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    void *ret = NULL;
    int rc = pthread_create(&t, NULL, fn, arg);
    cr_assert_eq(rc, 0, "pthread_create: expected 0, actual %d", rc);
    rc = pthread_join(t, &ret);
    cr_assert_eq(rc, 0, "pthread_join: expected 0, actual %d", rc);
    return ret;
}

// Fills n bytes at p with a pattern derived from tag; check_pattern returns
// the offset of the first mismatching byte, or n if all match.
static inline void fill_pattern(void *p, size_t n, uint64_t tag)
{
    unsigned char *b = p;
    uint64_t x = tag * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(x >> ((i % 8) * 8)) ^ (unsigned char)(i >> 3);
}

static inline size_t check_pattern(const void *p, size_t n, uint64_t tag)
{
    const unsigned char *b = p;
    uint64_t x = tag * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t i = 0; i < n; i++)
        if (b[i] != ((unsigned char)(x >> ((i % 8) * 8)) ^ (unsigned char)(i >> 3)))
            return i;
    return n;
}

// An object of size bytes checked over check bytes: all of it when
// check == size, else its first and last check / 2 bytes, the head with
// tag's pattern and the tail with ~tag's (large objects cost no more to
// check than small ones). ends_damage returns the offset of the first
// damaged byte, or check if the pattern is intact.
static inline void fill_ends(void *p, size_t size, size_t check, uint64_t tag)
{
    unsigned char *b = p;
    if (check == size) {
        fill_pattern(b, size, tag);
    } else {
        fill_pattern(b, check / 2, tag);
        fill_pattern(b + size - check / 2, check / 2, ~tag);
    }
}

static inline size_t ends_damage(const void *p, size_t size, size_t check, uint64_t tag)
{
    const unsigned char *b = p;
    if (check == size)
        return check_pattern(b, size, tag);
    size_t h = check / 2;
    size_t o = check_pattern(b, h, tag);
    if (o != h)
        return o;
    o = check_pattern(b + size - h, h, ~tag);
    return o != h ? size - h + o : check;
}

// Returns the offset of the first non-zero byte in [p, p+n), or n.
static inline size_t first_nonzero(const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        if (w != 0)
            break;
    }
    for (; i < n; i++)
        if (b[i] != 0)
            return i;
    return n;
}

static inline int cmp_uintptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

// ------------------------------------------------------ child processes
//
// Runs fn in a forked child whose stderr goes into a pipe; collects what it
// wrote and how it ended. Used for aborts whose message must be checked,
// and for environment variables that must be set before the library's
// first call (the child calls nothing in gcheap before fn does).
struct child_result {
    int status;     // as from waitpid
    char err[8192]; // what the child wrote on stderr, NUL-terminated
    size_t len;
};

static inline void run_child(void (*fn)(void), struct child_result *r)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0, "pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        close(fds[1]);
        fn();
        fflush(stderr);
        _exit(0);
    }
    close(fds[1]);
    r->len = 0;
    for (;;) {
        // Keep reading past a full buffer so the child never blocks.
        char sink[512];
        bool full = r->len == sizeof r->err - 1;
        ssize_t n = full ? read(fds[0], sink, sizeof sink)
                         : read(fds[0], r->err + r->len, sizeof r->err - 1 - r->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (!full)
            r->len += (size_t)n;
    }
    r->err[r->len] = '\0';
    close(fds[0]);
    while (waitpid(pid, &r->status, 0) < 0 && errno == EINTR)
        ;
}

// ------------------------------------------------- huge-page advice (smaps)

// The VmFlags of the mapping holding p, from /proc/self/smaps, in out
// (empty if not found): "hg" marks MADV_HUGEPAGE, "nh" MADV_NOHUGEPAGE.
static inline void vm_flags_of(const void *p, char *out, size_t len)
{
    out[0] = '\0';
    FILE *f = fopen("/proc/self/smaps", "r");
    if (f == NULL)
        return;
    char *line = NULL;
    size_t cap = 0;
    bool inside = false;
    while (getline(&line, &cap, f) != -1) {
        unsigned long lo, hi;
        const char *dash = strchr(line, '-'), *space = strchr(line, ' ');
        if (dash != NULL && space != NULL && dash < space &&
            sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
            inside = (uintptr_t)p >= lo && (uintptr_t)p < hi;
        } else if (inside && strncmp(line, "VmFlags:", 8) == 0) {
            size_t n = strlen(line + 8);
            n = n < len ? n : len - 1;
            memcpy(out, line + 8, n);
            out[n] = '\0';
            break;
        }
    }
    free(line);
    fclose(f);
}

// Is flag one of the words of flags?
static inline bool has_flag(const char *flags, const char *flag)
{
    size_t n = strlen(flag);
    for (const char *q = flags; (q = strstr(q, flag)) != NULL; q += n) {
        if ((q == flags || q[-1] == ' ') && (q[n] == ' ' || q[n] == '\n' || q[n] == '\0'))
            return true;
    }
    return false;
}

// Can a test see huge-page advice? Advises a fresh mapping of its own and
// looks for "hg": false where madvise refuses it (no THP in the kernel, some
// sandboxes) or smaps shows no VmFlags.
static inline bool thp_advice_visible(void)
{
#ifdef MADV_HUGEPAGE
    size_t len = (size_t)4 << 20;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return false;
    char flags[256];
    bool ok = madvise(p, len, MADV_HUGEPAGE) == 0;
    if (ok) {
        vm_flags_of(p, flags, sizeof flags);
        ok = has_flag(flags, "hg");
    }
    munmap(p, len);
    return ok;
#else
    return false;
#endif
}

// A child (run_child) that set var=value before its first call into the
// library and checked what it read: it must exit 0, and its stderr be
// gcheap's one "ignoring malformed" line if the value is malformed, else
// empty. (The child explains a wrong reading on stderr and exits non-zero.)
static inline void check_env_child(const char *var, const char *value, bool malformed,
                                   const struct child_result *r)
{
    CHECK(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0,
          "%s='%s': child ended with status %#x, stderr \"%s\"", var, value, r->status, r->err);
    char want[256] = "";
    if (malformed)
        snprintf(want, sizeof want, "gcheap: ignoring malformed %s '%s'\n", var, value);
    CHECK(strcmp(r->err, want) == 0, "%s='%s': stderr expected \"%s\", actual \"%s\"", var, value,
          want, r->err);
}

// Fault injection at every fallible OS call of a workload. child runs the
// workload in a forked child (run_child) and reads *counting and *nth:
// with *counting set it injects nothing and prints "calls N" (the fallible
// OS calls it made); otherwise it fails call *nth (gch_os_fail_nth) and
// prints "nulls N" (the gc_alloc calls that returned NULL). Every fault
// point must end in a clean exit. Returns the number of fault points, and
// in *with_null how many made some gc_alloc fail.
static inline unsigned long run_fault_points(void (*child)(void), bool *counting,
                                             unsigned long *nth, unsigned long min_calls,
                                             unsigned long *with_null)
{
    struct child_result r;
    *counting = true;
    *nth = 0;
    run_child(child, &r);
    unsigned long calls = 0;
    cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0 &&
                  sscanf(r.err, "calls %lu", &calls) == 1,
              "the clean workload failed: status %#x, stderr \"%s\"", r.status, r.err);
    cr_assert_gt(calls, min_calls, "fallible OS calls of the workload: %lu", calls);
    *counting = false;
    *with_null = 0;
    for (*nth = 1; *nth <= calls; (*nth)++) {
        run_child(child, &r);
        size_t nulls = 0;
        bool ok = WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0 &&
                  sscanf(r.err, "nulls %zu", &nulls) == 1;
        CHECK(ok, "fault point %lu of %lu: expected a clean run, got %s %d; stderr \"%s\"", *nth,
              calls, WIFSIGNALED(r.status) ? "signal" : "exit status",
              WIFSIGNALED(r.status) ? WTERMSIG(r.status) : WEXITSTATUS(r.status), r.err);
        *with_null += nulls > 0;
    }
    return calls;
}

#endif
