// runner.c: main() of a test binary built against the TSan shim (see
// criterion/criterion.h for why it exists; used only by BUILD=tsan).
//
// Each registered Test runs in its own forked process, because gcheap's
// state is global and every test expects a fresh heap. The runner itself
// starts no thread, so fork() is safe under TSan. A test passes if its
// process exits with status 0 or, for .signal = SIG, is killed by SIG. The
// test process writes its own failures and logs to report_fd; the runner
// adds one [PASS]/[FAIL]/[SKIP] line per test and a Synthesis line, and exits
// with status 1 if any test failed.
//
//   test_x [--filter GLOB] [--list] [--jobs N] [--verbose[=N]]
//
// --filter matches "suite/name" with fnmatch(3), as Criterion's does; --jobs
// and --verbose are accepted so that the Makefile's CRITERION_ARGS work, and
// ignored: tests run one at a time and every result is printed.
#include "criterion/criterion.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct cr_shim_test *tests; // sorted by file, then line

// A copy of stderr made before any test runs: tests may point fd 2 at
// /dev/null (to silence an expected abort) and must still report failures.
static int report_fd = 2;

// In a test process: the test and the thread that runs it (.fini runs only
// there, never on a helper thread that failed an assertion).
static const struct cr_shim_test *current;
static pthread_t current_thread;

void cr_shim_register(struct cr_shim_test *t)
{
    // Constructors run in an order the toolchain chooses; keep source order.
    struct cr_shim_test **p = &tests;
    while (*p != NULL && (strcmp((*p)->file, t->file) < 0 ||
                          (strcmp((*p)->file, t->file) == 0 && (*p)->line < t->line)))
        p = &(*p)->next;
    t->next = *p;
    *p = t;
}

// The formatted message (malloc'd), or NULL if formatting failed.
__attribute__((format(printf, 1, 0))) static char *shim_vformat(const char *fmt, va_list ap)
{
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    return msg;
}

void cr_shim_log(const char *tag, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = shim_vformat(fmt, ap);
    va_end(ap);
    // One write per line, so lines from several threads do not interleave.
    dprintf(report_fd, "[%s] %s\n", tag, msg != NULL ? msg : fmt);
    free(msg);
}

void cr_shim_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = shim_vformat(fmt, ap);
    va_end(ap);
    dprintf(report_fd, "[----] skipped: %s\n", msg != NULL ? msg : fmt);
    free(msg);
    _exit(CR_SHIM_SKIP_STATUS);
}

void cr_shim_assert_failed(const char *file, int line, const char *expr, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = shim_vformat(fmt, ap);
    va_end(ap);
    // fmt is "x" followed by the test's own format (see CR_SHIM_CHECK_).
    const char *user = msg != NULL && msg[1] != '\0' ? msg + 1 : NULL;
    if (expr != NULL && user != NULL)
        dprintf(report_fd, "[----] %s:%d: Assertion failed: %s\n[----]   %s\n", file, line, expr,
                user);
    else if (expr != NULL)
        dprintf(report_fd, "[----] %s:%d: Assertion failed: %s is false\n", file, line, expr);
    else
        dprintf(report_fd, "[----] %s:%d: Assertion failed: %s\n", file, line,
                user != NULL ? user : "cr_assert_fail()");
    free(msg);
    if (current != NULL && pthread_equal(pthread_self(), current_thread) && current->fini != NULL)
        current->fini();
    exit(1);
}

// The test process: never returns.
static void run_in_child(const struct cr_shim_test *t)
{
    current = t;
    current_thread = pthread_self();
    if (t->timeout > 0) {
        // SIGALRM's default action ends the process; the runner names it.
        time_t sec = (time_t)t->timeout;
        suseconds_t usec = (suseconds_t)((t->timeout - (double)sec) * 1e6);
        struct itimerval it = {.it_value = {.tv_sec = sec, .tv_usec = usec}};
        setitimer(ITIMER_REAL, &it, NULL);
    }
    if (t->init != NULL)
        t->init();
    t->fn();
    if (t->fini != NULL)
        t->fini();
    exit(0); // not _exit: TSan reports at exit, and stdio is flushed
}

// Runs t in a child process; returns true if it passed, else writes why into
// why[0..n).
static bool run_test(const struct cr_shim_test *t, char *why, size_t n)
{
    fflush(NULL); // or the child would print the runner's pending output again
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, n, "fork: %s", strerror(errno));
        return false;
    }
    if (pid == 0)
        run_in_child(t);
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            snprintf(why, n, "waitpid: %s", strerror(errno));
            return false;
        }
    }
    if (WIFSIGNALED(st)) {
        int sig = WTERMSIG(st);
        if (sig == t->signal)
            return true;
        if (sig == SIGALRM && t->timeout > 0)
            snprintf(why, n, "timed out after %gs", t->timeout);
        else
            snprintf(why, n, "killed by signal %d (%s)", sig, strsignal(sig));
    } else if (t->signal != 0) {
        snprintf(why, n, "exited with status %d, expected death by signal %d (%s)", WEXITSTATUS(st),
                 t->signal, strsignal(t->signal));
    } else if (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == CR_SHIM_SKIP_STATUS) {
        return true;
    } else {
        int code = WEXITSTATUS(st);
        snprintf(why, n, "exited with status %d%s", code,
                 code == 1    ? " (a failed assertion, see above)"
                 : code == 66 ? " (ThreadSanitizer's exit code: see its report above)"
                              : "");
    }
    return false;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"filter", required_argument, NULL, 'f'},
        {"list", no_argument, NULL, 'l'},
        {"jobs", required_argument, NULL, 'j'},
        {"verbose", optional_argument, NULL, 'v'},
        {NULL, 0, NULL, 0},
    };
    const char *filter = NULL;
    bool list = false;
    int c;
    while ((c = getopt_long(argc, argv, "j:l", longopts, NULL)) != -1) {
        if (c == 'f')
            filter = optarg;
        else if (c == 'l')
            list = true;
        else if (c != 'j' && c != 'v') {
            fprintf(stderr,
                    "usage: %s [--filter GLOB] [--list] [--jobs N] [--verbose[=N]]\n"
                    "(the TSan stand-in for Criterion: test/tsan-shim)\n",
                    argv[0]);
            return 2;
        }
    }
    int fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
    if (fd >= 0)
        report_fd = fd;

    int tested = 0, passed = 0, skipped = 0;
    for (const struct cr_shim_test *t = tests; t != NULL; t = t->next) {
        char id[512], why[256] = "";
        snprintf(id, sizeof id, "%s/%s", t->suite, t->name);
        if (filter != NULL && fnmatch(filter, id, 0) != 0)
            continue;
        if (list) {
            printf("%s::%s%s\n", t->suite, t->name, t->disabled ? " (disabled)" : "");
            continue;
        }
        if (t->disabled) {
            dprintf(report_fd, "[SKIP] %s::%s: disabled\n", t->suite, t->name);
            skipped++;
            continue;
        }
        double t0 = now();
        bool ok = run_test(t, why, sizeof why);
        tested++;
        passed += ok;
        dprintf(report_fd, "[%s] %s::%s (%.2fs)%s%s\n", ok ? "PASS" : "FAIL", t->suite, t->name,
                now() - t0, ok ? "" : ": ", why);
    }
    if (list)
        return 0;
    dprintf(report_fd, "[====] Synthesis: Tested: %d | Passing: %d | Failing: %d", tested, passed,
            tested - passed);
    if (skipped > 0)
        dprintf(report_fd, " | Skipped: %d", skipped);
    dprintf(report_fd, "\n");
    return passed == tested ? 0 : 1;
}
