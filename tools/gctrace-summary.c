// gctrace-summary.c: sums up the lines GCHEAP_DEBUG=gctrace=1 writes, one
// per collection, so that a host can see at a glance what its collections
// cost and how its heap moved (what Go users do with GODEBUG=gctrace=1 and
// a script). The line format is gcheap.h's (ENVIRONMENT, gctrace):
//
//   gc N @T s: M ms [minor ]mark, S sweep, A->B MB, G MB goal, K threads
//
// where S is "X ms" (gc_collect's full sweep) or "lazy" (gc_sweep).
//
// Usage:  gctrace-summary [FILE...]     FILE "-" or none: standard input
//
// Lines that do not begin with "gc " and a digit are skipped, so the
// program's own stderr may be mixed in. A line that begins so but does not
// parse is counted and the first one is reported. Output (stdout):
//
//   collections  the count, the minor ones, full and lazy sweeps, the @T
//                of the first and the last
//   mark ms, sweep ms            total, median, 90th percentile, max
//   heap at mark start, live after, goal (MB)     min, median, max
//   threads      the most seen
//   share        mark + full-sweep time over the run time the trace covers:
//                each input's last @T (the time from the heap's start to the
//                end of its last collection), summed over the inputs
//
// Exit status: 0 if at least one collection was read and no line was
// malformed; 1 if none was read or some line was malformed (the summary of
// the others is still printed); 2 for a usage error, an unreadable file or
// no memory.
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct series {
    double *v;
    size_t n, cap;
};

struct summary {
    struct series mark, sweep, heap, live, goal;
    size_t count, minor, lazy, malformed;
    unsigned max_threads;
    double first_t, last_t;
    double span; // each input's last @T, summed over the inputs read
    char first_bad[160];
};

static void die_oom(void)
{
    fputs("gctrace-summary: out of memory\n", stderr);
    exit(2);
}

static void push(struct series *s, double x)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        double *v = realloc(s->v, cap * sizeof *v);
        if (v == NULL)
            die_oom();
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = x;
}

// Parses one gctrace line into *sum. Returns false if it does not parse.
static bool parse_line(const char *line, struct summary *sum)
{
    unsigned long n;
    double t, mark, sweep = 0, heap, live, goal;
    unsigned threads;
    int off = -1;
    if (sscanf(line, "gc %lu @%lfs: %lf ms %n", &n, &t, &mark, &off) != 3 || off < 0)
        return false;
    const char *p = line + off;
    bool minor = strncmp(p, "minor ", 6) == 0;
    if (minor)
        p += 6;
    if (strncmp(p, "mark, ", 6) != 0)
        return false;
    p += 6;
    bool lazy = strncmp(p, "lazy sweep, ", 12) == 0;
    if (lazy) {
        p += 12;
    } else {
        off = -1;
        if (sscanf(p, "%lf ms sweep, %n", &sweep, &off) != 1 || off < 0)
            return false;
        p += off;
    }
    off = -1;
    if (sscanf(p, "%lf->%lf MB, %lf MB goal, %u threads%n", &heap, &live, &goal, &threads, &off) !=
            4 ||
        off < 0)
        return false;
    p += off;
    if (*p != '\0' && *p != '\n')
        return false;
    if (sum->count == 0)
        sum->first_t = t;
    sum->last_t = t;
    sum->count++;
    sum->minor += minor;
    sum->lazy += lazy;
    if (threads > sum->max_threads)
        sum->max_threads = threads;
    push(&sum->mark, mark);
    if (!lazy)
        push(&sum->sweep, sweep);
    push(&sum->heap, heap);
    push(&sum->live, live);
    push(&sum->goal, goal);
    return true;
}

