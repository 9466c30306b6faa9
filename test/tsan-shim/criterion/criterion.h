// criterion.h: a small stand-in for Criterion, used only by BUILD=tsan.
//
// Why it exists: Criterion 2.4's runner (BoxFort) maps its shared-memory
// "inheritable arena" at fixed addresses that ThreadSanitizer keeps for its
// own use (TSan's mmap interceptor refuses them, no syscall is made), so a
// test binary built with -fsanitize=thread aborts with "Could not initialize
// inheritable arena" before its first test. When BUILD=tsan the Makefile puts
// this directory first on the include path and links runner.c instead of
// -lcriterion (see TSAN_SHIM there); every other build uses the real one.
//
// What it covers is the subset gcheap's tests use, with Criterion's meaning:
//   Test(suite, name, .init = f, .fini = f, .signal = SIG, .timeout = s,
//        .disabled = true)   registered by a constructor, run by runner.c
//                            in its own forked process, one at a time
//   cr_assert, cr_assert_not, cr_assert_fail, cr_assert_eq/neq/lt/leq/gt/geq,
//   cr_assert_null, cr_assert_not_null: each takes an optional printf-style
//                            message; a failure prints file:line, the
//                            expression and the message, runs .fini (on the
//                            test's thread) and ends the process with status 1
//   cr_log_info, cr_log_warn, cr_log_error
// Anything else (cr_expect*, TestSuite, theories, ...) is left undefined on
// purpose: a test that needs it fails to compile here instead of quietly
// meaning something else.
//
// Differences from Criterion: output is written by the test process itself
// (to a copy of the runner's stderr taken at startup, so a test that
// redirects fd 2 still reports); tests run one after another (--jobs is
// accepted and ignored); a message must be a string literal.
#ifndef GCHEAP_TSAN_SHIM_CRITERION_H
#define GCHEAP_TSAN_SHIM_CRITERION_H

// Criterion's header brings these in; tests may rely on them.
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct cr_shim_test {
    const char *suite, *name, *file;
    int line;
    void (*fn)(void);
    // Options, set by the designated initializers given to Test().
    void (*init)(void);        // runs in the test process before fn
    void (*fini)(void);        // ... after fn, or after a failed assertion
    int signal;                // nonzero: passes only if the process dies of it
    double timeout;            // seconds; 0 means none
    bool disabled;             // listed as skipped, not run
    struct cr_shim_test *next; // registration list, owned by runner.c
};

void cr_shim_register(struct cr_shim_test *t);
__attribute__((noreturn, format(printf, 4, 5))) void
cr_shim_assert_failed(const char *file, int line, const char *expr, const char *fmt, ...);
__attribute__((format(printf, 2, 3))) void cr_shim_log(const char *tag, const char *fmt, ...);

// The ... of Test() are designated initializers of the struct above; when
// there are none, the trailing comma left behind is still valid C. Names
// are stringized at once (a test named like a macro keeps its name); the body
// that follows the macro becomes id##_fn.
#define Test(suite, name, ...) CR_SHIM_TEST_(#suite, #name, cr_shim_##suite##_##name, __VA_ARGS__)
#define CR_SHIM_TEST_(suite_str, name_str, id, ...)              \
    static void id##_fn(void);                                   \
    static struct cr_shim_test id = {.suite = suite_str,         \
                                     .name = name_str,           \
                                     .file = __FILE__,           \
                                     .line = __LINE__,           \
                                     .fn = id##_fn,              \
                                     __VA_ARGS__};               \
    static void __attribute__((constructor)) id##_register(void) \
    {                                                            \
        cr_shim_register(&id);                                   \
    }                                                            \
    static void id##_fn(void)

// The optional message is pasted after "x" (Criterion's own trick): an
// absent message then is the format "x", not a zero-length format (which
// -Wformat rejects), and the runner drops the first character. The
// condition is evaluated once; the message only on failure.
#define CR_SHIM_CHECK_(cond, expr, ...)                                       \
    do {                                                                      \
        if (!(cond))                                                          \
            cr_shim_assert_failed(__FILE__, __LINE__, expr, "x" __VA_ARGS__); \
    } while (0)

#define cr_assert(cond, ...)       CR_SHIM_CHECK_(cond, #cond, __VA_ARGS__)
#define cr_assert_not(cond, ...)   CR_SHIM_CHECK_(!(cond), "!(" #cond ")", __VA_ARGS__)
#define cr_assert_fail(...)        cr_shim_assert_failed(__FILE__, __LINE__, NULL, "x" __VA_ARGS__)
#define cr_assert_eq(a, b, ...)    CR_SHIM_CHECK_((a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...)   CR_SHIM_CHECK_((a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...)    CR_SHIM_CHECK_((a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...)   CR_SHIM_CHECK_((a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...)    CR_SHIM_CHECK_((a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...)   CR_SHIM_CHECK_((a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_assert_null(p, ...)     CR_SHIM_CHECK_((p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_assert_not_null(p, ...) CR_SHIM_CHECK_((p) != NULL, #p " != NULL", __VA_ARGS__)

// Criterion's tags: "[----]" for information, "[WARN]", "[ERR ]".
// Skips the rest of the test: the child exits with CR_SHIM_SKIP_STATUS and
// the runner reports [SKIP] (counted as passing, as Criterion does).
#define CR_SHIM_SKIP_STATUS 77
__attribute__((noreturn, format(printf, 1, 2))) void cr_shim_skip(const char *fmt, ...);
#define cr_skip_test(...) cr_shim_skip(__VA_ARGS__)

#define cr_log_info(...)  cr_shim_log("----", __VA_ARGS__)
#define cr_log_warn(...)  cr_shim_log("WARN", __VA_ARGS__)
#define cr_log_error(...) cr_shim_log("ERR ", __VA_ARGS__)

#endif