// Reads one input; exits with status 2 on a read error.
static void read_stream(FILE *f, const char *name, struct summary *sum)
{
    char *line = NULL;
    size_t cap = 0;
    unsigned long lineno = 0;
    size_t before = sum->count;
    errno = 0;
    while (getline(&line, &cap, f) != -1) {
        lineno++;
        if (strncmp(line, "gc ", 3) != 0 || line[3] < '0' || line[3] > '9')
            continue;
        if (!parse_line(line, sum) && sum->malformed++ == 0) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(sum->first_bad, sizeof sum->first_bad, "%s:%lu: %.100s", name, lineno, line);
        }
    }
    free(line);
    if (ferror(f)) {
        fprintf(stderr, "gctrace-summary: %s: %s\n", name,
                errno != 0 ? strerror(errno) : "read error");
        exit(2);
    }
    if (sum->count > before) // this input's run: until its last collection
        sum->span += sum->last_t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// The value at rank ceil(q * n) of the sorted series (nearest rank).
static double rank(const struct series *s, double q)
{
    size_t r = (size_t)(q * (double)s->n + 0.999999);
    if (r < 1)
        r = 1;
    return s->v[r - 1];
}

static double total(const struct series *s)
{
    double t = 0;
    for (size_t i = 0; i < s->n; i++)
        t += s->v[i];
    return t;
}

static void print_times(const char *what, struct series *s)
{
    if (s->n == 0) {
        printf("%-22s none\n", what);
        return;
    }
    qsort(s->v, s->n, sizeof *s->v, cmp_double);
    printf("%-22s total %.1f, median %.3g, p90 %.3g, max %.3g\n", what, total(s), rank(s, 0.5),
           rank(s, 0.9), s->v[s->n - 1]);
}

static void print_sizes(const char *what, struct series *s)
{
    qsort(s->v, s->n, sizeof *s->v, cmp_double);
    printf("%-22s min %.1f, median %.1f, max %.1f\n", what, s->v[0], rank(s, 0.5), s->v[s->n - 1]);
}

int main(int argc, char **argv)
{
    struct summary sum = {.first_t = 0};
    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        puts("usage: gctrace-summary [FILE...]   (none or -: standard input)\n"
             "Sums up the lines of GCHEAP_DEBUG=gctrace=1 (see gcheap.h).");
        return 0;
    }
    if (argc == 1) {
        read_stream(stdin, "<stdin>", &sum);
    } else {
        for (int i = 1; i < argc; i++) {
            if (strcmp(argv[i], "-") == 0) {
                read_stream(stdin, "<stdin>", &sum);
                continue;
            }
            FILE *f = fopen(argv[i], "r");
            if (f == NULL) {
                fprintf(stderr, "gctrace-summary: %s: %s\n", argv[i], strerror(errno));
                return 2;
            }
            read_stream(f, argv[i], &sum);
            fclose(f);
        }
    }
    if (sum.malformed != 0)
        fprintf(stderr, "gctrace-summary: %zu malformed gctrace line(s); the first: %s\n",
                sum.malformed, sum.first_bad);
    if (sum.count == 0) {
        fputs("gctrace-summary: no gctrace lines (run the program with "
              "GCHEAP_DEBUG=gctrace=1 and give its stderr)\n",
              stderr);
        return 1;
    }
    printf("%-22s %zu (%zu minor; %zu full sweeps, %zu lazy), at %.3f s to %.3f s\n", "collections",
           sum.count, sum.minor, sum.count - sum.lazy, sum.lazy, sum.first_t, sum.last_t);
    double busy = total(&sum.mark) + total(&sum.sweep);
    print_times("mark ms", &sum.mark);
    print_times("sweep ms", &sum.sweep);
    print_sizes("heap MB at mark start", &sum.heap);
    print_sizes("live MB after", &sum.live);
    print_sizes("goal MB", &sum.goal);
    printf("%-22s at most %u\n", "threads", sum.max_threads);
    if (sum.span > 0)
        printf("%-22s mark + sweep %.1f ms of the %.3f s to the last collection (%.1f%%)\n",
               "share", busy, sum.span, busy / (sum.span * 1e3) * 100);
    return sum.malformed != 0 ? 1 : 0;
}
